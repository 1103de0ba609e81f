/* Zicboz and Zicbom: cbo.zero zeroes the 64-byte block holding the
 * address; cache-block operations in S-mode need menvcfg enables, else
 * they are illegal. (QEMU 7.2 lacks Zicboz, so this runs on minnow only.) */
#include "harness.h"
    .text
    .globl test_main
test_main:
    la s0, buf
TEST 6                  /* cbo.zero zeroes the 64-byte block holding the address */
    addi a2, s0, 128
    li a0, -1
    sd a0, 0(a2)
    sd a0, 56(a2)
    sd a0, 64(a2)
    addi a3, a2, 20
    cbo.zero (a3)
    ld a1, 0(a2)
    CHECK a1, 0
    ld a1, 56(a2)
    CHECK a1, 0
    ld a1, 64(a2)
    CHECK a1, -1
    TEST 7                  /* from S without menvcfg.CBZE/CBCFE: illegal */
    ENTER_MODE 1, 1f
1:  cbo.zero (a3)
    cbo.clean (a3)
    BACK_TO_M 2f
2:  la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 3
    TEST 8                  /* enabled: fine */
    li t0, (1 << 7) | (1 << 6)
    csrs menvcfg, t0
    ENTER_MODE 1, 1f
1:  cbo.zero (a3)
    cbo.clean (a3)
    cbo.flush (a3)
    BACK_TO_M 2f
2:  la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 4
    j pass

    .data
    .align 6
buf: .space 256
