/* A tiny virtio driver for the unit tests: it owns a fake guest RAM (a
 * malloc'd buffer of exactly RAM_SIZE bytes at guest physical RAM_BASE, so
 * ASan catches any device access outside it), lays out descriptor table,
 * driver and device rings in it, and talks to a device only through the
 * virtio-mmio registers, as a guest driver would. */
#ifndef MINNOW_TESTS_VIRTIO_TEST_DRIVER_H
#define MINNOW_TESTS_VIRTIO_TEST_DRIVER_H

#include <endian.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)
/* Ring layout used by the driver (queue size <= 256 fits). */
#define DESC_GPA (RAM_BASE + 0x0000)
#define AVAIL_GPA (RAM_BASE + 0x1000)
#define USED_GPA (RAM_BASE + 0x2000)
#define DATA_GPA (RAM_BASE + 0x10000)

struct tdrv {
    struct guest_mem mem;
    struct virtio_mmio *t;
    bool inline_io;          /* run the device's work on this thread */
    uint16_t qsize;
    uint16_t avail_idx;
    atomic_int irq_level;
    atomic_int irq_raises;
};

static inline void tdrv_irq(void *opaque, unsigned source, int level)
{
    struct tdrv *d = opaque;
    (void)source;
    if (level && !atomic_load(&d->irq_level))
        atomic_fetch_add(&d->irq_raises, 1);
    atomic_store(&d->irq_level, level);
}

static inline void tdrv_init_ram(struct tdrv *d)
{
    memset(d, 0, sizeof *d);
    d->mem.host = calloc(1, RAM_SIZE);
    d->mem.base = RAM_BASE;
    d->mem.size = RAM_SIZE;
}

static inline struct irq_line tdrv_irq_line(struct tdrv *d)
{
    return (struct irq_line){.set = tdrv_irq, .opaque = d, .source = 1};
}

static inline void *tdrv_host(struct tdrv *d, uint64_t gpa)
{
    return d->mem.host + (gpa - RAM_BASE);
}

static inline uint32_t tdrv_r32(struct tdrv *d, uint64_t off)
{
    return (uint32_t)virtio_mmio_ops.read(d->t, off, 4);
}

static inline void tdrv_w32(struct tdrv *d, uint64_t off, uint32_t v)
{
    virtio_mmio_ops.write(d->t, off, v, 4);
}

static inline uint64_t tdrv_device_features(struct tdrv *d)
{
    tdrv_w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t lo = tdrv_r32(d, VIRTIO_MMIO_DEVICE_FEATURES);
    tdrv_w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = tdrv_r32(d, VIRTIO_MMIO_DEVICE_FEATURES);
    return lo | hi << 32;
}

/* Reset, ACKNOWLEDGE, DRIVER, write features, FEATURES_OK. Returns the
 * status read back (FEATURES_OK clear if the device refused). */
static inline uint32_t tdrv_negotiate(struct tdrv *d, uint64_t features)
{
    tdrv_w32(d, VIRTIO_MMIO_STATUS, 0);
    tdrv_w32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    tdrv_w32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    tdrv_w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    tdrv_w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    tdrv_w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    tdrv_w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
    tdrv_w32(d, VIRTIO_MMIO_STATUS,
             VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return tdrv_r32(d, VIRTIO_MMIO_STATUS);
}

static inline void tdrv_queue_at(struct tdrv *d, unsigned q, uint32_t size,
                                 uint64_t desc, uint64_t avail, uint64_t used)
{
    memset(tdrv_host(d, AVAIL_GPA), 0, 0x1000);
    memset(tdrv_host(d, USED_GPA), 0, 0x1000);
    d->qsize = (uint16_t)size;
    d->avail_idx = 0;
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NUM, size);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static inline void tdrv_queue(struct tdrv *d, unsigned q, uint32_t size)
{
    tdrv_queue_at(d, q, size, DESC_GPA, AVAIL_GPA, USED_GPA);
}

static inline void tdrv_driver_ok(struct tdrv *d)
{
    tdrv_w32(d, VIRTIO_MMIO_STATUS, tdrv_r32(d, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

/* Full bring-up with one queue; returns the final status. */
static inline uint32_t tdrv_bringup(struct tdrv *d, uint64_t features, uint32_t qsize)
{
    tdrv_negotiate(d, features);
    tdrv_queue(d, 0, qsize);
    tdrv_driver_ok(d);
    return tdrv_r32(d, VIRTIO_MMIO_STATUS);
}

/* Writes descriptor i of the table at table_gpa. */
static inline void tdrv_desc_in(struct tdrv *d, uint64_t table_gpa, unsigned i, uint64_t addr,
                                uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *p = tdrv_host(d, table_gpa + 16ull * i);
    uint64_t a = htole64(addr);
    uint32_t l = htole32(len);
    uint16_t f = htole16(flags), n = htole16(next);
    memcpy(p, &a, 8);
    memcpy(p + 8, &l, 4);
    memcpy(p + 12, &f, 2);
    memcpy(p + 14, &n, 2);
}

static inline void tdrv_desc(struct tdrv *d, unsigned i, uint64_t addr, uint32_t len,
                             uint16_t flags, uint16_t next)
{
    tdrv_desc_in(d, DESC_GPA, i, addr, len, flags, next);
}

static inline uint16_t *tdrv_u16(struct tdrv *d, uint64_t gpa)
{
    return (uint16_t *)tdrv_host(d, gpa);
}

/* Makes head available (without notifying). */
static inline void tdrv_avail(struct tdrv *d, uint16_t head)
{
    *tdrv_u16(d, AVAIL_GPA + 4 + 2u * (d->avail_idx % d->qsize)) = htole16(head);
    d->avail_idx++;
    atomic_store_explicit((_Atomic uint16_t *)tdrv_u16(d, AVAIL_GPA + 2), htole16(d->avail_idx),
                          memory_order_release);
}

static inline void tdrv_kick(struct tdrv *d, unsigned q)
{
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, q);
    if (d->inline_io)
        virtio_mmio_on_kick(d->t);
}

static inline uint16_t tdrv_used_idx(struct tdrv *d)
{
    return le16toh(atomic_load_explicit((_Atomic uint16_t *)tdrv_u16(d, USED_GPA + 2),
                                        memory_order_acquire));
}

static inline void tdrv_used_elem(struct tdrv *d, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *p = tdrv_host(d, USED_GPA + 4 + 8u * (i % d->qsize));
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    *id = le32toh(a);
    *len = le32toh(b);
}

/* Waits up to 5 s for the used index to reach `idx`. */
static inline bool tdrv_wait_used(struct tdrv *d, uint16_t idx)
{
    for (int i = 0; i < 5000; i++) {
        if ((uint16_t)(tdrv_used_idx(d) - idx) < 0x8000)
            return true;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static inline void tdrv_free(struct tdrv *d)
{
    free(d->mem.host);
    d->mem.host = NULL;
}

/* ---- several queues, each with its own rings ---- */

/* Queue q's rings at RAM_BASE + 0x4000 * q (descriptors, then the
 * available and the used ring a page apart), one buffer per chain. */
struct tdrv_q {
    unsigned q;
    uint16_t size, avail_idx;
    uint64_t desc, avail, used;
};

static inline void tdrv_q_setup(struct tdrv *d, struct tdrv_q *t, unsigned q, uint16_t size)
{
    memset(t, 0, sizeof *t);
    t->q = q;
    t->size = size;
    t->desc = RAM_BASE + 0x4000ull * q;
    t->avail = t->desc + 0x1000;
    t->used = t->desc + 0x2000;
    memset(tdrv_host(d, t->desc), 0, 0x3000);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NUM, size);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)t->desc);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(t->desc >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)t->avail);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(t->avail >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)t->used);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(t->used >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* One-descriptor chain with descriptor i, made available and kicked. */
static inline void tdrv_q_post(struct tdrv *d, struct tdrv_q *t, uint16_t i, uint64_t addr, uint32_t len,
                               uint16_t flags)
{
    tdrv_desc_in(d, t->desc, i, addr, len, flags, 0);
    *(uint16_t *)tdrv_host(d, t->avail + 4 + 2u * (t->avail_idx % t->size)) = htole16(i);
    t->avail_idx++;
    atomic_store_explicit((_Atomic uint16_t *)tdrv_host(d, t->avail + 2), htole16(t->avail_idx),
                          memory_order_release);
    tdrv_kick(d, t->q);
}

static inline uint16_t tdrv_q_used_idx(struct tdrv *d, struct tdrv_q *t)
{
    return le16toh(*(uint16_t *)tdrv_host(d, t->used + 2));
}

static inline void tdrv_q_used_elem(struct tdrv *d, struct tdrv_q *t, uint16_t i, uint32_t *id, uint32_t *len)
{
    uint8_t *p = tdrv_host(d, t->used + 4 + 8u * (i % t->size));
    uint32_t a, b;
    memcpy(&a, p, 4);
    memcpy(&b, p + 4, 4);
    *id = le32toh(a);
    *len = le32toh(b);
}

#endif
