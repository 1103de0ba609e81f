/* Interrupts: Sstc (stimecmp) timer interrupts delegated to S, wfi woken
 * by a timer with interrupts globally off, supervisor software interrupts
 * through sip, priority of M over S, and mip/sip/sie masking. */
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
    j pass
