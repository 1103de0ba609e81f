/* The read-modify-write of the A extension's AMOs on a host pointer, as
 * one atomic step with respect to other harts (a compare-and-swap loop):
 * returns the old value. Shared by the interpreter (hart.c) and the JIT's
 * helpers (jit_helpers.c), so both have the same semantics. */
#ifndef MINNOW_CPU_AMO_H
#define MINNOW_CPU_AMO_H

#include <stdint.h>

#include "cpu/decode.h"

static inline uint64_t amo64(unsigned op, uint64_t *p, uint64_t v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_D: n = v; break;
        case OP_AMOADD_D: n = old + v; break;
        case OP_AMOXOR_D: n = old ^ v; break;
        case OP_AMOAND_D: n = old & v; break;
        case OP_AMOOR_D: n = old | v; break;
        case OP_AMOMIN_D: n = (int64_t)old < (int64_t)v ? old : v; break;
        case OP_AMOMAX_D: n = (int64_t)old > (int64_t)v ? old : v; break;
        case OP_AMOMINU_D: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_D */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

static inline uint32_t amo32(unsigned op, uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_W: n = v; break;
        case OP_AMOADD_W: n = old + v; break;
        case OP_AMOXOR_W: n = old ^ v; break;
        case OP_AMOAND_W: n = old & v; break;
        case OP_AMOOR_W: n = old | v; break;
        case OP_AMOMIN_W: n = (int32_t)old < (int32_t)v ? old : v; break;
        case OP_AMOMAX_W: n = (int32_t)old > (int32_t)v ? old : v; break;
        case OP_AMOMINU_W: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_W */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

#endif
