/* Unit tests for "a reset hart runs as a new one would" (hart_reset),
 * which the JIT's fuzzer (tests/fuzz/fuzz_jit.c) relies on to reuse its
 * harts from input to input, and a reboot relies on to behave as a boot:
 *  - crash detection counts from zero again: the first exception after a
 *    reset is never a repeat of the last one before it;
 *  - the JIT's code cache starts empty again: the same program fills it
 *    to the same point, with no flush a new hart would not need. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/jit.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 18)

static void put32(uint8_t *ram, uint64_t off, uint32_t insn)
{
    memcpy(ram + off, &insn, 4);
}

static struct hart *make_hart(uint8_t *ram, enum hart_engine eng, size_t cache)
{
    struct hart_config cfg = {
        .engine = eng,
        .mem = { .host = ram, .base = RAM_BASE, .size = RAM_SIZE },
        .crash_detect = 1,
        .jit_cache_bytes = cache,
    };
    struct hart *h;
    assert_int_equal(hart_create(&h, &cfg, NULL), 0);
    return h;
}

/* An illegal instruction at 0 whose handler (mret, at 0x100) returns to
 * it: the same exception at the same pc over and over, one instruction
 * retired between, until crash detection calls it no progress. */
static uint64_t instret_at_crash(struct hart *h)
{
    hart_reset(h, RAM_BASE, PRIV_M, 0, 0);
    hart_write_csr(h, CSR_MTVEC, RAM_BASE + 0x100);
    enum hart_exit e;
    while ((e = hart_run(h, 1u << 20)) == HART_EXIT_BUDGET)
        ;
    assert_int_equal(e, HART_EXIT_CRASH);
    assert_non_null(strstr(hart_crash_reason(h), "repeated"));
    return h->instret;
}

static void crash_detection_starts_over(void **state)
{
    (void)state;
    uint8_t *ram = calloc(1, RAM_SIZE);
    put32(ram, 0, 0);              /* illegal */
    put32(ram, 0x100, 0x30200073); /* mret */
    struct hart *h = make_hart(ram, HART_ENGINE_INTERP, 0);
    uint64_t first = instret_at_crash(h);
    assert_true(first > 1000);
    assert_int_equal(instret_at_crash(h), first);
    hart_destroy(h);
    free(ram);
}

/* A page of `j .+4` (a unit each) to `j` back to the start, under the
 * smallest code cache: run on a new hart until the translations take
 * most of what the cache holds before it must be emptied, then the same
 * again after a reset. */
static void jit_cache_starts_empty(void **state)
{
    (void)state;
    uint8_t *ram = calloc(1, RAM_SIZE);
    unsigned n = RAM_SIZE / 4 - 1;
    for (unsigned i = 0; i < n; i++)
        put32(ram, 4ull * i, 0x0040006f);                 /* jal x0, +4 */
    uint32_t back = -4u * n;                               /* jal x0, -4n */
    put32(ram, 4ull * n, (back & 0x100000) << 11 | (back & 0x7fe) << 20 | (back & 0x800) << 9 | (back & 0xff000) |
                         0x6f);
    struct hart *h = make_hart(ram, HART_ENGINE_JIT, 1);
    struct jit_stats st;
    jit_get_stats(h, &st);
    if (!h->jit) {
        hart_destroy(h);
        free(ram);
        skip(); /* no JIT on this host */
    }
    /* The smallest cache holds two units of the largest size; it is
     * emptied when one more might not fit: in the first half, nothing. */
    while (st.bytes < 20000) {
        assert_int_equal(hart_run(h, 16), HART_EXIT_BUDGET);
        jit_get_stats(h, &st);
    }
    assert_int_equal(st.flushes, 0);
    uint64_t insns = h->instret, units = st.units;
    hart_reset(h, RAM_BASE, PRIV_M, 0, 0);
    assert_int_equal(hart_run(h, insns), HART_EXIT_BUDGET);
    jit_get_stats(h, &st);
    assert_int_equal(st.units, 2 * units);
    assert_int_equal(st.flushes, 0);
    hart_destroy(h);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crash_detection_starts_over),
        cmocka_unit_test(jit_cache_starts_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
