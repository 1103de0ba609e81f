/* The messages between the monitor and its user-mode network helper (see
 * net_helper.h), over one SOCK_SEQPACKET socketpair: the monitor sends a
 * hello (the stack's configuration), the helper answers with a ready (0,
 * or an error and the sentence for the user); from then on every message
 * either way is one byte, a wake-up: look at the rings (net_ring.h), where
 * the frames are. The helper is `EXE net-helper 3 4 PPID`: the socket is
 * its fd 3, the rings' memfd (2 * NET_RING_AREA bytes: the guest's frames,
 * then frames for the guest) its fd 4.
 * Both ends are the same executable, so the structs are sent as they are. */
#ifndef MINNOW_BACKENDS_NET_HELPER_PROTO_H
#define MINNOW_BACKENDS_NET_HELPER_PROTO_H

#include <stdint.h>

#include "backends/net_slirp.h"
#include "util/errmsg.h"

#define NET_HELPER_MAGIC 0x6e6e686du   /* "mhnn" */

struct net_helper_hello {
    uint32_t magic;
    uint32_t n_hostfwd;
    uint32_t mtu;
    struct net_hostfwd hostfwd[NET_SLIRP_MAX_HOSTFWD];
};

struct net_helper_ready {
    uint32_t magic;
    int32_t rc;
    char text[sizeof(struct errmsg)];
};

#endif
