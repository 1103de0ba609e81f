/* virtio-net (virtio 1.2 section 5.1): one receive and one transmit queue
 * between the guest and a host network backend (backends/net_backend.h:
 * user-mode networking through libslirp, or a TAP device). Offered:
 * VIRTIO_NET_F_MAC (the configured or a random locally administered
 * address), VIRTIO_NET_F_STATUS (link always up),
 * VIRTIO_NET_F_MRG_RXBUF (a frame may span several receive buffers) and,
 * when the options name one, VIRTIO_NET_F_MTU (the interface's MTU). No
 * checksum or segmentation offloads: every frame is complete and checksummed
 * by whoever made it, so the header's flags and gso_type are always zero.
 *
 * Receive: frames from the backend are copied into the guest's receive
 * buffers behind a 12-byte virtio_net_hdr (num_buffers set, 1 without
 * MRG_RXBUF). While the guest has no buffer for a frame, up to
 * VIRTIO_NET_RX_HOLD frames wait here and the backend is told to stop
 * reading (the frames then wait in the host kernel); a receive-queue
 * notification delivers them and resumes the backend.
 *
 * The metadata service (Firecracker's MMDS, options.mmds): a transmit
 * frame for its address is given to devices/mmds_net.h instead of the
 * backend (tx_mmds counts them); its answers enter the receive path as the
 * backend's frames do, and its retransmission timer is the transport's
 * retry timer on the transmit queue.
 *
 * Rate limiters (Firecracker's rx_rate_limiter / tx_rate_limiter, bytes
 * and frames): a received frame the receive limiter refuses is held like
 * one without a buffer (the backend stops reading); a transmit chain the
 * transmit limiter refuses is kept until the transport's retry timer says
 * the tokens are there. The I/O thread never waits for them.
 *
 * The guest is hostile. A transmit chain with a device-writable buffer, a
 * header shorter than virtio_net_hdr, a frame shorter than an Ethernet
 * header or longer than NET_FRAME_MAX, or offload flags that were not
 * negotiated, fails alone: it is returned unused and counted (tx_bad).
 * Without MRG_RXBUF, a receive buffer too small for the frame is returned
 * with nothing written and the frame is dropped (rx_dropped). A receive
 * chain with a device-readable buffer, or (with MRG_RXBUF) a buffer shorter
 * than the header, sets DEVICE_NEEDS_RESET, as does anything the transport
 * refuses (rings or buffers outside RAM, loops).
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): the MAC
 * (a random one is kept; a configured one must match) and the receive and
 * transmit chains the device holds, by head. Frames waiting for a receive
 * buffer, limiter tokens and counters are not saved. The backend is new
 * after a restore: slirp's connections are gone (the guest's TCP
 * connections to the outside break), its DHCP lease stays valid.
 *
 * To put one on the board:
 *     struct net_spec spec;  net_spec_parse(&spec, arg, &err);
 *     struct net_backend *be;
 *     user:  struct net_slirp_options so = {.hostfwd = spec.hostfwd, .n_hostfwd = spec.n_hostfwd};
 *            net_slirp_open(&be, &so, &err);
 *     tap:   net_tap_open(&be, spec.tap_name, &err);
 *     struct virtio_net_options o = {.backend = be, .has_mac = spec.has_mac};
 *     memcpy(o.mac, spec.mac, 6);
 *     virtio_net_create(&net, &o, &ram, &irq_line_for_slot, &err);   (owns be from here on)
 *     map &virtio_mmio_ops with opaque virtio_net_mmio(net), VIRTIO_MMIO_SIZE bytes;
 *     event_loop_add_fd(loop, virtio_mmio_kick_fd(virtio_net_mmio(net)),
 *                       virtio_mmio_on_kick, virtio_net_mmio(net), &err);
 *     event_loop_add_fd(loop, virtio_net_host_fd(net), virtio_net_on_host, net, &err);
 * Both on the same event loop: the device and its backend (libslirp is not
 * thread-safe) rely on their callbacks never running at the same time. */
#ifndef MINNOW_DEVICES_VIRTIO_NET_H
#define MINNOW_DEVICES_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/net_backend.h"
#include "devices/mmds_net.h"
#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"
#include "util/rate_limiter.h"

/* Feature bits (spec 5.1.3) */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* Config space (struct virtio_net_config, spec 5.1.4) */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10
#define VIRTIO_NET_CFG_SIZE 12u
#define VIRTIO_NET_S_LINK_UP 1u

/* Queues (spec 5.1.2) */
#define VIRTIO_NET_RX 0u
#define VIRTIO_NET_TX 1u
#define VIRTIO_NET_QUEUE_SIZE 256u

/* struct virtio_net_hdr (spec 5.1.6): flags, gso_type, hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers; little-endian. */
#define VIRTIO_NET_HDR_SIZE 12u
#define VIRTIO_NET_HDR_NUM_BUFFERS 10
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_GSO_NONE 0u

/* Frames held while the guest has no receive buffer. */
#define VIRTIO_NET_RX_HOLD 64u

struct virtio_net_options {
    struct net_backend *backend;   /* required; the device owns it from the call on */
    bool has_mac;
    uint8_t mac[6];                /* unicast; without has_mac a random local one */
    unsigned mtu;                  /* offered with VIRTIO_NET_F_MTU; 0: not offered */
    /* The metadata service on this interface (devices/mmds_net.h): frames
     * for its address are answered here and never reach the backend.
     * ipv4 0: none. */
    struct mmds_net_options mmds;
};

struct virtio_net_stats {
    uint64_t rx_frames;    /* delivered to the guest */
    uint64_t rx_dropped;   /* lost: hold full, buffer too small, too big for the queue */
    uint64_t rx_held;      /* waiting now for a receive buffer */
    uint64_t tx_frames;    /* handed to the backend */
    uint64_t tx_dropped;   /* refused by the backend */
    uint64_t tx_filtered;  /* refused by the backend's validator (-EPROTO: see backends/net_guard.h) */
    uint64_t tx_bad;       /* malformed transmit chains */
    uint64_t rx_bytes;     /* frame bytes delivered (without the virtio header) */
    uint64_t tx_bytes;     /* frame bytes handed to the backend */
    uint64_t tx_mmds;      /* frames the metadata service took */
};

struct virtio_net;

int virtio_net_create(struct virtio_net **out, const struct virtio_net_options *o,
                      const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove both fds from the event loop first. Closes the backend. */
void virtio_net_destroy(struct virtio_net *n);

struct virtio_mmio *virtio_net_mmio(struct virtio_net *n);
/* The backend's fd and its I/O-thread callback (opaque = the device). */
int virtio_net_host_fd(const struct virtio_net *n);
void virtio_net_on_host(void *net);

/* Changes the receive and transmit rate limiters (NULL: leave it; else
 * PATCH semantics, see rate_limiter.h). A new device limits nothing. Any
 * thread, also while the guest runs. */
void virtio_net_set_rate_limiters(struct virtio_net *n, const struct rate_limiter_config *rx,
                                  const struct rate_limiter_config *tx);

void virtio_net_mac(const struct virtio_net *n, uint8_t mac[6]);
/* Safe from any thread. */
void virtio_net_stats(const struct virtio_net *n, struct virtio_net_stats *out);

#endif
