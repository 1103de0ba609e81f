/* virtio-net between the guest's queues and a net_backend. See
 * virtio_net.h.
 *
 * Everything but the reset hook runs on the I/O thread: the queue
 * notifications, the backend's service step, and the backend's frames for
 * the guest (which arrive from inside those). Receive chains may be held
 * across callbacks: with MRG_RXBUF a frame that needs more buffers than
 * the guest has made available keeps the ones already taken (the transport
 * cannot give a chain back) until more arrive. */
#include "devices/virtio_net.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/rate_limiter.h"
#include <sys/random.h>

struct held_frame {
    uint8_t *data;
    uint32_t len;
};

enum rx_result {
    RX_DONE,        /* the frame was delivered or dropped: it is gone */
    RX_WAIT,        /* no buffer for it now (or the device needs a reset) */
};

struct virtio_net {
    struct virtio_mmio *t;
    struct net_backend *be;
    struct guest_mem mem;
    uint8_t mac[6];
    bool mac_fixed;              /* the configuration chose it (not random) */
    uint8_t config[VIRTIO_NET_CFG_SIZE];
    /* Set by the reset hook (vCPU thread, transport lock held), consumed on
     * the I/O thread: taken chains belong to the old rings. */
    atomic_bool reset_pending;

    /* Receive chains taken from the ring, not yet used, in ring order.
     * Allocated on first use: most guests never need more than a few. */
    struct virtq_chain *stash[VIRTIO_NET_QUEUE_SIZE];
    unsigned n_stash;
    /* Frames waiting for receive buffers: a ring of VIRTIO_NET_RX_HOLD. */
    struct held_frame hold[VIRTIO_NET_RX_HOLD];
    unsigned hold_head, hold_count;
    bool rx_pushed;              /* used receive chains not yet notified */
    bool backend_rx_on;
    /* Rate limiters (bytes of frames, frames). The receive side charges a
     * frame once (rx_paid) even if it then waits for a buffer; the
     * transmit side holds a chain it refused until the retry. */
    struct rate_limiter rx_limit, tx_limit;
    bool rx_paid;
    bool tx_has_held;

    struct virtq_chain tx;
    struct iovec iov[VIRTQ_CHAIN_MAX];
    /* The metadata service (NULL: none) and a frame's copy for it. */
    struct mmds_net *mmds;
    uint8_t *mmds_frame;

    _Atomic uint64_t rx_frames, rx_dropped, rx_held, tx_frames, tx_dropped, tx_filtered, tx_bad, rx_bytes, tx_bytes, tx_mmds;
};

static uint64_t net_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct virtio_net *n = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)n->config[off + i] << (8 * i);
    return v;
}

static void net_reset(void *opaque)
{
    struct virtio_net *n = opaque;
    atomic_store(&n->reset_pending, true);
}

static void backend_rx(struct virtio_net *n, bool on)
{
    if (n->backend_rx_on != on) {
        n->backend_rx_on = on;
        net_backend_want_rx(n->be, on);
    }
}

static void hold_drop_front(struct virtio_net *n)
{
    free(n->hold[n->hold_head].data);
    n->hold[n->hold_head].data = NULL;
    n->hold_head = (n->hold_head + 1) % VIRTIO_NET_RX_HOLD;
    n->hold_count--;
    atomic_store(&n->rx_held, n->hold_count);
}

static void check_reset(struct virtio_net *n)
{
    if (!atomic_exchange(&n->reset_pending, false))
        return;
    /* A reset NIC forgets its queues: stale chains are not pushed (the
     * transport would drop them anyway) and waiting frames are lost. */
    n->n_stash = 0;
    n->rx_pushed = false;
    n->rx_paid = false;
    n->tx_has_held = false;
    while (n->hold_count)
        hold_drop_front(n);
    backend_rx(n, true);
}

/* The first k stashed chains were used: move them out, keeping their
 * allocations for reuse at the end. */
static void stash_consume(struct virtio_net *n, unsigned k)
{
    struct virtq_chain *used[VIRTIO_NET_QUEUE_SIZE];
    memcpy(used, n->stash, k * sizeof used[0]);
    memmove(n->stash, n->stash + k, (VIRTIO_NET_QUEUE_SIZE - k) * sizeof used[0]);
    memcpy(n->stash + VIRTIO_NET_QUEUE_SIZE - k, used, k * sizeof used[0]);
    n->n_stash -= k;
}

/* Takes receive chains until the stash can hold `need` bytes (with
 * MRG_RXBUF) or has one chain (without). Returns 1 when it can, 0 when the
 * guest has no more buffers now, -1 when even a full queue of stashed
 * buffers is too small for the frame. */
static int rx_take(struct virtio_net *n, uint64_t need, bool mrg, uint64_t *cap)
{
    *cap = 0;
    for (unsigned i = 0; i < n->n_stash; i++)
        *cap += n->stash[i]->writable_len;
    while (mrg ? *cap < need : n->n_stash == 0) {
        if (n->n_stash == VIRTIO_NET_QUEUE_SIZE)
            return -1;
        if (!n->stash[n->n_stash] && !(n->stash[n->n_stash] = malloc(sizeof(struct virtq_chain))))
            return 0;   /* out of memory: the frame waits like for a buffer */
        struct virtq_chain *c = n->stash[n->n_stash];
        if (virtio_mmio_pop(n->t, VIRTIO_NET_RX, c) <= 0)
            return 0;   /* nothing there, or NEEDS_RESET set by the transport */
        /* spec 5.1.6.3: receive buffers are device-writable, and with
         * MRG_RXBUF each holds at least the header. A driver breaking that
         * is broken; we cannot tell which frame it meant to get. */
        if (c->n_readable) {
            virtio_mmio_fail(n->t, "virtio-net: receive chain (head %u) has a device-readable buffer", c->head);
            return 0;
        }
        if (mrg && c->writable_len < VIRTIO_NET_HDR_SIZE) {
            virtio_mmio_fail(n->t, "virtio-net: receive buffer (head %u) of %llu bytes is shorter than the %u-byte header",
                             c->head, (unsigned long long)c->writable_len, VIRTIO_NET_HDR_SIZE);
            return 0;
        }
        n->n_stash++;
        *cap += c->writable_len;
    }
    return 1;
}

/* Writes bytes [start, start+len) of (hdr || frame) at offset 0 of c's
 * writable part. */
static void write_span(struct virtq_chain *c, const uint8_t *hdr, const uint8_t *frame,
                       uint64_t start, uint64_t len)
{
    uint64_t off = 0;
    if (start < VIRTIO_NET_HDR_SIZE) {
        uint64_t h = VIRTIO_NET_HDR_SIZE - start < len ? VIRTIO_NET_HDR_SIZE - start : len;
        virtq_chain_write(c, 0, hdr + start, (size_t)h);
        off = h;
        start += h;
        len -= h;
    }
    if (len)
        virtq_chain_write(c, off, frame + (start - VIRTIO_NET_HDR_SIZE), (size_t)len);
}

static enum rx_result rx_deliver(struct virtio_net *n, const uint8_t *frame, size_t len)
{
    bool mrg = virtio_mmio_driver_features(n->t) & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
    uint64_t need = VIRTIO_NET_HDR_SIZE + (uint64_t)len;
    uint64_t cap;
    int rc = rx_take(n, need, mrg, &cap);
    if (rc == 0)
        return RX_WAIT;
    if (rc < 0) {
        atomic_fetch_add(&n->rx_dropped, 1);
        return RX_DONE;
    }
    uint8_t hdr[VIRTIO_NET_HDR_SIZE] = {0};
    if (!mrg) {
        struct virtq_chain *c = n->stash[0];
        if (c->writable_len < need) {
            /* The driver should have given 1526 bytes (spec 5.1.6.3.1);
             * give the buffer back empty, which drivers count as a length
             * error, and lose this frame only. */
            virtio_mmio_push(n->t, c, 0);
            atomic_fetch_add(&n->rx_dropped, 1);
        } else {
            hdr[VIRTIO_NET_HDR_NUM_BUFFERS] = 1;
            write_span(c, hdr, frame, 0, need);
            virtio_mmio_push(n->t, c, (uint32_t)need);
            atomic_fetch_add(&n->rx_frames, 1);
            atomic_fetch_add(&n->rx_bytes, len);
        }
        stash_consume(n, 1);
        n->rx_pushed = true;
        return RX_DONE;
    }
    unsigned k = 0;
    for (uint64_t sum = 0; sum < need; k++)
        sum += n->stash[k]->writable_len;
    uint16_t nb = htole16((uint16_t)k);
    memcpy(hdr + VIRTIO_NET_HDR_NUM_BUFFERS, &nb, 2);
    uint64_t pos = 0;
    for (unsigned i = 0; i < k; i++) {
        struct virtq_chain *c = n->stash[i];
        uint64_t m = need - pos < c->writable_len ? need - pos : c->writable_len;
        write_span(c, hdr, frame, pos, m);
        /* The driver takes the next num_buffers used entries as this
         * frame's: push them in order, nothing in between. */
        virtio_mmio_push(n->t, c, (uint32_t)m);
        pos += m;
    }
    stash_consume(n, k);
    n->rx_pushed = true;
    atomic_fetch_add(&n->rx_frames, 1);
    atomic_fetch_add(&n->rx_bytes, len);
    return RX_DONE;
}

/* The receive limiter lets a frame of len bytes through (paid once); if
 * not, the receive queue is looked at again when it would. */
static bool rx_admit(struct virtio_net *n, size_t len)
{
    uint64_t wait;
    if (n->rx_paid || rate_limiter_consume(&n->rx_limit, len, 1, rate_limiter_now(), &wait))
        return n->rx_paid = true;
    virtio_mmio_retry(n->t, VIRTIO_NET_RX, wait);
    return false;
}

/* Delivers held frames while the guest has buffers; resumes the backend
 * once none is left waiting. */
static void rx_flush(struct virtio_net *n)
{
    while (n->hold_count) {
        struct held_frame *h = &n->hold[n->hold_head];
        if (!rx_admit(n, h->len) || rx_deliver(n, h->data, h->len) != RX_DONE)
            break;
        n->rx_paid = false;
        hold_drop_front(n);
    }
    backend_rx(n, n->hold_count == 0);
}

static void rx_notify(struct virtio_net *n)
{
    if (n->rx_pushed) {
        n->rx_pushed = false;
        virtio_mmio_notify(n->t, VIRTIO_NET_RX);
    }
}

/* The backend's frame for the guest. */
static void net_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct virtio_net *n = opaque;
    check_reset(n);
    if (len < NET_FRAME_MIN || len > NET_FRAME_MAX) {
        atomic_fetch_add(&n->rx_dropped, 1);
        return;
    }
    if (n->hold_count)
        rx_flush(n);   /* keep the order: older frames first */
    if (!n->hold_count && rx_admit(n, len) && rx_deliver(n, frame, len) == RX_DONE) {
        n->rx_paid = false;
        return;
    }
    uint8_t *copy = n->hold_count < VIRTIO_NET_RX_HOLD ? malloc(len) : NULL;
    if (!copy) {
        if (!n->hold_count)
            n->rx_paid = false;   /* it paid for this frame, which is lost */
        atomic_fetch_add(&n->rx_dropped, 1);
    } else {
        memcpy(copy, frame, len);
        unsigned tail = (n->hold_head + n->hold_count) % VIRTIO_NET_RX_HOLD;
        n->hold[tail] = (struct held_frame){.data = copy, .len = (uint32_t)len};
        n->hold_count++;
        atomic_store(&n->rx_held, n->hold_count);
    }
    /* The guest has no room: stop the backend reading until it has. */
    backend_rx(n, false);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* The metadata service's timer: the transmit queue is looked at again
 * when its next retransmission or timeout is due. */
static void mmds_arm(struct virtio_net *n, uint64_t now)
{
    uint64_t d = mmds_net_deadline(n->mmds);
    if (d)
        virtio_mmio_retry(n->t, VIRTIO_NET_TX, d > now ? (d - now) * 1000000u : 0);
}

/* The seam to devices/mmds_net.h: a frame for the metadata service is
 * answered here (the answers go through net_receive, as the backend's
 * frames do) and consumed. Only the headers are read to decide. */
static bool mmds_take(struct virtio_net *n, const struct virtq_chain *c, uint64_t flen)
{
    uint8_t hdr[64];
    size_t h = flen < sizeof hdr ? (size_t)flen : sizeof hdr;
    virtq_chain_read(c, VIRTIO_NET_HDR_SIZE, hdr, h);
    if (!mmds_net_claims(n->mmds, hdr, h))
        return false;
    virtq_chain_read(c, VIRTIO_NET_HDR_SIZE, n->mmds_frame, (size_t)flen);
    uint64_t now = now_ms();
    mmds_net_input(n->mmds, n->mmds_frame, (size_t)flen, now);
    mmds_arm(n, now);
    atomic_fetch_add(&n->tx_mmds, 1);
    return true;
}

/* Checks one transmit chain and hands its frame to the backend. */
static void tx_one(struct virtio_net *n, const struct virtq_chain *c)
{
    /* spec 5.1.6.2: transmit buffers are device-readable only. */
    if (c->n_writable || c->readable_len < VIRTIO_NET_HDR_SIZE + NET_FRAME_MIN ||
        c->readable_len - VIRTIO_NET_HDR_SIZE > NET_FRAME_MAX) {
        atomic_fetch_add(&n->tx_bad, 1);
        return;
    }
    uint8_t hdr[VIRTIO_NET_HDR_SIZE];
    virtq_chain_read(c, 0, hdr, sizeof hdr);
    /* Neither CSUM nor any GSO feature is offered, so the driver must send
     * complete frames (flags 0, GSO_NONE); a frame asking for a checksum
     * we would not fill in must not reach the wire. */
    if (hdr[0] || hdr[1] != VIRTIO_NET_HDR_GSO_NONE) {
        atomic_fetch_add(&n->tx_bad, 1);
        return;
    }
    uint64_t flen = c->readable_len - VIRTIO_NET_HDR_SIZE;
    if (n->mmds && mmds_take(n, c, flen))
        return;
    int niov = virtq_chain_iov(c, false, VIRTIO_NET_HDR_SIZE, flen, n->iov, VIRTQ_CHAIN_MAX);
    if (niov < 0) {
        atomic_fetch_add(&n->tx_bad, 1);
        return;
    }
    int rc = net_backend_send(n->be, n->iov, niov);
    if (rc == -EPROTO)
        atomic_fetch_add(&n->tx_filtered, 1);
    else if (rc < 0)
        atomic_fetch_add(&n->tx_dropped, 1);
    else {
        atomic_fetch_add(&n->tx_frames, 1);
        atomic_fetch_add(&n->tx_bytes, flen);
    }
}

static void tx_process(struct virtio_net *n)
{
    bool pushed = false;
    for (;;) {
        if (n->tx_has_held) {
            n->tx_has_held = false;
            if (!virtio_mmio_chain_current(n->t, &n->tx))
                continue;
        } else if (virtio_mmio_pop(n->t, VIRTIO_NET_TX, &n->tx) <= 0) {
            break;
        }
        /* Charged as the frame the chain claims to carry; a bad one costs too. */
        uint64_t bytes = n->tx.readable_len > VIRTIO_NET_HDR_SIZE ? n->tx.readable_len - VIRTIO_NET_HDR_SIZE : 0;
        uint64_t wait;
        if (!rate_limiter_consume(&n->tx_limit, bytes, 1, rate_limiter_now(), &wait)) {
            n->tx_has_held = true;
            virtio_mmio_retry(n->t, VIRTIO_NET_TX, wait);
            break;
        }
        tx_one(n, &n->tx);
        virtio_mmio_push(n->t, &n->tx, 0);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(n->t, VIRTIO_NET_TX);
}

static void net_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_net *n = opaque;
    check_reset(n);
    if (queue == VIRTIO_NET_RX)
        rx_flush(n);
    else if (queue == VIRTIO_NET_TX) {
        if (n->mmds) {   /* its timer rings here too */
            uint64_t now = now_ms();
            mmds_net_poll(n->mmds, now);
            mmds_arm(n, now);
        }
        tx_process(n);   /* slirp (or the MMDS) may answer at once: rx_pushed */
    }
    rx_notify(n);
}

void virtio_net_on_host(void *net)
{
    struct virtio_net *n = net;
    check_reset(n);
    net_backend_service(n->be);
    rx_notify(n);
}

#define SNAP_VERSION 1u

/* Saved: the MAC (a random one must survive, the guest has it), the
 * receive chains taken for a frame that needed more buffers, and a
 * transmit chain the limiter held back, each by its head: the rings are
 * in guest RAM, so load walks them again. Not saved: frames from the
 * backend waiting for a buffer (lost, as on a wire), the limiters' tokens
 * (a restored device starts with full buckets) and the counters. The
 * backend is new after a restore: slirp's connection table is not carried
 * over, so the guest's TCP connections to the outside break, while its
 * DHCP lease stays good (slirp hands out the same address). */
static int net_save(void *opaque, struct snap_writer *w)
{
    struct virtio_net *n = opaque;
    check_reset(n);
    snapw_u32(w, SNAP_VERSION);
    snapw_bytes(w, n->mac, 6);
    unsigned k = 0;
    for (unsigned i = 0; i < n->n_stash; i++)
        k += virtio_mmio_chain_current(n->t, n->stash[i]);
    snapw_u16(w, (uint16_t)k);
    for (unsigned i = 0; i < n->n_stash; i++)
        if (virtio_mmio_chain_current(n->t, n->stash[i]))
            snapw_u16(w, n->stash[i]->head);
    bool tx = n->tx_has_held && virtio_mmio_chain_current(n->t, &n->tx);
    snapw_u8(w, tx);
    snapw_u16(w, tx ? n->tx.head : 0);
    return w->err;
}

static int net_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct virtio_net *n = opaque;
    /* A reset flagged by an earlier failed load would otherwise drop what
     * this one restores at the first callback. */
    check_reset(n);
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-net: state version %u, expected %u", version, SNAP_VERSION);
    uint8_t mac[6];
    snapr_bytes(r, mac, 6);
    uint16_t n_stash = snapr_u16(r);
    if (!r->err && n_stash > VIRTIO_NET_QUEUE_SIZE)
        return errmsg_set(e, -EINVAL, "virtio-net: %u receive chains held, more than the queue size %u",
                          n_stash, VIRTIO_NET_QUEUE_SIZE);
    uint16_t heads[VIRTIO_NET_QUEUE_SIZE];
    for (unsigned i = 0; i < n_stash; i++)
        heads[i] = snapr_u16(r);
    uint8_t tx = snapr_u8(r);
    uint16_t tx_head = snapr_u16(r);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-net: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);
    static const uint8_t zero[6];
    if ((mac[0] & 1) || !memcmp(mac, zero, 6))
        return errmsg_set(e, -EINVAL, "virtio-net: MAC address %02x:%02x:%02x:%02x:%02x:%02x is not a unicast station address",
                          mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    if (n->mac_fixed && memcmp(mac, n->mac, 6))
        return errmsg_set(e, -EINVAL, "virtio-net: the snapshot's MAC %02x:%02x:%02x:%02x:%02x:%02x is not the configured one",
                          mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    if (tx > 1)
        return errmsg_set(e, -EINVAL, "virtio-net: transmit chain held is %u, expected 0 or 1", tx);
    memcpy(n->mac, mac, 6);
    memcpy(n->config + VIRTIO_NET_CFG_MAC, mac, 6);

    bool mrg = virtio_mmio_driver_features(n->t) & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF);
    struct errmsg ce;
    for (unsigned i = 0; i < n_stash; i++) {
        if (!n->stash[i] && !(n->stash[i] = malloc(sizeof(struct virtq_chain))))
            return errmsg_set(e, -ENOMEM, "virtio-net: out of memory");
        struct virtq_chain *c = n->stash[i];
        if (virtio_mmio_chain_at(n->t, VIRTIO_NET_RX, heads[i], c, &ce) < 0)
            return errmsg_set(e, -EINVAL, "virtio-net: held receive chain %u: %s", i, ce.text);
        /* What rx_take would have refused to keep. */
        if (c->n_readable || (mrg && c->writable_len < VIRTIO_NET_HDR_SIZE))
            return errmsg_set(e, -EINVAL, "virtio-net: held receive chain %u (head %u) is not a receive buffer",
                              i, heads[i]);
        n->n_stash = i + 1;
    }
    if (tx) {
        if (virtio_mmio_chain_at(n->t, VIRTIO_NET_TX, tx_head, &n->tx, &ce) < 0)
            return errmsg_set(e, -EINVAL, "virtio-net: held transmit chain: %s", ce.text);
        n->tx_has_held = true;
    }
    return 0;
}

static const struct virtio_device_ops net_ops = {
    .config_read = net_config_read,
    .queue_notify = net_queue_notify,
    .reset = net_reset,
    .save = net_save,
    .load = net_load,
};

int virtio_net_create(struct virtio_net **out, const struct virtio_net_options *o,
                      const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    if (!o->backend)
        return errmsg_set(e, -EINVAL, "virtio-net: no network backend given");
    static const uint8_t zero[6];
    if (o->has_mac && ((o->mac[0] & 1) || !memcmp(o->mac, zero, 6))) {
        net_backend_close(o->backend);
        return errmsg_set(e, -EINVAL, "virtio-net: MAC address %02x:%02x:%02x:%02x:%02x:%02x is not a unicast station address",
                          o->mac[0], o->mac[1], o->mac[2], o->mac[3], o->mac[4], o->mac[5]);
    }
    if (o->mtu > UINT16_MAX || (o->mtu && o->mtu < 68)) {
        net_backend_close(o->backend);
        return errmsg_set(e, -EINVAL, "virtio-net: MTU %u is out of range (68..65535)", o->mtu);
    }
    struct virtio_net *n = calloc(1, sizeof *n);
    if (!n) {
        net_backend_close(o->backend);
        return errmsg_set(e, -ENOMEM, "virtio-net: out of memory");
    }
    n->be = o->backend;
    n->mem = *mem;
    uint64_t now = rate_limiter_now();
    rate_limiter_init(&n->rx_limit, NULL, now);
    rate_limiter_init(&n->tx_limit, NULL, now);
    n->backend_rx_on = true;
    n->mac_fixed = o->has_mac;
    if (o->has_mac) {
        memcpy(n->mac, o->mac, 6);
    } else {
        /* Several VMs may share a bridge: a fixed default would collide. */
        if (getrandom(n->mac, 6, 0) != 6)
            memcpy(n->mac, (const uint8_t[6]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6);
        n->mac[0] = (uint8_t)((n->mac[0] & 0xfe) | 0x02);   /* unicast, locally administered */
    }
    memcpy(n->config + VIRTIO_NET_CFG_MAC, n->mac, 6);
    n->config[VIRTIO_NET_CFG_STATUS] = VIRTIO_NET_S_LINK_UP;
    n->config[VIRTIO_NET_CFG_MAX_VQ_PAIRS] = 1;
    n->config[VIRTIO_NET_CFG_MTU] = (uint8_t)o->mtu;
    n->config[VIRTIO_NET_CFG_MTU + 1] = (uint8_t)(o->mtu >> 8);

    struct virtio_device dev = {
        .device_id = VIRTIO_ID_NET,
        .features = VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_STATUS) |
                    VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | (o->mtu ? VIRTIO_BIT(VIRTIO_NET_F_MTU) : 0),
        .num_queues = 2,
        .queue_max = VIRTIO_NET_QUEUE_SIZE,
        .config_size = VIRTIO_NET_CFG_SIZE,
        .ops = &net_ops,
        .opaque = n,
    };
    int rc = virtio_mmio_create(&n->t, &dev, mem, irq, e);
    if (rc < 0) {
        net_backend_close(n->be);
        rate_limiter_destroy(&n->rx_limit);
        rate_limiter_destroy(&n->tx_limit);
        free(n);
        return rc;
    }
    if (o->mmds.ipv4) {
        if (!(n->mmds_frame = malloc(NET_FRAME_MAX)) ||
            (rc = mmds_net_create(&n->mmds, &o->mmds, net_receive, n, e)) < 0) {
            if (!n->mmds_frame)
                errmsg_set(e, -ENOMEM, "virtio-net: out of memory");
            virtio_net_destroy(n);
            return rc < 0 ? rc : -ENOMEM;
        }
    }
    net_backend_set_rx(n->be, net_receive, n);
    *out = n;
    return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
    if (!n)
        return;
    net_backend_close(n->be);
    virtio_mmio_destroy(n->t);
    while (n->hold_count)
        hold_drop_front(n);
    for (unsigned i = 0; i < VIRTIO_NET_QUEUE_SIZE; i++)
        free(n->stash[i]);
    rate_limiter_destroy(&n->rx_limit);
    rate_limiter_destroy(&n->tx_limit);
    mmds_net_destroy(n->mmds);
    free(n->mmds_frame);
    free(n);
}

void virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
                                  const struct rate_limiter_config *tx)
{
    uint64_t now = rate_limiter_now();
    if (rx) {
        rate_limiter_update(&n->rx_limit, rx, now);
        virtio_mmio_kick_queue(n->t, VIRTIO_NET_RX);
    }
    if (tx) {
        rate_limiter_update(&n->tx_limit, tx, now);
        virtio_mmio_kick_queue(n->t, VIRTIO_NET_TX);
    }
}

struct virtio_mmio *virtio_net_mmio(struct virtio_net *n)
{
    return n->t;
}

int virtio_net_host_fd(const struct virtio_net *n)
{
    return net_backend_poll_fd(n->be);
}

void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6])
{
    memcpy(mac, n->mac, 6);
}

void virtio_net_stats(const struct virtio_net *n, struct virtio_net_stats *out)
{
    struct virtio_net *m = (struct virtio_net *)n;   /* atomics only */
    out->rx_frames = atomic_load(&m->rx_frames);
    out->rx_dropped = atomic_load(&m->rx_dropped);
    out->rx_held = atomic_load(&m->rx_held);
    out->tx_frames = atomic_load(&m->tx_frames);
    out->tx_dropped = atomic_load(&m->tx_dropped);
    out->tx_filtered = atomic_load(&m->tx_filtered);
    out->tx_bad = atomic_load(&m->tx_bad);
    out->rx_bytes = atomic_load(&m->rx_bytes);
    out->tx_bytes = atomic_load(&m->tx_bytes);
    out->tx_mmds = atomic_load(&m->tx_mmds);
}
