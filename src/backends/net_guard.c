/* The frame validator in front of the user-mode stack. See net_guard.h. */
#include "backends/net_guard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ETH_HLEN 14u
#define IP_MF 0x2000u
#define IP_OFFMASK 0x1fffu

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static struct net_guard_frag *frag_find(struct net_guard *g, const struct net_guard_frag *k, int64_t now_ms)
{
    for (unsigned i = 0; i < NET_GUARD_FRAG_SLOTS; i++) {
        struct net_guard_frag *f = &g->frag[i];
        if (f->expires_ms && f->expires_ms <= now_ms)
            f->expires_ms = 0;
        if (f->expires_ms && f->src == k->src && f->dst == k->dst && f->id == k->id && f->proto == k->proto)
            return f;
    }
    return NULL;
}

static struct net_guard_frag *frag_free_slot(struct net_guard *g)
{
    for (unsigned i = 0; i < NET_GUARD_FRAG_SLOTS; i++)
        if (!g->frag[i].expires_ms)
            return &g->frag[i];
    return NULL;
}

enum net_guard_verdict net_guard_check(struct net_guard *g, const uint8_t *frame, size_t len, int64_t now_ms)
{
    if (len < ETH_HLEN || be16(frame + 12) != 0x0800)
        return NET_GUARD_PASS;
    const uint8_t *ip = frame + ETH_HLEN;
    size_t avail = len - ETH_HLEN;
    if (avail < 20 || ip[0] >> 4 != 4)
        return NET_GUARD_BAD_IP;
    size_t hlen = (size_t)(ip[0] & 15) * 4;
    size_t tot = be16(ip + 2);
    /* Trailing bytes after tot are Ethernet padding: fine. */
    if (hlen < 20 || hlen > tot || tot > avail)
        return NET_GUARD_BAD_IP;
    /* What slirp's ip_input drops anyway, we drop first: a first fragment
     * we recorded but slirp did not queue would let the next fragment in
     * as a lone one (the fuzzer found that with a bad checksum). */
    uint32_t sum = 0;
    for (size_t i = 0; i < hlen; i += 2)
        sum += be16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    if (sum != 0xffff)
        return NET_GUARD_BAD_IP;
    uint16_t off = be16(ip + 6);
    bool more = off & IP_MF;
    off &= IP_OFFMASK;
    if (!off && !more)
        return NET_GUARD_PASS;
    struct net_guard_frag key;
    memset(&key, 0, sizeof key);
    memcpy(&key.src, ip + 12, 4);
    memcpy(&key.dst, ip + 16, 4);
    key.id = be16(ip + 4);
    key.proto = ip[9];
    struct net_guard_frag *f = frag_find(g, &key, now_ms);
    if (!off) {
        if (ip[8] == 0)
            return NET_GUARD_PASS;   /* slirp answers time exceeded and queues nothing: not recorded */
        /* A first fragment. A second one for a datagram already open
         * still goes into the same slirp queue: harmless, keep the entry. */
        if (!f && !(f = frag_free_slot(g)))
            return NET_GUARD_FRAGMENT;
        *f = key;
        f->expires_ms = now_ms + NET_GUARD_FRAG_TTL_MS;
        return NET_GUARD_PASS;
    }
    if (!f)
        return NET_GUARD_FRAGMENT;
    if (!more)
        f->expires_ms = 0;   /* the last one: slirp's queue completes or waits without us */
    return NET_GUARD_PASS;
}

/* ---- the wrapping backend ---- */

struct guarded {
    struct net_backend base;    /* first: the ops get a struct net_backend * */
    struct net_backend *inner;
    struct net_guard guard;
    uint8_t buf[NET_FRAME_MAX];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void guard_rx(void *opaque, const uint8_t *frame, size_t len)
{
    struct guarded *g = opaque;
    net_backend_deliver(&g->base, frame, len);
}

static int guard_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct guarded *g = (struct guarded *)b;
    /* The copy is the point: iov is guest memory, which another hart may
     * rewrite between the check and the library reading it. */
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > sizeof g->buf - len)
            return -EMSGSIZE;
        memcpy(g->buf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    if (net_guard_check(&g->guard, g->buf, len, now_ms()) != NET_GUARD_PASS)
        return -EPROTO;
    struct iovec one = {.iov_base = g->buf, .iov_len = len};
    return net_backend_send(g->inner, &one, 1);
}

static void guard_service(struct net_backend *b)
{
    net_backend_service(((struct guarded *)b)->inner);
}

static void guard_want_rx(struct net_backend *b, bool want)
{
    net_backend_want_rx(((struct guarded *)b)->inner, want);
}

static void guard_close(struct net_backend *b)
{
    struct guarded *g = (struct guarded *)b;
    net_backend_close(g->inner);
    free(g);
}

static const struct net_backend_ops guard_ops = {
    .send = guard_send,
    .service = guard_service,
    .want_rx = guard_want_rx,
    .close = guard_close,
};

int net_guard_wrap(struct net_backend **out, struct net_backend *inner, struct errmsg *e)
{
    *out = NULL;
    struct guarded *g = calloc(1, sizeof *g);
    if (!g) {
        net_backend_close(inner);
        return errmsg_set(e, -ENOMEM, "user network: out of memory");
    }
    g->base.ops = &guard_ops;
    g->base.poll_fd = net_backend_poll_fd(inner);
    g->inner = inner;
    net_backend_set_rx(inner, guard_rx, g);
    *out = &g->base;
    return 0;
}
