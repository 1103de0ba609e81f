/* RV64I and M: arithmetic, shifts, comparisons, branches, jumps, loads and
 * stores of every width with sign/zero extension, and the M extension's
 * corner cases (division by zero, signed overflow, high products). */
#include "harness.h"
    .text
    .globl test_main
test_main:
    TEST 1
    li a0, 0x7fffffffffffffff
    addi a1, a0, 1
    CHECK a1, 0x8000000000000000
    TEST 2
    li a0, 5
    li a1, -7
    add a2, a0, a1
    CHECK a2, -2
    sub a2, a0, a1
    CHECK a2, 12
    TEST 3
    li a0, 0x80000000
    addiw a1, a0, 0
    CHECK a1, 0xffffffff80000000
    li a0, 0x7fffffff
    addw a1, a0, a0
    CHECK a1, -2
    subw a1, zero, a0
    CHECK a1, 0xffffffff80000001
    TEST 4
    li a0, 0x8000000000000001
    slli a1, a0, 1
    CHECK a1, 2
    srli a1, a0, 63
    CHECK a1, 1
    srai a1, a0, 62
    CHECK a1, -2
    li a2, 65
    sll a1, a0, a2      /* shift amount uses 6 bits */
    CHECK a1, 2
    sra a1, a0, a2
    CHECK a1, 0xc000000000000000
    srl a1, a0, a2
    CHECK a1, 0x4000000000000000
    TEST 5
    li a0, 0x80000001
    slliw a1, a0, 1
    CHECK a1, 2
    srliw a1, a0, 1
    CHECK a1, 0x40000000
    sraiw a1, a0, 1
    CHECK a1, 0xffffffffc0000000
    li a2, 33
    sllw a1, a0, a2
    CHECK a1, 2
    srlw a1, a0, a2
    CHECK a1, 0x40000000
    sraw a1, a0, a2
    CHECK a1, 0xffffffffc0000000
    TEST 6
    li a0, -1
    li a1, 1
    slt a2, a0, a1
    CHECK a2, 1
    sltu a2, a0, a1
    CHECK a2, 0
    slti a2, a0, 0
    CHECK a2, 1
    sltiu a2, a1, -1    /* immediate is sign-extended, then unsigned */
    CHECK a2, 1
    TEST 7
    li a0, 0xff00ff00ff00ff00
    xori a1, a0, -1
    CHECK a1, 0x00ff00ff00ff00ff
    ori a1, a0, 0xf
    CHECK a1, 0xff00ff00ff00ff0f
    andi a1, a0, -256
    CHECK a1, 0xff00ff00ff00ff00
    li a2, 0x0ff00ff00ff00ff0
    and a1, a0, a2
    CHECK a1, 0x0f000f000f000f00
    or a1, a0, a2
    CHECK a1, 0xfff0fff0fff0fff0
    xor a1, a0, a2
    CHECK a1, 0xf0f0f0f0f0f0f0f0
    TEST 8
    lui a0, 0x80000
    CHECK a0, 0xffffffff80000000
10: auipc a0, 0
    la a1, 10b
    sub a0, a0, a1
    CHECK a0, 0
11: auipc a0, 1
    la a1, 11b
    sub a0, a0, a1
    CHECK a0, 4096
    TEST 9                      /* branches, taken and not */
    li a0, -1
    li a1, 1
    blt a0, a1, 1f
    j fail
1:  bltu a0, a1, fail
    bge a1, a0, 1f
    j fail
1:  bgeu a1, a0, fail
    beq a0, a0, 1f
    j fail
1:  bne a0, a0, fail
    TEST 10                     /* jal / jalr link values, jalr clears bit 0 */
    jal ra, 1f
2:  j fail
1:  la a0, 2b
    bne ra, a0, fail
    la a0, 3f
    addi a0, a0, 1
    jalr a1, 0(a0)
    j fail
3:  la a0, 3b
    addi a0, a0, -4
    bne a1, a0, fail
    TEST 11                     /* loads and stores, every width */
    la a0, buf
    li a1, 0x8182838485868788
    sd a1, 0(a0)
    lb a2, 0(a0)
    CHECK a2, 0xffffffffffffff88
    lbu a2, 0(a0)
    CHECK a2, 0x88
    lh a2, 0(a0)
    CHECK a2, 0xffffffffffff8788
    lhu a2, 0(a0)
    CHECK a2, 0x8788
    lw a2, 4(a0)
    CHECK a2, 0xffffffff81828384
    lwu a2, 4(a0)
    CHECK a2, 0x81828384
    ld a2, 0(a0)
    CHECK a2, 0x8182838485868788
    sb zero, 1(a0)
    sh zero, 4(a0)
    ld a2, 0(a0)
    CHECK a2, 0x8182000085860088
    sw a1, 8(a0)
    ld a2, 8(a0)
    CHECK a2, 0x85868788
    li a3, -8
    add a3, a3, a0
    ld a2, 16(a3)               /* negative base + offset */
    CHECK a2, 0x85868788
    TEST 12                     /* x0 ignores writes */
    li zero, 5
    addi zero, zero, 7
    CHECK zero, 0
    TEST 20                     /* M */
    li a0, -3
    li a1, 7
    mul a2, a0, a1
    CHECK a2, -21
    li a0, 0xffffffffffffffff
    li a1, 0xffffffffffffffff
    mulhu a2, a0, a1
    CHECK a2, 0xfffffffffffffffe
    mulh a2, a0, a1
    CHECK a2, 0
    mulhsu a2, a0, a1
    CHECK a2, 0xffffffffffffffff
    li a0, 0x8000000000000000
    li a1, 2
    mulh a2, a0, a1
    CHECK a2, -1
    li a0, 0x100000000
    mulw a2, a0, a0
    CHECK a2, 0
    li a0, 0x7fffffff
    li a1, 2
    mulw a2, a0, a1
    CHECK a2, -2
    TEST 21                     /* division */
    li a0, -7
    li a1, 2
    div a2, a0, a1
    CHECK a2, -3
    rem a2, a0, a1
    CHECK a2, -1
    divu a2, a0, a1
    CHECK a2, 0x7ffffffffffffffc
    remu a2, a0, a1
    CHECK a2, 1
    TEST 22                     /* by zero */
    li a0, 42
    div a2, a0, zero
    CHECK a2, -1
    divu a2, a0, zero
    CHECK a2, -1
    rem a2, a0, zero
    CHECK a2, 42
    remu a2, a0, zero
    CHECK a2, 42
    divw a2, a0, zero
    CHECK a2, -1
    divuw a2, a0, zero
    CHECK a2, -1
    remw a2, a0, zero
    CHECK a2, 42
    li a0, 0x80000000ffffffff
    remuw a2, a0, zero
    CHECK a2, -1
    TEST 23                     /* overflow */
    li a0, 0x8000000000000000
    li a1, -1
    div a2, a0, a1
    CHECK a2, 0x8000000000000000
    rem a2, a0, a1
    CHECK a2, 0
    li a0, 0xffffffff80000000
    divw a2, a0, a1
    CHECK a2, 0xffffffff80000000
    remw a2, a0, a1
    CHECK a2, 0
    li a0, 0x1fffffff9          /* word ops look at the low 32 bits */
    li a1, 2
    divw a2, a0, a1
    CHECK a2, -3
    divuw a2, a0, a1
    CHECK a2, 0x7ffffffc
    remw a2, a0, a1
    CHECK a2, -1
    remuw a2, a0, a1
    CHECK a2, 1
    j pass

    .data
    .align 3
buf: .space 64
