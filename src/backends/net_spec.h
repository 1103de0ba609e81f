/* The command line's network spec, parsed into a struct (a pure function:
 * no host state is looked at, so every mistake is reported the same way on
 * every machine). Grammar:
 *
 *   user[,hostfwd=FWD]...[,mac=MAC][,mtu=MTU]
 *   tap=NAME[,mac=MAC][,mtu=MTU]
 *
 *   FWD  = [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *          protocol empty: tcp; HOSTADDR empty: 127.0.0.1 (loopback only:
 *          write 0.0.0.0 to listen on every interface); GUESTADDR empty:
 *          the guest's DHCP address 10.0.2.15, else an address in
 *          10.0.2.0/24; ports 1..65535 in decimal.
 *   MAC  = six two-digit hex bytes separated by ':', unicast, not all zero
 *          (e.g. 52:54:00:12:34:56). Without mac= the device picks one.
 *   MTU  = the guest interface's MTU (virtio-net's VIRTIO_NET_F_MTU),
 *          NET_SPEC_MTU_MIN..NET_SPEC_MTU_MAX in decimal. Default: for user
 *          networking NET_SPEC_USER_MTU (slirp then sends and takes frames
 *          that large: a tenth of the frames, and of the work per byte, of
 *          1500), for a TAP device none offered (the guest picks 1500; the
 *          TAP's own MTU on the host must match what is given).
 *   NAME = a Linux interface name: 1..15 characters, no '/', ':' or white
 *          space, not "." or "..".
 *
 * Up to NET_SLIRP_MAX_HOSTFWD forwards, no two on the same protocol, host
 * address and port. Errors name the spec and the part that is wrong. */
#ifndef MINNOW_BACKENDS_NET_SPEC_H
#define MINNOW_BACKENDS_NET_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/net_slirp.h"
#include "util/errmsg.h"

#define NET_SPEC_TAP_NAME_MAX 15u   /* IFNAMSIZ - 1 */
#define NET_SPEC_MTU_MIN 68u          /* IPv4's minimum */
#define NET_SPEC_MTU_MAX 65520u       /* the largest slirp takes, 8-byte aligned */
#define NET_SPEC_USER_MTU 65520u

enum net_spec_kind {
    NET_SPEC_USER,
    NET_SPEC_TAP,
};

struct net_spec {
    enum net_spec_kind kind;
    char tap_name[NET_SPEC_TAP_NAME_MAX + 1];
    bool has_mac;
    uint8_t mac[6];
    unsigned n_hostfwd;
    struct net_hostfwd hostfwd[NET_SLIRP_MAX_HOSTFWD];
    uint16_t mtu;           /* 0: not given */
    /* Not from the text: user mode in this process instead of the helper
     * (backends/net_helper.h), for fuzzers and tests that build boards by
     * the thousand. The validator stays in front either way. */
    bool in_process;
};

/* Fills *out from spec; returns 0 or -EINVAL with a message. */
int net_spec_parse(struct net_spec *out, const char *spec, struct errmsg *e);

/* The MTU the guest is offered: the given one or the default (0: none). */
unsigned net_spec_mtu(const struct net_spec *s);

#endif
