/* Unit tests for devices/virtio_balloon: a guest driver talks to the device
 * through the virtio-mmio registers; the fake guest RAM is a private
 * anonymous mapping between two PROT_NONE guard pages, so MADV_DONTNEED
 * really zeroes inflated pages and any access outside RAM faults. Device
 * work runs inline on the test thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/virtio_balloon.h"
#include "virtio_test_driver.h"

#define FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ) | \
                  VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM))
#define QSIZE 16u
#define PFN(gpa) ((uint32_t)((gpa) >> 12))
#define PAGE_A (RAM_BASE + 0x40000)   /* pages the tests inflate */
#define LIST_GPA (RAM_BASE + 0x20000) /* where the guest writes pfn lists */
#define STATS_GPA (RAM_BASE + 0x30000)

struct bfx {
    struct tdrv d;
    uint8_t *map;
    struct virtio_balloon *b;
    struct tdrv_q q[3];
};

static int setup(void **state)
{
    struct bfx *f = calloc(1, sizeof *f);
    memset(&f->d, 0, sizeof f->d);
    f->map = mmap(NULL, RAM_SIZE + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(f->map != MAP_FAILED);
    assert_int_equal(mprotect(f->map + 4096, RAM_SIZE, PROT_READ | PROT_WRITE), 0);
    f->d.mem = (struct guest_mem){.host = f->map + 4096, .base = RAM_BASE, .size = RAM_SIZE};
    f->d.inline_io = true;
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e = {{0}};
    struct virtio_balloon_options o = {.stats = true, .deflate_on_oom = true, .target_pages = 0};
    if (virtio_balloon_create(&f->b, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_balloon_create: %s", e.text);
    f->d.t = virtio_balloon_mmio(f->b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct bfx *f = *state;
    virtio_balloon_destroy(f->b);
    munmap(f->map, RAM_SIZE + 2 * 4096);
    free(f);
    return 0;
}

static void bringup(struct bfx *f)
{
    assert_int_equal(tdrv_negotiate(&f->d, FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 3; q++)
        tdrv_q_setup(&f->d, &f->q[q], q, QSIZE);
    tdrv_driver_ok(&f->d);
}

/* The guest sends a pfn list on queue q; returns after the device used it. */
static void send_pfns(struct bfx *f, unsigned q, const uint32_t *pfns, unsigned n)
{
    uint32_t *list = tdrv_host(&f->d, LIST_GPA);
    for (unsigned i = 0; i < n; i++)
        list[i] = htole32(pfns[i]);
    uint16_t before = tdrv_q_used_idx(&f->d, &f->q[q]);
    tdrv_q_post(&f->d, &f->q[q], 0, LIST_GPA, 4 * n, 0);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[q]), (uint16_t)(before + 1));
}

static bool all(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static void test_identity(void **state)
{
    struct bfx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
    uint64_t feat = tdrv_device_features(&f->d);
    assert_true(feat & VIRTIO_BIT(VIRTIO_BALLOON_F_STATS_VQ));
    assert_true(feat & VIRTIO_BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM));
    assert_false(feat & VIRTIO_BIT(VIRTIO_BALLOON_F_MUST_TELL_HOST));
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 4), 0);
}

static void test_inflate_gives_pages_back(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    uint8_t *a = tdrv_host(&f->d, PAGE_A);
    memset(a, 0xab, 5 * 4096);
    /* pages 0, 1, 2 (one run) and 4 of the area; page 3 stays */
    uint32_t pfns[] = {PFN(PAGE_A), PFN(PAGE_A) + 1, PFN(PAGE_A) + 2, PFN(PAGE_A) + 4};
    send_pfns(f, VIRTIO_BALLOON_INFLATE, pfns, 4);
    assert_true(all(a, 3 * 4096, 0));
    assert_true(all(a + 3 * 4096, 4096, 0xab));
    assert_true(all(a + 4 * 4096, 4096, 0));
    struct virtio_balloon_info info;
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 4);
    assert_int_equal(info.refused_requests, 0);
    /* inflating a page twice counts it once */
    send_pfns(f, VIRTIO_BALLOON_INFLATE, pfns, 1);
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 4);
    /* deflate is accepted; the guest may use the page again */
    send_pfns(f, VIRTIO_BALLOON_DEFLATE, pfns, 2);
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 2);
    a[0] = 7;
    assert_int_equal(a[0], 7);
    assert_int_equal(atomic_load(&f->d.irq_level), 1);
}

static void test_pfn_outside_ram_refused(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    uint8_t *a = tdrv_host(&f->d, PAGE_A);
    memset(a, 0xcd, 4096);
    uint32_t bad[][2] = {
        {PFN(PAGE_A), PFN(RAM_BASE + RAM_SIZE)},      /* first page after RAM */
        {PFN(PAGE_A), PFN(RAM_BASE) - 1},             /* last page before RAM */
        {PFN(PAGE_A), 0xffffffffu},
        {PFN(PAGE_A), 0},
    };
    for (unsigned k = 0; k < 4; k++)
        send_pfns(f, VIRTIO_BALLOON_INFLATE, bad[k], 2);
    /* nothing of a refused request is applied, not even its good frame */
    assert_true(all(a, 4096, 0xcd));
    struct virtio_balloon_info info;
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 0);
    assert_int_equal(info.refused_requests, 4);
    /* a length that is not whole frames */
    uint16_t before = tdrv_q_used_idx(&f->d, &f->q[0]);
    tdrv_q_post(&f->d, &f->q[0], 1, LIST_GPA, 6, 0);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), (uint16_t)(before + 1));
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.refused_requests, 5);
    assert_true(all(a, 4096, 0xcd));
    assert_false(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_list_outside_ram_needs_reset(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    /* the list itself runs into the guard page after RAM */
    tdrv_q_post(&f->d, &f->q[0], 0, RAM_BASE + RAM_SIZE - 8, 64, 0);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    struct virtio_balloon_info info;
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 0);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
    uint16_t t = htole16(tag);
    uint64_t v = htole64(val);
    memcpy(p, &t, 2);
    memcpy(p + 2, &v, 8);
}

static void test_stats(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    struct errmsg e;
    /* no buffer yet: nothing to ask with */
    assert_int_equal(virtio_balloon_request_stats(f->b, &e), -EAGAIN);
    uint8_t *s = tdrv_host(&f->d, STATS_GPA);
    put_stat(s, VIRTIO_BALLOON_S_MEMFREE, 123 << 20);
    put_stat(s + 10, VIRTIO_BALLOON_S_MEMTOT, 456 << 20);
    put_stat(s + 20, 99, 5);   /* unknown tag: skipped */
    tdrv_q_post(&f->d, &f->q[2], 0, STATS_GPA, 30, 0);
    /* the device keeps the buffer until it wants the next report */
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[2]), 0);
    struct virtio_balloon_stats st;
    virtio_balloon_stats(f->b, &st);
    assert_int_equal(st.updates, 1);
    assert_int_equal(st.valid, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT));
    assert_int_equal(st.val[VIRTIO_BALLOON_S_MEMFREE], 123 << 20);
    assert_int_equal(st.val[VIRTIO_BALLOON_S_MEMTOT], 456 << 20);

    assert_int_equal(virtio_balloon_request_stats(f->b, &e), 0);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[2]), 1);
    put_stat(s, VIRTIO_BALLOON_S_AVAIL, 77);
    tdrv_q_post(&f->d, &f->q[2], 0, STATS_GPA, 10, 0);
    virtio_balloon_stats(f->b, &st);
    assert_int_equal(st.updates, 2);
    assert_int_equal(st.valid, 1u << VIRTIO_BALLOON_S_AVAIL);
    assert_int_equal(st.val[VIRTIO_BALLOON_S_AVAIL], 77);
}

static void test_set_target(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    int raises = atomic_load(&f->d.irq_raises);
    uint32_t gen = tdrv_r32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION);
    struct errmsg e;
    assert_int_equal(virtio_balloon_set_target(f->b, 100, &e), 0);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 4), 100);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(atomic_load(&f->d.irq_raises), raises + 1);
    assert_int_not_equal(tdrv_r32(&f->d, VIRTIO_MMIO_CONFIG_GENERATION), gen);
    /* more than RAM holds */
    assert_int_equal(virtio_balloon_set_target(f->b, RAM_SIZE / 4096 + 1, &e), -EINVAL);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 4), 100);
    /* the guest reports actual; it cannot write num_pages */
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 60, 4);
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 5, 4);
    struct virtio_balloon_info info;
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.actual_pages, 60);
    assert_int_equal(info.target_pages, 100);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 4), 60);
}

static void test_reset_forgets_inflated(void **state)
{
    struct bfx *f = *state;
    bringup(f);
    uint32_t pfns[] = {PFN(PAGE_A)};
    send_pfns(f, VIRTIO_BALLOON_INFLATE, pfns, 1);
    struct virtio_balloon_info info;
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 1);
    tdrv_w32(&f->d, VIRTIO_MMIO_STATUS, 0);
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.inflated_pages, 0);
}

/* ---- free page reporting and hinting: bad guest input ---- */

#define FP_FEATURES (FEATURES | VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) | VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING))
#define HINT_Q 3u
#define REPORT_Q 4u
#define DESC_WRITE 2u

struct fpfx {
    struct bfx f;
    struct tdrv_q q[5];
};

static int setup_fp(void **state)
{
    struct fpfx *x = calloc(1, sizeof *x);
    struct bfx *f = &x->f;
    f->map = mmap(NULL, RAM_SIZE + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(f->map != MAP_FAILED);
    assert_int_equal(mprotect(f->map + 4096, RAM_SIZE, PROT_READ | PROT_WRITE), 0);
    f->d.mem = (struct guest_mem){.host = f->map + 4096, .base = RAM_BASE, .size = RAM_SIZE};
    f->d.inline_io = true;
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e = {{0}};
    struct virtio_balloon_options o = {
        .stats = true, .deflate_on_oom = true, .free_page_hinting = true, .free_page_reporting = true};
    if (virtio_balloon_create(&f->b, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_balloon_create: %s", e.text);
    f->d.t = virtio_balloon_mmio(f->b);
    assert_int_equal(tdrv_negotiate(&f->d, FP_FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 5; q++)
        tdrv_q_setup(&f->d, &x->q[q], q, QSIZE);
    tdrv_driver_ok(&f->d);
    *state = x;
    return 0;
}

static int teardown_fp(void **state)
{
    struct fpfx *x = *state;
    virtio_balloon_destroy(x->f.b);
    munmap(x->f.map, RAM_SIZE + 2 * 4096);
    free(x);
    return 0;
}

/* One buffer on queue q; returns after the device used it. */
static void post(struct fpfx *x, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags)
{
    uint16_t before = tdrv_q_used_idx(&x->f.d, &x->q[q]);
    tdrv_q_post(&x->f.d, &x->q[q], 0, gpa, len, flags);
    assert_int_equal(tdrv_q_used_idx(&x->f.d, &x->q[q]), (uint16_t)(before + 1));
}

static void send_cmd(struct fpfx *x, uint32_t cmd)
{
    uint32_t le = htole32(cmd);
    memcpy(tdrv_host(&x->f.d, LIST_GPA), &le, 4);
    post(x, HINT_Q, LIST_GPA, 4, 0);
}

static void test_reporting_bad_ranges(void **state)
{
    struct fpfx *x = *state;
    uint8_t *a = tdrv_host(&x->f.d, PAGE_A);
    memset(a, 0xab, 4 * 4096);
    struct virtio_balloon_info info;
    /* not page-aligned, not whole pages, readable instead of writable: refused, nothing dropped */
    post(x, REPORT_Q, PAGE_A + 1, 4096, DESC_WRITE);
    post(x, REPORT_Q, PAGE_A, 4096 + 512, DESC_WRITE);
    post(x, REPORT_Q, PAGE_A, 4096, 0);
    virtio_balloon_info(x->f.b, &info);
    assert_int_equal(info.refused_requests, 3);
    assert_int_equal(info.reported_pages, 0);
    assert_true(all(a, 4 * 4096, 0xab));
    /* a good report: two pages dropped, the rest kept */
    post(x, REPORT_Q, PAGE_A + 4096, 2 * 4096, DESC_WRITE);
    virtio_balloon_info(x->f.b, &info);
    assert_int_equal(info.reported_pages, 2);
    assert_int_equal(info.refused_requests, 3);
    assert_true(all(a, 4096, 0xab));
    assert_true(all(a + 4096, 2 * 4096, 0));
    assert_true(all(a + 3 * 4096, 4096, 0xab));
}

static void test_hinting_runs(void **state)
{
    struct fpfx *x = *state;
    struct bfx *f = &x->f;
    uint8_t *a = tdrv_host(&f->d, PAGE_A);
    memset(a, 0xab, 4 * 4096);
    struct virtio_balloon_info info;
    struct virtio_balloon_hint_status st;
    struct errmsg e = {{0}};
    /* a hint with no run: returned untouched */
    post(x, HINT_Q, PAGE_A, 4096, DESC_WRITE);
    assert_true(all(a, 4096, 0xab));
    assert_int_equal(virtio_balloon_hint_start(f->b, true, &e), 0);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_FREE_PAGE_HINT_CMD_ID, 4), 2);
    /* a hint under an old cmd_id is ignored; a cmd_id of 3 bytes is refused */
    send_cmd(x, 7);
    post(x, HINT_Q, PAGE_A, 4096, DESC_WRITE);
    assert_true(all(a, 4096, 0xab));
    post(x, HINT_Q, LIST_GPA, 3, 0);
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.refused_requests, 1);
    /* the run's cmd_id, then hints: unaligned refused, a good one dropped */
    send_cmd(x, 2);
    post(x, HINT_Q, PAGE_A + 2048, 4096, DESC_WRITE);
    assert_true(all(a, 2 * 4096, 0xab));
    post(x, HINT_Q, PAGE_A, 2 * 4096, DESC_WRITE);
    assert_true(all(a, 2 * 4096, 0));
    assert_true(all(a + 2 * 4096, 2 * 4096, 0xab));
    virtio_balloon_info(f->b, &info);
    assert_int_equal(info.hinted_pages, 2);
    assert_int_equal(info.refused_requests, 2);
    assert_int_equal(virtio_balloon_hint_status(f->b, &st, &e), 0);
    assert_int_equal(st.host_cmd, 2);
    assert_true(st.has_guest_cmd);
    assert_int_equal(st.guest_cmd, 2);
    /* STOP from the guest: acknowledged with DONE; later hints are not taken */
    send_cmd(x, VIRTIO_BALLOON_CMD_ID_STOP);
    assert_int_equal(virtio_balloon_hint_status(f->b, &st, &e), 0);
    assert_int_equal(st.host_cmd, VIRTIO_BALLOON_CMD_ID_DONE);
    assert_int_equal(st.guest_cmd, VIRTIO_BALLOON_CMD_ID_STOP);
    post(x, HINT_Q, PAGE_A + 2 * 4096, 4096, DESC_WRITE);
    assert_true(all(a + 2 * 4096, 4096, 0xab));
    /* without acknowledge_on_stop the run's cmd_id stays until stop */
    assert_int_equal(virtio_balloon_hint_start(f->b, false, &e), 0);
    send_cmd(x, 3);
    send_cmd(x, VIRTIO_BALLOON_CMD_ID_STOP);
    assert_int_equal(virtio_balloon_hint_status(f->b, &st, &e), 0);
    assert_int_equal(st.host_cmd, 3);
    assert_int_equal(virtio_balloon_hint_stop(f->b, &e), 0);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_FREE_PAGE_HINT_CMD_ID, 4),
                     VIRTIO_BALLOON_CMD_ID_DONE);
}

static void test_hinting_not_offered(void **state)
{
    struct bfx *f = *state;
    struct errmsg e = {{0}};
    struct virtio_balloon_hint_status st;
    assert_int_equal(virtio_balloon_hint_start(f->b, true, &e), -ENOTSUP);
    assert_non_null(strstr(e.text, "free page hinting was not enabled"));
    assert_int_equal(virtio_balloon_hint_status(f->b, &st, &e), -ENOTSUP);
    assert_int_equal(virtio_balloon_hint_stop(f->b, &e), -ENOTSUP);
    assert_int_equal(tdrv_device_features(&f->d) & (VIRTIO_BIT(VIRTIO_BALLOON_F_FREE_PAGE_HINT) |
                                                   VIRTIO_BIT(VIRTIO_BALLOON_F_REPORTING)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inflate_gives_pages_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pfn_outside_ram_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_outside_ram_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_target, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_forgets_inflated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reporting_bad_ranges, setup_fp, teardown_fp),
        cmocka_unit_test_setup_teardown(test_hinting_runs, setup_fp, teardown_fp),
        cmocka_unit_test_setup_teardown(test_hinting_not_offered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
