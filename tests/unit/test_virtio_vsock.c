/* Unit tests for devices/virtio_vsock with its vsock_uds host side: a guest
 * driver talks to the device through the virtio-mmio registers and a fake
 * guest RAM, the device runs on a real I/O thread (vmm/event_loop), and the
 * test is also the host program, with real AF_UNIX sockets in Firecracker's
 * convention (CONNECT <port> on uds_path; listeners on uds_path_<port>). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "backends/vsock_uds.h"
#include "devices/virtio_vsock.h"
#include "vmm/event_loop.h"
#include "virtio_test_driver.h"

#define FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
#define CID 3u
#define QSIZE 32u
#define SLOT 0x2000u
#define RXLEN (VIRTIO_VSOCK_HDR_SIZE + 4096u)
#define NRX 16u

struct tq {
    unsigned q;
    uint64_t desc, avail, used, data;
    uint16_t avail_idx, used_seen, next;
};

struct pkt {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
};

struct vfx {
    struct tdrv d;
    struct event_loop *loop;
    struct virtio_vsock *vs;
    struct tq rx, tx, ev;
    char path[80];
    int listeners[4];
    unsigned nlisteners;
    /* Owned here so a failed assertion (cmocka longjmps) leaks nothing. */
    struct snap_writer snap;
    uint8_t *bad;
};

static void tq_setup(struct tdrv *d, struct tq *t, unsigned q)
{
    memset(t, 0, sizeof *t);
    t->q = q;
    t->desc = RAM_BASE + 0x4000ull * q;
    t->avail = t->desc + 0x1000;
    t->used = t->desc + 0x2000;
    t->data = DATA_GPA + 0x40000ull * q;
    memset(tdrv_host(d, t->desc), 0, 0x3000);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)t->desc);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(t->desc >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)t->avail);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(t->avail >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)t->used);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(t->used >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static uint8_t *slot(struct tdrv *d, struct tq *t, unsigned i)
{
    return tdrv_host(d, t->data + (uint64_t)SLOT * i);
}

static void tq_post_at(struct tdrv *d, struct tq *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
    tdrv_desc_in(d, t->desc, i, addr, len, flags, 0);
    *(uint16_t *)tdrv_host(d, t->avail + 4 + 2u * (t->avail_idx % QSIZE)) = htole16(i);
    t->avail_idx++;
    atomic_store_explicit((_Atomic uint16_t *)tdrv_host(d, t->avail + 2), htole16(t->avail_idx),
                          memory_order_release);
    tdrv_kick(d, t->q);
}

static bool tq_next_used(struct tdrv *d, struct tq *t, uint32_t *id, uint32_t *len, int ms)
{
    for (int k = 0; k < ms; k++) {
        uint16_t idx = le16toh(atomic_load_explicit((_Atomic uint16_t *)tdrv_host(d, t->used + 2),
                                                    memory_order_acquire));
        if (idx != t->used_seen) {
            uint8_t *p = tdrv_host(d, t->used + 4 + 8u * (t->used_seen % QSIZE));
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + 4, 4);
            *id = le32toh(a);
            *len = le32toh(b);
            t->used_seen++;
            return true;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

static void encode(uint8_t *p, const struct pkt *h)
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

static void decode(const uint8_t *p, struct pkt *h)
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

static void post_rx(struct vfx *f, uint16_t i)
{
    tq_post_at(&f->d, &f->rx, i, f->rx.data + (uint64_t)SLOT * i, RXLEN, VIRTQ_DESC_F_WRITE);
}

static void bringup(struct vfx *f, bool rx_buffers)
{
    assert_int_equal(tdrv_negotiate(&f->d, FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    tq_setup(&f->d, &f->rx, VIRTIO_VSOCK_RX);
    tq_setup(&f->d, &f->tx, VIRTIO_VSOCK_TX);
    tq_setup(&f->d, &f->ev, VIRTIO_VSOCK_EVENT);
    tdrv_driver_ok(&f->d);
    if (rx_buffers)
        for (uint16_t i = 0; i < NRX; i++)
            post_rx(f, i);
}

static int setup(void **state)
{
    struct vfx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    snprintf(f->path, sizeof f->path, "/tmp/minnow-vsock-%d.sock", (int)getpid());
    unlink(f->path);
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e = {{0}};
    struct virtio_vsock_options o = {.guest_cid = CID, .uds_path = f->path};
    if (virtio_vsock_create(&f->vs, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_vsock_create: %s", e.text);
    f->d.t = virtio_vsock_mmio(f->vs);
    assert_int_equal(event_loop_create(&f->loop, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_vsock_host_fd(f->vs), virtio_vsock_on_host, f->vs, &e), 0);
    assert_int_equal(event_loop_start(f->loop, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct vfx *f = *state;
    event_loop_destroy(f->loop);
    virtio_vsock_destroy(f->vs);
    for (unsigned i = 0; i < f->nlisteners; i++) {
        char p[96];
        close(f->listeners[i]);
        snprintf(p, sizeof p, "%s_%u", f->path, 5000 + i);
        unlink(p);
    }
    tdrv_free(&f->d);
    snapw_free(&f->snap);
    free(f->bad);
    free(f);
    return 0;
}

/* Waits for the next packet the device put on the rx queue; copies its
 * payload to data (if not NULL) and gives the buffer back. */
static bool recv_pkt(struct vfx *f, struct pkt *h, void *data, int ms)
{
    uint32_t id, len;
    if (!tq_next_used(&f->d, &f->rx, &id, &len, ms))
        return false;
    assert_true(id < NRX);
    uint8_t *p = slot(&f->d, &f->rx, id);
    decode(p, h);
    assert_int_equal(len, VIRTIO_VSOCK_HDR_SIZE + h->len);
    if (data)
        memcpy(data, p + VIRTIO_VSOCK_HDR_SIZE, h->len);
    post_rx(f, (uint16_t)id);
    return true;
}

/* The guest sends raw bytes as one tx buffer and waits for it to be used. */
static void send_raw(struct vfx *f, const void *buf, uint32_t len)
{
    uint16_t i = (uint16_t)(f->tx.next++ % QSIZE);
    memcpy(slot(&f->d, &f->tx, i), buf, len);
    tq_post_at(&f->d, &f->tx, i, f->tx.data + (uint64_t)SLOT * i, len, 0);
    uint32_t id, ulen;
    assert_true(tq_next_used(&f->d, &f->tx, &id, &ulen, 5000));
    assert_int_equal(id, i);
}

static void send_pkt(struct vfx *f, struct pkt h, const void *data)
{
    uint8_t buf[VIRTIO_VSOCK_HDR_SIZE + 4096];
    assert_true(h.len <= 4096);
    encode(buf, &h);
    if (h.len && data)
        memcpy(buf + VIRTIO_VSOCK_HDR_SIZE, data, h.len);
    send_raw(f, buf, VIRTIO_VSOCK_HDR_SIZE + h.len);
}

/* A packet from the guest on connection (guest port gp, host port hp). */
static struct pkt gpkt(uint32_t gp, uint32_t hp, uint16_t op)
{
    return (struct pkt){.src_cid = CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = gp, .dst_port = hp,
                        .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536};
}

static void read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

/* True if fd reaches end of stream (or reset) within 5 s. */
static bool sees_eof(int fd)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            return false;
        char b[256];
        ssize_t r = read(fd, b, sizeof b);
        if (r <= 0)
            return true;
    }
}

static int host_dial(struct vfx *f)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        fail_msg("connect %s: %s", f->path, strerror(errno));
    return s;
}

/* Host-initiated connection to guest port `port`, accepted by the guest
 * with credit buf_alloc. Returns the host socket; *hp = host-side port. */
static int host_connect(struct vfx *f, uint32_t port, uint32_t buf_alloc, uint32_t *hp)
{
    int s = host_dial(f);
    char cmd[32];
    int n = snprintf(cmd, sizeof cmd, "CONNECT %u\n", port);
    assert_int_equal(write(s, cmd, (size_t)n), n);
    struct pkt h;
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
    assert_int_equal(h.type, VIRTIO_VSOCK_TYPE_STREAM);
    assert_int_equal(h.src_cid, VIRTIO_VSOCK_HOST_CID);
    assert_int_equal(h.dst_cid, CID);
    assert_int_equal(h.dst_port, port);
    assert_int_equal(h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
    *hp = h.src_port;
    struct pkt r = gpkt(port, h.src_port, VIRTIO_VSOCK_OP_RESPONSE);
    r.buf_alloc = buf_alloc;
    send_pkt(f, r, NULL);
    char line[32], want[32];
    int wl = snprintf(want, sizeof want, "OK %u\n", h.src_port);
    read_exact(s, line, (size_t)wl);
    assert_memory_equal(line, want, (size_t)wl);
    return s;
}

static int listen_port(struct vfx *f, uint32_t port)
{
    char p[96];
    snprintf(p, sizeof p, "%s_%u", f->path, port);
    unlink(p);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, p);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 4), 0);
    assert_int_equal(port, 5000 + f->nlisteners);
    f->listeners[f->nlisteners++] = s;
    return s;
}

static bool no_packet_within(struct vfx *f, int ms)
{
    struct pkt h;
    return !recv_pkt(f, &h, NULL, ms);
}

static void test_identity(void **state)
{
    struct vfx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG, 4), CID);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + 4, 4), 0);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG, 8), CID);
    struct virtio_vsock *v2;
    struct errmsg e = {{0}};
    struct virtio_vsock_options bad = {.guest_cid = 2, .uds_path = "/tmp/minnow-vsock-never"};
    assert_int_equal(virtio_vsock_create(&v2, &bad, &f->d.mem, NULL, &e), -EINVAL);
    assert_non_null(strstr(e.text, "cid"));
    struct virtio_vsock_options dup = {.guest_cid = 4, .uds_path = f->path};
    assert_int_equal(virtio_vsock_create(&v2, &dup, &f->d.mem, NULL, &e), -EEXIST);
}

static void test_host_to_guest(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    uint32_t hp;
    int s = host_connect(f, 1234, 65536, &hp);
    /* host -> guest */
    assert_int_equal(write(s, "ping", 4), 4);
    struct pkt h;
    char data[4096];
    assert_true(recv_pkt(f, &h, data, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
    assert_int_equal(h.src_port, hp);
    assert_int_equal(h.dst_port, 1234);
    assert_int_equal(h.len, 4);
    assert_memory_equal(data, "ping", 4);
    /* guest -> host */
    struct pkt w = gpkt(1234, hp, VIRTIO_VSOCK_OP_RW);
    w.len = 4;
    send_pkt(f, w, "pong");
    char buf[4];
    read_exact(s, buf, 4);
    assert_memory_equal(buf, "pong", 4);
    /* the guest closes: the host socket is closed, the guest gets RST */
    struct pkt sd = gpkt(1234, hp, VIRTIO_VSOCK_OP_SHUTDOWN);
    sd.flags = VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND;
    send_pkt(f, sd, NULL);
    assert_true(sees_eof(s));
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 1234);
    struct virtio_vsock_info info;
    virtio_vsock_info(f->vs, &info);
    assert_int_equal(info.connections, 0);
    close(s);
}

static void test_credit(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    uint32_t hp;
    int s = host_connect(f, 1234, 100, &hp);   /* the guest can hold 100 bytes */
    uint8_t out[300];
    for (unsigned i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i + 1);
    assert_int_equal(write(s, out, sizeof out), (ssize_t)sizeof out);
    uint8_t got[300], data[4096];
    uint32_t n = 0;
    struct pkt h;
    while (n < 100) {
        assert_true(recv_pkt(f, &h, data, 5000));
        assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
        assert_true(n + h.len <= 100);
        memcpy(got + n, data, h.len);
        n += h.len;
    }
    /* credit exhausted: nothing more until the guest frees some */
    assert_true(no_packet_within(f, 200));
    struct pkt cu = gpkt(1234, hp, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    cu.buf_alloc = 100;
    cu.fwd_cnt = 100;
    send_pkt(f, cu, NULL);
    while (n < 200) {
        assert_true(recv_pkt(f, &h, data, 5000));
        assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
        assert_true(n + h.len <= 200);
        memcpy(got + n, data, h.len);
        n += h.len;
    }
    assert_true(no_packet_within(f, 100));
    assert_memory_equal(got, out, 200);

    /* the other way: what the device has forwarded shows in its fwd_cnt */
    struct pkt w = gpkt(1234, hp, VIRTIO_VSOCK_OP_RW);
    w.buf_alloc = 100;
    w.fwd_cnt = 200;
    w.len = 10;
    send_pkt(f, w, "0123456789");
    char buf[10];
    read_exact(s, buf, 10);
    struct pkt cr = gpkt(1234, hp, VIRTIO_VSOCK_OP_CREDIT_REQUEST);
    cr.buf_alloc = 100;
    cr.fwd_cnt = 200;
    send_pkt(f, cr, NULL);
    /* the credit update may come behind the rest of the data now allowed */
    do {
        assert_true(recv_pkt(f, &h, data, 5000));
    } while (h.op == VIRTIO_VSOCK_OP_RW);
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
    assert_int_equal(h.fwd_cnt, 10);
    assert_int_equal(h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
    close(s);
}

static void test_guest_to_host(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    int l = listen_port(f, 5000);
    struct pkt rq = gpkt(777, 5000, VIRTIO_VSOCK_OP_REQUEST);
    send_pkt(f, rq, NULL);
    struct pollfd p = {.fd = l, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    struct pkt h;
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RESPONSE);
    assert_int_equal(h.src_port, 5000);
    assert_int_equal(h.dst_port, 777);
    assert_int_equal(h.dst_cid, CID);
    struct pkt w = gpkt(777, 5000, VIRTIO_VSOCK_OP_RW);
    w.len = 5;
    send_pkt(f, w, "hello");
    char buf[5];
    read_exact(s, buf, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(write(s, "world", 5), 5);
    char data[4096];
    assert_true(recv_pkt(f, &h, data, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
    assert_int_equal(h.len, 5);
    assert_memory_equal(data, "world", 5);
    /* the host closes: the guest is told, and its RST frees the slot */
    close(s);
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
    assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_F_RECEIVE | VIRTIO_VSOCK_SHUTDOWN_F_SEND);
    send_pkt(f, gpkt(777, 5000, VIRTIO_VSOCK_OP_RST), NULL);
    assert_true(no_packet_within(f, 50));
    struct virtio_vsock_info info;
    virtio_vsock_info(f->vs, &info);
    assert_int_equal(info.connections, 0);
}

static void test_refused_port_gets_rst(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    send_pkt(f, gpkt(778, 5001, VIRTIO_VSOCK_OP_REQUEST), NULL);
    struct pkt h;
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(h.src_port, 5001);
    assert_int_equal(h.dst_port, 778);
    struct virtio_vsock_info info;
    virtio_vsock_info(f->vs, &info);
    assert_int_equal(info.connections, 0);
    /* and a packet for a connection that does not exist */
    struct pkt w = gpkt(779, 5002, VIRTIO_VSOCK_OP_RW);
    w.len = 3;
    send_pkt(f, w, "abc");
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 779);
    /* an RST for one is not answered */
    send_pkt(f, gpkt(779, 5002, VIRTIO_VSOCK_OP_RST), NULL);
    assert_true(no_packet_within(f, 100));
}

static void test_guest_rst_closes_host(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    uint32_t hp;
    int s = host_connect(f, 42, 65536, &hp);
    send_pkt(f, gpkt(42, hp, VIRTIO_VSOCK_OP_RST), NULL);
    assert_true(sees_eof(s));
    assert_true(no_packet_within(f, 50));
    close(s);
    /* a refusing guest: RST instead of RESPONSE closes the host socket */
    int s2 = host_dial(f);
    assert_int_equal(write(s2, "CONNECT 43\n", 11), 11);
    struct pkt h;
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
    send_pkt(f, gpkt(43, h.src_port, VIRTIO_VSOCK_OP_RST), NULL);
    assert_true(sees_eof(s2));
    close(s2);
}

static void test_malformed(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    struct virtio_vsock_info before, after;
    virtio_vsock_info(f->vs, &before);
    int l = listen_port(f, 5000);
    struct pkt h;

    /* not the guest's CID, or not to the host: dropped, unanswered */
    struct pkt rq = gpkt(700, 5000, VIRTIO_VSOCK_OP_REQUEST);
    rq.dst_cid = 7;
    send_pkt(f, rq, NULL);
    rq = gpkt(700, 5000, VIRTIO_VSOCK_OP_REQUEST);
    rq.src_cid = 9;
    send_pkt(f, rq, NULL);
    /* shorter than a header */
    uint8_t shortp[20] = {0};
    send_raw(f, shortp, sizeof shortp);
    assert_true(no_packet_within(f, 100));
    virtio_vsock_info(f->vs, &after);
    assert_int_equal(after.dropped_packets, before.dropped_packets + 3);
    assert_int_equal(after.connections, 0);
    struct pollfd p = {.fd = l, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0);   /* nobody connected to the listener */

    /* a wrong socket type: RST, no host connection */
    rq = gpkt(701, 5000, VIRTIO_VSOCK_OP_REQUEST);
    rq.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
    send_pkt(f, rq, NULL);
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 701);
    assert_int_equal(poll(&p, 1, 0), 0);

    /* len larger than the chain on a live connection: RST, host closed */
    uint32_t hp;
    int s = host_connect(f, 1234, 65536, &hp);
    uint8_t raw[VIRTIO_VSOCK_HDR_SIZE + 10];
    struct pkt w = gpkt(1234, hp, VIRTIO_VSOCK_OP_RW);
    w.len = 1000;
    encode(raw, &w);
    memset(raw + VIRTIO_VSOCK_HDR_SIZE, 'x', 10);
    send_raw(f, raw, sizeof raw);
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    assert_int_equal(h.dst_port, 1234);
    assert_true(sees_eof(s));
    close(s);

    /* len near 2^32 */
    w.len = 0xfffffff0u;
    encode(raw, &w);
    send_raw(f, raw, sizeof raw);
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RST);
    virtio_vsock_info(f->vs, &after);
    assert_int_equal(after.connections, 0);
    assert_false(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_bad_connect_line(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    int s = host_dial(f);
    assert_int_equal(write(s, "HELLO 1\n", 8), 8);
    assert_true(sees_eof(s));
    close(s);
    s = host_dial(f);
    char junk[64];
    memset(junk, '7', sizeof junk);   /* no newline within the limit */
    assert_int_equal(write(s, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_true(sees_eof(s));
    close(s);
    assert_true(no_packet_within(f, 100));
    /* a command split over two writes still works */
    s = host_dial(f);
    assert_int_equal(write(s, "CONN", 4), 4);
    usleep(20000);
    assert_int_equal(write(s, "ECT 9\n", 6), 6);
    struct pkt h;
    assert_true(recv_pkt(f, &h, NULL, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
    assert_int_equal(h.dst_port, 9);
    close(s);
}

static void test_parse_connect(void **state)
{
    (void)state;
    uint32_t port = 0;
    assert_int_equal(vsock_uds_parse_connect("CONNECT 52\n", 11, &port), 0);
    assert_int_equal(port, 52);
    assert_int_equal(vsock_uds_parse_connect("CONNECT 4294967295\n", 19, &port), 0);
    assert_int_equal(port, 4294967295u);
    assert_int_equal(vsock_uds_parse_connect("CONNECT 4294967296\n", 19, &port), -EINVAL);
    assert_int_equal(vsock_uds_parse_connect("CONNECT \n", 9, &port), -EINVAL);
    assert_int_equal(vsock_uds_parse_connect("CONNECT 5x\n", 11, &port), -EINVAL);
    assert_int_equal(vsock_uds_parse_connect("connect 5\n", 10, &port), -EINVAL);
    assert_int_equal(vsock_uds_parse_connect("CONNECT 5", 9, &port), -EINVAL);
}

static void test_small_rx_buffer_needs_reset(void **state)
{
    struct vfx *f = *state;
    bringup(f, false);
    tq_post_at(&f->d, &f->rx, 0, f->rx.data, 10, VIRTQ_DESC_F_WRITE);
    send_pkt(f, gpkt(778, 5001, VIRTIO_VSOCK_OP_REQUEST), NULL);   /* wants an RST sent */
    for (int k = 0; k < 5000 && !(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); k++)
        usleep(1000);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_rx_buffer_outside_ram(void **state)
{
    struct vfx *f = *state;
    bringup(f, false);
    tq_post_at(&f->d, &f->rx, 0, RAM_BASE + RAM_SIZE - 20, RXLEN, VIRTQ_DESC_F_WRITE);
    send_pkt(f, gpkt(778, 5001, VIRTIO_VSOCK_OP_REQUEST), NULL);
    for (int k = 0; k < 5000 && !(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); k++)
        usleep(1000);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_resets(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    uint32_t hp;
    int s = host_connect(f, 1234, 65536, &hp);
    /* the driver resets the device: host sockets are closed */
    tdrv_w32(&f->d, VIRTIO_MMIO_STATUS, 0);
    assert_true(sees_eof(s));
    close(s);

    /* the host resets the transport: connections dropped, event sent */
    bringup(f, true);
    tq_post_at(&f->d, &f->ev, 0, f->ev.data, 4, VIRTQ_DESC_F_WRITE);
    s = host_connect(f, 1234, 65536, &hp);
    memset(slot(&f->d, &f->ev, 0), 0xff, 4);
    virtio_vsock_transport_reset(f->vs);
    uint32_t id, len;
    assert_true(tq_next_used(&f->d, &f->ev, &id, &len, 5000));
    assert_int_equal(len, 4);
    assert_int_equal(get32(slot(&f->d, &f->ev, 0)), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
    assert_true(sees_eof(s));
    close(s);
    struct virtio_vsock_info info;
    virtio_vsock_info(f->vs, &info);
    assert_int_equal(info.connections, 0);
}

static void test_many_connections(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    enum { N = 6 };
    int s[N];
    uint32_t hp[N];
    for (int i = 0; i < N; i++)
        s[i] = host_connect(f, 100 + (uint32_t)i, 65536, &hp[i]);
    for (int i = 0; i < N; i++) {
        char msg[2] = {'c', (char)('0' + i)};
        struct pkt w = gpkt(100 + (uint32_t)i, hp[i], VIRTIO_VSOCK_OP_RW);
        w.len = 2;
        send_pkt(f, w, msg);
    }
    for (int i = N - 1; i >= 0; i--) {
        char buf[2], want[2] = {'c', (char)('0' + i)};
        read_exact(s[i], buf, 2);
        assert_memory_equal(buf, want, 2);
        close(s[i]);
    }
}

static int load_state(struct vfx *f, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return virtio_mmio_load(f->d.t, &r, e);
}

/* Connections do not survive a snapshot: the restored device tells the
 * guest with a TRANSPORT_RESET event, its queues go on where they were,
 * and new connections work. */
static void test_snapshot_restore(void **state)
{
    struct vfx *f = *state;
    bringup(f, true);
    tq_post_at(&f->d, &f->ev, 0, f->ev.data, 4, VIRTQ_DESC_F_WRITE);
    uint32_t hp;
    int s = host_connect(f, 1234, 65536, &hp);
    assert_int_equal(write(s, "ping", 4), 4);
    struct pkt h;
    char data[4096];
    assert_true(recv_pkt(f, &h, data, 5000));
    assert_memory_equal(data, "ping", 4);

    /* Snapshot with the I/O thread stopped, then the restore: the old
     * device goes (its host sockets with it), a new one is made from the
     * same options and loaded before its fds reach the event loop. */
    event_loop_destroy(f->loop);
    f->loop = NULL;
    struct snap_writer *w = &f->snap;
    snapw_init(w);
    assert_int_equal(virtio_mmio_save(f->d.t, w), 0);
    virtio_vsock_destroy(f->vs);
    assert_true(sees_eof(s));
    close(s);
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e = {{0}};
    struct virtio_vsock_options o = {.guest_cid = CID, .uds_path = f->path};
    if (virtio_vsock_create(&f->vs, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_vsock_create: %s", e.text);
    f->d.t = virtio_vsock_mmio(f->vs);

    /* Refused: every truncation, another version, another CID. */
    for (size_t n = 0; n < w->len; n++)
        assert_int_equal(load_state(f, w->buf, n, &e), -EINVAL);
    uint8_t *bad = f->bad = malloc(w->len);
    size_t dev = w->len - 15;   /* the device's part: version, cid, rx held, head */
    /* After "ping" the device took the next rx buffer and found the
     * socket empty: it holds that buffer, which the restore takes back. */
    assert_int_equal(w->buf[dev + 12], 1);
    memcpy(bad, w->buf, w->len);
    bad[dev] = 9;
    assert_int_equal(load_state(f, bad, w->len, &e), -EINVAL);
    assert_non_null(strstr(e.text, "virtio-vsock: state version 9"));
    memcpy(bad, w->buf, w->len);
    bad[dev + 4] = 4;
    assert_int_equal(load_state(f, bad, w->len, &e), -EINVAL);
    assert_non_null(strstr(e.text, "virtio-vsock: the snapshot's guest CID 4 is not the configured 3"));
    memcpy(bad, w->buf, w->len);
    bad[dev + 12] = 1;
    bad[dev + 13] = 200;   /* a held rx chain at a head past the queue */
    bad[dev + 14] = 0;
    assert_int_equal(load_state(f, bad, w->len, &e), -EINVAL);
    assert_non_null(strstr(e.text, "virtio-vsock: held receive chain"));

    /* The event slot is marked before the I/O thread runs: it may deliver
     * the reset as soon as it starts. */
    memset(slot(&f->d, &f->ev, 0), 0xff, 4);
    if (load_state(f, w->buf, w->len, &e) < 0)
        fail_msg("virtio_mmio_load: %s", e.text);
    assert_int_equal(event_loop_create(&f->loop, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_vsock_host_fd(f->vs), virtio_vsock_on_host, f->vs, &e), 0);
    assert_int_equal(event_loop_start(f->loop, &e), 0);

    /* The reset event reaches the buffer posted before the snapshot. */
    uint32_t id, len;
    assert_true(tq_next_used(&f->d, &f->ev, &id, &len, 5000));
    assert_int_equal(id, 0);
    assert_int_equal(len, 4);
    assert_int_equal(get32(slot(&f->d, &f->ev, 0)), VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
    assert_true(no_packet_within(f, 50));

    /* New connections both ways, on the rings as they were. */
    s = host_connect(f, 1234, 65536, &hp);
    assert_int_equal(write(s, "again", 5), 5);
    assert_true(recv_pkt(f, &h, data, 5000));
    assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
    assert_memory_equal(data, "again", 5);
    close(s);
    int l = listen_port(f, 5000);
    send_pkt(f, gpkt(777, 5000, VIRTIO_VSOCK_OP_REQUEST), NULL);
    struct pollfd p = {.fd = l, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    int a = accept(l, NULL, NULL);
    assert_true(a >= 0);
    bool responded = false;
    for (int k = 0; k < 4 && !responded; k++) {   /* the first close may be reported first */
        assert_true(recv_pkt(f, &h, NULL, 5000));
        responded = h.op == VIRTIO_VSOCK_OP_RESPONSE && h.dst_port == 777;
    }
    assert_true(responded);
    close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_connect),
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_to_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_to_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_port_gets_rst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_rst_closes_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_connect_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_rx_buffer_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_buffer_outside_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
