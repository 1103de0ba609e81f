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
 * virtual pc, r15 = h->instret (the entry stub loads it, the epilogue
 * stores it back; code that calls C that may look at h->instret stores it
 * before the call and loads it again after); rbp, r8-r11, r13 and r14
 * hold guest registers (cpu/jit_regs.h). The slice limit and the
 * transfers counted for jit_stats are in the frame, at these offsets
 * from rsp (which translated code leaves where the entry stub put it). */
#define RH X64_RBX
#define RBPC X64_R12
#define RINSTRET X64_R15
#define JIT_FRAME_LIMIT 0
#define JIT_FRAME_COUNT 8

/* A block's unit slot holds this when the block starts with an
 * instruction the JIT leaves to the interpreter. */
#define JIT_NONE ((void *)1)

struct jit_unit {
    uint32_t ninsns;           /* instructions when no branch leaves early */
    uint32_t bytes;
    const uint8_t *centry;     /* chain entry (executable address) */
    const uint8_t *body;       /* where jit_run enters it (executable) */
    uint8_t code[];
};

/* Units are entered through the code cache's entry stub, the host
 * function
 *     struct jit_ret enter(struct hart *h, uint64_t bpc, uint64_t limit,
 *                          const uint8_t *body)
 * which sets up the frame every unit shares and jumps to the unit's body.
 * rc: JIT_NEXT, JIT_EXC or JIT_BOUNDARY, and for a JIT_NEXT that left
 * through an exit that can be chained, the code-cache offset of that
 * exit's record << 8 (see jit_chain_link). chains: transfers between
 * units inside the call (low 16 bits: units entered, high bits: inline
 * jump-cache hits), counted only when the stubs' count is set. */
struct jit_ret {
    uint64_t rc, chains;
};

/* The code every unit of one code-cache generation shares, emitted at the
 * start of the cache whenever it is emptied (code-cache offsets): the
 * entry, the epilogue, the leave for a unit entered through a chain that
 * does not fit, the jump-cache lookup of the target in rax and its miss
 * (leave for the target in rax), the return of an exit's record (link)
 * and the exit with a code (see jit_chain_leave). */
struct jit_stubs {
    size_t enter, epilogue, leave, lookup, miss, link, exit;
    /* Count the transfers (jit_ret.chains): an add to memory on every
     * one, which costs loops about 5%, so only while measuring. */
    int count;
};

/* Emits the stubs at b's position (s->count set by the caller). */
void jit_chain_stubs(struct x64_buf *b, struct jit_stubs *s);

/* The unit being emitted, into a buffer whose start is the code cache's
 * (so positions are code-cache offsets). The caller fills the first
 * group, jit_chain_begin the second. */
struct jit_frame {
    uint64_t pa;               /* the block's physical address */
    int chain;                 /* exits may go on into other units */
    const struct jit_stubs *stubs;
    size_t centry, body;
};

/* Emits the chain entry (the budget check: the unit's ninsns
 * instructions must fit before the slice limit). The body follows. */
void jit_chain_begin(struct x64_buf *b, struct jit_frame *f, unsigned ninsns);
/* Leaves for pc_off from the block's pc, n more instructions retired. */
void jit_chain_exit(struct x64_buf *b, const struct jit_frame *f, int32_t pc_off, unsigned n);
/* Returns code (JIT_EXC or JIT_BOUNDARY) to jit_run with h->pc at pc_off
 * from the block's pc and n more instructions retired. */
void jit_chain_leave(struct x64_buf *b, const struct jit_frame *f, int32_t pc_off, unsigned n, int code);
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
