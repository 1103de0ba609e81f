/* Split virtqueues (virtio 1.2 section 2.7), the device side: take the
 * chains the driver made available, check every descriptor of them, hand
 * the device a list of host pointers (device-readable segments first, then
 * device-writable ones), and return used chains with the notification
 * suppression both ways (VIRTQ_AVAIL_F_NO_INTERRUPT, or EVENT_IDX's
 * used_event / avail_event).
 *
 * The rings live in guest RAM and the driver runs on other host threads, so
 * ring indices are read with acquire and published with release, and each
 * descriptor is copied once before it is checked: a guest changing a
 * descriptor behind our back changes nothing we already validated.
 *
 * A struct virtq is not locked; its owner (the transport) serializes calls. */
#ifndef MINNOW_DEVICES_VIRTQ_H
#define MINNOW_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/guest_mem.h"
#include "util/errmsg.h"

#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

/* The largest queue any minnow device offers, and the most buffers one
 * chain may carry (direct or through an indirect table). Devices advertise
 * limits (e.g. virtio-blk seg_max) that keep a correct driver below it. */
#define VIRTQ_MAX_SIZE 256u
#define VIRTQ_CHAIN_MAX 256u

struct virtq_seg {
    void *host;     /* inside guest RAM, checked */
    uint64_t gpa;
    uint32_t len;
};

/* One available chain: seg[0 .. n_readable) are device-readable,
 * seg[n_readable .. n_readable + n_writable) device-writable. */
struct virtq_chain {
    uint16_t head;
    uint16_t queue;
    uint64_t gen;             /* transport reset generation when popped */
    unsigned n_readable, n_writable;
    uint64_t readable_len, writable_len;
    struct virtq_seg seg[VIRTQ_CHAIN_MAX];
};

struct virtq {
    struct guest_mem mem;
    uint16_t size;
    bool event_idx, indirect;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint8_t *desc, *avail, *used;  /* host pointers, checked by virtq_start */
    uint16_t last_avail;           /* next avail ring slot to take */
    uint16_t used_idx;             /* our copy: the guest cannot move it */
    uint16_t checked_used;         /* used_idx at the last virtq_need_interrupt */
};

/* Checks the ring layout (size a power of two in 1..VIRTQ_MAX_SIZE, each
 * ring aligned and entirely inside RAM) and makes the queue usable from
 * index 0. Returns 0, or -EINVAL with a message naming the bad field. */
int virtq_start(struct virtq *q, const struct guest_mem *mem, uint16_t size,
                uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
                bool event_idx, bool indirect, struct errmsg *e);

/* Snapshot restore: after virtq_start, continue from the indices the
 * queue had when it was saved (the rings themselves are in guest RAM,
 * restored with it). */
void virtq_set_indices(struct virtq *q, uint16_t last_avail, uint16_t used_idx, uint16_t checked_used);

/* Walks the chain that starts at descriptor head again, with the same
 * checks as virtq_pop, without touching the avail ring: how a device
 * restored from a snapshot gets back a chain it had popped and still
 * held. Returns 0 with c filled, or -EINVAL. */
int virtq_chain_at(struct virtq *q, uint16_t head, struct virtq_chain *c, struct errmsg *e);

/* Takes the next available chain into c. Returns 1 with c filled, 0 when
 * the driver has made nothing new available (with EVENT_IDX it then asks
 * to be notified of the next buffer and looks once more, so a kick cannot
 * be lost), or -EINVAL when the driver broke the ring rules: the device
 * must then stop using the queue (NEEDS_RESET). */
int virtq_pop(struct virtq *q, struct virtq_chain *c, struct errmsg *e);
/* Gives the chain popped last back to the avail ring, as if it had not
 * been popped (a device that cannot serve it yet); once per pop. */
void virtq_unpop(struct virtq *q);

/* Returns chain c to the driver, `written` bytes of its writable buffers
 * filled (clamped to what the chain has). Does not interrupt the driver:
 * call virtq_need_interrupt after a batch. */
void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written);

/* Whether the chains pushed since the last call warrant an interrupt. */
bool virtq_need_interrupt(struct virtq *q);

/* Copies up to len bytes at `offset` within the chain's readable (or
 * writable) part; returns how many were copied. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *buf, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *buf, size_t len);

/* Fills iov with the part [offset, offset+len) of the readable (writable
 * false) or writable part of the chain. Returns the number of iovecs, or -1
 * if the range is not all there or needs more than max iovecs. */
int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
                    struct iovec *iov, int max);

#endif
