/* Unit tests for cpu/mmu: the page walker on tables built in a small RAM
 * (Sv39 4 KiB and superpages, Sv48, A/D updates, permission faults with
 * their causes, SUM/MXR, non-canonical addresses) and PMP matching. Also
 * the priority of all six interrupts, which needs interrupt lines (MEI,
 * MSI, MTI) the bare-metal test board (tests/cpu) does not have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
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

/* Tables: root at +0x1000, l1 at +0x2000, l0 at +0x3000; data page at
 * +0x10000. VA 0x40000000 -> data (R W, A D clear), VA 0x40001000 -> data
 * (R, U), VA 0x40002000 -> data (X only), VA 0x40200000: 2 MiB leaf at
 * RAM_BASE, VA 0x40400000: misaligned 2 MiB leaf, VA 0x80000000: 1 GiB
 * leaf at RAM_BASE. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ram = hart_ram_create(&f->h, RAM_SIZE);
    uint64_t root = RAM_BASE + 0x1000, l1 = RAM_BASE + 0x2000, l0 = RAM_BASE + 0x3000, data = RAM_BASE + 0x10000;
    *pte_at(f, root, 1) = pte(l1, PTE_V);
    *pte_at(f, root, 2) = pte(RAM_BASE, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D);
    *pte_at(f, l1, 0) = pte(l0, PTE_V);
    *pte_at(f, l1, 1) = pte(RAM_BASE, PTE_V | PTE_R | PTE_A);
    *pte_at(f, l1, 2) = pte(RAM_BASE + 0x1000, PTE_V | PTE_R | PTE_A);
    *pte_at(f, l0, 0) = pte(data, PTE_V | PTE_R | PTE_W);
    *pte_at(f, l0, 1) = pte(data, PTE_V | PTE_R | PTE_U | PTE_A);
    *pte_at(f, l0, 2) = pte(data, PTE_V | PTE_X | PTE_A);
    /* PMP entry 0: NAPOT over all of memory, RWX (what firmware sets up) */
    assert_int_equal(hart_write_csr(f->h, CSR_PMPADDR0, ~0ull), 0);
    assert_int_equal(hart_write_csr(f->h, CSR_PMPCFG0, (3 << 3) | 7), 0);
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

static void walk_4k_sets_a_then_d(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;
    uint64_t *leaf = pte_at(f, RAM_BASE + 0x3000, 0);
    assert_int_equal(mmu_translate(f->h, 0x40000123, MMU_LOAD, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x10123);
    assert_int_equal(*leaf & (PTE_A | PTE_D), PTE_A);
    assert_int_equal(mmu_translate(f->h, 0x40000008, MMU_STORE, &pa), 0);
    assert_int_equal(*leaf & (PTE_A | PTE_D), PTE_A | PTE_D);
}

static void superpages(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;
    assert_int_equal(mmu_translate(f->h, 0x40212345, MMU_LOAD, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x12345);
    assert_int_equal(mmu_translate(f->h, 0x80054321, MMU_FETCH, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x54321);
    /* A 2 MiB leaf whose PPN is not 2 MiB aligned is a page fault. */
    assert_int_equal(mmu_translate(f->h, 0x40400000, MMU_LOAD, &pa), -1);
    assert_int_equal(f->h->exc_cause, CAUSE_LOAD_PAGE);
    assert_int_equal(f->h->exc_tval, 0x40400000);
}

static void permissions(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;
    /* read-only user page: store fault; S needs SUM to read it */
    assert_int_equal(mmu_translate(f->h, 0x40001000, MMU_LOAD, &pa), -1);
    assert_int_equal(f->h->exc_cause, CAUSE_LOAD_PAGE);
    f->h->mstatus |= MSTATUS_SUM;
    assert_int_equal(mmu_translate(f->h, 0x40001000, MMU_LOAD, &pa), 0);
    assert_int_equal(mmu_translate(f->h, 0x40001000, MMU_STORE, &pa), -1);
    assert_int_equal(f->h->exc_cause, CAUSE_STORE_PAGE);
    assert_int_equal(mmu_translate(f->h, 0x40001000, MMU_FETCH, &pa), -1);
    assert_int_equal(f->h->exc_cause, CAUSE_FETCH_PAGE);
    /* U-mode may use the user page but not supervisor pages */
    f->h->priv = PRIV_U;
    csr_update_priv_ls(f->h);
    assert_int_equal(mmu_translate(f->h, 0x40001000, MMU_LOAD, &pa), 0);
    assert_int_equal(mmu_translate(f->h, 0x40000000, MMU_LOAD, &pa), -1);
    f->h->priv = PRIV_S;
    csr_update_priv_ls(f->h);
    /* execute-only page: readable only with MXR */
    assert_int_equal(mmu_translate(f->h, 0x40002000, MMU_LOAD, &pa), -1);
    f->h->mstatus |= MSTATUS_MXR;
    assert_int_equal(mmu_translate(f->h, 0x40002000, MMU_LOAD, &pa), 0);
    assert_int_equal(mmu_translate(f->h, 0x40002000, MMU_FETCH, &pa), 0);
}

static void invalid_and_noncanonical(void **state)
{
    struct fixture *f = *state;
    uint64_t pa;
    assert_int_equal(mmu_translate(f->h, 0x40003000, MMU_STORE, &pa), -1); /* V = 0 */
    assert_int_equal(f->h->exc_cause, CAUSE_STORE_PAGE);
    assert_int_equal(mmu_translate(f->h, 0x4000000000ull, MMU_LOAD, &pa), -1);
    assert_int_equal(f->h->exc_tval, 0x4000000000ull);
    /* a page table outside RAM is an access fault, not a page fault */
    f->h->satp = (8ull << 60) | (0x1000 >> 12);
    assert_int_equal(mmu_translate(f->h, 0x1000, MMU_FETCH, &pa), -1);
    assert_int_equal(f->h->exc_cause, CAUSE_FETCH_ACCESS);
}

static void sv48_on_top_of_sv39_tables(void **state)
{
    struct fixture *f = *state;
    uint64_t root48 = RAM_BASE + 0x4000, pa;
    *pte_at(f, root48, 0) = pte(RAM_BASE + 0x1000, PTE_V);
    f->h->satp = (9ull << 60) | (root48 >> 12);
    assert_int_equal(mmu_translate(f->h, 0x40212345, MMU_LOAD, &pa), 0);
    assert_int_equal(pa, RAM_BASE + 0x12345);
    /* bit 47 set without sign extension */
    assert_int_equal(mmu_translate(f->h, 0x800000000000ull, MMU_LOAD, &pa), -1);
    /* M-mode does not translate */
    f->h->priv = PRIV_M;
    csr_update_priv_ls(f->h);
    assert_int_equal(mmu_translate(f->h, 0x1234, MMU_LOAD, &pa), 0);
    assert_int_equal(pa, 0x1234);
}

static void pmp_matching(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    /* no entry programmed: M allowed, S and U denied */
    memset(h->pmpcfg, 0, sizeof h->pmpcfg);
    h->pmp_active = 0;
    assert_false(mmu_pmp_allows(h, RAM_BASE, 8, MMU_STORE, PRIV_U));
    assert_false(mmu_pmp_allows(h, RAM_BASE, 8, MMU_LOAD, PRIV_S));
    assert_true(mmu_pmp_allows(h, RAM_BASE, 8, MMU_STORE, PRIV_M));
    /* entry 0: TOR [0, RAM_BASE + 0x1000) read-only; entry 1: NAPOT 4 KiB RWX after it */
    h->pmpaddr[0] = (RAM_BASE + 0x1000) >> 2;
    h->pmpcfg[0] = (1 << 3) | 1;
    h->pmpaddr[1] = ((RAM_BASE + 0x1000) >> 2) | 0x1ff;
    h->pmpcfg[1] = (3 << 3) | 7;
    h->pmp_active = 1;
    assert_true(mmu_pmp_allows(h, RAM_BASE, 8, MMU_LOAD, PRIV_S));
    assert_false(mmu_pmp_allows(h, RAM_BASE, 8, MMU_STORE, PRIV_S));
    assert_true(mmu_pmp_allows(h, RAM_BASE, 8, MMU_STORE, PRIV_M)); /* not locked */
    assert_true(mmu_pmp_allows(h, RAM_BASE + 0x1ff8, 8, MMU_STORE, PRIV_U));
    /* straddling two entries fails */
    assert_false(mmu_pmp_allows(h, RAM_BASE + 0xffc, 8, MMU_LOAD, PRIV_S));
    /* no match: S/U denied, M allowed */
    assert_false(mmu_pmp_allows(h, RAM_BASE + 0x2000, 8, MMU_LOAD, PRIV_S));
    assert_true(mmu_pmp_allows(h, RAM_BASE + 0x2000, 8, MMU_LOAD, PRIV_M));
    /* locked entries bind M too */
    h->pmpcfg[0] |= 0x80;
    assert_false(mmu_pmp_allows(h, RAM_BASE, 8, MMU_STORE, PRIV_M));
}

/* Runs one instruction from RAM_BASE in privilege priv with mstatus mstatus
 * and returns mcause (0 when no trap went to M). */
static uint64_t run_one(struct hart *h, unsigned priv, uint64_t mstatus)
{
    assert_int_equal(hart_write_csr(h, CSR_MSTATUS, mstatus), 0);
    assert_int_equal(hart_write_csr(h, CSR_MCAUSE, 0), 0);
    h->pc = RAM_BASE;
    h->priv = priv;
    csr_update_priv_ls(h);
    mmu_flush(h);
    hart_run(h, 1);
    return h->mcause;
}

static void irq_priority(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    const uint64_t irq = 1ull << 63;
    uint32_t loop = 0x0000006f; /* j . */
    memcpy(f->ram, &loop, 4);
    memcpy(f->ram + 0x100, &loop, 4);
    h->satp = 0;
    assert_int_equal(hart_write_csr(h, CSR_MTVEC, RAM_BASE + 0x100), 0);
    assert_int_equal(hart_write_csr(h, CSR_STVEC, RAM_BASE + 0x100), 0);
    assert_int_equal(hart_write_csr(h, CSR_MIE, MIP_MEIP | MIP_MSIP | MIP_MTIP | MIP_SEIP | MIP_SSIP | MIP_STIP), 0);
    assert_int_equal(hart_write_csr(h, CSR_MIP, MIP_STIP), 0);
    hart_set_irq(h, MIP_MEIP | MIP_MSIP | MIP_SEIP | MIP_SSIP, 1);
    hart_set_mtimecmp(h, 0);
    /* In M-mode nothing is taken while MIE is off. */
    assert_int_equal(run_one(h, PRIV_M, 0), 0);
    /* MEI > MSI > MTI > SEI > SSI > STI */
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), irq | 11);
    hart_set_irq(h, MIP_MEIP, 0);
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), irq | 3);
    hart_set_irq(h, MIP_MSIP, 0);
    /* An interrupt for M is taken in S and U whatever MIE says. */
    assert_int_equal(run_one(h, PRIV_S, 0), irq | 7);
    assert_int_equal((h->mstatus & MSTATUS_MPP) >> 11, PRIV_S);
    assert_int_equal(run_one(h, PRIV_U, 0), irq | 7);
    hart_set_mtimecmp(h, UINT64_MAX);
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), irq | 9);
    hart_set_irq(h, MIP_SEIP, 0);
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), irq | 1);
    assert_int_equal(hart_write_csr(h, CSR_MIP, MIP_STIP), 0); /* clears SSIP */
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), irq | 5);
    /* Delegated to S: never taken in M, taken in U whatever SIE says, and
     * an interrupt for M goes first whatever the numbers. */
    assert_int_equal(hart_write_csr(h, CSR_MIDELEG, MIP_STIP), 0);
    assert_int_equal(run_one(h, PRIV_M, MSTATUS_MIE), 0);
    assert_int_equal(run_one(h, PRIV_U, 0), 0);
    assert_int_equal(h->scause, irq | 5);
    assert_int_equal(h->priv, PRIV_S);
    hart_set_irq(h, MIP_MSIP, 1);
    assert_int_equal(run_one(h, PRIV_S, MSTATUS_SIE), irq | 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(walk_4k_sets_a_then_d, setup, teardown),
        cmocka_unit_test_setup_teardown(superpages, setup, teardown),
        cmocka_unit_test_setup_teardown(permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_and_noncanonical, setup, teardown),
        cmocka_unit_test_setup_teardown(sv48_on_top_of_sv39_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(pmp_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(irq_priority, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
