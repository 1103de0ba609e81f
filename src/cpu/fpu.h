/* IEEE 754 binary32/binary64 arithmetic with RISC-V semantics (F and D
 * extensions): rounding modes, accrued exception flags, the canonical NaN,
 * RISC-V min/max, comparisons, classification and conversions.
 *
 * Pure functions on raw bit patterns, so the interpreter (and a JIT later)
 * can call them and they can be tested without a hart. Single-precision
 * operands are already unboxed by the caller: a 64-bit register that is not
 * properly NaN-boxed must be passed as the canonical NaN 0x7fc00000.
 * Sign injection, fmv and NaN-boxing of results are the caller's job. */
#ifndef MINNOW_CPU_FPU_H
#define MINNOW_CPU_FPU_H

#include <stdint.h>

/* Rounding modes, as encoded in the rm field and frm. The caller resolves
 * the dynamic mode (7) from frm and traps on 5, 6 and a bad frm before
 * calling; functions here only see 0..4. */
enum fpu_rm { FPU_RNE = 0, FPU_RTZ = 1, FPU_RDN = 2, FPU_RUP = 3, FPU_RMM = 4 };

/* Exception flags, as in fflags. Functions OR what they raise into *flags. */
enum fpu_flag { FPU_NX = 1, FPU_UF = 2, FPU_OF = 4, FPU_DZ = 8, FPU_NV = 16 };

#define FPU_F32_CANONICAL_NAN 0x7fc00000u
#define FPU_F64_CANONICAL_NAN 0x7ff8000000000000ull

/* NaN-boxing of single-precision values in the 64-bit f registers: what
 * the callers (the interpreter, the JIT's helpers) read and write. */
static inline uint32_t fpu_unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : FPU_F32_CANONICAL_NAN;
}

static inline uint64_t fpu_box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

/* Fused multiply-add variants, one rounding:
 * FMADD a*b+c, FMSUB a*b-c, FNMSUB -(a*b)+c, FNMADD -(a*b)-c. */
enum fpu_fma_op { FPU_FMADD = 0, FPU_FMSUB = 1, FPU_FNMSUB = 2, FPU_FNMADD = 3 };

uint32_t fpu_f32_add(uint32_t a, uint32_t b, int rm, unsigned *flags);
uint32_t fpu_f32_sub(uint32_t a, uint32_t b, int rm, unsigned *flags);
uint32_t fpu_f32_mul(uint32_t a, uint32_t b, int rm, unsigned *flags);
uint32_t fpu_f32_div(uint32_t a, uint32_t b, int rm, unsigned *flags);
uint32_t fpu_f32_sqrt(uint32_t a, int rm, unsigned *flags);
uint32_t fpu_f32_fma(uint32_t a, uint32_t b, uint32_t c, enum fpu_fma_op op, int rm, unsigned *flags);
uint32_t fpu_f32_min(uint32_t a, uint32_t b, unsigned *flags);
uint32_t fpu_f32_max(uint32_t a, uint32_t b, unsigned *flags);
int fpu_f32_eq(uint32_t a, uint32_t b, unsigned *flags); /* quiet */
int fpu_f32_lt(uint32_t a, uint32_t b, unsigned *flags); /* signalling */
int fpu_f32_le(uint32_t a, uint32_t b, unsigned *flags); /* signalling */
unsigned fpu_f32_class(uint32_t a);                       /* fclass mask */
int32_t fpu_f32_to_i32(uint32_t a, int rm, unsigned *flags);
uint32_t fpu_f32_to_u32(uint32_t a, int rm, unsigned *flags);
int64_t fpu_f32_to_i64(uint32_t a, int rm, unsigned *flags);
uint64_t fpu_f32_to_u64(uint32_t a, int rm, unsigned *flags);
uint32_t fpu_i32_to_f32(int32_t a, int rm, unsigned *flags);
uint32_t fpu_u32_to_f32(uint32_t a, int rm, unsigned *flags);
uint32_t fpu_i64_to_f32(int64_t a, int rm, unsigned *flags);
uint32_t fpu_u64_to_f32(uint64_t a, int rm, unsigned *flags);

uint64_t fpu_f64_add(uint64_t a, uint64_t b, int rm, unsigned *flags);
uint64_t fpu_f64_sub(uint64_t a, uint64_t b, int rm, unsigned *flags);
uint64_t fpu_f64_mul(uint64_t a, uint64_t b, int rm, unsigned *flags);
uint64_t fpu_f64_div(uint64_t a, uint64_t b, int rm, unsigned *flags);
uint64_t fpu_f64_sqrt(uint64_t a, int rm, unsigned *flags);
uint64_t fpu_f64_fma(uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op, int rm, unsigned *flags);
uint64_t fpu_f64_min(uint64_t a, uint64_t b, unsigned *flags);
uint64_t fpu_f64_max(uint64_t a, uint64_t b, unsigned *flags);
int fpu_f64_eq(uint64_t a, uint64_t b, unsigned *flags);
int fpu_f64_lt(uint64_t a, uint64_t b, unsigned *flags);
int fpu_f64_le(uint64_t a, uint64_t b, unsigned *flags);
unsigned fpu_f64_class(uint64_t a);
int32_t fpu_f64_to_i32(uint64_t a, int rm, unsigned *flags);
uint32_t fpu_f64_to_u32(uint64_t a, int rm, unsigned *flags);
int64_t fpu_f64_to_i64(uint64_t a, int rm, unsigned *flags);
uint64_t fpu_f64_to_u64(uint64_t a, int rm, unsigned *flags);
uint64_t fpu_i32_to_f64(int32_t a, int rm, unsigned *flags);
uint64_t fpu_u32_to_f64(uint32_t a, int rm, unsigned *flags);
uint64_t fpu_i64_to_f64(int64_t a, int rm, unsigned *flags);
uint64_t fpu_u64_to_f64(uint64_t a, int rm, unsigned *flags);

uint64_t fpu_f32_to_f64(uint32_t a, unsigned *flags);
uint32_t fpu_f64_to_f32(uint64_t a, int rm, unsigned *flags);

#endif
