/* What the JIT's differential testers share (tests/cpu/jit_diff.c and
 * tests/fuzz/fuzz_jit.c): they run the interpreter (the reference) and the
 * JIT on the same guest in lockstep, on bare harts with no devices, and
 * compare the two after every step. */
#ifndef MINNOW_TESTS_HART_COMPARE_H
#define MINNOW_TESTS_HART_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"

/* The first difference in architectural state between the interpreter's
 * hart a and the JIT's hart b (x, f, pc, privilege, instret, the trap
 * CSRs, mstatus, satp, the FP CSRs, mscratch), written into buf as
 * "field: interp V jit V" and returned; NULL when they agree. */
const char *hart_compare(const struct hart *a, const struct hart *b, char *buf, size_t len);

/* The instruction at guest physical pc of RAM [base, base + size) at host
 * ram, as "BITS NAME" (the 32 bits there, the operation they decode to)
 * into buf, or "outside RAM". */
const char *hart_compare_insn(const uint8_t *ram, uint64_t base, uint64_t size, uint64_t pc, char *buf,
                              size_t len);

/* A bus on which nothing answers (every access outside RAM faults). */
extern const struct hart_bus hart_compare_no_devices;

/* A struct hart_clock.read for time that is a counter both engines share
 * the value of: opaque points at the uint64_t tick count. */
uint64_t hart_compare_clock(void *opaque);

#endif
