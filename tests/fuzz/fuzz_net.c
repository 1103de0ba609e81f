/* libFuzzer harness for what a guest sends through virtio-net into
 * user-mode networking: the input is a sequence of frames (each a 2-byte
 * little-endian length and that many bytes; a length past the end takes
 * the rest), each put in one transmit chain (a zero virtio_net_hdr, then
 * the frame) of a virtio-net device driven through its virtio-mmio
 * registers over a fake guest RAM, processed on this thread; the device's
 * backend is what minnow opens for --net user, the validator of
 * backends/net_guard.h in front of libslirp, here in process (a helper
 * process per input would only slow the fuzzer). After each input slirp's
 * timers and sockets are serviced, and the guest's receive buffers are
 * given back so slirp's answers keep flowing.
 *
 * slirp runs in restricted mode: random frames must not become traffic to
 * real addresses, and everything slirp parses before it decides where a
 * packet goes (Ethernet, ARP, IPv4/IPv6 headers, reassembly, ICMP,
 * DHCP, the TCP/UDP headers) still runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/net_guard.h"
#include "backends/net_slirp.h"
#include "devices/virtio_net.h"
#include "../unit/virtio_test_driver.h"

#define QS 64u
#define RX_Q (RAM_BASE + 0x0000)
#define TX_Q (RAM_BASE + 0x3000)
#define RX_BUF(i) (RAM_BASE + 0x10000 + 0x800ull * (i))   /* 2 KiB each, 128 KiB */
#define TX_BUF (RAM_BASE + 0x40000)                         /* one frame, up to 64 KiB + header */
#define RX_BUF_SIZE 0x800u

struct q {
    uint64_t desc, avail, used;
    uint16_t avail_idx, used_seen;
};

static struct tdrv d;
static struct virtio_net *net;
static struct q rxq, txq;

static void q_setup(struct q *q, unsigned qi, uint64_t base)
{
    *q = (struct q){.desc = base, .avail = base + 0x1000, .used = base + 0x2000};
    memset(tdrv_host(&d, base), 0, 0x3000);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_SEL, qi);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_NUM, QS);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(q->desc >> 32));
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(q->avail >> 32));
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(q->used >> 32));
    tdrv_w32(&d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static void q_desc(struct q *q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = tdrv_host(&d, q->desc + 16ull * i);
    uint64_t a = htole64(addr);
    uint32_t l = htole32(len);
    uint16_t f = htole16(flags), n = htole16(next);
    memcpy(p, &a, 8);
    memcpy(p + 8, &l, 4);
    memcpy(p + 12, &f, 2);
    memcpy(p + 14, &n, 2);
}

static void q_avail(struct q *q, uint16_t head)
{
    uint8_t *ring = tdrv_host(&d, q->avail);
    uint16_t h = htole16(head);
    memcpy(ring + 4 + 2 * (q->avail_idx % QS), &h, 2);
    q->avail_idx++;
    uint16_t idx = htole16(q->avail_idx);
    __atomic_store_n((uint16_t *)(void *)(ring + 2), idx, __ATOMIC_RELEASE);
}

static uint16_t q_used_idx(struct q *q)
{
    return le16toh(__atomic_load_n((uint16_t *)tdrv_host(&d, q->used + 2), __ATOMIC_ACQUIRE));
}

/* Gives every receive buffer the device used back to it. */
static void rx_refill(void)
{
    uint16_t used = q_used_idx(&rxq);
    bool posted = false;
    while (rxq.used_seen != used) {
        uint32_t id;
        memcpy(&id, tdrv_host(&d, rxq.used + 4 + 8ull * (rxq.used_seen % QS)), 4);
        id = le32toh(id) % QS;
        q_avail(&rxq, (uint16_t)id);
        rxq.used_seen++;
        posted = true;
    }
    if (posted)
        tdrv_kick(&d, VIRTIO_NET_RX);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    tdrv_init_ram(&d);
    d.inline_io = true;
    struct errmsg e = {{0}};
    struct net_slirp_options so = {.restricted = true};
    struct net_backend *stack, *be;
    if (net_slirp_open(&stack, &so, &e) < 0 || net_guard_wrap(&be, stack, &e) < 0) {
        fprintf(stderr, "fuzz_net: %s\n", e.text);
        exit(2);
    }
    struct virtio_net_options o = {.backend = be, .has_mac = true, .mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}};
    struct irq_line irq = tdrv_irq_line(&d);
    if (virtio_net_create(&net, &o, &d.mem, &irq, &e) < 0) {
        fprintf(stderr, "fuzz_net: %s\n", e.text);
        exit(2);
    }
    d.t = virtio_net_mmio(net);
    tdrv_negotiate(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_NET_F_MAC) |
                       VIRTIO_BIT(VIRTIO_NET_F_STATUS) | VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
    q_setup(&rxq, VIRTIO_NET_RX, RX_Q);
    q_setup(&txq, VIRTIO_NET_TX, TX_Q);
    tdrv_driver_ok(&d);
    for (unsigned i = 0; i < QS; i++) {
        q_desc(&rxq, i, RX_BUF(i), RX_BUF_SIZE, VIRTQ_DESC_F_WRITE, 0);
        q_avail(&rxq, (uint16_t)i);
    }
    tdrv_kick(&d, VIRTIO_NET_RX);
    return 0;
}

static void send_one(const uint8_t *frame, size_t len)
{
    uint8_t *p = tdrv_host(&d, TX_BUF);
    memset(p, 0, VIRTIO_NET_HDR_SIZE);
    memcpy(p + VIRTIO_NET_HDR_SIZE, frame, len);
    q_desc(&txq, 0, TX_BUF, VIRTIO_NET_HDR_SIZE, VIRTQ_DESC_F_NEXT, 1);
    q_desc(&txq, 1, TX_BUF + VIRTIO_NET_HDR_SIZE, (uint32_t)len, 0, 0);
    q_avail(&txq, 0);
    tdrv_kick(&d, VIRTIO_NET_TX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    while (pos + 2 <= size) {
        size_t len = (size_t)(data[pos] | data[pos + 1] << 8);
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        if (len > NET_FRAME_MAX)
            len = NET_FRAME_MAX;
        send_one(data + pos, len);
        pos += len;
        virtio_net_on_host(net);
        rx_refill();
    }
    virtio_net_on_host(net);
    rx_refill();
    return 0;
}
