/* Unit tests for devices/virtio_mmio: the register file, feature
 * negotiation, the status state machine, queue setup checks, interrupts,
 * NEEDS_RESET and reset, driven through the mmio_ops as a guest would,
 * against a small echo device model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
        if (x->hold)
            return;
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

static const struct virtio_device_ops echo_ops = {
    .config_read = echo_config_read,
    .config_write = echo_config_write,
    .queue_notify = echo_notify,
    .reset = echo_reset,
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
