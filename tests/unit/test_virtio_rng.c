/* Unit tests for devices/virtio_rng, driven through the virtio-mmio
 * registers with a fake guest RAM and the device work run inline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "devices/virtio_rng.h"
#include "virtio_test_driver.h"

#define FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | \
                  VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC))

struct rfx {
    struct tdrv d;
    struct virtio_rng *rng;
};

static int setup(void **state)
{
    struct rfx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    f->d.inline_io = true;
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e;
    assert_int_equal(virtio_rng_create(&f->rng, &f->d.mem, &irq, &e), 0);
    f->d.t = virtio_rng_mmio(f->rng);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct rfx *f = *state;
    virtio_rng_destroy(f->rng);
    tdrv_free(&f->d);
    free(f);
    return 0;
}

static bool all_same(const uint8_t *p, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (p[i] != p[0])
            return false;
    return true;
}

static void test_identity(void **state)
{
    struct rfx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_ENTROPY);
    assert_int_equal(tdrv_device_features(&f->d), FEATURES);
    tdrv_w32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_RNG_QUEUE_SIZE);
    tdrv_w32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void test_fills_buffers(void **state)
{
    struct rfx *f = *state;
    tdrv_bringup(&f->d, FEATURES, 8);
    uint8_t *a = tdrv_host(&f->d, DATA_GPA), *b = tdrv_host(&f->d, DATA_GPA + 4096);
    memset(a, 0, 256);
    memset(b, 0, 256);
    /* two requests: one buffer, and one split over two descriptors */
    tdrv_desc(&f->d, 0, DATA_GPA, 256, VIRTQ_DESC_F_WRITE, 0);
    tdrv_desc(&f->d, 1, DATA_GPA + 4096, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc(&f->d, 2, DATA_GPA + 4196, 156, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_avail(&f->d, 1);
    tdrv_kick(&f->d, 0);
    assert_int_equal(tdrv_used_idx(&f->d), 2);
    uint32_t id, len;
    tdrv_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 256);
    tdrv_used_elem(&f->d, 1, &id, &len);
    assert_int_equal(id, 1);
    assert_int_equal(len, 256);
    assert_false(all_same(a, 256));
    assert_false(all_same(b, 256));
    assert_memory_not_equal(a, b, 256);
    assert_int_equal(atomic_load(&f->d.irq_level), 1);
    /* the byte after the buffer is untouched */
    assert_int_equal(((uint8_t *)tdrv_host(&f->d, DATA_GPA + 4352))[0], 0);
}

static void test_large_request_is_capped(void **state)
{
    struct rfx *f = *state;
    tdrv_bringup(&f->d, FEATURES, 8);
    uint32_t big = 2 * VIRTIO_RNG_MAX_REQUEST;
    memset(tdrv_host(&f->d, DATA_GPA), 0, big);
    tdrv_desc(&f->d, 0, DATA_GPA, big, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    uint32_t id, len;
    tdrv_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(len, VIRTIO_RNG_MAX_REQUEST);
    assert_true(all_same(tdrv_host(&f->d, DATA_GPA + VIRTIO_RNG_MAX_REQUEST), VIRTIO_RNG_MAX_REQUEST));
}

static void test_readable_buffer_gets_nothing(void **state)
{
    struct rfx *f = *state;
    tdrv_bringup(&f->d, FEATURES, 8);
    uint8_t *a = tdrv_host(&f->d, DATA_GPA);
    memset(a, 0x42, 64);
    tdrv_desc(&f->d, 0, DATA_GPA, 32, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, DATA_GPA + 32, 32, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    uint32_t id, len;
    assert_int_equal(tdrv_used_idx(&f->d), 1);
    tdrv_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(len, 0);
    assert_true(all_same(a, 64));
}

static void test_hostile_buffer(void **state)
{
    struct rfx *f = *state;
    tdrv_bringup(&f->d, FEATURES, 8);
    /* a buffer that runs past the end of RAM: ASan would catch a write */
    tdrv_desc(&f->d, 0, RAM_BASE + RAM_SIZE - 16, 64, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(tdrv_used_idx(&f->d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_request_is_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readable_buffer_gets_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_buffer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
