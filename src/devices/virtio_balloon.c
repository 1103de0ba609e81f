/* virtio-balloon: page frame lists checked and applied to the host mapping
 * of guest RAM, the statistics buffer, the num_pages/actual config. See
 * virtio_balloon.h.
 *
 * Threads: inflate/deflate run on the I/O thread and own the page bitmap;
 * the config fields are atomics because the transport reads them on vCPU
 * threads and set_target writes them from the API thread; the stats buffer
 * and figures are under stats_lock, which is taken before (never inside)
 * the transport's lock. The hinting state is atomics too: the API thread
 * starts and stops runs, the I/O thread reads the guest's answers, and
 * reset (under the transport's lock) clears it. */
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
    _Atomic uint64_t inflated, refused, reported, hinted;
    _Atomic uint64_t report_buffers, report_refused, hint_buffers, hint_refused;
    bool hinting, reporting;             /* offered; fixed at create */

    /* Free page hinting (see the top of virtio_balloon.h) */
    _Atomic uint32_t host_cmd;           /* what config space shows */
    _Atomic uint32_t last_cmd;           /* the last run's cmd_id */
    _Atomic int64_t guest_cmd;           /* last from the guest, -1: none */
    _Atomic bool ack_on_stop;
    _Atomic bool announce;               /* restored: tell the guest host_cmd */

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
    uint8_t cfg[VIRTIO_BALLOON_CFG_SIZE_HINT];
    uint32_t np = htole32(atomic_load(&b->num_pages)), ac = htole32(atomic_load(&b->actual));
    uint32_t cmd = htole32(atomic_load(&b->host_cmd));
    memcpy(cfg + VIRTIO_BALLOON_CFG_NUM_PAGES, &np, 4);
    memcpy(cfg + VIRTIO_BALLOON_CFG_ACTUAL, &ac, 4);
    memcpy(cfg + VIRTIO_BALLOON_CFG_FREE_PAGE_HINT_CMD_ID, &cmd, 4);
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

/* Gives the guest range [gpa, gpa+len) (whole 4 KiB pages, checked by the
 * caller) back to the host kernel and marks it dirty: the guest reads zeros
 * (or the memory file's pages) there now, which a Diff snapshot must carry.
 * Skipped if the host's pages are larger than the guest's (a partial host
 * page cannot be dropped) or the mapping is not aligned: the guest loses
 * nothing. Returns the pages discarded. */
static uint64_t discard_range(struct virtio_balloon *b, uint64_t gpa, uint64_t len)
{
    uint8_t *p = guest_mem_ptr(&b->mem, gpa, len);
    if (!p || !len || b->host_page != VIRTIO_BALLOON_PAGE_SIZE || ((uintptr_t)p & (b->host_page - 1)))
        return 0;
    if (madvise(p, len, MADV_DONTNEED) < 0)
        return 0;
    guest_mem_written(&b->mem, gpa, len);
    return len / VIRTIO_BALLOON_PAGE_SIZE;
}

static void discard(struct virtio_balloon *b, uint32_t first, uint64_t count)
{
    discard_range(b, (uint64_t)first << VIRTIO_BALLOON_PAGE_SHIFT, count * VIRTIO_BALLOON_PAGE_SIZE);
}

/* Whether every writable buffer of c is whole 4 KiB pages inside RAM, and
 * c has no readable part beyond `readable_ok` bytes. */
static bool ranges_ok(const struct virtio_balloon *b, const struct virtq_chain *c, uint64_t readable_ok)
{
    if (c->readable_len != readable_ok)
        return false;
    for (unsigned i = c->n_readable; i < c->n_readable + c->n_writable; i++) {
        const struct virtq_seg *sg = &c->seg[i];
        if (sg->gpa % VIRTIO_BALLOON_PAGE_SIZE || sg->len % VIRTIO_BALLOON_PAGE_SIZE ||
            !guest_mem_ptr(&b->mem, sg->gpa, sg->len))
            return false;
    }
    return true;
}

static uint64_t discard_writable(struct virtio_balloon *b, const struct virtq_chain *c)
{
    uint64_t pages = 0;
    for (unsigned i = c->n_readable; i < c->n_readable + c->n_writable; i++)
        pages += discard_range(b, c->seg[i].gpa, c->seg[i].len);
    return pages;
}

/* Free page reporting: every buffer is a range the guest freed. */
static void report_queue(struct virtio_balloon *b, unsigned queue)
{
    bool pushed = false;
    while (virtio_mmio_pop(b->t, queue, &b->chain) > 0) {
        if (ranges_ok(b, &b->chain, 0)) {
            atomic_fetch_add(&b->reported, discard_writable(b, &b->chain));
            atomic_fetch_add(&b->report_buffers, b->chain.n_writable);
        } else {
            atomic_fetch_add(&b->refused, 1);
            atomic_fetch_add(&b->report_refused, 1);
        }
        virtio_mmio_push(b->t, &b->chain, 0);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(b->t, queue);
}

static void set_host_cmd(struct virtio_balloon *b, uint32_t cmd)
{
    atomic_store(&b->host_cmd, cmd);
    virtio_mmio_config_changed(b->t);
}

/* Free page hinting: a 4-byte readable buffer is the guest's cmd_id; the
 * writable buffers are hints, taken only for the run in progress. */
static void hint_queue(struct virtio_balloon *b, unsigned queue)
{
    bool pushed = false, stopped = false;
    while (virtio_mmio_pop(b->t, queue, &b->chain) > 0) {
        const struct virtq_chain *c = &b->chain;
        uint64_t rl = c->readable_len;
        if ((rl != 0 && rl != 4) || !ranges_ok(b, c, rl)) {
            atomic_fetch_add(&b->refused, 1);
            atomic_fetch_add(&b->hint_refused, 1);
        } else {
            if (rl == 4) {
                uint32_t cmd;
                virtq_chain_read(c, 0, &cmd, 4);
                cmd = le32toh(cmd);
                atomic_store(&b->guest_cmd, (int64_t)cmd);
                /* DONE is the host's to send; from the guest it ends the run too. */
                stopped = cmd == VIRTIO_BALLOON_CMD_ID_STOP || cmd == VIRTIO_BALLOON_CMD_ID_DONE;
            }
            uint32_t host = atomic_load(&b->host_cmd);
            int64_t guest = atomic_load(&b->guest_cmd);
            if (c->n_writable && host > VIRTIO_BALLOON_CMD_ID_DONE && guest == (int64_t)host) {
                atomic_fetch_add(&b->hinted, discard_writable(b, c));
                atomic_fetch_add(&b->hint_buffers, c->n_writable);
            }
        }
        virtio_mmio_push(b->t, c, 0);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(b->t, queue);
    uint32_t host = atomic_load(&b->host_cmd);
    if (stopped && atomic_load(&b->ack_on_stop) && host > VIRTIO_BALLOON_CMD_ID_DONE)
        set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
}

enum queue_role { Q_INFLATE, Q_DEFLATE, Q_STATS, Q_HINT, Q_REPORT, Q_NONE };

/* Which queue `queue` is, from the features the driver accepted. */
static enum queue_role queue_role(struct virtio_balloon *b, unsigned queue)
{
    if (queue == VIRTIO_BALLOON_INFLATE)
        return Q_INFLATE;
    if (queue == VIRTIO_BALLOON_DEFLATE)
        return Q_DEFLATE;
    uint64_t f = virtio_mmio_driver_features(b->t);
    unsigned q = 2;
    if (f & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) && queue == q++)
        return Q_STATS;
    if (f & VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) && queue == q++)
        return Q_HINT;
    if (f & VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING) && queue == q)
        return Q_REPORT;
    return Q_NONE;
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
    if (atomic_exchange(&b->announce, false))
        virtio_mmio_config_changed(b->t);
    enum queue_role role = queue_role(b, queue);
    if (role == Q_HINT) {
        hint_queue(b, queue);
        return;
    }
    if (role == Q_REPORT) {
        report_queue(b, queue);
        return;
    }
    if (role == Q_NONE)
        return;
    if (role == Q_STATS) {
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
        else if (role == Q_INFLATE)
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
    atomic_store(&b->host_cmd, VIRTIO_BALLOON_CMD_ID_STOP);
    atomic_store(&b->last_cmd, 0);
    atomic_store(&b->guest_cmd, -1);
    atomic_store(&b->announce, false);
}

/* 1: before free page hinting (still loaded: no run in progress). */
#define SNAP_VERSION 2u

/* Saved: num_pages and actual, which frames are in the balloon (the guest
 * may deflate them later; the pages themselves were dropped and the RAM
 * snapshot has them as zeros), the last statistics report and the stats
 * buffer the device holds, by its head (load walks it again from the
 * restored ring, so the next request can return it). The refused-request
 * counter is not saved; the API's stats poller lives above the device.
 * Version 2 adds the hinting state: host and last cmd_id, the guest's last
 * (and whether it sent one), acknowledge_on_stop. */
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
    int64_t guest = atomic_load(&b->guest_cmd);
    snapw_u32(w, atomic_load(&b->host_cmd));
    snapw_u32(w, atomic_load(&b->last_cmd));
    snapw_u8(w, guest >= 0);
    snapw_u32(w, guest >= 0 ? (uint32_t)guest : 0);
    snapw_u8(w, atomic_load(&b->ack_on_stop));
    return w->err;
}

static int bal_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct virtio_balloon *b = opaque;
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION && version != 1)
        return errmsg_set(e, -EINVAL, "virtio-balloon: state version %u, expected 1 or %u", version, SNAP_VERSION);
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
    uint32_t host_cmd = VIRTIO_BALLOON_CMD_ID_STOP, last_cmd = 0, guest_cmd = 0;
    uint8_t has_guest = 0, ack = 0;
    if (version >= 2) {
        host_cmd = snapr_u32(r);
        last_cmd = snapr_u32(r);
        has_guest = snapr_u8(r);
        guest_cmd = snapr_u32(r);
        ack = snapr_u8(r);
    }
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
    else if (has_guest > 1 || ack > 1)
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: hinting flags %u/%u, expected 0 or 1", has_guest, ack);
    else if (!b->hinting && (host_cmd || last_cmd || has_guest))
        rc = errmsg_set(e, -EINVAL, "virtio-balloon: state has a free page hinting run, the device has no "
                        "free page hinting");
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
    /* A run in progress ends on restore, so the guest takes its hinted
     * pages back; told at the first kick (load runs before the VM does). */
    bool running = host_cmd > VIRTIO_BALLOON_CMD_ID_DONE;
    atomic_store(&b->host_cmd, running ? VIRTIO_BALLOON_CMD_ID_DONE : host_cmd);
    atomic_store(&b->last_cmd, last_cmd);
    atomic_store(&b->guest_cmd, has_guest ? (int64_t)guest_cmd : -1);
    atomic_store(&b->ack_on_stop, ack);
    atomic_store(&b->announce, running);
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
    b->hinting = o->free_page_hinting;
    b->reporting = o->free_page_reporting;
    atomic_store(&b->guest_cmd, -1);
    uint64_t features = 0;
    unsigned queues = 3;   /* inflate, deflate and stats (kept when not offered, as before) */
    if (o->free_page_hinting) {
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT);
        queues++;
    }
    if (o->free_page_reporting) {
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING);
        queues++;
    }
    if (o->stats)
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ);
    if (o->deflate_on_oom)
        features |= VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_BALLOON,
        .features = features,
        .num_queues = queues,
        .queue_max = VIRTIO_BALLOON_QUEUE_SIZE,
        .config_size = o->free_page_hinting ? VIRTIO_BALLOON_CFG_SIZE_HINT : VIRTIO_BALLOON_CFG_SIZE,
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
    out->reported_pages = atomic_load(&b->reported);
    out->hinted_pages = atomic_load(&b->hinted);
    out->report_buffers = atomic_load(&b->report_buffers);
    out->report_refused = atomic_load(&b->report_refused);
    out->hint_buffers = atomic_load(&b->hint_buffers);
    out->hint_refused = atomic_load(&b->hint_refused);
}

static int need_hinting(const struct virtio_balloon *b, struct errmsg *e)
{
    if (!b->hinting)
        return errmsg_set(e, -ENOTSUP, "balloon: free page hinting was not enabled when the device was "
                          "configured (free_page_hinting)");
    return 0;
}

int virtio_balloon_hint_start(struct virtio_balloon *b, bool acknowledge_on_stop, struct errmsg *e)
{
    int r = need_hinting(b, e);
    if (r)
        return r;
    uint32_t cmd = atomic_load(&b->last_cmd) + 1;
    if (cmd <= VIRTIO_BALLOON_CMD_ID_DONE)   /* wrapped: 0 and 1 are not run ids */
        cmd = VIRTIO_BALLOON_CMD_ID_DONE + 1;
    atomic_store(&b->last_cmd, cmd);
    atomic_store(&b->ack_on_stop, acknowledge_on_stop);
    set_host_cmd(b, cmd);
    return 0;
}

int virtio_balloon_hint_stop(struct virtio_balloon *b, struct errmsg *e)
{
    int r = need_hinting(b, e);
    if (r)
        return r;
    set_host_cmd(b, VIRTIO_BALLOON_CMD_ID_DONE);
    return 0;
}

int virtio_balloon_hint_status(struct virtio_balloon *b, struct virtio_balloon_hint_status *out, struct errmsg *e)
{
    int r = need_hinting(b, e);
    if (r)
        return r;
    int64_t guest = atomic_load(&b->guest_cmd);
    out->host_cmd = atomic_load(&b->host_cmd);
    out->has_guest_cmd = guest >= 0;
    out->guest_cmd = guest >= 0 ? (uint32_t)guest : 0;
    return 0;
}
