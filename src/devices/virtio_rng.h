/* virtio-rng, the entropy device (virtio 1.2 section 5.4): fills each
 * device-writable buffer the guest offers with bytes from the host's
 * getrandom(). No features, no config space, one queue. A rate limiter
 * (Firecracker's entropy rate_limiter: bytes given and requests) may hold
 * the queue back: a request it refuses goes back to the ring
 * (virtio_mmio_unpop) and the transport's retry timer brings the device
 * back. It holds no chain between notifications, so a snapshot is the
 * transport's state alone (no save/load hooks); limiter tokens are not
 * saved.
 *
 * To put one on the board: virtio_rng_create, map &virtio_mmio_ops with
 * opaque virtio_rng_mmio(rng), register virtio_mmio_kick_fd with
 * virtio_mmio_on_kick on the event loop (see virtio_blk.h). */
#ifndef MINNOW_DEVICES_VIRTIO_RNG_H
#define MINNOW_DEVICES_VIRTIO_RNG_H

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"
#include "util/rate_limiter.h"

#define VIRTIO_RNG_QUEUE_SIZE 64u
/* Bytes given per request at most: the guest asks again for more, and one
 * request cannot keep the I/O thread busy for long. */
#define VIRTIO_RNG_MAX_REQUEST 65536u

struct virtio_rng;

int virtio_rng_create(struct virtio_rng **out, const struct guest_mem *mem,
                      const struct irq_line *irq, struct errmsg *e);
void virtio_rng_destroy(struct virtio_rng *r);
struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *r);
/* PATCH semantics (rate_limiter.h); a new device limits nothing. Any thread. */
void virtio_rng_set_rate_limiter(struct virtio_rng *r, const struct rate_limiter_config *u);

struct virtio_rng_stats {
    uint64_t bytes, requests;   /* given to the guest */
    uint64_t throttled;         /* times the limiter made the queue wait */
};
/* Any thread. */
void virtio_rng_stats(const struct virtio_rng *r, struct virtio_rng_stats *out);

#endif
