/* Unit tests for user-mode networking behind devices/virtio_net: the test
 * is the guest, speaking real protocols through the device's queues (a
 * virtio-mmio driver over a fake guest RAM, as in test_virtio_net.c), with
 * libslirp on a real I/O thread: DHCP, ARP, a host port forward, and a UDP
 * flow to a socket on the host's loopback through slirp's 10.0.2.2; and
 * what a hostile guest sends (a lone IPv4 fragment, bad IP headers) before
 * and after, with the validator (backends/net_guard.h) in front.
 *
 * Built twice: test_net_slirp runs slirp in this process (as fuzzers do),
 * test_net_helper (NET_VIA_HELPER) in the confined helper process that
 * minnow uses (backends/net_helper.h), the minnow executable named by
 * $MINNOW_EXE; it also checks the helper's confinement and its death. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/landlock.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/net_guard.h"
#include "backends/net_helper.h"
#include "backends/net_helper_sandbox.h"
#include "backends/net_slirp.h"
#include "devices/virtio_net.h"
#include "vmm/event_loop.h"
#include "virtio_test_driver.h"

#include "virtio_net_test_driver.h"

/* ---- frames ---- */

static const uint8_t GUEST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define GUEST_PORT_FWD 8022

static uint32_t ip4(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;   /* network order */
}

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Ethernet + IPv4 + UDP (checksum 0: none, allowed in IPv4). */
static size_t udp_frame(uint8_t *f, const uint8_t dmac[6], uint32_t sip, uint32_t dip, uint16_t sport,
                        uint16_t dport, const void *payload, size_t plen)
{
    memcpy(f, dmac, 6);
    memcpy(f + 6, GUEST_MAC, 6);
    put16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + 8 + plen));
    ip[8] = 64;
    ip[9] = 17;
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    put16(ip + 10, csum(ip, 20));
    uint8_t *udp = ip + 20;
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, (uint16_t)(8 + plen));
    put16(udp + 6, 0);
    memcpy(udp + 8, payload, plen);
    return 14 + 20 + 8 + plen;
}

static size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t dmac[6], const uint8_t tha[6], uint32_t spa,
                        uint32_t tpa)
{
    memset(f, 0, 60);
    memcpy(f, dmac, 6);
    memcpy(f + 6, GUEST_MAC, 6);
    put16(f + 12, 0x0806);
    uint8_t *a = f + 14;
    put16(a, 1);
    put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, GUEST_MAC, 6);
    memcpy(a + 14, &spa, 4);
    memcpy(a + 18, tha, 6);
    memcpy(a + 24, &tpa, 4);
    return 60;   /* minimum Ethernet frame */
}

/* The IPv4 packet in a frame, or NULL; *l4 and *l4len its payload. */
static const uint8_t *ipv4_of(const uint8_t *f, int len, uint8_t proto, const uint8_t **l4, size_t *l4len)
{
    if (len < 34 || get16(f + 12) != 0x0800)
        return NULL;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    size_t tot = get16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > (size_t)len || ip[9] != proto)
        return NULL;
    *l4 = ip + ihl;
    *l4len = tot - ihl;
    return ip;
}

/* ---- fixture ---- */

struct sfx {
    struct tdrv d;
    struct event_loop *loop;
    struct virtio_net *net;
    struct nq rx, tx;
    uint16_t fwd_port;          /* host side of the tcp forward to GUEST_PORT_FWD */
    unsigned tx_slot;
    uint8_t gw_mac[6];
    struct net_backend *stack;  /* behind the guard */
    pthread_mutex_t lock;
    char report[256];           /* the helper backend's last line */
};

static void __attribute__((unused)) on_report(void *opaque, const char *line)
{
    struct sfx *f = opaque;
    pthread_mutex_lock(&f->lock);
    snprintf(f->report, sizeof f->report, "%s", line);
    pthread_mutex_unlock(&f->lock);
}

/* The stack as minnow opens it: slirp (here or in the helper) behind the
 * validator. */
static int open_stack(struct sfx *f, const struct net_slirp_options *so, struct net_backend **out,
                      struct errmsg *e)
{
    struct net_backend *stack;
#ifdef NET_VIA_HELPER
    const char *exe = getenv("MINNOW_EXE");
    if (!exe)
        fail_msg("MINNOW_EXE names no minnow executable");
    struct net_helper_options ho = {.exe = exe, .slirp = *so, .report = f ? on_report : NULL, .report_opaque = f};
    int rc = net_helper_open(&stack, &ho, e);
#else
    (void)f;
    int rc = net_slirp_open(&stack, so, e);
#endif
    if (rc < 0) {
        *out = NULL;
        return rc;
    }
    if (f)
        f->stack = stack;
    return net_guard_wrap(out, stack, e);
}

static uint16_t free_port(int type)
{
    int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    struct sfx *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    tdrv_init_ram(&f->d);
    f->fwd_port = free_port(SOCK_STREAM);
    struct net_hostfwd fwd = {.udp = false, .host_addr.s_addr = ip4("127.0.0.1"), .host_port = f->fwd_port,
                              .guest_addr.s_addr = ip4(NET_SLIRP_GUEST), .guest_port = GUEST_PORT_FWD};
    struct net_slirp_options so = {.hostfwd = &fwd, .n_hostfwd = 1};
    struct net_backend *be;
    struct errmsg e = {{0}};
    if (open_stack(f, &so, &be, &e) < 0)
        fail_msg("opening user networking: %s", e.text);
    struct virtio_net_options o = {.backend = be, .has_mac = true};
    memcpy(o.mac, GUEST_MAC, 6);
    struct irq_line irq = tdrv_irq_line(&f->d);
    if (virtio_net_create(&f->net, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_net_create: %s", e.text);
    f->d.t = virtio_net_mmio(f->net);
    assert_int_equal(event_loop_create(&f->loop, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_net_host_fd(f->net), virtio_net_on_host, f->net, &e), 0);
    assert_int_equal(event_loop_start(f->loop, &e), 0);
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    rx_post_all(&f->d, &f->rx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct sfx *f = *state;
    event_loop_destroy(f->loop);
    virtio_net_destroy(f->net);
    tdrv_free(&f->d);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

static void send_frame(struct sfx *f, const uint8_t *fr, size_t len)
{
    tx_send(&f->d, &f->tx, f->tx_slot++ % 16, fr, len);
}

typedef bool frame_pred(const uint8_t *fr, int len, void *ctx);

/* Receives frames until one satisfies pred (copied to out); answers ARP
 * requests for the guest's address on the way, as a guest stack would.
 * Returns its length, or fails the test after ms. */
static int recv_until(struct sfx *f, frame_pred *pred, void *ctx, uint8_t *out, int ms)
{
    for (int waited = 0; waited < ms; waited += 50) {
        uint8_t fr[RXBUF_SIZE];
        int len = rx_recv(&f->d, &f->rx, fr, sizeof fr, 50);
        if (len < 0)
            continue;
        if (len >= 42 && get16(fr + 12) == 0x0806 && get16(fr + 20) == 1 &&
            !memcmp(fr + 38, &(uint32_t){ip4(NET_SLIRP_GUEST)}, 4)) {
            uint8_t rep[60];
            arp_frame(rep, 2, fr + 6, fr + 22, ip4(NET_SLIRP_GUEST), *(uint32_t *)(void *)(fr + 28));
            send_frame(f, rep, sizeof rep);
            continue;
        }
        if (pred(fr, len, ctx)) {
            memcpy(out, fr, (size_t)len);
            return len;
        }
    }
    fail_msg("no matching frame from slirp within %d ms", ms);
    return -1;
}

static bool is_arp_reply_from_gw(const uint8_t *fr, int len, void *ctx)
{
    (void)ctx;
    uint32_t gw = ip4(NET_SLIRP_HOST);
    return len >= 42 && get16(fr + 12) == 0x0806 && get16(fr + 20) == 2 && !memcmp(fr + 28, &gw, 4);
}

/* ARP for the gateway; slirp learns our address from the request. */
static void arp_gateway(struct sfx *f)
{
    uint8_t req[60], rep[RXBUF_SIZE];
    static const uint8_t zero[6];
    arp_frame(req, 1, BCAST, zero, ip4(NET_SLIRP_GUEST), ip4(NET_SLIRP_HOST));
    send_frame(f, req, sizeof req);
    int len = recv_until(f, is_arp_reply_from_gw, NULL, rep, 5000);
    assert_true(len >= 42);
    assert_memory_equal(rep, GUEST_MAC, 6);               /* to us */
    assert_memory_equal(rep + 32, GUEST_MAC, 6);          /* tha */
    uint32_t tpa = ip4(NET_SLIRP_GUEST);
    assert_memory_equal(rep + 38, &tpa, 4);
    memcpy(f->gw_mac, rep + 22, 6);                       /* sha */
    assert_memory_equal(rep + 6, f->gw_mac, 6);
}

/* ---- tests ---- */

#define XID 0x6d6e7721u

static bool is_dhcp_reply(const uint8_t *fr, int len, void *ctx)
{
    (void)ctx;
    const uint8_t *udp;
    size_t ulen;
    if (!ipv4_of(fr, len, 17, &udp, &ulen) || ulen < 8 + 240)
        return false;
    const uint8_t *bp = udp + 8;
    return get16(udp) == 67 && get16(udp + 2) == 68 && bp[0] == 2 &&
           (uint32_t)(bp[4] << 24 | bp[5] << 16 | bp[6] << 8 | bp[7]) == XID;
}

/* The value of DHCP option `code`, or NULL. */
static const uint8_t *dhcp_option(const uint8_t *bp, size_t len, uint8_t code, uint8_t *olen)
{
    size_t i = 240;   /* after the fixed part and the magic cookie */
    while (i < len && bp[i] != 255) {
        if (bp[i] == 0) {
            i++;
            continue;
        }
        if (i + 1 >= len || i + 2 + bp[i + 1] > len)
            return NULL;
        if (bp[i] == code) {
            *olen = bp[i + 1];
            return bp + i + 2;
        }
        i += 2u + bp[i + 1];
    }
    return NULL;
}

/* A DHCPDISCOVER; checks the offer. */
static void dhcp_exchange(struct sfx *f)
{
    uint8_t bootp[548] = {0};
    bootp[0] = 1;        /* BOOTREQUEST */
    bootp[1] = 1;        /* Ethernet */
    bootp[2] = 6;
    bootp[4] = XID >> 24;
    bootp[5] = (uint8_t)(XID >> 16);
    bootp[6] = (uint8_t)(XID >> 8);
    bootp[7] = (uint8_t)XID;
    memcpy(bootp + 28, GUEST_MAC, 6);
    static const uint8_t cookie_and_opts[] = {99, 130, 83, 99, 53, 1, 1, 55, 3, 1, 3, 6, 255};
    memcpy(bootp + 236, cookie_and_opts, sizeof cookie_and_opts);
    uint8_t fr[1024];
    size_t len = udp_frame(fr, BCAST, 0, 0xffffffffu, 68, 67, bootp, sizeof bootp);
    send_frame(f, fr, len);

    uint8_t rep[RXBUF_SIZE];
    int rlen = recv_until(f, is_dhcp_reply, NULL, rep, 5000);
    const uint8_t *udp = NULL;
    size_t ulen = 0;
    assert_non_null(ipv4_of(rep, rlen, 17, &udp, &ulen));
    const uint8_t *bp = udp + 8;
    size_t bplen = ulen - 8;
    uint32_t yiaddr;
    memcpy(&yiaddr, bp + 16, 4);
    assert_int_equal(yiaddr, ip4(NET_SLIRP_GUEST));
    assert_memory_equal(bp + 28, GUEST_MAC, 6);
    uint8_t olen = 0;
    const uint8_t *o = dhcp_option(bp, bplen, 53, &olen);
    assert_non_null(o);
    assert_int_equal(olen, 1);
    assert_int_equal(o[0], 2);   /* DHCPOFFER */
    o = dhcp_option(bp, bplen, 3, &olen);   /* router */
    assert_non_null(o);
    assert_int_equal(olen, 4);
    assert_memory_equal(o, &(uint32_t){ip4(NET_SLIRP_HOST)}, 4);
    o = dhcp_option(bp, bplen, 6, &olen);   /* DNS */
    assert_non_null(o);
    assert_memory_equal(o, &(uint32_t){ip4(NET_SLIRP_DNS)}, 4);
    o = dhcp_option(bp, bplen, 1, &olen);   /* netmask */
    assert_non_null(o);
    assert_memory_equal(o, &(uint32_t){ip4("255.255.255.0")}, 4);
}

static void test_dhcp_offer(void **state)
{
    dhcp_exchange(*state);
}

static void test_arp_gateway(void **state)
{
    struct sfx *f = *state;
    arp_gateway(f);
    static const uint8_t zero[6];
    assert_memory_not_equal(f->gw_mac, zero, 6);
}

struct syn_ctx {
    uint16_t dport;
};

static bool is_syn_to_guest(const uint8_t *fr, int len, void *ctx)
{
    struct syn_ctx *c = ctx;
    const uint8_t *tcp;
    size_t tlen;
    const uint8_t *ip = ipv4_of(fr, len, 6, &tcp, &tlen);
    if (!ip || tlen < 20)
        return false;
    uint32_t dst;
    memcpy(&dst, ip + 16, 4);
    return dst == ip4(NET_SLIRP_GUEST) && get16(tcp + 2) == c->dport && (tcp[13] & 0x12) == 0x02;
}

static void test_hostfwd_syn(void **state)
{
    struct sfx *f = *state;
    arp_gateway(f);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(f->fwd_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    assert_true(rc == 0 || errno == EINPROGRESS);
    struct syn_ctx c = {.dport = GUEST_PORT_FWD};
    uint8_t fr[RXBUF_SIZE];
    int len = recv_until(f, is_syn_to_guest, &c, fr, 5000);
    assert_memory_equal(fr, GUEST_MAC, 6);
    const uint8_t *tcp;
    size_t tlen;
    const uint8_t *ip = ipv4_of(fr, len, 6, &tcp, &tlen);
    assert_int_equal(csum(ip, (size_t)(ip[0] & 15) * 4), 0);   /* a valid IPv4 header */
    close(s);
}

struct udp_ctx {
    uint16_t sport, dport;
    const char *payload;
};

static bool is_udp_reply(const uint8_t *fr, int len, void *ctx)
{
    struct udp_ctx *c = ctx;
    const uint8_t *udp;
    size_t ulen;
    const uint8_t *ip = ipv4_of(fr, len, 17, &udp, &ulen);
    if (!ip || ulen < 8)
        return false;
    uint32_t src;
    memcpy(&src, ip + 12, 4);
    size_t plen = strlen(c->payload);
    return src == ip4(NET_SLIRP_HOST) && get16(udp) == c->sport && get16(udp + 2) == c->dport &&
           ulen == 8 + plen && !memcmp(udp + 8, c->payload, plen);
}

static void test_udp_to_host_and_back(void **state)
{
    struct sfx *f = *state;
    int hs = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(hs >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(hs, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(hs, (struct sockaddr *)&a, &al), 0);
    uint16_t port = ntohs(a.sin_port);

    arp_gateway(f);
    static const char out[] = "hello from the guest";
    uint8_t fr[256];
    size_t len = udp_frame(fr, f->gw_mac, ip4(NET_SLIRP_GUEST), ip4(NET_SLIRP_HOST), 5555, port, out, strlen(out));
    send_frame(f, fr, len);

    struct pollfd pfd = {.fd = hs, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    char buf[256];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(hs, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    assert_int_equal(n, (ssize_t)strlen(out));
    assert_memory_equal(buf, out, strlen(out));
    assert_int_equal(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));

    /* the answer comes back to the guest's port, from 10.0.2.2 */
    static const char back[] = "hello from the host";
    assert_int_equal(sendto(hs, back, strlen(back), 0, (struct sockaddr *)&from, fl), (ssize_t)strlen(back));
    struct udp_ctx c = {.sport = port, .dport = 5555, .payload = back};
    uint8_t rep[RXBUF_SIZE];
    recv_until(f, is_udp_reply, &c, rep, 5000);
    assert_memory_equal(rep, GUEST_MAC, 6);
    close(hs);
}

static void test_hostfwd_port_in_use(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 1), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    uint16_t port = ntohs(a.sin_port);
    struct net_hostfwd fwd = {.host_addr.s_addr = ip4("127.0.0.1"), .host_port = port,
                              .guest_addr.s_addr = ip4(NET_SLIRP_GUEST), .guest_port = 22};
    struct net_slirp_options so = {.hostfwd = &fwd, .n_hostfwd = 1};
    struct net_backend *be = NULL;
    struct errmsg e = {{0}};
    assert_true(open_stack(NULL, &so, &be, &e) < 0);
    assert_null(be);
    char expect[128];
    snprintf(expect, sizeof expect, "hostfwd tcp:127.0.0.1:%u-10.0.2.15:22: cannot listen on 127.0.0.1 port %u: ",
             port, port);
    if (strncmp(e.text, expect, strlen(expect)))
        fail_msg("got '%s', expected it to start with '%s'", e.text, expect);
    close(s);
}

/* ---- hostile frames ---- */

/* Ethernet + IPv4 (header checksummed) around payload, with the given
 * fragment field (flags and offset in 8-byte units). */
static size_t ip_frame(uint8_t *fr, const uint8_t dmac[6], uint32_t dip, uint8_t proto, uint16_t id,
                       uint16_t frag, const void *payload, size_t plen)
{
    memcpy(fr, dmac, 6);
    memcpy(fr + 6, GUEST_MAC, 6);
    put16(fr + 12, 0x0800);
    uint8_t *ip = fr + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(20 + plen));
    put16(ip + 4, id);
    put16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    uint32_t sip = ip4(NET_SLIRP_GUEST);
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    put16(ip + 10, csum(ip, 20));
    memcpy(ip + 20, payload, plen);
    return 14 + 20 + plen;
}

static uint64_t tx_filtered(struct sfx *f)
{
    struct virtio_net_stats st;
    virtio_net_stats(f->net, &st);
    return st.tx_filtered;
}

/* The frame of issue 13: 98 bytes, one IPv4 fragment with MF clear and
 * offset 8, nothing before it, its payload starting with 0x41 x 8. libslirp
 * 4.7.0 took it for a whole datagram and stored through those 8 bytes. The
 * stack must still work afterwards. */
static void test_lone_fragment(void **state)
{
    struct sfx *f = *state;
    arp_gateway(f);
    uint8_t payload[64];
    memset(payload, 0x41, sizeof payload);
    uint8_t fr[128];
    size_t len = ip_frame(fr, f->gw_mac, ip4(NET_SLIRP_HOST), 17, 0x1234, 1 /* offset 8 bytes, MF 0 */,
                          payload, sizeof payload);
    assert_int_equal(len, 98);
    for (int i = 0; i < 4; i++)
        send_frame(f, fr, len);
    assert_int_equal(tx_filtered(f), 4);
    dhcp_exchange(f);
    arp_gateway(f);
}

static void test_bad_ip_headers(void **state)
{
    struct sfx *f = *state;
    uint8_t fr[128];
    size_t len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 1, 0, "abcdefgh", 8);
    fr[14] = 0x44;                      /* IHL 4 */
    send_frame(f, fr, len);
    fr[14] = 0x45;
    put16(fr + 16, 200);                /* total length beyond the frame */
    send_frame(f, fr, len);
    put16(fr + 16, 28);
    fr[14] = 0x65;                      /* version 6 behind type 0x0800 */
    send_frame(f, fr, len);
    send_frame(f, fr, 30);              /* shorter than an IPv4 header */
    assert_int_equal(tx_filtered(f), 4);
    dhcp_exchange(f);
}

/* A UDP datagram the guest fragments itself (first fragment first, as
 * Linux sends them) reaches the host whole; a stray last fragment after it
 * does not reach slirp. */
static void test_fragmented_udp(void **state)
{
    struct sfx *f = *state;
    int hs = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(hs >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(hs, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(hs, (struct sockaddr *)&a, &al), 0);
    arp_gateway(f);

    char msg[40];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    uint8_t udp[8 + sizeof msg];
    put16(udp, 5556);
    put16(udp + 2, ntohs(a.sin_port));
    put16(udp + 4, (uint16_t)sizeof udp);
    put16(udp + 6, 0);
    memcpy(udp + 8, msg, sizeof msg);
    uint8_t fr[128];
    /* 24 bytes (UDP header and 16 of payload), then the other 24 at offset 3 */
    size_t len = ip_frame(fr, f->gw_mac, ip4(NET_SLIRP_HOST), 17, 0x4242, 0x2000, udp, 24);
    send_frame(f, fr, len);
    len = ip_frame(fr, f->gw_mac, ip4(NET_SLIRP_HOST), 17, 0x4242, 3, udp + 24, sizeof udp - 24);
    send_frame(f, fr, len);
    assert_int_equal(tx_filtered(f), 0);

    struct pollfd pfd = {.fd = hs, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 5000), 1);
    char buf[128];
    ssize_t n = recv(hs, buf, sizeof buf, 0);
    assert_int_equal(n, (ssize_t)sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);

    send_frame(f, fr, len);             /* the last fragment again: no queue for it now */
    assert_int_equal(tx_filtered(f), 1);
    close(hs);
    dhcp_exchange(f);
}

/* The checker alone: what passes and what does not, and the table's
 * bounds. */
static void test_guard_table(void **state)
{
    (void)state;
    struct net_guard g;
    memset(&g, 0, sizeof g);
    uint8_t fr[128];
    uint8_t pl[16] = {0};
    size_t len;
    /* NET_GUARD_FRAG_SLOTS open datagrams, then one more is refused */
    for (unsigned i = 0; i <= NET_GUARD_FRAG_SLOTS; i++) {
        len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, (uint16_t)i, 0x2000, pl, 16);
        assert_int_equal(net_guard_check(&g, fr, len, 1000), i < NET_GUARD_FRAG_SLOTS ? NET_GUARD_PASS : NET_GUARD_FRAGMENT);
    }
    /* a middle fragment of datagram 0 passes, of an unknown one not */
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 0, 0x2000 | 2, pl, 16);
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_PASS);
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 6, 0, 0x2000 | 2, pl, 16);   /* other protocol */
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_FRAGMENT);
    /* entries expire */
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 1, 2, pl, 16);
    assert_int_equal(net_guard_check(&g, fr, len, 1000 + NET_GUARD_FRAG_TTL_MS), NET_GUARD_FRAGMENT);
    /* a first fragment slirp would drop (bad checksum) opens nothing */
    memset(&g, 0, sizeof g);
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 77, 0x2000, pl, 16);
    fr[14 + 10] ^= 1;
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_BAD_IP);
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 77, 2, pl, 16);
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_FRAGMENT);
    /* whole datagrams, ARP and IPv6 pass untouched */
    len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 9, 0x4000 /* DF */, pl, 16);
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_PASS);
    put16(fr + 12, 0x86dd);
    assert_int_equal(net_guard_check(&g, fr, len, 1000), NET_GUARD_PASS);
}

/* The filter itself, in a child of this test: what the helper may and
 * may not do once confined. */
static void test_sandbox_refuses(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct errmsg e;
        bool resolv = access("/etc/resolv.conf", R_OK) == 0 &&
                      syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) >= 1;
        if (net_helper_sandbox_enter(&e) < 0)
            _exit(10);
        /* slirp's DNS reads the host's resolver from here */
        if (resolv && open("/etc/resolv.conf", O_RDONLY) < 0)
            _exit(17);
        int s = socket(AF_INET, SOCK_DGRAM, 0);
        if (s < 0)
            _exit(11);
        if (socket(AF_UNIX, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT)
            _exit(12);
        if (socket(AF_NETLINK, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT)
            _exit(13);
        if (open("/etc/passwd", O_RDONLY) >= 0 || errno != EACCES)
            _exit(14);
        if (open("/tmp/minnow-net-sandbox-test", O_WRONLY | O_CREAT, 0600) >= 0 || errno != EACCES)
            _exit(15);
        /* exec is not refused but fatal */
        char *argv[] = {(char *)"/bin/true", NULL};
        execv("/bin/true", argv);
        _exit(16);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st))
        fail_msg("the confined child exited with %d (a check failed) instead of dying at execv",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    assert_int_equal(WTERMSIG(st), SIGSYS);
}

#ifdef NET_VIA_HELPER
static void proc_status(pid_t pid, const char *field, char *out, size_t cap)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    out[0] = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            char *v = line + fl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = 0;
            snprintf(out, cap, "%s", v);
        }
    fclose(fp);
}

static void test_helper_confined(void **state)
{
    struct sfx *f = *state;
    pid_t pid = net_helper_pid(f->stack);
    assert_true(pid > 0);
    char v[64];
    proc_status(pid, "Seccomp", v, sizeof v);
    assert_string_equal(v, "2");
    proc_status(pid, "NoNewPrivs", v, sizeof v);
    assert_string_equal(v, "1");
    proc_status(pid, "PPid", v, sizeof v);
    assert_int_equal(atoi(v), getpid());
    /* its fds: stdio, the socket to us, slirp's epoll, timerfd and the
     * forward's listening socket; nothing of ours besides */
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    for (int fd = 0; fd < 64; fd++) {
        char p[96], target[256];
        snprintf(p, sizeof p, "%s/%d", dir, fd);
        ssize_t n = readlink(p, target, sizeof target - 1);
        if (n < 0)
            continue;
        target[n] = 0;
        if (fd <= 2)
            continue;
        if (strncmp(target, "socket:", 7) && strncmp(target, "anon_inode:", 11))
            fail_msg("the helper holds fd %d: %s", fd, target);
    }
    dhcp_exchange(f);
}

/* Killing the helper is reported in one line and the device goes on
 * (dropping what the guest sends). */
static void test_helper_killed(void **state)
{
    struct sfx *f = *state;
    pid_t pid = net_helper_pid(f->stack);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    char line[256] = "";
    for (int i = 0; i < 2000 && !line[0]; i++) {
        pthread_mutex_lock(&f->lock);
        snprintf(line, sizeof line, "%s", f->report);
        pthread_mutex_unlock(&f->lock);
        if (!line[0])
            nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    char expect[128];
    snprintf(expect, sizeof expect, "user network: the network helper (pid %d) was killed by signal 9", (int)pid);
    if (strncmp(line, expect, strlen(expect)))
        fail_msg("report '%s', expected it to start with '%s'", line, expect);
    uint8_t fr[128];
    size_t len = ip_frame(fr, BCAST, ip4(NET_SLIRP_HOST), 17, 1, 0, "abcdefgh", 8);
    send_frame(f, fr, len);
    struct virtio_net_stats st;
    virtio_net_stats(f->net, &st);
    assert_int_equal(st.tx_dropped, 1);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dhcp_offer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arp_gateway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostfwd_syn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_udp_to_host_and_back, setup, teardown),
        cmocka_unit_test(test_hostfwd_port_in_use),
        cmocka_unit_test_setup_teardown(test_lone_fragment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ip_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragmented_udp, setup, teardown),
        cmocka_unit_test(test_guard_table),
        cmocka_unit_test(test_sandbox_refuses),
#ifdef NET_VIA_HELPER
        cmocka_unit_test_setup_teardown(test_helper_confined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_helper_killed, setup, teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
