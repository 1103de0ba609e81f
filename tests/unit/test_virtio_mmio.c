/* Unit tests for devices/virtio_mmio: the register file, feature
 * negotiation, the status state machine, queue setup checks, interrupts,
 * NEEDS_RESET and reset, driven through the mmio_ops as a guest would,
 * against a small echo device model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio_mmio.h"
#include "virtio_test_driver.h"

#define ECHO_FEATURE 3   /* a device-type feature bit the echo device offers */

struct echo {
    struct tdrv d;
    int notified;
    int resets;
    bool hold;                 /* pop but do not push (to test stale pushes) */
    bool has_held;
    struct virtq_chain held;
    uint8_t config[8];
    uint32_t last_config_write;
};

/* Echo device: writes the number of readable bytes into the writable part
 * as a 4-byte value and returns the chain. */
static void echo_notify(void *opaque, unsigned queue)
{
    struct echo *x = opaque;
    x->notified++;
    struct virtq_chain c;
    while (virtio_mmio_pop(x->d.t, queue, x->hold ? &x->held : &c) > 0) {
        if (x->hold) {
            x->has_held = true;
            return;
        }
        uint32_t n = (uint32_t)c.readable_len;
        size_t w = virtq_chain_write(&c, 0, &n, sizeof n);
        virtio_mmio_push(x->d.t, &c, (uint32_t)w);
    }
    virtio_mmio_notify(x->d.t, queue);
}

static uint64_t echo_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct echo *x = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)x->config[off + i] << (8 * i);
    return v;
}

static void echo_config_write(void *opaque, uint32_t off, uint64_t value, unsigned size)
{
    struct echo *x = opaque;
    (void)size;
    x->last_config_write = (uint32_t)(off << 16 | (value & 0xffff));
}

static void echo_reset(void *opaque)
{
    ((struct echo *)opaque)->resets++;
}

/* The echo device's snapshot: the chain it holds, by head. */
static int echo_save(void *opaque, struct snap_writer *w)
{
    struct echo *x = opaque;
    snapw_u8(w, x->has_held);
    snapw_u16(w, x->has_held ? x->held.head : 0);
    return w->err;
}

static int echo_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct echo *x = opaque;
    uint8_t held = snapr_u8(r);
    uint16_t head = snapr_u16(r);
    if (!snapr_ok(r) || held > 1)
        return errmsg_set(e, -EINVAL, "echo: bad state");
    struct errmsg ce;
    if (held && virtio_mmio_chain_at(x->d.t, 0, head, &x->held, &ce) < 0)
        return errmsg_set(e, -EINVAL, "echo: held chain: %s", ce.text);
    x->has_held = held;
    return 0;
}

static const struct virtio_device_ops echo_ops = {
    .config_read = echo_config_read,
    .config_write = echo_config_write,
    .queue_notify = echo_notify,
    .reset = echo_reset,
    .save = echo_save,
    .load = echo_load,
};

/* The same device without snapshot hooks. */
static const struct virtio_device_ops plain_ops = {
    .config_read = echo_config_read,
    .queue_notify = echo_notify,
};

#define FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | \
                  VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(ECHO_FEATURE))

static int setup(void **state)
{
    struct echo *x = calloc(1, sizeof *x);
    tdrv_init_ram(&x->d);
    x->d.inline_io = true;
    memcpy(x->config, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
    struct virtio_device dev = {
        .device_id = 42, .features = VIRTIO_BIT(ECHO_FEATURE), .num_queues = 2, .queue_max = 16,
        .config_size = 8, .ops = &echo_ops, .opaque = x,
    };
    struct irq_line irq = tdrv_irq_line(&x->d);
    struct errmsg e;
    assert_int_equal(virtio_mmio_create(&x->d.t, &dev, &x->d.mem, &irq, &e), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct echo *x = *state;
    virtio_mmio_destroy(x->d.t);
    tdrv_free(&x->d);
    free(x);
    return 0;
}

static void error_mentions(struct echo *x, const char *what)
{
    char buf[256];
    virtio_mmio_last_error(x->d.t, buf, sizeof buf);
    if (!strstr(buf, what))
        fail_msg("transport error '%s' does not mention '%s'", buf, what);
}

/* One request: 5 readable bytes, 4 writable. Returns the used length. */
static void submit_echo(struct echo *x, unsigned head)
{
    tdrv_desc(&x->d, head, DATA_GPA, 5, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
    tdrv_desc(&x->d, head + 1, DATA_GPA + 64, 4, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&x->d, (uint16_t)head);
    tdrv_kick(&x->d, 0);
}

static void test_identity_registers(void **state)
{
    struct echo *x = *state;
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_VERSION_REG), 2);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_DEVICE_ID), 42);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_VENDOR_ID), VIRTIO_VENDOR_MINNOW);
    assert_int_equal(tdrv_device_features(&x->d), FEATURES);
    tdrv_w32(&x->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_DEVICE_FEATURES), 0);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 16);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_SEL, 2);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);   /* no such queue */
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
    /* registers are 32-bit only: a byte read gives 0, a 16-bit write is ignored */
    assert_int_equal(virtio_mmio_ops.read(x->d.t, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
    virtio_mmio_ops.write(x->d.t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 2);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS), 0);
}

static void test_features_ok_rules(void **state)
{
    struct echo *x = *state;
    /* VERSION_1 not accepted: a legacy driver. FEATURES_OK stays clear. */
    uint32_t s = tdrv_negotiate(&x->d, VIRTIO_BIT(ECHO_FEATURE));
    assert_false(s & VIRTIO_STATUS_FEATURES_OK);
    error_mentions(x, "VIRTIO_F_VERSION_1");
    /* a feature that was not offered */
    s = tdrv_negotiate(&x->d, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(7));
    assert_false(s & VIRTIO_STATUS_FEATURES_OK);
    error_mentions(x, "not offered");
    /* DRIVER_OK without FEATURES_OK is refused too */
    tdrv_driver_ok(&x->d);
    assert_false(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DRIVER_OK);
    /* the subset is fine */
    s = tdrv_negotiate(&x->d, FEATURES);
    assert_true(s & VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(virtio_mmio_driver_features(x->d.t), FEATURES);
    /* features are frozen after FEATURES_OK */
    tdrv_w32(&x->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    tdrv_w32(&x->d, VIRTIO_MMIO_DRIVER_FEATURES, 0);
    assert_int_equal(virtio_mmio_driver_features(x->d.t), FEATURES);
    /* DRIVER before ACKNOWLEDGE is not taken */
    tdrv_w32(&x->d, VIRTIO_MMIO_STATUS, 0);
    tdrv_w32(&x->d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS), 0);
}

static void test_request_and_interrupt(void **state)
{
    struct echo *x = *state;
    assert_int_equal(tdrv_bringup(&x->d, FEATURES & ~VIRTIO_BIT(VIRTIO_F_EVENT_IDX), 8),
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                     VIRTIO_STATUS_DRIVER_OK);
    submit_echo(x, 0);
    assert_int_equal(tdrv_used_idx(&x->d), 1);
    uint32_t id, len, v;
    tdrv_used_elem(&x->d, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 4);
    memcpy(&v, tdrv_host(&x->d, DATA_GPA + 64), 4);
    assert_int_equal(v, 5);
    assert_int_equal(atomic_load(&x->d.irq_level), 1);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_BUFFER);
    tdrv_w32(&x->d, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER);
    assert_int_equal(atomic_load(&x->d.irq_level), 0);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    /* a notify for a queue that does not exist is ignored */
    tdrv_kick(&x->d, 5);
    assert_int_equal(x->notified, 1);
}

static void test_event_idx_suppression(void **state)
{
    struct echo *x = *state;
    tdrv_bringup(&x->d, FEATURES, 8);
    uint16_t *used_event = tdrv_u16(&x->d, AVAIL_GPA + 4 + 2 * 8);
    *used_event = htole16(1);      /* not before the second completion */
    submit_echo(x, 0);
    assert_int_equal(tdrv_used_idx(&x->d), 1);
    assert_int_equal(atomic_load(&x->d.irq_raises), 0);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    submit_echo(x, 2);
    assert_int_equal(tdrv_used_idx(&x->d), 2);
    assert_int_equal(atomic_load(&x->d.irq_raises), 1);
    /* the device asked to be kicked at the next avail entry */
    assert_int_equal(le16toh(*tdrv_u16(&x->d, USED_GPA + 4 + 8 * 8)), 2);
}

static void test_notify_before_driver_ok(void **state)
{
    struct echo *x = *state;
    tdrv_negotiate(&x->d, FEATURES);
    tdrv_queue(&x->d, 0, 8);
    submit_echo(x, 0);
    /* The device must not consume buffers before DRIVER_OK. */
    assert_int_equal(x->notified, 0);
    assert_int_equal(tdrv_used_idx(&x->d), 0);
    assert_int_equal(atomic_load(&x->d.irq_level), 0);
    tdrv_driver_ok(&x->d);
    virtio_mmio_on_kick(x->d.t);   /* what the I/O thread does on the kick DRIVER_OK made */
    assert_int_equal(x->notified, 1);
    assert_int_equal(tdrv_used_idx(&x->d), 1);
}

static void test_bad_queue_size(void **state)
{
    struct echo *x = *state;
    static const uint32_t sizes[] = {6, 32, 0, 0x10000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tdrv_negotiate(&x->d, FEATURES);
        tdrv_queue(&x->d, 0, sizes[i]);
        assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_QUEUE_READY), 0);
        assert_true(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
        error_mentions(x, "power of two in 1..16");
    }
}

static void test_bad_ring_address(void **state)
{
    struct echo *x = *state;
    tdrv_negotiate(&x->d, FEATURES);
    tdrv_queue_at(&x->d, 0, 16, RAM_BASE + RAM_SIZE - 128, AVAIL_GPA, USED_GPA);
    assert_true(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    error_mentions(x, "descriptor table");
    tdrv_negotiate(&x->d, FEATURES);
    tdrv_queue_at(&x->d, 0, 16, DESC_GPA, AVAIL_GPA, 0x100000000000ull);
    assert_true(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    error_mentions(x, "used");
    /* queue enabled before FEATURES_OK */
    tdrv_w32(&x->d, VIRTIO_MMIO_STATUS, 0);
    tdrv_queue(&x->d, 0, 8);
    assert_true(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    error_mentions(x, "before FEATURES_OK");
}

static void test_hostile_chain_needs_reset(void **state)
{
    struct echo *x = *state;
    tdrv_bringup(&x->d, FEATURES, 8);
    tdrv_desc(&x->d, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&x->d, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
    tdrv_avail(&x->d, 0);
    tdrv_kick(&x->d, 0);
    uint32_t s = tdrv_r32(&x->d, VIRTIO_MMIO_STATUS);
    assert_true(s & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    error_mentions(x, "loop");
    /* config change interrupt tells the driver */
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(atomic_load(&x->d.irq_level), 1);
    assert_int_equal(tdrv_used_idx(&x->d), 0);
    /* the device stays stopped: a good request now is not served */
    submit_echo(x, 2);
    assert_int_equal(tdrv_used_idx(&x->d), 0);
    /* the driver cannot clear NEEDS_RESET other than by reset */
    tdrv_w32(&x->d, VIRTIO_MMIO_STATUS, s & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_true(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* reset brings it back */
    int resets = x->resets;
    tdrv_w32(&x->d, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(x->resets, resets + 1);
    assert_int_equal(atomic_load(&x->d.irq_level), 0);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    tdrv_bringup(&x->d, FEATURES, 8);
    submit_echo(x, 2);
    assert_int_equal(tdrv_used_idx(&x->d), 1);
}

static void test_stale_push_after_reset(void **state)
{
    struct echo *x = *state;
    tdrv_bringup(&x->d, FEATURES, 8);
    x->hold = true;
    submit_echo(x, 0);
    x->hold = false;
    tdrv_bringup(&x->d, FEATURES, 8);     /* reset and set up again */
    virtio_mmio_push(x->d.t, &x->held, 4);
    assert_int_equal(tdrv_used_idx(&x->d), 0);
}

static void test_config_space(void **state)
{
    struct echo *x = *state;
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x100, 1), 0x11);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x102, 2), 0x4433);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x104, 4), 0x88776655);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x100, 8), 0x8877665544332211ull);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x106, 4), 0);    /* crosses the end */
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x108, 1), 0);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0xfff, 1), 0);
    assert_int_equal(virtio_mmio_ops.read(x->d.t, 0x100, 3), 0);
    virtio_mmio_ops.write(x->d.t, 0x102, 0xbeef, 2);
    assert_int_equal(x->last_config_write, 2u << 16 | 0xbeef);
    uint32_t g = tdrv_r32(&x->d, VIRTIO_MMIO_CONFIG_GENERATION);
    tdrv_bringup(&x->d, FEATURES, 8);
    virtio_mmio_config_changed(x->d.t);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_CONFIG_GENERATION), g + 1);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
}

static void test_queue_frozen_while_ready(void **state)
{
    struct echo *x = *state;
    tdrv_bringup(&x->d, FEATURES, 8);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_SEL, 0);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1234);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_NUM, 4);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_QUEUE_DESC_LOW), (uint32_t)DESC_GPA);
    assert_int_equal(tdrv_r32(&x->d, VIRTIO_MMIO_QUEUE_NUM), 8);
    submit_echo(x, 0);
    assert_int_equal(tdrv_used_idx(&x->d), 1);
}

/* A second echo device on the same RAM, as a restore creates it: same
 * configuration, fresh state. */
static struct echo *new_echo(struct echo *like, const struct virtio_device_ops *ops)
{
    struct echo *y = calloc(1, sizeof *y);
    y->d.mem = like->d.mem;
    y->d.inline_io = true;
    memcpy(y->config, like->config, sizeof y->config);
    struct virtio_device dev = {
        .device_id = 42, .features = VIRTIO_BIT(ECHO_FEATURE), .num_queues = 2, .queue_max = 16,
        .config_size = 8, .ops = ops, .opaque = y,
    };
    struct irq_line irq = tdrv_irq_line(&y->d);
    struct errmsg e;
    assert_int_equal(virtio_mmio_create(&y->d.t, &dev, &y->d.mem, &irq, &e), 0);
    return y;
}

static void free_echo(struct echo *y)
{
    virtio_mmio_destroy(y->d.t);
    free(y);
}

static int load_into(struct echo *y, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return virtio_mmio_load(y->d.t, &r, e);
}

#define Q1_DESC (RAM_BASE + 0x4000)
#define Q1_AVAIL (RAM_BASE + 0x5000)
#define Q1_USED (RAM_BASE + 0x6000)

/* Queue 1 (size 4) and queue 0 (size 8) live, three requests done on
 * queue 0 and a fourth held by the device, an interrupt not yet
 * acknowledged, a config change, odd selector values. */
static void save_busy(struct echo *x, struct snap_writer *w)
{
    tdrv_negotiate(&x->d, FEATURES);
    tdrv_queue_at(&x->d, 1, 4, Q1_DESC, Q1_AVAIL, Q1_USED);
    tdrv_queue(&x->d, 0, 8);
    tdrv_driver_ok(&x->d);
    for (unsigned i = 0; i < 3; i++)
        submit_echo(x, 2 * i);
    x->hold = true;
    submit_echo(x, 6);
    x->hold = false;
    assert_true(x->has_held);
    assert_int_equal(tdrv_used_idx(&x->d), 3);
    virtio_mmio_config_changed(x->d.t);
    tdrv_w32(&x->d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    tdrv_w32(&x->d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 7);
    tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_SEL, 1);
    snapw_init(w);
    assert_int_equal(virtio_mmio_save(x->d.t, w), 0);
}

static const uint64_t regs[] = {
    VIRTIO_MMIO_DEVICE_ID, VIRTIO_MMIO_DEVICE_FEATURES, VIRTIO_MMIO_QUEUE_NUM, VIRTIO_MMIO_QUEUE_READY,
    VIRTIO_MMIO_INTERRUPT_STATUS, VIRTIO_MMIO_STATUS, VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_DESC_HIGH,
    VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, VIRTIO_MMIO_QUEUE_DEVICE_LOW,
    VIRTIO_MMIO_QUEUE_DEVICE_HIGH, VIRTIO_MMIO_CONFIG_GENERATION,
};

static void test_snapshot_roundtrip(void **state)
{
    struct echo *x = *state;
    struct snap_writer w;
    save_busy(x, &w);
    struct echo *y = new_echo(x, &echo_ops);
    struct errmsg e = {{0}};
    if (load_into(y, w.buf, w.len, &e) < 0)
        fail_msg("virtio_mmio_load: %s", e.text);
    /* The line follows the restored interrupt status. */
    assert_int_equal(atomic_load(&y->d.irq_level), 1);
    /* Every register reads the same, for both queues (queue_sel was
     * restored as 1; 0 is selected second). */
    for (unsigned q = 0; q < 2; q++) {
        for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
            assert_int_equal(tdrv_r32(&y->d, regs[i]), tdrv_r32(&x->d, regs[i]));
        tdrv_w32(&x->d, VIRTIO_MMIO_QUEUE_SEL, 0);
        tdrv_w32(&y->d, VIRTIO_MMIO_QUEUE_SEL, 0);
    }
    assert_int_equal(virtio_mmio_driver_features(y->d.t), FEATURES);
    /* The device took back the chain it held. */
    assert_true(y->has_held);
    assert_int_equal(y->held.head, 6);
    assert_int_equal(y->held.readable_len, 5);
    assert_int_equal(y->held.writable_len, 4);
    /* Load kicked the queues: the device looked, and found nothing new,
     * so the avail index was restored (not replayed from 0). */
    virtio_mmio_on_kick(y->d.t);
    assert_int_equal(y->notified, 2);
    assert_int_equal(tdrv_used_idx(&y->d), 3);
    /* The held chain completes into used slot 3, a new one into slot 4. */
    uint32_t n = 5;
    virtq_chain_write(&y->held, 0, &n, 4);
    virtio_mmio_push(y->d.t, &y->held, 4);
    y->d.qsize = x->d.qsize;
    y->d.avail_idx = x->d.avail_idx;
    submit_echo(y, 0);
    assert_int_equal(tdrv_used_idx(&y->d), 5);
    uint32_t id, len;
    tdrv_used_elem(&y->d, 3, &id, &len);
    assert_int_equal(id, 6);
    tdrv_used_elem(&y->d, 4, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 4);
    /* Acknowledging drops the line. */
    tdrv_w32(&y->d, VIRTIO_MMIO_INTERRUPT_ACK, 3);
    assert_int_equal(atomic_load(&y->d.irq_level), 0);
    free_echo(y);

    /* A device without a load hook refuses device state it cannot take. */
    y = new_echo(x, &plain_ops);
    assert_int_equal(load_into(y, w.buf, w.len, &e), -EINVAL);
    assert_non_null(strstr(e.text, "3 bytes of device state"));
    free_echo(y);
    snapw_free(&w);
}

/* A device that was never set up: a fresh one loads its state too. */
static void test_snapshot_of_idle_device(void **state)
{
    struct echo *x = *state;
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(virtio_mmio_save(x->d.t, &w), 0);
    struct echo *y = new_echo(x, &echo_ops);
    struct errmsg e;
    assert_int_equal(load_into(y, w.buf, w.len, &e), 0);
    assert_int_equal(tdrv_r32(&y->d, VIRTIO_MMIO_STATUS), 0);
    assert_int_equal(atomic_load(&y->d.irq_level), 0);
    tdrv_bringup(&y->d, FEATURES, 8);
    submit_echo(y, 0);
    assert_int_equal(tdrv_used_idx(&y->d), 1);
    free_echo(y);
    snapw_free(&w);
}

/* Offsets in the transport's state: version, device id, status, the two
 * feature selectors, driver features, queue_sel, interrupt status, config
 * generation, the error text (empty: its length only), the queue count,
 * then per queue num, ready, desc, driver, device, event_idx, indirect,
 * last_avail, used_idx, checked_used; then the device blob. */
enum { O_ID = 4, O_STATUS = 8, O_FEAT = 20, O_ISR = 32, O_NQ = 44, O_Q0 = 48, QSZ = 37,
       Q_READY = 4, Q_DESC = 5, Q_EV = 29, Q_LAST = 31, Q_USED = 33, O_DEV = O_Q0 + 2 * QSZ };

static void test_snapshot_refuses_bad_state(void **state)
{
    struct echo *x = *state;
    struct snap_writer w;
    save_busy(x, &w);
    assert_int_equal(w.len, O_DEV + 4 + 3);
    struct echo *y = new_echo(x, &echo_ops);
    struct errmsg e;
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load_into(y, w.buf, n, &e), -EINVAL);
    struct { size_t off; unsigned size; uint64_t val; const char *msg; } bad[] = {
        {0, 4, 2, "version 2"},
        {O_ID, 4, 43, "device type 43"},
        {O_STATUS, 4, 0x1f, "status 0x1f"},
        {O_STATUS, 4, 0x05, "status 0x5"},                       /* DRIVER_OK, no FEATURES_OK */
        {O_FEAT, 8, FEATURES | VIRTIO_BIT(7), "not offered"},
        {O_FEAT, 8, VIRTIO_BIT(ECHO_FEATURE), "VIRTIO_F_VERSION_1"},
        {O_ISR, 4, 4, "interrupt status 0x4"},
        {O_NQ, 4, 3, "3 queues"},
        {O_Q0, 4, 300, "queue 0: size 300 is not a power of two up to 16"},
        {O_Q0, 4, 32, "queue 0: size 32"},
        {O_Q0 + QSZ + Q_READY, 1, 2, "queue 1: ready 2"},
        {O_Q0 + Q_DESC, 8, RAM_BASE + RAM_SIZE, "queue 0: virtqueue descriptor table"},
        {O_Q0 + Q_DESC, 8, DESC_GPA + 8, "not 16-byte aligned"},
        {O_Q0 + Q_EV, 1, 0, "event_idx 0"},
        {O_Q0 + Q_LAST, 2, 3 + 9, "last_avail 12"},
        {O_Q0 + Q_USED, 2, 0xfff0, "used_idx 65520"},
        {O_DEV + 4, 1, 2, "echo: bad state"},
        {O_DEV + 5, 2, 200, "echo: held chain: head descriptor index 200"},
    };
    uint8_t buf[256];
    assert_true(w.len < sizeof buf);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, w.buf, w.len);
        for (unsigned k = 0; k < bad[i].size; k++)
            buf[bad[i].off + k] = (uint8_t)(bad[i].val >> (8 * k));
        assert_int_equal(load_into(y, buf, w.len, &e), -EINVAL);
        if (!strstr(e.text, bad[i].msg) || (i < 16 && !strstr(e.text, "virtio-mmio: ")))
            fail_msg("case %zu: message '%s' does not name '%s'", i, e.text, bad[i].msg);
    }
    memcpy(buf, w.buf, w.len);
    buf[w.len] = 0;
    assert_int_equal(load_into(y, buf, w.len + 1, &e), -EINVAL);
    /* None of that took: the device is still fresh. */
    assert_int_equal(tdrv_r32(&y->d, VIRTIO_MMIO_STATUS), 0);
    free_echo(y);
    snapw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_ok_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_and_interrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_idx_suppression, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_before_driver_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queue_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ring_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_chain_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_push_after_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_frozen_while_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_of_idle_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_refuses_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
