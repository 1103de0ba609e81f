/* RISC-V instruction encoders for test programs built in C (the JIT's
 * differential testers, tests/cpu/jit_diff.c and tests/fuzz/fuzz_jit.c):
 * the base formats, from their fields. Immediates are taken as the
 * instruction holds them (their low bits; B and J offsets are even). */
#ifndef MINNOW_TESTS_RV_ENCODE_H
#define MINNOW_TESTS_RV_ENCODE_H

#include <stdint.h>

static inline uint32_t r_type(unsigned f7, unsigned rs2, unsigned rs1, unsigned f3, unsigned rd, unsigned opc)
{
    return f7 << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}

static inline uint32_t i_type(int32_t imm, unsigned rs1, unsigned f3, unsigned rd, unsigned opc)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | opc;
}

static inline uint32_t s_type(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3, unsigned opc)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 5) & 0x7f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 | (u & 0x1f) << 7 | opc;
}

static inline uint32_t b_type(int32_t imm, unsigned rs2, unsigned rs1, unsigned f3)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
           ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}

static inline uint32_t j_type(int32_t imm, unsigned rd)
{
    uint32_t u = (uint32_t)imm;
    return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 | ((u >> 12) & 0xff) << 12 |
           rd << 7 | 0x6f;
}

#endif
