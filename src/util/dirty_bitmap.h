/* Dirty-page bitmap of guest RAM: one bit per 4 KiB page, set by every
 * path that writes RAM (a hart's store slow path, atomics and page-table
 * A/D updates; devices through guest_mem_written) and taken by snapshots
 * and live migration. Bits are set with atomic OR from any thread. */
#ifndef MINNOW_UTIL_DIRTY_BITMAP_H
#define MINNOW_UTIL_DIRTY_BITMAP_H

#include <stdatomic.h>
#include <stdint.h>

#define DIRTY_PAGE_SHIFT 12

/* Marks the pages of byte range [off, off+len) (offsets into RAM; the
 * caller has checked the range is inside it). */
static inline void dirty_bitmap_mark(_Atomic uint64_t *bm, uint64_t off, uint64_t len)
{
    if (!bm || !len)
        return;
    uint64_t first = off >> DIRTY_PAGE_SHIFT, last = (off + len - 1) >> DIRTY_PAGE_SHIFT;
    for (uint64_t p = first; p <= last; p++) {
        uint64_t bit = 1ull << (p & 63);
        /* Most writes hit pages already dirty: a plain load first keeps
         * the cache line shared between harts. */
        if (!(atomic_load_explicit(&bm[p >> 6], memory_order_relaxed) & bit))
            atomic_fetch_or_explicit(&bm[p >> 6], bit, memory_order_relaxed);
    }
}

#endif
