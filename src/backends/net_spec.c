/* Parser for the network spec of the command line. See net_spec.h for the
 * grammar. Works on a copy of the spec split at commas, so each error can
 * quote both the whole spec and the one item that is wrong. */
#include "backends/net_spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A spec longer than this is certainly a mistake, and the bound keeps the
 * copies on the stack. */
#define SPEC_MAX 4096u

static const char grammar[] = "expected 'user[,hostfwd=...][,mac=...][,mtu=...]' or 'tap=NAME[,mac=...][,mtu=...]'";
static const char fwd_grammar[] = "expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT";

/* 1..65535 in plain decimal: no sign, no spaces, no hex, no trailing junk. */
static bool parse_port(const char *s, uint16_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    /* Exactly "xx:xx:xx:xx:xx:xx". */
    if (strlen(s) != 17)
        return false;
    for (unsigned i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
            return false;
        if (i < 5 && p[2] != ':')
            return false;
        char hex[3] = {p[0], p[1], 0};
        mac[i] = (uint8_t)strtoul(hex, NULL, 16);
    }
    return true;
}

static bool valid_ifname(const char *s)
{
    if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == ':' || isspace((unsigned char)*p) || !isprint((unsigned char)*p))
            return false;
    return true;
}

static int parse_hostfwd(struct net_spec *out, const char *spec, const char *val, struct errmsg *e)
{
    if (out->n_hostfwd == NET_SLIRP_MAX_HOSTFWD)
        return errmsg_set(e, -EINVAL, "network spec '%s': more than %u hostfwd", spec, NET_SLIRP_MAX_HOSTFWD);
    char buf[SPEC_MAX];
    snprintf(buf, sizeof buf, "%s", val);
    /* proto ':' haddr ':' hport '-' gaddr ':' gport */
    char *c1 = strchr(buf, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    char *dash = c2 ? strchr(c2 + 1, '-') : NULL;
    char *c3 = dash ? strchr(dash + 1, ':') : NULL;
    if (!c3 || strchr(c3 + 1, ':'))
        return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd '%s': %s", spec, val, fwd_grammar);
    *c1 = *c2 = *dash = *c3 = 0;
    const char *proto = buf, *haddr = c1 + 1, *hport = c2 + 1, *gaddr = dash + 1, *gport = c3 + 1;
    struct net_hostfwd f = {0};
    if (!strcmp(proto, "udp"))
        f.udp = true;
    else if (*proto && strcmp(proto, "tcp"))
        return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd '%s': bad protocol '%s' (expected tcp or udp)",
                          spec, val, proto);
    if (inet_pton(AF_INET, *haddr ? haddr : "127.0.0.1", &f.host_addr) != 1)
        return errmsg_set(e, -EINVAL,
                          "network spec '%s': hostfwd '%s': bad host address '%s' (expected an IPv4 address such as 127.0.0.1)",
                          spec, val, haddr);
    if (!parse_port(hport, &f.host_port))
        return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd '%s': bad host port '%s' (expected 1..65535)",
                          spec, val, hport);
    if (inet_pton(AF_INET, *gaddr ? gaddr : NET_SLIRP_GUEST, &f.guest_addr) != 1)
        return errmsg_set(e, -EINVAL,
                          "network spec '%s': hostfwd '%s': bad guest address '%s' (expected an IPv4 address in 10.0.2.0/24)",
                          spec, val, gaddr);
    struct in_addr net, mask;
    inet_pton(AF_INET, NET_SLIRP_NETWORK, &net);
    inet_pton(AF_INET, NET_SLIRP_NETMASK, &mask);
    uint32_t host_part = ntohl(f.guest_addr.s_addr) & ~ntohl(mask.s_addr);
    if ((f.guest_addr.s_addr & mask.s_addr) != net.s_addr || host_part == 0 || host_part == 255)
        return errmsg_set(e, -EINVAL,
                          "network spec '%s': hostfwd '%s': guest address '%s' is not a host address in the user network %s/24",
                          spec, val, gaddr, NET_SLIRP_NETWORK);
    if (!parse_port(gport, &f.guest_port))
        return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd '%s': bad guest port '%s' (expected 1..65535)",
                          spec, val, gport);
    for (unsigned i = 0; i < out->n_hostfwd; i++) {
        const struct net_hostfwd *o = &out->hostfwd[i];
        if (o->udp == f.udp && o->host_port == f.host_port && o->host_addr.s_addr == f.host_addr.s_addr) {
            char a[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &f.host_addr, a, sizeof a);
            return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd '%s': %s %s:%u is forwarded twice",
                              spec, val, f.udp ? "udp" : "tcp", a, f.host_port);
        }
    }
    out->hostfwd[out->n_hostfwd++] = f;
    return 0;
}

int net_spec_parse(struct net_spec *out, const char *spec, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec)
        return errmsg_set(e, -EINVAL, "network spec is empty: %s", grammar);
    if (strlen(spec) >= SPEC_MAX)
        return errmsg_set(e, -EINVAL, "network spec is %zu characters long, at most %u allowed",
                          strlen(spec), SPEC_MAX - 1);
    char buf[SPEC_MAX];
    snprintf(buf, sizeof buf, "%s", spec);

    char *save = NULL;
    bool first = true;
    /* strtok_r would skip empty items; "user,,mac=..." is a typo to report. */
    for (char *item = buf; item; item = save, first = false) {
        char *comma = strchr(item, ',');
        save = comma ? comma + 1 : NULL;
        if (comma)
            *comma = 0;
        if (!*item)
            return errmsg_set(e, -EINVAL, "network spec '%s': empty item between commas", spec);
        char *eq = strchr(item, '=');
        const char *key = item;
        const char *val = eq ? eq + 1 : NULL;
        if (eq)
            *eq = 0;
        if (first) {
            if (!strcmp(key, "user") && !val) {
                out->kind = NET_SPEC_USER;
            } else if (!strcmp(key, "tap")) {
                out->kind = NET_SPEC_TAP;
                if (!val || !*val)
                    return errmsg_set(e, -EINVAL, "network spec '%s': tap needs a device name: tap=NAME", spec);
                if (strlen(val) > NET_SPEC_TAP_NAME_MAX)
                    return errmsg_set(e, -EINVAL, "network spec '%s': tap name '%s' is longer than %u characters",
                                      spec, val, NET_SPEC_TAP_NAME_MAX);
                if (!valid_ifname(val))
                    return errmsg_set(e, -EINVAL,
                                      "network spec '%s': '%s' is not a valid interface name (no '/', ':' or spaces, not '.' or '..')",
                                      spec, val);
                snprintf(out->tap_name, sizeof out->tap_name, "%s", val);
            } else if (!strcmp(key, "user")) {
                return errmsg_set(e, -EINVAL, "network spec '%s': 'user' takes no value", spec);
            } else {
                return errmsg_set(e, -EINVAL, "network spec '%s': unknown backend '%s' (%s)", spec, key, grammar);
            }
            continue;
        }
        if (!val)
            return errmsg_set(e, -EINVAL, "network spec '%s': '%s' is not KEY=VALUE", spec, key);
        if (!strcmp(key, "mac")) {
            if (out->has_mac)
                return errmsg_set(e, -EINVAL, "network spec '%s': mac given twice", spec);
            if (!parse_mac(val, out->mac))
                return errmsg_set(e, -EINVAL,
                                  "network spec '%s': bad MAC address '%s' (expected six hex bytes like 52:54:00:12:34:56)",
                                  spec, val);
            if (out->mac[0] & 1)
                return errmsg_set(e, -EINVAL,
                                  "network spec '%s': MAC address '%s' is a multicast address (the first byte must be even)",
                                  spec, val);
            static const uint8_t zero[6];
            if (!memcmp(out->mac, zero, 6))
                return errmsg_set(e, -EINVAL, "network spec '%s': MAC address '%s' is all zeros", spec, val);
            out->has_mac = true;
        } else if (!strcmp(key, "mtu")) {
            if (out->mtu)
                return errmsg_set(e, -EINVAL, "network spec '%s': mtu given twice", spec);
            unsigned v = 0;
            for (const char *p = val; *p && v <= NET_SPEC_MTU_MAX; p++)
                v = isdigit((unsigned char)*p) ? v * 10 + (unsigned)(*p - '0') : NET_SPEC_MTU_MAX + 1;
            if (!*val || v < NET_SPEC_MTU_MIN || v > NET_SPEC_MTU_MAX)
                return errmsg_set(e, -EINVAL, "network spec '%s': bad mtu '%s' (expected %u..%u in decimal)", spec,
                                  val, NET_SPEC_MTU_MIN, NET_SPEC_MTU_MAX);
            out->mtu = (uint16_t)v;
        } else if (!strcmp(key, "hostfwd")) {
            if (out->kind != NET_SPEC_USER)
                return errmsg_set(e, -EINVAL, "network spec '%s': hostfwd is only for user networking", spec);
            int rc = parse_hostfwd(out, spec, val, e);
            if (rc < 0)
                return rc;
        } else {
            return errmsg_set(e, -EINVAL, "network spec '%s': unknown key '%s' (expected %s)", spec, key,
                              out->kind == NET_SPEC_USER ? "hostfwd, mac or mtu" : "mac or mtu");
        }
    }
    return 0;
}

unsigned net_spec_mtu(const struct net_spec *s)
{
    return s->mtu ? s->mtu : s->kind == NET_SPEC_USER ? NET_SPEC_USER_MTU : 0;
}
