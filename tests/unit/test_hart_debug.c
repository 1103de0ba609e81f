/* Unit tests for cpu/hart_debug: the debugger's page walk has no side
 * effects on the guest (no A/D bit set, no exception recorded), sees pages
 * the hart's own privilege could not, reads and writes stop where the
 * mapping or RAM ends, and M-mode or a bare satp means physical; the walk
 * reports each level; CSRs are read and written as M-mode with the
 * guest's WARL rules, whatever the hart's mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/hart_debug.h"
#include "cpu/mmu.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)

#include "hart_ram.h"

struct fixture {
    uint8_t *ram;
    struct hart *h;
};

static uint64_t *pte_at(struct fixture *f, uint64_t table_pa, unsigned index)
{
    return (uint64_t *)(f->ram + (table_pa - RAM_BASE) + 8 * index);
}

/* Sv39: VA 0x40000000 -> data (R W, A D clear), VA 0x40001000 -> data + 4K
 * (R, U), VA 0x40002000 unmapped, VA 0x40003000 -> data + 8K (X only). */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ram = hart_ram_create(&f->h, RAM_SIZE);
    uint64_t root = RAM_BASE + 0x1000, l1 = RAM_BASE + 0x2000, l0 = RAM_BASE + 0x3000, data = RAM_BASE + 0x10000;
    *pte_at(f, root, 1) = pte(l1, PTE_V);
    *pte_at(f, l1, 0) = pte(l0, PTE_V);
    *pte_at(f, l0, 0) = pte(data, PTE_V | PTE_R | PTE_W);
    *pte_at(f, l0, 1) = pte(data + 0x1000, PTE_V | PTE_R | PTE_U | PTE_A);
    *pte_at(f, l0, 3) = pte(data + 0x2000, PTE_V | PTE_X | PTE_A);
    f->h->satp = (8ull << 60) | (root >> 12);
    f->h->priv = PRIV_S;
    csr_update_priv_ls(f->h);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hart_destroy(f->h);
    free(f->ram);
    free(f);
    return 0;
}

static void translate_has_no_side_effects(void **state)
{
    struct fixture *f = *state;
    uint64_t pa, before = *pte_at(f, RAM_BASE + 0x3000, 0);
    f->h->exc_cause = 0x55;
    assert_int_equal(hart_debug_translate(f->h, 0x40000123, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x10123);
    assert_int_equal(*pte_at(f, RAM_BASE + 0x3000, 0), before); /* A and D stay clear */
    /* a user page from S without SUM, an execute-only page: the debugger sees both */
    assert_int_equal(hart_debug_translate(f->h, 0x40001008, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x11008);
    assert_int_equal(hart_debug_translate(f->h, 0x40003000, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x12000);
    assert_int_equal(hart_debug_translate(f->h, 0x40002000, &pa), -1);
    assert_int_equal(hart_debug_translate(f->h, 0x8000000000ull, &pa), -1); /* not canonical */
    assert_int_equal(f->h->exc_cause, 0x55); /* nothing raised */
}

static void read_write_stop_at_the_mapping(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[32], pat[32];
    for (unsigned i = 0; i < sizeof pat; i++)
        pat[i] = (uint8_t)(0xa0 + i);
    /* 16 bytes before the unmapped page at 0x40002000, 16 in it */
    assert_int_equal(hart_debug_write(f->h, 0x40001ff0, pat, 32, &f->h, 1), 16);
    assert_memory_equal(f->ram + 0x11ff0, pat, 16);
    assert_int_equal(hart_debug_read(f->h, 0x40001ff0, buf, 32), 16);
    assert_memory_equal(buf, pat, 16);
    /* across two mapped pages that are not adjacent in RAM */
    assert_int_equal(hart_debug_write(f->h, 0x40000ff8, pat, 16, &f->h, 1), 16);
    assert_memory_equal(f->ram + 0x10ff8, pat, 8);
    assert_memory_equal(f->ram + 0x11000, pat + 8, 8);
}

static void physical_when_bare_or_m(void **state)
{
    struct fixture *f = *state;
    uint8_t b = 0;
    f->ram[0x20000] = 0x5a;
    assert_int_equal(hart_debug_read(f->h, RAM_BASE + 0x20000, &b, 1), 0); /* not mapped in Sv39 */
    f->h->priv = PRIV_M;
    csr_update_priv_ls(f->h);
    assert_int_equal(hart_debug_read(f->h, RAM_BASE + 0x20000, &b, 1), 1);
    assert_int_equal(b, 0x5a);
    f->h->priv = PRIV_S;
    f->h->satp = 0;
    csr_update_priv_ls(f->h);
    assert_int_equal(hart_debug_read(f->h, RAM_BASE + 0x20000, &b, 1), 1);
    /* outside RAM: nothing (device registers have side effects) */
    assert_int_equal(hart_debug_read(f->h, 0x10000000, &b, 1), 0);
    assert_int_equal(hart_debug_read(f->h, RAM_BASE + RAM_SIZE - 1, &b, 2), 1);
}

static void registers(void **state)
{
    struct fixture *f = *state;
    hart_debug_set_pc(f->h, 0x80001235);
    assert_int_equal(hart_debug_pc(f->h), 0x80001234);
    assert_int_equal(hart_debug_set_fcsr(f->h, 0x003, 0xff), 0);
    uint64_t v;
    assert_int_equal(hart_debug_fcsr(f->h, 0x001, &v), 0);
    assert_int_equal(v, 0x1f);
    assert_int_equal(hart_debug_fcsr(f->h, 0x002, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(hart_debug_fcsr(f->h, 0x300, &v), -1);
    assert_int_equal(hart_debug_set_priv(f->h, 2), -1);
    assert_int_equal(hart_debug_set_priv(f->h, PRIV_U), 0);
    assert_int_equal(hart_debug_priv(f->h), PRIV_U);
}

static void walk_levels(void **state)
{
    struct fixture *f = *state;
    struct hart_debug_walk w;
    assert_int_equal(hart_debug_walk(f->h, 0x40001008, &w), 0);
    assert_int_equal(w.mode, 8);
    assert_false(w.untranslated);
    assert_int_equal(w.root, RAM_BASE + 0x1000);
    assert_int_equal(w.nlevels, 3);
    assert_int_equal(w.level[0].level, 2);
    assert_int_equal(w.level[0].pte_pa, RAM_BASE + 0x1000 + 8);
    assert_int_equal(w.level[1].pte_pa, RAM_BASE + 0x2000);
    assert_int_equal(w.level[2].level, 0);
    assert_int_equal(w.level[2].pte_pa, RAM_BASE + 0x3000 + 8);
    assert_int_equal(w.level[2].pte, pte(RAM_BASE + 0x11000, PTE_V | PTE_R | PTE_U | PTE_A));
    assert_int_equal(w.pa, RAM_BASE + 0x11008);
    assert_int_equal(w.page_size, 4096);
    /* unmapped: the levels read so far, and why */
    assert_int_equal(hart_debug_walk(f->h, 0x40002000, &w), -1);
    assert_int_equal(w.nlevels, 3);
    assert_int_equal(w.level[2].pte, 0);
    assert_string_equal(w.why, "the PTE is not valid (V=0)");
    assert_int_equal(hart_debug_walk(f->h, 0x8000000000ull, &w), -1);
    assert_int_equal(w.nlevels, 0);
    assert_non_null(strstr(w.why, "not canonical"));
    /* a 2 MiB megapage */
    *pte_at(f, RAM_BASE + 0x2000, 1) = pte(RAM_BASE, PTE_V | PTE_R | PTE_X);
    assert_int_equal(hart_debug_walk(f->h, 0x40212345, &w), 0);
    assert_int_equal(w.nlevels, 2);
    assert_int_equal(w.page_size, 2u << 20);
    assert_int_equal(w.pa, RAM_BASE + 0x12345);
    /* physical reads ignore satp */
    f->ram[0x20000] = 0x77;
    uint8_t b = 0;
    assert_int_equal(hart_debug_read_phys(f->h, RAM_BASE + 0x20000, &b, 1), 1);
    assert_int_equal(b, 0x77);
    assert_int_equal(hart_debug_write_phys(f->h, RAM_BASE + RAM_SIZE - 1, "ab", 2, &f->h, 1), 1);
}

static void csrs_as_m(void **state)
{
    struct fixture *f = *state;
    uint64_t v;
    /* the hart is in S-mode: M CSRs are still readable and writable */
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MSCRATCH, 0x1234), 0);
    assert_int_equal(hart_debug_csr_read(f->h, CSR_MSCRATCH, &v), 0);
    assert_int_equal(v, 0x1234);
    assert_int_equal(hart_debug_priv(f->h), PRIV_S);
    /* WARL: a reserved mtvec mode is ignored, MPP=2 keeps the old MPP */
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MTVEC, 0x80000003), 0);
    assert_int_equal(hart_debug_csr_read(f->h, CSR_MTVEC, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MSTATUS, MSTATUS_MPP), 0);
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MSTATUS, 2u << 11), 0);
    assert_int_equal(hart_debug_csr_read(f->h, CSR_MSTATUS, &v), 0);
    assert_int_equal(v & MSTATUS_MPP, MSTATUS_MPP);
    /* an mstatus write recomputes the hart's own load/store mode: S, not M */
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MSTATUS, MSTATUS_MPP | MSTATUS_MPRV), 0);
    assert_int_equal(f->h->priv_ls, PRIV_S);
    uint64_t pa;
    assert_int_equal(hart_debug_translate(f->h, 0x40000000, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x10000);
    /* minstret reads back what was written (no instruction retired) */
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MINSTRET, 1000), 0);
    assert_int_equal(hart_debug_csr_read(f->h, CSR_MINSTRET, &v), 0);
    assert_int_equal(v, 1000);
    /* read-only and missing CSRs */
    assert_int_equal(hart_debug_csr_write(f->h, CSR_MHARTID, 1), -1);
    assert_int_equal(hart_debug_csr_read(f->h, 0x7c0, &v), -1);
    assert_int_equal(hart_debug_csr_read(f->h, 0x1000, &v), -1);
    /* fcsr without the FS check (FS is off) */
    assert_int_equal(f->h->mstatus & MSTATUS_FS, 0);
    assert_int_equal(hart_debug_csr_write(f->h, CSR_FRM, 3), 0);
    assert_int_equal(hart_debug_csr_read(f->h, CSR_FCSR, &v), 0);
    assert_int_equal(v, 3 << 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(translate_has_no_side_effects, setup, teardown),
        cmocka_unit_test_setup_teardown(read_write_stop_at_the_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(physical_when_bare_or_m, setup, teardown),
        cmocka_unit_test_setup_teardown(registers, setup, teardown),
        cmocka_unit_test_setup_teardown(walk_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(csrs_as_m, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
