/* Sdtrig triggers and the debugger's break- and watchpoints (see
 * trigger.h). */
#include "cpu/trigger.h"

#include <errno.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"

#define TDATA1_TYPE_SHIFT 60
#define TYPE_MCONTROL6 6ull
#define TYPE_DISABLED 15ull
#define TDATA1_DISABLED (TYPE_DISABLED << TDATA1_TYPE_SHIFT)
#define MC6_HIT0 (1ull << 22)
#define MC6_CHAIN (1ull << 11)
#define MC6_MATCH_SHIFT 7
#define MC6_MATCH (0xfull << MC6_MATCH_SHIFT)
#define MC6_M (1ull << 6)
#define MC6_S (1ull << 4)
#define MC6_U (1ull << 3)
#define MC6_KINDS 7ull
#define MC6_WRITABLE (MC6_HIT0 | MC6_CHAIN | MC6_M | MC6_S | MC6_U | MC6_KINDS)
#define MATCH_EQ 0u
#define MATCH_GE 2u
#define MATCH_LT 3u
/* tinfo: version 1 (the ratified Sdtrig 1.0), types 6 and 15. */
#define TINFO_VALUE ((1ull << 24) | (1ull << TYPE_MCONTROL6) | (1ull << TYPE_DISABLED))
#define TCONTROL_WRITABLE (TCONTROL_MTE | TCONTROL_MPTE)
#define PAGE_MASK (~(uint64_t)0xfff)

static int is_mc6(uint64_t t1)
{
    return (t1 >> TDATA1_TYPE_SHIFT) == TYPE_MCONTROL6;
}

static unsigned match_of(uint64_t t1)
{
    return (unsigned)((t1 & MC6_MATCH) >> MC6_MATCH_SHIFT);
}

/* What tdata1 holds after a write of v: an mcontrol6 with its legal
 * fields, or a disabled trigger. */
static uint64_t tdata1_legal(uint64_t v)
{
    if (!is_mc6(v))
        return TDATA1_DISABLED;
    uint64_t t = (TYPE_MCONTROL6 << TDATA1_TYPE_SHIFT) | (v & MC6_WRITABLE);
    unsigned m = match_of(v);
    if (m == MATCH_GE || m == MATCH_LT)
        t |= (uint64_t)m << MC6_MATCH_SHIFT;
    return t;
}

/* The addresses trigger i alone may match: [*lo, *hi]; 0 when none. */
static int trigger_span(const struct hart_triggers *tg, unsigned i, uint64_t *lo, uint64_t *hi)
{
    uint64_t t2 = tg->tdata2[i];
    switch (match_of(tg->tdata1[i])) {
    case MATCH_GE: *lo = t2; *hi = UINT64_MAX; return 1;
    case MATCH_LT: *lo = 0; *hi = t2 - 1; return t2 != 0;
    default: *lo = *hi = t2; return 1;
    }
}

static int enabled(uint64_t t1)
{
    return is_mc6(t1) && (t1 & MC6_KINDS) && (t1 & (MC6_M | MC6_S | MC6_U));
}

/* Drops whatever cached state a change of the triggers makes stale and
 * recomputes what the run loop looks at. */
static void recompute(struct hart *h)
{
    struct hart_triggers *tg = &h->trig;
    unsigned old = tg->armed, armed = 0;
    unsigned start = 0;
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        tg->chain_kinds[i] = 0;
        tg->range_lo[i] = 1;
        tg->range_hi[i] = 0;
        if (i + 1 < TRIGGER_N && (tg->tdata1[i] & MC6_CHAIN) && is_mc6(tg->tdata1[i]))
            continue; /* the chain goes on */
        unsigned kinds = TRIGGER_LOAD | TRIGGER_STORE | TRIGGER_EXEC;
        uint64_t lo = 0, hi = UINT64_MAX;
        for (unsigned k = start; k <= i; k++) {
            uint64_t l, u;
            if (!enabled(tg->tdata1[k]) || !trigger_span(tg, k, &l, &u)) {
                kinds = 0;
                break;
            }
            kinds &= (unsigned)(tg->tdata1[k] & MC6_KINDS);
            if (l > lo)
                lo = l;
            if (u < hi)
                hi = u;
        }
        if (kinds && lo <= hi) {
            tg->chain_kinds[i] = kinds;
            tg->range_lo[i] = lo;
            tg->range_hi[i] = hi;
            armed |= kinds;
        }
        start = i + 1;
    }
    for (unsigned k = 0; k < tg->ndbg; k++)
        armed |= tg->dbg[k].kinds;
    tg->armed = armed;
    /* Pages that may hold a watched address must leave the TLBs; the
     * first execute trigger must not find jump-cache entries or block
     * links made without it. */
    mmu_flush(h);
    if ((armed & TRIGGER_EXEC) && !(old & TRIGGER_EXEC))
        hart_code_flush(h);
}

void trigger_reset(struct hart *h)
{
    struct hart_triggers *tg = &h->trig;
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        tg->tdata1[i] = TDATA1_DISABLED;
        tg->tdata2[i] = 0;
    }
    tg->tselect = 0;
    tg->tcontrol = 0;
    tg->skip = 0;
    recompute(h);
}

int trigger_csr_read(struct hart *h, unsigned csr, uint64_t *val)
{
    struct hart_triggers *tg = &h->trig;
    switch (csr) {
    case CSR_TSELECT: *val = tg->tselect; return 0;
    case CSR_TDATA1: *val = tg->tdata1[tg->tselect]; return 0;
    case CSR_TDATA2: *val = tg->tdata2[tg->tselect]; return 0;
    case CSR_TDATA3: *val = 0; return 0;
    case CSR_TINFO: *val = TINFO_VALUE; return 0;
    case CSR_TCONTROL: *val = tg->tcontrol; return 0;
    }
    return -1;
}

int trigger_csr_write(struct hart *h, unsigned csr, uint64_t v)
{
    struct hart_triggers *tg = &h->trig;
    switch (csr) {
    case CSR_TSELECT:
        /* An index with no trigger is not taken: software reads back
         * what it wrote to count the triggers. */
        if (v < TRIGGER_N)
            tg->tselect = (unsigned)v;
        return 0;
    case CSR_TDATA1: {
        uint64_t n = tdata1_legal(v);
        if (n != tg->tdata1[tg->tselect]) {
            tg->tdata1[tg->tselect] = n;
            recompute(h);
        }
        return 0;
    }
    case CSR_TDATA2:
        if (v != tg->tdata2[tg->tselect]) {
            tg->tdata2[tg->tselect] = v;
            recompute(h);
        }
        return 0;
    case CSR_TDATA3: /* textra64: no extra conditions, hard-wired 0 */
    case CSR_TINFO:  /* read-only */
        return 0;
    case CSR_TCONTROL:
        tg->tcontrol = v & TCONTROL_WRITABLE;
        return 0;
    }
    return -1;
}

/* Whether guest trigger i's mode bits and the re-entrancy rules let it
 * fire in the hart's current mode. */
static int mode_ok(const struct hart *h, uint64_t t1)
{
    switch (h->priv) {
    case PRIV_M: return (t1 & MC6_M) && (h->trig.tcontrol & TCONTROL_MTE);
    case PRIV_S: return (t1 & MC6_S) && (!(h->medeleg & (1u << CAUSE_BREAKPOINT)) || (h->mstatus & MSTATUS_SIE));
    default: return (t1 & MC6_U) != 0;
    }
}

/* The lowest address of [va, va+size) trigger i matches; 0 when none. */
static int addr_match(const struct hart_triggers *tg, unsigned i, uint64_t va, uint64_t size, uint64_t *at)
{
    uint64_t t2 = tg->tdata2[i], last = va + size - 1;
    switch (match_of(tg->tdata1[i])) {
    case MATCH_GE:
        if (last < t2)
            return 0;
        *at = va > t2 ? va : t2;
        return 1;
    case MATCH_LT:
        *at = va;
        return va < t2;
    default:
        *at = t2;
        return t2 - va < size;
    }
}

/* The guest's chains on an access of kind at [va, va+size): fires the
 * first one that matches (-1), else 0. */
static int guest_match(struct hart *h, uint64_t va, uint64_t size, unsigned kind, int fire)
{
    struct hart_triggers *tg = &h->trig;
    unsigned start = 0;
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        if (!tg->chain_kinds[i]) {
            if (!(i + 1 < TRIGGER_N && (tg->tdata1[i] & MC6_CHAIN) && is_mc6(tg->tdata1[i])))
                start = i + 1;
            continue;
        }
        unsigned first = start;
        start = i + 1;
        if (!(tg->chain_kinds[i] & kind) || va + size - 1 < tg->range_lo[i] ||
            va > tg->range_hi[i])
            continue;
        /* tval: the lowest byte every trigger of the chain matches. */
        uint64_t at = va, a = va;
        int all = 1;
        for (unsigned k = first; k <= i && all; k++) {
            all = mode_ok(h, tg->tdata1[k]) && addr_match(tg, k, va, size, &a);
            if (a > at)
                at = a;
        }
        if (!all)
            continue;
        if (fire) {
            for (unsigned k = first; k <= i; k++)
                tg->tdata1[k] |= MC6_HIT0;
            hart_raise(h, CAUSE_BREAKPOINT, at);
        }
        return -1;
    }
    return 0;
}

/* The debugger's triggers on an access of kind at [va, va+size). */
static int debug_match(struct hart *h, uint64_t va, uint64_t size, unsigned kind, int fire)
{
    struct hart_triggers *tg = &h->trig;
    for (unsigned k = 0; k < tg->ndbg; k++) {
        const struct trigger_watch *w = &tg->dbg[k];
        if (!(w->kinds & kind) || va + size <= w->lo || va >= w->hi)
            continue;
        if (fire) {
            tg->stopped = 1;
            tg->hit.kind = kind;
            tg->hit.kinds = w->kinds;
            tg->hit.addr = va > w->lo ? va : w->lo;
            hart_raise(h, TRIGGER_CAUSE_DEBUG, tg->hit.addr);
        }
        return -1;
    }
    return 0;
}

/* Whether some execute trigger may match in [lo, hi] (any mode). */
static int exec_span(const struct hart_triggers *tg, uint64_t lo, uint64_t hi)
{
    for (unsigned i = 0; i < TRIGGER_N; i++)
        if ((tg->chain_kinds[i] & TRIGGER_EXEC) && hi >= tg->range_lo[i] && lo <= tg->range_hi[i])
            return 1;
    for (unsigned k = 0; k < tg->ndbg; k++)
        if ((tg->dbg[k].kinds & TRIGGER_EXEC) && hi >= tg->dbg[k].lo && lo < tg->dbg[k].hi)
            return 1;
    return 0;
}

int trigger_exec(struct hart *h, uint64_t pc, const struct hart_op *ops, unsigned ninsns)
{
    struct hart_triggers *tg = &h->trig;
    int skip = tg->skip && tg->skip_pc == pc;
    tg->skip = 0;
    if (!ninsns)
        return 0;
    uint64_t last = pc + ops[ninsns - 1].pcoff;
    if (!exec_span(tg, pc, last))
        return (int)ninsns;
    if ((!skip && debug_match(h, pc, 1, TRIGGER_EXEC, 1)) || guest_match(h, pc, 1, TRIGGER_EXEC, 1))
        return -1;
    for (unsigned k = 1; k < ninsns; k++) {
        uint64_t a = pc + ops[k].pcoff;
        if (debug_match(h, a, 1, TRIGGER_EXEC, 0) || guest_match(h, a, 1, TRIGGER_EXEC, 0))
            return (int)k;
    }
    return (int)ninsns;
}

int trigger_data(struct hart *h, uint64_t va, uint64_t size, unsigned kinds)
{
    for (unsigned kind = TRIGGER_LOAD; kind <= TRIGGER_STORE; kind <<= 1)
        if ((kinds & kind) && (debug_match(h, va, size, kind, 1) || guest_match(h, va, size, kind, 1)))
            return -1;
    return 0;
}

int trigger_page_watched(const struct hart *h, uint64_t va, unsigned acc)
{
    const struct hart_triggers *tg = &h->trig;
    /* AMOs hit the store TLB for their load part too. */
    unsigned want = acc == TRIGGER_STORE ? TRIGGER_LOAD | TRIGGER_STORE : acc;
    if (!(tg->armed & want))
        return 0;
    uint64_t lo = va & PAGE_MASK, hi = lo | 0xfff;
    for (unsigned i = 0; i < TRIGGER_N; i++)
        if ((tg->chain_kinds[i] & want) && hi >= tg->range_lo[i] && lo <= tg->range_hi[i])
            return 1;
    for (unsigned k = 0; k < tg->ndbg; k++)
        if ((tg->dbg[k].kinds & want) && hi >= tg->dbg[k].lo && lo < tg->dbg[k].hi)
            return 1;
    return 0;
}

int trigger_debug_set(struct hart *h, const struct trigger_watch *w, unsigned n)
{
    if (n > TRIGGER_DEBUG_MAX)
        return -1;
    for (unsigned k = 0; k < n; k++)
        if (w[k].hi <= w[k].lo || !(w[k].kinds & (TRIGGER_LOAD | TRIGGER_STORE | TRIGGER_EXEC)) ||
            (w[k].kinds & ~(TRIGGER_LOAD | TRIGGER_STORE | TRIGGER_EXEC)))
            return -1;
    struct hart_triggers *tg = &h->trig;
    for (unsigned k = 0; k < n; k++)
        tg->dbg[k] = w[k];
    tg->ndbg = n;
    tg->stopped = 0;
    recompute(h);
    return 0;
}

void trigger_debug_skip(struct hart *h, uint64_t pc)
{
    h->trig.skip = 1;
    h->trig.skip_pc = pc;
}

int trigger_debug_hit(struct hart *h, struct trigger_hit *hit)
{
    if (!h->trig.stopped)
        return 0;
    h->trig.stopped = 0;
    *hit = h->trig.hit;
    return 1;
}

int trigger_in_use(const struct hart *h)
{
    const struct hart_triggers *tg = &h->trig;
    if (tg->tselect || tg->tcontrol)
        return 1;
    for (unsigned i = 0; i < TRIGGER_N; i++)
        if (tg->tdata1[i] != TDATA1_DISABLED || tg->tdata2[i])
            return 1;
    return 0;
}

void trigger_save(const struct hart *h, struct snap_writer *w)
{
    const struct hart_triggers *tg = &h->trig;
    snapw_u32(w, TRIGGER_N);
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        snapw_u64(w, tg->tdata1[i]);
        snapw_u64(w, tg->tdata2[i]);
    }
    snapw_u32(w, tg->tselect);
    snapw_u64(w, tg->tcontrol);
}

int trigger_load(struct hart *h, struct snap_reader *r, struct errmsg *e)
{
    uint32_t n = snapr_u32(r);
    if (!r->err && n != TRIGGER_N)
        return errmsg_set(e, -EINVAL, "triggers: %u saved, this hart has %u", n, TRIGGER_N);
    uint64_t t1[TRIGGER_N], t2[TRIGGER_N];
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        t1[i] = snapr_u64(r);
        t2[i] = snapr_u64(r);
    }
    uint32_t sel = snapr_u32(r);
    uint64_t tc = snapr_u64(r);
    if (r->err)
        return errmsg_set(e, -EINVAL, "triggers: truncated");
    if (sel >= TRIGGER_N)
        return errmsg_set(e, -EINVAL, "triggers: tselect %u, there are %u triggers", sel, TRIGGER_N);
    /* As software restores triggers: disable, tdata2, then tdata1. */
    for (unsigned i = 0; i < TRIGGER_N; i++) {
        trigger_csr_write(h, CSR_TSELECT, i);
        trigger_csr_write(h, CSR_TDATA1, 0);
        trigger_csr_write(h, CSR_TDATA2, t2[i]);
        trigger_csr_write(h, CSR_TDATA1, t1[i]);
    }
    trigger_csr_write(h, CSR_TSELECT, sel);
    trigger_csr_write(h, CSR_TCONTROL, tc);
    return 0;
}
