/* Guest RAM: one host mapping that backs guest physical [base, base+size),
 * anonymous for a booted VM and a private mapping of the memory file for a
 * restored one (pages load when first touched, and VMs restored from one
 * file share the pages none of them wrote). Pages are only committed when
 * the guest touches them, so a large --mem costs nothing up front;
 * anonymous RAM asks for transparent huge pages.
 *
 * RAM also owns the dirty-page bitmap (util/dirty_bitmap.h). A booted VM
 * starts with every page dirty (the board loaded images without marking
 * them), a restored one with none (RAM equals its memory file). */
#ifndef MINNOW_MACHINE_RAM_H
#define MINNOW_MACHINE_RAM_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/guest_mem.h"
#include "util/errmsg.h"

/* Smallest and largest sizes accepted. */
#define RAM_MIN_SIZE (1ull << 20)
#define RAM_MAX_SIZE (1ull << 40)

/* size must be a multiple of 4 KiB between RAM_MIN_SIZE and RAM_MAX_SIZE. */
int ram_create(struct guest_mem *ram, uint64_t base, uint64_t size, struct errmsg *e);
/* RAM of `size` bytes mapped privately from the start of fd (a memory
 * file at least that long; the caller may close fd afterwards). A SIGBUS
 * on it (the file truncated under the VM) is caught: ram_lost. */
int ram_map_file(struct guest_mem *ram, uint64_t base, uint64_t size, int fd, const char *path,
                 struct errmsg *e);
void ram_destroy(struct guest_mem *ram);
/* The memory file's path once part of it could not be read any more (it
 * was truncated under the VM: machine/ram_fault.h), with the offset in
 * RAM of the first such page; NULL while all is well. */
const char *ram_lost(const struct guest_mem *ram, uint64_t *offset);

/* Words in the dirty bitmap (one bit per page). */
static inline uint64_t ram_dirty_words(const struct guest_mem *ram)
{
    return (ram->size / 4096 + 63) / 64;
}
/* Page `page` (from the start of RAM) holds only zeros. */
bool ram_page_is_zero(const struct guest_mem *ram, uint64_t page);
/* A bitmap (ram_dirty_words long) of the pages that may hold anything but
 * zeros: for anonymous RAM the pages the host has populated (reading the
 * others would only fault in zero pages), for RAM mapped from a memory
 * file all of them. */
void ram_populated(const struct guest_mem *ram, uint64_t *out);

/* Moves the dirty bitmap into out (ram_dirty_words long) and clears it.
 * See struct hart_mem for what the caller must do before reading pages. */
void ram_dirty_take(struct guest_mem *ram, uint64_t *out);

/* Parses a size like "128M", "1G", "65536" or "64K" (K, M, G are powers of
 * 1024). Returns 0, or -EINVAL naming the text if it is not a size. */
int ram_parse_size(const char *text, uint64_t *size, struct errmsg *e);

#endif
