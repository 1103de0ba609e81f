/* A virtio-net driver for unit tests: two queues (receive, transmit) over
 * the test driver of virtio_test_driver.h, with buffers in the fake guest
 * RAM. Shared by the virtio-net device and slirp backend tests. Include
 * after virtio_test_driver.h. */
#ifndef MINNOW_TESTS_VIRTIO_NET_TEST_DRIVER_H
#define MINNOW_TESTS_VIRTIO_NET_TEST_DRIVER_H

#define RXQ_BASE (RAM_BASE + 0x0000)
#define TXQ_BASE (RAM_BASE + 0x3000)
#define QSIZE 64u
#define RXBUF(i) (RAM_BASE + 0x10000 + 0x800ull * (i))   /* 2 KiB each */
#define RXBUF_SIZE 0x800u
#define TXBUF(i) (RAM_BASE + 0x40000 + 0x1000ull * (i))  /* 4 KiB each */
#define BASE_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) | \
                       VIRTIO_BIT(VIRTIO_NET_F_STATUS))

struct nq {
    unsigned qi;
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen;
};

static void nq_setup(struct tdrv *d, struct nq *q, unsigned qi, uint64_t base)
{
    *q = (struct nq){.qi = qi, .desc = base, .avail = base + 0x1000, .used = base + 0x2000};
    memset(tdrv_host(d, base), 0, 0x3000);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_SEL, qi);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void nq_desc(struct tdrv *d, struct nq *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                    uint16_t next)
{
    tdrv_desc_in(d, q->desc, i, addr, len, flags, next);
}

static void nq_avail(struct tdrv *d, struct nq *q, uint16_t head)
{
    *(uint16_t *)tdrv_host(d, q->avail + 4 + 2u * (q->avail_idx % QSIZE)) = htole16(head);
    q->avail_idx++;
    atomic_store_explicit((_Atomic uint16_t *)tdrv_host(d, q->avail + 2), htole16(q->avail_idx),
                          memory_order_release);
}

static void nq_kick(struct tdrv *d, struct nq *q)
{
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q->qi);
}

static uint16_t nq_used_idx(struct tdrv *d, struct nq *q)
{
    return le16toh(atomic_load_explicit((_Atomic uint16_t *)tdrv_host(d, q->used + 2), memory_order_acquire));
}

static void nq_used_elem(struct tdrv *d, struct nq *q, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *p = tdrv_host(d, q->used + 4 + 8u * (i % QSIZE));
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    *id = le32toh(a);
    *len = le32toh(b);
}

/* Waits up to ms for a used entry we have not seen yet. */
static bool nq_wait_new(struct tdrv *d, struct nq *q, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (nq_used_idx(d, q) != q->used_seen)
            return true;
        usleep(1000);
    }
    return nq_used_idx(d, q) != q->used_seen;
}

/* Bring-up with both queues; rx buffers are not posted. */
static void net_bringup(struct tdrv *d, struct nq *rx, struct nq *tx, uint64_t features)
{
    uint32_t s = tdrv_negotiate(d, features);
    assert_true(s & VIRTIO_STATUS_FEATURES_OK);
    nq_setup(d, rx, VIRTIO_NET_RX, RXQ_BASE);
    nq_setup(d, tx, VIRTIO_NET_TX, TXQ_BASE);
    tdrv_driver_ok(d);
    assert_int_equal(tdrv_r32(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

/* Posts receive buffer i (descriptor i, RXBUF(i), len bytes), no kick. */
static void rx_post(struct tdrv *d, struct nq *rx, unsigned i, uint32_t len)
{
    nq_desc(d, rx, i, RXBUF(i), len, VIRTQ_DESC_F_WRITE, 0);
    nq_avail(d, rx, (uint16_t)i);
}

static void rx_post_all(struct tdrv *d, struct nq *rx)
{
    for (unsigned i = 0; i < QSIZE; i++)
        rx_post(d, rx, i, RXBUF_SIZE);
    nq_kick(d, rx);
}

/* Takes the next received frame (one buffer per frame: without MRG_RXBUF,
 * or frames that fit one buffer), reposts its buffer. Returns the frame
 * length without the header, or -1 after ms without one. */
static int rx_recv(struct tdrv *d, struct nq *rx, uint8_t *frame, size_t cap, int ms)
{
    if (!nq_wait_new(d, rx, ms))
        return -1;
    uint32_t id, len;
    nq_used_elem(d, rx, rx->used_seen++, &id, &len);
    assert_true(id < QSIZE);
    assert_true(len >= VIRTIO_NET_HDR_SIZE && len <= RXBUF_SIZE);
    uint8_t *p = tdrv_host(d, RXBUF(id));
    uint16_t nb;
    memcpy(&nb, p + VIRTIO_NET_HDR_NUM_BUFFERS, 2);
    assert_int_equal(le16toh(nb), 1);
    assert_int_equal(p[0], 0);   /* flags */
    assert_int_equal(p[1], 0);   /* gso_type */
    size_t n = len - VIRTIO_NET_HDR_SIZE;
    assert_true(n <= cap);
    memcpy(frame, p + VIRTIO_NET_HDR_SIZE, n);
    rx_post(d, rx, id, RXBUF_SIZE);
    nq_kick(d, rx);
    return (int)n;
}

/* Sends one frame (header and frame in two descriptors, from slot k) and
 * waits until the device has used it. */
static void tx_send(struct tdrv *d, struct nq *tx, unsigned k, const void *frame, size_t len)
{
    assert_true(len + VIRTIO_NET_HDR_SIZE <= 0x1000);
    uint8_t *p = tdrv_host(d, TXBUF(k));
    memset(p, 0, VIRTIO_NET_HDR_SIZE);
    memcpy(p + 16, frame, len);
    unsigned i = (2 * k) % QSIZE;
    nq_desc(d, tx, i, TXBUF(k), VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    nq_desc(d, tx, i + 1, TXBUF(k) + 16, (uint32_t)len, 0, 0);
    nq_avail(d, tx, (uint16_t)i);
    nq_kick(d, tx);
    assert_true(nq_wait_new(d, tx, 5000));
    uint32_t id, used_len;
    nq_used_elem(d, tx, tx->used_seen++, &id, &used_len);
    assert_int_equal(id, i);
    assert_int_equal(used_len, 0);
}
#endif
