/* Unit tests for devices/plic: priorities, thresholds, claim/complete,
 * per-context enables, M/S contexts and hostile offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/plic.h"

#define MEIP (1ull << 11)
#define SEIP (1ull << 9)
#define NHARTS 2

struct fixture {
    struct plic *p;
    uint64_t mip[NHARTS];   /* what the harts would see */
    int calls;
};

static void set_pending(void *opaque, unsigned hart, uint64_t bit, int level)
{
    struct fixture *f = opaque;
    assert_true(hart < NHARTS);
    assert_true(bit == MEIP || bit == SEIP);
    if (level)
        f->mip[hart] |= bit;
    else
        f->mip[hart] &= ~bit;
    f->calls++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct plic_ops ops = {.set_pending = set_pending, .opaque = f};
    struct errmsg e;
    assert_int_equal(plic_create(&f->p, NHARTS, &ops, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    plic_destroy(f->p);
    free(f);
    return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
    return (uint32_t)plic_mmio_ops.read(f->p, off, 4);
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
    plic_mmio_ops.write(f->p, off, v, 4);
}

static uint64_t prio(unsigned s) { return 4ull * s; }
static uint64_t enable(unsigned ctx, unsigned s) { return 0x2000ull + 0x80ull * ctx + 4 * (s / 32); }
static uint64_t threshold(unsigned ctx) { return 0x200000ull + 0x1000ull * ctx; }
static uint64_t claim(unsigned ctx) { return threshold(ctx) + 4; }

static void enable_src(struct fixture *f, unsigned ctx, unsigned s)
{
    wr(f, enable(ctx, s), rd(f, enable(ctx, s)) | (1u << (s % 32)));
}

static void create_checks_harts(void **state)
{
    (void)state;
    struct plic *p;
    struct errmsg e;
    assert_int_equal(plic_create(&p, 0, NULL, &e), -EINVAL);
    assert_non_null(strstr(e.text, "0 harts"));
    assert_int_equal(plic_create(&p, PLIC_MAX_HARTS + 1, NULL, &e), -EINVAL);
    assert_int_equal(plic_create(&p, PLIC_MAX_HARTS, NULL, &e), 0);
    plic_destroy(p);
}

static void claim_orders_by_priority_then_id(void **state)
{
    struct fixture *f = *state;
    unsigned ctx = 1;   /* hart 0, S-mode */
    wr(f, prio(5), 2);
    wr(f, prio(3), 2);
    wr(f, prio(40), 6);
    wr(f, prio(7), 0);  /* priority 0: never interrupts */
    for (unsigned s = 1; s <= 40; s++)
        enable_src(f, ctx, s);
    plic_set_level(f->p, 5, 1);
    plic_set_level(f->p, 3, 1);
    plic_set_level(f->p, 7, 1);
    assert_int_equal(f->mip[0], SEIP);
    assert_int_equal(rd(f, 0x1000), (1u << 3) | (1u << 5) | (1u << 7));
    plic_set_level(f->p, 40, 1);
    assert_int_equal(rd(f, 0x1004), 1u << 8);

    assert_int_equal(rd(f, claim(ctx)), 40);   /* highest priority */
    assert_int_equal(rd(f, claim(ctx)), 3);    /* tie at 2: lowest id */
    assert_int_equal(rd(f, claim(ctx)), 5);
    assert_int_equal(rd(f, claim(ctx)), 0);    /* 7 has priority 0 */
    assert_int_equal(f->mip[0], 0);
    /* Claimed sources are no longer pending while their lines stay high. */
    assert_int_equal(rd(f, 0x1000), 1u << 7);

    /* Completing a source whose line is still high makes it pending again. */
    wr(f, claim(ctx), 3);
    assert_int_equal(f->mip[0], SEIP);
    assert_int_equal(rd(f, claim(ctx)), 3);
    /* A line that drops takes back its request; completion then clears. */
    plic_set_level(f->p, 5, 0);
    wr(f, claim(ctx), 5);
    wr(f, claim(ctx), 3);
    assert_int_equal(rd(f, claim(ctx)), 3);
    plic_set_level(f->p, 3, 0);
    wr(f, claim(ctx), 3);
    wr(f, claim(ctx), 40);
    assert_int_equal(rd(f, claim(ctx)), 40);
}

static void threshold_masks(void **state)
{
    struct fixture *f = *state;
    unsigned ctx = 0;   /* hart 0, M-mode */
    wr(f, prio(10), 3);
    enable_src(f, ctx, 10);
    wr(f, threshold(ctx), 3);
    assert_int_equal(rd(f, threshold(ctx)), 3);
    plic_set_level(f->p, 10, 1);
    assert_int_equal(f->mip[0], 0);            /* priority must exceed threshold */
    assert_int_equal(rd(f, claim(ctx)), 0);
    wr(f, threshold(ctx), 2);
    assert_int_equal(f->mip[0], MEIP);
    wr(f, prio(10), 0xffffffff);               /* WARL: 3 bits */
    assert_int_equal(rd(f, prio(10)), PLIC_MAX_PRIORITY);
    wr(f, threshold(ctx), 0xff);
    assert_int_equal(rd(f, threshold(ctx)), PLIC_MAX_PRIORITY);
    assert_int_equal(f->mip[0], 0);
}

static void contexts_drive_their_own_bits(void **state)
{
    struct fixture *f = *state;
    wr(f, prio(10), 1);
    wr(f, prio(11), 1);
    enable_src(f, 1, 10);   /* hart 0 S */
    enable_src(f, 2, 11);   /* hart 1 M */
    plic_set_level(f->p, 10, 1);
    assert_int_equal(f->mip[0], SEIP);
    assert_int_equal(f->mip[1], 0);
    plic_set_level(f->p, 11, 1);
    assert_int_equal(f->mip[1], MEIP);
    /* Another context cannot claim what it has not enabled. */
    assert_int_equal(rd(f, claim(3)), 0);
    assert_int_equal(rd(f, claim(0)), 0);
    /* Completion from a context without the source enabled is ignored. */
    assert_int_equal(rd(f, claim(1)), 10);
    assert_int_equal(f->mip[0], 0);
    wr(f, claim(3), 10);
    assert_int_equal(rd(f, claim(1)), 0);      /* still in service */
    wr(f, claim(1), 10);
    assert_int_equal(f->mip[0], SEIP);         /* line still high: back */
    /* Disabling the source drops the context's output. */
    wr(f, enable(1, 10), 0);
    assert_int_equal(f->mip[0], 0);
    assert_int_equal(f->mip[1], MEIP);
}

static void only_changes_are_pushed(void **state)
{
    struct fixture *f = *state;
    wr(f, prio(1), 1);
    enable_src(f, 0, 1);
    plic_set_level(f->p, 1, 1);
    int calls = f->calls;
    plic_set_level(f->p, 1, 1);
    wr(f, prio(2), 1);
    assert_int_equal(f->calls, calls);
}

static void hostile_accesses_are_ignored(void **state)
{
    struct fixture *f = *state;
    /* Sources outside 1..ndev. */
    plic_set_level(f->p, 0, 1);
    plic_set_level(f->p, PLIC_NDEV + 1, 1);
    plic_set_level(f->p, 100000, 1);
    plic_set_level(f->p, ~0u, 1);
    for (unsigned w = 0; w < 32; w++)
        assert_int_equal(rd(f, 0x1000 + 4 * w), 0);
    wr(f, prio(0), 7);
    assert_int_equal(rd(f, prio(0)), 0);
    wr(f, prio(PLIC_NDEV + 1), 7);
    assert_int_equal(rd(f, prio(PLIC_NDEV + 1)), 0);
    /* Enable bits for source 0 and beyond ndev do not stick. */
    wr(f, enable(0, 0), 0xffffffff);
    assert_int_equal(rd(f, enable(0, 0)), 0xfffffffe);
    wr(f, enable(0, 64), 0xffffffff);
    assert_int_equal(rd(f, enable(0, 64)), (uint32_t)((1ull << (PLIC_NDEV - 64 + 1)) - 1));
    /* Contexts that do not exist, unaligned and wrong-size accesses,
     * offsets far outside the window. */
    wr(f, enable(2 * NHARTS, 1), 0xffffffff);
    assert_int_equal(rd(f, enable(2 * NHARTS, 1)), 0);
    wr(f, threshold(2 * NHARTS), 1);
    assert_int_equal(rd(f, threshold(2 * NHARTS)), 0);
    assert_int_equal(rd(f, claim(1000)), 0);
    wr(f, claim(1000), 1);
    plic_mmio_ops.write(f->p, prio(1) + 1, 7, 4);
    plic_mmio_ops.write(f->p, prio(1), 7, 1);
    plic_mmio_ops.write(f->p, prio(1), 7, 8);
    assert_int_equal(rd(f, prio(1)), 0);
    assert_int_equal(plic_mmio_ops.read(f->p, PLIC_MMIO_SIZE, 4), 0);
    assert_int_equal(plic_mmio_ops.read(f->p, ~0ull - 3, 4), 0);
    plic_mmio_ops.write(f->p, ~0ull - 3, 1, 4);
    /* Pending is read-only. */
    wr(f, 0x1000, 0xffffffff);
    assert_int_equal(rd(f, 0x1000), 0);
    /* Completing nonsense ids. */
    wr(f, claim(0), 0);
    wr(f, claim(0), PLIC_NDEV + 1);
    wr(f, claim(0), 0xffffffff);
    assert_int_equal(f->mip[0] | f->mip[1], 0);
}

static void irq_line_adapter(void **state)
{
    struct fixture *f = *state;
    struct irq_line l = {.set = plic_irq_set, .opaque = f->p, .source = 10};
    wr(f, prio(10), 1);
    enable_src(f, 1, 10);
    irq_line_set(&l, 1);
    assert_int_equal(f->mip[0], SEIP);
    irq_line_set(&l, 0);
    assert_int_equal(f->mip[0], 0);
}

/* Priorities, lines high, one source claimed by hart 0's S context, a
 * threshold on hart 1's M context. */
static void busy_state(struct fixture *f)
{
    wr(f, prio(3), 2);
    wr(f, prio(5), 2);
    wr(f, prio(40), 6);
    wr(f, prio(95), 7);
    for (unsigned s = 1; s <= 40; s++)
        enable_src(f, 1, s);
    enable_src(f, 2, 95);
    enable_src(f, 3, 5);
    wr(f, threshold(2), 6);
    wr(f, threshold(3), 1);
    plic_set_level(f->p, 3, 1);
    plic_set_level(f->p, 5, 1);
    plic_set_level(f->p, 40, 1);
    plic_set_level(f->p, 95, 1);
    assert_int_equal(rd(f, claim(1)), 40);
}

static void save(struct fixture *f, struct snap_writer *w)
{
    snapw_init(w);
    assert_int_equal(plic_save(f->p, w), 0);
}

static int load(struct fixture *f, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return plic_load(f->p, &r, e);
}

static void snapshot_roundtrip(void **state)
{
    struct fixture *f = *state;
    busy_state(f);
    struct snap_writer w;
    save(f, &w);
    void *st2;
    setup(&st2);
    struct fixture *g = st2;
    struct errmsg e = {{0}};
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("plic_load: %s", e.text);
    /* The harts' external interrupt bits were pushed. */
    assert_int_equal(g->mip[0], f->mip[0]);
    assert_int_equal(g->mip[1], f->mip[1]);
    assert_int_equal(g->mip[0], SEIP);
    assert_int_equal(g->mip[1], MEIP | SEIP);
    for (uint64_t off = 0; off < 0x1010; off += 4)
        assert_int_equal(rd(g, off), rd(f, off));
    for (unsigned c = 0; c < 2 * NHARTS; c++) {
        for (unsigned k = 0; k < 3; k++)
            assert_int_equal(rd(g, enable(c, 32 * k)), rd(f, enable(c, 32 * k)));
        assert_int_equal(rd(g, threshold(c)), rd(f, threshold(c)));
    }
    /* Claims go on in the same order; 40 is still in service until its
     * completion, after which its high line makes it pending again. */
    struct fixture *both[2] = {f, g};
    for (int i = 0; i < 2; i++) {
        struct fixture *x = both[i];
        assert_int_equal(rd(x, claim(1)), 3);
        assert_int_equal(rd(x, claim(1)), 5);
        assert_int_equal(rd(x, claim(1)), 0);
        wr(x, claim(1), 40);
        assert_int_equal(rd(x, claim(1)), 40);
        assert_int_equal(rd(x, claim(2)), 95);
        assert_int_equal(x->mip[1], 0);   /* 5 is claimed: hart 1 S has nothing */
    }
    snapw_free(&w);
    teardown(&st2);
}

static void snapshot_refuses_bad_state(void **state)
{
    struct fixture *f = *state;
    busy_state(f);
    struct snap_writer w;
    save(f, &w);
    struct errmsg e;
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load(f, w.buf, n, &e), -EINVAL);
    /* Layout: version, nharts, 95 priorities, 3 x (level, pending,
     * claimed) words, then per context 3 enable words and a threshold. */
    enum { PRIO = 8, WORDS = PRIO + 95, CTX = WORDS + 36 };
    static const struct { size_t off; uint8_t val; const char *msg; } bad[] = {
        {0, 9, "version 9"},
        {4, 3, "3 harts"},
        {PRIO + 4, 8, "source 5: priority 8"},
        {WORDS, 0x01, "name no source"},           /* source 0's line */
        {WORDS + 4, 0x00, "pending bits"},          /* 3 and 5 lost their request */
        {WORDS + 8, 0x01, "name no source"},       /* source 0 claimed */
        {CTX + 13 + 12, 9, "context 1: threshold 9"},
        {CTX + 2 * 13, 0x01, "context 2: enable bits"},   /* source 0 */
    };
    uint8_t *buf = malloc(w.len + 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, w.buf, w.len);
        buf[bad[i].off] = bad[i].val;
        assert_int_equal(load(f, buf, w.len, &e), -EINVAL);
        if (!strstr(e.text, "plic: ") || !strstr(e.text, bad[i].msg))
            fail_msg("case %zu: message '%s' does not name '%s'", i, e.text, bad[i].msg);
    }
    /* A failed load changed nothing. */
    assert_int_equal(rd(f, prio(5)), 2);
    assert_int_equal(rd(f, claim(1)), 3);
    free(buf);
    snapw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_checks_harts),
        cmocka_unit_test_setup_teardown(claim_orders_by_priority_then_id, setup, teardown),
        cmocka_unit_test_setup_teardown(threshold_masks, setup, teardown),
        cmocka_unit_test_setup_teardown(contexts_drive_their_own_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(only_changes_are_pushed, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_accesses_are_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(irq_line_adapter, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_refuses_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
