/* Debug triggers of one hart (the Sdtrig extension) and a debugger's own
 * hardware break- and watchpoints, which share the matching machinery.
 *
 * The guest sees TRIGGER_N triggers through tselect, tdata1-3, tinfo and
 * tcontrol (M-mode CSRs 0x7a0-0x7a5). Each is disabled (type 15) or an
 * mcontrol6 (type 6) address match on execute, load and/or store, with
 * match 0 (equal), 2 (>=) or 3 (<), chain, the m/s/u mode bits and action
 * 0 (a breakpoint exception, tval = the address). Everything else in
 * tdata1 is WARL and reads back as the legal value: select, size, timing,
 * dmode and the hypervisor bits are 0, hit0 is set when the trigger fires;
 * tdata3 (textra64) is hard-wired to 0, i.e. no extra conditions.
 * Compare values: the pc for execute (an instruction's first byte), every
 * byte of a load or store. Re-entrancy (see the spec's "Native
 * Triggers"): in M-mode triggers fire only while tcontrol.mte is 1 (a trap
 * into M-mode saves mte in mpte and clears it, mret restores it); in
 * S-mode, when breakpoints are delegated (medeleg[3]), they fire only
 * while sstatus.SIE is 1. medeleg[3] stays writable, as Linux needs it.
 *
 * The debugger's triggers (gdb's Z packets) are kept apart: the guest can
 * neither see nor change them. They match in every mode, and instead of an
 * exception they stop the hart before the instruction (execute) or before
 * the access (load, store): hart_run returns HART_EXIT_STOP with the pc at
 * that instruction, which has not executed.
 *
 * Cost: nothing when no trigger is armed. Loads and stores are matched on
 * the TLB slow path, and a page that may hold a watched address never
 * enters the load or store TLB (every change of the triggers drops the
 * TLBs). Execute triggers are matched when a block is entered; while one
 * is armed no jump-cache entry and no block link is made (so every block
 * entry is looked up), a block that holds a triggered pc is cut before it,
 * and the JIT hands the hart to the interpreter. Arming the first one
 * drops the decoded code, with its links and jump caches. */
#ifndef MINNOW_CPU_TRIGGER_H
#define MINNOW_CPU_TRIGGER_H

#include <stdint.h>

#include "util/errmsg.h"
#include "util/snapbuf.h"

struct hart;
struct hart_op;

#define CSR_TSELECT 0x7a0
#define CSR_TDATA1 0x7a1
#define CSR_TDATA2 0x7a2
#define CSR_TDATA3 0x7a3
#define CSR_TINFO 0x7a4
#define CSR_TCONTROL 0x7a5

#define TCONTROL_MTE (1ull << 3)
#define TCONTROL_MPTE (1ull << 7)

/* Kinds of access, as tdata1's load/store/execute bits. */
#define TRIGGER_LOAD 1u
#define TRIGGER_STORE 2u
#define TRIGGER_EXEC 4u

/* exc_cause of a debugger trigger's stop: not an exception the guest
 * sees; the run loop ends with HART_EXIT_STOP instead of trapping. */
#define TRIGGER_CAUSE_DEBUG (1ull << 62)

/* A debugger's trigger: [lo, hi) (hi > lo), of kinds (TRIGGER_* bits). */
struct trigger_watch {
    uint64_t lo, hi;
    unsigned kinds;
};

/* Why a debugger trigger stopped the hart. */
struct trigger_hit {
    unsigned kind;   /* TRIGGER_EXEC, TRIGGER_LOAD or TRIGGER_STORE */
    unsigned kinds;  /* the matching trigger's kinds */
    uint64_t addr;   /* the watched address accessed (the pc for execute) */
};

#define TRIGGER_N 4
#define TRIGGER_DEBUG_MAX 96

/* In struct hart (h->trig). armed: the kinds some enabled trigger (the
 * guest's or the debugger's) matches, the one field the run loop's slow
 * paths look at. */
struct hart_triggers {
    unsigned armed;
    uint64_t tdata1[TRIGGER_N], tdata2[TRIGGER_N];
    unsigned tselect;
    uint64_t tcontrol;
    /* Per guest trigger, the addresses its chain may match ([lo, hi],
     * inclusive; empty when lo > hi) and its kinds; set on the chain's
     * last trigger only. */
    uint64_t range_lo[TRIGGER_N], range_hi[TRIGGER_N];
    unsigned chain_kinds[TRIGGER_N];
    struct trigger_watch dbg[TRIGGER_DEBUG_MAX];
    unsigned ndbg;
    int skip;
    uint64_t skip_pc;
    int stopped;
    struct trigger_hit hit;
};

/* Reset state: every trigger disabled, tselect 0, tcontrol 0. The
 * debugger's triggers stay. */
void trigger_reset(struct hart *h);

/* The trigger CSRs (csr.c calls these for 0x7a0-0x7a5, privilege checked):
 * 0, or -1 for a CSR that does not exist. */
int trigger_csr_read(struct hart *h, unsigned csr, uint64_t *val);
int trigger_csr_write(struct hart *h, unsigned csr, uint64_t val);

/* Execute triggers at a block the run loop enters at pc (call only while
 * h->trig.armed has TRIGGER_EXEC). Returns -1 when one fires at pc itself
 * (raised with hart_raise: a breakpoint, or TRIGGER_CAUSE_DEBUG), else the
 * number of instructions of the block (ninsns of them, at the byte
 * ops[0..ninsns)) that run before a pc some trigger may match,
 * ninsns when none. */
int trigger_exec(struct hart *h, uint64_t pc, const struct hart_op *ops, unsigned ninsns);
/* A load or store (kinds: TRIGGER_LOAD and/or TRIGGER_STORE) of size
 * bytes at va, before it happens (call only while h->trig.armed has one of
 * kinds): -1 when a trigger fires (raised as above), else 0. */
int trigger_data(struct hart *h, uint64_t va, uint64_t size, unsigned kinds);
/* Whether the 4 KiB virtual page at va may not enter the TLB of acc
 * (TRIGGER_LOAD: the load TLB; TRIGGER_STORE: the store TLB, which AMOs
 * use for their load part too). */
int trigger_page_watched(const struct hart *h, uint64_t va, unsigned acc);

/* Trap into M-mode and mret (tcontrol.mte and mpte). */
static inline uint64_t trigger_tcontrol_trap_m(uint64_t tc)
{
    return (tc & TCONTROL_MTE) ? TCONTROL_MPTE : 0;
}
static inline uint64_t trigger_tcontrol_mret(uint64_t tc)
{
    return (tc & TCONTROL_MPTE) | ((tc & TCONTROL_MPTE) ? TCONTROL_MTE : 0);
}

/* The debugger's side (the hart not running): replaces its triggers with
 * w[0..n) (at most TRIGGER_DEBUG_MAX; -1 beyond, or for an empty range or
 * no kind). */
int trigger_debug_set(struct hart *h, const struct trigger_watch *w, unsigned n);
/* The next execute match of the debugger's triggers at pc, if it is the
 * next block the hart enters, is ignored (resuming from a breakpoint runs
 * the instruction once). */
void trigger_debug_skip(struct hart *h, uint64_t pc);
/* Whether the last hart_run stopped for a debugger trigger (and forgets
 * it), with why in *hit. */
int trigger_debug_hit(struct hart *h, struct trigger_hit *hit);

/* Snapshots: 1 when the guest's trigger state is not the reset state (it
 * must then be saved). */
int trigger_in_use(const struct hart *h);
void trigger_save(const struct hart *h, struct snap_writer *w);
/* Reads what trigger_save wrote and applies it through the CSR rules. */
int trigger_load(struct hart *h, struct snap_reader *r, struct errmsg *e);

#endif
