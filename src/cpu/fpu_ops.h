/* The F and D extensions' operations other than loads and stores, as one
 * table both engines expand: the interpreter into its handlers (hart.c),
 * the JIT into the helper its units call (jit_helpers.c). One row per
 * operation, so the engines cannot drift apart.
 *
 * FPU_OPS(F) calls F(OP, KIND, EXPR) for each; EXPR is the result, written
 * with S1, S2, S3 (the source f registers unboxed to binary32), D1, D2, D3
 * (the same registers as binary64), R1 (x[rs1]), rm (the resolved rounding
 * mode), fl (the flags the operation raises) and sext32, which the
 * expanding file defines. KIND says what the engines do around it, after
 * checking mstatus.FS (illegal when off):
 *   S, D  a binary32 (NaN-boxed) or binary64 result in f[rd], rounded: rm
 *         is resolved first (illegal when 5, 6 or frm is bad); the flags
 *         are accrued and FS becomes dirty
 *   X     an integer result in x[rd], rounded; FS dirty only if a flag
 *         was raised
 *   XN    an integer result in x[rd], no rounding mode; likewise
 *   SN, DN  a result in f[rd] with no rounding and no flags (sign
 *         injection, moves); FS dirty */
#ifndef MINNOW_CPU_FPU_OPS_H
#define MINNOW_CPU_FPU_OPS_H

#include "cpu/fpu.h"

#define FPU_SIGN32 0x80000000u
#define FPU_SIGN64 (1ull << 63)

#define FPU_OPS(F) \
    F(FADD_S, S, fpu_f32_add(S1, S2, rm, &fl)) \
    F(FSUB_S, S, fpu_f32_sub(S1, S2, rm, &fl)) \
    F(FMUL_S, S, fpu_f32_mul(S1, S2, rm, &fl)) \
    F(FDIV_S, S, fpu_f32_div(S1, S2, rm, &fl)) \
    F(FSQRT_S, S, fpu_f32_sqrt(S1, rm, &fl)) \
    F(FMIN_S, S, fpu_f32_min(S1, S2, &fl)) \
    F(FMAX_S, S, fpu_f32_max(S1, S2, &fl)) \
    F(FMADD_S, S, fpu_f32_fma(S1, S2, S3, FPU_FMADD, rm, &fl)) \
    F(FMSUB_S, S, fpu_f32_fma(S1, S2, S3, FPU_FMSUB, rm, &fl)) \
    F(FNMSUB_S, S, fpu_f32_fma(S1, S2, S3, FPU_FNMSUB, rm, &fl)) \
    F(FNMADD_S, S, fpu_f32_fma(S1, S2, S3, FPU_FNMADD, rm, &fl)) \
    F(FCVT_S_D, S, fpu_f64_to_f32(D1, rm, &fl)) \
    F(FCVT_S_W, S, fpu_i32_to_f32((int32_t)R1, rm, &fl)) \
    F(FCVT_S_WU, S, fpu_u32_to_f32((uint32_t)R1, rm, &fl)) \
    F(FCVT_S_L, S, fpu_i64_to_f32((int64_t)R1, rm, &fl)) \
    F(FCVT_S_LU, S, fpu_u64_to_f32(R1, rm, &fl)) \
    F(FADD_D, D, fpu_f64_add(D1, D2, rm, &fl)) \
    F(FSUB_D, D, fpu_f64_sub(D1, D2, rm, &fl)) \
    F(FMUL_D, D, fpu_f64_mul(D1, D2, rm, &fl)) \
    F(FDIV_D, D, fpu_f64_div(D1, D2, rm, &fl)) \
    F(FSQRT_D, D, fpu_f64_sqrt(D1, rm, &fl)) \
    F(FMIN_D, D, fpu_f64_min(D1, D2, &fl)) \
    F(FMAX_D, D, fpu_f64_max(D1, D2, &fl)) \
    F(FMADD_D, D, fpu_f64_fma(D1, D2, D3, FPU_FMADD, rm, &fl)) \
    F(FMSUB_D, D, fpu_f64_fma(D1, D2, D3, FPU_FMSUB, rm, &fl)) \
    F(FNMSUB_D, D, fpu_f64_fma(D1, D2, D3, FPU_FNMSUB, rm, &fl)) \
    F(FNMADD_D, D, fpu_f64_fma(D1, D2, D3, FPU_FNMADD, rm, &fl)) \
    F(FCVT_D_S, D, fpu_f32_to_f64(S1, &fl)) \
    F(FCVT_D_W, D, fpu_i32_to_f64((int32_t)R1, rm, &fl)) \
    F(FCVT_D_WU, D, fpu_u32_to_f64((uint32_t)R1, rm, &fl)) \
    F(FCVT_D_L, D, fpu_i64_to_f64((int64_t)R1, rm, &fl)) \
    F(FCVT_D_LU, D, fpu_u64_to_f64(R1, rm, &fl)) \
    F(FCVT_W_S, X, (uint64_t)(int64_t)fpu_f32_to_i32(S1, rm, &fl)) \
    F(FCVT_WU_S, X, sext32(fpu_f32_to_u32(S1, rm, &fl))) \
    F(FCVT_L_S, X, (uint64_t)fpu_f32_to_i64(S1, rm, &fl)) \
    F(FCVT_LU_S, X, fpu_f32_to_u64(S1, rm, &fl)) \
    F(FCVT_W_D, X, (uint64_t)(int64_t)fpu_f64_to_i32(D1, rm, &fl)) \
    F(FCVT_WU_D, X, sext32(fpu_f64_to_u32(D1, rm, &fl))) \
    F(FCVT_L_D, X, (uint64_t)fpu_f64_to_i64(D1, rm, &fl)) \
    F(FCVT_LU_D, X, fpu_f64_to_u64(D1, rm, &fl)) \
    F(FEQ_S, XN, (uint64_t)fpu_f32_eq(S1, S2, &fl)) \
    F(FLT_S, XN, (uint64_t)fpu_f32_lt(S1, S2, &fl)) \
    F(FLE_S, XN, (uint64_t)fpu_f32_le(S1, S2, &fl)) \
    F(FEQ_D, XN, (uint64_t)fpu_f64_eq(D1, D2, &fl)) \
    F(FLT_D, XN, (uint64_t)fpu_f64_lt(D1, D2, &fl)) \
    F(FLE_D, XN, (uint64_t)fpu_f64_le(D1, D2, &fl)) \
    F(FCLASS_S, XN, fpu_f32_class(S1)) \
    F(FCLASS_D, XN, fpu_f64_class(D1)) \
    F(FMV_X_W, XN, sext32(D1)) \
    F(FMV_X_D, XN, D1) \
    F(FSGNJ_S, SN, (S1 & ~FPU_SIGN32) | (S2 & FPU_SIGN32)) \
    F(FSGNJN_S, SN, (S1 & ~FPU_SIGN32) | (~S2 & FPU_SIGN32)) \
    F(FSGNJX_S, SN, S1 ^ (S2 & FPU_SIGN32)) \
    F(FMV_W_X, SN, (uint32_t)R1) \
    F(FSGNJ_D, DN, (D1 & ~FPU_SIGN64) | (D2 & FPU_SIGN64)) \
    F(FSGNJN_D, DN, (D1 & ~FPU_SIGN64) | (~D2 & FPU_SIGN64)) \
    F(FSGNJX_D, DN, D1 ^ (D2 & FPU_SIGN64)) \
    F(FMV_D_X, DN, R1)

#endif
