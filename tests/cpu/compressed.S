/* The C extension: every RV64C instruction, checked against the result of
 * its 32-bit expansion. Written with explicit c. mnemonics so the
 * assembler cannot pick the 32-bit forms. */
#include "harness.h"
    .text
    .globl test_main
test_main:
    TEST 1
    c.li a0, -32
    CHECK a0, -32
    c.li a1, 31
    c.addi a1, -1
    CHECK a1, 30
    c.lui a2, 0xfffe0       /* nzimm[17:12] = -32 */
    CHECK a2, 0xfffffffffffe0000
    c.lui a2, 1
    CHECK a2, 0x1000
    TEST 2
    li a0, 0x7fffffff
    c.addiw a0, 1
    CHECK a0, 0xffffffff80000000
    li a0, 5
    li a1, 7
    c.addw a0, a1
    CHECK a0, 12
    c.subw a0, a1
    CHECK a0, 5
    c.sub a0, a1
    CHECK a0, -2
    TEST 3
    mv s0, sp
    c.addi16sp sp, -64
    addi a0, s0, -64
    bne sp, a0, fail
    c.addi4spn a0, sp, 16
    addi a1, sp, 16
    bne a0, a1, fail
    c.addi16sp sp, 64
    bne sp, s0, fail
    TEST 4
    li a0, 0xf0
    li a1, 0x3c
    c.and a0, a1
    CHECK a0, 0x30
    c.or a0, a1
    CHECK a0, 0x3c
    c.xor a0, a1
    CHECK a0, 0
    li a0, -1
    c.andi a0, 0x15
    CHECK a0, 0x15
    li a0, -16
    c.srai a0, 2
    CHECK a0, -4
    c.srli a0, 60
    CHECK a0, 0xf
    c.slli a0, 60
    CHECK a0, 0xf000000000000000
    TEST 5
    li a1, 123
    c.mv a0, a1
    CHECK a0, 123
    c.add a0, a1
    CHECK a0, 246
    TEST 6                  /* loads and stores, sp-relative and register */
    la s0, buf
    li a0, 0x1122334455667788
    c.sd a0, 8(s0)
    c.ld a1, 8(s0)
    CHECK a1, 0x1122334455667788
    c.lw a1, 12(s0)
    CHECK a1, 0x11223344
    li a0, -5
    c.sw a0, 0(s0)
    c.lw a1, 0(s0)
    CHECK a1, -5
    mv s1, sp
    mv sp, s0
    li a0, 77
    c.sdsp a0, 16(sp)
    c.ldsp a1, 16(sp)
    CHECK a1, 77
    c.swsp a0, 24(sp)
    c.lwsp a2, 24(sp)
    CHECK a2, 77
    mv sp, s1
    TEST 7                  /* c.fld / c.fsd / c.fldsp / c.fsdsp */
    li a0, 1 << 13
    csrs mstatus, a0        /* FS = initial */
    li a0, 0x400921fb54442d18
    sd a0, 32(s0)
    c.fld fa0, 32(s0)
    c.fsd fa0, 40(s0)
    ld a1, 40(s0)
    CHECK a1, 0x400921fb54442d18
    mv s1, sp
    mv sp, s0
    c.fldsp fa1, 40(sp)
    c.fsdsp fa1, 48(sp)
    mv sp, s1
    ld a1, 48(s0)
    CHECK a1, 0x400921fb54442d18
    TEST 8                  /* jumps and branches */
    li a0, 0
    c.beqz a0, 1f
    j fail
1:  c.bnez a0, fail
    li a0, 1
    c.bnez a0, 1f
    j fail
1:  c.j 1f
    j fail
1:  la a0, 2f
    c.jr a0
    j fail
2:  la a0, 3f
    c.jalr a0
4:  j 5f
3:  la a1, 4b
    bne ra, a1, fail
    c.jr ra
5:  TEST 9                  /* c.ebreak traps with mcause 3 */
    c.ebreak
    CHECK_TRAP 3
    TEST 10                 /* the all-zero halfword is illegal, mtval 0 */
    .hword 0
    CHECK_TRAP 2
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    CHECK t4, 0
    TEST 11                 /* c.nop */
    c.nop
    j pass

    .data
    .align 3
buf: .space 64
