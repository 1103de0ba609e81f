/* Zba, Zbb and Zbs. */
#include "harness.h"
    .text
    .globl test_main
test_main:
    TEST 1                  /* Zba */
    li a0, 0xffffffff00000003
    li a1, 100
    sh1add a2, a0, a1
    CHECK a2, 0xfffffffe0000006a
    sh2add a2, a0, a1
    CHECK a2, 0xfffffffc00000070
    sh3add a2, a0, a1
    CHECK a2, 0xfffffff80000007c
    add.uw a2, a0, a1
    CHECK a2, 103
    sh1add.uw a2, a0, a1
    CHECK a2, 106
    sh2add.uw a2, a0, a1
    CHECK a2, 112
    sh3add.uw a2, a0, a1
    CHECK a2, 124
    li a0, 0x80000001
    slli.uw a2, a0, 4
    CHECK a2, 0x800000010
    zext.w a2, a0
    CHECK a2, 0x80000001
    TEST 2                  /* Zbb logic, counts */
    li a0, 0xf0f0
    li a1, 0xff00
    andn a2, a0, a1
    CHECK a2, 0xf0
    orn a2, a0, a1
    CHECK a2, 0xfffffffffffff0ff
    xnor a2, a0, a1
    CHECK a2, 0xfffffffffffff00f
    clz a2, a1
    CHECK a2, 48
    clz a2, zero
    CHECK a2, 64
    ctz a2, a1
    CHECK a2, 8
    ctz a2, zero
    CHECK a2, 64
    cpop a2, a0
    CHECK a2, 8
    li a0, 0xffffffff00010000
    clzw a2, a0
    CHECK a2, 15
    ctzw a2, a0
    CHECK a2, 16
    cpopw a2, a0
    CHECK a2, 1
    clzw a2, zero
    CHECK a2, 32
    ctzw a2, zero
    CHECK a2, 32
    TEST 3                  /* min/max, extension */
    li a0, -1
    li a1, 1
    max a2, a0, a1
    CHECK a2, 1
    maxu a2, a0, a1
    CHECK a2, -1
    min a2, a0, a1
    CHECK a2, -1
    minu a2, a0, a1
    CHECK a2, 1
    li a0, 0x1234ff80
    sext.b a2, a0
    CHECK a2, -128
    sext.h a2, a0
    CHECK a2, 0xffffffffffffff80
    zext.h a2, a0
    CHECK a2, 0xff80
    TEST 4                  /* rotates, orc.b, rev8 */
    li a0, 0x8000000000000001
    li a1, 4
    rol a2, a0, a1
    CHECK a2, 0x18
    ror a2, a0, a1
    CHECK a2, 0x1800000000000000
    rori a2, a0, 1
    CHECK a2, 0xc000000000000000
    li a1, 64
    rol a2, a0, a1          /* amount mod 64 */
    CHECK a2, 0x8000000000000001
    li a0, 0x80000001
    li a1, 1
    rolw a2, a0, a1
    CHECK a2, 3
    rorw a2, a0, a1
    CHECK a2, 0xffffffffc0000000
    roriw a2, a0, 4
    CHECK a2, 0x18000000
    li a0, 0x0100ff0000120000
    orc.b a2, a0
    CHECK a2, 0xff00ff0000ff0000
    li a0, 0x0102030405060708
    rev8 a2, a0
    CHECK a2, 0x0807060504030201
    TEST 5                  /* Zbs */
    li a0, 0x10
    li a1, 68               /* bit index mod 64 = 4 */
    bclr a2, a0, a1
    CHECK a2, 0
    bext a2, a0, a1
    CHECK a2, 1
    binv a2, a0, a1
    CHECK a2, 0
    bset a2, zero, a1
    CHECK a2, 0x10
    bseti a2, zero, 63
    CHECK a2, 0x8000000000000000
    bclri a2, a2, 63
    CHECK a2, 0
    binvi a2, zero, 40
    CHECK a2, 0x10000000000
    bexti a2, a2, 40
    CHECK a2, 1
    j pass
