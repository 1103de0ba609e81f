/* The operations the FPU differential test exercises, shared by the host
 * side (fpu_diff.c, which calls fpu.h) and the RISC-V oracle
 * (fpu_oracle.c, which runs the real instruction under qemu-riscv64), so
 * both agree on what op number N means and on the wire format. */
#ifndef MINNOW_TESTS_FPU_OPS_H
#define MINNOW_TESTS_FPU_OPS_H

#include <stdint.h>

/* Operand and result types. */
enum fpu_test_type { TY_F32, TY_F64, TY_I32, TY_U32, TY_I64, TY_U64, TY_INT };

/* X(name, operand count, uses rm, operand type, result type) */
#define FPU_TEST_OPS(X)                   \
    X(f32_add, 2, 1, TY_F32, TY_F32)      \
    X(f32_sub, 2, 1, TY_F32, TY_F32)      \
    X(f32_mul, 2, 1, TY_F32, TY_F32)      \
    X(f32_div, 2, 1, TY_F32, TY_F32)      \
    X(f32_sqrt, 1, 1, TY_F32, TY_F32)     \
    X(f32_fmadd, 3, 1, TY_F32, TY_F32)    \
    X(f32_fmsub, 3, 1, TY_F32, TY_F32)    \
    X(f32_fnmsub, 3, 1, TY_F32, TY_F32)   \
    X(f32_fnmadd, 3, 1, TY_F32, TY_F32)   \
    X(f32_min, 2, 0, TY_F32, TY_F32)      \
    X(f32_max, 2, 0, TY_F32, TY_F32)      \
    X(f32_eq, 2, 0, TY_F32, TY_INT)       \
    X(f32_lt, 2, 0, TY_F32, TY_INT)       \
    X(f32_le, 2, 0, TY_F32, TY_INT)       \
    X(f32_class, 1, 0, TY_F32, TY_INT)    \
    X(f32_to_i32, 1, 1, TY_F32, TY_I32)   \
    X(f32_to_u32, 1, 1, TY_F32, TY_U32)   \
    X(f32_to_i64, 1, 1, TY_F32, TY_I64)   \
    X(f32_to_u64, 1, 1, TY_F32, TY_U64)   \
    X(i32_to_f32, 1, 1, TY_I32, TY_F32)   \
    X(u32_to_f32, 1, 1, TY_U32, TY_F32)   \
    X(i64_to_f32, 1, 1, TY_I64, TY_F32)   \
    X(u64_to_f32, 1, 1, TY_U64, TY_F32)   \
    X(f64_add, 2, 1, TY_F64, TY_F64)      \
    X(f64_sub, 2, 1, TY_F64, TY_F64)      \
    X(f64_mul, 2, 1, TY_F64, TY_F64)      \
    X(f64_div, 2, 1, TY_F64, TY_F64)      \
    X(f64_sqrt, 1, 1, TY_F64, TY_F64)     \
    X(f64_fmadd, 3, 1, TY_F64, TY_F64)    \
    X(f64_fmsub, 3, 1, TY_F64, TY_F64)    \
    X(f64_fnmsub, 3, 1, TY_F64, TY_F64)   \
    X(f64_fnmadd, 3, 1, TY_F64, TY_F64)   \
    X(f64_min, 2, 0, TY_F64, TY_F64)      \
    X(f64_max, 2, 0, TY_F64, TY_F64)      \
    X(f64_eq, 2, 0, TY_F64, TY_INT)       \
    X(f64_lt, 2, 0, TY_F64, TY_INT)       \
    X(f64_le, 2, 0, TY_F64, TY_INT)       \
    X(f64_class, 1, 0, TY_F64, TY_INT)    \
    X(f64_to_i32, 1, 1, TY_F64, TY_I32)   \
    X(f64_to_u32, 1, 1, TY_F64, TY_U32)   \
    X(f64_to_i64, 1, 1, TY_F64, TY_I64)   \
    X(f64_to_u64, 1, 1, TY_F64, TY_U64)   \
    X(i32_to_f64, 1, 1, TY_I32, TY_F64)   \
    X(u32_to_f64, 1, 1, TY_U32, TY_F64)   \
    X(i64_to_f64, 1, 1, TY_I64, TY_F64)   \
    X(u64_to_f64, 1, 1, TY_U64, TY_F64)   \
    X(f32_to_f64, 1, 0, TY_F32, TY_F64)   \
    X(f64_to_f32, 1, 1, TY_F64, TY_F32)

#define FPU_TEST_ENUM(name, n, rm, in, out) OP_##name,
enum fpu_test_op { FPU_TEST_OPS(FPU_TEST_ENUM) OP_COUNT };
#undef FPU_TEST_ENUM

/* One test vector as written to the oracle's stdin, and its answer on
 * stdout. Both sides are little-endian 64-bit, so the raw structs are the
 * wire format. Results are raw register bits: 32-bit results compared on
 * their low 32 bits. */
struct fpu_vec {
    uint32_t op;
    uint32_t rm;
    uint64_t a, b, c;
};

struct fpu_res {
    uint64_t bits;
    uint64_t flags;
};

#endif
