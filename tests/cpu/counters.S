/* minstret: mcountinhibit.IR stops it, and writing it (even backwards)
 * changes only what the guest reads, never how long the monitor lets the
 * program run (the guest's minstret is kept apart from the monitor's own
 * instruction count). */
#include "harness.h"
    .text
    .globl test_main
test_main:
    TEST 1                  /* IR stops minstret; writes still land */
    csrwi mcountinhibit, 4
    /* QEMU 7.2 derives minstret from host time and guarantees neither
     * that it stands still under IR nor what a write leaves: on QEMU only
     * the counting (below) is checked. */
    IF_QEMU 1f
    csrr t1, minstret
    nop
    csrr t2, minstret
    bne t1, t2, fail
    li t0, 500
    csrw minstret, t0
    csrr t1, minstret
    CHECK t1, 500
1:  csrwi mcountinhibit, 0
    csrr t1, minstret
    nop
    csrr t2, minstret
    beq t1, t2, fail
    TEST 2                  /* minstret written backwards: the run goes on */
    csrw minstret, zero
    li t0, 2000000
1:  addi t0, t0, -1
    bnez t0, 1b
    csrr t1, minstret
    IF_QEMU 1f              /* QEMU 7.2: minstret follows host time, not the loop */
    li t2, 4000000
    bltu t1, t2, fail
    j pass
1:  beqz t1, fail           /* there it only moved on from zero */
    j pass
