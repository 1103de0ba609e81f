/* A shared ring of frames. See net_ring.h. */
#include "backends/net_ring.h"

#include <errno.h>
#include <string.h>

#include "backends/net_backend.h"

#define NET_RING_WRAP 0xffffffffu
#define MASK (NET_RING_DATA - 1u)
#define HDR 8u

_Static_assert((NET_RING_DATA & MASK) == 0, "the ring's size is a power of two");
_Static_assert(NET_RING_DATA >= 2 * (HDR + NET_FRAME_MAX + 8u), "the ring holds two largest frames");
_Static_assert(sizeof(struct net_ring_ctl) <= 4096u, "the control block fits its page");

static uint32_t record_bytes(size_t len)
{
    return HDR + (((uint32_t)len + 7u) & ~7u);
}

/* A length word in shared memory: read or written once, whole. */
static uint32_t *word_at(struct net_ring *r, uint32_t off)
{
    return (uint32_t *)(r->data + off);
}

void net_ring_attach(struct net_ring *r, void *mem)
{
    r->ctl = mem;
    r->data = (uint8_t *)mem + (NET_RING_AREA - NET_RING_DATA);
    r->pos = 0;
    r->broken = false;
}

/* Bytes the consumer has not freed yet, as the producer sees it. */
static uint32_t used(struct net_ring *r)
{
    uint32_t u = r->pos - atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
    if (u > NET_RING_DATA)
        r->broken = true;
    return r->broken ? NET_RING_DATA : u;
}

/* Bytes a record of len needs from pos: its own, and the rest of the ring
 * when it has to wrap. */
static uint32_t needed(const struct net_ring *r, size_t len)
{
    uint32_t to_end = NET_RING_DATA - (r->pos & MASK);
    uint32_t rec = record_bytes(len);
    return rec <= to_end ? rec : to_end + rec;
}

int net_ring_put(struct net_ring *r, const struct iovec *iov, int iovcnt, size_t len)
{
    if (len < NET_FRAME_MIN || len > NET_FRAME_MAX)
        return -EINVAL;
    uint32_t room = NET_RING_DATA - used(r);
    if (r->broken)
        return -EPIPE;
    if (needed(r, len) > room)
        return -EAGAIN;
    uint32_t off = r->pos & MASK;
    if (record_bytes(len) > NET_RING_DATA - off) {
        __atomic_store_n(word_at(r, off), NET_RING_WRAP, __ATOMIC_RELAXED);
        r->pos += NET_RING_DATA - off;
        off = 0;
    }
    __atomic_store_n(word_at(r, off), (uint32_t)len, __ATOMIC_RELAXED);
    uint8_t *p = r->data + off + HDR;
    size_t left = len;
    for (int i = 0; i < iovcnt && left; i++) {
        size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
        memcpy(p, iov[i].iov_base, n);
        p += n;
        left -= n;
    }
    r->pos += record_bytes(len);
    return 0;
}

/* Publishes our index, then reads the peer's "wake me" flag: with the
 * peer's store of the flag before its read of our index (both fenced),
 * one of us sees the other and no wake-up is lost. */
static bool publish_and_check(_Atomic uint32_t *index, uint32_t pos, _Atomic uint32_t *wanted)
{
    atomic_store_explicit(index, pos, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(wanted, memory_order_relaxed) && atomic_exchange(wanted, 0);
}

bool net_ring_publish(struct net_ring *r)
{
    return publish_and_check(&r->ctl->head, r->pos, &r->ctl->data_wanted);
}

bool net_ring_wait_room(struct net_ring *r, size_t len)
{
    atomic_store(&r->ctl->space_wanted, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (r->broken || needed(r, len) > NET_RING_DATA - used(r))
        return true;
    atomic_store(&r->ctl->space_wanted, 0);
    return false;
}

long net_ring_get(struct net_ring *r, uint8_t *buf)
{
    while (!r->broken) {
        uint32_t avail = atomic_load_explicit(&r->ctl->head, memory_order_acquire) - r->pos;
        if (avail == 0)
            return 0;
        uint32_t off = r->pos & MASK, to_end = NET_RING_DATA - off;
        uint32_t len = avail > NET_RING_DATA ? 0 : __atomic_load_n(word_at(r, off), __ATOMIC_RELAXED);
        if (len == NET_RING_WRAP && to_end <= avail) {
            r->pos += to_end;
            continue;
        }
        if (len < NET_FRAME_MIN || len > NET_FRAME_MAX || record_bytes(len) > to_end ||
            record_bytes(len) > avail)
            break;
        memcpy(buf, r->data + off + HDR, len);
        r->pos += record_bytes(len);
        return (long)len;
    }
    r->broken = true;
    return -EPIPE;
}

bool net_ring_consumed(struct net_ring *r)
{
    return publish_and_check(&r->ctl->tail, r->pos, &r->ctl->space_wanted);
}

bool net_ring_wait_data(struct net_ring *r)
{
    atomic_store(&r->ctl->data_wanted, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (r->broken || atomic_load_explicit(&r->ctl->head, memory_order_acquire) == r->pos)
        return true;
    atomic_store(&r->ctl->data_wanted, 0);
    return false;
}
