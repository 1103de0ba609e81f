/* The JIT engine (cpu/jit.c): translates the interpreter's decoded
 * blocks into host code and runs them behind the hart_run contract. Only
 * hart.c and hart_engine.c use this. On hosts without a back end
 * jit_create leaves h->jit NULL and the interpreter runs. */
#ifndef MINNOW_CPU_JIT_H
#define MINNOW_CPU_JIT_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"

/* Sets h->jit (NULL where there is no back end), with a code cache of
 * cache_bytes (0: the default; rounded up to what one unit needs at
 * least, at most the default). -1: out of memory or the code cache
 * cannot be mapped. */
int jit_create(struct hart *h, size_t cache_bytes);
void jit_destroy(struct jit *j);
/* Empties the code cache, as hart_reset drops the decoded blocks the
 * units hang off: a reset hart then translates as a new one would (the
 * same units in the same places, the cache filling up at the same
 * points), which the JIT's fuzzer relies on to reuse its harts. */
void jit_reset(struct jit *j);
enum hart_exit jit_run(struct hart *h, uint64_t budget);

/* What the JIT has done so far, for tests and benchmarks. fallbacks
 * counts the times the interpreter took over: fallback_op[op] those for a
 * block starting with an operation the JIT leaves to it, fallback_fetch
 * those with no cached block (fetch faults, MMIO, page-crossing code),
 * fallback_budget those where a unit would overrun the budget. returns:
 * calls of translated code from jit_run (each ends with a return to C);
 * chained: units entered from other units (or from themselves: loops)
 * without a return to C, of which jcache_hits through the inline jump
 * cache (both counted only with MINNOW_JIT_STATS set: counting costs);
 * links: direct chains patched in. */
struct jit_stats {
    uint64_t units, insns, bytes, flushes, fallbacks;
    uint64_t fallback_fetch, fallback_budget;
    uint64_t returns, chained, jcache_hits, links;
    uint64_t fallback_op[OP_COUNT_];
};
void jit_get_stats(const struct hart *h, struct jit_stats *out);
/* With MINNOW_JIT_STATS set in the environment, translated code counts
 * its transfers between units, and jit_destroy prints the stats and the
 * operations that most often sent it to the interpreter to stderr (a
 * measuring aid; nothing else reads the environment). */

#endif
