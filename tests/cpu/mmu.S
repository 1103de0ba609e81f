/* Virtual memory: Sv39, Sv48 and Sv57 walks with 4 KiB pages and 2 MiB,
 * 1 GiB, 512 GiB and 256 TiB superpages; hardware A/D updates; R/W/X and
 * U permission faults (with the faulting address in mtval); MXR and SUM;
 * misaligned superpages, invalid PTEs and non-canonical addresses;
 * reserved PTE bits (bits 60:54, N without Svnapot, PBMT unless
 * menvcfg.PBMTE, PBMT 3, PBMT in a pointer), a pointer at the last level,
 * switching satp from Sv57 straight to Sv39, sfence.vma after a PTE
 * change, A set by a fetch, a leaf that maps nothing (access fault), and
 * PMP checking the A/D update as a store. */
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

    /* More leaves in pt_l0 (VA 0x40000000 + i * 4 KiB for entry i) */
    la a2, page_a
    la a3, page_b
    li t0, 0x5678
    sd t0, 8(a3)
    li t2, 1 << 54          /* a reserved bit */
    SETPTE pt_l0, 6, a2, PTE_V|PTE_R|PTE_A
    ld t0, 48(t1)
    or t0, t0, t2
    sd t0, 48(t1)
    li t2, 1 << 63          /* N without Svnapot */
    SETPTE pt_l0, 7, a2, PTE_V|PTE_R|PTE_A
    ld t0, 56(t1)
    or t0, t0, t2
    sd t0, 56(t1)
    li t2, 1 << 61          /* PBMT = NC */
    SETPTE pt_l0, 8, a2, PTE_V|PTE_R|PTE_A
    ld t0, 64(t1)
    or t0, t0, t2
    sd t0, 64(t1)
    li t2, 3 << 61          /* PBMT = 3, reserved */
    SETPTE pt_l0, 9, a2, PTE_V|PTE_R|PTE_A
    ld t0, 72(t1)
    or t0, t0, t2
    sd t0, 72(t1)
    la a1, pt_l0            /* a pointer with PBMT: reserved */
    SETPTE pt_l1, 3, a1, PTE_V
    li t2, 1 << 61
    ld t0, 24(t1)
    or t0, t0, t2
    sd t0, 24(t1)
    la a1, pt_l1            /* a pointer at the last level */
    SETPTE pt_l0, 10, a1, PTE_V
    SETPTE pt_l0, 11, a2, PTE_V|PTE_R|PTE_A
    SETPTE pt_l0, 12, a2, PTE_V|PTE_X                   /* A clear */
    li a1, 0x200000         /* nothing there */
    SETPTE pt_l0, 13, a1, PTE_V|PTE_R|PTE_W|PTE_A|PTE_D
    SETPTE pt_l0, 14, a2, PTE_V|PTE_R|PTE_W             /* A, D clear */

    TEST 50                 /* Sv57 straight to Sv39 */
    la t5, trap_info
    li t4, -1
    sd t4, TI_CAUSE(t5)
    la t0, pt57
    srli t0, t0, 12
    li t1, 10 << 60
    or t0, t0, t1
    csrw satp, t0
    ENTER_MODE 1, 1f
1:  sfence.vma
    li t0, 0x1000080000000
    lw a0, 0(t0)
    CHECK_TRAP -1
    BACK_TO_M 1f
1:  CHECK_TRAP 9
    la t0, pt39
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s1, 0x40000000
    ld a0, 8(s1)
    CHECK a0, 0x1234
    li t0, 0x1000080000000  /* not canonical under Sv39 */
    lw a0, 0(t0)
    CHECK_TRAP 13
    TEST 51                 /* reserved PTE bits, N without Svnapot */
    li t0, 0x40006000
    lw a0, 0(t0)
    CHECK_TRAP 13
    li t0, 0x40007000
    lw a0, 0(t0)
    CHECK_TRAP 13
    TEST 52                 /* PBMT needs menvcfg.PBMTE; 3 and PBMT in pointers never work */
    li s2, 0x40008000
    lw a0, 8(s2)
    CHECK_TRAP 13
    li s3, 0x40009000
    lw a0, 8(s3)
    CHECK_TRAP 13
    li s4, 0x40600000
    lw a0, 8(s4)
    CHECK_TRAP 13
    BACK_TO_M 1f
1:  CHECK_TRAP 9
    li t0, 1 << 62
    csrs menvcfg, t0
    ENTER_MODE 1, 1f
1:  sfence.vma
    lw a0, 8(s2)
    CHECK a0, 0x1234
    lw a0, 8(s3)
    CHECK_TRAP 13
    lw a0, 8(s4)
    CHECK_TRAP 13
    BACK_TO_M 1f
1:  CHECK_TRAP 9
    li t0, 1 << 62
    csrc menvcfg, t0
    ENTER_MODE 1, 1f
1:  sfence.vma
    lw a0, 8(s2)
    CHECK_TRAP 13
    TEST 53                 /* a pointer at level 0 */
    li t0, 0x4000a000
    lw a0, 0(t0)
    CHECK_TRAP 13
    TEST 54                 /* sfence.vma makes a changed PTE visible */
    li s2, 0x4000b000
    ld a0, 8(s2)
    CHECK a0, 0x1234
    la t1, pt_l0
    la t0, page_b
    MKPTE t0, PTE_V|PTE_R|PTE_A
    sd t0, 88(t1)
    sfence.vma s2, zero
    ld a0, 8(s2)
    CHECK a0, 0x5678
    TEST 55                 /* a fetch sets A */
    li t0, 0x4000c000
    jalr ra, 0(t0)
    CHECK_TRAP -1
    la t1, pt_l0
    ld t0, 96(t1)
    andi t0, t0, PTE_A|PTE_D
    CHECK t0, PTE_A
    TEST 56                 /* a leaf that maps nothing: access fault, not page fault */
    li s2, 0x4000d008
    ld a0, 0(s2)
    CHECK_TRAP 5
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    bne t4, s2, fail
    sd a0, 0(s2)
    CHECK_TRAP 7
    BACK_TO_M 1f
1:  CHECK_TRAP 9
    TEST 57                 /* the A/D update is a store PMP must allow */
    IF_QEMU 2f              /* QEMU 7.2 updates A/D without asking PMP */
    la t0, pt_l0            /* entry 0: pt_l0 read-only; entry 1: the rest */
    srli t0, t0, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr0, t0
    li t0, -1
    csrw pmpaddr1, t0
    li t0, (0x1f << 8) | 0x19
    csrw pmpcfg0, t0
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s2, 0x4000e000
    ld a0, 8(s2)
    CHECK_TRAP 5
    la t1, pt_l0
    ld t0, 112(t1)
    andi t0, t0, PTE_A
    CHECK t0, 0
    ld a0, 8(s1)            /* A already set: no update, no fault */
    CHECK a0, 0x1234
    BACK_TO_M 1f
1:  CHECK_TRAP 9
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
2:  csrw satp, zero
    j pass

    .bss
    .align 12
pt39: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
pt48: .space 4096
pt57: .space 4096
page_a: .space 4096
page_b: .space 4096
