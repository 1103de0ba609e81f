/* Unit tests for fence.i and code written behind a hart's back (cpu/hart.c,
 * "decoded code"), under both engines: code that a device writes (DMA,
 * reported in hart_mem.written as guest_mem_written does) runs after the
 * hart's next fence.i, also when the hart is alone in its machine and its
 * fence checks only the pages marked there; a hart with company checks
 * every page; the local fence.i and the SBI's remote one (hart_request_flush
 * with HART_FLUSH_CODE) both do it.
 *
 * The program (S-mode, no paging) calls a routine that sets a1, reports a1
 * by ecall, fences, calls the routine again and reports again; the first
 * ecall rewrites the routine as a device would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "util/dirty_bitmap.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 16)
#define ROUTINE (RAM_BASE + 0x2000)   /* its own page */

#define ADDI_A1_1 0x00100593u  /* addi a1, zero, 1 */
#define ADDI_A1_2 0x00200593u  /* addi a1, zero, 2 */
#define RET 0x00008067u        /* jalr zero, 0(ra) */
#define ECALL 0x00000073u
#define FENCE_I 0x0000100fu
#define NOP 0x00000013u
#define J_SELF 0x0000006fu

struct rig {
    uint8_t *ram;
    _Atomic uint64_t written[(RAM_SIZE / 4096 + 63) / 64];
    struct hart *h;
    uint64_t seen[2];  /* a1 at each ecall */
    unsigned calls;
    int mark;          /* the rewrite is reported in `written` */
    int remote;        /* the second fence is the SBI's, not fence.i */
};

static void put32(struct rig *r, uint64_t pa, uint32_t insn)
{
    memcpy(r->ram + (pa - RAM_BASE), &insn, 4);
}

/* jal ra, from pc to target (within +-1 MiB). */
static uint32_t jal_ra(uint64_t pc, uint64_t target)
{
    uint32_t off = (uint32_t)(target - pc);
    return ((off & 0x100000) << 11) | ((off & 0x7fe) << 20) | ((off & 0x800) << 9) | (off & 0xff000) |
           (1u << 7) | 0x6f;
}

static int on_ecall(void *opaque, struct hart *h)
{
    struct rig *r = opaque;
    if (r->calls < 2)
        r->seen[r->calls] = hart_reg(h, 11);
    if (r->calls++ == 0) {
        /* A device writes the routine's first instruction. */
        put32(r, ROUTINE, ADDI_A1_2);
        if (r->mark)
            dirty_bitmap_mark(r->written, ROUTINE - RAM_BASE, 4);
        if (r->remote)
            hart_request_flush(h, HART_FLUSH_CODE);
    }
    return 0;
}

static struct rig *rig_new(enum hart_engine engine, int alone, int mark, int remote)
{
    struct rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->ram = aligned_alloc(4096, RAM_SIZE);
    assert_non_null(r->ram);
    memset(r->ram, 0, RAM_SIZE);
    r->mark = mark;
    r->remote = remote;
    put32(r, RAM_BASE + 0x00, jal_ra(RAM_BASE + 0x00, ROUTINE));
    put32(r, RAM_BASE + 0x04, ECALL);
    put32(r, RAM_BASE + 0x08, remote ? NOP : FENCE_I);
    put32(r, RAM_BASE + 0x0c, jal_ra(RAM_BASE + 0x0c, ROUTINE));
    put32(r, RAM_BASE + 0x10, ECALL);
    put32(r, RAM_BASE + 0x14, J_SELF);
    put32(r, ROUTINE, ADDI_A1_1);
    put32(r, ROUTINE + 4, RET);
    struct hart_config cfg = {
        .engine = engine,
        .mem = { .host = r->ram, .base = RAM_BASE, .size = RAM_SIZE, .written = r->written },
        .ecall = { .call = on_ecall, .opaque = r },
        .alone = alone,
    };
    assert_int_equal(hart_create(&r->h, &cfg, NULL), 0);
    hart_reset(r->h, RAM_BASE, PRIV_S, 0, 0);
    hart_write_csr(r->h, CSR_PMPADDR0, ~0ull);
    hart_write_csr(r->h, CSR_PMPCFG0, (3u << 3) | 7u);
    return r;
}

static void rig_free(struct rig *r)
{
    hart_destroy(r->h);
    free(r->ram);
    free(r);
}

/* Runs the program; returns a1 at the second ecall. */
static uint64_t run(struct rig *r)
{
    for (int i = 0; i < 100 && r->calls < 2; i++)
        hart_run(r->h, 64);
    assert_int_equal(r->calls, 2);
    assert_int_equal(r->seen[0], 1);
    return r->seen[1];
}

static const enum hart_engine engines[] = { HART_ENGINE_INTERP, HART_ENGINE_JIT };

static void alone_sees_marked_dma(void **state)
{
    (void)state;
    for (unsigned e = 0; e < 2; e++) {
        struct rig *r = rig_new(engines[e], 1, 1, 0);
        assert_int_equal(run(r), 2);
        /* The fence took the page's bit. */
        assert_int_equal(atomic_load(&r->written[0]), 0);
        rig_free(r);
    }
}

/* The bitmap is what a lone hart's fence looks at: a write nobody
 * reported is not searched for (hart_mem's contract for writers). */
static void alone_checks_only_marked_pages(void **state)
{
    (void)state;
    for (unsigned e = 0; e < 2; e++) {
        struct rig *r = rig_new(engines[e], 1, 0, 0);
        assert_int_equal(run(r), 1);
        rig_free(r);
    }
}

/* With other harts (whose stores nothing reports), a fence checks every
 * page: the unreported write is seen. */
static void with_company_checks_every_page(void **state)
{
    (void)state;
    for (unsigned e = 0; e < 2; e++) {
        struct rig *r = rig_new(engines[e], 0, 0, 0);
        assert_int_equal(run(r), 2);
        rig_free(r);
    }
}

static void remote_fence_i_sees_dma(void **state)
{
    (void)state;
    for (unsigned e = 0; e < 2; e++) {
        for (int alone = 0; alone < 2; alone++) {
            struct rig *r = rig_new(engines[e], alone, 1, 1);
            assert_int_equal(run(r), 2);
            rig_free(r);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alone_sees_marked_dma),
        cmocka_unit_test(alone_checks_only_marked_pages),
        cmocka_unit_test(with_company_checks_every_page),
        cmocka_unit_test(remote_fence_i_sees_dma),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
