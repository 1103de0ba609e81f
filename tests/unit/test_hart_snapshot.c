/* Unit tests for cpu/hart_snapshot: whatever state the hart can reach
 * through its CSR instructions survives hart_save / hart_load unchanged.
 * Every CSR is written (as M-mode software would) with all ones, with bit
 * patterns, and with random values in a random order (locked PMP entries,
 * FS, Sstc and the counters make the result depend on the order); the
 * state saved then loads into a fresh hart, and every CSR, register, the
 * pc and the privilege read back the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/trigger.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)

/* A clock that stands still, so time-dependent bits (Sstc's STIP) read the
 * same on both harts. */
static uint64_t fixed_time(void *opaque)
{
    (void)opaque;
    return 1000;
}

struct rig {
    uint8_t *ram;
    struct hart *a, *b;   /* a is written and saved, b loads it */
};

static struct hart *new_hart(uint8_t *ram)
{
    struct hart_config cfg = {
        .mem = { .host = ram, .base = RAM_BASE, .size = RAM_SIZE },
        .clock = { .read = fixed_time, .freq_hz = 10000000 },
    };
    struct hart *h;
    assert_int_equal(hart_create(&h, &cfg, NULL), 0);
    return h;
}

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    r->ram = aligned_alloc(4096, RAM_SIZE);
    memset(r->ram, 0, RAM_SIZE);
    r->a = new_hart(r->ram);
    r->b = new_hart(r->ram);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    hart_destroy(r->a);
    hart_destroy(r->b);
    free(r->ram);
    free(r);
    return 0;
}

/* Every CSR as M-mode reads it (mip without the lines, as hart_save does
 * not look at them either). */
static void read_all(struct hart *h, uint64_t *val, int *ok)
{
    unsigned priv = h->priv;
    h->priv = PRIV_M;
    for (unsigned c = 0; c < 4096; c++)
        ok[c] = csr_read(h, c, &val[c]) == 0;
    h->priv = priv;
}

/* Saves a, loads it into b, and checks that b reads as a does. */
static void round_trip(struct rig *r, const char *what)
{
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(hart_save(r->a, &w), 0);
    struct snap_reader rd;
    snapr_init(&rd, w.buf, w.len);
    struct errmsg e = { "" };
    int rc = hart_load(r->b, &rd, &e);
    if (rc)
        fail_msg("%s: hart_load refused the state the hart held: %s", what, e.text);
    assert_true(snapr_ok(&rd));
    snapw_free(&w);

    static uint64_t va[4096], vb[4096];
    static int oka[4096], okb[4096];
    read_all(r->a, va, oka);
    read_all(r->b, vb, okb);
    for (unsigned c = 0; c < 4096; c++) {
        if (oka[c] != okb[c])
            fail_msg("%s: CSR %#x is %s after the restore", what, c, okb[c] ? "readable" : "unreadable");
        if (oka[c] && va[c] != vb[c])
            fail_msg("%s: CSR %#x was %#llx, restored as %#llx", what, c, (unsigned long long)va[c],
                     (unsigned long long)vb[c]);
    }
    for (unsigned i = 1; i < 32; i++)
        assert_int_equal(r->a->x[i], r->b->x[i]);
    assert_memory_equal(r->a->f, r->b->f, sizeof r->a->f);
    assert_int_equal(r->a->pc, r->b->pc);
    assert_int_equal(r->a->priv, r->b->priv);
    assert_int_equal(r->a->instret, r->b->instret);
}

/* Writes every CSR that exists with v (twice: the first pass turns FS on,
 * which the FP CSRs need). */
static void write_all(struct hart *h, uint64_t v)
{
    unsigned priv = h->priv;
    h->priv = PRIV_M;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned c = 0; c < 4096; c++)
            (void)csr_write(h, c, v);
    h->priv = priv;
}

static void fill_regs(struct hart *h, uint64_t seed)
{
    for (unsigned i = 1; i < 32; i++)
        h->x[i] = seed * (i + 1);
    for (unsigned i = 0; i < 32; i++)
        h->f[i] = ~seed * (i + 3);
    h->pc = RAM_BASE + 0x1234;
    h->instret = 987654321;
}

static void all_ones(void **state)
{
    struct rig *r = *state;
    fill_regs(r->a, 0x1111);
    write_all(r->a, ~0ull);
    uint64_t inhibit;
    assert_int_equal(csr_read(r->a, CSR_MCOUNTINHIBIT, &inhibit), 0);
    assert_int_equal(inhibit, MCOUNTINHIBIT_WRITABLE); /* what OpenSBI's 0xfffffff8 relies on */
    round_trip(r, "every CSR all ones");
}

/* Debian's OpenSBI inhibits every HPM counter: mcountinhibit 0xfffffff8. */
static void opensbi_mcountinhibit(void **state)
{
    struct rig *r = *state;
    assert_int_equal(csr_write(r->a, CSR_MCOUNTINHIBIT, 0xfffffff8u), 0);
    round_trip(r, "mcountinhibit 0xfffffff8");
    uint64_t v;
    assert_int_equal(csr_read(r->b, CSR_MCOUNTINHIBIT, &v), 0);
    assert_int_equal(v, 0xfffffff8u);
}

static void patterns_each_csr_alone(void **state)
{
    struct rig *r = *state;
    static const uint64_t pats[] = { ~0ull, 0x5555555555555555ull, 0xaaaaaaaaaaaaaaaaull, 1, 0x8000000000000000ull,
                                     (8ull << 60) | 0x123456789ull /* satp Sv39 */, 0x80000001ull /* vectored */ };
    char what[64];
    for (unsigned c = 0; c < 4096; c++) {
        for (unsigned k = 0; k < sizeof pats / sizeof pats[0]; k++) {
            hart_reset(r->a, RAM_BASE, PRIV_M, 0, 0);
            if (csr_write(r->a, c, pats[k]))
                break; /* no such CSR (or read-only): nothing to hold */
            snprintf(what, sizeof what, "CSR %#x written with %#llx", c, (unsigned long long)pats[k]);
            round_trip(r, what);
        }
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_values_random_order(void **state)
{
    struct rig *r = *state;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    static const unsigned privs[] = { PRIV_M, PRIV_S, PRIV_U };
    char what[64];
    for (unsigned round = 0; round < 200; round++) {
        hart_reset(r->a, RAM_BASE, PRIV_M, 0, 0);
        fill_regs(r->a, xorshift(&s));
        for (unsigned n = 0; n < 600; n++) {
            unsigned c = (unsigned)(xorshift(&s) % 4096);
            uint64_t v = xorshift(&s);
            if (xorshift(&s) & 1)
                v = ~0ull;
            (void)csr_write(r->a, c, v);
        }
        r->a->priv = privs[round % 3];
        snprintf(what, sizeof what, "random round %u", round);
        round_trip(r, what);
    }
}

/* The debug triggers (cpu/trigger.h): every trigger, not just the one
 * tselect shows, survives; a hart that never used them saves format
 * version 1 (older builds read it), one that did version 2. */
static void triggers(void **state)
{
    struct rig *r = *state;
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(hart_save(r->a, &w), 0);
    assert_true(w.len >= 4 && w.buf[0] == 1 && !w.buf[1] && !w.buf[2] && !w.buf[3]);
    snapw_free(&w);
    static const uint64_t ctl[4] = {
        (6ull << 60) | (1 << 11) | (2 << 7) | (1 << 6) | 2, /* chain, >=, m, store */
        (6ull << 60) | (3 << 7) | (1 << 4) | 2,             /* <, s, store */
        (6ull << 60) | (1 << 22) | (1 << 3) | 4,            /* hit0, u, execute */
        15ull << 60,
    };
    for (unsigned i = 0; i < 4; i++) {
        assert_int_equal(hart_write_csr(r->a, CSR_TSELECT, i), 0);
        assert_int_equal(hart_write_csr(r->a, CSR_TDATA1, 0), 0);
        assert_int_equal(hart_write_csr(r->a, CSR_TDATA2, RAM_BASE + 0x1000 * (i + 1)), 0);
        assert_int_equal(hart_write_csr(r->a, CSR_TDATA1, ctl[i]), 0);
    }
    assert_int_equal(hart_write_csr(r->a, CSR_TSELECT, 2), 0);
    assert_int_equal(hart_write_csr(r->a, CSR_TCONTROL, TCONTROL_MTE), 0);
    snapw_init(&w);
    assert_int_equal(hart_save(r->a, &w), 0);
    assert_int_equal(w.buf[0], 2);
    snapw_free(&w);
    round_trip(r, "triggers");
    r->b->priv = PRIV_M;
    for (unsigned i = 0; i < 4; i++) {
        uint64_t t1, t2;
        assert_int_equal(csr_write(r->b, CSR_TSELECT, i), 0);
        assert_int_equal(csr_read(r->b, CSR_TDATA1, &t1), 0);
        assert_int_equal(csr_read(r->b, CSR_TDATA2, &t2), 0);
        assert_int_equal(t1, ctl[i]);
        assert_int_equal(t2, RAM_BASE + 0x1000 * (i + 1));
    }
    assert_int_equal(r->b->trig.armed, TRIGGER_STORE | TRIGGER_EXEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(all_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(opensbi_mcountinhibit, setup, teardown),
        cmocka_unit_test_setup_teardown(patterns_each_csr_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(random_values_random_order, setup, teardown),
        cmocka_unit_test_setup_teardown(triggers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
