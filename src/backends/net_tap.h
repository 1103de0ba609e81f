/* A host TAP device as the network backend (Firecracker's host_dev_name):
 * the device must already exist (e.g. `ip tuntap add dev tap0 mode tap
 * user $USER`), so minnow needs no privilege of its own and never creates
 * or configures host interfaces. Frames go through the tap file descriptor
 * as plain Ethernet (IFF_NO_PI, no vnet header: no offloads).
 *
 * Reading stops while the guest has no receive buffers
 * (net_backend_want_rx); frames then wait in the kernel's tap queue, which
 * drops on overflow as a real link would. */
#ifndef MINNOW_BACKENDS_NET_TAP_H
#define MINNOW_BACKENDS_NET_TAP_H

#include "backends/net_backend.h"
#include "util/errmsg.h"

/* Attaches to the tap interface called name. */
int net_tap_open(struct net_backend **out, const char *name, struct errmsg *e);

#endif
