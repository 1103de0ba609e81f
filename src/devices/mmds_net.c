/* The MMDS network stack inside virtio-net: ARP replies and a minimal TCP
 * server (see mmds_net.h). Sequence numbers compare modulo 2^32. */
#include "devices/mmds_net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define ETH_HLEN 14u
#define ETH_P_IP 0x0800u
#define ETH_P_ARP 0x0806u
#define ARP_LEN 28u
#define IP_HLEN 20u
#define TCP_HLEN 20u
#define IPPROTO_TCP_ 6u

#define F_FIN 0x01u
#define F_SYN 0x02u
#define F_RST 0x04u
#define F_PSH 0x08u
#define F_ACK 0x10u

#define RTO_MAX_MS 8000u
#define DEFAULT_MSS 536u   /* RFC 9293 3.7.1: without the option */
#define MIN_MSS 64u
#define SEND_SEGMENTS 16u  /* at most this many segments in flight */

struct conn {
    bool used;
    uint32_t ip;             /* the guest's address and port */
    uint16_t port;
    uint8_t mac[6];
    bool established;        /* our SYN was acknowledged */
    uint32_t iss, una, nxt, rcv_nxt;
    uint32_t out_seq;        /* sequence number of out[out_off] */
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint16_t mss;
    uint32_t wnd;            /* the guest's window, unscaled */
    uint8_t *rx;             /* MMDS_NET_RX_MAX bytes once data arrives */
    size_t rx_len;
    bool close_after;        /* no more requests: FIN once out is sent */
    bool fin_sent, fin_acked, peer_fin;
    uint64_t rto_at;         /* 0: nothing unacknowledged */
    unsigned rto_ms, retries;
    uint64_t last_ms;
};

struct mmds_net {
    uint32_t ip;
    struct mmds_net_handler h;
    mmds_net_emit_fn *emit;
    void *emit_opaque;
    uint8_t mac[6];
    struct conn conns[MMDS_NET_MAX_CONN];
    size_t out_total;
    uint64_t rng;
    uint16_t ip_id;
    struct mmds_net_stats st;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v); }
static bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static uint32_t sum_bytes(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

/* The TCP pseudo-header's sum (RFC 9293 3.1). */
static uint32_t pseudo_sum(uint32_t src, uint32_t dst, size_t tcp_len)
{
    return (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + IPPROTO_TCP_ + (uint32_t)tcp_len;
}

static uint32_t next_rand(struct mmds_net *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return (uint32_t)(m->rng >> 16);
}

int mmds_net_create(struct mmds_net **out, const struct mmds_net_options *o, mmds_net_emit_fn *emit,
                    void *emit_opaque, struct errmsg *e)
{
    if (!o->ipv4 || !o->handler.request || !emit)
        return errmsg_set(e, -EINVAL, "mmds: no address, handler or output given");
    struct mmds_net *m = calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, -ENOMEM, "mmds: out of memory");
    m->ip = o->ipv4;
    m->h = o->handler;
    m->emit = emit;
    m->emit_opaque = emit_opaque;
    static const uint8_t mac[6] = MMDS_NET_MAC;
    memcpy(m->mac, mac, 6);
    /* Initial sequence numbers a guest cannot guess (RFC 6528's point). */
    if (getrandom(&m->rng, sizeof m->rng, 0) != (ssize_t)sizeof m->rng || !m->rng)
        m->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)m;
    *out = m;
    return 0;
}

static void conn_free(struct mmds_net *m, struct conn *c)
{
    m->out_total -= c->out_len;
    free(c->out);
    free(c->rx);
    memset(c, 0, sizeof *c);
}

void mmds_net_destroy(struct mmds_net *m)
{
    if (!m)
        return;
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN; i++)
        if (m->conns[i].used)
            conn_free(m, &m->conns[i]);
    free(m);
}

bool mmds_net_claims(const struct mmds_net *m, const uint8_t *hdr, size_t n)
{
    if (n < ETH_HLEN)
        return false;
    uint16_t type = rd16(hdr + 12);
    if (type == ETH_P_ARP)
        return n >= ETH_HLEN + ARP_LEN && rd32(hdr + ETH_HLEN + 24) == m->ip;
    if (type == ETH_P_IP)
        return n >= ETH_HLEN + IP_HLEN && (rd32(hdr + ETH_HLEN + 16) == m->ip || rd32(hdr + ETH_HLEN + 12) == m->ip);
    return false;
}

static void emit(struct mmds_net *m, const uint8_t *f, size_t len)
{
    m->st.tx_frames++;
    m->emit(m->emit_opaque, f, len);
}

/* One TCP segment to the guest at (mac, ip, port). */
static void send_segment(struct mmds_net *m, const uint8_t mac[6], uint32_t ip, uint16_t port, uint8_t flags,
                         uint32_t seq, uint32_t ack, uint16_t window, const uint8_t *data, size_t len,
                         uint16_t mss_option)
{
    uint8_t f[ETH_HLEN + IP_HLEN + TCP_HLEN + 4 + MMDS_NET_MSS];
    size_t thl = TCP_HLEN + (mss_option ? 4u : 0u);
    if (len > MMDS_NET_MSS)
        len = MMDS_NET_MSS;
    memcpy(f, mac, 6);
    memcpy(f + 6, m->mac, 6);
    wr16(f + 12, ETH_P_IP);
    uint8_t *iph = f + ETH_HLEN;
    memset(iph, 0, IP_HLEN);
    iph[0] = 0x45;
    wr16(iph + 2, (uint32_t)(IP_HLEN + thl + len));
    wr16(iph + 4, m->ip_id++);
    wr16(iph + 6, 0x4000);   /* DF */
    iph[8] = 64;
    iph[9] = IPPROTO_TCP_;
    wr32(iph + 12, m->ip);
    wr32(iph + 16, ip);
    wr16(iph + 10, (uint16_t)~fold(sum_bytes(0, iph, IP_HLEN)));
    uint8_t *t = iph + IP_HLEN;
    memset(t, 0, thl);
    wr16(t, MMDS_NET_PORT);
    wr16(t + 2, port);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = flags;
    wr16(t + 14, window);
    if (mss_option) {
        t[20] = 2;
        t[21] = 4;
        wr16(t + 22, mss_option);
    }
    if (len)
        memcpy(t + thl, data, len);
    uint32_t s = sum_bytes(pseudo_sum(m->ip, ip, thl + len), t, thl + len);
    wr16(t + 16, (uint16_t)~fold(s));
    emit(m, f, ETH_HLEN + IP_HLEN + thl + len);
}

static uint16_t rx_window(const struct conn *c)
{
    return (uint16_t)(MMDS_NET_RX_MAX - c->rx_len);
}

static void send_ctl(struct mmds_net *m, struct conn *c, uint8_t flags, uint32_t seq)
{
    send_segment(m, c->mac, c->ip, c->port, flags, seq, c->rcv_nxt, rx_window(c), NULL, 0, 0);
}

static void reset_and_free(struct mmds_net *m, struct conn *c)
{
    send_ctl(m, c, F_RST | F_ACK, c->nxt);
    m->st.resets++;
    conn_free(m, c);
}

/* Sends what the window allows from nxt on: the SYN-ACK, data, the FIN.
 * probe: one byte even into a zero window (a retransmission). */
static bool push(struct mmds_net *m, struct conn *c, uint64_t now, bool probe)
{
    bool sent = false;
    if (!c->established) {
        if (c->nxt == c->iss) {
            send_segment(m, c->mac, c->ip, c->port, F_SYN | F_ACK, c->iss, c->rcv_nxt, rx_window(c), NULL, 0,
                         MMDS_NET_MSS);
            c->nxt = c->iss + 1;
            sent = true;
        }
    } else {
        uint32_t end = c->out_seq + (uint32_t)c->out_len;
        uint32_t wnd = c->wnd < (uint32_t)c->mss * SEND_SEGMENTS ? c->wnd : (uint32_t)c->mss * SEND_SEGMENTS;
        if (probe && !wnd)
            wnd = 1;
        uint32_t limit = c->una + wnd;
        while (seq_lt(c->nxt, end) && seq_lt(c->nxt, limit)) {
            size_t off = c->out_off + (size_t)(c->nxt - c->out_seq);
            size_t n = min_sz(min_sz(end - c->nxt, limit - c->nxt), c->mss);
            uint8_t fl = F_ACK | (c->nxt + n == end ? F_PSH : 0);
            send_segment(m, c->mac, c->ip, c->port, fl, c->nxt, c->rcv_nxt, rx_window(c), c->out + off, n, 0);
            c->nxt += (uint32_t)n;
            sent = true;
        }
        if (c->close_after && !c->fin_sent && c->nxt == end) {
            send_ctl(m, c, F_FIN | F_ACK, end);
            c->nxt = end + 1;
            c->fin_sent = true;
            sent = true;
        }
    }
    if (sent && !c->rto_at)
        c->rto_at = now + c->rto_ms;
    return sent;
}

static bool out_append(struct mmds_net *m, struct conn *c, const uint8_t *p, size_t n)
{
    if (c->out_off && c->out_len)
        memmove(c->out, c->out + c->out_off, c->out_len);
    c->out_off = 0;
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_len + n;
        uint8_t *b = realloc(c->out, cap);
        if (!b)
            return false;
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    m->out_total += n;
    return true;
}

/* Hands the received bytes to the handler while it finds requests. */
static void serve(struct mmds_net *m, struct conn *c)
{
    while (c->rx_len && !c->close_after) {
        /* Answers wait while the connections together hold the budget
         * (mmds_net_poll tries again). */
        if (m->out_total > MMDS_NET_OUT_BUDGET)
            return;
        uint8_t *resp = NULL;
        size_t rlen = 0;
        bool close = false;
        long r = m->h.request(m->h.opaque, c->rx, c->rx_len, &resp, &rlen, &close);
        if (r == 0) {
            if (c->peer_fin || c->rx_len == MMDS_NET_RX_MAX)
                c->close_after = true;   /* it can never complete */
            break;
        }
        bool ok = !resp || out_append(m, c, resp, rlen);
        free(resp);
        if (r < 0 || (size_t)r > c->rx_len || !ok) {
            c->rx_len = 0;
            c->close_after = true;
            break;
        }
        memmove(c->rx, c->rx + r, c->rx_len - (size_t)r);
        c->rx_len -= (size_t)r;
        if (close)
            c->close_after = true;
    }
    if (c->peer_fin && !c->rx_len)
        c->close_after = true;
}

/* Requests that waited for the budget: an acknowledgement anywhere may
 * have made room. */
static void serve_waiting(struct mmds_net *m, uint64_t now)
{
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN && m->out_total <= MMDS_NET_OUT_BUDGET; i++) {
        struct conn *c = &m->conns[i];
        if (c->used && c->established && c->rx_len && !c->close_after && !c->out_len) {
            serve(m, c);
            push(m, c, now, false);
        }
    }
}

static void arp_input(struct mmds_net *m, const uint8_t *f, size_t len)
{
    const uint8_t *a = f + ETH_HLEN;
    if (len < ETH_HLEN + ARP_LEN || rd16(a) != 1 || rd16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 ||
        rd16(a + 6) != 1 || (a[8] & 1)) {
        m->st.rx_dropped++;   /* not an Ethernet/IPv4 request from a station */
        return;
    }
    uint8_t r[ETH_HLEN + ARP_LEN];
    memcpy(r, a + 8, 6);
    memcpy(r + 6, m->mac, 6);
    wr16(r + 12, ETH_P_ARP);
    uint8_t *p = r + ETH_HLEN;
    wr16(p, 1);
    wr16(p + 2, ETH_P_IP);
    p[4] = 6;
    p[5] = 4;
    wr16(p + 6, 2);
    memcpy(p + 8, m->mac, 6);
    wr32(p + 14, m->ip);
    memcpy(p + 18, a + 8, 6);       /* target: the asker */
    memcpy(p + 24, a + 14, 4);
    emit(m, r, sizeof r);
}

/* The MSS option of a SYN (RFC 9293 3.2), bounds-checked; 0 if absent or malformed. */
static uint16_t parse_mss(const uint8_t *opt, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t kind = opt[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= n || opt[i + 1] < 2 || opt[i + 1] > n - i)
            return 0;
        if (kind == 2 && opt[i + 1] == 4)
            return rd16(opt + i + 2);
        i += opt[i + 1];
    }
    return 0;
}

static struct conn *conn_find(struct mmds_net *m, uint32_t ip, uint16_t port)
{
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN; i++)
        if (m->conns[i].used && m->conns[i].ip == ip && m->conns[i].port == port)
            return &m->conns[i];
    return NULL;
}

/* A free slot, or the one idle longest (reset). */
static struct conn *conn_alloc(struct mmds_net *m)
{
    struct conn *old = &m->conns[0];
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN; i++) {
        if (!m->conns[i].used)
            return &m->conns[i];
        if (m->conns[i].last_ms < old->last_ms)
            old = &m->conns[i];
    }
    reset_and_free(m, old);
    return old;
}

/* A reset for a segment that belongs to no connection (RFC 9293 3.10.7.1). */
static void reset_stray(struct mmds_net *m, const uint8_t mac[6], uint32_t ip, uint16_t port, uint8_t flags,
                        uint32_t seq, uint32_t ack, size_t plen)
{
    if (flags & F_RST)
        return;
    m->st.resets++;
    if (flags & F_ACK)
        send_segment(m, mac, ip, port, F_RST, ack, 0, 0, NULL, 0, 0);
    else
        send_segment(m, mac, ip, port, F_RST | F_ACK, 0,
                     seq + (uint32_t)plen + !!(flags & F_SYN) + !!(flags & F_FIN), 0, NULL, 0, 0);
}

static void tcp_input(struct mmds_net *m, const uint8_t mac[6], uint32_t src, const uint8_t *t, size_t tlen,
                      uint64_t now)
{
    size_t doff = (size_t)(t[12] >> 4) * 4;
    if (tlen < TCP_HLEN || doff < TCP_HLEN || doff > tlen ||
        fold(sum_bytes(pseudo_sum(src, m->ip, tlen), t, tlen)) != 0xffffu) {
        m->st.rx_dropped++;
        return;
    }
    uint16_t sport = rd16(t), dport = rd16(t + 2);
    uint32_t seq = rd32(t + 4), ack = rd32(t + 8);
    uint8_t flags = t[13];
    uint32_t window = rd16(t + 14);
    const uint8_t *p = t + doff;
    size_t plen = tlen - doff;
    struct conn *c = conn_find(m, src, sport);

    if (dport != MMDS_NET_PORT || (!c && !(flags & F_SYN)) || (!c && (flags & (F_ACK | F_RST)))) {
        reset_stray(m, mac, src, sport, flags, seq, ack, plen);
        return;
    }
    if (flags & F_SYN) {
        if (c) {
            if (!c->established && seq + 1 == c->rcv_nxt) {
                c->nxt = c->iss;   /* our SYN-ACK was lost: again */
                push(m, c, now, false);
                return;
            }
            if (!(c->fin_sent || c->peer_fin)) {
                send_ctl(m, c, F_ACK, c->nxt);   /* RFC 5961 4.2: a challenge ACK */
                return;
            }
            conn_free(m, c);   /* the port is used again after a close */
        }
        if (flags & (F_ACK | F_RST | F_FIN))
            return;
        c = conn_alloc(m);
        memset(c, 0, sizeof *c);
        c->used = true;
        c->ip = src;
        c->port = sport;
        memcpy(c->mac, mac, 6);
        c->iss = next_rand(m);
        c->una = c->nxt = c->iss;
        c->out_seq = c->iss + 1;
        c->rcv_nxt = seq + 1;
        uint16_t mss = parse_mss(t + TCP_HLEN, doff - TCP_HLEN);
        c->mss = !mss ? DEFAULT_MSS : mss < MIN_MSS ? MIN_MSS : mss > MMDS_NET_MSS ? MMDS_NET_MSS : mss;
        c->wnd = window;
        c->rto_ms = MMDS_NET_RTO_MS;
        c->last_ms = now;
        m->st.connections++;
        push(m, c, now, false);
        return;
    }
    c->last_ms = now;
    if (flags & F_RST) {
        /* RFC 5961 3.2: only a reset at the expected sequence number counts. */
        if (seq == c->rcv_nxt)
            conn_free(m, c);
        return;
    }
    if (!(flags & F_ACK))
        return;
    if (seq_lt(c->una, ack) && seq_le(ack, c->nxt)) {
        if (!c->established)
            c->established = true;   /* ack is iss + 1 */
        uint32_t data_end = c->out_seq + (uint32_t)c->out_len;
        uint32_t upto = seq_lt(data_end, ack) ? data_end : ack;
        if (seq_lt(c->out_seq, upto)) {
            size_t k = upto - c->out_seq;
            c->out_off += k;
            c->out_len -= k;
            c->out_seq = upto;
            m->out_total -= k;
            if (!c->out_len)
                c->out_off = 0;
        }
        if (c->fin_sent && ack == data_end + 1)
            c->fin_acked = true;
        c->una = ack;
        c->retries = 0;
        c->rto_ms = MMDS_NET_RTO_MS;
        c->rto_at = c->una == c->nxt ? 0 : now + c->rto_ms;
        c->wnd = window;
    } else if (ack == c->una) {
        c->wnd = window;
    } else if (!c->established) {
        reset_stray(m, mac, src, sport, flags, seq, ack, plen);   /* not our SYN-ACK's ack */
        return;
    }
    bool need_ack = false;
    if (c->established && (plen || (flags & F_FIN)) && !c->peer_fin) {
        uint32_t s = seq;
        if (seq_lt(s, c->rcv_nxt)) {
            uint32_t d = c->rcv_nxt - s;
            if (d > plen) {
                plen = 0;
                flags &= (uint8_t)~F_FIN;   /* all old, a retransmission */
            } else {
                p += d;
                plen -= d;
                s += d;
            }
        }
        need_ack = true;
        if (s == c->rcv_nxt) {
            size_t take = min_sz(plen, MMDS_NET_RX_MAX - c->rx_len);
            if (take && !c->rx && !(c->rx = malloc(MMDS_NET_RX_MAX)))
                take = 0;
            if (take) {
                memcpy(c->rx + c->rx_len, p, take);
                c->rx_len += take;
                c->rcv_nxt += (uint32_t)take;
            }
            if ((flags & F_FIN) && take == plen) {
                c->rcv_nxt++;
                c->peer_fin = true;
            }
        }
    } else if (plen || (flags & F_FIN)) {
        need_ack = true;   /* after the peer's FIN: acknowledge again */
    }
    serve(m, c);
    if (!push(m, c, now, false) && need_ack)
        send_ctl(m, c, F_ACK, c->nxt);
    if (c->fin_acked && c->peer_fin)
        conn_free(m, c);
}

void mmds_net_input(struct mmds_net *m, const uint8_t *f, size_t len, uint64_t now_ms)
{
    m->st.rx_frames++;
    if (len < ETH_HLEN || (f[6] & 1)) {
        m->st.rx_dropped++;   /* a frame must come from a station */
        return;
    }
    if (rd16(f + 12) == ETH_P_ARP) {
        arp_input(m, f, len);
        return;
    }
    const uint8_t *ip = f + ETH_HLEN;
    size_t avail = len - ETH_HLEN;
    if (avail < IP_HLEN || (ip[0] >> 4) != 4) {
        m->st.rx_dropped++;
        return;
    }
    size_t ihl = (size_t)(ip[0] & 15) * 4, total = rd16(ip + 2);
    uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
    /* Ethernet may pad a short packet: total, not the frame, says its end. */
    if (ihl < IP_HLEN || total < ihl || total > avail || fold(sum_bytes(0, ip, ihl)) != 0xffffu ||
        (rd16(ip + 6) & 0x3fffu) || ip[9] != IPPROTO_TCP_ || dst != m->ip || src == m->ip) {
        m->st.rx_dropped++;   /* fragments, bad headers, not TCP, or spoofing the MMDS address */
        return;
    }
    tcp_input(m, f + 6, src, ip + ihl, total - ihl, now_ms);
    serve_waiting(m, now_ms);
}

void mmds_net_poll(struct mmds_net *m, uint64_t now)
{
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN; i++) {
        struct conn *c = &m->conns[i];
        if (!c->used)
            continue;
        if (now - c->last_ms >= MMDS_NET_IDLE_MS) {
            reset_and_free(m, c);
            continue;
        }
        if (c->rto_at && now >= c->rto_at) {
            if (c->retries >= MMDS_NET_RETRIES) {
                reset_and_free(m, c);
                continue;
            }
            c->retries++;
            c->rto_ms = c->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto_ms * 2;
            c->nxt = c->una;   /* go back to the oldest unacknowledged byte */
            if (!c->fin_acked)
                c->fin_sent = false;
            c->rto_at = 0;
            push(m, c, now, true);
        }
    }
    serve_waiting(m, now);
}

uint64_t mmds_net_deadline(const struct mmds_net *m)
{
    uint64_t d = 0;
    for (unsigned i = 0; i < MMDS_NET_MAX_CONN; i++) {
        const struct conn *c = &m->conns[i];
        if (!c->used)
            continue;
        uint64_t t = c->last_ms + MMDS_NET_IDLE_MS;
        if (c->rto_at && c->rto_at < t)
            t = c->rto_at;
        if (!d || t < d)
            d = t;
    }
    return d;
}

void mmds_net_stats(const struct mmds_net *m, struct mmds_net_stats *out)
{
    *out = m->st;
}
