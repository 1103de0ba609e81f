/* User-mode networking through libslirp: the guest sits on a private
 * network (10.0.2.0/24, IPv6 fec0::/64) behind a NAT that lives in this
 * process, so no root and no host configuration are needed. slirp answers
 * the guest's DHCP (it hands out NET_SLIRP_GUEST from NET_SLIRP_DHCP_START
 * on), ARP and DNS (NET_SLIRP_DNS, forwarded to the host's resolver), and
 * turns the guest's TCP and UDP flows into host sockets. NET_SLIRP_HOST
 * reaches the host's own loopback (127.0.0.1). Host port forwards
 * (hostfwd) listen on a host address and port and connect to a guest port.
 *
 * libslirp is not thread-safe: everything here runs on the I/O thread (or
 * before the loop starts). Its sockets and timers sit behind the backend's
 * poll_fd: an internal epoll set holding every fd slirp asks to watch and a
 * timerfd for slirp's timeouts and timers (see net_backend.h). */
#ifndef MINNOW_BACKENDS_NET_SLIRP_H
#define MINNOW_BACKENDS_NET_SLIRP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/net_backend.h"
#include "util/errmsg.h"

/* The guest network, as QEMU's user networking lays it out (guests and
 * users know these addresses). */
#define NET_SLIRP_NETWORK "10.0.2.0"
#define NET_SLIRP_NETMASK "255.255.255.0"
#define NET_SLIRP_HOST "10.0.2.2"        /* gateway; the host's 127.0.0.1 */
#define NET_SLIRP_DNS "10.0.2.3"
#define NET_SLIRP_DHCP_START "10.0.2.15"
#define NET_SLIRP_GUEST NET_SLIRP_DHCP_START   /* the first (only) lease */

/* One host port forward: connections (TCP) or datagrams (UDP) to
 * host_addr:host_port go to guest_addr:guest_port. Addresses in network
 * byte order, as struct in_addr has them. */
struct net_hostfwd {
    bool udp;
    struct in_addr host_addr;
    uint16_t host_port;
    struct in_addr guest_addr;
    uint16_t guest_port;
};

#define NET_SLIRP_MAX_HOSTFWD 16u

struct net_slirp_options {
    const struct net_hostfwd *hostfwd;
    unsigned n_hostfwd;
    /* slirp's restricted mode: no flows to the host or beyond (TCP, UDP,
     * ICMP), only ARP, DHCP and slirp's own answers. For fuzzers, whose
     * random frames must not become real traffic; minnow never sets it. */
    bool restricted;
    unsigned mtu;   /* the largest IP packet either way; 0: slirp's 1500 */
};

/* Starts a slirp stack and its forwards. A forward whose host port cannot
 * be bound (in use, privileged) fails the whole open with a message naming
 * it. */
int net_slirp_open(struct net_backend **out, const struct net_slirp_options *o, struct errmsg *e);

#endif
