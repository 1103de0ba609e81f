/* Control flow of the JIT's translation units (cpu/jit_chain.c): the
 * fixed part of every unit (how it is entered and left), its exits, and
 * the two ways one unit goes on into another without returning to
 * jit_run: direct chains, patched in place, and the inline jump-cache
 * lookup. cpu/jit.c translates instructions and calls these for the
 * frame and for every exit that goes on to the next guest instruction
 * (JIT_NEXT); nothing else uses this header. */
#ifndef MINNOW_CPU_JIT_CHAIN_H
#define MINNOW_CPU_JIT_CHAIN_H

#include <stdint.h>

#include "cpu/hart.h"
#include "cpu/jit_x64.h"

/* What a unit returns in the low byte of jit_ret.rc. */
enum { JIT_NEXT = 0, JIT_EXC = 1, JIT_BOUNDARY = 2 };

/* Host registers every unit keeps: rbx = h, r12 = the running block's
 * virtual pc, r13 = the slice limit, r14 = transfers counted for
 * jit_stats. */
#define RH X64_RBX
#define RBPC X64_R12
#define RLIMIT X64_R13
#define RCOUNT X64_R14

/* A block's unit slot holds this when the block starts with an
 * instruction the JIT leaves to the interpreter. */
#define JIT_NONE ((void *)1)

struct jit_unit {
    uint32_t ninsns;           /* instructions when no branch leaves early */
    uint32_t bytes;
    const uint8_t *centry;     /* chain entry (executable address) */
    uint8_t code[];
};

/* A unit is the host function
 *     struct jit_ret unit(struct hart *h, uint64_t bpc, uint64_t limit)
 * rc: JIT_NEXT, JIT_EXC or JIT_BOUNDARY, and for a JIT_NEXT that left
 * through an exit that can be chained, the code-cache offset of that
 * exit's record << 8 (see jit_chain_link). chains: transfers between
 * units inside the call (low 16 bits: units entered, high bits: inline
 * jump-cache hits). */
struct jit_ret {
    uint64_t rc, chains;
};

/* The unit being emitted. The caller fills the first group, then
 * jit_chain_begin the second. */
struct jit_frame {
    uint64_t pa;               /* the block's physical address */
    uint32_t base;             /* code-cache offset of the unit's code[] */
    int chain;                 /* exits may go on into other units */
    uint64_t gen;              /* the code cache's generation */
    int32_t unit_off, gen_off; /* where a block keeps its unit (hart_block_unit) */
    size_t epilogue, leave, lookup, centry;
};

/* Emits the fixed part: prologue, epilogue, the shared exit stubs and the
 * chain entry (the budget check: the unit's ninsns instructions must fit
 * before r13). The body follows. */
void jit_chain_begin(struct x64_buf *b, struct jit_frame *f, unsigned ninsns);
/* Leaves for pc_off from the block's pc, n more instructions retired. */
void jit_chain_exit(struct x64_buf *b, const struct jit_frame *f, int32_t pc_off, unsigned n);
/* Leaves for the virtual pc in rax (h->instret already counted). */
void jit_chain_jump(struct x64_buf *b, const struct jit_frame *f);
/* After a unit returned JIT_NEXT with exit record rec and jit_run found
 * the next unit u for the block at pa, in the same code-cache generation:
 * makes that exit jump to u directly if it is the block the exit was
 * built for. rw/rx: the cache's writable and executable mappings of
 * `size` bytes. Returns 1 when it did. */
int jit_chain_link(uint8_t *rw, const uint8_t *rx, size_t size, uint32_t rec, uint64_t pa,
                   const struct jit_unit *u);

#endif
