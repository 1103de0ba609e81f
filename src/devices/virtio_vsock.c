/* virtio-vsock: the connection table, the packet state machine and the
 * credit accounting between guest vsock streams and host Unix sockets. See
 * virtio_vsock.h.
 *
 * Everything but the reset hooks runs on the I/O thread. Host sockets live
 * in an internal epoll set (virtio_vsock_host_fd). Readiness to read is
 * remembered per connection (conn.readable) and the fd is taken out of
 * EPOLLIN while it is set, so a connection that may not send now (no guest
 * credit, no receive buffer) never spins the level-triggered loop; pump()
 * then moves data whenever credit or buffers come back. */
#include "devices/virtio_vsock.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backends/vsock_uds.h"

/* Orphan RSTs (answers to packets with no connection) waiting for a
 * receive buffer; more are dropped: a guest flooding bad packets only
 * loses answers it did not need. */
#define RST_RING 64u
/* epoll tags; connection i is TAG_CONN + i */
#define TAG_LISTEN 0u
#define TAG_WAKE 1u
#define TAG_CONN 2u
#define TAG_TIMER (1ull << 32)
/* A host client must send its CONNECT line this soon after connecting,
 * and at most this many may be waiting to: silent clients cannot hold
 * the table (a new one pushes the oldest waiting one out). */
#define CONNECT_TIMEOUT_NS (3ull * 1000000000u)
#define MAX_HOST_CMD 16u

struct hdr {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};

enum conn_state {
    C_FREE = 0,
    C_HOST_CMD,         /* host connected, its CONNECT line not read yet */
    C_GUEST_CONNECTING, /* REQUEST sent to the guest, waiting for RESPONSE */
    C_ESTABLISHED,
    C_CLOSING,          /* host socket gone; waiting to tell / hear from the guest */
};

struct conn {
    enum conn_state state;
    int fd;                       /* -1 once closed */
    uint32_t events;              /* registered with epoll; 0 = not in the set */
    bool in_epoll;
    uint32_t local_port, peer_port;
    bool readable;                /* the host socket may have data or EOF */
    bool hup;                     /* the host closed both ways */
    bool host_eof;                /* read returned end of stream */
    bool guest_no_send, guest_no_rcv, close_after_flush;
    bool send_request, send_response, send_credit, send_rst;
    uint32_t shutdown_flags;      /* SHUTDOWN to send, 0 if none */
    /* Credit: what the guest told us, and what we sent it. */
    uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
    /* Our side: bytes of guest data forwarded to the host socket, and the
     * fwd_cnt the guest last heard from us. */
    uint32_t fwd_cnt, fwd_cnt_sent;
    uint8_t *out;                 /* guest data waiting for socket room */
    size_t out_len;
    char cmd[VSOCK_UDS_CMD_MAX];
    size_t cmd_have;
    uint64_t accepted_ns;         /* C_HOST_CMD: when it connected */
};

struct virtio_vsock {
    struct virtio_mmio *t;
    uint64_t cid;
    char *uds_path;
    int epfd, listen_fd, wake_fd;
    int timer_fd;                 /* ticks while a host client owes its CONNECT line */
    bool timer_armed;
    atomic_bool reset_pending, transport_reset_pending;
    _Atomic unsigned nconns;
    _Atomic uint64_t dropped, resets_sent;

    /* I/O thread only */
    bool event_pending;
    bool rx_held;
    uint32_t next_port;
    unsigned rr;
    struct hdr rst[RST_RING];
    unsigned rst_head, rst_count;
    struct conn conns[VIRTIO_VSOCK_MAX_CONNS];
    struct virtq_chain rx, tx, ev;
    struct iovec iov[VIRTQ_CHAIN_MAX];
};

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }

static void hdr_decode(const uint8_t *p, struct hdr *h)
{
    h->src_cid = get64(p + VIRTIO_VSOCK_HDR_SRC_CID);
    h->dst_cid = get64(p + VIRTIO_VSOCK_HDR_DST_CID);
    h->src_port = get32(p + VIRTIO_VSOCK_HDR_SRC_PORT);
    h->dst_port = get32(p + VIRTIO_VSOCK_HDR_DST_PORT);
    h->len = get32(p + VIRTIO_VSOCK_HDR_LEN);
    h->type = get16(p + VIRTIO_VSOCK_HDR_TYPE);
    h->op = get16(p + VIRTIO_VSOCK_HDR_OP);
    h->flags = get32(p + VIRTIO_VSOCK_HDR_FLAGS);
    h->buf_alloc = get32(p + VIRTIO_VSOCK_HDR_BUF_ALLOC);
    h->fwd_cnt = get32(p + VIRTIO_VSOCK_HDR_FWD_CNT);
}

static void hdr_encode(uint8_t *p, const struct hdr *h)
{
    put64(p + VIRTIO_VSOCK_HDR_SRC_CID, h->src_cid);
    put64(p + VIRTIO_VSOCK_HDR_DST_CID, h->dst_cid);
    put32(p + VIRTIO_VSOCK_HDR_SRC_PORT, h->src_port);
    put32(p + VIRTIO_VSOCK_HDR_DST_PORT, h->dst_port);
    put32(p + VIRTIO_VSOCK_HDR_LEN, h->len);
    put16(p + VIRTIO_VSOCK_HDR_TYPE, h->type);
    put16(p + VIRTIO_VSOCK_HDR_OP, h->op);
    put32(p + VIRTIO_VSOCK_HDR_FLAGS, h->flags);
    put32(p + VIRTIO_VSOCK_HDR_BUF_ALLOC, h->buf_alloc);
    put32(p + VIRTIO_VSOCK_HDR_FWD_CNT, h->fwd_cnt);
}

/* ---- connections and their host sockets ---- */

static unsigned conn_index(const struct virtio_vsock *v, const struct conn *c)
{
    return (unsigned)(c - v->conns);
}

static uint32_t wanted_events(const struct conn *c)
{
    uint32_t ev = 0;
    if (c->state == C_HOST_CMD)
        ev |= EPOLLIN;
    if (c->state == C_ESTABLISHED) {
        if (!c->readable && !c->host_eof && !c->guest_no_rcv)
            ev |= EPOLLIN;
        if (c->out_len)
            ev |= EPOLLOUT;
    }
    return ev;
}

/* Brings the fd's epoll registration in line with what the connection
 * waits for. A hung-up socket stays out of the set: EPOLLHUP cannot be
 * masked and would spin the loop. */
static void update_events(struct virtio_vsock *v, struct conn *c)
{
    if (c->fd < 0 || c->hup)
        return;
    uint32_t ev = wanted_events(c);
    if (c->in_epoll && ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.u64 = TAG_CONN + conn_index(v, c)};
    if (epoll_ctl(v->epfd, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) == 0) {
        c->in_epoll = true;
        c->events = ev;
    }
}

static void close_host(struct virtio_vsock *v, struct conn *c)
{
    if (c->fd >= 0) {
        if (c->in_epoll)
            epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->in_epoll = false;
    free(c->out);
    c->out = NULL;
    c->out_len = 0;
}

static void conn_free(struct virtio_vsock *v, struct conn *c)
{
    close_host(v, c);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    atomic_fetch_sub(&v->nconns, 1);
}

/* Closes the host side and queues an RST for the guest; the slot is freed
 * once it is sent. */
static void conn_reset(struct virtio_vsock *v, struct conn *c)
{
    close_host(v, c);
    c->state = C_CLOSING;
    c->send_request = c->send_response = c->send_credit = false;
    c->shutdown_flags = 0;
    c->send_rst = true;
}

static struct conn *conn_alloc(struct virtio_vsock *v, int fd, enum conn_state st)
{
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state != C_FREE)
            continue;
        memset(c, 0, sizeof *c);
        c->state = st;
        c->fd = fd;
        atomic_fetch_add(&v->nconns, 1);
        return c;
    }
    return NULL;
}

static struct conn *conn_find(struct virtio_vsock *v, uint32_t local_port, uint32_t peer_port)
{
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state != C_FREE && c->state != C_HOST_CMD && c->local_port == local_port &&
            c->peer_port == peer_port)
            return c;
    }
    return NULL;
}

static bool local_port_used(const struct virtio_vsock *v, uint32_t port)
{
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state != C_FREE && v->conns[i].local_port == port)
            return true;
    return false;
}

static uint32_t alloc_host_port(struct virtio_vsock *v)
{
    /* At most MAX_CONNS ports are in use, so this ends quickly. */
    for (;;) {
        uint32_t p = v->next_port++;
        if (v->next_port < VIRTIO_VSOCK_FIRST_HOST_PORT || v->next_port == UINT32_MAX)
            v->next_port = VIRTIO_VSOCK_FIRST_HOST_PORT;
        if (!local_port_used(v, p))
            return p;
    }
}

static void close_all(struct virtio_vsock *v)
{
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++)
        if (v->conns[i].state != C_FREE)
            conn_free(v, &v->conns[i]);
    v->rst_count = 0;
}

/* ---- packets to the guest ---- */

/* Guest credit left for data to it: what it can buffer minus what is in
 * flight. A guest reporting a fwd_cnt ahead of what we sent only stalls
 * its own connection. */
static uint32_t peer_credit(const struct conn *c)
{
    uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
    return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* A receive chain to fill, held until used. False if the guest has none
 * (or broke the queue). */
static bool get_rx(struct virtio_vsock *v)
{
    if (v->rx_held)
        return true;
    if (virtio_mmio_pop(v->t, VIRTIO_VSOCK_RX, &v->rx) <= 0)
        return false;
    if (v->rx.writable_len < VIRTIO_VSOCK_HDR_SIZE) {
        virtio_mmio_fail(v->t, "virtio-vsock: receive buffer (head %u) has %llu writable bytes, less than a header",
                         v->rx.head, (unsigned long long)v->rx.writable_len);
        return false;
    }
    v->rx_held = true;
    return true;
}

static void put_rx(struct virtio_vsock *v, const struct hdr *h)
{
    uint8_t raw[VIRTIO_VSOCK_HDR_SIZE];
    hdr_encode(raw, h);
    virtq_chain_write(&v->rx, 0, raw, sizeof raw);
    virtio_mmio_push(v->t, &v->rx, VIRTIO_VSOCK_HDR_SIZE + h->len);
    v->rx_held = false;
    if (h->op == VIRTIO_VSOCK_OP_RST)
        atomic_fetch_add(&v->resets_sent, 1);
}

static struct hdr conn_hdr(struct virtio_vsock *v, struct conn *c, uint16_t op)
{
    c->fwd_cnt_sent = c->fwd_cnt;
    return (struct hdr){
        .src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = v->cid,
        .src_port = c->local_port, .dst_port = c->peer_port,
        .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
        .buf_alloc = VIRTIO_VSOCK_BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
    };
}

/* An RST answering guest packet h, which has no connection. */
static void queue_orphan_rst(struct virtio_vsock *v, const struct hdr *h)
{
    if (h->op == VIRTIO_VSOCK_OP_RST || v->rst_count == RST_RING)
        return;   /* never answer an RST; a full ring drops the answer */
    v->rst[(v->rst_head + v->rst_count) % RST_RING] = (struct hdr){
        .src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = v->cid,
        .src_port = h->dst_port, .dst_port = h->src_port,
        .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RST,
    };
    v->rst_count++;
}

/* Reads host data for c into the held receive chain and sends it. Returns
 * true if a packet went out. */
static bool send_data(struct virtio_vsock *v, struct conn *c)
{
    uint64_t room = v->rx.writable_len - VIRTIO_VSOCK_HDR_SIZE;
    uint32_t want = peer_credit(c);
    if (want > room)
        want = (uint32_t)room;
    if (want > VIRTIO_VSOCK_MAX_PKT)
        want = VIRTIO_VSOCK_MAX_PKT;
    if (want == 0)
        return false;
    int n_iov = virtq_chain_iov(&v->rx, true, VIRTIO_VSOCK_HDR_SIZE, want, v->iov, VIRTQ_CHAIN_MAX);
    if (n_iov < 0)
        return false;
    ssize_t n = readv(c->fd, v->iov, n_iov);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->readable = false;
        update_events(v, c);
        return false;
    }
    if (n <= 0) {
        /* End of the host's stream. If it closed both ways nothing more
         * can go either way: tell the guest so, and drop the socket. */
        c->host_eof = true;
        c->readable = false;
        if (c->hup || n < 0) {
            close_host(v, c);
            c->state = C_CLOSING;
            c->shutdown_flags = VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;
        } else {
            c->shutdown_flags = VIRTIO_VSOCK_SHUTDOWN_F_SEND;
            update_events(v, c);
        }
        return false;
    }
    struct hdr h = conn_hdr(v, c, VIRTIO_VSOCK_OP_RW);
    h.len = (uint32_t)n;
    c->tx_cnt += (uint32_t)n;
    put_rx(v, &h);
    return true;
}

/* One packet for connection c, if it has one to send. Returns 1 if sent,
 * 0 if it has nothing, -1 if there is no receive buffer. */
static int conn_pump_one(struct virtio_vsock *v, struct conn *c)
{
    if (c->state == C_ESTABLISHED && c->hup && c->guest_no_rcv) {
        /* The host left and the guest reads no more: nothing can move. */
        close_host(v, c);
        c->state = C_CLOSING;
        c->shutdown_flags = VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;
    }
    bool has_ctl = c->send_rst || c->send_request || c->send_response || c->send_credit ||
                   c->shutdown_flags;
    bool has_data = c->state == C_ESTABLISHED && c->readable && !c->host_eof && !c->guest_no_rcv &&
                    peer_credit(c) > 0;
    if (!has_ctl && !has_data)
        return 0;
    if (!get_rx(v))
        return -1;
    struct hdr h;
    if (c->send_rst) {
        h = conn_hdr(v, c, VIRTIO_VSOCK_OP_RST);
        put_rx(v, &h);
        conn_free(v, c);
        return 1;
    }
    if (c->send_request || c->send_response) {
        h = conn_hdr(v, c, c->send_request ? VIRTIO_VSOCK_OP_REQUEST : VIRTIO_VSOCK_OP_RESPONSE);
        c->send_request = c->send_response = false;
        put_rx(v, &h);
        return 1;
    }
    if (c->send_credit) {
        h = conn_hdr(v, c, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
        c->send_credit = false;
        put_rx(v, &h);
        return 1;
    }
    if (has_data && send_data(v, c))
        return 1;
    if (c->shutdown_flags) {
        h = conn_hdr(v, c, VIRTIO_VSOCK_OP_SHUTDOWN);
        h.flags = c->shutdown_flags;
        c->shutdown_flags = 0;
        put_rx(v, &h);
        return 1;
    }
    return 0;
}

static void deliver_event(struct virtio_vsock *v)
{
    while (v->event_pending && virtio_mmio_pop(v->t, VIRTIO_VSOCK_EVENT, &v->ev) > 0) {
        uint8_t raw[4];
        put32(raw, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
        if (virtq_chain_write(&v->ev, 0, raw, 4) == 4) {
            virtio_mmio_push(v->t, &v->ev, 4);
            v->event_pending = false;
        } else {
            virtio_mmio_push(v->t, &v->ev, 0);   /* too small: try the next */
        }
        virtio_mmio_notify(v->t, VIRTIO_VSOCK_EVENT);
    }
}

/* Sends whatever is waiting (orphan RSTs, control packets, host data),
 * round-robin over connections, until done or out of receive buffers. */
static void pump(struct virtio_vsock *v)
{
    bool pushed = false, progress = true;
    while (progress) {
        progress = false;
        while (v->rst_count) {
            if (!get_rx(v))
                goto out;
            put_rx(v, &v->rst[v->rst_head]);
            v->rst_head = (v->rst_head + 1) % RST_RING;
            v->rst_count--;
            pushed = true;
        }
        for (unsigned k = 0; k < VIRTIO_VSOCK_MAX_CONNS; k++) {
            struct conn *c = &v->conns[(v->rr + k) % VIRTIO_VSOCK_MAX_CONNS];
            if (c->state == C_FREE)
                continue;
            int r = conn_pump_one(v, c);
            if (r < 0)
                goto out;
            if (r > 0)
                pushed = progress = true;
        }
        v->rr = (v->rr + 1) % VIRTIO_VSOCK_MAX_CONNS;
    }
out:
    if (pushed)
        virtio_mmio_notify(v->t, VIRTIO_VSOCK_RX);
}

/* ---- guest to host ---- */

/* Writes the guest's queued data to the host socket. */
static void flush_out(struct virtio_vsock *v, struct conn *c)
{
    if (c->fd < 0 || !c->out_len)
        return;
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
        conn_reset(v, c);
        return;
    }
    if (n > 0) {
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
        c->fwd_cnt += (uint32_t)n;
    }
}

/* After guest data moved on: finish a requested close or half-close, and
 * give the guest credit back before it runs dry. */
static void after_forward(struct virtio_vsock *v, struct conn *c)
{
    if (c->state != C_ESTABLISHED)
        return;
    if (!c->out_len && c->close_after_flush) {
        conn_reset(v, c);
        return;
    }
    if (!c->out_len && c->guest_no_send && c->fd >= 0)
        shutdown(c->fd, SHUT_WR);
    if (c->fwd_cnt - c->fwd_cnt_sent >= VIRTIO_VSOCK_BUF_ALLOC / 4)
        c->send_credit = true;
    update_events(v, c);
}

static void guest_rw(struct virtio_vsock *v, struct conn *c, const struct virtq_chain *ch, uint32_t len)
{
    if (c->state != C_ESTABLISHED || c->guest_no_send || c->fd < 0) {
        conn_reset(v, c);
        return;
    }
    /* The credit we gave bounds what may wait here; more is a guest that
     * ignores flow control. */
    if (c->out_len + len > VIRTIO_VSOCK_BUF_ALLOC) {
        conn_reset(v, c);
        return;
    }
    uint32_t done = 0;
    if (!c->out_len && len) {
        int n_iov = virtq_chain_iov(ch, false, VIRTIO_VSOCK_HDR_SIZE, len, v->iov, VIRTQ_CHAIN_MAX);
        ssize_t n = -1;
        if (n_iov >= 0) {
            struct msghdr m = {.msg_iov = v->iov, .msg_iovlen = (size_t)n_iov};
            n = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            conn_reset(v, c);
            return;
        }
        if (n > 0) {
            done = (uint32_t)n;
            c->fwd_cnt += done;
        }
    }
    if (done < len) {
        if (!c->out) {
            c->out = malloc(VIRTIO_VSOCK_BUF_ALLOC);
            if (!c->out) {
                conn_reset(v, c);
                return;
            }
        }
        virtq_chain_read(ch, VIRTIO_VSOCK_HDR_SIZE + done, c->out + c->out_len, len - done);
        c->out_len += len - done;
    }
    after_forward(v, c);
}

static void guest_request(struct virtio_vsock *v, const struct hdr *h)
{
    struct conn *old = conn_find(v, h->dst_port, h->src_port);
    if (old) {
        conn_reset(v, old);   /* a second REQUEST for a live pair */
        return;
    }
    int fd = vsock_uds_connect_port(v->uds_path, h->dst_port);
    if (fd < 0) {
        queue_orphan_rst(v, h);   /* nobody listens at <uds>_<port> */
        return;
    }
    struct conn *c = conn_alloc(v, fd, C_ESTABLISHED);
    if (!c) {
        close(fd);
        queue_orphan_rst(v, h);
        return;
    }
    c->local_port = h->dst_port;
    c->peer_port = h->src_port;
    c->peer_buf_alloc = h->buf_alloc;
    c->peer_fwd_cnt = h->fwd_cnt;
    c->send_response = true;
    update_events(v, c);
}

static void guest_shutdown(struct virtio_vsock *v, struct conn *c, uint32_t flags)
{
    if (flags & VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE)
        c->guest_no_rcv = true;
    if (flags & VIRTIO_VSOCK_SHUTDOWN_F_SEND)
        c->guest_no_send = true;
    /* Both ways is how a guest closes: answer RST once its data is out. */
    if (c->guest_no_rcv && c->guest_no_send)
        c->close_after_flush = true;
    if (c->state == C_ESTABLISHED) {
        after_forward(v, c);
    } else if (c->close_after_flush) {
        conn_reset(v, c);
    }
}

/* One packet from the tx queue. */
static void guest_packet(struct virtio_vsock *v, const struct virtq_chain *ch)
{
    if (ch->readable_len < VIRTIO_VSOCK_HDR_SIZE) {
        atomic_fetch_add(&v->dropped, 1);
        return;
    }
    uint8_t raw[VIRTIO_VSOCK_HDR_SIZE];
    virtq_chain_read(ch, 0, raw, sizeof raw);
    struct hdr h;
    hdr_decode(raw, &h);
    /* Only the guest's own CID, only to the host: anything else is spoofed
     * or misrouted, and there is nobody to answer. */
    if (h.src_cid != v->cid || h.dst_cid != VIRTIO_VSOCK_HOST_CID) {
        atomic_fetch_add(&v->dropped, 1);
        return;
    }
    struct conn *c = conn_find(v, h.dst_port, h.src_port);
    bool bad_len = h.len > ch->readable_len - VIRTIO_VSOCK_HDR_SIZE || h.len > VIRTIO_VSOCK_BUF_ALLOC;
    if (h.type != VIRTIO_VSOCK_TYPE_STREAM || bad_len) {
        atomic_fetch_add(&v->dropped, 1);
        if (c && h.op != VIRTIO_VSOCK_OP_RST)
            conn_reset(v, c);
        else if (c)
            conn_free(v, c);
        else
            queue_orphan_rst(v, &h);
        return;
    }
    if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
        guest_request(v, &h);
        return;
    }
    if (!c) {
        queue_orphan_rst(v, &h);
        return;
    }
    if (c->state == C_CLOSING && h.op != VIRTIO_VSOCK_OP_RST) {
        /* Our side is gone; whatever the guest says, the answer is RST
         * (already queued, or queued now). */
        c->send_rst = true;
        return;
    }
    c->peer_buf_alloc = h.buf_alloc;
    c->peer_fwd_cnt = h.fwd_cnt;
    switch (h.op) {
    case VIRTIO_VSOCK_OP_RESPONSE:
        if (c->state != C_GUEST_CONNECTING || vsock_uds_send_ok(c->fd, c->local_port) < 0) {
            conn_reset(v, c);
            break;
        }
        c->state = C_ESTABLISHED;
        update_events(v, c);
        break;
    case VIRTIO_VSOCK_OP_RST:
        conn_free(v, c);
        break;
    case VIRTIO_VSOCK_OP_SHUTDOWN:
        guest_shutdown(v, c, h.flags);
        break;
    case VIRTIO_VSOCK_OP_RW:
        guest_rw(v, c, ch, h.len);
        break;
    case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
        break;   /* the credit fields were taken above */
    case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
        c->send_credit = true;
        break;
    default:
        atomic_fetch_add(&v->dropped, 1);
        conn_reset(v, c);
        break;
    }
}

static void tx_process(struct virtio_vsock *v)
{
    bool pushed = false;
    while (virtio_mmio_pop(v->t, VIRTIO_VSOCK_TX, &v->tx) > 0) {
        guest_packet(v, &v->tx);
        virtio_mmio_push(v->t, &v->tx, 0);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(v->t, VIRTIO_VSOCK_TX);
}

/* ---- host events ---- */

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Closes host clients whose CONNECT line is overdue; the timer runs (a
 * tick a second) only while some client still owes one. */
static void expire_host_cmd(struct virtio_vsock *v)
{
    uint64_t now = mono_ns();
    unsigned waiting = 0;
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state != C_HOST_CMD)
            continue;
        if (now - c->accepted_ns >= CONNECT_TIMEOUT_NS)
            conn_free(v, c);
        else
            waiting++;
    }
    bool arm = waiting > 0;
    if (arm == v->timer_armed)
        return;
    struct itimerspec its = { .it_interval = { arm, 0 }, .it_value = { arm, 0 } };
    if (timerfd_settime(v->timer_fd, 0, &its, NULL) == 0)
        v->timer_armed = arm;
}

/* Room for one more client waiting to send CONNECT: the oldest waiting
 * one goes if MAX_HOST_CMD already wait. */
static void make_room_host_cmd(struct virtio_vsock *v)
{
    struct conn *oldest = NULL;
    unsigned waiting = 0;
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++) {
        struct conn *c = &v->conns[i];
        if (c->state != C_HOST_CMD)
            continue;
        waiting++;
        if (!oldest || c->accepted_ns < oldest->accepted_ns)
            oldest = c;
    }
    if (waiting >= MAX_HOST_CMD)
        conn_free(v, oldest);
}

static void host_accept(struct virtio_vsock *v)
{
    for (unsigned i = 0; i < 16; i++) {
        int fd = accept4(v->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break;
        make_room_host_cmd(v);
        struct conn *c = conn_alloc(v, fd, C_HOST_CMD);
        if (!c) {
            close(fd);   /* table full: refused */
            continue;
        }
        c->local_port = alloc_host_port(v);
        c->accepted_ns = mono_ns();
        update_events(v, c);
    }
    expire_host_cmd(v);
}

static void host_command(struct virtio_vsock *v, struct conn *c)
{
    uint32_t port;
    int r = vsock_uds_read_connect(c->fd, c->cmd, &c->cmd_have, &port);
    if (r == 0)
        return;
    if (r < 0 || conn_find(v, c->local_port, port)) {
        conn_free(v, c);   /* a bad line: close, as nothing was sent to the guest */
        return;
    }
    c->peer_port = port;
    c->state = C_GUEST_CONNECTING;
    c->send_request = true;
    update_events(v, c);
}

static void host_event(struct virtio_vsock *v, struct conn *c, uint32_t ev)
{
    if (c->state == C_HOST_CMD) {
        host_command(v, c);
        return;
    }
    if (ev & (EPOLLHUP | EPOLLERR)) {
        if (c->state != C_ESTABLISHED) {
            conn_reset(v, c);   /* the host gave up before the guest answered */
            return;
        }
        /* Read what the host sent before it left; its socket leaves the
         * epoll set for good, and data to it can no longer be delivered. */
        c->hup = true;
        c->readable = true;
        if (c->in_epoll)
            epoll_ctl(v->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        c->in_epoll = false;
        free(c->out);
        c->out = NULL;
        c->out_len = 0;
        return;
    }
    if (c->state != C_ESTABLISHED)
        return;
    if (ev & EPOLLIN) {
        c->readable = true;
        update_events(v, c);
    }
    if (ev & EPOLLOUT) {
        flush_out(v, c);
        after_forward(v, c);
    }
}

static void check_reset(struct virtio_vsock *v)
{
    if (atomic_exchange(&v->reset_pending, false)) {
        close_all(v);
        v->rx_held = false;
        v->event_pending = false;
    }
    if (atomic_exchange(&v->transport_reset_pending, false)) {
        close_all(v);
        v->event_pending = true;
    }
    deliver_event(v);
}

void virtio_vsock_on_host(void *vsock)
{
    struct virtio_vsock *v = vsock;
    struct epoll_event evs[32];
    int n = epoll_wait(v->epfd, evs, 32, 0);
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == TAG_WAKE || tag == TAG_TIMER) {
            uint64_t x;
            ssize_t r = read(tag == TAG_WAKE ? v->wake_fd : v->timer_fd, &x, sizeof x);
            (void)r;
        }
    }
    check_reset(v);
    for (int i = 0; i < n; i++) {
        uint64_t tag = evs[i].data.u64;
        if (tag == TAG_LISTEN) {
            host_accept(v);
        } else if (tag == TAG_TIMER) {
            expire_host_cmd(v);
        } else if (tag >= TAG_CONN && tag < TAG_CONN + VIRTIO_VSOCK_MAX_CONNS) {
            struct conn *c = &v->conns[tag - TAG_CONN];
            /* A slot freed (and maybe reused) earlier in this batch may
             * still have an event queued: only act on a live fd. */
            if (c->state != C_FREE && c->fd >= 0 && c->in_epoll)
                host_event(v, c, evs[i].events);
        }
    }
    pump(v);
}

/* ---- transport glue ---- */

static uint64_t vs_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct virtio_vsock *v = opaque;
    uint64_t x = v->cid >> (8 * off);
    return size >= 8 ? x : x & ((1ull << (8 * size)) - 1);
}

static void vs_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_vsock *v = opaque;
    check_reset(v);
    if (queue == VIRTIO_VSOCK_TX)
        tx_process(v);
    /* New receive buffers, or tx work that queued control packets, or new
     * event buffers (done in check_reset): send what waits. */
    pump(v);
}

/* Transport lock held, vCPU thread: only flag the I/O thread. */
static void vs_reset(void *opaque)
{
    struct virtio_vsock *v = opaque;
    atomic_store(&v->reset_pending, true);
    uint64_t one = 1;
    ssize_t r = write(v->wake_fd, &one, sizeof one);
    (void)r;
}

#define SNAP_VERSION 1u

/* Connections cannot outlive the host sockets behind them, so none is
 * saved: load tells the guest with a TRANSPORT_RESET event (spec 5.10.6.7),
 * after which it drops its connections and new ones work both ways.
 * Saved: the CID (the guest knows it; a device with another one is
 * refused) and the receive chain held for the next packet, by its head,
 * so the guest does not lose that buffer. Orphan RSTs waiting to be sent
 * are dropped with the connections they answer. */
static int vs_save(void *opaque, struct snap_writer *w)
{
    struct virtio_vsock *v = opaque;
    bool rx = v->rx_held && virtio_mmio_chain_current(v->t, &v->rx);
    snapw_u32(w, SNAP_VERSION);
    snapw_u64(w, v->cid);
    snapw_u8(w, rx);
    snapw_u16(w, rx ? v->rx.head : 0);
    return w->err;
}

static int vs_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct virtio_vsock *v = opaque;
    /* A reset flagged by an earlier failed load would otherwise drop what
     * this one restores at the first callback. */
    check_reset(v);
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-vsock: state version %u, expected %u", version, SNAP_VERSION);
    uint64_t cid = snapr_u64(r);
    uint8_t rx = snapr_u8(r);
    uint16_t head = snapr_u16(r);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-vsock: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);
    if (cid != v->cid)
        return errmsg_set(e, -EINVAL, "virtio-vsock: the snapshot's guest CID %llu is not the configured %llu",
                          (unsigned long long)cid, (unsigned long long)v->cid);
    if (rx > 1)
        return errmsg_set(e, -EINVAL, "virtio-vsock: receive chain held is %u, expected 0 or 1", rx);
    if (rx) {
        struct errmsg ce;
        if (virtio_mmio_chain_at(v->t, VIRTIO_VSOCK_RX, head, &v->rx, &ce) < 0)
            return errmsg_set(e, -EINVAL, "virtio-vsock: held receive chain: %s", ce.text);
        if (v->rx.writable_len < VIRTIO_VSOCK_HDR_SIZE)
            return errmsg_set(e, -EINVAL, "virtio-vsock: held receive chain (head %u) has %llu writable bytes, less than a header",
                              head, (unsigned long long)v->rx.writable_len);
        v->rx_held = true;
    }
    virtio_vsock_transport_reset(v);
    return 0;
}

static const struct virtio_device_ops vs_ops = {
    .config_read = vs_config_read,
    .queue_notify = vs_queue_notify,
    .reset = vs_reset,
    .save = vs_save,
    .load = vs_load,
};

void virtio_vsock_transport_reset(struct virtio_vsock *v)
{
    atomic_store(&v->transport_reset_pending, true);
    uint64_t one = 1;
    ssize_t r = write(v->wake_fd, &one, sizeof one);
    (void)r;
}

int virtio_vsock_create(struct virtio_vsock **out, const struct virtio_vsock_options *o,
                        const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    if (o->guest_cid < 3 || o->guest_cid > 0xfffffffeull)
        return errmsg_set(e, -EINVAL, "vsock guest cid %llu is out of range: expected 3 to 4294967294",
                          (unsigned long long)o->guest_cid);
    struct virtio_vsock *v = calloc(1, sizeof *v);
    if (!v)
        return errmsg_set(e, -ENOMEM, "virtio-vsock: out of memory");
    v->cid = o->guest_cid;
    v->next_port = VIRTIO_VSOCK_FIRST_HOST_PORT;
    v->epfd = v->listen_fd = v->wake_fd = v->timer_fd = -1;
    for (unsigned i = 0; i < VIRTIO_VSOCK_MAX_CONNS; i++)
        v->conns[i].fd = -1;
    int rc = vsock_uds_listen(o->uds_path, &v->listen_fd, e);
    if (rc < 0) {
        free(v);
        return rc;
    }
    v->uds_path = strdup(o->uds_path);
    v->epfd = epoll_create1(EPOLL_CLOEXEC);
    v->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    v->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.u64 = TAG_LISTEN};
    struct epoll_event ew = {.events = EPOLLIN, .data.u64 = TAG_WAKE};
    struct epoll_event et = {.events = EPOLLIN, .data.u64 = TAG_TIMER};
    if (!v->uds_path || v->epfd < 0 || v->wake_fd < 0 || v->timer_fd < 0 ||
        epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->listen_fd, &el) < 0 ||
        epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->wake_fd, &ew) < 0 ||
        epoll_ctl(v->epfd, EPOLL_CTL_ADD, v->timer_fd, &et) < 0) {
        int err = errno ? errno : ENOMEM;
        rc = errmsg_set(e, -err, "virtio-vsock: cannot set up host polling: %s", strerror(err));
        goto fail;
    }
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_VSOCK,
        .num_queues = 3,
        .queue_max = VIRTIO_VSOCK_QUEUE_SIZE,
        .config_size = VIRTIO_VSOCK_CFG_SIZE,
        .ops = &vs_ops,
        .opaque = v,
    };
    rc = virtio_mmio_create(&v->t, &dev, mem, irq, e);
    if (rc < 0)
        goto fail;
    *out = v;
    return 0;
fail:
    if (v->timer_fd >= 0)
        close(v->timer_fd);
    if (v->wake_fd >= 0)
        close(v->wake_fd);
    if (v->epfd >= 0)
        close(v->epfd);
    close(v->listen_fd);
    vsock_uds_unlink(o->uds_path);
    free(v->uds_path);
    free(v);
    return rc;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
    if (!v)
        return;
    virtio_mmio_destroy(v->t);
    close_all(v);
    close(v->listen_fd);
    vsock_uds_unlink(v->uds_path);
    close(v->wake_fd);
    close(v->timer_fd);
    close(v->epfd);
    free(v->uds_path);
    free(v);
}

struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *v)
{
    return v->t;
}

int virtio_vsock_host_fd(const struct virtio_vsock *v)
{
    return v->epfd;
}

void virtio_vsock_info(struct virtio_vsock *v, struct virtio_vsock_info *out)
{
    out->connections = atomic_load(&v->nconns);
    out->dropped_packets = atomic_load(&v->dropped);
    out->resets_sent = atomic_load(&v->resets_sent);
}
