/* virtio-balloon, the traditional memory balloon (virtio 1.2 section 5.5):
 * the host sets a target (num_pages, in 4 KiB pages the guest should give
 * up); the guest inflates by listing page frames it no longer uses, which
 * we hand back to the host kernel with madvise(MADV_DONTNEED), and deflates
 * by listing frames it takes back (nothing to do on the host: the next
 * guest access faults a zeroed page in). Offered features: STATS_VQ (the
 * guest's memory statistics, kept for the API) and DEFLATE_ON_OOM (the
 * guest may deflate under memory pressure without asking).
 *
 * Guest RAM must be one host mapping with 4 KiB-aligned base (mmap'd), and
 * private anonymous or MAP_SHARED memfd: those read back as zeros after
 * MADV_DONTNEED, which is what the guest expects of a deflated page.
 *
 * A request (one chain of le32 page frame numbers) with any frame outside
 * guest RAM, a length that is not a multiple of 4, or more than
 * VIRTIO_BALLOON_MAX_PFNS frames is refused as a whole: nothing of it is
 * discarded, the chain is returned and virtio_balloon_info counts it.
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): num_pages,
 * actual, the inflated frames, the last statistics and the held stats
 * buffer (by head).
 *
 * To put one on the board: virtio_balloon_create, map &virtio_mmio_ops
 * with opaque virtio_balloon_mmio(b), register virtio_mmio_kick_fd with
 * virtio_mmio_on_kick on the event loop (see virtio_blk.h). The API thread
 * may call set_target, request_stats, stats and info at any time. */
#ifndef MINNOW_DEVICES_VIRTIO_BALLOON_H
#define MINNOW_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"

/* Feature bits (spec 5.5.3) */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2

/* Queues (spec 5.5.2) */
#define VIRTIO_BALLOON_INFLATE 0u
#define VIRTIO_BALLOON_DEFLATE 1u
#define VIRTIO_BALLOON_STATS 2u

/* Config space (struct virtio_balloon_config, spec 5.5.4) */
#define VIRTIO_BALLOON_CFG_NUM_PAGES 0
#define VIRTIO_BALLOON_CFG_ACTUAL 4
#define VIRTIO_BALLOON_CFG_SIZE 8u

#define VIRTIO_BALLOON_PAGE_SHIFT 12
#define VIRTIO_BALLOON_PAGE_SIZE 4096u
#define VIRTIO_BALLOON_QUEUE_SIZE 128u
/* Frames in one request at most; Linux sends up to 256. */
#define VIRTIO_BALLOON_MAX_PFNS 4096u

/* Statistics tags (spec 5.5.6.3) */
enum virtio_balloon_stat_tag {
    VIRTIO_BALLOON_S_SWAP_IN = 0,
    VIRTIO_BALLOON_S_SWAP_OUT = 1,
    VIRTIO_BALLOON_S_MAJFLT = 2,
    VIRTIO_BALLOON_S_MINFLT = 3,
    VIRTIO_BALLOON_S_MEMFREE = 4,
    VIRTIO_BALLOON_S_MEMTOT = 5,
    VIRTIO_BALLOON_S_AVAIL = 6,
    VIRTIO_BALLOON_S_CACHES = 7,
    VIRTIO_BALLOON_S_HTLB_PGALLOC = 8,
    VIRTIO_BALLOON_S_HTLB_PGFAIL = 9,
    VIRTIO_BALLOON_S_NR = 10,
};

/* The latest statistics the guest reported. */
struct virtio_balloon_stats {
    uint64_t updates;                       /* reports received so far */
    uint32_t valid;                         /* bit per tag present in the last report */
    uint64_t val[VIRTIO_BALLOON_S_NR];
};

struct virtio_balloon_info {
    uint32_t target_pages;      /* num_pages, as set by the host */
    uint32_t actual_pages;      /* as last written by the guest */
    uint64_t inflated_pages;    /* frames now given back to the host */
    uint64_t refused_requests;  /* chains refused, see the top of this file */
};

struct virtio_balloon_options {
    bool stats;            /* offer VIRTIO_BALLOON_F_STATS_VQ */
    bool deflate_on_oom;   /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
    uint32_t target_pages; /* initial num_pages */
};

struct virtio_balloon;

int virtio_balloon_create(struct virtio_balloon **out, const struct virtio_balloon_options *o,
                          const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove the kick fd from the event loop first. */
void virtio_balloon_destroy(struct virtio_balloon *b);
struct virtio_mmio *virtio_balloon_mmio(struct virtio_balloon *b);

/* Sets num_pages and tells the guest (config-change interrupt). Fails with
 * -EINVAL if pages is more than guest RAM holds. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages, struct errmsg *e);
/* Asks the guest for fresh statistics: returns the buffer it left on the
 * stats queue. -EAGAIN if the guest has none there (no STATS_VQ, or it has
 * not answered the last request yet). */
int virtio_balloon_request_stats(struct virtio_balloon *b, struct errmsg *e);
void virtio_balloon_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out);
void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out);

#endif
