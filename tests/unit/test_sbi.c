/* Unit tests for machine/sbi: decoding, validation, hart masks, counters,
 * against a fake board that records what it was asked to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "machine/sbi.h"

struct fake {
    uint64_t timer[4];
    uint64_t ipi_targets;
    int fences;
    int fence_retry;     /* the board asks for the call to be retried */
    uint64_t fence_targets;
    enum sbi_fence fence_kind;
    uint64_t fence_start, fence_size, fence_asid;
    int started;
    uint64_t start_addr, start_arg;
    enum sbi_reset reset_type;
    int resets;
    char out[64];
    size_t outlen;
    const char *in;
    uint8_t ram[256];
};

static void f_set_timer(void *o, unsigned hart, uint64_t v) { ((struct fake *)o)->timer[hart] = v; }
static void f_send_ipi(void *o, uint64_t t) { ((struct fake *)o)->ipi_targets = t; }
static int f_fence(void *o, unsigned hart, uint64_t t, enum sbi_fence k, uint64_t s, uint64_t z,
                   uint64_t a)
{
    struct fake *f = o;
    (void)hart;
    if (f->fence_retry)
        return SBI_RETRY;
    f->fences++;
    f->fence_targets = t;
    f->fence_kind = k;
    f->fence_start = s;
    f->fence_size = z;
    f->fence_asid = a;
    return SBI_SUCCESS;
}
static int f_start(void *o, unsigned t, uint64_t addr, uint64_t arg)
{
    struct fake *f = o;
    if (t == 0)
        return SBI_ERR_ALREADY_STARTED;
    f->started = (int)t;
    f->start_addr = addr;
    f->start_arg = arg;
    return SBI_SUCCESS;
}
static int f_stop(void *o, unsigned h) { (void)o; (void)h; return SBI_SUCCESS; }
static enum sbi_hart_state f_status(void *o, unsigned t)
{
    return ((struct fake *)o)->started == (int)t || t == 0 ? SBI_HART_STARTED : SBI_HART_STOPPED;
}
static int f_suspend(void *o, unsigned h) { (void)o; (void)h; return SBI_SUCCESS; }
static void f_reset(void *o, enum sbi_reset t, uint32_t r)
{
    (void)r;
    ((struct fake *)o)->reset_type = t;
    ((struct fake *)o)->resets++;
}
static size_t f_write(void *o, const uint8_t *b, size_t n)
{
    struct fake *f = o;
    memcpy(f->out + f->outlen, b, n);
    f->outlen += n;
    return n;
}
static size_t f_read(void *o, uint8_t *b, size_t n)
{
    struct fake *f = o;
    size_t i = 0;
    while (i < n && f->in && *f->in)
        b[i++] = (uint8_t)*f->in++;
    return i;
}
static uint8_t *f_ram(void *o, uint64_t pa, uint64_t len)
{
    struct fake *f = o;
    if (pa < 0x80000000u || len > sizeof f->ram || pa - 0x80000000u > sizeof f->ram - len)
        return NULL;
    return f->ram + (pa - 0x80000000u);
}

static struct sbi sbi;
static struct fake fk;

static int setup(void **state)
{
    (void)state;
    memset(&fk, 0, sizeof fk);
    struct sbi_ops ops = {f_set_timer, f_send_ipi, f_fence, f_start, f_stop, f_status,
                          f_suspend, f_reset, f_write, f_read, f_ram, &fk};
    sbi_init(&sbi, &ops, 4);
    return 0;
}

static struct sbi_ret call(unsigned hart, uint64_t ext, uint64_t fid, uint64_t a0, uint64_t a1,
                           uint64_t a2, uint64_t a3, uint64_t a4)
{
    uint64_t a[6] = {a0, a1, a2, a3, a4, 0};
    return sbi_call(&sbi, hart, ext, fid, a);
}

static void base_reports_version_and_probes(void **state)
{
    (void)state;
    struct sbi_ret r = call(0, SBI_EXT_BASE, 0, 0, 0, 0, 0, 0);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.value >> 24, 2);
    assert_int_equal(call(0, SBI_EXT_BASE, 3, SBI_EXT_HSM, 0, 0, 0, 0).value, 1);
    assert_int_equal(call(0, SBI_EXT_BASE, 3, SBI_EXT_DBCN, 0, 0, 0, 0).value, 1);
    assert_int_equal(call(0, SBI_EXT_BASE, 3, 0x504d55 /* PMU */, 0, 0, 0, 0).value, 0);
    assert_int_equal(call(0, SBI_EXT_BASE, 1, 0, 0, 0, 0, 0).value, SBI_IMPL_ID_MINNOW);
    assert_int_equal(call(0, SBI_EXT_BASE, 99, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
}

static void unknown_extension_is_not_supported_and_counted(void **state)
{
    (void)state;
    assert_int_equal(call(0, 0x504d55, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    assert_int_equal(call(0, 0x12345678, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    assert_int_equal(sbi.calls[SBI_COUNT_UNSUPPORTED], 2);
    call(1, SBI_EXT_TIME, 0, 5, 0, 0, 0, 0);
    assert_int_equal(sbi.calls[SBI_COUNT_TIME], 1);
}

static void timer_goes_to_calling_hart(void **state)
{
    (void)state;
    assert_int_equal(call(2, SBI_EXT_TIME, 0, 12345, 0, 0, 0, 0).error, 0);
    assert_int_equal(fk.timer[2], 12345);
    assert_int_equal(call(1, SBI_EXT_LEGACY_SET_TIMER, 0, 777, 0, 0, 0, 0).error, 0);
    assert_int_equal(fk.timer[1], 777);
}

static void ipi_hart_masks(void **state)
{
    (void)state;
    assert_int_equal(call(0, SBI_EXT_IPI, 0, 0x3, 1, 0, 0, 0).error, 0);
    assert_int_equal(fk.ipi_targets, 0x6);                 /* harts 1 and 2 */
    assert_int_equal(call(0, SBI_EXT_IPI, 0, 0, UINT64_MAX, 0, 0, 0).error, 0);
    assert_int_equal(fk.ipi_targets, 0xf);                 /* base -1: all four */
    fk.ipi_targets = 0;
    assert_int_equal(call(0, SBI_EXT_IPI, 0, 0x3, 3, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_IPI, 0, 1, 1ull << 40, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(fk.ipi_targets, 0);                   /* nothing sent on error */
}

static void rfence_kinds(void **state)
{
    (void)state;
    assert_int_equal(call(0, SBI_EXT_RFENCE, 2, 0x1, 0, 0x1000, 0x2000, 7).error, 0);
    assert_int_equal(fk.fence_kind, SBI_FENCE_VMA_ASID);
    assert_int_equal(fk.fence_targets, 1);
    assert_int_equal(fk.fence_start, 0x1000);
    assert_int_equal(fk.fence_size, 0x2000);
    assert_int_equal(fk.fence_asid, 7);
    assert_int_equal(call(0, SBI_EXT_RFENCE, 0, 0xf, 0, 0, 0, 0).error, 0);
    assert_int_equal(fk.fence_kind, SBI_FENCE_I);
    assert_int_equal(call(0, SBI_EXT_RFENCE, 3, 0xf, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    assert_int_equal(fk.fences, 2);
}

/* A fence the board cannot finish before the calling hart stops (a
 * pause) asks for a retry: nothing for the guest's registers, and the
 * call is counted once, when it is finally made. */
static void rfence_retry_is_not_an_answer(void **state)
{
    (void)state;
    fk.fence_retry = 1;
    struct sbi_ret r = call(1, SBI_EXT_RFENCE, 1, 0x1, 0, 0, 0, 0);
    assert_true(r.retry);
    assert_int_equal(sbi.calls[SBI_COUNT_RFENCE], 0);
    fk.fence_retry = 0;
    r = call(1, SBI_EXT_RFENCE, 1, 0x1, 0, 0, 0, 0);
    assert_false(r.retry);
    assert_int_equal(r.error, 0);
    assert_int_equal(fk.fences, 1);
    assert_int_equal(sbi.calls[SBI_COUNT_RFENCE], 1);
}

static void hsm_start_status_suspend(void **state)
{
    (void)state;
    assert_int_equal(call(0, SBI_EXT_HSM, 0, 3, 0x80200000, 42, 0, 0).error, 0);
    assert_int_equal(fk.started, 3);
    assert_int_equal(fk.start_addr, 0x80200000);
    assert_int_equal(fk.start_arg, 42);
    assert_int_equal(call(0, SBI_EXT_HSM, 0, 0, 0x80200000, 0, 0, 0).error, SBI_ERR_ALREADY_STARTED);
    assert_int_equal(call(0, SBI_EXT_HSM, 0, 4, 0x80200000, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_HSM, 2, 3, 0, 0, 0, 0).value, SBI_HART_STARTED);
    assert_int_equal(call(0, SBI_EXT_HSM, 2, 2, 0, 0, 0, 0).value, SBI_HART_STOPPED);
    assert_int_equal(call(0, SBI_EXT_HSM, 2, 9, 0, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_HSM, 3, 0, 0, 0, 0, 0).error, 0);
    assert_int_equal(call(0, SBI_EXT_HSM, 3, 0x80000000, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    assert_int_equal(call(0, SBI_EXT_HSM, 3, 5, 0, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
}

static void srst_types_and_reasons(void **state)
{
    (void)state;
    assert_int_equal(call(0, SBI_EXT_SRST, 0, 3, 0, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_SRST, 0, 0, 7, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(fk.resets, 0);
    assert_int_equal(call(0, SBI_EXT_SRST, 0, 1, 0, 0, 0, 0).error, 0);
    assert_int_equal(fk.reset_type, SBI_RESET_COLD);
    call(0, SBI_EXT_LEGACY_SHUTDOWN, 0, 0, 0, 0, 0, 0);
    assert_int_equal(fk.reset_type, SBI_RESET_SHUTDOWN);
    assert_int_equal(fk.resets, 2);
}

static void dbcn_reads_guest_memory_with_bounds(void **state)
{
    (void)state;
    memcpy(fk.ram + 16, "hello", 5);
    struct sbi_ret r = call(0, SBI_EXT_DBCN, 0, 5, 0x80000010, 0, 0, 0);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.value, 5);
    assert_int_equal(call(0, SBI_EXT_DBCN, 2, '!', 0, 0, 0, 0).error, 0);
    assert_memory_equal(fk.out, "hello!", 6);
    /* outside RAM, wrapping, high address half: refused, nothing written */
    assert_int_equal(call(0, SBI_EXT_DBCN, 0, 5, 0x10000000, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_DBCN, 0, UINT64_MAX, 0x80000010, 0, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(call(0, SBI_EXT_DBCN, 0, 5, 0x80000010, 1, 0, 0).error, SBI_ERR_INVALID_PARAM);
    assert_int_equal(fk.outlen, 6);
    fk.in = "ab";
    r = call(0, SBI_EXT_DBCN, 1, 8, 0x80000020, 0, 0, 0);
    assert_int_equal(r.value, 2);
    assert_memory_equal(fk.ram + 32, "ab", 2);
}

static void legacy_console(void **state)
{
    (void)state;
    struct sbi_ret r = call(0, SBI_EXT_LEGACY_PUTCHAR, 0, 'x', 0, 0, 0, 0);
    assert_true(r.legacy);
    assert_int_equal(fk.out[0], 'x');
    fk.in = "q";
    assert_int_equal(call(0, SBI_EXT_LEGACY_GETCHAR, 0, 0, 0, 0, 0, 0).error, 'q');
    assert_int_equal(call(0, SBI_EXT_LEGACY_GETCHAR, 0, 0, 0, 0, 0, 0).error, -1);
    assert_int_equal(call(0, 4 /* legacy send_ipi */, 0, 0, 0, 0, 0, 0).error, SBI_ERR_NOT_SUPPORTED);
    assert_int_equal(sbi.calls[SBI_COUNT_LEGACY], 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(base_reports_version_and_probes, setup),
        cmocka_unit_test_setup(unknown_extension_is_not_supported_and_counted, setup),
        cmocka_unit_test_setup(timer_goes_to_calling_hart, setup),
        cmocka_unit_test_setup(ipi_hart_masks, setup),
        cmocka_unit_test_setup(rfence_kinds, setup),
        cmocka_unit_test_setup(rfence_retry_is_not_an_answer, setup),
        cmocka_unit_test_setup(hsm_start_status_suspend, setup),
        cmocka_unit_test_setup(srst_types_and_reasons, setup),
        cmocka_unit_test_setup(dbcn_reads_guest_memory_with_bounds, setup),
        cmocka_unit_test_setup(legacy_console, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
