/* Unit tests for the hart's cached translations, run through real
 * instructions: translations are kept per context across traps, xrets and
 * mstatus.SUM changes, so these check that a cached entry never grants an
 * access the current context must fault on, and that sfence.vma by
 * address drops what it must (including 4 KiB pieces of a superpage), and
 * that a satp write or an sfence.vma by ASID drops translations that are
 * not global while a full sfence.vma drops global ones too.
 *
 * Memory (RAM 4 MiB at 0x80000000, Sv39):
 *   +0x0000 M trap vector (j .)        +0x1000 S code   +0x3000 U code
 *   +0x4000 root  +0x5000 l1  +0x6000 l0  +0x7000 U data  +0x8000 S data
 *   +0x9000 l1 of VA 0xc0000000        +0x200000 2 MiB superpage data
 * VA 0x80000000: 1 GiB leaf identity (RWX, not U); VA 0x0: U code (U RX);
 * VA 0x1000: U data (U RW); VA 0x2000: S data (RW); VA 0xc0000000: 2 MiB
 * leaf at +0x200000 (RW). All leaves have A and D set. Traps go to M. */
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
#define RAM_SIZE (4u << 20)

#include "hart_ram.h"
#define ROOT (RAM_BASE + 0x4000)
#define L1 (RAM_BASE + 0x5000)
#define L0 (RAM_BASE + 0x6000)
#define L1_SUPER (RAM_BASE + 0x9000)
#define S_CODE (RAM_BASE + 0x1000) /* identity mapped */
#define VA_U_CODE 0x0ull
#define VA_U_DATA 0x1000ull
#define VA_S_DATA 0x2000ull
#define VA_SUPER 0xc0000000ull

/* Instruction encodings used below. */
#define LD_T0_A1 0x0005b283u      /* ld t0, 0(a1) */
#define LD_T0_A2 0x00063283u      /* ld t0, 0(a2) */
#define LD_T0_A4 0x00073283u      /* ld t0, 0(a4) */
#define SD_X0_A3 0x0006b023u      /* sd x0, 0(a3) */
#define CSRC_SSTATUS_T1 0x10033073u /* csrc sstatus, t1 */
#define SFENCE_A5 0x12078073u     /* sfence.vma a5, x0 */
#define SFENCE_ALL 0x12000073u    /* sfence.vma x0, x0 */
#define SFENCE_ASID_A6 0x13000073u /* sfence.vma x0, a6 */
#define CSRW_SATP_A5 0x18079073u  /* csrw satp, a5 */
#define SD_T2_A3 0x0076b023u      /* sd t2, 0(a3) */
#define SRET 0x10200073u
#define J_SELF 0x0000006fu        /* j . */

struct fixture {
    uint8_t *ram;
    struct hart *h;
};

static uint64_t *ram64(struct fixture *f, uint64_t pa)
{
    return (uint64_t *)(f->ram + (pa - RAM_BASE));
}

static void put_code(struct fixture *f, uint64_t pa, const uint32_t *insns, size_t n)
{
    memcpy(f->ram + (pa - RAM_BASE), insns, n * 4);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ram = hart_ram_create(&f->h, RAM_SIZE);
    const uint64_t leaf = PTE_V | PTE_A | PTE_D;
    *ram64(f, ROOT + 8 * 0) = pte(L1, PTE_V);
    *ram64(f, ROOT + 8 * 2) = pte(RAM_BASE, leaf | PTE_R | PTE_W | PTE_X);
    *ram64(f, ROOT + 8 * 3) = pte(L1_SUPER, PTE_V);
    *ram64(f, L1) = pte(L0, PTE_V);
    *ram64(f, L0 + 8 * 0) = pte(RAM_BASE + 0x3000, leaf | PTE_U | PTE_R | PTE_X);
    *ram64(f, L0 + 8 * 1) = pte(RAM_BASE + 0x7000, leaf | PTE_U | PTE_R | PTE_W);
    *ram64(f, L0 + 8 * 2) = pte(RAM_BASE + 0x8000, leaf | PTE_R | PTE_W);
    *ram64(f, L1_SUPER) = pte(RAM_BASE + 0x200000, leaf | PTE_R | PTE_W);
    uint32_t trap = J_SELF;
    put_code(f, RAM_BASE, &trap, 1);
    struct hart *h = f->h;
    assert_int_equal(hart_write_csr(h, CSR_PMPADDR0, ~0ull), 0);
    assert_int_equal(hart_write_csr(h, CSR_PMPCFG0, (3 << 3) | 7), 0);
    assert_int_equal(hart_write_csr(h, CSR_MTVEC, RAM_BASE), 0);
    assert_int_equal(hart_write_csr(h, CSR_SATP, (8ull << 60) | (ROOT >> 12)), 0);
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

/* Starts S-mode at pc with mstatus (set as an M-mode write would, which
 * does not drop cached translations by itself). */
static void enter_s(struct hart *h, uint64_t pc, uint64_t mstatus)
{
    h->mstatus = mstatus;
    h->priv = PRIV_S;
    csr_update_priv_ls(h);
    h->pc = pc;
    h->mcause = 0;
}

static void sum_cleared_faults_again(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    const uint32_t prog[] = { LD_T0_A1, CSRC_SSTATUS_T1, LD_T0_A1, J_SELF };
    put_code(f, S_CODE, prog, 4);
    *ram64(f, RAM_BASE + 0x7000) = 0x1234;
    h->x[11] = VA_U_DATA;
    h->x[6] = MSTATUS_SUM;
    enter_s(h, S_CODE, MSTATUS_SUM);
    hart_run(h, 20);
    /* The first load worked under SUM; the same load without it faults. */
    assert_int_equal(h->x[5], 0x1234);
    assert_int_equal(h->priv, PRIV_M);
    assert_int_equal(h->mcause, CAUSE_LOAD_PAGE);
    assert_int_equal(h->mepc, S_CODE + 8);
    assert_int_equal(h->mtval, VA_U_DATA);
}

static void user_faults_after_supervisor_filled(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    /* S loads the supervisor page (cached), srets to U, which may load
     * its own page but must fault on the supervisor one. */
    const uint32_t s_prog[] = { LD_T0_A2, SRET };
    const uint32_t u_prog[] = { LD_T0_A1, LD_T0_A2, J_SELF };
    put_code(f, S_CODE, s_prog, 2);
    put_code(f, RAM_BASE + 0x3000, u_prog, 3);
    *ram64(f, RAM_BASE + 0x7000) = 0x7777;
    *ram64(f, RAM_BASE + 0x8000) = 0x8888;
    h->x[11] = VA_U_DATA;
    h->x[12] = VA_S_DATA;
    h->sepc = VA_U_CODE;
    enter_s(h, S_CODE, 0); /* SPP = U */
    hart_run(h, 20);
    assert_int_equal(h->x[5], 0x7777);
    assert_int_equal(h->mcause, CAUSE_LOAD_PAGE);
    assert_int_equal(h->mepc, VA_U_CODE + 4);
    assert_int_equal(h->mtval, VA_S_DATA);
    assert_int_equal((h->mstatus & MSTATUS_MPP) >> 11, PRIV_U);

    /* Back in S after that round trip: the supervisor page still loads,
     * and S may not run U code (it was fetched by U just before). */
    h->x[5] = 0;
    enter_s(h, S_CODE, 0);
    hart_run(h, 1);
    assert_int_equal(h->x[5], 0x8888);
    enter_s(h, VA_U_CODE, 0);
    hart_run(h, 1);
    assert_int_equal(h->mcause, CAUSE_FETCH_PAGE);
    assert_int_equal(h->mtval, VA_U_CODE);
}

static void sfence_by_address(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    /* Load a 4 KiB page, unmap it, sfence.vma that page: the load faults. */
    const uint32_t prog[] = { LD_T0_A4, SD_X0_A3, SFENCE_A5, LD_T0_A4, J_SELF };
    put_code(f, S_CODE, prog, 5);
    h->x[14] = VA_S_DATA + 8;
    h->x[13] = L0 + 8 * 2;       /* the leaf, through the identity map */
    h->x[15] = VA_S_DATA;
    enter_s(h, S_CODE, 0);
    hart_run(h, 20);
    assert_int_equal(h->mcause, CAUSE_LOAD_PAGE);
    assert_int_equal(h->mepc, S_CODE + 12);
    assert_int_equal(h->mtval, VA_S_DATA + 8);
}

static void sfence_by_address_in_superpage(void **state)
{
    struct fixture *f = *state;
    struct hart *h = f->h;
    /* The cached piece (+0x1000) and the fenced address (+0x0) are
     * different 4 KiB pages of one 2 MiB leaf: the fence covers both. */
    const uint32_t prog[] = { LD_T0_A4, SD_X0_A3, SFENCE_A5, LD_T0_A4, J_SELF };
    put_code(f, S_CODE, prog, 5);
    *ram64(f, RAM_BASE + 0x201000) = 0x5555;
    h->x[14] = VA_SUPER + 0x1000;
    h->x[13] = L1_SUPER;
    h->x[15] = VA_SUPER;
    enter_s(h, S_CODE, 0);
    hart_run(h, 20);
    assert_int_equal(h->x[5], 0x5555);
    assert_int_equal(h->mcause, CAUSE_LOAD_PAGE);
    assert_int_equal(h->mepc, S_CODE + 12);
    assert_int_equal(h->mtval, VA_SUPER + 0x1000);
}

/* Loads S data, points its leaf at another page (which caches nothing),
 * then runs `fence` and loads again: the second load must see the new
 * page, with no trap on the way. */
static void remap_then(struct fixture *f, uint32_t fence, uint64_t leaf_flags)
{
    struct hart *h = f->h;
    const uint64_t leaf = PTE_V | PTE_A | PTE_D | PTE_R | PTE_W;
    *ram64(f, L0 + 8 * 2) = pte(RAM_BASE + 0x8000, leaf | leaf_flags);
    const uint32_t prog[] = { LD_T0_A4, SD_T2_A3, fence, LD_T0_A4, J_SELF };
    put_code(f, S_CODE, prog, 5);
    *ram64(f, RAM_BASE + 0x8000) = 0x8888;
    *ram64(f, RAM_BASE + 0xb000) = 0xbbbb;
    h->x[14] = VA_S_DATA;
    h->x[13] = L0 + 8 * 2;
    h->x[7] = pte(RAM_BASE + 0xb000, leaf | leaf_flags);
    h->x[15] = (8ull << 60) | (1ull << 44) | (ROOT >> 12); /* the same tables, ASID 1 */
    h->x[16] = 1;
    enter_s(h, S_CODE, 0);
    hart_run(h, 4);
    assert_int_equal(h->mcause, 0);
    assert_int_equal(h->priv, PRIV_S);
    assert_int_equal(h->pc, S_CODE + 16);
    assert_int_equal(h->x[5], 0xbbbb);
}

static void satp_write_drops_local(void **state)
{
    remap_then(*state, CSRW_SATP_A5, 0);
}

static void sfence_by_asid_drops_local(void **state)
{
    remap_then(*state, SFENCE_ASID_A6, 0);
}

static void full_sfence_drops_global(void **state)
{
    remap_then(*state, SFENCE_ALL, PTE_G);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sum_cleared_faults_again, setup, teardown),
        cmocka_unit_test_setup_teardown(user_faults_after_supervisor_filled, setup, teardown),
        cmocka_unit_test_setup_teardown(sfence_by_address, setup, teardown),
        cmocka_unit_test_setup_teardown(sfence_by_address_in_superpage, setup, teardown),
        cmocka_unit_test_setup_teardown(satp_write_drops_local, setup, teardown),
        cmocka_unit_test_setup_teardown(sfence_by_asid_drops_local, setup, teardown),
        cmocka_unit_test_setup_teardown(full_sfence_drops_global, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
