/* PMP: 16 entries (pmpcfg0, pmpcfg2, pmpaddr0-15; the CSRs of entries
 * 16-63 and the odd pmpcfg registers raise illegal instruction, as in QEMU
 * 7.2), OFF/TOR/NA4/NAPOT matching with the lowest-numbered entry winning,
 * accesses that match an entry only in part, no match at all (S and U
 * denied, M allowed), MPRV, the page walk's own accesses (checked as S-mode
 * loads, faulting as an access fault of the original access type) and the
 * lock bit (binds M-mode, ignores writes, a locked TOR entry also locks
 * the pmpaddr below it). Access faults carry the faulting address in
 * mtval. Locks last until reset, so the lock tests come last. */
#include "harness.h"
#define R 1
#define W 2
#define X 4
#define TOR (1 << 3)
#define NA4 (2 << 3)
#define NAPOT (3 << 3)
#define LOCK 0x80
#define MPRV (1 << 17)
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_A 64
#define PTE_D 128

/* Sets the configuration byte of PMP entry i (0-15). Clobbers t0. */
.macro PMPCFG i, cfg
    .if \i < 8
    li t0, 0xff << (8 * \i)
    csrc pmpcfg0, t0
    li t0, (\cfg) << (8 * \i)
    csrs pmpcfg0, t0
    .else
    li t0, 0xff << (8 * (\i - 8))
    csrc pmpcfg2, t0
    li t0, (\cfg) << (8 * (\i - 8))
    csrs pmpcfg2, t0
    .endif
.endm

/* pmpaddr i = NAPOT encoding of the 4 KiB page at label. Clobbers t0. */
.macro PMPPAGE i, label
    la t0, \label
    srli t0, t0, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr\i, t0
.endm

/* pmpaddr i = (label + off) >> 2. Clobbers t0, t1. */
.macro PMPADDR i, label, off
    la t0, \label
    li t1, \off
    add t0, t0, t1
    srli t0, t0, 2
    csrw pmpaddr\i, t0
.endm

/* Fails unless the CSR instruction that follows traps as illegal. */
.macro EXPECT_ILLEGAL insn:vararg
    \insn
    CHECK_TRAP 2
.endm

    .text
    .globl test_main
test_main:
    TEST 1                  /* entries 0-15 exist, 16-63 and odd pmpcfg do not */
    li t1, 0x1234
    csrw pmpaddr15, t1
    csrr t2, pmpaddr15
    CHECK t2, 0x1234
    csrw pmpaddr15, zero
    EXPECT_ILLEGAL csrr a0, 0x3c0       /* pmpaddr16 */
    EXPECT_ILLEGAL csrw 0x3c0, t1
    EXPECT_ILLEGAL csrr a0, 0x3ef       /* pmpaddr63 */
    EXPECT_ILLEGAL csrr a0, 0x3a1       /* pmpcfg1 */
    EXPECT_ILLEGAL csrr a0, 0x3a3       /* pmpcfg3 */
    EXPECT_ILLEGAL csrr a0, 0x3a4       /* pmpcfg4 */
    EXPECT_ILLEGAL csrw 0x3ae, t1       /* pmpcfg14 */
    TEST 2                  /* pmpaddr holds bits 55:2; cfg bits 6:5 read zero */
    IF_QEMU 1f              /* QEMU 7.2 keeps every bit of both */
    li t1, -1
    csrw pmpaddr14, t1
    csrr t2, pmpaddr14
    CHECK t2, 0x003fffffffffffff
    csrw pmpaddr14, zero
    PMPCFG 14, 0x60 | R
    csrr t2, pmpcfg2
    srli t2, t2, 48
    CHECK t2, R
    PMPCFG 14, 0
1:
    /* From here on the catch-all is entry 15, so entries 0-14 can carve
     * out regions in front of it. */
    li t1, -1
    csrw pmpaddr15, t1
    PMPCFG 15, NAPOT | R | W | X
    PMPCFG 0, 0
    csrw pmpaddr0, zero

    TEST 3                  /* no entry matches: S cannot fetch, M can */
    /* QEMU 7.2 instead makes an mret to S or U illegal while no entry is
     * active (not in the spec); test 4 covers the no-match rule there. */
    IF_QEMU 3f
    PMPCFG 15, 0
    RESUME_AT 2f, 1
    ENTER_MODE 1, 1f
1:  j fail
2:  la t1, 1b
    CHECK_TRAP_TVAL 1, t1
3:  TEST 4                  /* the matching entry lacks X */
    PMPCFG 15, NAPOT | R | W
    RESUME_AT 2f, 1
    ENTER_MODE 1, 1f
1:  j fail
2:  la t1, 1b
    CHECK_TRAP_TVAL 1, t1
    la t1, page             /* M ignores unlocked entries */
    sd zero, 0(t1)
    CHECK_TRAP -1
    PMPCFG 15, NAPOT | R | W | X

    TEST 5                  /* NA4: the 4 bytes at page+8, read-only */
    PMPADDR 0, page, 8
    PMPCFG 0, NA4 | R
    la s0, page
    li t1, 0x11223344
    sw t1, 8(s0)            /* M: fine */
    ENTER_MODE 1, 1f
1:  lw a0, 8(s0)
    CHECK a0, 0x11223344
    addi s1, s0, 8
    sw a0, 8(s0)
    CHECK_TRAP_TVAL 7, s1
    ld a0, 8(s0)            /* matches bytes 8-11 only: fails */
    CHECK_TRAP_TVAL 5, s1
    lw a0, 4(s0)            /* entry 15 */
    CHECK_TRAP -1
    sw a0, 12(s0)
    CHECK_TRAP -1
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    PMPCFG 0, 0

    TEST 6                  /* TOR: [pmpaddr1, pmpaddr2) whatever entry 1's mode */
    PMPADDR 1, page, 0x100
    PMPADDR 2, page, 0x200
    PMPCFG 2, TOR
    ENTER_MODE 1, 1f
1:  addi s1, s0, 0x100
    lw a0, 0x100(s0)
    CHECK_TRAP_TVAL 5, s1
    addi s1, s0, 0x1fc
    sw a0, 0x1fc(s0)
    CHECK_TRAP_TVAL 7, s1
    lw a0, 0xfc(s0)
    lw a0, 0x200(s0)
    CHECK_TRAP -1
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    lw a0, 0x100(s0)        /* M: not locked, allowed */
    CHECK_TRAP -1
    PMPCFG 2, 0

    TEST 7                  /* TOR in entry 0 starts at address 0 */
    PMPADDR 0, page, 0
    PMPCFG 0, TOR | R | X
    /* S may not write below page, trap_info included: the store fault is
     * the first trap, and it goes straight back to M. */
    RESUME_AT 2f, 1
    la s1, trap_info
    addi s1, s1, TI_EPC
    ENTER_MODE 1, 1f        /* the code is below page: still runs */
1:  li a1, 0x80000000
    lw a0, 0(a1)
    sd zero, 0(s1)
    j fail
2:  CHECK_TRAP_TVAL 7, s1
    PMPCFG 0, 0

    TEST 8                  /* NAPOT; the lowest-numbered match decides */
    PMPPAGE 3, page
    PMPCFG 3, NAPOT | R
    PMPADDR 2, page, 0x800
    PMPCFG 2, NA4 | R | W
    li t1, 0x800
    add s3, s0, t1
    ENTER_MODE 0, 1f        /* U-mode */
1:  lw a0, 0(s3)
    sw a0, 0(s3)            /* entry 2 */
    lw a0, -4(s3)
    CHECK_TRAP -1
    addi s1, s3, -4
    sw a0, -4(s3)           /* entry 3 */
    CHECK_TRAP_TVAL 7, s1
    addi s1, s3, 0x7fc
    sw a0, 0x7fc(s3)
    CHECK_TRAP_TVAL 7, s1
    sw a0, 4(s1)            /* page + 0x1000: entry 15 */
    CHECK_TRAP -1
    BACK_TO_M 2f
2:  CHECK_TRAP 8
    PMPCFG 2, 0

    TEST 9                  /* MPRV: M-mode data accesses checked as MPP's */
    li t1, 3 << 11
    csrc mstatus, t1
    li t1, (1 << 11) | MPRV
    csrs mstatus, t1
    lw a0, 8(s0)
    CHECK_TRAP -1
    addi s1, s0, 8
    sw a0, 8(s0)
    li t1, MPRV             /* the trap left MPP = M; MPRV is still set */
    csrc mstatus, t1
    CHECK_TRAP_TVAL 7, s1
    sw a0, 8(s0)
    CHECK_TRAP -1

    TEST 10                 /* the walk's PTE reads are checked by PMP */
    /* Sv39: root[2] = 1 GiB identity at 0x80000000; VA 0x40000000 -> page
     * (R W) and VA 0x40001000 -> page (X) through pt_l1 and pt_l0. */
    la t1, pt_root
    li t0, (0x80000 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd t0, 16(t1)
    la t0, pt_l1
    srli t0, t0, 2
    ori t0, t0, PTE_V
    sd t0, 8(t1)
    la t1, pt_l1
    la t0, pt_l0
    srli t0, t0, 2
    ori t0, t0, PTE_V
    sd t0, 0(t1)
    la t1, pt_l0
    srli t0, s0, 2
    ori t0, t0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    sd t0, 0(t1)
    srli t0, s0, 2
    ori t0, t0, PTE_V | PTE_X | PTE_A
    sd t0, 8(t1)
    li t0, 0x00008067       /* ret, at page+0 */
    sw t0, 0(s0)
    PMPCFG 3, 0
    la t0, pt_root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    PMPPAGE 4, pt_l0        /* S may not read the last-level table */
    PMPCFG 4, NAPOT
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s1, 0x40000000
    lw a0, 4(s1)
    addi s2, s1, 4
    CHECK_TRAP_TVAL 5, s2   /* an access fault, not a page fault */
    sw a0, 4(s1)
    CHECK_TRAP_TVAL 7, s2
    li s2, 0x40001000
    RESUME_AT 3f
    jalr ra, 0(s2)
    j fail
3:  CHECK_TRAP_TVAL 1, s2
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    TEST 11                 /* with the table readable the same accesses work */
    PMPCFG 4, 0
    PMPPAGE 3, page         /* ...but the final address is still checked */
    PMPCFG 3, NAPOT | R | X
    ENTER_MODE 1, 1f
1:  sfence.vma
    li s1, 0x40000000
    lw a0, 8(s1)
    CHECK a0, 0x11223344
    li s2, 0x40001000
    jalr ra, 0(s2)
    CHECK_TRAP -1
    addi s2, s1, 8
    sw a0, 8(s1)
    CHECK_TRAP_TVAL 7, s2
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    csrw satp, zero
    PMPCFG 3, 0

    TEST 12                 /* a locked entry binds M-mode and ignores writes */
    la s0, page2
    li t1, 0x55
    sd t1, 0(s0)
    PMPPAGE 5, page2
    PMPCFG 5, LOCK | NAPOT | R
    ld a0, 0(s0)
    CHECK a0, 0x55
    CHECK_TRAP -1
    sd zero, 0(s0)
    CHECK_TRAP_TVAL 7, s0
    ld a0, 0(s0)
    CHECK a0, 0x55          /* the store did not land */
    csrr s1, pmpaddr5
    csrw pmpaddr5, zero
    csrr t1, pmpaddr5
    bne t1, s1, fail
    /* one write to pmpcfg0: entry 5's byte stays, entry 6's changes */
    li t1, (0xff << 40) | (0xff << 48)
    csrc pmpcfg0, t1
    li t1, (NA4 | R) << 48
    csrs pmpcfg0, t1
    csrr t1, pmpcfg0
    slli t1, t1, 8
    srli t1, t1, 48
    CHECK t1, ((NA4 | R) << 8) | LOCK | NAPOT | R
    PMPCFG 6, 0

    TEST 13                 /* a locked TOR entry locks the pmpaddr below it */
    PMPADDR 6, page3, 0
    PMPADDR 7, page3, 0x800
    PMPCFG 7, LOCK | TOR | R | W
    la s0, page3
    sd zero, 0(s0)          /* M may write: the entry grants W */
    sd zero, 0x7f8(s0)
    CHECK_TRAP -1
    addi s1, s0, 0x7fc      /* ...but not execute */
    RESUME_AT 1f
    jr s1
    j fail
1:  CHECK_TRAP_TVAL 1, s1
    csrr s1, pmpaddr6
    csrr s2, pmpaddr7
    csrw pmpaddr6, zero
    csrw pmpaddr7, zero
    csrr t1, pmpaddr6
    bne t1, s1, fail
    csrr t1, pmpaddr7
    bne t1, s2, fail
    PMPCFG 6, NA4 | R       /* entry 6's own configuration is not locked */
    csrr t1, pmpcfg0
    srli t1, t1, 48
    CHECK t1, ((LOCK | TOR | R | W) << 8) | NA4 | R
    PMPCFG 6, 0
    j pass

    .bss
    .align 12
page: .space 4096
page2: .space 4096
page3: .space 4096
pt_root: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
