/* Guest RAM: one anonymous host mapping that backs guest physical
 * [base, base+size). Pages are only committed when the guest touches them,
 * so a large --mem costs nothing up front. */
#ifndef MINNOW_MACHINE_RAM_H
#define MINNOW_MACHINE_RAM_H

#include <stdint.h>

#include "devices/guest_mem.h"
#include "util/errmsg.h"

/* Smallest and largest sizes accepted. */
#define RAM_MIN_SIZE (1ull << 20)
#define RAM_MAX_SIZE (1ull << 40)

/* size must be a multiple of 4 KiB between RAM_MIN_SIZE and RAM_MAX_SIZE. */
int ram_create(struct guest_mem *ram, uint64_t base, uint64_t size, struct errmsg *e);
void ram_destroy(struct guest_mem *ram);

/* Parses a size like "128M", "1G", "65536" or "64K" (K, M, G are powers of
 * 1024). Returns 0, or -EINVAL naming the text if it is not a size. */
int ram_parse_size(const char *text, uint64_t *size, struct errmsg *e);

#endif
