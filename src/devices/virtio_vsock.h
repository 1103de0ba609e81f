/* virtio-vsock (virtio 1.2 section 5.10), stream sockets, with the host
 * side in Firecracker's convention (backends/vsock_uds.h): the host reaches
 * a guest listener through "CONNECT <port>\n" on the socket at uds_path,
 * and a guest connection to host CID 2 port P becomes a connection to the
 * Unix socket "<uds_path>_<P>".
 *
 * The device bridges each vsock stream to one host Unix socket, with the
 * spec's credit flow control both ways: no more is sent to the guest than
 * the buf_alloc/fwd_cnt it advertises allows, and the guest is given
 * VIRTIO_VSOCK_BUF_ALLOC bytes of credit, which bounds what a connection
 * may hold on the host while its Unix socket is full.
 *
 * The guest is hostile. A packet whose header does not fit the chain, or
 * whose len runs past it, or from a CID that is not the guest's to one that
 * is not the host's, is dropped (or answered with RST when it names a
 * connection); one that breaks the protocol (a wrong socket type, RW before
 * the connection exists, more data than its credit) resets that connection.
 * A receive buffer too short for a header sets DEVICE_NEEDS_RESET. At most
 * VIRTIO_VSOCK_MAX_CONNS connections exist; more are refused (RST to the
 * guest, an immediate close to the host).
 *
 * A driver reset closes every connection's host socket. The host resetting
 * the transport (virtio_vsock_transport_reset, e.g. after a snapshot
 * restore) closes them too and sends the guest a TRANSPORT_RESET event.
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): no
 * connection is saved; a restored device checks the guest CID is the
 * configured one and sends the guest a TRANSPORT_RESET event.
 *
 * To put one on the board:
 *     struct virtio_vsock_options o = {.guest_cid = 3, .uds_path = "/tmp/v.sock"};
 *     virtio_vsock_create(&vs, &o, &ram, &irq_line_for_slot, &err);
 *     map &virtio_mmio_ops with opaque virtio_vsock_mmio(vs), VIRTIO_MMIO_SIZE bytes;
 *     event_loop_add_fd(loop, virtio_mmio_kick_fd(virtio_vsock_mmio(vs)),
 *                       virtio_mmio_on_kick, virtio_vsock_mmio(vs), &err);
 *     event_loop_add_fd(loop, virtio_vsock_host_fd(vs), virtio_vsock_on_host, vs, &err);
 * Both on the same event loop: the device relies on its callbacks never
 * running at the same time. */
#ifndef MINNOW_DEVICES_VIRTIO_VSOCK_H
#define MINNOW_DEVICES_VIRTIO_VSOCK_H

#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"

/* Feature bits (spec 5.10.3): none offered; stream is implied. */
#define VIRTIO_VSOCK_F_STREAM 0
#define VIRTIO_VSOCK_F_SEQPACKET 1

/* Queues (spec 5.10.2) */
#define VIRTIO_VSOCK_RX 0u
#define VIRTIO_VSOCK_TX 1u
#define VIRTIO_VSOCK_EVENT 2u

/* Config: le64 guest_cid */
#define VIRTIO_VSOCK_CFG_SIZE 8u

/* struct virtio_vsock_hdr (spec 5.10.6), little-endian, packed */
#define VIRTIO_VSOCK_HDR_SIZE 44u
#define VIRTIO_VSOCK_HDR_SRC_CID 0
#define VIRTIO_VSOCK_HDR_DST_CID 8
#define VIRTIO_VSOCK_HDR_SRC_PORT 16
#define VIRTIO_VSOCK_HDR_DST_PORT 20
#define VIRTIO_VSOCK_HDR_LEN 24
#define VIRTIO_VSOCK_HDR_TYPE 28
#define VIRTIO_VSOCK_HDR_OP 30
#define VIRTIO_VSOCK_HDR_FLAGS 32
#define VIRTIO_VSOCK_HDR_BUF_ALLOC 36
#define VIRTIO_VSOCK_HDR_FWD_CNT 40

#define VIRTIO_VSOCK_TYPE_STREAM 1
#define VIRTIO_VSOCK_TYPE_SEQPACKET 2

#define VIRTIO_VSOCK_OP_INVALID 0
#define VIRTIO_VSOCK_OP_REQUEST 1
#define VIRTIO_VSOCK_OP_RESPONSE 2
#define VIRTIO_VSOCK_OP_RST 3
#define VIRTIO_VSOCK_OP_SHUTDOWN 4
#define VIRTIO_VSOCK_OP_RW 5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE 6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7

#define VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE 1u
#define VIRTIO_VSOCK_SHUTDOWN_F_SEND 2u

/* struct virtio_vsock_event: le32 id */
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0u

#define VIRTIO_VSOCK_HOST_CID 2u
#define VIRTIO_VSOCK_QUEUE_SIZE 128u
/* Credit we give the guest per connection: the most guest-to-host bytes
 * one connection may have waiting on the host. */
#define VIRTIO_VSOCK_BUF_ALLOC 65536u
/* Payload of one packet to the guest at most. */
#define VIRTIO_VSOCK_MAX_PKT 65536u
#define VIRTIO_VSOCK_MAX_CONNS 128u
/* Host-side ports handed to host-initiated connections start here. */
#define VIRTIO_VSOCK_FIRST_HOST_PORT 0x40000000u

struct virtio_vsock_options {
    uint64_t guest_cid;     /* 3 .. 0xfffffffe */
    const char *uds_path;   /* must not exist; removed by destroy */
};

struct virtio_vsock_info {
    unsigned connections;       /* open now */
    uint64_t dropped_packets;   /* malformed or misaddressed guest packets */
    uint64_t resets_sent;       /* RSTs sent to the guest */
};

struct virtio_vsock;

int virtio_vsock_create(struct virtio_vsock **out, const struct virtio_vsock_options *o,
                        const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove both fds from the event loop first. Closes every host socket and
 * removes uds_path. */
void virtio_vsock_destroy(struct virtio_vsock *v);

struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *v);
/* The host side's fd and its I/O-thread callback (opaque = the device). */
int virtio_vsock_host_fd(const struct virtio_vsock *v);
void virtio_vsock_on_host(void *vsock);

/* From any thread: drop every connection and tell the guest with a
 * TRANSPORT_RESET event (delivered when it has an event buffer queued). */
void virtio_vsock_transport_reset(struct virtio_vsock *v);
void virtio_vsock_info(struct virtio_vsock *v, struct virtio_vsock_info *out);

#endif
