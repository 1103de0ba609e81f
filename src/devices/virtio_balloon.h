/* virtio-balloon, the traditional memory balloon (virtio 1.2 section 5.5):
 * the host sets a target (num_pages, in 4 KiB pages the guest should give
 * up); the guest inflates by listing page frames it no longer uses, which
 * we hand back to the host kernel with madvise(MADV_DONTNEED), and deflates
 * by listing frames it takes back (nothing to do on the host: the next
 * guest access faults a zeroed page in). Offered features: STATS_VQ (the
 * guest's memory statistics, kept for the API) and DEFLATE_ON_OOM (the
 * guest may deflate under memory pressure without asking), and on request
 * FREE_PAGE_HINT and REPORTING (below).
 *
 * Free page reporting (VIRTIO_BALLOON_F_REPORTING): the guest lists ranges
 * of memory it has freed on the reporting queue, as device-writable
 * buffers; each is discarded like an inflated page and the buffer returned.
 * Free page hinting (VIRTIO_BALLOON_F_FREE_PAGE_HINT): the host starts a run
 * by writing a new cmd_id (2 and up) to config space; the guest answers on
 * the free-page queue with that cmd_id (a 4-byte readable buffer), then
 * hands over free ranges (writable buffers), discarded as reported ones,
 * then cmd_id STOP (0) when it has no more. The host's DONE (1) lets the
 * guest take the hinted pages back; with acknowledge_on_stop the device
 * writes DONE itself when the guest says STOP. Hints under an old cmd_id,
 * or while the host's cmd_id is STOP or DONE, are returned untouched.
 * A reported or hinted range must be whole, 4 KiB-aligned pages inside
 * guest RAM; a chain with any other range is refused as a whole.
 *
 * Queue numbers: 0 inflate, 1 deflate, then one for each of stats,
 * free-page and reporting that the driver accepted, in that order (the
 * spec numbers them so and Linux skips the ones it did not negotiate).
 *
 * Guest RAM must be one host mapping with 4 KiB-aligned base (mmap'd), and
 * private anonymous or MAP_SHARED memfd: those read back as zeros after
 * MADV_DONTNEED, which is what the guest expects of a deflated page.
 *
 * A request (one chain of le32 page frame numbers) with any frame outside
 * guest RAM, a length that is not a multiple of 4, or more than
 * VIRTIO_BALLOON_MAX_PFNS frames is refused as a whole: nothing of it is
 * discarded, the chain is returned and virtio_balloon_info counts it.
 * Discarded pages are marked dirty (their content changed under the guest)
 * so that Diff snapshots and migration carry the zeros.
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): num_pages,
 * actual, the inflated frames, the last statistics and the held stats
 * buffer (by head), the hinting state. A run in progress at save time is
 * ended on restore (cmd_id DONE, config interrupt), as Firecracker does, so
 * the guest gets its hinted pages back.
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
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

/* Queues (spec 5.5.2); STATS is 2 whenever the driver accepted STATS_VQ,
 * the free-page and reporting queues follow (see the top of this file). */
#define VIRTIO_BALLOON_INFLATE 0u
#define VIRTIO_BALLOON_DEFLATE 1u
#define VIRTIO_BALLOON_STATS 2u

/* Config space (struct virtio_balloon_config, spec 5.5.4) */
#define VIRTIO_BALLOON_CFG_NUM_PAGES 0
#define VIRTIO_BALLOON_CFG_ACTUAL 4
#define VIRTIO_BALLOON_CFG_FREE_PAGE_HINT_CMD_ID 8
#define VIRTIO_BALLOON_CFG_SIZE 8u       /* without FREE_PAGE_HINT */
#define VIRTIO_BALLOON_CFG_SIZE_HINT 12u /* with it: cmd_id too (no PAGE_POISON) */

/* free_page_hint_cmd_id values (spec 5.5.6.6); a run uses 2 and up */
#define VIRTIO_BALLOON_CMD_ID_STOP 0u
#define VIRTIO_BALLOON_CMD_ID_DONE 1u

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
    uint64_t reported_pages;    /* 4 KiB pages discarded from free page reports */
    uint64_t hinted_pages;      /* 4 KiB pages discarded from free page hints */
    /* Firecracker's free_page_{report,hint}_{count,fails}: buffers taken
     * from the reporting / hinting queue, chains of it refused. */
    uint64_t report_buffers, report_refused, hint_buffers, hint_refused;
};

/* GET /balloon/hinting/status: the cmd_id the host wrote last, and the
 * last one the guest sent on the free-page queue (none until it sent one). */
struct virtio_balloon_hint_status {
    uint32_t host_cmd;
    bool has_guest_cmd;
    uint32_t guest_cmd;
};

struct virtio_balloon_options {
    bool stats;            /* offer VIRTIO_BALLOON_F_STATS_VQ */
    bool deflate_on_oom;   /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
    uint32_t target_pages; /* initial num_pages */
    bool free_page_hinting;   /* offer VIRTIO_BALLOON_F_FREE_PAGE_HINT */
    bool free_page_reporting; /* offer VIRTIO_BALLOON_F_REPORTING */
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

/* Free page hinting, from the API thread. -ENOTSUP (with a message) if the
 * device was created without free_page_hinting. start: a new cmd_id (the
 * last one plus one, skipping STOP and DONE) and a config interrupt;
 * acknowledge_on_stop: write DONE when the guest says STOP. stop: DONE. */
int virtio_balloon_hint_start(struct virtio_balloon *b, bool acknowledge_on_stop, struct errmsg *e);
int virtio_balloon_hint_stop(struct virtio_balloon *b, struct errmsg *e);
int virtio_balloon_hint_status(struct virtio_balloon *b, struct virtio_balloon_hint_status *out, struct errmsg *e);

#endif
