/* The floating-point operations the JIT computes inline on the host's SSE
 * unit (cpu/jit_fp.c), where that gives exactly the interpreter's result
 * and flags; the rest of the time, and for every other FP operation, the
 * unit calls jit_fp (jit_helpers.h). Only cpu/jit.c uses this. */
#ifndef MINNOW_CPU_JIT_FP_H
#define MINNOW_CPU_JIT_FP_H

#include <stddef.h>

#include "cpu/hart.h"
#include "cpu/jit_x64.h"

#define JIT_FP_SLOW_MAX 8

/* Emits op's inline path if it has one: it either completes op (f[rd],
 * fflags, mstatus.FS as the interpreter leaves them) and falls through,
 * or jumps, having changed nothing, to one of the patch points it stores
 * in slow[] (the caller points them at the call to jit_fp). Uses rax,
 * rcx, rdx and xmm0-xmm2. Returns how many patch points there are; 0
 * when op has no inline path and nothing was emitted. */
unsigned jit_fp_fast(struct x64_buf *b, const struct hart_op *op, size_t slow[JIT_FP_SLOW_MAX]);

#endif
