/* Unit tests for devices/rtc: the goldfish RTC as Linux's rtc-goldfish
 * drives it (time read and set, alarm, interrupt enable and clear). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/rtc.h"

enum { TIME_LOW = 0x00, TIME_HIGH = 0x04, ALARM_LOW = 0x08, ALARM_HIGH = 0x0c,
       IRQ_ENABLED = 0x10, CLEAR_ALARM = 0x14, ALARM_STATUS = 0x18, CLEAR_INTERRUPT = 0x1c };

struct fixture {
    struct rtc *r;
    int irq;
};

static void irq_cb(void *opaque, unsigned source, int level)
{
    struct fixture *f = opaque;
    assert_int_equal(source, RTC_IRQ);
    f->irq = level;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct irq_line irq = {.set = irq_cb, .opaque = f, .source = RTC_IRQ};
    struct errmsg e;
    assert_int_equal(rtc_create(&f->r, &irq, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rtc_destroy(f->r);
    free(f);
    return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
    return (uint32_t)rtc_mmio_ops.read(f->r, off, 4);
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
    rtc_mmio_ops.write(f->r, off, v, 4);
}

static uint64_t host_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The driver's read: TIME_LOW first (latches the high half). */
static uint64_t guest_time(struct fixture *f)
{
    uint64_t lo = rd(f, TIME_LOW);
    return ((uint64_t)rd(f, TIME_HIGH) << 32) | lo;
}

static void time_follows_host_realtime(void **state)
{
    struct fixture *f = *state;
    uint64_t a = host_ns(CLOCK_REALTIME);
    uint64_t t = guest_time(f);
    uint64_t b = host_ns(CLOCK_REALTIME);
    assert_true(t >= a && t <= b);
    assert_true(rtc_time(f->r) >= t);
}

static void time_high_is_latched(void **state)
{
    struct fixture *f = *state;
    uint32_t lo = rd(f, TIME_LOW);
    (void)lo;
    uint32_t hi = rd(f, TIME_HIGH);
    /* Setting the time does not change what was latched. */
    wr(f, TIME_HIGH, hi + 5);
    assert_int_equal(rd(f, TIME_HIGH), hi);
    (void)rd(f, TIME_LOW);
    uint32_t hi2 = rd(f, TIME_HIGH);
    assert_true(hi2 == hi + 5 || hi2 == hi + 6);   /* the low word may have wrapped */
}

static void time_can_be_set(void **state)
{
    struct fixture *f = *state;
    /* rtc-goldfish's set_time: TIME_HIGH then TIME_LOW. */
    uint64_t want = 1000ull * 1000000000ull;   /* 1970-01-01 00:16:40 */
    wr(f, TIME_HIGH, (uint32_t)(want >> 32));
    wr(f, TIME_LOW, (uint32_t)want);
    uint64_t t = guest_time(f);
    assert_true(t >= want && t < want + 1000000000ull);
    /* And it keeps running. */
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    assert_true(guest_time(f) >= t + 2000000);
}

static void alarm_raises_irq_and_clears(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rtc_next_deadline(f->r), UINT64_MAX);
    uint64_t when = rtc_time(f->r) + 30000000;   /* 30 ms */
    wr(f, IRQ_ENABLED, 1);
    wr(f, ALARM_HIGH, (uint32_t)(when >> 32));
    wr(f, ALARM_LOW, (uint32_t)when);
    assert_int_equal(rd(f, ALARM_STATUS), 1);
    assert_int_equal(rd(f, IRQ_ENABLED), 1);
    assert_int_equal(rd(f, ALARM_LOW), (uint32_t)when);
    assert_int_equal(rd(f, ALARM_HIGH), (uint32_t)(when >> 32));
    assert_int_equal(f->irq, 0);
    uint64_t d = rtc_next_deadline(f->r);
    uint64_t now = host_ns(CLOCK_MONOTONIC);
    assert_true(d > now && d <= now + 30000000);
    /* Sleep to the deadline, as the board's timer thread does, plus 1 ms
     * in case NTP is slewing the realtime clock against the monotonic one. */
    struct timespec ts = {0, (long)(d - now) + 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    rtc_update(f->r);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, ALARM_STATUS), 0);   /* fired: no longer armed */
    assert_int_equal(rtc_next_deadline(f->r), UINT64_MAX);
    wr(f, CLEAR_INTERRUPT, 1);
    assert_int_equal(f->irq, 0);
}

static void irq_enable_gates_the_line(void **state)
{
    struct fixture *f = *state;
    uint64_t past = rtc_time(f->r) - 1;
    wr(f, ALARM_HIGH, (uint32_t)(past >> 32));
    wr(f, ALARM_LOW, (uint32_t)past);     /* already due: fires at once */
    assert_int_equal(rd(f, ALARM_STATUS), 0);
    assert_int_equal(f->irq, 0);            /* not enabled */
    wr(f, IRQ_ENABLED, 1);
    assert_int_equal(f->irq, 1);
    wr(f, IRQ_ENABLED, 0);
    assert_int_equal(f->irq, 0);
    wr(f, CLEAR_INTERRUPT, 0);
    wr(f, IRQ_ENABLED, 1);
    assert_int_equal(f->irq, 0);
}

static void clear_alarm_disarms(void **state)
{
    struct fixture *f = *state;
    uint64_t when = rtc_time(f->r) + 1000000;   /* 1 ms */
    wr(f, IRQ_ENABLED, 1);
    wr(f, ALARM_HIGH, (uint32_t)(when >> 32));
    wr(f, ALARM_LOW, (uint32_t)when);
    wr(f, CLEAR_ALARM, 1);
    assert_int_equal(rd(f, ALARM_STATUS), 0);
    assert_int_equal(rtc_next_deadline(f->r), UINT64_MAX);
    struct timespec ts = {0, 3000000};
    nanosleep(&ts, NULL);
    rtc_update(f->r);
    assert_int_equal(f->irq, 0);
}

static void odd_accesses_are_ignored(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x20, 1);
    wr(f, 0xffc, 1);
    rtc_mmio_ops.write(f->r, IRQ_ENABLED, 1, 1);
    rtc_mmio_ops.write(f->r, IRQ_ENABLED + 2, 1, 4);
    assert_int_equal(rd(f, IRQ_ENABLED), 0);
    assert_int_equal(rd(f, 0x20), 0);
    assert_int_equal(rtc_mmio_ops.read(f->r, TIME_LOW, 8), 0);
    assert_int_equal(rtc_mmio_ops.read(f->r, ~0ull - 3, 4), 0);
}

static void set_alarm(struct fixture *f, uint64_t when)
{
    wr(f, ALARM_HIGH, (uint32_t)(when >> 32));
    wr(f, ALARM_LOW, (uint32_t)when);
}

/* The guest moved its clock a day ahead, enabled the interrupt, had an
 * alarm fire (pending, line high) and armed the next one in `next` ns. */
static void save_busy(struct fixture *f, uint64_t next, struct snap_writer *w)
{
    uint64_t want = host_ns(CLOCK_REALTIME) + 86400ull * 1000000000ull;
    wr(f, TIME_HIGH, (uint32_t)(want >> 32));
    wr(f, TIME_LOW, (uint32_t)want);
    wr(f, IRQ_ENABLED, 1);
    set_alarm(f, rtc_time(f->r) - 1);
    assert_int_equal(f->irq, 1);
    set_alarm(f, rtc_time(f->r) + next);
    snapw_init(w);
    assert_int_equal(rtc_save(f->r, w), 0);
}

static int load(struct fixture *f, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return rtc_load(f->r, &r, e);
}

static void snapshot_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    save_busy(f, 3600ull * 1000000000ull, &w);
    void *st2;
    setup(&st2);
    struct fixture *g = st2;
    struct errmsg e = {{0}};
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("rtc_load: %s", e.text);
    assert_int_equal(g->irq, 1);
    /* The guest's time, not the host's: a day ahead, still running. */
    uint64_t tf = guest_time(f), tg = guest_time(g);
    uint64_t diff = tf > tg ? tf - tg : tg - tf;
    assert_true(diff < 1000000000ull);
    assert_true(tg > host_ns(CLOCK_REALTIME) + 86000ull * 1000000000ull);
    for (uint64_t off = ALARM_LOW; off <= ALARM_STATUS; off += 4)
        assert_int_equal(rd(g, off), rd(f, off));
    assert_int_equal(rd(g, ALARM_STATUS), 1);
    wr(g, CLEAR_INTERRUPT, 1);
    assert_int_equal(g->irq, 0);
    teardown(&st2);
    snapw_free(&w);
}

/* An alarm that came due between save and restore fires on load. */
static void snapshot_alarm_due_meanwhile(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    save_busy(f, 10000000, &w);   /* 10 ms */
    wr(f, CLEAR_INTERRUPT, 1);
    struct timespec ts = {0, 30000000};
    nanosleep(&ts, NULL);
    /* Clear the pending bit in the saved state: only the alarm can set it. */
    w.buf[w.len - 1] = 0;
    void *st2;
    setup(&st2);
    struct fixture *g = st2;
    struct errmsg e = {{0}};
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("rtc_load: %s", e.text);
    assert_int_equal(g->irq, 1);
    assert_int_equal(rd(g, ALARM_STATUS), 0);
    teardown(&st2);
    snapw_free(&w);
}

static void snapshot_refuses_bad_state(void **state)
{
    struct fixture *f = *state;
    struct snap_writer w;
    save_busy(f, 1000000000ull, &w);
    struct errmsg e;
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load(f, w.buf, n, &e), -EINVAL);
    /* version, offset, latched TIME_HIGH, alarm, armed, enabled, pending */
    static const struct { size_t off; uint8_t val; const char *msg; } bad[] = {
        {0, 7, "version 7"},
        {24, 2, "alarm armed 2"},
        {25, 3, "irq enabled 3"},
        {26, 0xff, "irq pending 255"},
    };
    uint8_t buf[64];
    assert_true(w.len < sizeof buf);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, w.buf, w.len);
        buf[bad[i].off] = bad[i].val;
        assert_int_equal(load(f, buf, w.len, &e), -EINVAL);
        if (!strstr(e.text, "rtc: ") || !strstr(e.text, bad[i].msg))
            fail_msg("case %zu: message '%s' does not name '%s'", i, e.text, bad[i].msg);
    }
    memcpy(buf, w.buf, w.len);
    assert_int_equal(load(f, buf, w.len + 1, &e), -EINVAL);
    snapw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(time_follows_host_realtime, setup, teardown),
        cmocka_unit_test_setup_teardown(time_high_is_latched, setup, teardown),
        cmocka_unit_test_setup_teardown(time_can_be_set, setup, teardown),
        cmocka_unit_test_setup_teardown(alarm_raises_irq_and_clears, setup, teardown),
        cmocka_unit_test_setup_teardown(irq_enable_gates_the_line, setup, teardown),
        cmocka_unit_test_setup_teardown(clear_alarm_disarms, setup, teardown),
        cmocka_unit_test_setup_teardown(odd_accesses_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_alarm_due_meanwhile, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_refuses_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
