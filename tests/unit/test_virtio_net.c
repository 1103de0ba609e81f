/* Unit tests for devices/virtio_net: a guest driver (tests/unit/
 * virtio_test_driver.h, with both queues laid out here) talks to the device
 * through the virtio-mmio registers and a fake guest RAM; the device runs on
 * a real I/O thread. Most tests use a fake backend that records what the
 * guest sends and injects frames on the I/O thread the way a TAP would
 * (honouring want_rx); one runs against a real TAP device the test creates
 * (we are root here and in CI). The slirp backend has its own file,
 * test_net_slirp.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/net_tap.h"
#include "devices/virtio_net.h"
#include "vmm/event_loop.h"
#include "virtio_test_driver.h"

#include "virtio_net_test_driver.h"

static bool wait_needs_reset(struct tdrv *d)
{
    for (int i = 0; i < 5000; i++) {
        if (tdrv_r32(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return true;
        usleep(1000);
    }
    return false;
}

/* ---- a fake backend ---- */

#define FAKE_Q 128u
#define FAKE_FRAME 2048u

struct fake_be {
    struct net_backend base;
    pthread_mutex_t lock;
    uint8_t frame[FAKE_Q][FAKE_FRAME];   /* to inject, a ring */
    unsigned len[FAKE_Q], head, count;
    bool ignore_want;     /* deliver even when told not to, as slirp's timers may */
    atomic_bool want;
    atomic_int want_off;  /* times want_rx(false) was called */
    uint8_t sent[16][FAKE_FRAME];
    unsigned sent_len[16];
    uint8_t buf[FAKE_FRAME];             /* used on the I/O thread only */
    atomic_uint n_sent;
};

static void fake_signal(struct fake_be *f)
{
    uint64_t one = 1;
    assert_int_equal(write(f->base.poll_fd, &one, 8), 8);
}

static int fake_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct fake_be *f = (struct fake_be *)b;
    unsigned k = atomic_load(&f->n_sent);
    if (k >= 16)
        return -ENOBUFS;
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        assert_true(n + iov[i].iov_len <= FAKE_FRAME);
        memcpy(f->sent[k] + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    f->sent_len[k] = (unsigned)n;
    atomic_store(&f->n_sent, k + 1);
    return 0;
}

static void fake_service(struct net_backend *b)
{
    struct fake_be *f = (struct fake_be *)b;
    uint64_t v;
    ssize_t r = read(f->base.poll_fd, &v, 8);
    (void)r;
    pthread_mutex_lock(&f->lock);
    while (f->count && (atomic_load(&f->want) || f->ignore_want)) {
        unsigned len = f->len[f->head];
        memcpy(f->buf, f->frame[f->head], len);
        f->head = (f->head + 1) % FAKE_Q;
        f->count--;
        pthread_mutex_unlock(&f->lock);
        net_backend_deliver(b, f->buf, len);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
}

static void fake_want_rx(struct net_backend *b, bool want)
{
    struct fake_be *f = (struct fake_be *)b;
    atomic_store(&f->want, want);
    if (!want)
        atomic_fetch_add(&f->want_off, 1);
    else
        fake_signal(f);   /* what waits in "the kernel" may come now */
}

static void fake_close(struct net_backend *b)
{
    struct fake_be *f = (struct fake_be *)b;
    close(f->base.poll_fd);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static const struct net_backend_ops fake_ops = {
    .send = fake_send, .service = fake_service, .want_rx = fake_want_rx, .close = fake_close,
};

static struct fake_be *fake_new(void)
{
    struct fake_be *f = calloc(1, sizeof *f);
    f->base.ops = &fake_ops;
    f->base.poll_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(f->base.poll_fd >= 0);
    pthread_mutex_init(&f->lock, NULL);
    atomic_store(&f->want, true);
    return f;
}

/* A test frame: to the guest's MAC, EtherType 0x88b5 (local experimental),
 * payload bytes derived from seq. */
static size_t make_frame(uint8_t *p, size_t len, unsigned seq, const uint8_t dst[6])
{
    memcpy(p, dst, 6);
    static const uint8_t src[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    memcpy(p + 6, src, 6);
    p[12] = 0x88;
    p[13] = 0xb5;
    for (size_t i = 14; i < len; i++)
        p[i] = (uint8_t)(seq * 31 + i);
    return len;
}

static void inject(struct fake_be *f, unsigned seq, size_t len, const uint8_t dst[6])
{
    pthread_mutex_lock(&f->lock);
    assert_true(f->count < FAKE_Q);
    unsigned tail = (f->head + f->count) % FAKE_Q;
    f->len[tail] = (unsigned)make_frame(f->frame[tail], len, seq, dst);
    f->count++;
    pthread_mutex_unlock(&f->lock);
    fake_signal(f);
}

/* ---- fixture ---- */

static const uint8_t GUEST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct nfx {
    struct tdrv d;
    struct event_loop *loop;
    struct virtio_net *net;
    struct fake_be *fb;    /* NULL with the TAP backend */
    struct nq rx, tx;
};

static void fixture_start(struct nfx *f, struct net_backend *be)
{
    struct errmsg e = {{0}};
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
}

static int setup_fake(void **state)
{
    struct nfx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    f->fb = fake_new();
    fixture_start(f, &f->fb->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct nfx *f = *state;
    event_loop_destroy(f->loop);
    virtio_net_destroy(f->net);
    tdrv_free(&f->d);
    free(f);
    return 0;
}

static void stats(struct nfx *f, struct virtio_net_stats *s)
{
    virtio_net_stats(f->net, s);
}

static bool wait_stat(struct nfx *f, size_t field_off, uint64_t want)
{
    for (int i = 0; i < 5000; i++) {
        struct virtio_net_stats s;
        stats(f, &s);
        if (*(uint64_t *)((char *)&s + field_off) == want)
            return true;
        usleep(1000);
    }
    return false;
}
#define WAIT_STAT(f, field, v) wait_stat(f, offsetof(struct virtio_net_stats, field), v)

/* ---- tests ---- */

static void test_config_and_features(void **state)
{
    struct nfx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
    uint64_t feat = tdrv_device_features(&f->d);
    assert_true(feat & VIRTIO_BIT(VIRTIO_NET_F_MAC));
    assert_true(feat & VIRTIO_BIT(VIRTIO_NET_F_STATUS));
    assert_true(feat & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    assert_false(feat & VIRTIO_BIT(VIRTIO_NET_F_CSUM));
    assert_false(feat & VIRTIO_BIT(VIRTIO_NET_F_GUEST_CSUM));
    for (unsigned i = 0; i < 6; i++)
        assert_int_equal(virtio_mmio_ops.read(f->d.t, 0x100 + VIRTIO_NET_CFG_MAC + i, 1), GUEST_MAC[i]);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, 0x100 + VIRTIO_NET_CFG_STATUS, 2), VIRTIO_NET_S_LINK_UP);
    tdrv_w32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
    uint8_t mac[6];
    virtio_net_mac(f->net, mac);
    assert_memory_equal(mac, GUEST_MAC, 6);
}

static void test_random_mac_and_bad_mac(void **state)
{
    (void)state;
    struct tdrv d;
    tdrv_init_ram(&d);
    struct errmsg e = {{0}};
    struct virtio_net *a, *b;
    struct virtio_net_options o = {.backend = &fake_new()->base};
    assert_int_equal(virtio_net_create(&a, &o, &d.mem, NULL, &e), 0);
    o.backend = &fake_new()->base;
    assert_int_equal(virtio_net_create(&b, &o, &d.mem, NULL, &e), 0);
    uint8_t ma[6], mb[6];
    virtio_net_mac(a, ma);
    virtio_net_mac(b, mb);
    assert_int_equal(ma[0] & 3, 2);   /* unicast, locally administered */
    assert_memory_not_equal(ma, mb, 6);
    virtio_net_destroy(a);
    virtio_net_destroy(b);
    o.backend = &fake_new()->base;
    o.has_mac = true;
    memcpy(o.mac, (uint8_t[6]){0x01, 0, 0x5e, 0, 0, 1}, 6);
    assert_int_equal(virtio_net_create(&a, &o, &d.mem, NULL, &e), -EINVAL);
    assert_string_equal(e.text, "virtio-net: MAC address 01:00:5e:00:00:01 is not a unicast station address");
    o.backend = NULL;
    assert_int_equal(virtio_net_create(&a, &o, &d.mem, NULL, &e), -EINVAL);
    assert_string_equal(e.text, "virtio-net: no network backend given");
    tdrv_free(&d);
}

static void test_tx_reaches_backend(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
    uint8_t fr[300];
    make_frame(fr, sizeof fr, 7, (uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    tx_send(&f->d, &f->tx, 0, fr, sizeof fr);
    assert_int_equal(atomic_load(&f->fb->n_sent), 1);
    assert_int_equal(f->fb->sent_len[0], sizeof fr);
    assert_memory_equal(f->fb->sent[0], fr, sizeof fr);
    /* a frame in five pieces, through an indirect table */
    uint8_t big[1514];
    make_frame(big, sizeof big, 8, GUEST_MAC);
    uint64_t tbl = TXBUF(5), data = TXBUF(6);
    memset(tdrv_host(&f->d, data), 0, VIRTIO_NET_HDR_SIZE);
    memcpy(tdrv_host(&f->d, data + 64), big, sizeof big);
    tdrv_desc_in(&f->d, tbl, 0, data, 5, VIRTQ_DESC_F_NEXT, 1);              /* header split too */
    tdrv_desc_in(&f->d, tbl, 1, data + 5, 7, VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc_in(&f->d, tbl, 2, data + 64, 100, VIRTQ_DESC_F_NEXT, 3);
    tdrv_desc_in(&f->d, tbl, 3, data + 164, 1000, VIRTQ_DESC_F_NEXT, 4);
    tdrv_desc_in(&f->d, tbl, 4, data + 1164, 414, 0, 0);
    nq_desc(&f->d, &f->tx, 10, tbl, 5 * 16, VIRTQ_DESC_F_INDIRECT, 0);
    nq_avail(&f->d, &f->tx, 10);
    nq_kick(&f->d, &f->tx);
    assert_true(nq_wait_new(&f->d, &f->tx, 5000));
    f->tx.used_seen++;
    assert_int_equal(atomic_load(&f->fb->n_sent), 2);
    assert_int_equal(f->fb->sent_len[1], sizeof big);
    assert_memory_equal(f->fb->sent[1], big, sizeof big);
    struct virtio_net_stats s;
    stats(f, &s);
    assert_int_equal(s.tx_frames, 2);
    assert_int_equal(s.tx_bad, 0);
}

static void test_rx_delivers(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    rx_post_all(&f->d, &f->rx);
    for (unsigned k = 0; k < 3; k++)
        inject(f->fb, k, 60 + 500 * k, GUEST_MAC);
    for (unsigned k = 0; k < 3; k++) {
        uint8_t got[RXBUF_SIZE], want[RXBUF_SIZE];
        int n = rx_recv(&f->d, &f->rx, got, sizeof got, 5000);
        assert_int_equal(n, 60 + 500 * k);
        make_frame(want, (size_t)n, k, GUEST_MAC);
        assert_memory_equal(got, want, (size_t)n);
    }
    assert_true(atomic_load(&f->d.irq_raises) >= 1);
}

/* Without buffers, the first frame is held and the backend told to stop;
 * the others wait in the backend. Buffers deliver all of them, in order. */
static void test_backpressure(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    for (unsigned k = 0; k < 5; k++)
        inject(f->fb, k, 100 + k, GUEST_MAC);
    assert_true(WAIT_STAT(f, rx_held, 1));
    usleep(20000);
    assert_false(atomic_load(&f->fb->want));
    pthread_mutex_lock(&f->fb->lock);
    unsigned waiting = f->fb->count;
    pthread_mutex_unlock(&f->fb->lock);
    assert_int_equal(waiting, 4);          /* nothing read past the held one */
    struct virtio_net_stats s;
    stats(f, &s);
    assert_int_equal(s.rx_dropped, 0);
    assert_int_equal(s.rx_frames, 0);
    rx_post_all(&f->d, &f->rx);
    for (unsigned k = 0; k < 5; k++) {
        uint8_t got[RXBUF_SIZE], want[RXBUF_SIZE];
        int n = rx_recv(&f->d, &f->rx, got, sizeof got, 5000);
        assert_int_equal(n, 100 + k);
        make_frame(want, (size_t)n, k, GUEST_MAC);
        assert_memory_equal(got, want, (size_t)n);
    }
    assert_true(atomic_load(&f->fb->want));
    stats(f, &s);
    assert_int_equal(s.rx_held, 0);
    assert_int_equal(s.rx_frames, 5);
}

/* A backend that goes on delivering (slirp's timers): the hold is bounded,
 * the excess is dropped and counted, what was held arrives in order. */
static void test_hold_is_bounded(void **state)
{
    struct nfx *f = *state;
    f->fb->ignore_want = true;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    for (unsigned k = 0; k < 100; k++)
        inject(f->fb, k, 64, GUEST_MAC);
    assert_true(WAIT_STAT(f, rx_dropped, 100 - VIRTIO_NET_RX_HOLD));
    struct virtio_net_stats s;
    stats(f, &s);
    assert_int_equal(s.rx_held, VIRTIO_NET_RX_HOLD);
    rx_post_all(&f->d, &f->rx);
    for (unsigned k = 0; k < VIRTIO_NET_RX_HOLD; k++) {
        uint8_t got[RXBUF_SIZE], want[64];
        assert_int_equal(rx_recv(&f->d, &f->rx, got, sizeof got, 5000), 64);
        make_frame(want, 64, k, GUEST_MAC);
        assert_memory_equal(got, want, 64);
    }
    stats(f, &s);
    assert_int_equal(s.rx_held, 0);
    assert_int_equal(s.rx_frames, VIRTIO_NET_RX_HOLD);
}

/* MRG_RXBUF: a frame spans several small buffers; num_buffers says how
 * many; a frame waits (holding what it took) until enough buffers exist. */
static void test_mergeable_rx(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    for (unsigned i = 0; i < 2; i++)
        rx_post(&f->d, &f->rx, i, 512);
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 9, 1400, GUEST_MAC);   /* needs 1412 bytes: three buffers */
    assert_true(WAIT_STAT(f, rx_held, 1));
    assert_int_equal(nq_used_idx(&f->d, &f->rx), 0);
    rx_post(&f->d, &f->rx, 2, 512);
    rx_post(&f->d, &f->rx, 3, 512);
    nq_kick(&f->d, &f->rx);
    for (int i = 0; i < 5000 && nq_used_idx(&f->d, &f->rx) < 3; i++)
        usleep(1000);
    assert_int_equal(nq_used_idx(&f->d, &f->rx), 3);
    uint8_t got[2048];
    size_t n = 0;
    static const uint32_t lens[3] = {512, 512, 388};
    for (uint16_t k = 0; k < 3; k++) {
        uint32_t id, len;
        nq_used_elem(&f->d, &f->rx, k, &id, &len);
        assert_int_equal(id, k);
        assert_int_equal(len, lens[k]);
        memcpy(got + n, tdrv_host(&f->d, RXBUF(id)), len);
        n += len;
    }
    uint16_t nb;
    memcpy(&nb, got + VIRTIO_NET_HDR_NUM_BUFFERS, 2);
    assert_int_equal(le16toh(nb), 3);
    uint8_t want[1400];
    make_frame(want, sizeof want, 9, GUEST_MAC);
    assert_int_equal(n - VIRTIO_NET_HDR_SIZE, sizeof want);
    assert_memory_equal(got + VIRTIO_NET_HDR_SIZE, want, sizeof want);
    /* buffer 3 is left for the next frame, which fits it alone */
    inject(f->fb, 10, 200, GUEST_MAC);
    for (int i = 0; i < 5000 && nq_used_idx(&f->d, &f->rx) < 4; i++)
        usleep(1000);
    uint32_t id, len;
    nq_used_elem(&f->d, &f->rx, 3, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 212);
    uint8_t *p = tdrv_host(&f->d, RXBUF(3));
    assert_int_equal(p[VIRTIO_NET_HDR_NUM_BUFFERS], 1);
    make_frame(want, 200, 10, GUEST_MAC);
    assert_memory_equal(p + VIRTIO_NET_HDR_SIZE, want, 200);
}

/* ---- hostile guests ---- */

static void tx_raw_and_wait(struct nfx *f, uint16_t head)
{
    nq_avail(&f->d, &f->tx, head);
    nq_kick(&f->d, &f->tx);
    assert_true(nq_wait_new(&f->d, &f->tx, 5000));
    uint32_t id, len;
    nq_used_elem(&f->d, &f->tx, f->tx.used_seen++, &id, &len);
    assert_int_equal(id, head);
    assert_int_equal(len, 0);
}

static void test_tx_bad_chains_fail_alone(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    uint8_t fr[100];
    make_frame(fr, sizeof fr, 1, GUEST_MAC);
    uint8_t *p = tdrv_host(&f->d, TXBUF(0));
    memset(p, 0, VIRTIO_NET_HDR_SIZE);
    memcpy(p + VIRTIO_NET_HDR_SIZE, fr, sizeof fr);
    /* 1: a device-writable descriptor after the frame */
    nq_desc(&f->d, &f->tx, 0, TXBUF(0), VIRTIO_NET_HDR_SIZE + sizeof fr, VIRTQ_DESC_F_NEXT, 1);
    nq_desc(&f->d, &f->tx, 1, TXBUF(1), 64, VIRTQ_DESC_F_WRITE, 0);
    tx_raw_and_wait(f, 0);
    /* 2: a header shorter than virtio_net_hdr */
    nq_desc(&f->d, &f->tx, 2, TXBUF(0), 8, 0, 0);
    tx_raw_and_wait(f, 2);
    /* 3: a whole header but less than an Ethernet header behind it */
    nq_desc(&f->d, &f->tx, 3, TXBUF(0), VIRTIO_NET_HDR_SIZE + 10, 0, 0);
    tx_raw_and_wait(f, 3);
    /* 4: NEEDS_CSUM without VIRTIO_NET_F_CSUM */
    p[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    nq_desc(&f->d, &f->tx, 4, TXBUF(0), VIRTIO_NET_HDR_SIZE + sizeof fr, 0, 0);
    tx_raw_and_wait(f, 4);
    /* 5: GSO without any GSO feature */
    p[0] = 0;
    p[1] = 1;   /* GSO_TCPV4 */
    tx_raw_and_wait(f, 4);
    p[1] = 0;
    /* 6: longer than any Ethernet frame */
    nq_desc(&f->d, &f->tx, 5, RAM_BASE + 0x80000, VIRTIO_NET_HDR_SIZE + NET_FRAME_MAX + 1, 0, 0);
    tx_raw_and_wait(f, 5);
    struct virtio_net_stats s;
    stats(f, &s);
    assert_int_equal(s.tx_bad, 6);
    assert_int_equal(atomic_load(&f->fb->n_sent), 0);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    /* and the device goes on */
    nq_desc(&f->d, &f->tx, 6, TXBUF(0), VIRTIO_NET_HDR_SIZE + sizeof fr, 0, 0);
    tx_raw_and_wait(f, 6);
    assert_int_equal(atomic_load(&f->fb->n_sent), 1);
    assert_memory_equal(f->fb->sent[0], fr, sizeof fr);
}

static void test_tx_outside_ram_needs_reset(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    /* frame runs 100 bytes past the end of RAM */
    nq_desc(&f->d, &f->tx, 0, RAM_BASE + RAM_SIZE - 500, 600, 0, 0);
    nq_avail(&f->d, &f->tx, 0);
    nq_kick(&f->d, &f->tx);
    assert_true(wait_needs_reset(&f->d));
    assert_int_equal(nq_used_idx(&f->d, &f->tx), 0);
    assert_int_equal(atomic_load(&f->fb->n_sent), 0);
    /* an address that wraps around 2^64 */
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    nq_desc(&f->d, &f->tx, 0, UINT64_MAX - 8, 100, 0, 0);
    nq_avail(&f->d, &f->tx, 0);
    nq_kick(&f->d, &f->tx);
    assert_true(wait_needs_reset(&f->d));
}

static void test_rx_buffer_too_small_without_mrg(void **state)
{
    struct nfx *f = *state;
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    memset(tdrv_host(&f->d, RXBUF(0)), 0xee, 0x800);
    rx_post(&f->d, &f->rx, 0, 100);      /* 100 < 12 + 200 */
    rx_post(&f->d, &f->rx, 1, 6);        /* not even a header */
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 1, 200, GUEST_MAC);
    inject(f->fb, 2, 200, GUEST_MAC);
    for (int i = 0; i < 5000 && nq_used_idx(&f->d, &f->rx) < 2; i++)
        usleep(1000);
    assert_int_equal(nq_used_idx(&f->d, &f->rx), 2);
    uint32_t id, len;
    nq_used_elem(&f->d, &f->rx, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    nq_used_elem(&f->d, &f->rx, 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 0);
    f->rx.used_seen = 2;
    /* nothing written past (or into) the small buffer */
    for (unsigned i = 0; i < 0x800; i++)
        assert_int_equal(((uint8_t *)tdrv_host(&f->d, RXBUF(0)))[i], 0xee);
    struct virtio_net_stats s;
    stats(f, &s);
    assert_int_equal(s.rx_dropped, 2);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    /* a big enough buffer gets the next frame */
    rx_post(&f->d, &f->rx, 2, RXBUF_SIZE);
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 3, 200, GUEST_MAC);
    uint8_t got[RXBUF_SIZE], want[200];
    assert_int_equal(rx_recv(&f->d, &f->rx, got, sizeof got, 5000), 200);
    make_frame(want, 200, 3, GUEST_MAC);
    assert_memory_equal(got, want, 200);
}

static void test_rx_bad_chains_need_reset(void **state)
{
    struct nfx *f = *state;
    char err[256];
    /* a device-readable buffer in a receive chain */
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    nq_desc(&f->d, &f->rx, 0, RXBUF(0), RXBUF_SIZE, 0, 0);
    nq_avail(&f->d, &f->rx, 0);
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 1, 100, GUEST_MAC);
    assert_true(wait_needs_reset(&f->d));
    virtio_mmio_last_error(f->d.t, err, sizeof err);
    assert_non_null(strstr(err, "device-readable"));
    assert_int_equal(nq_used_idx(&f->d, &f->rx), 0);
    /* with MRG_RXBUF, a buffer shorter than the header */
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    rx_post(&f->d, &f->rx, 0, 8);
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 2, 100, GUEST_MAC);
    assert_true(wait_needs_reset(&f->d));
    virtio_mmio_last_error(f->d.t, err, sizeof err);
    assert_non_null(strstr(err, "shorter than the 12-byte header"));
    /* a receive buffer running past the end of RAM */
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    nq_desc(&f->d, &f->rx, 0, RAM_BASE + RAM_SIZE - 1000, 2000, VIRTQ_DESC_F_WRITE, 0);
    nq_avail(&f->d, &f->rx, 0);
    nq_kick(&f->d, &f->rx);
    inject(f->fb, 3, 1500, GUEST_MAC);
    assert_true(wait_needs_reset(&f->d));
    assert_int_equal(nq_used_idx(&f->d, &f->rx), 0);
    /* after a reset the device works again */
    net_bringup(&f->d, &f->rx, &f->tx, BASE_FEATURES);
    rx_post_all(&f->d, &f->rx);
    inject(f->fb, 4, 300, GUEST_MAC);
    uint8_t got[RXBUF_SIZE], want[300];
    int n;
    /* frames held before the reset are gone; the new one arrives */
    do
        n = rx_recv(&f->d, &f->rx, got, sizeof got, 5000);
    while (n > 0 && n != 300);
    assert_int_equal(n, 300);
    make_frame(want, 300, 4, GUEST_MAC);
    assert_memory_equal(got, want, 300);
}

/* ---- TAP ---- */

#define TAP_NAME "mnwtest%d"

struct tapfx {
    struct nfx n;
    char name[IFNAMSIZ];
    int pkt;          /* AF_PACKET socket on the host side of the tap */
    int ifindex;
};

static void tap_delete(const char *name)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) == 0)
        ioctl(fd, TUNSETPERSIST, 0);
    close(fd);
}

static int setup_tap(void **state)
{
    struct tapfx *f = calloc(1, sizeof *f);
    struct stat st;
    if (stat("/dev/net/tun", &st) < 0)
        fail_msg("/dev/net/tun is missing: the TAP test needs the tun driver (modprobe tun; mknod /dev/net/tun c 10 200)");
    /* Create a persistent tap, as `ip tuntap add` would, and let go of it:
     * the backend attaches to an existing device by name. */
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open /dev/net/tun: %s", strerror(errno));
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", TAP_NAME);   /* the kernel fills in %d */
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        fail_msg("TUNSETIFF: %s (the TAP test needs CAP_NET_ADMIN)", strerror(errno));
    snprintf(f->name, sizeof f->name, "%s", ifr.ifr_name);
    assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
    close(fd);
    /* no IPv6 chatter from the host on it; best effort */
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6", f->name);
    int pf = open(path, O_WRONLY);
    if (pf >= 0) {
        ssize_t w = write(pf, "1", 1);
        (void)w;
        close(pf);
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", f->name);
    assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
    f->ifindex = (int)if_nametoindex(f->name);
    assert_true(f->ifindex > 0);
    f->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x88b5));
    assert_true(f->pkt >= 0);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(0x88b5), .sll_ifindex = f->ifindex};
    assert_int_equal(bind(f->pkt, (struct sockaddr *)&sll, sizeof sll), 0);

    tdrv_init_ram(&f->n.d);
    struct net_backend *be;
    struct errmsg e = {{0}};
    if (net_tap_open(&be, f->name, &e) < 0)
        fail_msg("net_tap_open: %s", e.text);
    fixture_start(&f->n, be);
    *state = f;
    return 0;
}

static int teardown_tap(void **state)
{
    struct tapfx *f = *state;
    event_loop_destroy(f->n.loop);
    virtio_net_destroy(f->n.net);
    tdrv_free(&f->n.d);
    close(f->pkt);
    tap_delete(f->name);
    free(f);
    return 0;
}

static void test_tap_both_ways(void **state)
{
    struct tapfx *f = *state;
    struct nfx *n = &f->n;
    net_bringup(&n->d, &n->rx, &n->tx, BASE_FEATURES | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    rx_post_all(&n->d, &n->rx);
    /* guest -> host */
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t fr[200];
    make_frame(fr, sizeof fr, 42, bcast);
    memcpy(fr + 6, GUEST_MAC, 6);
    tx_send(&n->d, &n->tx, 0, fr, sizeof fr);
    bool seen = false;
    for (int tries = 0; tries < 50 && !seen; tries++) {
        struct pollfd pfd = {.fd = f->pkt, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        uint8_t got[2048];
        ssize_t r = recv(f->pkt, got, sizeof got, 0);
        seen = r == (ssize_t)sizeof fr && !memcmp(got, fr, sizeof fr);
    }
    if (!seen)
        fail_msg("the guest's frame did not appear on the host side of %s", f->name);
    /* host -> guest */
    uint8_t hf[300];
    make_frame(hf, sizeof hf, 43, GUEST_MAC);
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_protocol = htons(0x88b5), .sll_ifindex = f->ifindex,
                             .sll_halen = 6};
    memcpy(to.sll_addr, GUEST_MAC, 6);
    assert_int_equal(sendto(f->pkt, hf, sizeof hf, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)sizeof hf);
    seen = false;
    for (int tries = 0; tries < 20 && !seen; tries++) {
        uint8_t got[RXBUF_SIZE];
        int len = rx_recv(&n->d, &n->rx, got, sizeof got, 250);
        seen = len == (int)sizeof hf && !memcmp(got, hf, sizeof hf);
    }
    if (!seen)
        fail_msg("a frame sent into %s did not reach the guest", f->name);
}

static void test_tap_open_errors(void **state)
{
    (void)state;
    struct net_backend *be;
    struct errmsg e = {{0}};
    assert_int_equal(net_tap_open(&be, "mnw-nosuchtap", &e), -ENODEV);
    assert_string_equal(e.text, "tap 'mnw-nosuchtap': no such network interface "
                                "(create it first: ip tuntap add dev mnw-nosuchtap mode tap user $USER)");
    /* an interface that is not a tap: loopback */
    assert_true(net_tap_open(&be, "lo", &e) < 0);
    assert_non_null(strstr(e.text, "tap 'lo': cannot attach"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_and_features, setup_fake, teardown),
        cmocka_unit_test(test_random_mac_and_bad_mac),
        cmocka_unit_test_setup_teardown(test_tx_reaches_backend, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_rx_delivers, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_hold_is_bounded, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_mergeable_rx, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_tx_bad_chains_fail_alone, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_tx_outside_ram_needs_reset, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_rx_buffer_too_small_without_mrg, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_rx_bad_chains_need_reset, setup_fake, teardown),
        cmocka_unit_test_setup_teardown(test_tap_both_ways, setup_tap, teardown_tap),
        cmocka_unit_test(test_tap_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
