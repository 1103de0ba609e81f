/* Unit tests for cpu/fpu: hand-picked edge cases whose answers follow from
 * the RISC-V F/D chapter and IEEE 754 (rounding of ties and non-ties in all
 * five modes, overflow, tininess after rounding, NaN rules, min/max,
 * classification, conversions, fused multiply-add). The differential test
 * in tests/fpu compares millions more against QEMU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpu/fpu.h"

#define NX FPU_NX
#define UF FPU_UF
#define OF FPU_OF
#define DZ FPU_DZ
#define NV FPU_NV

/* Evaluates expr with fresh flags and checks both the result bits and the
 * flags raised. `flags` is the variable the expression writes. */
#define EXPECT(expr, want_bits, want_flags)                                      \
    do {                                                                         \
        unsigned flags = 0;                                                      \
        uint64_t got_ = (uint64_t)(expr);                                        \
        assert_int_equal(got_, (uint64_t)(want_bits));                           \
        assert_int_equal(flags, (unsigned)(want_flags));                         \
    } while (0)

#define F32_ONE 0x3f800000u
#define F32_TWO 0x40000000u
#define F32_MAX 0x7f7fffffu
#define F32_INF 0x7f800000u
#define F32_QNAN 0x7fc00000u
#define F32_SNAN 0x7f800001u
#define F32_NEG 0x80000000u
#define F64_ONE 0x3ff0000000000000ull
#define F64_TWO 0x4000000000000000ull
#define F64_MAX 0x7fefffffffffffffull
#define F64_INF 0x7ff0000000000000ull
#define F64_QNAN 0x7ff8000000000000ull
#define F64_SNAN 0x7ff0000000000001ull
#define F64_NEG 0x8000000000000000ull

static void add_rounds_ties_and_non_ties_in_every_mode(void **state)
{
    (void)state;
    /* 1 + 2^-24 is exactly half an ulp above 1: a tie between 1 (even) and 1+ulp. */
    const uint32_t half_ulp = 0x33800000u;
    EXPECT(fpu_f32_add(F32_ONE, half_ulp, FPU_RNE, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, half_ulp, FPU_RTZ, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, half_ulp, FPU_RDN, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, half_ulp, FPU_RUP, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f32_add(F32_ONE, half_ulp, FPU_RMM, &flags), 0x3f800001u, NX);
    /* Same tie, negative: the directed modes swap. */
    EXPECT(fpu_f32_add(F32_ONE | F32_NEG, half_ulp | F32_NEG, FPU_RNE, &flags), 0xbf800000u, NX);
    EXPECT(fpu_f32_add(F32_ONE | F32_NEG, half_ulp | F32_NEG, FPU_RDN, &flags), 0xbf800001u, NX);
    EXPECT(fpu_f32_add(F32_ONE | F32_NEG, half_ulp | F32_NEG, FPU_RUP, &flags), 0xbf800000u, NX);
    EXPECT(fpu_f32_add(F32_ONE | F32_NEG, half_ulp | F32_NEG, FPU_RMM, &flags), 0xbf800001u, NX);
    /* A tie next to an odd significand: RNE now rounds up, like RMM. */
    EXPECT(fpu_f32_add(0x3f800001u, half_ulp, FPU_RNE, &flags), 0x3f800002u, NX);
    EXPECT(fpu_f32_add(0x3f800001u, half_ulp, FPU_RMM, &flags), 0x3f800002u, NX);
    EXPECT(fpu_f32_add(0x3f800001u, half_ulp, FPU_RTZ, &flags), 0x3f800001u, NX);
    /* Non-ties: a quarter ulp (nearest modes go down) and three quarters (up). */
    EXPECT(fpu_f32_add(F32_ONE, 0x33000000u, FPU_RNE, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33000000u, FPU_RMM, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33000000u, FPU_RUP, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33c00000u, FPU_RNE, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33c00000u, FPU_RMM, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33c00000u, FPU_RTZ, &flags), F32_ONE, NX);
    EXPECT(fpu_f32_add(F32_ONE, 0x33c00000u, FPU_RDN, &flags), F32_ONE, NX);
    /* Double: 1 + 2^-53 is the tie. */
    EXPECT(fpu_f64_add(F64_ONE, 0x3ca0000000000000ull, FPU_RNE, &flags), F64_ONE, NX);
    EXPECT(fpu_f64_add(F64_ONE, 0x3ca0000000000000ull, FPU_RMM, &flags), 0x3ff0000000000001ull, NX);
    EXPECT(fpu_f64_add(F64_ONE, 0x3ca0000000000000ull, FPU_RUP, &flags), 0x3ff0000000000001ull, NX);
    EXPECT(fpu_f64_sub(F64_ONE, 0xbca0000000000000ull, FPU_RMM, &flags), 0x3ff0000000000001ull, NX);
    /* Exact results raise nothing. */
    EXPECT(fpu_f32_add(F32_ONE, F32_ONE, FPU_RMM, &flags), F32_TWO, 0);
}

static void mul_div_round_in_every_mode(void **state)
{
    (void)state;
    /* 1.5 * (1 + 3*2^-23) = 1.5 + 4.5 ulp: a tie between 4 (even) and 5 ulps. */
    EXPECT(fpu_f32_mul(0x3fc00000u, 0x3f800003u, FPU_RNE, &flags), 0x3fc00004u, NX);
    EXPECT(fpu_f32_mul(0x3fc00000u, 0x3f800003u, FPU_RMM, &flags), 0x3fc00005u, NX);
    EXPECT(fpu_f32_mul(0x3fc00000u, 0x3f800003u, FPU_RTZ, &flags), 0x3fc00004u, NX);
    EXPECT(fpu_f32_mul(0x3fc00000u, 0x3f800003u, FPU_RUP, &flags), 0x3fc00005u, NX);
    EXPECT(fpu_f32_mul(0xbfc00000u, 0x3f800003u, FPU_RDN, &flags), 0xbfc00005u, NX);
    /* 1/3 in binary32 is 0x3eaaaaaa.aaa...: round up only for RUP and nearest. */
    const uint32_t three = 0x40400000u;
    EXPECT(fpu_f32_div(F32_ONE, three, FPU_RNE, &flags), 0x3eaaaaabu, NX);
    EXPECT(fpu_f32_div(F32_ONE, three, FPU_RMM, &flags), 0x3eaaaaabu, NX);
    EXPECT(fpu_f32_div(F32_ONE, three, FPU_RTZ, &flags), 0x3eaaaaaau, NX);
    EXPECT(fpu_f32_div(F32_ONE, three, FPU_RDN, &flags), 0x3eaaaaaau, NX);
    EXPECT(fpu_f32_div(F32_ONE, three, FPU_RUP, &flags), 0x3eaaaaabu, NX);
    /* 1/3 in binary64 is 0x3fd5555555555555.555...: round down in nearest modes. */
    EXPECT(fpu_f64_div(F64_ONE, 0x4008000000000000ull, FPU_RMM, &flags), 0x3fd5555555555555ull, NX);
    EXPECT(fpu_f64_div(F64_ONE, 0x4008000000000000ull, FPU_RUP, &flags), 0x3fd5555555555556ull, NX);
    /* sqrt(2) = 0x3ff6a09e667f3bcc.9...; sqrt(4) = 2 exactly. */
    EXPECT(fpu_f64_sqrt(F64_TWO, FPU_RMM, &flags), 0x3ff6a09e667f3bcdull, NX);
    EXPECT(fpu_f64_sqrt(F64_TWO, FPU_RTZ, &flags), 0x3ff6a09e667f3bccull, NX);
    EXPECT(fpu_f32_sqrt(0x40800000u, FPU_RMM, &flags), F32_TWO, 0);
}

static void overflow_gives_inf_or_max_finite_by_mode(void **state)
{
    (void)state;
    EXPECT(fpu_f32_mul(F32_MAX, F32_TWO, FPU_RNE, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX, F32_TWO, FPU_RMM, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX, F32_TWO, FPU_RTZ, &flags), F32_MAX, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX, F32_TWO, FPU_RDN, &flags), F32_MAX, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX, F32_TWO, FPU_RUP, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX | F32_NEG, F32_TWO, FPU_RDN, &flags), F32_INF | F32_NEG, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX | F32_NEG, F32_TWO, FPU_RUP, &flags), F32_MAX | F32_NEG, OF | NX);
    EXPECT(fpu_f32_mul(F32_MAX | F32_NEG, F32_TWO, FPU_RMM, &flags), F32_INF | F32_NEG, OF | NX);
    /* max + half an ulp: a tie that rounds (to even) out of range in the
     * nearest modes, but stays at max (no overflow) toward zero. */
    const uint32_t half_ulp_of_max = 0x73000000u;
    EXPECT(fpu_f32_add(F32_MAX, half_ulp_of_max, FPU_RNE, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f32_add(F32_MAX, half_ulp_of_max, FPU_RMM, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f32_add(F32_MAX, half_ulp_of_max, FPU_RTZ, &flags), F32_MAX, NX);
    EXPECT(fpu_f32_add(F32_MAX, half_ulp_of_max, FPU_RDN, &flags), F32_MAX, NX);
    EXPECT(fpu_f32_add(F32_MAX, half_ulp_of_max, FPU_RUP, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f64_mul(F64_MAX, F64_TWO, FPU_RTZ, &flags), F64_MAX, OF | NX);
    EXPECT(fpu_f64_mul(F64_MAX, F64_TWO, FPU_RMM, &flags), F64_INF, OF | NX);
}

static void tininess_is_detected_after_rounding(void **state)
{
    (void)state;
    /* (1 - 2^-23) * 2^-126 (1 + 2^-23) = 2^-126 (1 - 2^-46): below the
     * smallest normal, but rounding to 24 bits with an unbounded exponent
     * gives 2^-126 exactly in RNE/RMM/RUP, so it is not tiny: NX only. */
    const uint32_t a = 0x3f7ffffeu, b = 0x00800001u;
    EXPECT(fpu_f32_mul(a, b, FPU_RNE, &flags), 0x00800000u, NX);
    EXPECT(fpu_f32_mul(a, b, FPU_RMM, &flags), 0x00800000u, NX);
    EXPECT(fpu_f32_mul(a, b, FPU_RUP, &flags), 0x00800000u, NX);
    /* Toward zero it stays below 2^-126: tiny and inexact. */
    EXPECT(fpu_f32_mul(a, b, FPU_RTZ, &flags), 0x007fffffu, UF | NX);
    EXPECT(fpu_f32_mul(a, b, FPU_RDN, &flags), 0x007fffffu, UF | NX);
    /* The binary64 version of the same case. */
    EXPECT(fpu_f64_mul(0x3feffffffffffffeull, 0x0010000000000001ull, FPU_RNE, &flags), 0x0010000000000000ull, NX);
    EXPECT(fpu_f64_mul(0x3feffffffffffffeull, 0x0010000000000001ull, FPU_RMM, &flags), 0x0010000000000000ull, NX);
    EXPECT(fpu_f64_mul(0x3feffffffffffffeull, 0x0010000000000001ull, FPU_RTZ, &flags), 0x000fffffffffffffull, UF | NX);
    /* Half the smallest subnormal: a tie between 0 and 2^-149. */
    EXPECT(fpu_f32_div(0x00000001u, F32_TWO, FPU_RNE, &flags), 0, UF | NX);
    EXPECT(fpu_f32_div(0x00000001u, F32_TWO, FPU_RMM, &flags), 0x00000001u, UF | NX);
    EXPECT(fpu_f32_div(0x00000001u, F32_TWO, FPU_RUP, &flags), 0x00000001u, UF | NX);
    EXPECT(fpu_f32_div(0x00000001u, F32_TWO, FPU_RTZ, &flags), 0, UF | NX);
    EXPECT(fpu_f32_div(0x80000001u, F32_TWO, FPU_RDN, &flags), 0x80000001u, UF | NX);
    EXPECT(fpu_f32_div(0x80000001u, F32_TWO, FPU_RNE, &flags), 0x80000000u, UF | NX);
    EXPECT(fpu_f64_div(0x0000000000000001ull, F64_TWO, FPU_RMM, &flags), 0x0000000000000001ull, UF | NX);
    /* An exact subnormal result is not an underflow. */
    EXPECT(fpu_f32_div(0x00000002u, F32_TWO, FPU_RNE, &flags), 0x00000001u, 0);
    EXPECT(fpu_f32_sub(0x00800000u, 0x00000001u, FPU_RMM, &flags), 0x007fffffu, 0);
}

static void nan_results_are_canonical_and_flag_only_for_snan(void **state)
{
    (void)state;
    const uint32_t neg_qnan_payload = 0xffc12345u;
    EXPECT(fpu_f32_add(neg_qnan_payload, F32_ONE, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, 0);
    EXPECT(fpu_f32_add(F32_SNAN, F32_ONE, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_sub(F32_ONE, F32_SNAN, FPU_RMM, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_mul(F32_QNAN, F32_SNAN, FPU_RTZ, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_div(F32_QNAN, 0, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, 0);
    EXPECT(fpu_f32_sqrt(F32_SNAN, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_add(0xfff8000000012345ull, F64_ONE, FPU_RNE, &flags), FPU_F64_CANONICAL_NAN, 0);
    EXPECT(fpu_f64_mul(F64_SNAN, F64_ONE, FPU_RMM, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_div(F64_ONE, F64_SNAN, FPU_RUP, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_sqrt(0xfff8000000000001ull, FPU_RNE, &flags), FPU_F64_CANONICAL_NAN, 0);
    /* Invalid operations produce the canonical NaN too. */
    EXPECT(fpu_f32_add(F32_INF, F32_INF | F32_NEG, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_mul(F32_INF, 0, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_div(0, F32_NEG, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_div(F64_INF, F64_INF, FPU_RMM, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_sqrt(F32_ONE | F32_NEG, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_sqrt(F64_INF | F64_NEG, FPU_RMM, &flags), FPU_F64_CANONICAL_NAN, NV);
    /* Division by zero, and the zero/infinity edge cases that are not NaN. */
    EXPECT(fpu_f32_div(F32_ONE | F32_NEG, 0, FPU_RNE, &flags), F32_INF | F32_NEG, DZ);
    EXPECT(fpu_f64_div(F64_ONE, F64_NEG, FPU_RMM, &flags), F64_INF | F64_NEG, DZ);
    EXPECT(fpu_f32_div(F32_INF, 0, FPU_RNE, &flags), F32_INF, 0);
    EXPECT(fpu_f32_sqrt(F32_NEG, FPU_RNE, &flags), F32_NEG, 0);
    EXPECT(fpu_f64_sqrt(F64_INF, FPU_RMM, &flags), F64_INF, 0);
}

static void exact_zero_sums_take_the_mode_sign(void **state)
{
    (void)state;
    EXPECT(fpu_f32_add(F32_ONE, F32_ONE | F32_NEG, FPU_RNE, &flags), 0, 0);
    EXPECT(fpu_f32_add(F32_ONE, F32_ONE | F32_NEG, FPU_RDN, &flags), F32_NEG, 0);
    EXPECT(fpu_f32_add(F32_ONE, F32_ONE | F32_NEG, FPU_RMM, &flags), 0, 0);
    EXPECT(fpu_f64_sub(F64_ONE, F64_ONE, FPU_RDN, &flags), F64_NEG, 0);
    EXPECT(fpu_f32_add(F32_NEG, F32_NEG, FPU_RNE, &flags), F32_NEG, 0);
    EXPECT(fpu_f32_add(F32_NEG, 0, FPU_RMM, &flags), 0, 0);
    EXPECT(fpu_f32_add(F32_NEG, 0, FPU_RDN, &flags), F32_NEG, 0);
}

static void fma_rounds_once(void **state)
{
    (void)state;
    /* a = 1 + 2^-23: a*a - (1 + 2^-22) = 2^-46 exactly. A separate multiply
     * would round a*a to 1 + 2^-22 and the sum would be 0. */
    const uint32_t a = 0x3f800001u, c = 0x3f800002u;
    unsigned fl = 0;
    uint32_t p = fpu_f32_mul(a, a, FPU_RNE, &fl);
    assert_int_equal(fpu_f32_sub(p, c, FPU_RNE, &fl), 0);
    EXPECT(fpu_f32_fma(a, a, c, FPU_FMSUB, FPU_RNE, &flags), 0x28800000u, 0);
    EXPECT(fpu_f32_fma(a, a, c | F32_NEG, FPU_FMADD, FPU_RNE, &flags), 0x28800000u, 0);
    EXPECT(fpu_f32_fma(a, a, c | F32_NEG, FPU_FNMADD, FPU_RNE, &flags), 0x28800000u | F32_NEG, 0);
    EXPECT(fpu_f32_fma(a, a, c, FPU_FNMSUB, FPU_RNE, &flags), 0x28800000u | F32_NEG, 0);
    EXPECT(fpu_f64_fma(0x3ff0000000000001ull, 0x3ff0000000000001ull, 0x3ff0000000000002ull, FPU_FMSUB,
                       FPU_RMM, &flags), 0x3970000000000000ull, 0);
    /* a*a - 1 = 2^-22 + 2^-46 is a tie at 24 bits: RNE keeps 2^-22, RMM goes away. */
    EXPECT(fpu_f32_fma(a, a, F32_ONE, FPU_FMSUB, FPU_RNE, &flags), 0x34800000u, NX);
    EXPECT(fpu_f32_fma(a, a, F32_ONE, FPU_FMSUB, FPU_RMM, &flags), 0x34800001u, NX);
    EXPECT(fpu_f32_fma(a, a, F32_ONE, FPU_FMSUB, FPU_RUP, &flags), 0x34800001u, NX);
    EXPECT(fpu_f32_fma(a, a, F32_ONE, FPU_FMSUB, FPU_RTZ, &flags), 0x34800000u, NX);
    /* Signs of zero: -(+0*1) - (+0) = -0; +0*1 + -0 = +0 except in RDN. */
    EXPECT(fpu_f32_fma(0, F32_ONE, 0, FPU_FNMADD, FPU_RNE, &flags), F32_NEG, 0);
    EXPECT(fpu_f32_fma(0, F32_ONE, F32_NEG, FPU_FMADD, FPU_RNE, &flags), 0, 0);
    EXPECT(fpu_f32_fma(0, F32_ONE, F32_NEG, FPU_FMADD, FPU_RDN, &flags), F32_NEG, 0);
    EXPECT(fpu_f64_fma(F64_ONE, F64_ONE, F64_ONE, FPU_FMSUB, FPU_RDN, &flags), F64_NEG, 0);
}

static void fma_nan_and_invalid_rules(void **state)
{
    (void)state;
    /* RISC-V: inf * 0 + qNaN raises NV (IEEE leaves it optional). */
    EXPECT(fpu_f32_fma(F32_INF, 0, F32_QNAN, FPU_FMADD, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_fma(0, F64_INF | F64_NEG, F64_QNAN, FPU_FNMADD, FPU_RMM, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_fma(F32_ONE, F32_ONE, F32_QNAN, FPU_FMADD, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, 0);
    EXPECT(fpu_f32_fma(F32_ONE, F32_ONE, F32_SNAN, FPU_FMADD, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_fma(F64_SNAN, F64_ONE, F64_ONE, FPU_FMADD, FPU_RTZ, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_fma(F32_INF, F32_ONE, F32_INF | F32_NEG, FPU_FMADD, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_fma(F32_INF, F32_ONE, F32_INF, FPU_FMSUB, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_fma(F32_INF, F32_ONE, F32_INF, FPU_FMADD, FPU_RNE, &flags), F32_INF, 0);
    EXPECT(fpu_f32_fma(F32_INF, 0, F32_ONE, FPU_FMADD, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    /* Overflow inside fma follows the mode. */
    EXPECT(fpu_f32_fma(F32_MAX, F32_TWO, 0, FPU_FMADD, FPU_RTZ, &flags), F32_MAX, OF | NX);
    EXPECT(fpu_f32_fma(F32_MAX, F32_TWO, 0, FPU_FNMADD, FPU_RMM, &flags), F32_INF | F32_NEG, OF | NX);
}

static void min_max_follow_risc_v_rules(void **state)
{
    (void)state;
    EXPECT(fpu_f32_min(F32_NEG, 0, &flags), F32_NEG, 0);
    EXPECT(fpu_f32_min(0, F32_NEG, &flags), F32_NEG, 0);
    EXPECT(fpu_f32_max(F32_NEG, 0, &flags), 0, 0);
    EXPECT(fpu_f32_max(0, F32_NEG, &flags), 0, 0);
    EXPECT(fpu_f64_min(F64_NEG, 0, &flags), F64_NEG, 0);
    EXPECT(fpu_f64_max(0, F64_NEG, &flags), 0, 0);
    EXPECT(fpu_f32_min(F32_ONE | F32_NEG, F32_TWO | F32_NEG, &flags), F32_TWO | F32_NEG, 0);
    EXPECT(fpu_f32_max(F32_INF | F32_NEG, F32_MAX | F32_NEG, &flags), F32_MAX | F32_NEG, 0);
    /* One NaN: the other operand; NV only if a NaN is signalling. */
    EXPECT(fpu_f32_min(F32_QNAN, F32_ONE, &flags), F32_ONE, 0);
    EXPECT(fpu_f32_max(F32_ONE, 0xffc12345u, &flags), F32_ONE, 0);
    EXPECT(fpu_f32_min(F32_SNAN, F32_ONE, &flags), F32_ONE, NV);
    EXPECT(fpu_f64_max(F64_ONE, F64_SNAN, &flags), F64_ONE, NV);
    /* Both NaN: the canonical NaN. */
    EXPECT(fpu_f32_min(0xffc12345u, 0x7fc00001u, &flags), FPU_F32_CANONICAL_NAN, 0);
    EXPECT(fpu_f32_max(F32_SNAN, F32_QNAN, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_min(F64_QNAN | F64_NEG, F64_SNAN, &flags), FPU_F64_CANONICAL_NAN, NV);
}

static void comparisons_quiet_and_signalling(void **state)
{
    (void)state;
    EXPECT(fpu_f32_eq(F32_QNAN, F32_ONE, &flags), 0, 0);
    EXPECT(fpu_f32_eq(F32_QNAN, F32_QNAN, &flags), 0, 0);
    EXPECT(fpu_f32_eq(F32_SNAN, F32_ONE, &flags), 0, NV);
    EXPECT(fpu_f32_lt(F32_QNAN, F32_ONE, &flags), 0, NV);
    EXPECT(fpu_f32_le(F32_ONE, F32_QNAN, &flags), 0, NV);
    EXPECT(fpu_f64_eq(F64_ONE, F64_SNAN, &flags), 0, NV);
    EXPECT(fpu_f64_le(F64_QNAN, F64_QNAN, &flags), 0, NV);
    EXPECT(fpu_f32_eq(F32_NEG, 0, &flags), 1, 0);
    EXPECT(fpu_f32_lt(F32_NEG, 0, &flags), 0, 0);
    EXPECT(fpu_f32_le(0, F32_NEG, &flags), 1, 0);
    EXPECT(fpu_f32_lt(F32_TWO | F32_NEG, F32_ONE | F32_NEG, &flags), 1, 0);
    EXPECT(fpu_f32_lt(F32_ONE | F32_NEG, F32_TWO | F32_NEG, &flags), 0, 0);
    EXPECT(fpu_f64_lt(F64_ONE | F64_NEG, F64_ONE, &flags), 1, 0);
    EXPECT(fpu_f64_le(F64_INF, F64_INF, &flags), 1, 0);
    EXPECT(fpu_f64_lt(F64_INF, F64_INF, &flags), 0, 0);
    EXPECT(fpu_f64_eq(F64_ONE, F64_TWO, &flags), 0, 0);
}

static void fclass_covers_all_ten_classes(void **state)
{
    (void)state;
    assert_int_equal(fpu_f32_class(F32_INF | F32_NEG), 1u << 0);
    assert_int_equal(fpu_f32_class(F32_ONE | F32_NEG), 1u << 1);
    assert_int_equal(fpu_f32_class(0x807fffffu), 1u << 2);
    assert_int_equal(fpu_f32_class(F32_NEG), 1u << 3);
    assert_int_equal(fpu_f32_class(0), 1u << 4);
    assert_int_equal(fpu_f32_class(0x00000001u), 1u << 5);
    assert_int_equal(fpu_f32_class(F32_MAX), 1u << 6);
    assert_int_equal(fpu_f32_class(F32_INF), 1u << 7);
    assert_int_equal(fpu_f32_class(F32_SNAN), 1u << 8);
    assert_int_equal(fpu_f32_class(0xffbfffffu), 1u << 8);
    assert_int_equal(fpu_f32_class(F32_QNAN), 1u << 9);
    assert_int_equal(fpu_f32_class(0xffc00001u), 1u << 9);
    assert_int_equal(fpu_f64_class(F64_INF | F64_NEG), 1u << 0);
    assert_int_equal(fpu_f64_class(0x8010000000000000ull), 1u << 1);
    assert_int_equal(fpu_f64_class(0x8000000000000001ull), 1u << 2);
    assert_int_equal(fpu_f64_class(F64_NEG), 1u << 3);
    assert_int_equal(fpu_f64_class(0), 1u << 4);
    assert_int_equal(fpu_f64_class(0x000fffffffffffffull), 1u << 5);
    assert_int_equal(fpu_f64_class(F64_ONE), 1u << 6);
    assert_int_equal(fpu_f64_class(F64_INF), 1u << 7);
    assert_int_equal(fpu_f64_class(F64_SNAN), 1u << 8);
    assert_int_equal(fpu_f64_class(F64_QNAN), 1u << 9);
}

static void float_to_int_rounds_and_saturates(void **state)
{
    (void)state;
    const uint32_t f2_5 = 0x40200000u, f1_5 = 0x3fc00000u, f0_5 = 0x3f000000u;
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5, FPU_RNE, &flags), 2, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f1_5, FPU_RNE, &flags), 2, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5, FPU_RMM, &flags), 3, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5 | F32_NEG, FPU_RMM, &flags), (uint32_t)-3, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5 | F32_NEG, FPU_RDN, &flags), (uint32_t)-3, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5 | F32_NEG, FPU_RUP, &flags), (uint32_t)-2, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(f2_5 | F32_NEG, FPU_RTZ, &flags), (uint32_t)-2, NX);
    EXPECT((uint32_t)fpu_f32_to_i32(F32_TWO, FPU_RMM, &flags), 2, 0);
    EXPECT((uint32_t)fpu_f32_to_i32(F32_NEG, FPU_RNE, &flags), 0, 0);
    /* NaN -> max positive; out of range -> the nearer limit; NV, no NX. */
    EXPECT((uint32_t)fpu_f32_to_i32(0xffc00000u, FPU_RNE, &flags), 0x7fffffffu, NV);
    EXPECT((uint32_t)fpu_f32_to_i32(F32_INF, FPU_RNE, &flags), 0x7fffffffu, NV);
    EXPECT((uint32_t)fpu_f32_to_i32(F32_INF | F32_NEG, FPU_RNE, &flags), 0x80000000u, NV);
    EXPECT((uint32_t)fpu_f32_to_i32(0x4f000000u, FPU_RNE, &flags), 0x7fffffffu, NV); /* 2^31 */
    EXPECT((uint32_t)fpu_f32_to_i32(0xcf000000u, FPU_RNE, &flags), 0x80000000u, 0);  /* -2^31 */
    EXPECT((uint32_t)fpu_f64_to_i32(0xc1e0000000100000ull, FPU_RTZ, &flags), 0x80000000u, NX); /* -2^31-0.5 */
    EXPECT((uint32_t)fpu_f64_to_i32(0xc1e0000000100000ull, FPU_RNE, &flags), 0x80000000u, NX);
    EXPECT((uint32_t)fpu_f64_to_i32(0xc1e0000000100000ull, FPU_RMM, &flags), 0x80000000u, NV);
    EXPECT((uint32_t)fpu_f64_to_i32(0x41dfffffffe00000ull, FPU_RUP, &flags), 0x7fffffffu, NV); /* 2^31-0.5 */
    EXPECT((uint32_t)fpu_f64_to_i32(0x41dfffffffe00000ull, FPU_RDN, &flags), 0x7fffffffu, NX);
    /* Unsigned: negative values saturate to 0 with NV unless they round to 0. */
    EXPECT(fpu_f32_to_u32(F32_ONE | F32_NEG, FPU_RNE, &flags), 0, NV);
    EXPECT(fpu_f32_to_u32(f0_5 | F32_NEG, FPU_RTZ, &flags), 0, NX);
    EXPECT(fpu_f32_to_u32(f0_5 | F32_NEG, FPU_RNE, &flags), 0, NX);
    EXPECT(fpu_f32_to_u32(f0_5 | F32_NEG, FPU_RUP, &flags), 0, NX);
    EXPECT(fpu_f32_to_u32(f0_5 | F32_NEG, FPU_RMM, &flags), 0, NV);
    EXPECT(fpu_f32_to_u32(f0_5 | F32_NEG, FPU_RDN, &flags), 0, NV);
    EXPECT(fpu_f32_to_u32(0xbf333333u, FPU_RNE, &flags), 0, NV); /* -0.7 */
    EXPECT(fpu_f32_to_u32(F32_NEG, FPU_RNE, &flags), 0, 0);
    EXPECT(fpu_f32_to_u32(F32_QNAN, FPU_RNE, &flags), 0xffffffffu, NV);
    EXPECT(fpu_f32_to_u32(F32_INF | F32_NEG, FPU_RNE, &flags), 0, NV);
    EXPECT(fpu_f32_to_u32(0x4f800000u, FPU_RNE, &flags), 0xffffffffu, NV); /* 2^32 */
    EXPECT(fpu_f64_to_u32(0x41efffffffe00000ull, FPU_RNE, &flags), 0xffffffffu, 0); /* 2^32 - 1 */
    /* 2^32 - 0.5: a tie that RNE rounds (to even) out of range. */
    EXPECT(fpu_f64_to_u32(0x41effffffff00000ull, FPU_RNE, &flags), 0xffffffffu, NV);
    EXPECT(fpu_f64_to_u32(0x41effffffff00000ull, FPU_RTZ, &flags), 0xffffffffu, NX);
}

static void float_to_int64_limits(void **state)
{
    (void)state;
    EXPECT((uint64_t)fpu_f32_to_i64(0x5f000000u, FPU_RNE, &flags), 0x7fffffffffffffffull, NV); /* 2^63 */
    EXPECT((uint64_t)fpu_f32_to_i64(0xdf000000u, FPU_RNE, &flags), 0x8000000000000000ull, 0);   /* -2^63 */
    EXPECT((uint64_t)fpu_f64_to_i64(F64_SNAN, FPU_RNE, &flags), 0x7fffffffffffffffull, NV);
    EXPECT((uint64_t)fpu_f64_to_i64(F64_INF | F64_NEG, FPU_RNE, &flags), 0x8000000000000000ull, NV);
    EXPECT((uint64_t)fpu_f64_to_i64(0x43dfffffffffffffull, FPU_RNE, &flags), 0x7ffffffffffffc00ull, 0);
    EXPECT(fpu_f64_to_u64(0x43efffffffffffffull, FPU_RNE, &flags), 0xfffffffffffff800ull, 0);
    EXPECT(fpu_f64_to_u64(0x43f0000000000000ull, FPU_RNE, &flags), 0xffffffffffffffffull, NV); /* 2^64 */
    EXPECT(fpu_f64_to_u64(F64_QNAN | F64_NEG, FPU_RNE, &flags), 0xffffffffffffffffull, NV);
    EXPECT(fpu_f32_to_u64(F32_INF | F32_NEG, FPU_RNE, &flags), 0, NV);
    EXPECT(fpu_f64_to_u64(0xbfe0000000000000ull, FPU_RTZ, &flags), 0, NX); /* -0.5 */
    EXPECT(fpu_f64_to_u64(0xbfe0000000000000ull, FPU_RMM, &flags), 0, NV);
    EXPECT(fpu_f64_to_u64(0x0000000000000001ull, FPU_RUP, &flags), 1, NX);
    EXPECT(fpu_f64_to_u64(0x8000000000000001ull, FPU_RDN, &flags), 0, NV);
    EXPECT((uint64_t)fpu_f64_to_i64(0x8000000000000001ull, FPU_RDN, &flags), 0xffffffffffffffffull, NX);
}

static void int_to_float_rounds(void **state)
{
    (void)state;
    EXPECT(fpu_i32_to_f32(0x7fffffff, FPU_RNE, &flags), 0x4f000000u, NX);
    EXPECT(fpu_i32_to_f32(0x7fffffff, FPU_RTZ, &flags), 0x4effffffu, NX);
    EXPECT(fpu_i32_to_f32(0x7fffffff, FPU_RMM, &flags), 0x4f000000u, NX);
    EXPECT(fpu_i32_to_f32(16777217, FPU_RNE, &flags), 0x4b800000u, NX); /* 2^24 + 1: tie */
    EXPECT(fpu_i32_to_f32(16777217, FPU_RMM, &flags), 0x4b800001u, NX);
    EXPECT(fpu_i32_to_f32(16777217, FPU_RUP, &flags), 0x4b800001u, NX);
    EXPECT(fpu_i32_to_f32(-16777217, FPU_RMM, &flags), 0xcb800001u, NX);
    EXPECT(fpu_i32_to_f32(-16777217, FPU_RUP, &flags), 0xcb800000u, NX);
    EXPECT(fpu_i32_to_f32(-1, FPU_RNE, &flags), 0xbf800000u, 0);
    EXPECT(fpu_i32_to_f32(0, FPU_RDN, &flags), 0, 0);
    EXPECT(fpu_u32_to_f32(0xffffffffu, FPU_RNE, &flags), 0x4f800000u, NX);
    EXPECT(fpu_u32_to_f32(0xffffffffu, FPU_RDN, &flags), 0x4f7fffffu, NX);
    EXPECT(fpu_u64_to_f64(0xffffffffffffffffull, FPU_RNE, &flags), 0x43f0000000000000ull, NX);
    EXPECT(fpu_u64_to_f64(0xffffffffffffffffull, FPU_RTZ, &flags), 0x43efffffffffffffull, NX);
    EXPECT(fpu_i64_to_f64(INT64_MIN, FPU_RNE, &flags), 0xc3e0000000000000ull, 0);
    EXPECT(fpu_i64_to_f64((1ll << 53) + 1, FPU_RMM, &flags), 0x4340000000000001ull, NX);
    EXPECT(fpu_i64_to_f64((1ll << 53) + 1, FPU_RNE, &flags), 0x4340000000000000ull, NX);
    EXPECT(fpu_i64_to_f32(INT64_MAX, FPU_RTZ, &flags), 0x5effffffu, NX);
    EXPECT(fpu_u64_to_f32(0xffffffffffffffffull, FPU_RUP, &flags), 0x5f800000u, NX);
    EXPECT(fpu_i32_to_f64(INT32_MIN, FPU_RMM, &flags), 0xc1e0000000000000ull, 0);
    EXPECT(fpu_u32_to_f64(0xffffffffu, FPU_RDN, &flags), 0x41efffffffe00000ull, 0);
}

static void f32_f64_conversions(void **state)
{
    (void)state;
    EXPECT(fpu_f32_to_f64(0x00000001u, &flags), 0x36a0000000000000ull, 0); /* 2^-149 */
    EXPECT(fpu_f32_to_f64(0x807fffffu, &flags), 0xb80fffffc0000000ull, 0);
    EXPECT(fpu_f32_to_f64(F32_ONE, &flags), F64_ONE, 0);
    EXPECT(fpu_f32_to_f64(F32_INF | F32_NEG, &flags), F64_INF | F64_NEG, 0);
    EXPECT(fpu_f32_to_f64(F32_NEG, &flags), F64_NEG, 0);
    EXPECT(fpu_f32_to_f64(F32_SNAN, &flags), FPU_F64_CANONICAL_NAN, NV);
    EXPECT(fpu_f32_to_f64(0xffc12345u, &flags), FPU_F64_CANONICAL_NAN, 0);
    /* 1 + 2^-24 is a tie in binary32. */
    EXPECT(fpu_f64_to_f32(0x3ff0000010000000ull, FPU_RNE, &flags), F32_ONE, NX);
    EXPECT(fpu_f64_to_f32(0x3ff0000010000000ull, FPU_RMM, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f64_to_f32(0x3ff0000010000000ull, FPU_RUP, &flags), 0x3f800001u, NX);
    EXPECT(fpu_f64_to_f32(0xbff0000010000000ull, FPU_RDN, &flags), 0xbf800001u, NX);
    EXPECT(fpu_f64_to_f32(0x3ff0000000000001ull, FPU_RTZ, &flags), F32_ONE, NX);
    EXPECT(fpu_f64_to_f32(F64_MAX, FPU_RNE, &flags), F32_INF, OF | NX);
    EXPECT(fpu_f64_to_f32(F64_MAX, FPU_RTZ, &flags), F32_MAX, OF | NX);
    EXPECT(fpu_f64_to_f32(F64_MAX | F64_NEG, FPU_RUP, &flags), F32_MAX | F32_NEG, OF | NX);
    EXPECT(fpu_f64_to_f32(0x3690000000000000ull, FPU_RNE, &flags), 0, UF | NX); /* 2^-150 */
    EXPECT(fpu_f64_to_f32(0x3690000000000000ull, FPU_RMM, &flags), 0x00000001u, UF | NX);
    EXPECT(fpu_f64_to_f32(0x36a0000000000000ull, FPU_RMM, &flags), 0x00000001u, 0);
    EXPECT(fpu_f64_to_f32(F64_SNAN, FPU_RNE, &flags), FPU_F32_CANONICAL_NAN, NV);
    EXPECT(fpu_f64_to_f32(0xfff8000000012345ull, FPU_RMM, &flags), FPU_F32_CANONICAL_NAN, 0);
    EXPECT(fpu_f64_to_f32(F64_INF | F64_NEG, FPU_RTZ, &flags), F32_INF | F32_NEG, 0);
}

static void flags_accumulate(void **state)
{
    (void)state;
    unsigned flags = FPU_DZ;
    fpu_f32_div(F32_ONE, 0x40400000u, FPU_RNE, &flags);
    fpu_f32_add(F32_SNAN, 0, FPU_RNE, &flags);
    assert_int_equal(flags, DZ | NX | NV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_rounds_ties_and_non_ties_in_every_mode),
        cmocka_unit_test(mul_div_round_in_every_mode),
        cmocka_unit_test(overflow_gives_inf_or_max_finite_by_mode),
        cmocka_unit_test(tininess_is_detected_after_rounding),
        cmocka_unit_test(nan_results_are_canonical_and_flag_only_for_snan),
        cmocka_unit_test(exact_zero_sums_take_the_mode_sign),
        cmocka_unit_test(fma_rounds_once),
        cmocka_unit_test(fma_nan_and_invalid_rules),
        cmocka_unit_test(min_max_follow_risc_v_rules),
        cmocka_unit_test(comparisons_quiet_and_signalling),
        cmocka_unit_test(fclass_covers_all_ten_classes),
        cmocka_unit_test(float_to_int_rounds_and_saturates),
        cmocka_unit_test(float_to_int64_limits),
        cmocka_unit_test(int_to_float_rounds),
        cmocka_unit_test(f32_f64_conversions),
        cmocka_unit_test(flags_accumulate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
