/* A validator in front of the user-mode network stack: every frame the
 * guest sends is copied out of guest memory (so a second hart cannot change
 * it after the check) and checked before libslirp sees it. It exists
 * because Debian 12's libslirp 4.7.0 mishandles some IPv4 packets a hostile
 * guest can send: a lone fragment (offset != 0, no first fragment before
 * it) makes its ip_reass take the fragment for a whole datagram and write
 * through the payload as a pointer.
 *
 * Dropped (the send returns -EPROTO, which virtio-net counts as
 * tx_filtered), for Ethernet type 0x0800 only (slirp ignores VLAN-tagged
 * frames and reassembles nothing for IPv6):
 *   - a frame too short for an IPv4 header, a version other than 4, a
 *     header length below 5 words or beyond the total length, a total
 *     length beyond the frame, a bad header checksum (slirp drops those
 *     too; the table below must only hold first fragments slirp queued);
 *   - a fragment with offset != 0 unless the first fragment (offset 0, MF)
 *     of the same datagram (source, destination, protocol, id) went through
 *     less than NET_GUARD_FRAG_TTL_MS ago; the datagram's last fragment
 *     (MF clear) ends its entry, so a stray fragment that follows finds no
 *     queue in slirp and is dropped here too;
 *   - a first fragment when NET_GUARD_FRAG_SLOTS datagrams are already
 *     being reassembled (the oldest are not evicted: evicting would let a
 *     later fragment reach a slirp queue we no longer track).
 * So the guest's fragmented UDP works when it sends the first fragment
 * first (Linux does) and its fragments in order; fragments that come after
 * the last one, or before the first, are lost like on a lossy link. */
#ifndef MINNOW_BACKENDS_NET_GUARD_H
#define MINNOW_BACKENDS_NET_GUARD_H

#include <stdint.h>

#include "backends/net_backend.h"
#include "util/errmsg.h"

#define NET_GUARD_FRAG_SLOTS 32u
/* slirp drops an incomplete reassembly queue after IPFRAGTTL (60) ticks of
 * its 500 ms slow timer; forgetting ours sooner is the safe side. */
#define NET_GUARD_FRAG_TTL_MS 20000u

enum net_guard_verdict {
    NET_GUARD_PASS,
    NET_GUARD_BAD_IP,        /* malformed IPv4 header */
    NET_GUARD_FRAGMENT,      /* a fragment slirp could mishandle */
};

struct net_guard_frag {
    uint32_t src, dst;       /* network order, as in the header */
    uint16_t id;
    uint8_t proto;
    int64_t expires_ms;      /* 0: free slot */
};

/* The checker's state (its table of datagrams being reassembled). */
struct net_guard {
    struct net_guard_frag frag[NET_GUARD_FRAG_SLOTS];
};

/* Checks one complete frame (a pure function of the frame, the state and
 * now_ms, a monotonic clock in milliseconds); updates the table for a
 * fragment that passes. */
enum net_guard_verdict net_guard_check(struct net_guard *g, const uint8_t *frame, size_t len, int64_t now_ms);

/* Puts a guard in front of inner: the result forwards everything to inner
 * (which it owns from the call on, closed with it) after the check. */
int net_guard_wrap(struct net_backend **out, struct net_backend *inner, struct errmsg *e);

#endif
