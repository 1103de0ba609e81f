/* The guest's side of the MMDS network stack: what virtio-net's transmit
 * path asks about every frame when its interface answers the metadata
 * service (Firecracker's "detour"). Frames for the MMDS address (ARP
 * requests for it, IPv4 to or from it) are consumed here and never reach
 * the backend (slirp or the TAP); the answers (ARP replies, TCP segments)
 * go to the guest through the emit callback, which virtio-net points at its
 * receive path.
 *
 * A minimal TCP server on port 80: a bounded table of MMDS_NET_MAX_CONN
 * connections (a new one when it is full replaces the one idle longest),
 * in-order data only (a segment beyond what was received is dropped and
 * acknowledged again), a receive buffer of MMDS_NET_RX_MAX bytes per
 * connection (the advertised window, so a guest that sends more is cut),
 * no window scaling, SACK or timestamps (not offered in the SYN-ACK, so
 * not used), segments of at most the guest's MSS and MMDS_NET_MSS,
 * retransmission from the oldest unacknowledged byte after MMDS_NET_RTO_MS
 * (doubling, up to MMDS_NET_RETRIES times, then the connection is dropped).
 * What a connection's bytes mean is the handler's business (HTTP:
 * api/mmds_http.h): it is handed the bytes received so far and says how
 * many form a request it answered.
 *
 * The guest is hostile: every Ethernet, ARP, IPv4 and TCP length and
 * option is checked against the frame; IPv4 fragments, bad checksums,
 * IP options that overrun the header and anything not TCP are dropped
 * (consumed: they are the MMDS's, nobody else's). Responses wait while the
 * connections together hold MMDS_NET_OUT_BUDGET bytes unsent.
 *
 * One instance per network device, on its I/O thread; not thread-safe.
 * Not in snapshots: after a restore the guest's MMDS connections are gone
 * (a segment for one gets a reset). */
#ifndef MINNOW_DEVICES_MMDS_NET_H
#define MINNOW_DEVICES_MMDS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define MMDS_NET_MAX_CONN 30u          /* Firecracker's DEFAULT_MAX_CONNECTIONS */
#define MMDS_NET_RX_MAX 16384u
#define MMDS_NET_MSS 1460u
#define MMDS_NET_RTO_MS 200u
#define MMDS_NET_RETRIES 8u
#define MMDS_NET_IDLE_MS 60000u        /* a connection silent this long is dropped */
#define MMDS_NET_OUT_BUDGET (4u << 20)
#define MMDS_NET_PORT 80u
/* Firecracker's MMDS MAC address. */
#define MMDS_NET_MAC { 0x06, 0x01, 0x23, 0x45, 0x67, 0x01 }

/* The handler of a connection's bytes. Returns the length of the complete
 * request at the start of buf that it answered (> 0; *resp malloc'd,
 * *resp_len bytes; *close: end the connection after the answer), 0 while
 * the request is incomplete, or -1 when the bytes can never be a valid
 * request (*resp, maybe NULL, is the error answer; the connection closes). */
struct mmds_net_handler {
    long (*request)(void *opaque, const uint8_t *buf, size_t len, uint8_t **resp, size_t *resp_len, bool *close);
    void *opaque;
};

struct mmds_net_options {
    uint32_t ipv4;                    /* host byte order; 0: no MMDS on this interface */
    struct mmds_net_handler handler;
};

/* A frame for the guest (a complete Ethernet frame, no virtio header). */
typedef void mmds_net_emit_fn(void *opaque, const uint8_t *frame, size_t len);

struct mmds_net;

int mmds_net_create(struct mmds_net **out, const struct mmds_net_options *o, mmds_net_emit_fn *emit,
                    void *emit_opaque, struct errmsg *e);
void mmds_net_destroy(struct mmds_net *m);

/* The first bytes of a frame (hdr_len of them, at least 42 to decide an
 * ARP request) say it is the MMDS's. */
bool mmds_net_claims(const struct mmds_net *m, const uint8_t *hdr, size_t hdr_len);
/* A frame from the guest that mmds_net_claims: handled (answers emitted),
 * or dropped when malformed. now_ms: CLOCK_MONOTONIC milliseconds. */
void mmds_net_input(struct mmds_net *m, const uint8_t *frame, size_t len, uint64_t now_ms);
/* Retransmissions and timeouts due by now_ms. */
void mmds_net_poll(struct mmds_net *m, uint64_t now_ms);
/* When mmds_net_poll next has work (absolute ms), 0: nothing pending. */
uint64_t mmds_net_deadline(const struct mmds_net *m);

struct mmds_net_stats {
    uint64_t rx_frames;       /* frames consumed */
    uint64_t rx_dropped;      /* of those, malformed or unusable */
    uint64_t tx_frames;       /* frames emitted */
    uint64_t connections;     /* TCP connections accepted */
    uint64_t resets;          /* resets sent */
};
void mmds_net_stats(const struct mmds_net *m, struct mmds_net_stats *out);

#endif
