/* FP operations inline (see jit_fp.h).
 *
 * The host's SSE arithmetic (MXCSR at its default: round to nearest even,
 * exceptions masked, no FTZ/DAZ, which nothing in minnow changes; see
 * fpu.c) is IEEE 754 exact, as RISC-V's is, so on ordinary operands
 * addsd, subsd, mulsd, divsd, sqrtsd, the ss forms and (with FMA3) the
 * fused multiply-adds give the RISC-V result bits. What they do not give
 * cheaply is the flags, so the inline path is taken only when the flags
 * cannot change:
 *   - fflags.NX is already set (it is sticky: after a program's first
 *     inexact result it stays set until software clears it), so whether
 *     this result is inexact does not matter;
 *   - the result's exponent is neither the largest (infinity, NaN: the
 *     only results of an overflow in RNE, of an invalid operation or of
 *     division by zero) nor one of the two smallest (zero, subnormal, or
 *     the smallest normal, the only results a tiny value can round to,
 *     so no underflow);
 * and only in RNE (static, or dynamic with frm = RNE), with mstatus.FS on
 * and, for binary32, NaN-boxed operands. Otherwise it jumps to jit_fp
 * before anything was written. The sign injections are bit operations,
 * inline whenever FS is on (and, for binary32, the operands are boxed).
 * Every case the inline path declines goes to the exact helper, so the
 * result never depends on which path ran. */
#include "cpu/jit_fp.h"

#include <stdint.h>

#include "cpu/csr.h"
#include "cpu/fpu.h"
#include "cpu/jit_chain.h"

#if defined(__x86_64__)

#define FOFF(i) ((int32_t)(offsetof(struct hart, f) + 8u * (i)))
#define MSTATUS_OFF ((int32_t)offsetof(struct hart, mstatus))
#define FFLAGS_OFF ((int32_t)offsetof(struct hart, fflags))
#define FRM_OFF ((int32_t)offsetof(struct hart, frm))

_Static_assert(MSTATUS_FS <= INT32_MAX, "FS fits an imm32 test");

struct fast {
    struct x64_buf *b;
    size_t *slow;
    unsigned n;
};

static void slow_if(struct fast *s, enum x64_cc cc)
{
    if (s->n < JIT_FP_SLOW_MAX)
        s->slow[s->n++] = x64_jcc(s->b, cc);
    else
        s->b->overflow = 1; /* a bug here, never a wrong unit */
}

/* Declines unless f[i] is a NaN-boxed binary32 (upper half all ones). */
static void need_boxed(struct fast *s, unsigned i)
{
    x64_cmp_mi32(s->b, RH, FOFF(i) + 4, -1);
    slow_if(s, X64_CC_NE);
}

/* f[rd] = rax (binary32: boxed) and FS dirty. */
static void write_result(struct fast *s, const struct hart_op *op, int is64)
{
    struct x64_buf *b = s->b;
    if (!is64) {
        x64_mov_ri(b, X64_RCX, 0xffffffff00000000ull);
        x64_alu_rr(b, X64_OR, X64_RAX, X64_RCX, 0);
    }
    x64_store(b, RH, FOFF(op->rd), X64_RAX);
    x64_alu_mi(b, X64_OR, RH, MSTATUS_OFF, (int32_t)MSTATUS_FS);
}

enum kind { K_NONE, K_ARITH, K_SQRT, K_FMA, K_SGNJ };

static enum kind kind_of(unsigned o, int *is64, enum x64_sse *sse, enum x64_fma *fma)
{
    *is64 = 1;
    switch (o) {
    case OP_FADD_S: *is64 = 0; /* fall through */
    case OP_FADD_D: *sse = X64_ADDS; return K_ARITH;
    case OP_FSUB_S: *is64 = 0; /* fall through */
    case OP_FSUB_D: *sse = X64_SUBS; return K_ARITH;
    case OP_FMUL_S: *is64 = 0; /* fall through */
    case OP_FMUL_D: *sse = X64_MULS; return K_ARITH;
    case OP_FDIV_S: *is64 = 0; /* fall through */
    case OP_FDIV_D: *sse = X64_DIVS; return K_ARITH;
    case OP_FSQRT_S: *is64 = 0; /* fall through */
    case OP_FSQRT_D: *sse = X64_SQRTS; return K_SQRT;
    case OP_FMADD_S: *is64 = 0; /* fall through */
    case OP_FMADD_D: *fma = X64_FMADD; return K_FMA;
    case OP_FMSUB_S: *is64 = 0; /* fall through */
    case OP_FMSUB_D: *fma = X64_FMSUB; return K_FMA;
    case OP_FNMSUB_S: *is64 = 0; /* fall through */
    case OP_FNMSUB_D: *fma = X64_FNMADD; return K_FMA;   /* -(a*b) + c */
    case OP_FNMADD_S: *is64 = 0; /* fall through */
    case OP_FNMADD_D: *fma = X64_FNMSUB; return K_FMA;   /* -(a*b) - c */
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S: *is64 = 0; return K_SGNJ;
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D: return K_SGNJ;
    }
    return K_NONE;
}

/* rax = f[rs1] with f[rs2]'s sign, its inverse or the two signs' xor. */
static void emit_sgnj(struct fast *s, const struct hart_op *op, int is64)
{
    struct x64_buf *b = s->b;
    unsigned o = op->opc;
    x64_load(b, X64_RAX, RH, FOFF(op->rs1));
    x64_load(b, X64_RCX, RH, FOFF(op->rs2));
    if (!is64) {
        x64_mov_rr32(b, X64_RAX, X64_RAX);
        x64_mov_rr32(b, X64_RCX, X64_RCX);
    }
    if (o == OP_FSGNJN_S || o == OP_FSGNJN_D)
        x64_not(b, X64_RCX);
    x64_mov_ri(b, X64_RDX, is64 ? 1ull << 63 : 1ull << 31);
    x64_alu_rr(b, X64_AND, X64_RCX, X64_RDX, 0);
    if (o != OP_FSGNJX_S && o != OP_FSGNJX_D) {
        x64_not(b, X64_RDX);
        x64_alu_rr(b, X64_AND, X64_RAX, X64_RDX, 0);
        x64_alu_rr(b, X64_OR, X64_RAX, X64_RCX, 0);
    } else {
        x64_alu_rr(b, X64_XOR, X64_RAX, X64_RCX, 0);
    }
}

unsigned jit_fp_fast(struct x64_buf *b, const struct hart_op *op, size_t slow[JIT_FP_SLOW_MAX])
{
    int is64;
    enum x64_sse sse = X64_ADDS;
    enum x64_fma fma = X64_FMADD;
    enum kind k = kind_of(op->opc, &is64, &sse, &fma);
    if (k == K_NONE || (k == K_FMA && !__builtin_cpu_supports("fma")))
        return 0;
    /* The rounding mode: RNE, or dynamic (checked below); else the helper. */
    if (k != K_SGNJ && op->rm != FPU_RNE && op->rm != 7)
        return 0;
    struct fast s = { .b = b, .slow = slow };
    x64_test_mi32(b, RH, MSTATUS_OFF, (int32_t)MSTATUS_FS);
    slow_if(&s, X64_CC_E);
    if (!is64) {
        need_boxed(&s, op->rs1);
        if (k != K_SQRT)
            need_boxed(&s, op->rs2);
        if (k == K_FMA)
            need_boxed(&s, op->rs3);
    }
    if (k == K_SGNJ) {
        emit_sgnj(&s, op, is64);
        write_result(&s, op, is64);
        return s.n;
    }
    x64_test_mi32(b, RH, FFLAGS_OFF, FPU_NX);
    slow_if(&s, X64_CC_E);
    if (op->rm == 7) {
        x64_cmp_mi32(b, RH, FRM_OFF, FPU_RNE);
        slow_if(&s, X64_CC_NE);
    }
    switch (k) {
    case K_ARITH:
        x64_sse_load(b, 0, RH, FOFF(op->rs1), is64);
        x64_sse_load(b, 1, RH, FOFF(op->rs2), is64);
        x64_sse_op(b, sse, 0, 1, is64);
        break;
    case K_SQRT:
        x64_sse_load(b, 1, RH, FOFF(op->rs1), is64);
        x64_sse_op(b, sse, 0, 1, is64);
        break;
    default: /* K_FMA: xmm0 = ±(f[rs1] * f[rs2]) ± f[rs3] */
        x64_sse_load(b, 0, RH, FOFF(op->rs3), is64);
        x64_sse_load(b, 1, RH, FOFF(op->rs1), is64);
        x64_sse_load(b, 2, RH, FOFF(op->rs2), is64);
        x64_fma231(b, fma, 0, 1, 2, is64);
        break;
    }
    /* The result's exponent e must be in [2, max - 1]: e - 2 <= max - 3. */
    x64_mov_from_xmm(b, X64_RAX, 0, is64);
    x64_mov_rr(b, X64_RCX, X64_RAX);
    x64_shift_ri(b, X64_SHR, X64_RCX, is64 ? 52 : 23, 0);
    x64_alu_ri(b, X64_AND, X64_RCX, is64 ? 0x7ff : 0xff, 1);
    x64_alu_ri(b, X64_SUB, X64_RCX, 2, 1);
    x64_alu_ri(b, X64_CMP, X64_RCX, is64 ? 0x7ff - 3 : 0xff - 3, 1);
    slow_if(&s, X64_CC_A);
    write_result(&s, op, is64);
    return s.n;
}

#else

unsigned jit_fp_fast(struct x64_buf *b, const struct hart_op *op, size_t slow[JIT_FP_SLOW_MAX])
{
    (void)b;
    (void)op;
    (void)slow;
    return 0;
}

#endif
