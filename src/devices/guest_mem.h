/* Guest RAM as a device sees it: one contiguous host mapping of the guest
 * physical range [base, base+size). Every address a device takes from the
 * guest goes through guest_mem_ptr, which refuses any range that is not
 * entirely inside RAM, so a hostile guest cannot make a device touch host
 * memory outside its RAM.
 *
 * Writes by a device into guest RAM must be reported to guest_mem_written
 * (virtq_push does it for chain data and the used ring): it marks the
 * pages in the dirty bitmap that Diff snapshots and live migration read,
 * and in the bitmap of writes a hart's fence.i checks its decoded code
 * against (struct hart_mem in cpu/hart.h). */
#ifndef MINNOW_DEVICES_GUEST_MEM_H
#define MINNOW_DEVICES_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "util/dirty_bitmap.h"

struct ram_fault;

struct guest_mem {
    uint8_t *host;  /* host address of guest physical `base` */
    uint64_t base;  /* guest physical address of the first byte of RAM */
    uint64_t size;  /* bytes */
    _Atomic uint64_t *dirty; /* one bit per page (util/dirty_bitmap.h); NULL: not tracked */
    _Atomic uint64_t *written; /* the same, for fence.i; cleared by the harts */
    int file_backed;         /* mapped from a memory file (machine/ram.h), not anonymous */
    struct ram_fault *fault; /* file_backed: its SIGBUS watch (machine/ram_fault.h) */
};

/* Host pointer for guest range [gpa, gpa+len), or NULL unless the whole
 * range is inside RAM. Written so that no intermediate sum can wrap: a
 * guest can pass gpa and len near 2^64. */
static inline void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    if (!mem->host || gpa < mem->base)
        return NULL;
    uint64_t off = gpa - mem->base;
    if (off > mem->size || len > mem->size - off)
        return NULL;
    return mem->host + off;
}

/* The device wrote [gpa, gpa+len) of guest RAM. The one hook for dirty-page
 * tracking; see the top of this file. */
static inline void guest_mem_written(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
    if (gpa >= mem->base && gpa - mem->base < mem->size && len <= mem->size - (gpa - mem->base)) {
        dirty_bitmap_mark(mem->dirty, gpa - mem->base, len);
        dirty_bitmap_mark(mem->written, gpa - mem->base, len);
    }
}

#endif
