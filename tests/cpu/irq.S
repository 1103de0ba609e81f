/* Interrupts: Sstc (stimecmp) timer interrupts delegated to S, wfi woken
 * by a timer with interrupts globally off, supervisor software interrupts
 * through sip, priority of M over S, and mip/sip/sie masking; priority
 * SEI > SSI > STI; interrupts for M taken in S and U whatever MIE says,
 * interrupts for S taken in U whatever SIE says and in S only with SIE;
 * an interrupt for M before one for S whatever their numbers; vectored
 * stvec; wfi completing for a pending and enabled interrupt with the
 * global enables off. The M-level interrupts (MEI, MSI, MTI) need the
 * CLINT/PLIC the bare-metal board lacks: tests/unit/test_mmu.c covers
 * their priority. */
#include "harness.h"
#define STCE (1 << 63)
    .text
    .globl test_main
test_main:
    TEST 1                  /* STIP follows time >= stimecmp when STCE is set */
    li t0, STCE
    csrs menvcfg, t0
    csrw stimecmp, zero
    csrr a0, mip
    andi a0, a0, 1 << 5
    CHECK a0, 1 << 5
    li t0, -1
    csrw stimecmp, t0
    csrr a0, mip
    andi a0, a0, 1 << 5
    CHECK a0, 0
    TEST 2                  /* wfi with MIE off wakes when the timer fires, no trap */
    la t5, trap_info
    sd zero, TI_COUNT(t5)
    li t0, 1 << 5
    csrw mie, t0
    csrr a0, time
    li t1, 20000            /* 2 ms at 10 MHz */
    add a0, a0, t1
    csrw stimecmp, a0
1:  wfi
    csrr a1, time
    bltu a1, a0, 1b         /* wfi may end early; it may not sleep forever */
    csrr a2, mip
    andi a2, a2, 1 << 5
    CHECK a2, 1 << 5
    la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 0
    li t0, -1
    csrw stimecmp, t0
    csrw mie, zero
    TEST 3                  /* timer interrupt delegated to S */
    li t0, 1 << 5
    csrw mideleg, t0
    li t0, 2                /* mcounteren.TM: S may use time and stimecmp */
    csrw mcounteren, t0
    ENTER_MODE 1, 1f
1:  li t0, 1 << 5
    csrw sie, t0
    csrsi sstatus, 2        /* SIE */
    csrr a0, time
    addi a0, a0, 500
    csrw stimecmp, a0
2:  la t5, strap_info
    ld t4, TI_COUNT(t5)
    beqz t4, 2b
    csrci sstatus, 2
    li t0, -1
    csrw stimecmp, t0
    BACK_TO_M 3f
3:  CHECK_STRAP 0x8000000000000005
    TEST 4                  /* supervisor software interrupt through sip */
    li t0, 2
    csrw mideleg, t0
    csrr t1, mideleg
    andi t1, t1, 0x222      /* QEMU has H: VS bits read as one */
    CHECK t1, 2
    la t5, strap_info
    sd zero, TI_COUNT(t5)
    ENTER_MODE 1, 1f
1:  li t0, 2
    csrw sie, t0
    csrr t1, sie
    CHECK t1, 2
    csrsi sstatus, 2
    csrsi sip, 2            /* taken right away */
    nop
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 1
    csrci sip, 2
    csrci sstatus, 2
    BACK_TO_M 2f
2:  CHECK_STRAP 0x8000000000000001
    TEST 5                  /* S-level interrupts are never taken in M-mode */
    csrsi mip, 2
    li t0, 2
    csrw mie, t0
    csrsi mstatus, 8
    nop
    nop
    la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 2             /* only the ecalls of tests 3 and 4 */
    csrci mstatus, 8
    csrci mip, 2
    csrw mie, zero
    TEST 6                  /* sie/sip only show delegated bits */
    csrw mideleg, zero
    li t0, 0x222
    csrw mie, t0
    csrr t1, sie
    CHECK t1, 0
    csrw mideleg, t0
    csrr t1, sie
    CHECK t1, 0x222
    csrw mie, zero
    csrw mideleg, zero
    TEST 7                  /* without STCE, M may write mip.STIP */
    li t0, STCE
    csrc menvcfg, t0
    csrsi mip, 0            /* no-op */
    li t0, 1 << 5
    csrs mip, t0
    csrr t1, mip
    and t1, t1, t0
    CHECK t1, 1 << 5
    csrc mip, t0
    csrw mie, zero

    TEST 8                  /* priority SEI > SSI > STI (not delegated: taken in M) */
    csrw mideleg, zero
    csrci mstatus, 8
    li t0, 0x22
    csrs mip, t0
    csrw mie, t0
    csrsi mstatus, 8        /* the handler clears mie: one interrupt at a time */
    nop
    csrci mstatus, 8
    CHECK_TRAP 0x8000000000000001
    csrci mip, 2
    li t0, 0x22
    csrw mie, t0
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    CHECK_TRAP 0x8000000000000005
    IF_QEMU 1f              /* QEMU 7.2 ranks SEI below SSI and STI */
    li t0, 0x222
    csrs mip, t0
    csrw mie, t0
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    CHECK_TRAP 0x8000000000000009
1:  li t0, 0x222
    csrc mip, t0
    csrw mie, zero

    TEST 9                  /* interrupts for M are taken in S and U whatever MIE says */
    li t0, (1 << 3) | (1 << 7)
    csrc mstatus, t0        /* MIE and MPIE off: still off after mret */
    csrsi mip, 2
    li t0, 2
    csrw mie, t0
    ENTER_MODE 1, 1f
1:  la t5, trap_info        /* taken before the first S instruction */
    ld s0, TI_CAUSE(t5)
    ld s1, TI_EPC(t5)
    ld s2, TI_STATUS(t5)
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    CHECK s0, 0x8000000000000001
    la t1, 1b
    bne s1, t1, fail
    srli s2, s2, 11         /* MPP = S */
    andi s2, s2, 3
    CHECK s2, 1
    li t0, 2                /* U-mode */
    csrw mie, t0
    ENTER_MODE 0, 1f
1:  la t5, trap_info
    ld s0, TI_CAUSE(t5)
    ld s2, TI_STATUS(t5)
    BACK_TO_M 2f
2:  CHECK_TRAP 8
    CHECK s0, 0x8000000000000001
    srli s2, s2, 11
    andi s2, s2, 3
    CHECK s2, 0
    csrci mip, 2
    csrw mie, zero

    TEST 10                 /* interrupts for S: taken in U whatever SIE says; in S only with SIE */
    li t0, 2
    csrw mideleg, t0
    csrci sstatus, 2
    la t5, strap_info
    sd zero, TI_COUNT(t5)
    csrsi mip, 2
    li t0, 2
    csrw mie, t0
    ENTER_MODE 0, 1f
1:  nop
    BACK_TO_M 2f
2:  CHECK_TRAP 8
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 1
    CHECK_STRAP 0x8000000000000001
    la t5, strap_info
    ld t4, TI_EPC(t5)
    la t3, 1b
    bne t4, t3, fail
    li t0, 2
    csrw mie, t0            /* the S handler cleared sie */
    ENTER_MODE 1, 1f
1:  nop                     /* S with SIE = 0: not taken */
    nop
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 1
    csrsi sstatus, 2
    nop                     /* taken now */
    csrci sstatus, 2
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 2
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    csrci mip, 2
    csrw mie, zero

    TEST 11                 /* an interrupt for M goes before one for S, whatever the numbers */
    csrci mstatus, 8        /* not in M-mode itself */
    li t0, 1 << 9           /* SEI delegated, STI not */
    csrw mideleg, t0
    li t0, (1 << 9) | (1 << 5)
    csrs mip, t0
    csrw mie, t0
    csrsi sstatus, 2        /* SIE: in S both can be taken; M's goes first */
    la t5, strap_info
    sd zero, TI_COUNT(t5)
    la t5, trap_info
    sd zero, TI_COUNT(t5)
    ENTER_MODE 1, 1f
1:  la t5, trap_info
    ld s0, TI_CAUSE(t5)
    csrci sstatus, 2
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    CHECK s0, 0x8000000000000005
    la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 2             /* the STI, then the ecall */
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 0             /* the M handler turned everything off */
    li t0, (1 << 9) | (1 << 5)
    csrc mip, t0
    csrw mie, zero
    csrw mideleg, zero

    TEST 12                 /* vectored stvec: interrupts at base + 4 * cause */
    li t0, 2
    csrw mideleg, t0
    li t0, 1 << 3           /* ebreak goes to S as well */
    csrw medeleg, t0
    li t0, 2
    csrw mie, t0
    li s11, 0
    ENTER_MODE 1, 1f
1:  la t0, svectors
    ori t0, t0, 1
    csrw stvec, t0
    csrsi sstatus, 2
    csrsi sip, 2
    nop
    CHECK s11, 1
    .word 0x00100073        /* ebreak (4 bytes): an exception, at the base */
    CHECK s11, 100
    csrci sstatus, 2
    la t0, strap_entry
    csrw stvec, t0
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    csrw medeleg, zero
    csrw mideleg, zero
    csrw mie, zero

    TEST 13                 /* wfi wakes for a pending, enabled interrupt whatever MIE/SIE say */
    csrci mstatus, 8
    la t5, trap_info
    sd zero, TI_COUNT(t5)
    la t5, strap_info
    sd zero, TI_COUNT(t5)
    csrsi mip, 2
    li t0, 2
    csrw mie, t0
    wfi                     /* pending already: falls through, no trap */
    nop
    la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 0
    li t0, 2                /* delegated, in S with SIE = 0 */
    csrw mideleg, t0
    ENTER_MODE 1, 1f
1:  csrci sstatus, 2
    wfi
    nop
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    mv s0, t4
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    CHECK s0, 0
    csrci mip, 2
    csrw mie, zero
    csrw mideleg, zero
    j pass

    .align 6
    .option push
    .option norvc           /* each vector entry is one 4-byte jump */
svectors:
    j svec_exc
    j svec_ssi
    .rept 14
    j fail
    .endr
    .option pop
svec_exc:                   /* the delegated ebreak: 4 bytes */
    csrr s11, sepc
    addi s11, s11, 4
    csrw sepc, s11
    li s11, 100
    sret
svec_ssi:
    csrci sip, 2
    li s11, 1
    sret
