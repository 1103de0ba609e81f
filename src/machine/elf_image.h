/* Loads a bare-metal program into guest RAM: a RISC-V 64-bit ELF
 * executable (its PT_LOAD segments, at their physical addresses) or, for a
 * file named *.bin, a flat binary at the start of RAM. Every segment is
 * checked against the file and against RAM before anything is copied; an
 * error names the file and the segment. The ELF symbol table is searched
 * for `tohost` and `fromhost` (the HTIF mailbox). */
#ifndef MINNOW_MACHINE_ELF_IMAGE_H
#define MINNOW_MACHINE_ELF_IMAGE_H

#include <stdint.h>

#include "devices/guest_mem.h"
#include "util/errmsg.h"

struct elf_image_info {
    uint64_t entry;
    uint64_t end;       /* first guest physical byte after everything loaded */
    int has_tohost, has_fromhost;
    uint64_t tohost, fromhost;
};

int elf_image_load(const char *path, const struct guest_mem *ram, struct elf_image_info *info, struct errmsg *e);

/* The same from a file already in memory (used by the loader and tests). */
int elf_image_load_buffer(const char *name, const uint8_t *data, uint64_t len, const struct guest_mem *ram,
                          struct elf_image_info *info, struct errmsg *e);

#endif
