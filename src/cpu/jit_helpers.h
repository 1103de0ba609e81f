/* The C functions translated code calls for the operations the JIT does
 * not expand inline (cpu/jit_helpers.c): CSR accesses, ecall, atomics
 * (LR, SC, AMOs) and floating-point arithmetic. Each does exactly what
 * the interpreter's handler for the operation does (hart.c), on the
 * hart's state in memory, and says what the unit must do next. Only
 * cpu/jit.c uses this.
 *
 * A helper is int fn(struct hart *h, uint64_t a, uint64_t b) with a and
 * b the operation's fields packed by jit_pack_a and jit_pack_b (the unit
 * passes them as immediates, so nothing points into decoded code). It
 * runs with h->instret counting the instructions before the operation
 * (h->pc is not kept up to date, except for jit_ecall, whose unit stores
 * the ecall's pc first) and returns a JIT_H_* code. */
#ifndef MINNOW_CPU_JIT_HELPERS_H
#define MINNOW_CPU_JIT_HELPERS_H

#include <stdint.h>

#include "cpu/hart.h"

enum {
    JIT_H_NEXT = 0,      /* retired: go on with the next instruction */
    JIT_H_EXC = 1,       /* raised an exception (hart_raise); did not retire */
    JIT_H_BOUNDARY = 2,  /* retired, and the boundary must look (as the interpreter's
                          * system_done or AFTER_SLOW_STORE) */
    JIT_H_AGAIN = 3,     /* did not retire: the boundary must look, then it runs again */
};

typedef int (*jit_helper_fn)(struct hart *h, uint64_t a, uint64_t b);

static inline uint64_t jit_pack_a(const struct hart_op *op)
{
    return op->opc | (uint64_t)op->rd << 16 | (uint64_t)op->rs1 << 24 | (uint64_t)op->rs2 << 32 |
           (uint64_t)op->rs3 << 40 | (uint64_t)op->rm << 48;
}

static inline uint64_t jit_pack_b(const struct hart_op *op)
{
    return op->raw | (uint64_t)(uint32_t)op->imm << 32;
}

/* CSRRW, CSRRS, CSRRC and their immediate forms. JIT_H_NEXT only when
 * the access cannot change what is enabled, pending or mapped. */
int jit_csr(struct hart *h, uint64_t a, uint64_t b);
/* ECALL: the board's SBI from S-mode, else the trap. */
int jit_ecall(struct hart *h, uint64_t a, uint64_t b);
/* LR, SC and the AMOs, .W and .D. */
int jit_atomic(struct hart *h, uint64_t a, uint64_t b);
/* Every F and D operation but the loads and stores. */
int jit_fp(struct hart *h, uint64_t a, uint64_t b);

#endif
