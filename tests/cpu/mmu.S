/* Virtual memory: Sv39, Sv48 and Sv57 walks with 4 KiB pages and 2 MiB,
 * 1 GiB, 512 GiB and 256 TiB superpages; hardware A/D updates; R/W/X and
 * U permission faults (with the faulting address in mtval); MXR and SUM;
 * misaligned superpages, invalid PTEs and non-canonical addresses. */
#include "harness.h"
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_U 16
#define PTE_A 64
#define PTE_D 128
#define SUM (1 << 18)
#define MXR (1 << 19)

/* reg = PTE pointing at the physical address in reg, with flags. */
.macro MKPTE reg, flags
    srli \reg, \reg, 12
    slli \reg, \reg, 10
    ori \reg, \reg, \flags
.endm

/* table[index] = PTE for physical address paddr (a register), flags. */
.macro SETPTE table, index, paddr, flags
    mv t0, \paddr
    MKPTE t0, \flags
    la t1, \table
    sd t0, (\index * 8)(t1)
.endm

/* table[index] = leaf for a constant physical page number. */
.macro SETLEAF table, index, ppn, flags
    li t0, (\ppn << 10) | \flags
    la t1, \table
    sd t0, (\index * 8)(t1)
.endm

    .text
    .globl test_main
test_main:
    /* page_a holds `ret` at offset 0, 0x1234 at offset 8 */
    la a0, page_a
    li t0, 0x00008067
    sw t0, 0(a0)
    li t0, 0x1234
    sd t0, 8(a0)
    /* Sv39 root: 0-1G and 2G-3G identity (gigapages), 1G-2G via l1 */
    SETLEAF pt39, 0, 0, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D
    SETLEAF pt39, 2, 0x80000, PTE_V|PTE_R|PTE_W|PTE_X|PTE_A|PTE_D
    la a1, pt_l1
    SETPTE pt39, 1, a1, PTE_V
    la a1, pt_l0
    SETPTE pt_l1, 0, a1, PTE_V
    SETLEAF pt_l1, 1, 0x80000, PTE_V|PTE_R|PTE_A            /* 2 MiB */
    SETLEAF pt_l1, 2, 0x80001, PTE_V|PTE_R|PTE_A            /* misaligned */
    la a2, page_a
    SETPTE pt_l0, 0, a2, PTE_V|PTE_R|PTE_W                  /* A, D clear */
    SETPTE pt_l0, 1, a2, PTE_V|PTE_R|PTE_A                  /* read-only */
    SETPTE pt_l0, 2, a2, PTE_V|PTE_X|PTE_A                  /* execute-only */
    SETPTE pt_l0, 3, a2, PTE_V|PTE_R|PTE_W|PTE_U|PTE_A|PTE_D /* user */
    SETPTE pt_l0, 5, a2, PTE_V|PTE_W|PTE_A                  /* W without R: reserved */
    /* Sv48 root: [0] -> the Sv39 root as its next level, [1] 512 GiB leaf at 0 */
    la a1, pt39
    SETPTE pt48, 0, a1, PTE_V
    SETLEAF pt48, 1, 0, PTE_V|PTE_R|PTE_A
    la a1, pt48
    SETPTE pt57, 0, a1, PTE_V
    SETLEAF pt57, 1, 0, PTE_V|PTE_R|PTE_A

    TEST 1                  /* Sv39 */
    la t0, pt39
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    csrr t1, satp
    bne t0, t1, fail
    ENTER_MODE 1, s39
s39:
    sfence.vma
    TEST 2                  /* load sets A, store sets D */
    li s1, 0x40000000
    ld a0, 8(s1)
    CHECK a0, 0x1234
    la t0, pt_l0
    ld t1, 0(t0)
    andi t1, t1, PTE_A|PTE_D
    CHECK t1, PTE_A
    sd a0, 16(s1)
    ld t1, 0(t0)
    andi t1, t1, PTE_A|PTE_D
    CHECK t1, PTE_A|PTE_D
    TEST 3                  /* store to a read-only page */
    li s2, 0x40001000
    sd a0, 24(s2)
    CHECK_TRAP 15
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    li t3, 0x40001018
    bne t4, t3, fail
    TEST 4                  /* fetch from a page without X */
    RESUME_AT 1f
    jalr ra, 0(s2)
    j fail
1:  CHECK_TRAP 12
    TEST 5                  /* execute-only: runs, but loads fault unless MXR */
    li s3, 0x40002000
    jalr ra, 0(s3)
    ld a0, 8(s3)
    CHECK_TRAP 13
    li t0, MXR
    csrs sstatus, t0
    ld a0, 8(s3)
    CHECK a0, 0x1234
    csrc sstatus, t0
    TEST 6                  /* user page from S: needs SUM; never executable */
    li s4, 0x40003000
    ld a0, 8(s4)
    CHECK_TRAP 13
    li t0, SUM
    csrs sstatus, t0
    ld a0, 8(s4)
    CHECK a0, 0x1234
    RESUME_AT 1f
    jalr ra, 0(s4)
    j fail
1:  CHECK_TRAP 12
    li t0, SUM
    csrc sstatus, t0
    TEST 7                  /* 2 MiB megapage maps RAM's first page */
    li t0, 0x40200000
    lw a0, 0(t0)
    li t1, 0x80000000
    lw a1, 0(t1)
    bne a0, a1, fail
    TEST 8                  /* misaligned megapage */
    li t0, 0x40400000
    lw a0, 0(t0)
    CHECK_TRAP 13
    TEST 9                  /* invalid PTE, W without R */
    li t0, 0x40004000
    lw a0, 0(t0)
    CHECK_TRAP 13
    li t0, 0x40005000
    sw a0, 0(t0)
    CHECK_TRAP 15
    TEST 10                 /* non-canonical address */
    li t0, 0x4000000000
    lw a0, 0(t0)
    CHECK_TRAP 13
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    CHECK t4, 0x4000000000
    BACK_TO_M 1f
1:  TEST 11                 /* U-mode cannot run supervisor pages */
    RESUME_AT 2f, 1
    ENTER_MODE 0, 1f
1:  j fail
2:  CHECK_TRAP 12

    TEST 20                 /* Sv48: the same tables one level down, 512 GiB page */
    la t0, pt48
    srli t0, t0, 12
    li t1, 9 << 60
    or t0, t0, t1
    csrw satp, t0
    csrr t1, satp
    bne t0, t1, fail
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s1, 0x40000000
    ld a0, 8(s1)
    CHECK a0, 0x1234
    li t0, 0x8080000000
    lw a0, 0(t0)
    li t1, 0x80000000
    lw a1, 0(t1)
    bne a0, a1, fail
    li t0, 0x800000000000   /* bit 47 set, not sign-extended */
    lw a0, 0(t0)
    CHECK_TRAP 13
    BACK_TO_M 1f
1:  TEST 30                 /* Sv57: 256 TiB page */
    la t0, pt57
    srli t0, t0, 12
    li t1, 10 << 60
    or t0, t0, t1
    csrw satp, t0
    csrr t1, satp
    bne t0, t1, fail
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s1, 0x40000000
    ld a0, 8(s1)
    CHECK a0, 0x1234
    li t0, 0x1000080000000
    lw a0, 0(t0)
    li t1, 0x80000000
    lw a1, 0(t1)
    bne a0, a1, fail
    BACK_TO_M 1f
1:  TEST 40                 /* an unsupported mode leaves satp as it was */
    csrr t0, satp
    li t1, 11 << 60
    csrw satp, t1
    csrr t2, satp
    bne t0, t2, fail
    csrw satp, zero
    TEST 41                 /* MPRV: M-mode loads through the S translation */
    la t0, pt39
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    li t0, 3 << 11
    csrc mstatus, t0
    li t0, (1 << 11) | (1 << 17)   /* MPP = S, MPRV */
    csrs mstatus, t0
    li t2, 0x40000000
    ld a0, 8(t2)
    li t0, 1 << 17
    csrc mstatus, t0
    CHECK a0, 0x1234
    csrw satp, zero
    j pass

    .bss
    .align 12
pt39: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
pt48: .space 4096
pt57: .space 4096
page_a: .space 4096
