/* F and D: mstatus.FS gating and dirty tracking, NaN-boxing, fflags and
 * fcsr, static and dynamic rounding modes (and the illegal ones), sign
 * injection, conversions, comparisons, fclass, loads and stores. */
#include "harness.h"
#define FS_MASK (3 << 13)
    .text
    .globl test_main
test_main:
    TEST 1                  /* FS = Off: every FP instruction and CSR is illegal */
    li t0, FS_MASK
    csrc mstatus, t0
    fadd.s f0, f0, f0
    CHECK_TRAP 2
    csrr a0, fcsr
    CHECK_TRAP 2
    la a0, buf
    fld f1, 0(a0)
    CHECK_TRAP 2
    TEST 2                  /* FS = Initial; a write makes it Dirty and sets SD */
    li t0, 1 << 13
    csrs mstatus, t0
    li a0, 0x3f800000
    fmv.w.x f1, a0
    csrr a1, mstatus
    srli a2, a1, 13
    andi a2, a2, 3
    CHECK a2, 3
    srli a2, a1, 63
    CHECK a2, 1
    TEST 3                  /* NaN-boxing */
    fmv.x.d a1, f1
    CHECK a1, 0xffffffff3f800000
    li a0, 0x0000000040400000   /* not boxed: reads as the canonical NaN */
    fmv.d.x f2, a0
    fadd.s f3, f2, f1
    fmv.x.d a1, f3
    CHECK a1, 0xffffffff7fc00000
    fmv.x.w a1, f2          /* fmv.x.w takes the low bits as they are */
    CHECK a1, 0x40400000
    fsgnj.s f4, f1, f1
    fmv.x.d a1, f4
    CHECK a1, 0xffffffff3f800000
    TEST 4                  /* flags */
    csrw fflags, zero
    fmv.w.x f5, zero
    fdiv.s f6, f1, f5       /* 1/0 */
    csrr a1, fflags
    CHECK a1, 8             /* DZ */
    fmv.x.w a1, f6
    CHECK a1, 0x7f800000
    csrw fflags, zero
    li a0, 0x40400000
    fmv.w.x f7, a0          /* 3.0 */
    fdiv.s f8, f1, f7
    csrr a1, fflags
    CHECK a1, 1             /* NX */
    fsqrt.s f8, f5
    li a0, 0xbf800000
    fmv.w.x f9, a0          /* -1.0 */
    fsqrt.s f8, f9
    csrr a1, fflags
    CHECK a1, 0x11          /* NV | NX */
    fmv.x.w a1, f8
    CHECK a1, 0x7fc00000
    csrr a1, fcsr
    CHECK a1, 0x11
    TEST 5                  /* rounding modes */
    li a0, 0x40200000       /* 2.5 */
    fmv.w.x f10, a0
    fcvt.w.s a1, f10, rtz
    CHECK a1, 2
    fcvt.w.s a1, f10, rne
    CHECK a1, 2
    fcvt.w.s a1, f10, rup
    CHECK a1, 3
    fcvt.w.s a1, f10, rmm
    CHECK a1, 3
    fcvt.w.s a1, f10, rdn
    CHECK a1, 2
    fsrmi 3                 /* frm = RUP, then dynamic */
    fcvt.w.s a1, f10
    CHECK a1, 3
    csrr a1, fcsr
    srli a1, a1, 5
    CHECK a1, 3
    TEST 6                  /* an invalid frm makes dynamic-rm instructions illegal */
    fsrmi 5
    fadd.s f0, f1, f1
    CHECK_TRAP 2
    fadd.s f0, f1, f1, rne  /* static rm still works */
    fsrmi 0
    .word 0x02b55553        /* fadd.d fa0, fa0, fa1 with rm 5: illegal */
    CHECK_TRAP 2
    TEST 7                  /* double: sign injection, moves, memory */
    li a0, 0x400921fb54442d18
    fmv.d.x f11, a0
    fneg.d f12, f11
    fmv.x.d a1, f12
    CHECK a1, 0xc00921fb54442d18
    fabs.d f13, f12
    fmv.x.d a1, f13
    CHECK a1, 0x400921fb54442d18
    fsgnjx.d f13, f12, f12
    fmv.x.d a1, f13
    CHECK a1, 0x400921fb54442d18
    la a2, buf
    fsd f12, 8(a2)
    ld a1, 8(a2)
    CHECK a1, 0xc00921fb54442d18
    fsw f1, 16(a2)
    lwu a1, 16(a2)
    CHECK a1, 0x3f800000
    flw f14, 16(a2)
    fmv.x.d a1, f14
    CHECK a1, 0xffffffff3f800000
    TEST 8                  /* conversions */
    fcvt.d.s f15, f1
    fmv.x.d a1, f15
    CHECK a1, 0x3ff0000000000000
    li a0, -7
    fcvt.d.l f16, a0
    fcvt.l.d a1, f16
    CHECK a1, -7
    fcvt.s.w f17, a0
    fmv.x.w a1, f17
    CHECK a1, 0xffffffffc0e00000
    fcvt.wu.s a1, f17       /* negative to unsigned: 0, invalid */
    CHECK a1, 0
    fmv.d.x f18, zero
    fcvt.s.d f19, f11
    fmv.x.d a1, f19
    CHECK a1, 0xffffffff40490fdb
    TEST 9                  /* comparisons and NaNs */
    csrw fflags, zero
    li a0, 0x7fa00000       /* signalling NaN */
    fmv.w.x f20, a0
    feq.s a1, f20, f1
    CHECK a1, 0
    csrr a1, fflags
    CHECK a1, 0x10          /* feq is quiet only for quiet NaNs */
    csrw fflags, zero
    li a0, 0x7fc00000
    fmv.w.x f21, a0
    feq.s a1, f21, f1
    csrr a1, fflags
    CHECK a1, 0
    flt.s a1, f21, f1
    csrr a1, fflags
    CHECK a1, 0x10
    fle.d a1, f16, f15
    CHECK a1, 1
    flt.d a1, f15, f16
    CHECK a1, 0
    fmin.s f22, f21, f1     /* one NaN: the other operand */
    fmv.x.w a1, f22
    CHECK a1, 0x3f800000
    TEST 10                 /* fclass */
    fclass.s a1, f20
    CHECK a1, 0x100         /* signalling NaN */
    fclass.s a1, f2         /* unboxed: canonical quiet NaN */
    CHECK a1, 0x200
    fclass.d a1, f12
    CHECK a1, 0x2           /* negative normal */
    fclass.s a1, f6
    CHECK a1, 0x80          /* +inf */
    TEST 11                 /* fma */
    li a0, 0x4000000000000000
    fmv.d.x f23, a0         /* 2.0 */
    fmadd.d f24, f23, f23, f15  /* 2*2+1 */
    fmv.x.d a1, f24
    CHECK a1, 0x4014000000000000
    fnmsub.d f24, f23, f23, f15 /* -(2*2)+1 */
    fmv.x.d a1, f24
    CHECK a1, 0xc008000000000000
    TEST 12                 /* underflow with NX already set (the JIT's inline FP must see it) */
    csrwi fflags, 1
    li a0, 0x3fefffffffffffff
    fmv.d.x f25, a0         /* 1 - 2^-53 */
    li a0, 0x0010000000000000
    fmv.d.x f26, a0         /* the smallest normal */
    fmul.d f27, f25, f26    /* tiny, rounds up to the smallest normal */
    fmv.x.d a1, f27
    CHECK a1, 0x0010000000000000
    csrr a1, fflags
    CHECK a1, 3             /* UF | NX */
    csrwi fflags, 1
    li a0, 0x3f7fffff
    fmv.w.x f25, a0         /* 1 - 2^-24 */
    li a0, 0x00800000
    fmv.w.x f26, a0
    fmul.s f27, f25, f26
    fmv.x.w a1, f27
    CHECK a1, 0x00800000
    csrr a1, fflags
    CHECK a1, 3
    csrwi fflags, 1
    li a0, 0x7fefffffffffffff
    fmv.d.x f25, a0         /* the largest finite */
    fadd.d f27, f25, f25    /* overflows */
    csrr a1, fflags
    CHECK a1, 5             /* OF | NX */
    j pass

    .data
    .align 3
buf: .space 64
