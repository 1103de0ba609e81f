/* Differential test of cpu/fpu against the real RISC-V instructions.
 *
 * Generates vectors for every operation in fpu.h under every rounding mode
 * - special values (zeros, subnormals, normals at the range ends, infinities,
 * quiet and signalling NaNs, halfway cases, integers at the edges of the
 * conversion ranges) crossed with each other, plus seeded pseudo-random ones
 * shaped to produce interesting results - runs them through fpu_oracle under
 * qemu-riscv64 and through fpu.c, and compares result bits and fflags
 * exactly. Usage: fpu_diff QEMU ORACLE. Fails on any mismatch, or if the
 * oracle did not answer every vector. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/fpu.h"
#include "fpu_ops.h"

struct op_info {
    const char *name;
    int nargs;
    int uses_rm;
    enum fpu_test_type in, out;
};

#define FPU_TEST_INFO(name, n, rm, in, out) {#name, n, rm, in, out},
static const struct op_info ops[OP_COUNT] = {FPU_TEST_OPS(FPU_TEST_INFO)};
#undef FPU_TEST_INFO

static const char *const rm_names[5] = {"rne", "rtz", "rdn", "rup", "rmm"};

/* ------------------------------------------------------------------ */

struct vecs {
    struct fpu_vec *v;
    size_t n, cap;
};

static void push(struct vecs *vs, unsigned op, unsigned rm, uint64_t a, uint64_t b, uint64_t c)
{
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 65536;
        vs->v = realloc(vs->v, vs->cap * sizeof *vs->v);
        if (!vs->v) {
            perror("fpu_diff: realloc");
            exit(2);
        }
    }
    vs->v[vs->n++] = (struct fpu_vec){op, rm, a, b, c};
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: fixed seed, so a failure reproduces. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t f32_bits(float f) { uint32_t x; memcpy(&x, &f, 4); return x; }
static uint64_t f64_bits(double d) { uint64_t x; memcpy(&x, &d, 8); return x; }

/* Positive special values given as doubles; both signs are used. */
static const double special_doubles[] = {
    1.0, 1.5, 2.0, 2.5, 3.0, 0.5, 0.75, 0.25, 0.1, 1.0 / 3.0, 7.0,
    2147483647.0, 2147483648.0, 2147483649.0, 2147483647.5, 4294967295.0, 4294967296.0, 4294967295.5,
    9223372036854775808.0, 18446744073709551616.0, 0x1.fffffffffffffp62, 0x1.fffffffffffffp63,
    0x1p24, 0x1p24 + 2, 0x1p53, 0x1p-24, 0x1p-25, 0x1p-53, 0x1p-54,
};

static size_t special_f32(uint64_t *out)
{
    static const uint32_t pats[] = {
        0x00000000, 0x00000001, 0x00000002, 0x007fffff, 0x00400000, 0x00800000, 0x00800001, 0x00ffffff,
        0x7f7fffff, 0x7f7ffffe, 0x7f000000, 0x7f800000, 0x3f800001, 0x3f7fffff, 0x4effffff, 0x4f7fffff,
        0x5effffff, 0x5f7fffff, 0x1f800000, 0x20000000,
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        out[n++] = pats[i];
        out[n++] = pats[i] | 0x80000000u;
    }
    for (size_t i = 0; i < sizeof special_doubles / sizeof special_doubles[0]; i++) {
        uint32_t x = f32_bits((float)special_doubles[i]);
        out[n++] = x;
        out[n++] = x | 0x80000000u;
    }
    out[n++] = 0x7fc00000; /* canonical qNaN */
    out[n++] = 0xffc12345; /* qNaN with payload and sign */
    out[n++] = 0x7f800001; /* sNaN */
    out[n++] = 0xffa00000; /* sNaN, negative */
    return n;
}

static size_t special_f64(uint64_t *out)
{
    static const uint64_t pats[] = {
        0x0000000000000000, 0x0000000000000001, 0x0000000000000002, 0x000fffffffffffff,
        0x0008000000000000, 0x0010000000000000, 0x0010000000000001, 0x001fffffffffffff,
        0x7fefffffffffffff, 0x7feffffffffffffe, 0x7fe0000000000000, 0x7ff0000000000000,
        0x3ff0000000000001, 0x3fefffffffffffff, 0x47efffffe0000000, 0x47efffff00000000,
        0x36a0000000000000, 0x3690000000000000, 0x3810000000000000, 0x380fffffffffffff,
        0x1ff0000000000000, 0x2000000000000000,
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        out[n++] = pats[i];
        out[n++] = pats[i] | 0x8000000000000000ull;
    }
    for (size_t i = 0; i < sizeof special_doubles / sizeof special_doubles[0]; i++) {
        uint64_t x = f64_bits(special_doubles[i]);
        out[n++] = x;
        out[n++] = x | 0x8000000000000000ull;
    }
    out[n++] = 0x7ff8000000000000ull;
    out[n++] = 0xfff8000000012345ull;
    out[n++] = 0x7ff0000000000001ull;
    out[n++] = 0xfff4000000000000ull;
    return n;
}

static size_t special_ints(enum fpu_test_type t, uint64_t *out)
{
    static const uint64_t v[] = {
        0, 1, 2, 3, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0xfffffffe, 0x00ffffff, 0x01000000,
        0x01000001, 0x01000003, 0x7fffffc0, 0x7fffff80, 0xffffff80, 0xffffff7f, 0x100000000ull,
        0x1fffffffffffffull, 0x20000000000000ull, 0x20000000000001ull, 0x20000000000003ull,
        0x7fffffffffffffffull, 0x8000000000000000ull, 0x8000000000000001ull, 0xfffffffffffffffful,
        0xfffffffffffff800ull, 0xfffffffffffffc00ull, 0xfffffffffffffbffull, 0x7ffffffffffffdffull,
        0x7ffffffffffffe00ull, 0xffffff8000000000ull, 0xffffff7fffffffffull,
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint64_t x = v[i];
        if (t == TY_I32 || t == TY_U32)
            x &= 0xffffffffu;
        out[n++] = x;
        out[n++] = t == TY_I32 || t == TY_U32 ? (uint32_t)-x : -x;
    }
    return n;
}

/* A random operand of type t. `base` is a reference biased exponent so
 * operands of one vector have related magnitudes; shape picks a flavour. */
static uint64_t random_operand(uint64_t *s, enum fpu_test_type t, int base, int spread)
{
    uint64_t r = rng_next(s);
    unsigned shape = (unsigned)(rng_next(s) % 8);
    if (t == TY_F32 || t == TY_F64) {
        bool d = t == TY_F64;
        int mb = d ? 52 : 23, emax = d ? 2047 : 255;
        if (shape == 0)
            return d ? r : (uint32_t)r; /* raw bits */
        int e = base + (int)(rng_next(s) % (unsigned)(2 * spread + 1)) - spread;
        if (e < 0)
            e = 0;
        if (e > emax - 1)
            e = emax - 1;
        uint64_t m = rng_next(s) & ((1ull << mb) - 1);
        if (shape == 1) /* few significant bits: exact results and exact ties */
            m &= ~((1ull << (mb - (int)(rng_next(s) % 8))) - 1);
        else if (shape == 2) /* mantissa near all-ones: carries out of rounding */
            m |= (1ull << mb) - 1 - (rng_next(s) & 7);
        uint64_t sign = rng_next(s) & 1;
        return (sign << (d ? 63 : 31)) | ((uint64_t)e << mb) | m;
    }
    /* Integers: random bit length, so every magnitude range is hit. */
    int bits = t == TY_I32 || t == TY_U32 ? 32 : 64;
    int len = 1 + (int)(rng_next(s) % (unsigned)bits);
    uint64_t x = len == 64 ? r : r & ((1ull << len) - 1);
    if (shape == 1)
        x &= ~((1ull << (len / 2)) - 1);
    if ((t == TY_I32 || t == TY_I64) && (rng_next(s) & 1))
        x = -x;
    return bits == 32 ? (uint32_t)x : x;
}

static void gen_random(struct vecs *vs, uint64_t *s, unsigned op, unsigned rm, int count)
{
    const struct op_info *o = &ops[op];
    bool d = o->in == TY_F64;
    int bias = d ? 1023 : 127, mb = d ? 52 : 23, emax = d ? 2046 : 254;
    for (int i = 0; i < count; i++) {
        unsigned shape = (unsigned)(rng_next(s) % 4);
        int base, spread = 2;
        uint64_t a, b, c;
        if (o->in != TY_F32 && o->in != TY_F64) {
            a = random_operand(s, o->in, 0, 0);
            push(vs, op, rm, a, 0, 0);
            continue;
        }
        if (o->out != TY_F32 && o->out != TY_F64 && o->out != TY_INT) {
            /* to integer: magnitudes around 2^-2 .. 2^66 */
            base = bias + (int)(rng_next(s) % 70) - 2;
            a = random_operand(s, o->in, base, 1);
            push(vs, op, rm, a, 0, 0);
            continue;
        }
        switch (shape) {
        case 0: base = 1 + (int)(rng_next(s) % (unsigned)emax); spread = 2; break;
        case 1: base = 1 + (int)(rng_next(s) % (unsigned)emax); spread = mb + 4; break;
        case 2: base = (int)(rng_next(s) % (unsigned)(2 * mb + 4)); spread = 3; break;        /* subnormal edge */
        default: base = emax - (int)(rng_next(s) % (unsigned)(mb + 4)); spread = 3; break;   /* overflow edge */
        }
        a = random_operand(s, o->in, base, spread);
        b = random_operand(s, o->in, base, spread);
        c = random_operand(s, o->in, base, spread);
        if (op == OP_f64_to_f32) {
            /* around binary32's range ends */
            int e = shape & 1 ? 1023 + 127 : 1023 - 126 - (int)(rng_next(s) % 30);
            a = random_operand(s, TY_F64, e, 4);
        } else if (op == OP_f32_mul || op == OP_f64_mul || op == OP_f32_div || op == OP_f64_div) {
            /* products and quotients landing near underflow/overflow */
            if (shape >= 2) {
                int eb = (shape == 2 ? -1 : 1) * (int)(rng_next(s) % (unsigned)(bias - 2)) + bias;
                int ea = shape == 2 ? bias - (bias - 1) - (eb - bias) : emax - (eb - bias);
                if (op == OP_f32_div || op == OP_f64_div)
                    ea = shape == 2 ? bias - (bias - 1) + (eb - bias) : emax + (eb - bias);
                a = random_operand(s, o->in, ea, 2);
                b = random_operand(s, o->in, eb, 2);
            }
        } else if (o->nargs == 3) {
            /* c near a*b so the sum cancels or rounds at c's last bit */
            struct { int e; } ea = {base}, eb = {bias + (int)(rng_next(s) % 9) - 4};
            a = random_operand(s, o->in, ea.e, 2);
            b = random_operand(s, o->in, eb.e, 2);
            int ec = ea.e + eb.e - bias + (int)(rng_next(s) % (unsigned)(2 * mb + 8)) - mb - 4;
            c = random_operand(s, o->in, ec, 1);
        }
        push(vs, op, rm, a, b, c);
    }
}

static bool in_fma_set(enum fpu_test_type t, const uint64_t *sp, size_t i)
{
    uint64_t mag = t == TY_F64 ? sp[i] & ~(1ull << 63) : sp[i] & 0x7fffffffu;
    uint64_t inf = t == TY_F64 ? 0x7ff0000000000000ull : 0x7f800000u;
    return mag == 0 || mag >= inf || (i / 2) % 3 == 0;
}

static void generate(struct vecs *vs)
{
    static uint64_t sp32[256], sp64[256], spi[128];
    size_t n32 = special_f32(sp32), n64 = special_f64(sp64);
    uint64_t seed = 0x6d696e6e6f77ull; /* "minnow" */
    /* Two fixed vectors first, whose answers main() checks against known
     * constants: proof that the oracle really executes instructions. */
    push(vs, OP_f64_add, FPU_RNE, 0x3ff0000000000000ull, 0x4000000000000000ull, 0); /* 1 + 2 */
    push(vs, OP_f32_div, FPU_RNE, 0x3f800000u, 0, 0);                               /* 1 / 0 */
    for (unsigned op = 0; op < OP_COUNT; op++) {
        const struct op_info *o = &ops[op];
        unsigned nrm = o->uses_rm ? 5 : 1;
        const uint64_t *sp = o->in == TY_F32 ? sp32 : sp64;
        size_t ns = o->in == TY_F32 ? n32 : n64;
        if (o->in != TY_F32 && o->in != TY_F64) {
            ns = special_ints(o->in, spi);
            sp = spi;
        }
        for (unsigned rm = 0; rm < nrm; rm++) {
            if (o->nargs == 1) {
                for (size_t i = 0; i < ns; i++)
                    push(vs, op, rm, sp[i], 0, 0);
            } else if (o->nargs == 2) {
                for (size_t i = 0; i < ns; i++)
                    for (size_t j = 0; j < ns; j++)
                        push(vs, op, rm, sp[i], sp[j], 0);
            } else {
                /* zeros, infinities, NaNs and every third other
                 * special value (both signs) keep the cube manageable */
                for (size_t i = 0; i < ns; i++)
                    for (size_t j = 0; j < ns; j++)
                        for (size_t k = 0; k < ns; k++)
                            if (in_fma_set(o->in, sp, i) && in_fma_set(o->in, sp, j) && in_fma_set(o->in, sp, k))
                                push(vs, op, rm, sp[i], sp[j], sp[k]);
            }
            gen_random(vs, &seed, op, rm, o->nargs == 3 ? 3000 : 1500);
        }
    }
}

/* ------------------------------------------------------------------ */

static struct fpu_res model(const struct fpu_vec *v)
{
    unsigned fl = 0;
    uint64_t r = 0;
    int rm = (int)v->rm;
    uint32_t a32 = (uint32_t)v->a, b32 = (uint32_t)v->b, c32 = (uint32_t)v->c;
    uint64_t a = v->a, b = v->b, c = v->c;
    switch (v->op) {
    case OP_f32_add: r = fpu_f32_add(a32, b32, rm, &fl); break;
    case OP_f32_sub: r = fpu_f32_sub(a32, b32, rm, &fl); break;
    case OP_f32_mul: r = fpu_f32_mul(a32, b32, rm, &fl); break;
    case OP_f32_div: r = fpu_f32_div(a32, b32, rm, &fl); break;
    case OP_f32_sqrt: r = fpu_f32_sqrt(a32, rm, &fl); break;
    case OP_f32_fmadd: r = fpu_f32_fma(a32, b32, c32, FPU_FMADD, rm, &fl); break;
    case OP_f32_fmsub: r = fpu_f32_fma(a32, b32, c32, FPU_FMSUB, rm, &fl); break;
    case OP_f32_fnmsub: r = fpu_f32_fma(a32, b32, c32, FPU_FNMSUB, rm, &fl); break;
    case OP_f32_fnmadd: r = fpu_f32_fma(a32, b32, c32, FPU_FNMADD, rm, &fl); break;
    case OP_f32_min: r = fpu_f32_min(a32, b32, &fl); break;
    case OP_f32_max: r = fpu_f32_max(a32, b32, &fl); break;
    case OP_f32_eq: r = (uint64_t)fpu_f32_eq(a32, b32, &fl); break;
    case OP_f32_lt: r = (uint64_t)fpu_f32_lt(a32, b32, &fl); break;
    case OP_f32_le: r = (uint64_t)fpu_f32_le(a32, b32, &fl); break;
    case OP_f32_class: r = fpu_f32_class(a32); break;
    case OP_f32_to_i32: r = (uint32_t)fpu_f32_to_i32(a32, rm, &fl); break;
    case OP_f32_to_u32: r = fpu_f32_to_u32(a32, rm, &fl); break;
    case OP_f32_to_i64: r = (uint64_t)fpu_f32_to_i64(a32, rm, &fl); break;
    case OP_f32_to_u64: r = fpu_f32_to_u64(a32, rm, &fl); break;
    case OP_i32_to_f32: r = fpu_i32_to_f32((int32_t)a32, rm, &fl); break;
    case OP_u32_to_f32: r = fpu_u32_to_f32(a32, rm, &fl); break;
    case OP_i64_to_f32: r = fpu_i64_to_f32((int64_t)a, rm, &fl); break;
    case OP_u64_to_f32: r = fpu_u64_to_f32(a, rm, &fl); break;
    case OP_f64_add: r = fpu_f64_add(a, b, rm, &fl); break;
    case OP_f64_sub: r = fpu_f64_sub(a, b, rm, &fl); break;
    case OP_f64_mul: r = fpu_f64_mul(a, b, rm, &fl); break;
    case OP_f64_div: r = fpu_f64_div(a, b, rm, &fl); break;
    case OP_f64_sqrt: r = fpu_f64_sqrt(a, rm, &fl); break;
    case OP_f64_fmadd: r = fpu_f64_fma(a, b, c, FPU_FMADD, rm, &fl); break;
    case OP_f64_fmsub: r = fpu_f64_fma(a, b, c, FPU_FMSUB, rm, &fl); break;
    case OP_f64_fnmsub: r = fpu_f64_fma(a, b, c, FPU_FNMSUB, rm, &fl); break;
    case OP_f64_fnmadd: r = fpu_f64_fma(a, b, c, FPU_FNMADD, rm, &fl); break;
    case OP_f64_min: r = fpu_f64_min(a, b, &fl); break;
    case OP_f64_max: r = fpu_f64_max(a, b, &fl); break;
    case OP_f64_eq: r = (uint64_t)fpu_f64_eq(a, b, &fl); break;
    case OP_f64_lt: r = (uint64_t)fpu_f64_lt(a, b, &fl); break;
    case OP_f64_le: r = (uint64_t)fpu_f64_le(a, b, &fl); break;
    case OP_f64_class: r = fpu_f64_class(a); break;
    case OP_f64_to_i32: r = (uint32_t)fpu_f64_to_i32(a, rm, &fl); break;
    case OP_f64_to_u32: r = fpu_f64_to_u32(a, rm, &fl); break;
    case OP_f64_to_i64: r = (uint64_t)fpu_f64_to_i64(a, rm, &fl); break;
    case OP_f64_to_u64: r = fpu_f64_to_u64(a, rm, &fl); break;
    case OP_i32_to_f64: r = fpu_i32_to_f64((int32_t)a32, rm, &fl); break;
    case OP_u32_to_f64: r = fpu_u32_to_f64(a32, rm, &fl); break;
    case OP_i64_to_f64: r = fpu_i64_to_f64((int64_t)a, rm, &fl); break;
    case OP_u64_to_f64: r = fpu_u64_to_f64(a, rm, &fl); break;
    case OP_f32_to_f64: r = fpu_f32_to_f64(a32, &fl); break;
    case OP_f64_to_f32: r = fpu_f64_to_f32(a, rm, &fl); break;
    }
    return (struct fpu_res){r, fl};
}

/* 32-bit results are compared on their low 32 bits (the oracle's register
 * holds them sign-extended or NaN-boxed). */
static uint64_t result_mask(enum fpu_test_type t)
{
    return t == TY_F32 || t == TY_I32 || t == TY_U32 ? 0xffffffffu : ~0ull;
}

/* Runs the oracle with the vectors on stdin (a temporary file) and its
 * answers to another temporary file, which is then read back. Returns the
 * number of answers read, or -1. */
static long run_oracle(const char *qemu, const char *oracle, const struct vecs *vs, struct fpu_res *res)
{
    char in_path[] = "/tmp/fpu_diff_in_XXXXXX", out_path[] = "/tmp/fpu_diff_out_XXXXXX";
    int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path);
    long got = -1;
    if (in_fd < 0 || out_fd < 0) {
        perror("fpu_diff: mkstemp");
        goto out;
    }
    FILE *f = fdopen(in_fd, "wb");
    if (!f || fwrite(vs->v, sizeof vs->v[0], vs->n, f) != vs->n || fclose(f) != 0) {
        perror("fpu_diff: writing vectors");
        in_fd = -1;
        goto out;
    }
    in_fd = -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    char *argv[] = {(char *)qemu, (char *)oracle, NULL};
    extern char **environ;
    pid_t pid;
    int err = posix_spawn(&pid, qemu, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        fprintf(stderr, "fpu_diff: cannot run %s: %s\n", qemu, strerror(err));
        goto out;
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "fpu_diff: oracle failed (status 0x%x)\n", status);
        goto out;
    }
    FILE *o = fopen(out_path, "rb");
    if (!o) {
        perror("fpu_diff: reading answers");
        goto out;
    }
    got = (long)fread(res, sizeof res[0], vs->n, o);
    fclose(o);
out:
    if (in_fd >= 0)
        close(in_fd);
    if (out_fd >= 0)
        close(out_fd);
    unlink(in_path);
    unlink(out_path);
    return got;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s QEMU-RISCV64 FPU-ORACLE\n", argv[0]);
        return 2;
    }
    struct vecs vs = {0};
    generate(&vs);
    struct fpu_res *res = calloc(vs.n, sizeof *res);
    if (!res)
        return 2;
    long got = run_oracle(argv[1], argv[2], &vs, res);
    if (got != (long)vs.n) {
        fprintf(stderr, "fpu_diff: oracle answered %ld of %zu vectors\n", got, vs.n);
        return 1;
    }

    if (res[0].bits != 0x4008000000000000ull || res[0].flags != 0 ||
        (res[1].bits & 0xffffffffu) != 0x7f800000u || res[1].flags != FPU_DZ) {
        fprintf(stderr, "fpu_diff: the oracle got 1+2 or 1/0 wrong: is it running RISC-V code?\n");
        return 1;
    }
    /* Guard against a vacuous pass: the generator's output is fixed. */
    if (vs.n < 1000000) {
        fprintf(stderr, "fpu_diff: only %zu vectors generated\n", vs.n);
        return 1;
    }

    size_t bad = 0, per_op_bad[OP_COUNT] = {0}, per_op[OP_COUNT] = {0};
    for (size_t i = 0; i < vs.n; i++) {
        const struct fpu_vec *v = &vs.v[i];
        const struct op_info *o = &ops[v->op];
        uint64_t mask = result_mask(o->out);
        struct fpu_res want = res[i], got_r = model(v);
        per_op[v->op]++;
        if ((want.bits & mask) == (got_r.bits & mask) && want.flags == got_r.flags)
            continue;
        bad++;
        per_op_bad[v->op]++;
        if (bad <= 200)
            printf("MISMATCH %-11s rm=%s a=%#llx b=%#llx c=%#llx: qemu %#llx flags %#llx, fpu %#llx flags %#llx\n",
                   o->name, rm_names[v->rm], (unsigned long long)v->a, (unsigned long long)v->b,
                   (unsigned long long)v->c, (unsigned long long)(want.bits & mask),
                   (unsigned long long)want.flags, (unsigned long long)(got_r.bits & mask),
                   (unsigned long long)got_r.flags);
    }
    for (unsigned op = 0; op < OP_COUNT; op++)
        if (per_op_bad[op])
            printf("%-11s %zu of %zu vectors mismatch\n", ops[op].name, per_op_bad[op], per_op[op]);
    printf("fpu_diff: %zu vectors compared, %zu mismatches\n", vs.n, bad);
    /* Guard against a vacuous pass: every op must have been exercised. */
    for (unsigned op = 0; op < OP_COUNT; op++)
        if (per_op[op] < 100) {
            printf("fpu_diff: op %s has only %zu vectors\n", ops[op].name, per_op[op]);
            return 1;
        }
    free(res);
    free(vs.v);
    return bad ? 1 : 0;
}
