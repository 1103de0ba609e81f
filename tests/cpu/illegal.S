/* Illegal and reserved encodings raise illegal instruction with mtval =
 * the instruction bits (16 of them for a compressed one): the all-zero
 * halfword, reserved compressed forms (c.addi4spn/c.addi16sp/c.lui with a
 * zero immediate, c.lwsp/c.ldsp/c.addiw with rd = x0, c.jr x0, the
 * reserved CA funct2), RV32-only or reserved 32-bit forms (slliw/srliw
 * with shamt[5], lr with rs2 != 0, unknown load/store widths, jalr with
 * funct3 != 0), FP operations with a reserved rounding mode or a dynamic
 * one while frm is invalid, and FP instructions of every kind while
 * mstatus.FS is off; TW, TSR and TVM make wfi, sret, sfence.vma and satp
 * illegal in S. Hints and fence variants (c.nop with an immediate, c.li
 * x0, c.mv x0, fence.tso, pause, fence with reserved fields) are legal. */
#include "harness.h"

/* The 16-bit word must raise illegal instruction with mtval = bits. */
.macro ILLEGAL16 bits
    .half \bits
    li t3, \bits
    CHECK_TRAP_TVAL 2, t3
.endm

.macro ILLEGAL32 bits
    .word \bits
    li t3, \bits
    CHECK_TRAP_TVAL 2, t3
.endm

/* insn (or .half/.word) must run without a trap. */
.macro LEGAL insn:vararg
    \insn
    CHECK_TRAP -1
.endm

    .text
    .globl test_main
test_main:
    TEST 1                  /* reserved compressed encodings */
    ILLEGAL16 0x0000        /* all zero */
    ILLEGAL16 0x0004        /* c.addi4spn, imm 0 */
    ILLEGAL16 0x6081        /* c.lui x1, 0 */
    ILLEGAL16 0x6001        /* c.lui x0, 0 */
    ILLEGAL16 0x6101        /* c.addi16sp 0 */
    ILLEGAL16 0x4002        /* c.lwsp x0 */
    ILLEGAL16 0x6002        /* c.ldsp x0 */
    ILLEGAL16 0x8002        /* c.jr x0 */
    ILLEGAL16 0x2005        /* c.addiw x0 */
    ILLEGAL16 0x9c41        /* CA, funct2 = 10 with bit 12 set */
    ILLEGAL16 0x9c61        /* CA, funct2 = 11 with bit 12 set */
    TEST 2                  /* compressed hints are legal */
    li a0, 5
    LEGAL .half 0x0005      /* c.nop 1 */
    LEGAL .half 0x0081      /* c.addi x1, 0 */
    LEGAL .half 0x4005      /* c.li x0, 1 */
    LEGAL .half 0x6005      /* c.lui x0, 1 */
    LEGAL .half 0x800a      /* c.mv x0, x2 */
    LEGAL .half 0x900a      /* c.add x0, x2 */
    LEGAL .half 0x0006      /* c.slli x0, 1 */
    CHECK a0, 5
    TEST 3                  /* reserved 32-bit encodings */
    ILLEGAL32 0x0200909b    /* slliw x1, x1 with shamt[5] */
    ILLEGAL32 0x0200d09b    /* srliw x1, x1 with shamt[5] */
    ILLEGAL32 0x4200d09b    /* sraiw x1, x1 with shamt[5] */
    ILLEGAL32 0x1015a52f    /* lr.w a0, (a1) with rs2 = 1 */
    ILLEGAL32 0x0005f503    /* load, funct3 7 */
    ILLEGAL32 0x00a5c023    /* store, funct3 4 */
    ILLEGAL32 0x000510e7    /* jalr with funct3 1 */
    ILLEGAL32 0x00200073    /* uret */
    ILLEGAL32 0x0000007f    /* a longer-instruction prefix */
    TEST 4                  /* fence variants are legal */
    LEGAL fence.tso
    LEGAL .word 0x0100000f  /* pause */
    LEGAL .word 0xf000000f  /* fence with reserved fm and no sets */
    LEGAL fence.i
    TEST 5                  /* rounding modes */
    li t0, 1 << 13
    csrs mstatus, t0
    fcvt.d.w f1, zero
    ILLEGAL32 0x022081d3 | (5 << 12)    /* fadd.d f3, f1, f2, rm 5 */
    ILLEGAL32 0x022081d3 | (6 << 12)    /* rm 6 */
    ILLEGAL32 0x002081d3 | (5 << 12)    /* fadd.s f3, f1, f2, rm 5 */
    ILLEGAL32 0x5a0081d3 | (6 << 12)    /* fsqrt.d f3, f1, rm 6 */
    LEGAL fadd.d f3, f1, f2, rne
    csrwi frm, 5            /* an invalid frm: dynamic-rm operations fail */
    LEGAL csrr a0, frm
    ILLEGAL32 0x022071d3    /* fadd.d f3, f1, f2, dyn */
    ILLEGAL32 0xc20070d3    /* fcvt.w.d ra, f0, dyn */
    LEGAL fadd.d f3, f1, f2, rtz
    LEGAL fsgnj.d f3, f1, f2    /* no rounding: fine */
    LEGAL fmv.x.d a0, f1
    LEGAL feq.d a0, f1, f2
    csrwi frm, 7
    ILLEGAL32 0x022071d3
    csrwi frm, 0
    LEGAL fadd.d f3, f1, f2
    TEST 6                  /* FS off: every FP instruction and CSR is illegal */
    li t0, 3 << 13
    csrc mstatus, t0
    la s0, fpbuf
    li s1, 0x123
    sd s1, 0(s0)
    ILLEGAL32 0x00043087    /* fld f1, 0(s0) */
    ILLEGAL32 0x00143027    /* fsd f1, 0(s0) */
    ld t1, 0(s0)
    CHECK t1, 0x123         /* nothing stored */
    ILLEGAL16 0x2004        /* c.fld f1, 0(s0) */
    ILLEGAL16 0xa004        /* c.fsd f1, 0(s0) */
    ILLEGAL16 0x2082        /* c.fldsp f1, 0(sp) */
    ILLEGAL32 0x022081d3    /* fadd.d */
    ILLEGAL32 0xe20085d3    /* fmv.x.d a1, f1 */
    ILLEGAL32 0xf20580d3    /* fmv.d.x f1, a1 */
    ILLEGAL32 0x22108153    /* fsgnj.d f2, f1, f1 */
    ILLEGAL32 0xa2209553    /* flt.d a0, f1, f2 */
    ILLEGAL32 0xe20095d3    /* fclass.d a1, f1 */
    ILLEGAL32 0x0220f0c3    /* fmadd.s f1, f1, f2, f0 */
    ILLEGAL32 0x00302573    /* csrr a0, fcsr */
    csrr t1, mstatus
    srli t1, t1, 13
    andi t1, t1, 3
    CHECK t1, 0             /* and FS stayed off */
    li t0, 1 << 13
    csrs mstatus, t0

    TEST 7                  /* TW, TSR, TVM trap wfi, sret, sfence.vma and satp in S */
    li t0, (1 << 20) | (1 << 21) | (1 << 22)
    csrs mstatus, t0
    ENTER_MODE 1, 1f
1:  ILLEGAL32 0x10500073    /* wfi */
    ILLEGAL32 0x10200073    /* sret */
    ILLEGAL32 0x12000073    /* sfence.vma */
    ILLEGAL32 0x18002573    /* csrr a0, satp */
    ILLEGAL32 0x18059073    /* csrw satp, a1 */
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    li t0, (1 << 20) | (1 << 21) | (1 << 22)
    csrc mstatus, t0
    ENTER_MODE 1, 1f
1:  LEGAL sfence.vma
    LEGAL csrr a0, satp
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    j pass

    .data
    .align 3
fpbuf: .dword 0
