/* RISC-V F and D arithmetic on raw bit patterns (see fpu.h).
 *
 * Two paths. On x86-64 the five basic operations, f64->f32 narrowing and
 * (when the CPU has FMA3) fused multiply-add run on the host's SSE unit,
 * which is IEEE 754 correct and, like RISC-V, detects tininess after
 * rounding; each such operation loads its own MXCSR (rounding mode, flags
 * clear, all exceptions masked, no FTZ/DAZ) inside the same asm statement
 * as the arithmetic, so the compiler can neither reorder nor constant-fold
 * across it, and translates the x86 flags afterwards. Everything the host
 * cannot express - round-to-nearest-max-magnitude, RISC-V's NaN, min/max,
 * conversion and fma(inf, 0, qNaN) rules - goes through an exact software
 * implementation (integer significands, one rounding in round_pack). The
 * software path also runs alone when MINNOW_FPU_SOFTWARE_ONLY is defined or
 * the host is not x86-64; the differential test builds it that way too so
 * both paths are checked against QEMU.
 *
 * The common case, RNE on ordinary operands, avoids MXCSR traffic
 * altogether (see the RNE fast path below).
 *
 * Host state: after a host-path operation MXCSR holds its default control
 * bits (RNE, masked, no FTZ/DAZ) with sticky status flags possibly set.
 * The RNE fast path relies on those defaults, which a thread starts with
 * and which nothing in minnow changes. */
#include "cpu/fpu.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && !defined(MINNOW_FPU_SOFTWARE_ONLY)
#define FPU_HOST 1
#else
#define FPU_HOST 0
#endif

typedef unsigned __int128 u128;

#define F32_SIGN 0x80000000u
#define F64_SIGN 0x8000000000000000ull

/* ---------------------------------------------------------------------
 * Unpacked operands and the single rounding step
 * ------------------------------------------------------------------- */

enum fpu_kind { K_ZERO, K_FINITE, K_INF, K_QNAN, K_SNAN };

/* A finite nonzero value is (-1)^sign * sig * 2^exp with sig an integer. */
struct fpu_num {
    unsigned sign;
    int exp;
    uint64_t sig;
    enum fpu_kind kind;
};

/* Format parameters; `is64` selects binary64 over binary32. */
static inline int mbits(bool is64) { return is64 ? 52 : 23; }
static inline int bias_of(bool is64) { return is64 ? 1023 : 127; }
static inline int emax_field(bool is64) { return is64 ? 2047 : 255; }
static inline uint64_t canon_nan(bool is64) { return is64 ? FPU_F64_CANONICAL_NAN : FPU_F32_CANONICAL_NAN; }
static inline uint64_t sign_bit(bool is64, unsigned s) { return (uint64_t)s << (is64 ? 63 : 31); }

static inline struct fpu_num unpack(bool is64, uint64_t x)
{
    struct fpu_num n;
    int mb = mbits(is64);
    uint64_t mmask = (1ull << mb) - 1;
    int ebits = is64 ? 11 : 8;
    int e = (int)((x >> mb) & ((1u << ebits) - 1));
    uint64_t m = x & mmask;
    n.sign = (unsigned)(x >> (mb + ebits)) & 1;
    n.exp = 0;
    n.sig = 0;
    if (e == emax_field(is64)) {
        if (m == 0)
            n.kind = K_INF;
        else
            n.kind = (m >> (mb - 1)) ? K_QNAN : K_SNAN;
    } else if (e == 0) {
        n.kind = m ? K_FINITE : K_ZERO;
        n.sig = m;
        n.exp = 1 - bias_of(is64) - mb;
    } else {
        n.kind = K_FINITE;
        n.sig = m | (1ull << mb);
        n.exp = e - bias_of(is64) - mb;
    }
    return n;
}

static inline bool is_nan_kind(enum fpu_kind k) { return k == K_QNAN || k == K_SNAN; }

static inline bool f32_is_nan(uint32_t x) { return (x & 0x7fffffffu) > 0x7f800000u; }
static inline bool f64_is_nan(uint64_t x) { return (x & ~F64_SIGN) > 0x7ff0000000000000ull; }
static inline bool f32_is_snan(uint32_t x) { return f32_is_nan(x) && !(x & 0x00400000u); }
static inline bool f64_is_snan(uint64_t x) { return f64_is_nan(x) && !(x & 0x0008000000000000ull); }

static inline int clz128(u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? __builtin_clzll(hi) : 64 + __builtin_clzll((uint64_t)x);
}

/* Whether dropping `rest` (below `half` * 2) from a magnitude whose kept
 * least significant bit is `lsb` rounds the magnitude up. */
static inline bool round_increment(uint64_t rest, uint64_t half, unsigned lsb, unsigned sign, int rm)
{
    switch (rm) {
    case FPU_RNE: return rest > half || (rest == half && lsb);
    case FPU_RTZ: return false;
    case FPU_RDN: return sign && rest;
    case FPU_RUP: return !sign && rest;
    default:      return rest >= half; /* RMM */
    }
}

static inline uint64_t overflow_result(bool is64, unsigned sign, int rm, unsigned *flags)
{
    *flags |= FPU_OF | FPU_NX;
    bool to_inf = rm == FPU_RNE || rm == FPU_RMM || (rm == FPU_RDN && sign) || (rm == FPU_RUP && !sign);
    uint64_t mag = (uint64_t)emax_field(is64) << mbits(is64);
    if (!to_inf)
        mag -= 1; /* largest finite */
    return sign_bit(is64, sign) | mag;
}

static inline uint64_t zero_result(bool is64, unsigned sign) { return sign_bit(is64, sign); }

/* Rounds (-1)^sign * sig * 2^exp (sig != 0; its bit 0 may be a sticky bit
 * standing for lost lower bits) to the format: the one rounding of every
 * software operation. Tininess is judged after rounding, as RISC-V wants:
 * a result is tiny if rounding it to the format's precision with an
 * unbounded exponent still leaves it below the smallest normal. */
static uint64_t round_pack(bool is64, unsigned sign, int exp, uint64_t sig, int rm, unsigned *flags)
{
    int mb = mbits(is64);
    int rbits = 63 - mb;
    uint64_t half = 1ull << (rbits - 1);
    uint64_t rmask = (1ull << rbits) - 1;
    int lz = __builtin_clzll(sig);
    sig <<= lz;
    exp -= lz;
    /* value = 1.f * 2^(exp + 63) */
    int e = exp + 63 + bias_of(is64);
    if (e >= 1) {
        if (e >= emax_field(is64))
            return overflow_result(is64, sign, rm, flags);
        uint64_t rest = sig & rmask;
        uint64_t m = sig >> rbits;
        if (round_increment(rest, half, (unsigned)m & 1, sign, rm)) {
            m++;
            if (m >> (mb + 1)) {
                m >>= 1;
                e++;
                if (e >= emax_field(is64))
                    return overflow_result(is64, sign, rm, flags);
            }
        }
        if (rest)
            *flags |= FPU_NX;
        return sign_bit(is64, sign) | ((uint64_t)e << mb) | (m & ((1ull << mb) - 1));
    }
    bool tiny = true;
    if (e == 0) {
        uint64_t rest = sig & rmask;
        uint64_t m = sig >> rbits;
        if (round_increment(rest, half, (unsigned)m & 1, sign, rm) && m + 1 == (1ull << (mb + 1)))
            tiny = false;
    }
    int sh = 1 - e;
    sig = sh >= 64 ? 1 : (sig >> sh) | ((sig << (64 - sh)) != 0);
    uint64_t rest = sig & rmask;
    uint64_t m = sig >> rbits;
    if (round_increment(rest, half, (unsigned)m & 1, sign, rm))
        m++; /* a carry into bit mb makes it the smallest normal: the encoding works out */
    if (rest) {
        *flags |= FPU_NX;
        if (tiny)
            *flags |= FPU_UF;
    }
    return sign_bit(is64, sign) | m;
}

/* round_pack for a 128-bit significand, jamming the low half into a sticky bit. */
static uint64_t round_pack128(bool is64, unsigned sign, int exp, u128 sig, int rm, unsigned *flags)
{
    int lz = clz128(sig);
    sig <<= lz;
    exp -= lz;
    uint64_t hi = (uint64_t)(sig >> 64);
    hi |= (uint64_t)sig != 0;
    return round_pack(is64, sign, exp + 64, hi, rm, flags);
}

/* Exactly adds two nonzero finite values X*2^ex and Y*2^ey (X, Y < 2^120)
 * and rounds once. Both are normalised to bit 125; a right shift of the
 * smaller one jams lost bits into bit 0, which is far below the rounding
 * position because bits are lost only when the exponents differ by more
 * than the zero bits below a normalised significand (>= 19), and then no
 * cancellation of more than one bit can happen. */
static uint64_t add_core(bool is64, unsigned sx, u128 x, int ex, unsigned sy, u128 y, int ey, int rm,
                         unsigned *flags)
{
    int lx = clz128(x) - 2, ly = clz128(y) - 2;
    x <<= lx;
    ex -= lx;
    y <<= ly;
    ey -= ly;
    if (ex < ey) {
        u128 t = x; x = y; y = t;
        int te = ex; ex = ey; ey = te;
        unsigned ts = sx; sx = sy; sy = ts;
    }
    int d = ex - ey;
    if (d >= 126)
        y = 1;
    else if (d > 0)
        y = (y >> d) | ((y << (128 - d)) != 0);
    u128 s;
    unsigned sign = sx;
    if (sx == sy) {
        s = x + y;
    } else if (x >= y) {
        s = x - y;
    } else {
        s = y - x;
        sign = sy;
    }
    if (s == 0)
        return zero_result(is64, rm == FPU_RDN);
    return round_pack128(is64, sign, ex, s, rm, flags);
}

/* ---------------------------------------------------------------------
 * Software arithmetic (exact, any rounding mode)
 * ------------------------------------------------------------------- */

static uint64_t soft_add(bool is64, uint64_t a, uint64_t b, int rm, unsigned *flags)
{
    struct fpu_num x = unpack(is64, a), y = unpack(is64, b);
    if (is_nan_kind(x.kind) || is_nan_kind(y.kind)) {
        if (x.kind == K_SNAN || y.kind == K_SNAN)
            *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (x.kind == K_INF || y.kind == K_INF) {
        if (x.kind == K_INF && y.kind == K_INF && x.sign != y.sign) {
            *flags |= FPU_NV;
            return canon_nan(is64);
        }
        return x.kind == K_INF ? a : b;
    }
    if (x.kind == K_ZERO && y.kind == K_ZERO)
        return zero_result(is64, x.sign == y.sign ? x.sign : rm == FPU_RDN);
    if (x.kind == K_ZERO)
        return b;
    if (y.kind == K_ZERO)
        return a;
    return add_core(is64, x.sign, x.sig, x.exp, y.sign, y.sig, y.exp, rm, flags);
}

static uint64_t soft_mul(bool is64, uint64_t a, uint64_t b, int rm, unsigned *flags)
{
    struct fpu_num x = unpack(is64, a), y = unpack(is64, b);
    unsigned sign = x.sign ^ y.sign;
    if (is_nan_kind(x.kind) || is_nan_kind(y.kind)) {
        if (x.kind == K_SNAN || y.kind == K_SNAN)
            *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (x.kind == K_INF || y.kind == K_INF) {
        if (x.kind == K_ZERO || y.kind == K_ZERO) {
            *flags |= FPU_NV;
            return canon_nan(is64);
        }
        return sign_bit(is64, sign) | ((uint64_t)emax_field(is64) << mbits(is64));
    }
    if (x.kind == K_ZERO || y.kind == K_ZERO)
        return zero_result(is64, sign);
    return round_pack128(is64, sign, x.exp + y.exp, (u128)x.sig * y.sig, rm, flags);
}

static uint64_t soft_div(bool is64, uint64_t a, uint64_t b, int rm, unsigned *flags)
{
    struct fpu_num x = unpack(is64, a), y = unpack(is64, b);
    unsigned sign = x.sign ^ y.sign;
    uint64_t inf = sign_bit(is64, sign) | ((uint64_t)emax_field(is64) << mbits(is64));
    if (is_nan_kind(x.kind) || is_nan_kind(y.kind)) {
        if (x.kind == K_SNAN || y.kind == K_SNAN)
            *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (x.kind == K_INF) {
        if (y.kind == K_INF) {
            *flags |= FPU_NV;
            return canon_nan(is64);
        }
        return inf;
    }
    if (y.kind == K_INF)
        return zero_result(is64, sign);
    if (y.kind == K_ZERO) {
        if (x.kind == K_ZERO) {
            *flags |= FPU_NV;
            return canon_nan(is64);
        }
        *flags |= FPU_DZ;
        return inf;
    }
    if (x.kind == K_ZERO)
        return zero_result(is64, sign);
    int lx = __builtin_clzll(x.sig), ly = __builtin_clzll(y.sig);
    uint64_t xs = x.sig << lx, ys = y.sig << ly;
    /* xs, ys in [2^63, 2^64): the quotient has at least 64 significant bits. */
    u128 n = (u128)xs << 64;
    u128 q = n / ys;
    u128 r = n - q * ys;
    return round_pack128(is64, sign, (x.exp - lx) - (y.exp - ly) - 64, q | (r != 0), rm, flags);
}

static uint64_t soft_sqrt(bool is64, uint64_t a, int rm, unsigned *flags)
{
    struct fpu_num x = unpack(is64, a);
    if (is_nan_kind(x.kind)) {
        if (x.kind == K_SNAN)
            *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (x.kind == K_ZERO)
        return a;
    if (x.sign) {
        *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (x.kind == K_INF)
        return a;
    int lz = __builtin_clzll(x.sig);
    u128 n = (u128)(x.sig << lz) << 64;
    int e = x.exp - lz - 64;
    if (e & 1) {
        n >>= 1; /* bit 0 of n is zero: nothing is lost */
        e += 1;
    }
    /* Digit-by-digit integer square root; n >= 2^126 so the root has 63+ bits. */
    u128 rem = n, root = 0, bit = (u128)1 << 126;
    while (bit) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return round_pack128(is64, 0, e / 2, root | (rem != 0), rm, flags);
}

static uint64_t soft_fma(bool is64, uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op, int rm,
                         unsigned *flags)
{
    struct fpu_num x = unpack(is64, a), y = unpack(is64, b), z = unpack(is64, c);
    bool inf_times_zero = (x.kind == K_INF && y.kind == K_ZERO) || (x.kind == K_ZERO && y.kind == K_INF);
    if (is_nan_kind(x.kind) || is_nan_kind(y.kind) || is_nan_kind(z.kind)) {
        /* RISC-V raises NV for inf*0 even when the addend is a quiet NaN. */
        if (x.kind == K_SNAN || y.kind == K_SNAN || z.kind == K_SNAN || inf_times_zero)
            *flags |= FPU_NV;
        return canon_nan(is64);
    }
    if (inf_times_zero) {
        *flags |= FPU_NV;
        return canon_nan(is64);
    }
    unsigned sp = x.sign ^ y.sign ^ (op == FPU_FNMSUB || op == FPU_FNMADD);
    unsigned sc = z.sign ^ (op == FPU_FMSUB || op == FPU_FNMADD);
    uint64_t inf = (uint64_t)emax_field(is64) << mbits(is64);
    if (x.kind == K_INF || y.kind == K_INF) {
        if (z.kind == K_INF && sc != sp) {
            *flags |= FPU_NV;
            return canon_nan(is64);
        }
        return sign_bit(is64, sp) | inf;
    }
    if (z.kind == K_INF)
        return sign_bit(is64, sc) | inf;
    if (x.kind == K_ZERO || y.kind == K_ZERO) {
        if (z.kind == K_ZERO)
            return zero_result(is64, sp == sc ? sp : rm == FPU_RDN);
        return (c & ~sign_bit(is64, 1)) | sign_bit(is64, sc);
    }
    u128 p = (u128)x.sig * y.sig;
    if (z.kind == K_ZERO)
        return round_pack128(is64, sp, x.exp + y.exp, p, rm, flags);
    return add_core(is64, sp, p, x.exp + y.exp, sc, z.sig, z.exp, rm, flags);
}

/* ---------------------------------------------------------------------
 * Host (x86-64 SSE) path
 * ------------------------------------------------------------------- */

#if FPU_HOST
/* Default MXCSR: all exceptions masked, status clear, RNE, no FTZ/DAZ. */
#define MXCSR_DEFAULT 0x1f80u

/* RISC-V rm -> MXCSR (RC field, bits 13-14); RMM never gets here. */
static const uint32_t mxcsr_for_rm[4] = {
    MXCSR_DEFAULT,          /* RNE: nearest */
    MXCSR_DEFAULT | 0x6000, /* RTZ: toward zero */
    MXCSR_DEFAULT | 0x2000, /* RDN: down */
    MXCSR_DEFAULT | 0x4000, /* RUP: up */
};

/* x86 status bits IE DE ZE OE UE PE -> fflags (DE, denormal operand, has no
 * RISC-V counterpart). */
static inline unsigned mxcsr_flags(uint32_t m)
{
    return ((m & 1) << 4) | ((m & 4) << 1) | ((m & 8) >> 1) | ((m & 16) >> 3) | ((m & 32) >> 5);
}

/* One SSE instruction "insn src, dst" under the MXCSR for rm. The mode is
 * loaded, the op run and the status read in one asm statement so nothing
 * can be moved between them; a non-default mode is put back before the
 * statement ends so compiler-generated FP code never sees it. */
#define HOST_OP(insn, dst, src, rm, flags)                                                           \
    do {                                                                                             \
        uint32_t mx_ = mxcsr_for_rm[(rm)], st_, def_ = MXCSR_DEFAULT;                                \
        if ((rm) == FPU_RNE)                                                                         \
            __asm__ volatile("ldmxcsr %[mx]\n\t" insn " %[s], %[d]\n\tstmxcsr %[st]"                 \
                             : [d] "+x"(dst), [st] "=m"(st_)                                         \
                             : [s] "x"(src), [mx] "m"(mx_));                                         \
        else                                                                                         \
            __asm__ volatile("ldmxcsr %[mx]\n\t" insn " %[s], %[d]\n\tstmxcsr %[st]\n\t"             \
                             "ldmxcsr %[df]"                                                         \
                             : [d] "+x"(dst), [st] "=m"(st_)                                         \
                             : [s] "x"(src), [mx] "m"(mx_), [df] "m"(def_));                         \
        *(flags) |= mxcsr_flags(st_);                                                                \
    } while (0)

/* dst = a*b + dst with one rounding (FMA3). */
#define HOST_FMA(insn, dst, fa, fb, rm, flags)                                                       \
    do {                                                                                             \
        uint32_t mx_ = mxcsr_for_rm[(rm)], st_, def_ = MXCSR_DEFAULT;                                \
        if ((rm) == FPU_RNE)                                                                         \
            __asm__ volatile("ldmxcsr %[mx]\n\t" insn " %[b], %[a], %[d]\n\tstmxcsr %[st]"           \
                             : [d] "+x"(dst), [st] "=m"(st_)                                         \
                             : [a] "x"(fa), [b] "x"(fb), [mx] "m"(mx_));                             \
        else                                                                                         \
            __asm__ volatile("ldmxcsr %[mx]\n\t" insn " %[b], %[a], %[d]\n\tstmxcsr %[st]\n\t"       \
                             "ldmxcsr %[df]"                                                         \
                             : [d] "+x"(dst), [st] "=m"(st_)                                         \
                             : [a] "x"(fa), [b] "x"(fb), [mx] "m"(mx_), [df] "m"(def_));             \
        *(flags) |= mxcsr_flags(st_);                                                                \
    } while (0)

static inline float f32_of(uint32_t x) { float f; memcpy(&f, &x, 4); return f; }
static inline uint32_t bits_f32(float f) { uint32_t x; memcpy(&x, &f, 4); return x; }
static inline double f64_of(uint64_t x) { double d; memcpy(&d, &x, 8); return d; }
static inline uint64_t bits_f64(double d) { uint64_t x; memcpy(&x, &d, 8); return x; }

/* The RNE fast path. MXCSR is at its default (RNE, no FTZ/DAZ) between
 * operations, so plain SSE arithmetic gives the right result bits; what
 * costs is clearing and reading the status flags (an ldmxcsr/stmxcsr pair
 * is ~30 cycles). For operands that cannot overflow, underflow or produce
 * a NaN the only possible flag is NX, and that is computed exactly from an
 * error-free transformation instead: TwoSum for add, the residual
 * fma(a, b, -a*b), b*q - a or r*r - a (exact when nothing underflows) for
 * mul, div and sqrt. binary32 operations run in binary64 and are rounded
 * once more: for +, -, *, / and sqrt that double rounding is innocuous
 * because 53 >= 2*24 + 2, and the binary64 intermediate makes the NX test
 * an exact comparison. Anything else returns false and takes the MXCSR
 * path. */
static inline unsigned exp32(uint32_t x) { return (x >> 23) & 0xff; }
static inline unsigned exp64(uint64_t x) { return (unsigned)(x >> 52) & 0x7ff; }

/* a*b+c rounded once, in the default (RNE) mode; only with FMA3. */
static inline double fma_rne(double a, double b, double c)
{
    __asm__("vfmadd231sd %[b], %[a], %[c]" : [c] "+x"(c) : [a] "x"(a), [b] "x"(b));
    return c;
}

static inline double sqrt_rne(double a)
{
    double r;
    __asm__("sqrtsd %[a], %[r]" : [r] "=x"(r) : [a] "x"(a));
    return r;
}

/* Knuth's TwoSum: the error of s = RN(x + y), exactly, without overflow. */
static inline double two_sum_err(double x, double y, double s)
{
    double bb = s - x;
    return (x - (s - bb)) + (y - bb);
}

static inline bool sum_is_exact(double x, double y, double s) { return two_sum_err(x, y, s) == 0; }

static inline bool fast_add64(uint64_t a, uint64_t b, uint64_t *out, unsigned *flags)
{
    /* Below 2^1023 each, so the sum cannot overflow; sums never underflow
     * (a tiny sum is exact). Zeros and subnormals are fine. */
    if (exp64(a) >= 2046 || exp64(b) >= 2046)
        return false;
    double x = f64_of(a), y = f64_of(b), s = x + y;
    if (!sum_is_exact(x, y, s))
        *flags |= FPU_NX;
    *out = bits_f64(s);
    return true;
}

static inline bool fast_mul64(uint64_t a, uint64_t b, uint64_t *out, unsigned *flags)
{
    int ea = (int)exp64(a), eb = (int)exp64(b);
    /* Both normal, product exponent in [-970, 1021]: normal result, and the
     * residual (a multiple of 2^(e-104)) is representable. */
    if (ea == 0 || eb == 0 || ea == 2047 || eb == 2047 || ea + eb - 2046 < -970 || ea + eb - 2046 > 1021 ||
        !__builtin_cpu_supports("fma"))
        return false;
    double x = f64_of(a), y = f64_of(b), p = x * y;
    if (fma_rne(x, y, -p) != 0)
        *flags |= FPU_NX;
    *out = bits_f64(p);
    return true;
}

static inline bool fast_div64(uint64_t a, uint64_t b, uint64_t *out, unsigned *flags)
{
    int ea = (int)exp64(a), eb = (int)exp64(b);
    /* Quotient exponent within +-1001 (normal, finite); a's exponent high
     * enough that the remainder a - q*b cannot underflow. */
    if (ea < 100 || ea == 2047 || eb == 0 || eb == 2047 || ea - eb > 1000 || eb - ea > 1000 ||
        !__builtin_cpu_supports("fma"))
        return false;
    double x = f64_of(a), y = f64_of(b), q = x / y;
    if (fma_rne(-q, y, x) != 0)
        *flags |= FPU_NX;
    *out = bits_f64(q);
    return true;
}

static inline bool fast_sqrt64(uint64_t a, uint64_t *out, unsigned *flags)
{
    int ea = (int)exp64(a);
    if ((a >> 63) || ea < 100 || ea == 2047 || !__builtin_cpu_supports("fma"))
        return false;
    double x = f64_of(a), r = sqrt_rne(x);
    if (fma_rne(r, r, -x) != 0)
        *flags |= FPU_NX;
    *out = bits_f64(r);
    return true;
}

/* fma: r = RN(a*b + c) is exact iff the residual a*b + c - r is zero. With
 * a*b = p + e (e from fma) and p + c = s + t (TwoSum), the residual is
 * (s - r) + t + e. s and r are a few ulps apart unless p and c cancel, so
 * d = s - r is normally exact (checked with TwoSum; if not, give up). Then
 * with d + t = v + w (TwoSum, |w| <= ulp(v)/2) the residual is zero iff
 * v + w = -e, and as -e is a double that means v == -e and w == 0. */
static inline bool fast_fma64(uint64_t a, uint64_t b, uint64_t c, uint64_t *out, unsigned *flags)
{
    int ea = (int)exp64(a) - 1023, eb = (int)exp64(b) - 1023, ec = (int)exp64(c) - 1023;
    /* Normal operands, product and addend within 2^+-1000: nothing
     * overflows and the product's low part is representable. */
    if (ea < -1022 || eb < -1022 || ec < -900 || ea > 1023 || eb > 1023 || ec > 1000 || ea + eb < -900 ||
        ea + eb > 1000 || !__builtin_cpu_supports("fma"))
        return false;
    double x = f64_of(a), y = f64_of(b), z = f64_of(c);
    double r = fma_rne(x, y, z);
    uint64_t rb = bits_f64(r);
    if (exp64(rb) < 2) /* zero or near the underflow threshold */
        return false;
    double p = x * y, e = fma_rne(x, y, -p);
    double s = p + z, t = two_sum_err(p, z, s);
    double d = s - r;
    if (two_sum_err(s, -r, d) != 0)
        return false;
    double v = d + t, w = two_sum_err(d, t, v);
    if (!(v == -e && w == 0))
        *flags |= FPU_NX;
    *out = rb;
    return true;
}

/* binary32 result of a binary64 intermediate d, or false if it overflows
 * or might be tiny (then flags need the slow path). `exact` says whether d
 * itself is the exact result. */
static inline bool narrow_result(double d, bool exact, bool tiny_ok, uint32_t *out, unsigned *flags)
{
    float r = (float)d;
    double ad = d < 0 ? -d : d;
    bool inexact = !exact || (double)r != d;
    if (ad >= 0x1p128 || (r != r))
        return false;
    if (inexact && ad < 0x1p-125 && !tiny_ok)
        return false;
    if (bits_f32(r) == 0x7f800000u || bits_f32(r) == 0xff800000u)
        return false;
    if (inexact)
        *flags |= FPU_NX;
    *out = bits_f32(r);
    return true;
}

static inline bool fast_add32(uint32_t a, uint32_t b, uint32_t *out, unsigned *flags)
{
    if (exp32(a) == 255 || exp32(b) == 255)
        return false;
    double x = f32_of(a), y = f32_of(b), s = x + y;
    /* A tiny binary32 sum is exact, so tininess never matters here. */
    return narrow_result(s, sum_is_exact(x, y, s), true, out, flags);
}

static inline bool fast_mul32(uint32_t a, uint32_t b, uint32_t *out, unsigned *flags)
{
    if (exp32(a) == 255 || exp32(b) == 255)
        return false;
    /* 24x24-bit products are exact in binary64. */
    double p = (double)f32_of(a) * (double)f32_of(b);
    return narrow_result(p, true, false, out, flags);
}

static inline bool fast_div32(uint32_t a, uint32_t b, uint32_t *out, unsigned *flags)
{
    if (exp32(a) == 255 || exp32(b) == 255 || (b & 0x7fffffffu) == 0)
        return false;
    double x = f32_of(a), y = f32_of(b), q = x / y;
    float r = (float)q;
    /* Exact iff r*b == a; r*b is exact in binary64 (24x24 bits). */
    bool exact = (double)r * y == x && r == r;
    return narrow_result(q, exact, false, out, flags);
}

static inline bool fast_sqrt32(uint32_t a, uint32_t *out, unsigned *flags)
{
    if ((a >> 31) || exp32(a) == 255)
        return false;
    double x = f32_of(a), d = sqrt_rne(x);
    float r = (float)d;
    bool exact = (double)r * (double)r == x;
    return narrow_result(d, exact, true, out, flags);
}

/* SSE already produces IEEE results and flags for NaN operands (IE only
 * for signalling ones); only the NaN's bits need replacing. */
#define HOST_BIN32(insn, a, b, rm, flags)                                                            \
    do {                                                                                             \
        float d_ = f32_of(a), s_ = f32_of(b);                                                        \
        HOST_OP(insn, d_, s_, rm, flags);                                                            \
        uint32_t r_ = bits_f32(d_);                                                                  \
        return f32_is_nan(r_) ? FPU_F32_CANONICAL_NAN : r_;                                          \
    } while (0)
#define HOST_BIN64(insn, a, b, rm, flags)                                                            \
    do {                                                                                             \
        double d_ = f64_of(a), s_ = f64_of(b);                                                       \
        HOST_OP(insn, d_, s_, rm, flags);                                                            \
        uint64_t r_ = bits_f64(d_);                                                                  \
        return f64_is_nan(r_) ? FPU_F64_CANONICAL_NAN : r_;                                          \
    } while (0)
#endif

/* ---------------------------------------------------------------------
 * Public arithmetic
 * ------------------------------------------------------------------- */

uint32_t fpu_f32_add(uint32_t a, uint32_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint32_t fr;
    if (rm == FPU_RNE && fast_add32(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN32("addss", a, b, rm, flags);
#endif
    return (uint32_t)soft_add(false, a, b, rm, flags);
}

uint32_t fpu_f32_sub(uint32_t a, uint32_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint32_t fr;
    if (rm == FPU_RNE && fast_add32(a, b ^ F32_SIGN, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN32("subss", a, b, rm, flags);
#endif
    /* Flipping b's sign is exact and keeps NaN-ness, so sub is add. */
    return (uint32_t)soft_add(false, a, b ^ F32_SIGN, rm, flags);
}

uint32_t fpu_f32_mul(uint32_t a, uint32_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint32_t fr;
    if (rm == FPU_RNE && fast_mul32(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN32("mulss", a, b, rm, flags);
#endif
    return (uint32_t)soft_mul(false, a, b, rm, flags);
}

uint32_t fpu_f32_div(uint32_t a, uint32_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint32_t fr;
    if (rm == FPU_RNE && fast_div32(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN32("divss", a, b, rm, flags);
#endif
    return (uint32_t)soft_div(false, a, b, rm, flags);
}

uint32_t fpu_f32_sqrt(uint32_t a, int rm, unsigned *flags)
{
#if FPU_HOST
    uint32_t fr;
    if (rm == FPU_RNE && fast_sqrt32(a, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN32("sqrtss", a, a, rm, flags);
#endif
    return (uint32_t)soft_sqrt(false, a, rm, flags);
}

uint64_t fpu_f64_add(uint64_t a, uint64_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint64_t fr;
    if (rm == FPU_RNE && fast_add64(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN64("addsd", a, b, rm, flags);
#endif
    return soft_add(true, a, b, rm, flags);
}

uint64_t fpu_f64_sub(uint64_t a, uint64_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint64_t fr;
    if (rm == FPU_RNE && fast_add64(a, b ^ F64_SIGN, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN64("subsd", a, b, rm, flags);
#endif
    return soft_add(true, a, b ^ F64_SIGN, rm, flags);
}

uint64_t fpu_f64_mul(uint64_t a, uint64_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint64_t fr;
    if (rm == FPU_RNE && fast_mul64(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN64("mulsd", a, b, rm, flags);
#endif
    return soft_mul(true, a, b, rm, flags);
}

uint64_t fpu_f64_div(uint64_t a, uint64_t b, int rm, unsigned *flags)
{
#if FPU_HOST
    uint64_t fr;
    if (rm == FPU_RNE && fast_div64(a, b, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN64("divsd", a, b, rm, flags);
#endif
    return soft_div(true, a, b, rm, flags);
}

uint64_t fpu_f64_sqrt(uint64_t a, int rm, unsigned *flags)
{
#if FPU_HOST
    uint64_t fr;
    if (rm == FPU_RNE && fast_sqrt64(a, &fr, flags))
        return fr;
    if (__builtin_expect(rm != FPU_RMM, 1))
        HOST_BIN64("sqrtsd", a, a, rm, flags);
#endif
    return soft_sqrt(true, a, rm, flags);
}

/* The fma variants become a*b+c by flipping operand signs, which is exact.
 * NaN operands go to the software path, which knows RISC-V's
 * fma(inf, 0, qNaN) rule; x86 leaves that case implementation-defined. */
uint32_t fpu_f32_fma(uint32_t a, uint32_t b, uint32_t c, enum fpu_fma_op op, int rm, unsigned *flags)
{
#if FPU_HOST
    if (__builtin_expect(rm != FPU_RMM, 1) && __builtin_cpu_supports("fma") && !f32_is_nan(a) &&
        !f32_is_nan(b) && !f32_is_nan(c)) {
        uint32_t na = (op == FPU_FNMSUB || op == FPU_FNMADD) ? F32_SIGN : 0;
        uint32_t nc = (op == FPU_FMSUB || op == FPU_FNMADD) ? F32_SIGN : 0;
        float x = f32_of(a ^ na), y = f32_of(b), d = f32_of(c ^ nc);
        HOST_FMA("vfmadd231ss", d, x, y, rm, flags);
        uint32_t r = bits_f32(d);
        return f32_is_nan(r) ? FPU_F32_CANONICAL_NAN : r;
    }
#endif
    return (uint32_t)soft_fma(false, a, b, c, op, rm, flags);
}

uint64_t fpu_f64_fma(uint64_t a, uint64_t b, uint64_t c, enum fpu_fma_op op, int rm, unsigned *flags)
{
#if FPU_HOST
    if (rm == FPU_RNE) {
        uint64_t fr;
        uint64_t na = (op == FPU_FNMSUB || op == FPU_FNMADD) ? F64_SIGN : 0;
        uint64_t nc = (op == FPU_FMSUB || op == FPU_FNMADD) ? F64_SIGN : 0;
        if (fast_fma64(a ^ na, b, c ^ nc, &fr, flags))
            return fr;
    }
    if (__builtin_expect(rm != FPU_RMM, 1) && __builtin_cpu_supports("fma") && !f64_is_nan(a) &&
        !f64_is_nan(b) && !f64_is_nan(c)) {
        uint64_t na = (op == FPU_FNMSUB || op == FPU_FNMADD) ? F64_SIGN : 0;
        uint64_t nc = (op == FPU_FMSUB || op == FPU_FNMADD) ? F64_SIGN : 0;
        double x = f64_of(a ^ na), y = f64_of(b), d = f64_of(c ^ nc);
        HOST_FMA("vfmadd231sd", d, x, y, rm, flags);
        uint64_t r = bits_f64(d);
        return f64_is_nan(r) ? FPU_F64_CANONICAL_NAN : r;
    }
#endif
    return soft_fma(true, a, b, c, op, rm, flags);
}

/* ---------------------------------------------------------------------
 * Min/max, comparisons, classification (bit-level, no rounding)
 * ------------------------------------------------------------------- */

/* a < b on non-NaN values, treating -0 as below +0 (what min/max want). */
static inline bool total_lt(bool is64, uint64_t a, uint64_t b)
{
    unsigned sa = (unsigned)(a >> (is64 ? 63 : 31)), sb = (unsigned)(b >> (is64 ? 63 : 31));
    if (sa != sb)
        return sa;
    return sa ? a > b : a < b;
}

static inline bool both_zero(bool is64, uint64_t a, uint64_t b)
{
    uint64_t mag = is64 ? ~F64_SIGN : 0x7fffffffull;
    return ((a | b) & mag) == 0;
}

static uint64_t minmax(bool is64, uint64_t a, uint64_t b, bool want_max, unsigned *flags)
{
    bool na = is64 ? f64_is_nan(a) : f32_is_nan((uint32_t)a);
    bool nb = is64 ? f64_is_nan(b) : f32_is_nan((uint32_t)b);
    if (na || nb) {
        bool sn = is64 ? (f64_is_snan(a) || f64_is_snan(b)) : (f32_is_snan((uint32_t)a) || f32_is_snan((uint32_t)b));
        if (sn)
            *flags |= FPU_NV;
        if (na && nb)
            return canon_nan(is64);
        return na ? b : a;
    }
    return total_lt(is64, a, b) != want_max ? a : b;
}

uint32_t fpu_f32_min(uint32_t a, uint32_t b, unsigned *flags) { return (uint32_t)minmax(false, a, b, false, flags); }
uint32_t fpu_f32_max(uint32_t a, uint32_t b, unsigned *flags) { return (uint32_t)minmax(false, a, b, true, flags); }
uint64_t fpu_f64_min(uint64_t a, uint64_t b, unsigned *flags) { return minmax(true, a, b, false, flags); }
uint64_t fpu_f64_max(uint64_t a, uint64_t b, unsigned *flags) { return minmax(true, a, b, true, flags); }

/* Comparison kinds. */
enum { CMP_EQ, CMP_LT, CMP_LE };

static int compare(bool is64, uint64_t a, uint64_t b, int kind, unsigned *flags)
{
    bool na = is64 ? f64_is_nan(a) : f32_is_nan((uint32_t)a);
    bool nb = is64 ? f64_is_nan(b) : f32_is_nan((uint32_t)b);
    if (na || nb) {
        /* feq is quiet (NV only for sNaN); flt and fle signal on any NaN. */
        bool sn = is64 ? (f64_is_snan(a) || f64_is_snan(b)) : (f32_is_snan((uint32_t)a) || f32_is_snan((uint32_t)b));
        if (kind != CMP_EQ || sn)
            *flags |= FPU_NV;
        return 0;
    }
    bool eq = a == b || both_zero(is64, a, b);
    switch (kind) {
    case CMP_EQ: return eq;
    case CMP_LT: return !eq && total_lt(is64, a, b);
    default:     return eq || total_lt(is64, a, b);
    }
}

int fpu_f32_eq(uint32_t a, uint32_t b, unsigned *flags) { return compare(false, a, b, CMP_EQ, flags); }
int fpu_f32_lt(uint32_t a, uint32_t b, unsigned *flags) { return compare(false, a, b, CMP_LT, flags); }
int fpu_f32_le(uint32_t a, uint32_t b, unsigned *flags) { return compare(false, a, b, CMP_LE, flags); }
int fpu_f64_eq(uint64_t a, uint64_t b, unsigned *flags) { return compare(true, a, b, CMP_EQ, flags); }
int fpu_f64_lt(uint64_t a, uint64_t b, unsigned *flags) { return compare(true, a, b, CMP_LT, flags); }
int fpu_f64_le(uint64_t a, uint64_t b, unsigned *flags) { return compare(true, a, b, CMP_LE, flags); }

static unsigned classify(bool is64, uint64_t a)
{
    struct fpu_num n = unpack(is64, a);
    int mb = mbits(is64);
    bool subnormal = n.kind == K_FINITE && !(n.sig >> mb);
    switch (n.kind) {
    case K_INF:    return n.sign ? 1u << 0 : 1u << 7;
    case K_ZERO:   return n.sign ? 1u << 3 : 1u << 4;
    case K_SNAN:   return 1u << 8;
    case K_QNAN:   return 1u << 9;
    default:
        if (subnormal)
            return n.sign ? 1u << 2 : 1u << 5;
        return n.sign ? 1u << 1 : 1u << 6;
    }
}

unsigned fpu_f32_class(uint32_t a) { return classify(false, a); }
unsigned fpu_f64_class(uint64_t a) { return classify(true, a); }

/* ---------------------------------------------------------------------
 * Float -> integer: round per rm, saturate out-of-range with NV
 * ------------------------------------------------------------------- */

/* Converts to an integer of `bits` bits, signed or not. Returns the result
 * as a 64-bit pattern (sign-extended for signed types). */
static uint64_t to_int(bool is64, uint64_t a, int rm, int bits, bool is_signed, unsigned *flags)
{
    struct fpu_num n = unpack(is64, a);
    uint64_t umax = bits == 64 ? ~0ull : (1ull << bits) - 1;
    uint64_t smax = umax >> 1;          /* as a magnitude */
    uint64_t smin_mag = smax + 1;       /* |INT_MIN| */
    uint64_t pos_max = is_signed ? smax : umax;
    uint64_t neg_min = is_signed ? (uint64_t)0 - smin_mag : 0; /* bit pattern of the minimum */
    if (is_nan_kind(n.kind)) {
        *flags |= FPU_NV;
        return pos_max;
    }
    if (n.kind == K_INF) {
        *flags |= FPU_NV;
        return n.sign ? neg_min : pos_max;
    }
    if (n.kind == K_ZERO)
        return 0;
    /* Magnitude rounded to an integer, or `huge` if it cannot fit 64 bits. */
    uint64_t mag;
    bool inexact = false, huge = false;
    if (n.exp >= 0) {
        if (n.exp >= 64 || (n.exp > 0 && (n.sig >> (64 - n.exp)) != 0))
            huge = true;
        mag = huge ? 0 : n.sig << n.exp;
    } else {
        int sh = -n.exp;
        uint64_t ip, rest, half;
        if (sh > 64) {
            /* |value| < 2^53 * 2^-65 < 1/2: only the direction matters. */
            ip = 0;
            rest = 1;
            half = 2;
        } else {
            ip = (uint64_t)((u128)n.sig >> sh);
            u128 r = (u128)n.sig & (((u128)1 << sh) - 1);
            u128 h = (u128)1 << (sh - 1);
            /* Compress to 64 bits for round_increment: compare against half. */
            rest = r == 0 ? 0 : r < h ? 1 : r == h ? 2 : 3;
            half = 2;
        }
        inexact = rest != 0;
        mag = ip;
        if (round_increment(rest, half, (unsigned)ip & 1, n.sign, rm)) {
            mag++;
            if (mag == 0)
                huge = true;
        }
    }
    if (n.sign) {
        uint64_t lim = is_signed ? smin_mag : 0;
        if (huge || mag > lim) {
            *flags |= FPU_NV;
            return neg_min;
        }
        if (inexact)
            *flags |= FPU_NX;
        return (uint64_t)0 - mag;
    }
    if (huge || mag > pos_max) {
        *flags |= FPU_NV;
        return pos_max;
    }
    if (inexact)
        *flags |= FPU_NX;
    return mag;
}

int32_t fpu_f32_to_i32(uint32_t a, int rm, unsigned *flags) { return (int32_t)to_int(false, a, rm, 32, true, flags); }
uint32_t fpu_f32_to_u32(uint32_t a, int rm, unsigned *flags) { return (uint32_t)to_int(false, a, rm, 32, false, flags); }
int64_t fpu_f32_to_i64(uint32_t a, int rm, unsigned *flags) { return (int64_t)to_int(false, a, rm, 64, true, flags); }
uint64_t fpu_f32_to_u64(uint32_t a, int rm, unsigned *flags) { return to_int(false, a, rm, 64, false, flags); }
int32_t fpu_f64_to_i32(uint64_t a, int rm, unsigned *flags) { return (int32_t)to_int(true, a, rm, 32, true, flags); }
uint32_t fpu_f64_to_u32(uint64_t a, int rm, unsigned *flags) { return (uint32_t)to_int(true, a, rm, 32, false, flags); }
int64_t fpu_f64_to_i64(uint64_t a, int rm, unsigned *flags) { return (int64_t)to_int(true, a, rm, 64, true, flags); }
uint64_t fpu_f64_to_u64(uint64_t a, int rm, unsigned *flags) { return to_int(true, a, rm, 64, false, flags); }

/* ---------------------------------------------------------------------
 * Integer -> float, f32 <-> f64
 * ------------------------------------------------------------------- */

static inline uint64_t from_int(bool is64, unsigned sign, uint64_t mag, int rm, unsigned *flags)
{
    if (mag == 0)
        return 0;
    return round_pack(is64, sign, 0, mag, rm, flags);
}

static inline uint64_t abs_i64(int64_t a) { return a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a; }

uint32_t fpu_i32_to_f32(int32_t a, int rm, unsigned *flags) { return (uint32_t)from_int(false, a < 0, abs_i64(a), rm, flags); }
uint32_t fpu_u32_to_f32(uint32_t a, int rm, unsigned *flags) { return (uint32_t)from_int(false, 0, a, rm, flags); }
uint32_t fpu_i64_to_f32(int64_t a, int rm, unsigned *flags) { return (uint32_t)from_int(false, a < 0, abs_i64(a), rm, flags); }
uint32_t fpu_u64_to_f32(uint64_t a, int rm, unsigned *flags) { return (uint32_t)from_int(false, 0, a, rm, flags); }
uint64_t fpu_i32_to_f64(int32_t a, int rm, unsigned *flags) { return from_int(true, a < 0, abs_i64(a), rm, flags); }
uint64_t fpu_u32_to_f64(uint32_t a, int rm, unsigned *flags) { return from_int(true, 0, a, rm, flags); }
uint64_t fpu_i64_to_f64(int64_t a, int rm, unsigned *flags) { return from_int(true, a < 0, abs_i64(a), rm, flags); }
uint64_t fpu_u64_to_f64(uint64_t a, int rm, unsigned *flags) { return from_int(true, 0, a, rm, flags); }

uint64_t fpu_f32_to_f64(uint32_t a, unsigned *flags)
{
    struct fpu_num n = unpack(false, a);
    switch (n.kind) {
    case K_SNAN:
        *flags |= FPU_NV;
        /* fall through */
    case K_QNAN:
        return FPU_F64_CANONICAL_NAN;
    case K_INF:
        return sign_bit(true, n.sign) | 0x7ff0000000000000ull;
    case K_ZERO:
        return sign_bit(true, n.sign);
    default:
        /* Exact: every binary32 value is a normal binary64. */
        return round_pack(true, n.sign, n.exp, n.sig, FPU_RNE, flags);
    }
}

uint32_t fpu_f64_to_f32(uint64_t a, int rm, unsigned *flags)
{
#if FPU_HOST
    if (__builtin_expect(rm != FPU_RMM, 1)) {
        double s = f64_of(a);
        float d = 0.0f;
        HOST_OP("cvtsd2ss", d, s, rm, flags);
        uint32_t r = bits_f32(d);
        return f32_is_nan(r) ? FPU_F32_CANONICAL_NAN : r;
    }
#endif
    struct fpu_num n = unpack(true, a);
    switch (n.kind) {
    case K_SNAN:
        *flags |= FPU_NV;
        /* fall through */
    case K_QNAN:
        return FPU_F32_CANONICAL_NAN;
    case K_INF:
        return (uint32_t)sign_bit(false, n.sign) | 0x7f800000u;
    case K_ZERO:
        return (uint32_t)sign_bit(false, n.sign);
    default:
        return (uint32_t)round_pack(false, n.sign, n.exp, n.sig, rm, flags);
    }
}
