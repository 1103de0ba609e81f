/* The RISC-V Linux `Image` format (Documentation/riscv/boot-image-header.rst):
 * a flat binary with a 64-byte header giving the offset from a 2 MiB aligned
 * RAM address at which it must run and the memory it needs. This module
 * checks that header and places an Image in guest RAM. */
#ifndef MINNOW_MACHINE_KERNEL_IMAGE_H
#define MINNOW_MACHINE_KERNEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define KERNEL_IMAGE_HEADER_SIZE 64

struct kernel_image_info {
    uint64_t text_offset; /* load address = 2 MiB aligned RAM base + this */
    uint64_t image_size;  /* bytes of RAM the kernel needs from its load address */
    uint32_t version;     /* header version (major << 16 | minor) */
};

/* Checks the header of an Image whose first `len` bytes are `buf` (the
 * whole file). `name` is used in messages. */
int kernel_image_parse(const uint8_t *buf, size_t len, const char *name,
                       struct kernel_image_info *info, struct errmsg *e);

/* Reads the Image file at `path`, checks it and copies it into guest RAM
 * (host pointer `ram` for guest physical `ram_base`, `ram_size` bytes).
 * On success *entry is the guest physical entry point and *end the first
 * byte after the kernel's image_size. */
int kernel_image_load(const char *path, uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                      uint64_t *entry, uint64_t *end, struct errmsg *e);

#endif
