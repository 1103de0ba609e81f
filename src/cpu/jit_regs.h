/* The guest registers the JIT keeps in host registers (cpu/jit_regs.c).
 *
 * Seven of the guest's integer registers, the ones compiled RISC-V code
 * uses most (a5, a4, a0, sp, s0, a3, a1: counted over the kernel's and
 * the CPU benchmark's code), live in host registers for the whole of a
 * call of translated code: the entry stub loads them from h->x, the
 * epilogue stores them back, and every unit in between uses the same
 * assignment, so units chain to each other with nothing written back.
 * Inside translated code the host register is the register; h->x holds
 * it only at the points where C may look at it, which the translator
 * brackets with jit_regs_store and jit_regs_load (the helpers, which read
 * and write h->x; the pure helpers and the memory slow paths, which
 * clobber the host's caller-saved registers). Only cpu/jit.c and
 * cpu/jit_chain.c use this. */
#ifndef MINNOW_CPU_JIT_REGS_H
#define MINNOW_CPU_JIT_REGS_H

#include <stdint.h>

#include "cpu/jit_x64.h"

/* No host register: a guest register that lives in h->x. */
#define JIT_REG_NONE X64_RSP

/* The host register guest register xi (0..32) lives in, or JIT_REG_NONE. */
enum x64_reg jit_reg_of(unsigned xi);

/* Sets of guest registers, bit i for x[i]. */
#define JIT_REGS_ALL (1u << 15 | 1u << 14 | 1u << 10 | 1u << 2 | 1u << 8 | 1u << 13 | 1u << 11)
/* Those in host registers a C call does not preserve (r8-r11). */
uint32_t jit_regs_volatile(void);
/* The set of guest registers xi that are kept in host registers. */
static inline uint32_t jit_regs_bit(unsigned xi)
{
    return xi < 32 && (JIT_REGS_ALL >> xi & 1) ? 1u << xi : 0;
}

/* h->x[i] = the host register, for every kept i in set (rbx = h). */
void jit_regs_store(struct x64_buf *b, uint32_t set);
/* The host register = h->x[i], for every kept i in set. */
void jit_regs_load(struct x64_buf *b, uint32_t set);
/* push and pop the host's caller-saved registers that hold guest
 * registers (an even count: the stack stays 16-byte aligned). */
void jit_regs_push_volatile(struct x64_buf *b);
void jit_regs_pop_volatile(struct x64_buf *b);

#endif
