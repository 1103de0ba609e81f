/* A ring of Ethernet frames in memory shared by two processes: one
 * producer, one consumer (the monitor and its network helper, one ring
 * each way; net_helper.h). A frame crosses with one copy in and one copy
 * out, and no system call unless the other side is asleep: the side that
 * is about to sleep says so in the ring (data_wanted, space_wanted), and
 * the other side then wakes it with a byte on their socket (net_ring_put
 * and net_ring_consumed return true when that is due).
 *
 * Each side keeps its own index privately and only publishes it: the
 * peer's index and every record length are read from shared memory once,
 * checked (a record never reaches past the ring, a frame is
 * NET_FRAME_MIN..NET_FRAME_MAX bytes, the peer never claims more than the
 * ring holds), and anything else marks the ring broken for good. A peer
 * that rewrites a frame while it is copied out only changes those bytes.
 *
 * Records are 8-byte aligned: a u32 length, 4 bytes unused, the frame.
 * One that would not fit before the end is preceded by a wrap record (the
 * length NET_RING_WRAP) and starts again at offset 0. */
#ifndef MINNOW_BACKENDS_NET_RING_H
#define MINNOW_BACKENDS_NET_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* In shared memory, at the start of each ring's area. */
struct net_ring_ctl {
    _Alignas(64) _Atomic uint32_t head;    /* the producer's: bytes published */
    _Atomic uint32_t space_wanted;         /* the producer sleeps until there is room */
    _Alignas(64) _Atomic uint32_t tail;    /* the consumer's: bytes consumed */
    _Atomic uint32_t data_wanted;          /* the consumer sleeps until there is a frame */
};

/* Data bytes per ring: a power of two that holds two largest frames. */
#define NET_RING_DATA (512u << 10)
/* One ring's area: its control block, then the data. */
#define NET_RING_AREA (4096u + NET_RING_DATA)

struct net_ring {
    struct net_ring_ctl *ctl;
    uint8_t *data;
    uint32_t pos;       /* our own index: head for a producer, tail for a consumer */
    bool broken;        /* the peer wrote something impossible */
};

/* Joins, as either side, the new ring whose area starts at mem
 * (NET_RING_AREA bytes, zeroed by whoever created it). */
void net_ring_attach(struct net_ring *r, void *mem);

/* Producer. Copies the frame (len bytes, NET_FRAME_MIN..NET_FRAME_MAX,
 * gathered from iov) into the ring, unseen until net_ring_publish: 0, or
 * -EAGAIN when there is no room now, -EPIPE when the ring is broken. */
int net_ring_put(struct net_ring *r, const struct iovec *iov, int iovcnt, size_t len);
/* Shows the consumer what was put; true when it sleeps and must be woken. */
bool net_ring_publish(struct net_ring *r);
/* After -EAGAIN, before sleeping until the consumer makes room: false
 * when a frame of len bytes fits now after all (do not sleep). */
bool net_ring_wait_room(struct net_ring *r, size_t len);

/* Consumer. Copies the next frame into buf (NET_FRAME_MAX bytes): its
 * length, 0 when the ring is empty, -EPIPE when it is broken. Nothing is
 * freed until net_ring_consumed. */
long net_ring_get(struct net_ring *r, uint8_t *buf);
/* Publishes what net_ring_get took; true when the producer waits for room
 * and must be woken. */
bool net_ring_consumed(struct net_ring *r);
/* Before sleeping: false when a frame arrived meanwhile (do not sleep). */
bool net_ring_wait_data(struct net_ring *r);

#endif
