/* virtio-balloon: page frame lists checked and applied to the host mapping
 * of guest RAM, the statistics buffer, the num_pages/actual config. See
 * virtio_balloon.h.
 *
 * Threads: inflate/deflate run on the I/O thread and own the page bitmap;
 * the config fields are atomics because the transport reads them on vCPU
 * threads and set_target writes them from the API thread; the stats buffer
 * and figures are under stats_lock, which is taken before (never inside)
 * the transport's lock. */
#include "devices/virtio_balloon.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One statistics entry on the wire: le16 tag, le64 value, packed. */
#define STAT_ENTRY 10u
/* Entries read from one report at most; the spec defines 10 tags. */
#define STATS_MAX_ENTRIES 64u

struct virtio_balloon {
    struct virtio_mmio *t;
    struct guest_mem mem;
    size_t host_page;
    _Atomic uint32_t num_pages, actual;
    _Atomic uint64_t inflated, refused;

    /* I/O thread only */
    uint64_t *bitmap;        /* one bit per 4 KiB frame of RAM: inflated */
    uint64_t frames;
    uint32_t pfns[VIRTIO_BALLOON_MAX_PFNS];
    struct virtq_chain chain;

    pthread_mutex_t stats_lock;
    bool stats_held;
    struct virtq_chain stats_chain;
    struct virtio_balloon_stats stats;
};

static uint64_t bal_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct virtio_balloon *b = opaque;
    uint8_t cfg[VIRTIO_BALLOON_CFG_SIZE];
    uint32_t np = htole32(atomic_load(&b->num_pages)), ac = htole32(atomic_load(&b->actual));
    memcpy(cfg + VIRTIO_BALLOON_CFG_NUM_PAGES, &np, 4);
    memcpy(cfg + VIRTIO_BALLOON_CFG_ACTUAL, &ac, 4);
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)cfg[off + i] << (8 * i);
    return v;
}

static void bal_config_write(void *opaque, uint32_t off, uint64_t value, unsigned size)
{
    struct virtio_balloon *b = opaque;
    /* Only actual is the driver's to write (spec 5.5.4); a write to
     * num_pages or a partial one is ignored. */
    if (off == VIRTIO_BALLOON_CFG_ACTUAL && size == 4)
        atomic_store(&b->actual, (uint32_t)value);
}

/* Copies the chain's frame list into b->pfns and checks every frame is in
 * RAM. Returns the count, or -1 to refuse the request. The copy is what is
 * applied, so the guest changing the list afterwards changes nothing. */
static int read_pfns(struct virtio_balloon *b, const struct virtq_chain *c)
{
    uint64_t len = c->readable_len;
    if (len % 4 || len / 4 > VIRTIO_BALLOON_MAX_PFNS)
        return -1;
    unsigned n = (unsigned)(len / 4);
    if (virtq_chain_read(c, 0, b->pfns, len) != len)
        return -1;
    for (unsigned i = 0; i < n; i++) {
        b->pfns[i] = le32toh(b->pfns[i]);
        uint64_t gpa = (uint64_t)b->pfns[i] << VIRTIO_BALLOON_PAGE_SHIFT;
        if (!guest_mem_ptr(&b->mem, gpa, VIRTIO_BALLOON_PAGE_SIZE))
            return -1;
    }
    return (int)n;
}

static uint64_t frame_index(const struct virtio_balloon *b, uint32_t pfn)
{
    return (((uint64_t)pfn << VIRTIO_BALLOON_PAGE_SHIFT) - b->mem.base) >> VIRTIO_BALLOON_PAGE_SHIFT;
}

/* Gives [first, first+count) frames back to the host kernel. Skipped if
 * the host's pages are larger than the guest's (a partial host page cannot
 * be dropped) or the mapping is not aligned: the guest loses nothing. */
static void discard(struct virtio_balloon *b, uint32_t first, uint64_t count)
{
    uint8_t *p = guest_mem_ptr(&b->mem, (uint64_t)first << VIRTIO_BALLOON_PAGE_SHIFT,
                               count * VIRTIO_BALLOON_PAGE_SIZE);
    if (!p || b->host_page != VIRTIO_BALLOON_PAGE_SIZE || ((uintptr_t)p & (b->host_page - 1)))
        return;
    madvise(p, count * VIRTIO_BALLOON_PAGE_SIZE, MADV_DONTNEED);
}

static void inflate(struct virtio_balloon *b, unsigned n)
{
    uint32_t run_start = 0;
    uint64_t run_len = 0;
    for (unsigned i = 0; i < n; i++) {
        uint32_t pfn = b->pfns[i];
        uint64_t k = frame_index(b, pfn);
        if (!(b->bitmap[k / 64] & (1ull << (k % 64)))) {
            b->bitmap[k / 64] |= 1ull << (k % 64);
            atomic_fetch_add(&b->inflated, 1);
        }
        /* Consecutive frames go to the kernel in one call. */
        if (run_len && pfn == run_start + run_len) {
            run_len++;
            continue;
        }
        if (run_len)
            discard(b, run_start, run_len);
        run_start = pfn;
        run_len = 1;
    }
    if (run_len)
        discard(b, run_start, run_len);
}

static void deflate(struct virtio_balloon *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t k = frame_index(b, b->pfns[i]);
        if (b->bitmap[k / 64] & (1ull << (k % 64))) {
            b->bitmap[k / 64] &= ~(1ull << (k % 64));
            atomic_fetch_sub(&b->inflated, 1);
        }
    }
}

/* Takes the report in c and keeps c until the host wants the next one.
 * stats_lock held. */
static void take_stats(struct virtio_balloon *b, const struct virtq_chain *c)
{
    if (b->stats_held)   /* a second buffer: give the first one back */
        virtio_mmio_push(b->t, &b->stats_chain, 0);
    b->stats_chain = *c;
    b->stats_held = true;
    uint64_t n = c->readable_len / STAT_ENTRY;
    if (n > STATS_MAX_ENTRIES)
        n = STATS_MAX_ENTRIES;
    uint32_t valid = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t raw[STAT_ENTRY];
        virtq_chain_read(c, i * STAT_ENTRY, raw, STAT_ENTRY);
        uint16_t tag;
        uint64_t val;
        memcpy(&tag, raw, 2);
        memcpy(&val, raw + 2, 8);
        tag = le16toh(tag);
        /* Unknown tags are skipped: newer drivers may report more. */
        if (tag < VIRTIO_BALLOON_S_NR) {
            b->stats.val[tag] = le64toh(val);
            valid |= 1u << tag;
        }
    }
    b->stats.valid = valid;
    b->stats.updates++;
}

static void bal_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_balloon *b = opaque;
    if (queue == VIRTIO_BALLOON_STATS) {
        pthread_mutex_lock(&b->stats_lock);
        bool pushed = false;
        while (virtio_mmio_pop(b->t, queue, &b->chain) > 0) {
            pushed |= b->stats_held;
            take_stats(b, &b->chain);
        }
        pthread_mutex_unlock(&b->stats_lock);
        if (pushed)
            virtio_mmio_notify(b->t, queue);
        return;
    }
    while (virtio_mmio_pop(b->t, queue, &b->chain) > 0) {
        int n = read_pfns(b, &b->chain);
        if (n < 0)
            atomic_fetch_add(&b->refused, 1);
        else if (queue == VIRTIO_BALLOON_INFLATE)
            inflate(b, (unsigned)n);
        else
            deflate(b, (unsigned)n);
        virtio_mmio_push(b->t, &b->chain, 0);
    }
    virtio_mmio_notify(b->t, queue);
}

/* The transport calls this with its lock held after any queue handler has
 * returned, and none starts before it is done, so the I/O thread's bitmap
 * may be touched here. A reset guest starts with every page its own. The
 * held stats buffer is left alone (stats_lock may not be taken inside the
 * transport's lock); pushing it later is dropped as stale. */
static void bal_reset(void *opaque)
{
    struct virtio_balloon *b = opaque;
    memset(b->bitmap, 0, (size_t)((b->frames + 63) / 64) * sizeof *b->bitmap);
    atomic_store(&b->inflated, 0);
    atomic_store(&b->actual, 0);
}

#define SNAP_VERSION 1u

/* Saved: num_pages and actual, which frames are in the balloon (the guest
 * may deflate them later; the pages themselves were dropped and the RAM
 * snapshot has them as zeros), the last statistics report and the stats
 * buffer the device holds, by its head (load walks it again from the
 * restored ring, so the next request can return it). The refused-request
 * counter is not saved; the API's stats poller lives above the device. */
static int bal_save(void *opaque, struct snap_writer *w)
{
    struct virtio_balloon *b = opaque;
    pthread_mutex_lock(&b->stats_lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u32(w, atomic_load(&b->num_pages));
    snapw_u32(w, atomic_load(&b->actual));
    snapw_u64(w, b->stats.updates);
    snapw_u32(w, b->stats.valid);
    for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++)
        snapw_u64(w, b->stats.val[i]);
    bool held = b->stats_held && virtio_mmio_chain_current(b->t, &b->stats_chain);
    snapw_u8(w, held);
    snapw_u16(w, held ? b->stats_chain.head : 0);
    pthread_mutex_unlock(&b->stats_lock);
    snapw_u64(w, b->frames);
    for (uint64_t k = 0; k < (b->frames + 63) / 64; k++)
        snapw_u64(w, b->bitmap[k]);
    return w->err;
}

static int bal_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct virtio_balloon *b = opaque;
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-balloon: state version %u, expected %u", version, SNAP_VERSION);
    uint32_t num_pages = snapr_u32(r), actual = snapr_u32(r);
    struct virtio_balloon_stats st;
    st.updates = snapr_u64(r);
    st.valid = snapr_u32(r);
    for (unsigned i = 0; i < VIRTIO_BALLOON_S_NR; i++)
        st.val[i] = snapr_u64(r);
    uint8_t held = snapr_u8(r);
    uint16_t head = snapr_u16(r);
    uint64_t frames = snapr_u64(r);
    if (!r->err && frames != b->frames)
        return errmsg_set(e, -EINVAL, "virtio-balloon: state is for %llu pages of RAM, the guest has %llu",
                          (unsigned long long)frames, (unsigned long long)b->frames);
    size_t words = (size_t)((b->frames + 63) / 64);
    uint64_t *bitmap = calloc(words ? words : 1, sizeof *bitmap);
    if (!bitmap)
        return errmsg_set(e, -ENOMEM, "virtio-balloon: out of memory");
    for (size_t k = 0; k < words; k++)
        bitmap[k] = snapr_u64(r);
    int rc = 0;
    uint64_t tail = b->frames % 64 ? bitmap[words - 1] >> (b->frames % 64) : 0;
    if (!snapr_ok(r))
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: state is truncated or malformed (read %zu of %zu bytes)",
                        r->pos, r->len);
    else if (num_pages > b->frames)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: num_pages %u is more than the %llu pages of guest RAM",
                        num_pages, (unsigned long long)b->frames);
    else if (st.valid >> VIRTIO_BALLOON_S_NR)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: statistics valid bits 0x%x name unknown tags", st.valid);
    else if (held > 1)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: statistics buffer held is %u, expected 0 or 1", held);
    else if (tail)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: inflated-page bitmap has bits past the end of RAM");
    struct errmsg ce;
    if (!rc && held && virtio_mmio_chain_at(b->t, VIRTIO_BALLOON_STATS, head, &b->stats_chain, &ce) < 0)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: held statistics buffer: %s", ce.text);
    if (rc < 0) {
        free(bitmap);
        return rc;
    }
    uint64_t inflated = 0;
    for (size_t k = 0; k < words; k++)
        inflated += (uint64_t)__builtin_popcountll(bitmap[k]);
    free(b->bitmap);
    b->bitmap = bitmap;
    atomic_store(&b->inflated, inflated);
    atomic_store(&b->num_pages, num_pages);
    atomic_store(&b->actual, actual);
    pthread_mutex_lock(&b->stats_lock);
    b->stats = st;
    b->stats_held = held;
    pthread_mutex_unlock(&b->stats_lock);
    return 0;
}

static const struct virtio_device_ops bal_ops = {
    .config_read = bal_config_read,
    .config_write = bal_config_write,
    .queue_notify = bal_queue_notify,
    .reset = bal_reset,
    .save = bal_save,
    .load = bal_load,
};

int virtio_balloon_create(struct virtio_balloon **out, const struct virtio_balloon_options *o,
                          const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    if (mem->base % VIRTIO_BALLOON_PAGE_SIZE || mem->size % VIRTIO_BALLOON_PAGE_SIZE)
        return errmsg_set(e, -EINVAL, "virtio-balloon: guest RAM at 0x%llx, 0x%llx bytes, is not in whole 4 KiB pages",
                          (unsigned long long)mem->base, (unsigned long long)mem->size);
    uint64_t frames = mem->size / VIRTIO_BALLOON_PAGE_SIZE;
    if (o->target_pages > frames)
        return errmsg_set(e, -EINVAL, "virtio-balloon: target of %u pages is more than the %llu pages of guest RAM",
                          o->target_pages, (unsigned long long)frames);
    struct virtio_balloon *b = calloc(1, sizeof *b);
    if (!b)
        return errmsg_set(e, -ENOMEM, "virtio-balloon: out of memory");
    b->bitmap = calloc((size_t)((frames + 63) / 64), sizeof *b->bitmap);
    if (!b->bitmap) {
        free(b);
        return errmsg_set(e, -ENOMEM, "virtio-balloon: out of memory");
    }
    b->frames = frames;
    b->mem = *mem;
    long ps = sysconf(_SC_PAGESIZE);
    b->host_page = ps > 0 ? (size_t)ps : VIRTIO_BALLOON_PAGE_SIZE;
    atomic_store(&b->num_pages, o->target_pages);
    pthread_mutex_init(&b->stats_lock, NULL);
    uint64_t features = 0;
    if (o->stats)
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
    if (o->deflate_on_oom)
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_BALLOON,
        .features = features,
        .num_queues = 3,
        .queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
        .config_size = VIRTIO_BALLOON_CFG_SIZE,
        .ops = &bal_ops,
        .opaque = b,
    };
    int rc = virtio_mmio_create(&b->t, &dev, mem, irq, e);
    if (rc < 0) {
        pthread_mutex_destroy(&b->stats_lock);
        free(b->bitmap);
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
    if (!b)
        return;
    virtio_mmio_destroy(b->t);
    pthread_mutex_destroy(&b->stats_lock);
    free(b->bitmap);
    free(b);
}

struct virtio_mmio *virtio_balloon_mmio(struct virtio_balloon *b)
{
    return b->t;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages, struct errmsg *e)
{
    if (pages > b->frames)
        return errmsg_set(e, -EINVAL, "balloon target of %u pages is more than the %llu pages of guest RAM",
                          pages, (unsigned long long)b->frames);
    atomic_store(&b->num_pages, pages);
    virtio_mmio_config_changed(b->t);
    return 0;
}

int virtio_balloon_request_stats(struct virtio_balloon *b, struct errmsg *e)
{
    pthread_mutex_lock(&b->stats_lock);
    bool held = b->stats_held;
    if (held) {
        /* Returning the buffer is the request (spec 5.5.6.3). */
        virtio_mmio_push(b->t, &b->stats_chain, 0);
        b->stats_held = false;
    }
    pthread_mutex_unlock(&b->stats_lock);
    if (!held)
        return errmsg_set(e, -EAGAIN, "balloon: the guest has no statistics buffer queued");
    virtio_mmio_notify(b->t, VIRTIO_BALLOON_STATS);
    return 0;
}

void virtio_balloon_stats(struct virtio_balloon *b, struct virtio_balloon_stats *out)
{
    pthread_mutex_lock(&b->stats_lock);
    *out = b->stats;
    pthread_mutex_unlock(&b->stats_lock);
}

void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out)
{
    out->target_pages = atomic_load(&b->num_pages);
    out->actual_pages = atomic_load(&b->actual);
    out->inflated_pages = atomic_load(&b->inflated);
    out->refused_requests = atomic_load(&b->refused);
}
