/* Unit tests for the two halves of "a pause never waits on a remote
 * fence" (cpu/hart.h: hart_flush_complete, HART_ECALL_RETRY), each
 * deterministic where the SMP pause tests (tests/snapshot/harts.py) can
 * only hope to hit the race:
 *  - a hart outside hart_run (parked by a pause) counts as having done a
 *    fence asked of it, and honours the request before its next
 *    instruction: a requester never waits on a parked hart;
 *  - an ecall that gives way to a stop request (the SBI's fence loop does
 *    when its own hart is asked to stop) does not retire: the hart stops
 *    at the ecall, with its registers and instruction count as before it,
 *    and makes the call again when it next runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 16)

struct rig {
    uint8_t *ram;
    struct hart *h;
    unsigned calls;    /* ecalls the handler saw */
    int give_way;      /* the handler asks for a stop and retries once */
};

/* The board's side of an S-mode ecall: counts it and, when told to, does
 * what virt_harts.c's fence loop does when a pause arrives while it waits:
 * a stop is pending, so it gives way. */
static int on_ecall(void *opaque, struct hart *h)
{
    struct rig *r = opaque;
    r->calls++;
    if (r->give_way) {
        r->give_way = 0;
        hart_request_stop(h);
        if (hart_stop_pending(h))
            return HART_ECALL_RETRY;
    }
    hart_set_reg(h, 10, 0x5b1);
    return 0;
}

static void put32(struct rig *r, uint64_t pa, uint32_t insn)
{
    memcpy(r->ram + (pa - RAM_BASE), &insn, 4);
}

static int setup(void **state)
{
    struct rig *r = calloc(1, sizeof *r);
    r->ram = aligned_alloc(4096, RAM_SIZE);
    memset(r->ram, 0, RAM_SIZE);
    /* addi t0, t0, 1; ecall; addi t1, t1, 1; j . */
    put32(r, RAM_BASE + 0, 0x00128293);
    put32(r, RAM_BASE + 4, 0x00000073);
    put32(r, RAM_BASE + 8, 0x00130313);
    put32(r, RAM_BASE + 12, 0x0000006f);
    struct hart_config cfg = {
        .mem = { .host = r->ram, .base = RAM_BASE, .size = RAM_SIZE },
        .ecall = { .call = on_ecall, .opaque = r },
        .crash_detect = 1,   /* a trap loop ends the run instead of spinning */
    };
    assert_int_equal(hart_create(&r->h, &cfg, NULL), 0);
    hart_reset(r->h, RAM_BASE, PRIV_S, 0, 0);
    /* S-mode may fetch: one PMP entry, all of memory, RWX (as a direct
     * boot sets it up). */
    hart_write_csr(r->h, CSR_PMPADDR0, ~0ull);
    hart_write_csr(r->h, CSR_PMPCFG0, (3u << 3) | 7u);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    hart_destroy(r->h);
    free(r->ram);
    free(r);
    return 0;
}

/* A hart that is not in hart_run (here: never run; in a VM: parked by a
 * pause) answers a fence at once, and the request stays pending until it
 * runs: it is done before the hart's first instruction. */
static void parked_hart_needs_no_wait(void **state)
{
    struct rig *r = *state;
    uint64_t t = hart_request_flush(r->h, HART_FLUSH_TLB | HART_FLUSH_CODE);
    assert_true(hart_flush_complete(r->h, t));
    assert_true(atomic_load(&r->h->flush_done) < t);
    assert_int_equal(hart_run(r->h, 1), HART_EXIT_BUDGET);
    assert_true(atomic_load(&r->h->flush_done) >= t);
    assert_int_equal(hart_reg(r->h, 5), 1);
}

/* The ecall gives way to a stop: HART_EXIT_STOP at the ecall, which has
 * not retired (pc, instret, a0 as before it, no trap taken); the next run
 * makes the call again, and then it retires once. */
static void ecall_retry_stops_at_the_ecall(void **state)
{
    struct rig *r = *state;
    r->give_way = 1;
    assert_int_equal(hart_run(r->h, 100), HART_EXIT_STOP);
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->h->pc, RAM_BASE + 4);
    assert_int_equal(r->h->instret, 1);
    assert_int_equal(r->h->priv, PRIV_S);
    assert_int_equal(r->h->scause, 0);
    assert_int_equal(r->h->mcause, 0);
    assert_int_equal(hart_reg(r->h, 10), 0);
    assert_int_equal(hart_reg(r->h, 6), 0);

    assert_int_equal(hart_run(r->h, 2), HART_EXIT_BUDGET);
    assert_int_equal(r->calls, 2);
    assert_int_equal(hart_reg(r->h, 10), 0x5b1);
    assert_int_equal(hart_reg(r->h, 6), 1);
    assert_int_equal(r->h->pc, RAM_BASE + 12);
    assert_int_equal(r->h->instret, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parked_hart_needs_no_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(ecall_retry_stops_at_the_ecall, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
