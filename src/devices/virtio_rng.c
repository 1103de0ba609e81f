/* virtio-rng: getrandom() into the guest's buffers. See virtio_rng.h. */
#include "devices/virtio_rng.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/rate_limiter.h"

struct virtio_rng {
    struct virtio_mmio *t;
    struct virtq_chain chain;   /* used only on the I/O thread */
    struct rate_limiter limiter;
    _Atomic uint64_t bytes, requests, throttled;
};

static uint64_t rng_config_read(void *opaque, uint32_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;   /* no config space: the transport never calls this */
}

/* Fills up to `want` bytes of the chain's writable part; returns how many. */
static uint32_t fill(const struct virtq_chain *c, uint32_t want)
{
    uint32_t done = 0;
    for (unsigned k = 0; k < c->n_writable && done < want; k++) {
        const struct virtq_seg *s = &c->seg[c->n_readable + k];
        uint32_t n = s->len < want - done ? s->len : want - done;
        uint32_t got = 0;
        while (got < n) {
            ssize_t r = getrandom((uint8_t *)s->host + got, n - got, 0);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return done + got;
            }
            got += (uint32_t)r;
        }
        done += n;
    }
    return done;
}

static void rng_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_rng *r = opaque;
    while (virtio_mmio_pop(r->t, queue, &r->chain) > 0) {
        /* spec 5.4.6.1: the driver offers only device-writable buffers. A
         * chain with readable ones is answered with nothing written. */
        uint32_t n = 0;
        if (!r->chain.n_readable) {
            uint64_t want = r->chain.writable_len;
            uint32_t len = want < VIRTIO_RNG_MAX_REQUEST ? (uint32_t)want : VIRTIO_RNG_MAX_REQUEST;
            uint64_t wait;
            if (!rate_limiter_consume(&r->limiter, len, 1, rate_limiter_now(), &wait)) {
                /* Back to the ring until the tokens are there. */
                virtio_mmio_unpop(r->t, &r->chain);
                virtio_mmio_retry(r->t, queue, wait);
                atomic_fetch_add(&r->throttled, 1);
                break;
            }
            n = fill(&r->chain, len);
            atomic_fetch_add(&r->bytes, n);
            atomic_fetch_add(&r->requests, 1);
        }
        virtio_mmio_push(r->t, &r->chain, n);
    }
    virtio_mmio_notify(r->t, queue);
}

static const struct virtio_device_ops rng_ops = {
    .config_read = rng_config_read,
    .queue_notify = rng_queue_notify,
};

int virtio_rng_create(struct virtio_rng **out, const struct guest_mem *mem,
                      const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    struct virtio_rng *r = calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, -ENOMEM, "virtio-rng: out of memory");
    rate_limiter_init(&r->limiter, NULL, rate_limiter_now());
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_ENTROPY,
        .num_queues = 1,
        .queue_max = VIRTIO_RNG_QUEUE_SIZE,
        .ops = &rng_ops,
        .opaque = r,
    };
    int rc = virtio_mmio_create(&r->t, &dev, mem, irq, e);
    if (rc < 0) {
        rate_limiter_destroy(&r->limiter);
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
    if (!r)
        return;
    virtio_mmio_destroy(r->t);
    rate_limiter_destroy(&r->limiter);
    free(r);
}

void virtio_rng_set_rate_limiter(struct virtio_rng *r, const struct rate_limiter_config *u)
{
    rate_limiter_update(&r->limiter, u, rate_limiter_now());
    virtio_mmio_kick_queue(r->t, 0);
}

void virtio_rng_stats(const struct virtio_rng *r, struct virtio_rng_stats *out)
{
    struct virtio_rng *m = (struct virtio_rng *)r;   /* atomics only */
    out->bytes = atomic_load(&m->bytes);
    out->requests = atomic_load(&m->requests);
    out->throttled = atomic_load(&m->throttled);
}

struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *r)
{
    return r->t;
}
