/* Unit tests for devices/clint: msip, mtimecmp against a real 10 MHz
 * mtime, the deadline the board sleeps until, 32-bit halves. Timing
 * assertions are loose bounds on a real clock, not speed measurements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/clint.h"

#define MSIP (1ull << 3)
#define MTIP (1ull << 7)
#define NHARTS 3

struct fixture {
    struct clint *c;
    uint64_t mip[NHARTS];
    uint64_t cmp_seen[NHARTS];
    int cmp_calls;
};

static void set_pending(void *opaque, unsigned hart, uint64_t bit, int level)
{
    struct fixture *f = opaque;
    assert_true(hart < NHARTS);
    assert_true(bit == MSIP || bit == MTIP);
    if (level)
        f->mip[hart] |= bit;
    else
        f->mip[hart] &= ~bit;
}

static void cmp_changed(void *opaque, unsigned hart, uint64_t value)
{
    struct fixture *f = opaque;
    assert_true(hart < NHARTS);
    f->cmp_seen[hart] = value;
    f->cmp_calls++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct clint_ops ops = {.set_pending = set_pending, .mtimecmp_changed = cmp_changed, .opaque = f};
    struct errmsg e;
    assert_int_equal(clint_create(&f->c, NHARTS, &ops, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    clint_destroy(f->c);
    free(f);
    return 0;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t mtimecmp_off(unsigned h) { return 0x4000ull + 8 * h; }

static void create_checks_harts(void **state)
{
    (void)state;
    struct clint *c;
    struct errmsg e;
    assert_int_equal(clint_create(&c, 0, NULL, &e), -EINVAL);
    assert_int_equal(clint_create(&c, CLINT_MAX_HARTS + 1, NULL, &e), -EINVAL);
    assert_int_equal(clint_create(&c, 1, NULL, &e), 0);
    /* No callbacks at all is allowed. */
    clint_mmio_ops.write(c, 0, 1, 4);
    clint_mmio_ops.write(c, 0x4000, 0, 8);
    clint_update(c);
    clint_destroy(c);
}

static void msip_sets_msip(void **state)
{
    struct fixture *f = *state;
    clint_mmio_ops.write(f->c, 4 * 1, 1, 4);
    assert_int_equal(f->mip[1], MSIP);
    assert_int_equal(f->mip[0] | f->mip[2], 0);
    assert_int_equal(clint_mmio_ops.read(f->c, 4 * 1, 4), 1);
    clint_mmio_ops.write(f->c, 4 * 1, 0xfffffffe, 4);   /* only bit 0 counts */
    assert_int_equal(f->mip[1], 0);
    assert_int_equal(clint_mmio_ops.read(f->c, 4 * 1, 4), 0);
    /* Harts that do not exist, and odd sizes, are ignored. */
    clint_mmio_ops.write(f->c, 4 * NHARTS, 1, 4);
    clint_mmio_ops.write(f->c, 4 * 2, 1, 1);
    clint_mmio_ops.write(f->c, 4 * 2 + 2, 1, 4);
    assert_int_equal(f->mip[0] | f->mip[1] | f->mip[2], 0);
    assert_int_equal(clint_mmio_ops.read(f->c, 4 * NHARTS, 4), 0);
}

static void mtime_advances_at_10mhz(void **state)
{
    struct fixture *f = *state;
    /* Bracket each read with host clock reads so the bounds hold however
     * the test thread is scheduled. */
    uint64_t na = mono_ns();
    uint64_t t0 = clint_mmio_ops.read(f->c, 0xbff8, 8);
    uint64_t nb = mono_ns();
    sleep_ns(50000000);   /* 50 ms */
    uint64_t nc = mono_ns();
    uint64_t t1 = clint_mmio_ops.read(f->c, 0xbff8, 8);
    uint64_t nd = mono_ns();
    uint64_t ticks = t1 - t0;
    assert_true(ticks + 1 >= (nc - nb) / 100);
    assert_true(ticks <= (nd - na) / 100 + 1);
    assert_true(ticks >= 500000 - 1);
    assert_true(clint_time(f->c) >= t1);
    assert_true(clint_time_read(f->c) >= t1);
}

/* A paused VM sees no time pass: frozen mtime stands still, and after the
 * thaw it runs on from where it stood, not from the host clock. */
static void freeze_and_thaw(void **state)
{
    struct fixture *f = *state;
    clint_freeze(f->c);
    uint64_t t0 = clint_time(f->c);
    sleep_ns(30000000);   /* 30 ms */
    assert_int_equal(clint_time(f->c), t0);
    assert_int_equal(clint_mmio_ops.read(f->c, 0xbff8, 8), t0);
    uint64_t na = mono_ns();
    clint_thaw(f->c);
    uint64_t t1 = clint_time(f->c);
    uint64_t nb = mono_ns();
    assert_true(t1 >= t0);
    assert_true(t1 - t0 <= (nb - na) / 100 + 1);  /* only what passed since the thaw */
    sleep_ns(10000000);
    assert_true(clint_time(f->c) >= t1 + 100000 - 1);  /* and it runs again */
}

static void mtime_write_moves_offset(void **state)
{
    struct fixture *f = *state;
    clint_mmio_ops.write(f->c, 0xbff8, 0x123456789abcull, 8);
    uint64_t t = clint_time(f->c);
    assert_true(t >= 0x123456789abcull && t < 0x123456789abcull + 10000000);
    /* 32-bit halves: the high word alone. */
    clint_mmio_ops.write(f->c, 0xbffc, 0x77, 4);
    assert_int_equal(clint_mmio_ops.read(f->c, 0xbffc, 4), 0x77);
    assert_int_equal(clint_time(f->c) >> 32, 0x77);
    /* The low word read alone is the low half of mtime. */
    uint64_t lo = clint_mmio_ops.read(f->c, 0xbff8, 4);
    assert_true(lo <= 0xffffffffull);
}

static void mtimecmp_past_raises_mtip(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(clint_next_deadline(f->c, 0), UINT64_MAX);   /* reset value: never */
    uint64_t now = clint_time(f->c);
    clint_mmio_ops.write(f->c, mtimecmp_off(2), now, 8);
    assert_int_equal(f->mip[2], MTIP);
    assert_int_equal(f->mip[0] | f->mip[1], 0);
    assert_int_equal(f->cmp_calls, 1);
    assert_int_equal(f->cmp_seen[2], now);
    assert_true(clint_next_deadline(f->c, 2) <= mono_ns());
    /* Moving it far ahead clears it. */
    clint_mmio_ops.write(f->c, mtimecmp_off(2), UINT64_MAX, 8);
    assert_int_equal(f->mip[2], 0);
}

static void mtimecmp_future_and_deadline(void **state)
{
    struct fixture *f = *state;
    uint64_t na = mono_ns();
    uint64_t now = clint_time(f->c);
    uint64_t nb = mono_ns();
    uint64_t cmp = now + 2000000;   /* 200 ms: room for a slow scheduler */
    clint_mmio_ops.write(f->c, mtimecmp_off(0), cmp, 8);
    assert_int_equal(f->mip[0], 0);
    /* mtime read `now` somewhere in [na, nb]: it reaches cmp 200 ms later. */
    uint64_t d = clint_next_deadline(f->c, 0);
    assert_true(d + 100 >= na + 200000000 && d <= nb + 200000000);
    assert_int_equal(clint_next_deadline(f->c, 1), UINT64_MAX);
    assert_int_equal(clint_next_deadline(f->c, NHARTS), UINT64_MAX);
    clint_update(f->c);
    assert_int_equal(f->mip[0], 0);
    /* Sleep to the deadline: due then, not before. */
    uint64_t n = mono_ns();
    if (d > n)
        sleep_ns(d - n);
    clint_update(f->c);
    assert_int_equal(f->mip[0], MTIP);
    assert_true(clint_time(f->c) >= cmp);
    /* A deadline too far away to represent is "never". */
    clint_mmio_ops.write(f->c, mtimecmp_off(1), UINT64_MAX - 1, 8);
    assert_int_equal(clint_next_deadline(f->c, 1), UINT64_MAX);
}

static void mtimecmp_halves(void **state)
{
    struct fixture *f = *state;
    /* Writing high then low: the usual RV32 sequence. */
    clint_mmio_ops.write(f->c, mtimecmp_off(1) + 4, 0x1, 4);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(1), 8), 0x1ffffffffull);
    clint_mmio_ops.write(f->c, mtimecmp_off(1), 0x2, 4);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(1), 8), 0x100000002ull);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(1), 4), 0x2);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(1) + 4, 4), 0x1);
    assert_int_equal(f->cmp_seen[1], 0x100000002ull);
    /* Misaligned 8-byte access and the gap past the last hart. */
    clint_mmio_ops.write(f->c, mtimecmp_off(1) + 4, 0, 8);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(1) + 4, 8), 0);
    clint_mmio_ops.write(f->c, mtimecmp_off(NHARTS), 0, 8);
    assert_int_equal(clint_mmio_ops.read(f->c, mtimecmp_off(NHARTS), 8), 0);
    assert_int_equal(f->mip[0] | f->mip[2], 0);
    assert_int_equal(clint_mmio_ops.read(f->c, CLINT_MMIO_SIZE - 4, 4), 0);
    assert_int_equal(clint_mmio_ops.read(f->c, ~0ull - 7, 8), 0);
}

static void mtime_write_reevaluates(void **state)
{
    struct fixture *f = *state;
    clint_mmio_ops.write(f->c, 0xbff8, 1000, 8);
    clint_mmio_ops.write(f->c, mtimecmp_off(0), 1000000000, 8);
    assert_int_equal(f->mip[0], 0);
    clint_mmio_ops.write(f->c, 0xbff8, 2000000000, 8);
    assert_int_equal(f->mip[0], MTIP);
    clint_mmio_ops.write(f->c, 0xbff8, 0, 8);
    assert_int_equal(f->mip[0], 0);
}

#define SAVED_MTIME 0x123456789abcull

/* mtime far ahead of a new CLINT's clock, hart 1's msip set, frozen as a
 * paused VM is. */
static void save_busy(struct fixture *f, struct snap_writer *w)
{
    clint_mmio_ops.write(f->c, 0xbff8, SAVED_MTIME, 8);
    clint_mmio_ops.write(f->c, 4 * 1, 1, 4);
    clint_mmio_ops.write(f->c, mtimecmp_off(2), SAVED_MTIME + 12345, 8);
    clint_freeze(f->c);
    snapw_init(w);
    assert_int_equal(clint_save(f->c, w), 0);
}

static int load(struct fixture *f, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return clint_load(f->c, &r, e);
}

static void snapshot_time_goes_on(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    save_busy(f, &w);
    uint64_t saved = clint_time(f->c);
    assert_true(saved >= SAVED_MTIME && saved < SAVED_MTIME + 10000000);
    struct errmsg e = {{0}};

    /* Into a running CLINT: time continues from the saved value. */
    void *st2;
    setup(&st2);
    struct fixture *g = st2;
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("clint_load: %s", e.text);
    uint64_t t = clint_time(g->c);
    assert_true(t >= saved && t < saved + 10000000);
    assert_int_equal(g->mip[1], MSIP);
    assert_int_equal(g->mip[0] | g->mip[2], 0);
    assert_int_equal(clint_mmio_ops.read(g->c, 4 * 1, 4), 1);
    assert_int_equal(clint_mmio_ops.read(g->c, mtimecmp_off(2), 8), SAVED_MTIME + 12345);
    sleep_ns(10000000);
    assert_true(clint_time(g->c) >= t + 100000 - 1);
    teardown(&st2);

    /* Into a frozen one (a VM restored paused): it stands at the saved
     * value until the thaw, then runs on from there. */
    setup(&st2);
    g = st2;
    clint_freeze(g->c);
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("clint_load: %s", e.text);
    assert_int_equal(clint_time(g->c), saved);
    sleep_ns(20000000);
    assert_int_equal(clint_mmio_ops.read(g->c, 0xbff8, 8), saved);
    uint64_t na = mono_ns();
    clint_thaw(g->c);
    t = clint_time(g->c);
    uint64_t nb = mono_ns();
    assert_true(t >= saved && t - saved <= (nb - na) / 100 + 1);
    /* mtimecmp is the harts' business: a restored CLINT asks nothing. */
    assert_int_equal(g->cmp_calls, 0);
    teardown(&st2);
    snapw_free(&w);
}

static void snapshot_refuses_bad_state(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    save_busy(f, &w);
    struct errmsg e;
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load(f, w.buf, n, &e), -EINVAL);
    /* version, nharts, mtime, per hart an msip byte and mtimecmp */
    static const struct { size_t off; uint8_t val; const char *msg; } bad[] = {
        {0, 0, "version 0"},
        {4, 2, "2 harts"},
        {16 + 2 * 9, 2, "hart 2: msip 2"},
    };
    uint8_t buf[64];
    assert_true(w.len < sizeof buf);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, w.buf, w.len);
        buf[bad[i].off] = bad[i].val;
        assert_int_equal(load(f, buf, w.len, &e), -EINVAL);
        if (!strstr(e.text, "clint: ") || !strstr(e.text, bad[i].msg))
            fail_msg("case %zu: message '%s' does not name '%s'", i, e.text, bad[i].msg);
    }
    memcpy(buf, w.buf, w.len);
    assert_int_equal(load(f, buf, w.len + 1, &e), -EINVAL);   /* a trailing byte */
    snapw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_checks_harts),
        cmocka_unit_test_setup_teardown(msip_sets_msip, setup, teardown),
        cmocka_unit_test_setup_teardown(mtime_advances_at_10mhz, setup, teardown),
        cmocka_unit_test_setup_teardown(mtime_write_moves_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(freeze_and_thaw, setup, teardown),
        cmocka_unit_test_setup_teardown(mtimecmp_past_raises_mtip, setup, teardown),
        cmocka_unit_test_setup_teardown(mtimecmp_future_and_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(mtimecmp_halves, setup, teardown),
        cmocka_unit_test_setup_teardown(mtime_write_reevaluates, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_time_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_refuses_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
