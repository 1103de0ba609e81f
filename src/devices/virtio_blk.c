/* virtio-blk: request parsing and checking, batching to the block_file
 * backend, completion. See virtio_blk.h. */
#include "devices/virtio_blk.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/rate_limiter.h"

/* Requests taken from the ring before their I/O is handed to the backend
 * in one batch: enough to keep an io_uring busy, small enough that the
 * first completion is not delayed much. */
#define BATCH 32u

struct blk_req {
    struct virtq_chain chain;
    uint8_t *status;          /* the last device-writable byte */
    uint64_t status_gpa;
    uint8_t result;           /* VIRTIO_BLK_S_* */
    uint32_t written;         /* bytes of the writable part filled, incl. status */
    int io;                   /* index into the backend batch, or -1 */
    bool is_write;
    uint32_t type;            /* VIRTIO_BLK_T_*, for the counters */
    uint64_t bytes;           /* data bytes of a read or write */
};

struct virtio_blk {
    struct virtio_mmio *t;
    struct block_file *file;
    struct guest_mem mem;
    uint64_t capacity;                 /* sectors */
    char serial[VIRTIO_BLK_ID_BYTES];  /* NUL-padded */
    uint8_t config[VIRTIO_BLK_CFG_SIZE];
    struct rate_limiter limiter;       /* bytes read/written, requests */
    /* Counters: written on the I/O thread, read from any (virtio_blk_stats). */
    _Atomic uint64_t read_ops, read_bytes, write_ops, write_bytes, flush_ops, other_ops, errors;
    /* Batch state, used only on the I/O thread. A request the limiter
     * refused is popped already: it waits here for the retry. */
    struct virtq_chain held;
    bool has_held;
    struct blk_req req[BATCH];
    struct block_file_req io[BATCH + 1];
    struct iovec iov[BATCH][VIRTQ_CHAIN_MAX];
};

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t blk_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct virtio_blk *b = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b->config[off + i] << (8 * i);
    return v;
}

/* Sectors [sector, sector+n) inside the disk, without overflow. */
static bool in_range(const struct virtio_blk *b, uint64_t sector, uint64_t n)
{
    return sector <= b->capacity && n <= b->capacity - sector;
}

/* DISCARD and WRITE_ZEROES: each 16-byte segment checked, then all run
 * now (they are rare and small to describe). Returns a VIRTIO_BLK_S_*. */
static uint8_t discard_or_zero(struct virtio_blk *b, const struct virtq_chain *c, uint32_t type,
                               uint64_t features)
{
    bool zero = type == VIRTIO_BLK_T_WRITE_ZEROES;
    if (!(features & VIRTIO_BIT(zero ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD)))
        return VIRTIO_BLK_S_UNSUPP;
    uint64_t len = c->readable_len - 16;
    if (len == 0 || len % 16 || len / 16 > VIRTIO_BLK_MAX_DWZ_SEG)
        return VIRTIO_BLK_S_IOERR;
    struct block_file_req io[VIRTIO_BLK_MAX_DWZ_SEG];
    unsigned n = (unsigned)(len / 16);
    for (unsigned k = 0; k < n; k++) {
        uint8_t raw[16];
        virtq_chain_read(c, 16 + 16ull * k, raw, 16);
        uint64_t sector;
        uint32_t num, flags;
        memcpy(&sector, raw, 8);
        memcpy(&num, raw + 8, 4);
        memcpy(&flags, raw + 12, 4);
        sector = le64toh(sector);
        num = le32toh(num);
        flags = le32toh(flags);
        /* spec 5.2.6.2: unknown flags, or unmap on a discard: UNSUPP. */
        if ((flags & ~VIRTIO_BLK_DWZ_F_UNMAP) || (!zero && (flags & VIRTIO_BLK_DWZ_F_UNMAP)))
            return VIRTIO_BLK_S_UNSUPP;
        if (num > VIRTIO_BLK_MAX_DWZ_SECTORS || !in_range(b, sector, num))
            return VIRTIO_BLK_S_IOERR;
        io[k] = (struct block_file_req){
            .op = zero ? BLOCK_FILE_WRITE_ZEROES : BLOCK_FILE_DISCARD,
            .offset = sector * VIRTIO_BLK_SECTOR,
            .len = (uint64_t)num * VIRTIO_BLK_SECTOR,
            .may_unmap = flags & VIRTIO_BLK_DWZ_F_UNMAP,
        };
    }
    block_file_submit(b->file, io, n);
    for (unsigned k = 0; k < n; k++)
        if (io[k].result < 0)
            return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
}

/* Decides what request r is. Either sets r->result (done) or adds one
 * backend request and sets r->io. Returns false if the chain cannot be
 * answered at all (no status byte): the device then needs a reset. */
static bool parse(struct virtio_blk *b, unsigned slot, unsigned *nio, uint64_t features)
{
    struct blk_req *r = &b->req[slot];
    struct virtq_chain *c = &r->chain;
    r->io = -1;
    r->is_write = false;
    r->type = UINT32_MAX;
    r->bytes = 0;
    r->written = 1;
    r->result = VIRTIO_BLK_S_IOERR;
    if (c->writable_len == 0)
        return false;
    const struct virtq_seg *last = &c->seg[c->n_readable + c->n_writable - 1];
    r->status = (uint8_t *)last->host + last->len - 1;
    r->status_gpa = last->gpa + last->len - 1;
    uint64_t data_in = c->writable_len - 1;

    /* The header must be device-readable: a header in a device-writable
     * buffer (or a short one) fails this request. */
    if (c->readable_len < 16)
        return true;
    uint8_t hdr[16];
    virtq_chain_read(c, 0, hdr, sizeof hdr);
    uint32_t type;
    uint64_t sector;
    memcpy(&type, hdr, 4);
    memcpy(&sector, hdr + 8, 8);
    type = le32toh(type);
    sector = le64toh(sector);
    uint64_t data_out = c->readable_len - 16;
    r->type = type;
    r->bytes = type == VIRTIO_BLK_T_IN ? data_in : type == VIRTIO_BLK_T_OUT ? data_out : 0;

    struct block_file_req *io = &b->io[*nio];
    switch (type) {
    case VIRTIO_BLK_T_IN: {
        /* The data was (or may have been) written whatever the outcome. */
        r->written = data_in < UINT32_MAX ? (uint32_t)data_in + 1 : UINT32_MAX;
        if (data_out || data_in % VIRTIO_BLK_SECTOR || !in_range(b, sector, data_in / VIRTIO_BLK_SECTOR))
            return true;
        int n = virtq_chain_iov(c, true, 0, data_in, b->iov[slot], VIRTQ_CHAIN_MAX);
        if (n < 0)
            return true;
        *io = (struct block_file_req){.op = BLOCK_FILE_READ, .iov = b->iov[slot], .iovcnt = n,
                                      .offset = sector * VIRTIO_BLK_SECTOR};
        break;
    }
    case VIRTIO_BLK_T_OUT: {
        /* spec 5.2.6.2: a read-only device fails writes and writes nothing. */
        if (block_file_read_only(b->file))
            return true;
        if (data_out % VIRTIO_BLK_SECTOR || !in_range(b, sector, data_out / VIRTIO_BLK_SECTOR))
            return true;
        int n = virtq_chain_iov(c, false, 16, data_out, b->iov[slot], VIRTQ_CHAIN_MAX);
        if (n < 0)
            return true;
        *io = (struct block_file_req){.op = BLOCK_FILE_WRITE, .iov = b->iov[slot], .iovcnt = n,
                                      .offset = sector * VIRTIO_BLK_SECTOR};
        r->is_write = true;
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        *io = (struct block_file_req){.op = BLOCK_FILE_FLUSH};
        break;
    case VIRTIO_BLK_T_GET_ID: {
        size_t n = data_in < VIRTIO_BLK_ID_BYTES ? (size_t)data_in : VIRTIO_BLK_ID_BYTES;
        virtq_chain_write(c, 0, b->serial, n);
        r->written = (uint32_t)n + 1;
        r->result = VIRTIO_BLK_S_OK;
        return true;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        r->result = discard_or_zero(b, c, type, features);
        return true;
    default:
        r->result = VIRTIO_BLK_S_UNSUPP;
        return true;
    }
    r->io = (int)(*nio)++;
    return true;
}

/* What a request costs the rate limiter: its data bytes (reads and
 * writes; 0 for the others) and one operation. Read before parsing, from
 * the chain's lengths and the header's type only; parse checks the rest. */
static uint64_t request_bytes(const struct virtq_chain *c)
{
    if (c->readable_len < 16)
        return 0;
    uint32_t type;
    virtq_chain_read(c, 0, &type, 4);
    type = le32toh(type);
    if (type == VIRTIO_BLK_T_IN)
        return c->writable_len ? c->writable_len - 1 : 0;
    if (type == VIRTIO_BLK_T_OUT)
        return c->readable_len - 16;
    return 0;
}

/* The next request the limiter lets through into b->req[n].chain: the
 * held one first. 1: got one, 0: nothing (or throttled; a retry is then
 * armed), negative: ring error. */
static int next_request(struct virtio_blk *b, unsigned queue, unsigned n)
{
    struct virtq_chain *c = &b->req[n].chain;
    if (b->has_held) {
        b->has_held = false;
        /* A reset since it was popped: it belongs to rings that are gone. */
        if (!virtio_mmio_chain_current(b->t, &b->held))
            return next_request(b, queue, n);
        *c = b->held;
    } else {
        int rc = virtio_mmio_pop(b->t, queue, c);
        if (rc <= 0)
            return rc;
    }
    uint64_t wait;
    if (rate_limiter_consume(&b->limiter, request_bytes(c), 1, rate_limiter_now(), &wait))
        return 1;
    b->held = *c;
    b->has_held = true;
    virtio_mmio_retry(b->t, queue, wait);
    return 0;
}

static void count(struct virtio_blk *b, const struct blk_req *r)
{
    if (r->result != VIRTIO_BLK_S_OK) {
        atomic_fetch_add(&b->errors, 1);
        return;
    }
    switch (r->type) {
    case VIRTIO_BLK_T_IN:
        atomic_fetch_add(&b->read_ops, 1);
        atomic_fetch_add(&b->read_bytes, r->bytes);
        break;
    case VIRTIO_BLK_T_OUT:
        atomic_fetch_add(&b->write_ops, 1);
        atomic_fetch_add(&b->write_bytes, r->bytes);
        break;
    case VIRTIO_BLK_T_FLUSH:
        atomic_fetch_add(&b->flush_ops, 1);
        break;
    default:
        atomic_fetch_add(&b->other_ops, 1);
        break;
    }
}

/* Runs the n parsed requests b->req[0..n) (nio backend requests) and
 * completes them: status byte, used ring, interrupt. */
static void run_batch(struct virtio_blk *b, unsigned queue, unsigned n, unsigned nio, uint64_t features)
{
    /* If FLUSH was offered but not negotiated, every completed write must
     * already be stable (spec 5.2.6.2): flush before completing them. */
    bool write_through = !(features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    bool writes = false;
    for (unsigned k = 0; k < n; k++)
        writes |= b->req[k].is_write;
    int sync_io = -1;
    if (write_through && writes) {
        b->io[nio] = (struct block_file_req){.op = BLOCK_FILE_FLUSH};
        sync_io = (int)nio++;
    }
    if (nio)
        block_file_submit(b->file, b->io, nio);
    for (unsigned k = 0; k < n; k++) {
        struct blk_req *r = &b->req[k];
        if (r->io >= 0) {
            bool ok = b->io[r->io].result == 0;
            if (r->is_write && sync_io >= 0 && b->io[sync_io].result < 0)
                ok = false;
            r->result = ok ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
        }
        count(b, r);
        *r->status = r->result;
        guest_mem_written(&b->mem, r->status_gpa, 1);
        virtio_mmio_push(b->t, &r->chain, r->written);
    }
    virtio_mmio_notify(b->t, queue);
}

static void blk_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_blk *b = opaque;
    uint64_t features = virtio_mmio_driver_features(b->t);
    bool more = true;
    while (more) {
        unsigned n = 0, nio = 0;
        while (n < BATCH) {
            int rc = next_request(b, queue, n);
            if (rc <= 0) {
                more = false;
                break;
            }
            if (!parse(b, n, &nio, features)) {
                virtio_mmio_fail(b->t, "virtio-blk: request (head %u) has no device-writable status byte",
                                 b->req[n].chain.head);
                more = false;
                break;
            }
            n++;
        }
        if (!n)
            break;
        run_batch(b, queue, n, nio, features);
    }
}

#define SNAP_VERSION 1u

/* block_file_submit returns only when its batch is done, so between queue
 * handlers the only request in flight is one the rate limiter held back:
 * it is run now, past the limiter, so that nothing is left in flight and
 * the used ring is final. The limiter's tokens are not saved: a restored
 * device starts with full buckets (and its limits come from the
 * configuration, like the capacity and the rest of the config space,
 * which come from the backend). */
static int blk_save(void *opaque, struct snap_writer *w)
{
    struct virtio_blk *b = opaque;
    if (b->has_held) {
        b->has_held = false;
        if (virtio_mmio_chain_current(b->t, &b->held)) {
            uint64_t features = virtio_mmio_driver_features(b->t);
            unsigned nio = 0;
            b->req[0].chain = b->held;
            if (parse(b, 0, &nio, features))
                run_batch(b, b->held.queue, 1, nio, features);
            else
                virtio_mmio_fail(b->t, "virtio-blk: request (head %u) has no device-writable status byte",
                                 b->held.head);
        }
    }
    snapw_u32(w, SNAP_VERSION);
    return w->err;
}

static int blk_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    (void)opaque;
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-blk: state version %u, expected %u", version, SNAP_VERSION);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-blk: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);
    return 0;
}

static const struct virtio_device_ops blk_ops = {
    .config_read = blk_config_read,
    .queue_notify = blk_queue_notify,
    .save = blk_save,
    .load = blk_load,
};

int virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_options *opts,
                      const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    if (!opts->path || !*opts->path)
        return errmsg_set(e, -EINVAL, "virtio-blk: no image path given");
    size_t slen = opts->serial ? strlen(opts->serial) : 0;
    if (slen > VIRTIO_BLK_ID_BYTES)
        return errmsg_set(e, -EINVAL, "drive serial '%s' is %zu bytes long, at most %u allowed",
                          opts->serial, slen, VIRTIO_BLK_ID_BYTES);
    struct virtio_blk *b = calloc(1, sizeof *b);
    if (!b)
        return errmsg_set(e, -ENOMEM, "virtio-blk: out of memory");
    if (slen)
        memcpy(b->serial, opts->serial, slen);
    rate_limiter_init(&b->limiter, NULL, rate_limiter_now());
    b->mem = *mem;
    int rc = block_file_open(&b->file, opts->path, opts->read_only, opts->engine, e);
    if (rc < 0) {
        rate_limiter_destroy(&b->limiter);
        free(b);
        return rc;
    }
    b->capacity = block_file_size(b->file) / VIRTIO_BLK_SECTOR;
    bool ro = block_file_read_only(b->file);

    uint64_t features = VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) |
                        VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
    if (ro)
        features |= VIRTIO_BIT(VIRTIO_BLK_F_RO);
    else
        features |= VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);

    uint8_t *cfg = b->config;
    put_le(cfg + VIRTIO_BLK_CFG_CAPACITY, b->capacity, 8);
    /* Header and status take two of the buffers a chain may have. */
    put_le(cfg + VIRTIO_BLK_CFG_SEG_MAX, VIRTQ_CHAIN_MAX - 2, 4);
    put_le(cfg + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR, 4);
    put_le(cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS, 4);
    put_le(cfg + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DWZ_SEG, 4);
    /* Holes are punched in host file system blocks; smaller discards only
     * zero, so tell the guest the granularity that frees space. */
    put_le(cfg + VIRTIO_BLK_CFG_DISCARD_ALIGN, block_file_block_size(b->file) / VIRTIO_BLK_SECTOR, 4);
    put_le(cfg + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, VIRTIO_BLK_MAX_DWZ_SECTORS, 4);
    put_le(cfg + VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_MAX_DWZ_SEG, 4);
    cfg[VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;

    struct virtio_device dev = {
        .device_id = VIRTIO_ID_BLOCK,
        .features = features,
        .num_queues = 1,
        .queue_max = VIRTIO_BLK_QUEUE_SIZE,
        .config_size = VIRTIO_BLK_CFG_SIZE,
        .ops = &blk_ops,
        .opaque = b,
    };
    rc = virtio_mmio_create(&b->t, &dev, mem, irq, e);
    if (rc < 0) {
        block_file_close(b->file);
        rate_limiter_destroy(&b->limiter);
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
    if (!b)
        return;
    virtio_mmio_destroy(b->t);
    block_file_close(b->file);
    rate_limiter_destroy(&b->limiter);
    free(b);
}

void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *u)
{
    rate_limiter_update(&b->limiter, u, rate_limiter_now());
    /* A request held back under the old limits may pass now. */
    virtio_mmio_kick_queue(b->t, 0);
}

int virtio_blk_swap_file(struct virtio_blk *b, struct block_file *file, struct block_file **old, struct errmsg *e)
{
    if (block_file_read_only(file) != block_file_read_only(b->file))
        return errmsg_set(e, -EINVAL, "the new backing file is %s, the drive is %s",
                          block_file_read_only(file) ? "read-only" : "writable",
                          block_file_read_only(b->file) ? "read-only" : "writable");
    *old = b->file;
    b->file = file;
    b->capacity = block_file_size(file) / VIRTIO_BLK_SECTOR;
    put_le(b->config + VIRTIO_BLK_CFG_CAPACITY, b->capacity, 8);
    put_le(b->config + VIRTIO_BLK_CFG_DISCARD_ALIGN, block_file_block_size(file) / VIRTIO_BLK_SECTOR, 4);
    virtio_mmio_config_changed(b->t);
    return 0;
}

struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *b)
{
    return b->t;
}

enum block_file_engine virtio_blk_engine(const struct virtio_blk *b)
{
    return block_file_engine(b->file);
}

void virtio_blk_stats(const struct virtio_blk *b, struct virtio_blk_stats *out)
{
    struct virtio_blk *m = (struct virtio_blk *)b;   /* atomics only */
    out->read_ops = atomic_load(&m->read_ops);
    out->read_bytes = atomic_load(&m->read_bytes);
    out->write_ops = atomic_load(&m->write_ops);
    out->write_bytes = atomic_load(&m->write_bytes);
    out->flush_ops = atomic_load(&m->flush_ops);
    out->other_ops = atomic_load(&m->other_ops);
    out->errors = atomic_load(&m->errors);
}
