/* The JIT: runs a hart by translating the interpreter's decoded blocks
 * (see hart.c, "decoded code") into host code. This file knows guest
 * semantics (what an instruction does, when it traps, how it counts); the
 * host encodings are in jit_x64.c.
 *
 * A translation unit is the prefix of one interpreter block up to its
 * first instruction the JIT does not translate (at most the block's 64
 * instructions, so a unit is bounded in instructions and bytes). The unit
 * hangs off its block, so everything that keeps decoded code coherent
 * (stores into code through code_mask, fence.i epochs, sfence.vma, satp
 * writes and remote fences emptying the jump caches) applies to
 * translated code unchanged. What is not translated (mret, sret, wfi,
 * sfence.vma, fence.i, ebreak, cbo.*) runs in the interpreter, one block
 * at a time, with the interpreter's exact semantics. CSR accesses, ecall,
 * atomics and FP arithmetic call C helpers (jit_helpers.c) that mirror
 * the interpreter's handlers; FP loads and stores are inline, and so is
 * the usual case of FP arithmetic (jit_fp.c: where the host's result and
 * flags are exactly the helper's).
 *
 * A unit is entered as a host function, enter(struct hart *h, uint64_t
 * bpc, limit, body) (jit_chain.h: one entry stub for all units), bpc
 * being the block's virtual pc (a block is keyed by physical address and
 * may be reached under several virtual ones). Seven guest registers live
 * in host registers from the entry stub to the epilogue (jit_regs.h), the
 * rest in h->x; a unit writes h->pc and h->instret when it leaves, and
 * returns JIT_NEXT (go on), JIT_EXC (a helper raised an
 * exception at h->pc, which had not retired) or JIT_BOUNDARY (a store
 * reached decoded code or asked the hart to stop: look at the boundary).
 * Going on to the next guest instruction it may instead jump into
 * another unit (jit_chain.c: direct chains within a page, an inline
 * lookup in the jump cache for jalr and other pages). Budgets stay
 * exact: a unit is entered only when all its instructions fit in what is
 * left (from another unit: before the slice limit).
 *
 * The code cache is one memfd mapped twice, writable and executable, so
 * no page is ever both. It starts with the stubs all units share and is
 * filled with units after them; it is emptied as a whole when a unit
 * might not fit (a generation count invalidates every unit pointer, and
 * every chain between units, at once).
 *
 * A load's or store's inline TLB hit falls through; its miss jumps to a
 * slow path placed after the unit's straight line.
 *
 * Where it stands (issue 14, step 4): seven guest registers are kept in
 * host registers across chained units; CSRs, ecall, AMOs, LR/SC and
 * the FP arithmetic jit_fp.c declines are calls, not inline code; mret,
 * sret, wfi, sfence.vma, fence.i, ebreak and cbo.* go to the interpreter.
 * It is the default engine (HART_ENGINE_DEFAULT) on x86-64. */
#include "cpu/jit.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

#include <sys/mman.h>
#include <unistd.h>

#include "cpu/csr.h"
#include "cpu/jit_chain.h"
#include "cpu/jit_fp.h"
#include "cpu/jit_helpers.h"
#include "cpu/jit_regs.h"
#include "cpu/jit_x64.h"
#include "cpu/mmu.h"

struct mem_stubs {
    size_t load[4], store[4];
};

#define JIT_CACHE_BYTES (16u << 20)   /* the default, and the most */
/* Bound on one unit's host code: 64 instructions of at most ~300 bytes (an FP
 * load with its FS check is the longest). */
#define JIT_UNIT_MAX_BYTES (32u << 10)
/* Bound on the stubs the units share (about 500 bytes). */
#define JIT_STUBS_MAX_BYTES 1024u

_Static_assert(JIT_CACHE_BYTES <= 1u << 24, "exit records are code-cache offsets < 2^24 (jit_chain.h)");

/* The code cache's pages are faulted in ahead of the fill, this many
 * bytes at a time, in both mappings (one system call each, not a fault
 * per page per mapping). */
#define JIT_POPULATE_BYTES (256u << 10)

struct jit {
    int fd;
    uint8_t *rw, *rx;
    size_t size, used;      /* used 0: the stubs are not there yet */
    size_t populated;       /* [0, populated) is faulted in */
    uint64_t gen;
    struct jit_stubs stubs;
    struct mem_stubs ms;
    struct jit_stats stats;
};

/* The entry stub (jit_chain.h). limit: units go on into others (or loop
 * back to their start) while instret + the next one's length stays at or
 * below it. */
typedef struct jit_ret (*jit_enter_fn)(struct hart *h, uint64_t bpc, uint64_t limit, const uint8_t *body);

int jit_create(struct hart *h, size_t cache_bytes)
{
    struct jit *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    size_t least = JIT_STUBS_MAX_BYTES + 2 * (JIT_UNIT_MAX_BYTES + sizeof(struct jit_unit));
    size_t n = !cache_bytes || cache_bytes > JIT_CACHE_BYTES ? JIT_CACHE_BYTES
             : cache_bytes < least ? least : cache_bytes;
    j->size = (n + 4095) & ~(size_t)4095;
    j->gen = 1;
    j->stubs.count = getenv("MINNOW_JIT_STATS") != NULL;
    j->fd = memfd_create("minnow-jit", MFD_CLOEXEC);
    if (j->fd < 0 || ftruncate(j->fd, (off_t)j->size)) {
        jit_destroy(j);
        return -1;
    }
    void *rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, j->fd, 0);
    void *rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, j->fd, 0);
    j->rw = rw == MAP_FAILED ? NULL : rw;
    j->rx = rx == MAP_FAILED ? NULL : rx;
    if (!j->rw || !j->rx) {
        jit_destroy(j);
        return -1;
    }
    h->jit = j;
    return 0;
}

/* The stats and the top reasons for fallbacks, to stderr. */
static void print_stats(const struct jit_stats *st)
{
    fprintf(stderr, "jit: %" PRIu64 " units, %" PRIu64 " instructions, %" PRIu64 " bytes, %" PRIu64
            " flushes, %" PRIu64 " fallbacks (%" PRIu64 " no block, %" PRIu64 " budget)\n", st->units, st->insns,
            st->bytes, st->flushes, st->fallbacks, st->fallback_fetch, st->fallback_budget);
    fprintf(stderr, "jit: %" PRIu64 " returns to C, %" PRIu64 " chained entries (%" PRIu64
            " through the jump cache), %" PRIu64 " chains patched\n", st->returns, st->chained, st->jcache_hits,
            st->links);
    uint64_t shown = UINT64_MAX;
    for (unsigned k = 0; k < 12; k++) {
        unsigned best = OP_COUNT_;
        for (unsigned o = 0; o < OP_COUNT_; o++)
            if (st->fallback_op[o] < shown && (best == OP_COUNT_ || st->fallback_op[o] > st->fallback_op[best]))
                best = o;
        if (best == OP_COUNT_ || !st->fallback_op[best])
            break;
        shown = st->fallback_op[best];
        /* Equal counts: the rest of a tie is not shown, which is fine for a top list. */
        fprintf(stderr, "jit:   %-12s %" PRIu64 "\n", decode_op_name(best), shown);
    }
}

void jit_destroy(struct jit *j)
{
    if (!j)
        return;
    if (getenv("MINNOW_JIT_STATS"))
        print_stats(&j->stats);
    if (j->rw)
        munmap(j->rw, j->size);
    if (j->rx)
        munmap(j->rx, j->size);
    if (j->fd >= 0)
        close(j->fd);
    free(j);
}

void jit_reset(struct jit *j)
{
    if (!j)
        return;
    j->used = 0;
    j->gen++;  /* every unit pointer and chain is stale */
}

void jit_get_stats(const struct hart *h, struct jit_stats *out)
{
    if (h->jit)
        *out = h->jit->stats;
    else
        memset(out, 0, sizeof *out);
}

/* ---- helpers the translated code calls ---- */

static int store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
    if (mmu_store_slow(h, va, size, val))
        return JIT_EXC;
    /* As the interpreter's AFTER_SLOW_STORE: code overwritten (maybe this
     * unit's) or a device asked the hart to stop. */
    if (h->code_dirty | atomic_load_explicit(&h->stop_requested, memory_order_relaxed))
        return JIT_BOUNDARY;
    return 0;
}

static uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

/* The M extension's division rules (division by zero and overflow do not
 * trap), as the interpreter has them. */
static uint64_t h_div(uint64_t a_, uint64_t b_)
{
    int64_t a = (int64_t)a_, b = (int64_t)b_;
    return b == 0 ? UINT64_MAX : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
}
static uint64_t h_divu(uint64_t a, uint64_t b) { return b == 0 ? UINT64_MAX : a / b; }
static uint64_t h_rem(uint64_t a_, uint64_t b_)
{
    int64_t a = (int64_t)a_, b = (int64_t)b_;
    return b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
}
static uint64_t h_remu(uint64_t a, uint64_t b) { return b == 0 ? a : a % b; }
static uint64_t h_divw(uint64_t a_, uint64_t b_)
{
    int32_t a = (int32_t)a_, b = (int32_t)b_;
    return (uint64_t)(int64_t)(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b);
}
static uint64_t h_divuw(uint64_t a_, uint64_t b_)
{
    uint32_t a = (uint32_t)a_, b = (uint32_t)b_;
    return sext32(b == 0 ? UINT32_MAX : a / b);
}
static uint64_t h_remw(uint64_t a_, uint64_t b_)
{
    int32_t a = (int32_t)a_, b = (int32_t)b_;
    return (uint64_t)(int64_t)(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b);
}
static uint64_t h_remuw(uint64_t a_, uint64_t b_)
{
    uint32_t a = (uint32_t)a_, b = (uint32_t)b_;
    return sext32(b == 0 ? a : a % b);
}
static uint64_t h_mulhsu(uint64_t a, uint64_t b)
{
    return (uint64_t)(((__int128)(int64_t)a * (__int128)b) >> 64);
}
static uint64_t h_clz(uint64_t a, uint64_t b) { (void)b; return a ? (uint64_t)__builtin_clzll(a) : 64; }
static uint64_t h_clzw(uint64_t a, uint64_t b)
{
    (void)b;
    return (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32;
}
static uint64_t h_ctz(uint64_t a, uint64_t b) { (void)b; return a ? (uint64_t)__builtin_ctzll(a) : 64; }
static uint64_t h_ctzw(uint64_t a, uint64_t b)
{
    (void)b;
    return (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32;
}
static uint64_t h_cpop(uint64_t a, uint64_t b) { (void)b; return (uint64_t)__builtin_popcountll(a); }
static uint64_t h_cpopw(uint64_t a, uint64_t b) { (void)b; return (uint64_t)__builtin_popcount((uint32_t)a); }
static uint64_t h_orc_b(uint64_t a, uint64_t b)
{
    (void)b;
    uint64_t r = 0;
    for (unsigned i = 0; i < 64; i += 8)
        if ((a >> i) & 0xff)
            r |= 0xffull << i;
    return r;
}

typedef uint64_t (*pure_fn)(uint64_t, uint64_t);

/* Operations done by calling a pure C function of (rs1, rs2). */
static pure_fn pure_helper(unsigned op)
{
    switch (op) {
    case OP_DIV: return h_div;
    case OP_DIVU: return h_divu;
    case OP_REM: return h_rem;
    case OP_REMU: return h_remu;
    case OP_DIVW: return h_divw;
    case OP_DIVUW: return h_divuw;
    case OP_REMW: return h_remw;
    case OP_REMUW: return h_remuw;
    case OP_MULHSU: return h_mulhsu;
    case OP_CLZ: return h_clz;
    case OP_CLZW: return h_clzw;
    case OP_CTZ: return h_ctz;
    case OP_CTZW: return h_ctzw;
    case OP_CPOP: return h_cpop;
    case OP_CPOPW: return h_cpopw;
    case OP_ORC_B: return h_orc_b;
    }
    return NULL;
}

/* ---- translation ---- */

#define XOFF(i) ((int32_t)(offsetof(struct hart, x) + 8u * (i)))
#define FOFF(i) ((int32_t)(offsetof(struct hart, f) + 8u * (i)))
#define MSTATUS_OFF ((int32_t)offsetof(struct hart, mstatus))
#define EXC_CAUSE_OFF ((int32_t)offsetof(struct hart, exc_cause))
#define EXC_TVAL_OFF ((int32_t)offsetof(struct hart, exc_tval))
#define PC_OFF ((int32_t)offsetof(struct hart, pc))
#define INSTRET_OFF ((int32_t)offsetof(struct hart, instret))
#define DT_OFF ((int32_t)offsetof(struct hart, dt))
#define TLB_LOAD_OFF ((int32_t)offsetof(struct hart_data_tlb, load))
#define TLB_STORE_OFF ((int32_t)offsetof(struct hart_data_tlb, store))
_Static_assert(sizeof(struct hart_tlb_entry) == 16, "TLB index scaling below");
_Static_assert(offsetof(struct hart_tlb_entry, addend) == 8, "TLB entry layout");

/* Host registers: see jit_chain.h (rbx = h, r12 = the block's virtual
 * pc) and jit_regs.h (the guest registers kept in host registers); rax,
 * rcx, rdx, rsi, rdi are scratch. */

/* A load's or store's slow path, emitted after the unit's straight line
 * so that the fast path falls through (see emit_slow_paths). */
struct slow_path {
    const struct hart_op *op;
    size_t jump;               /* the jne to it */
    size_t resume;             /* where the fast path goes on */
    unsigned size;
    enum ext { EXT_ZX, EXT_SX, EXT_RAW } ext;   /* loads: how the value is widened */
    int store, fp;             /* a store; the register is f[rs2] */
    enum x64_reg to;           /* loads: where the value goes */
};

/* At most the interpreter's 64 instructions per block, one slow path each. */
#define JIT_SLOW_MAX 64u

struct tctx {
    struct x64_buf b;
    struct jit_frame f;
    const struct mem_stubs *ms;
    struct slow_path slow[JIT_SLOW_MAX + 1];   /* + a spare for add_slow */
    unsigned nslow;
};

static enum x64_reg pin(unsigned xi)
{
    return jit_reg_of(xi);
}

/* r = x[xi]. */
static void ld(struct tctx *t, enum x64_reg r, unsigned xi)
{
    enum x64_reg p = pin(xi);
    if (p != JIT_REG_NONE) {
        if (p != r)
            x64_mov_rr(&t->b, r, p);
    } else if (xi == 0) {
        x64_mov_ri(&t->b, r, 0);
    } else {
        x64_load(&t->b, r, RH, XOFF(xi));
    }
}

/* x[xi] = r (xi 32: the sink for rd = x0). */
static void st(struct tctx *t, unsigned xi, enum x64_reg r)
{
    enum x64_reg p = pin(xi);
    if (p == JIT_REG_NONE)
        x64_store(&t->b, RH, XOFF(xi), r);
    else if (p != r)
        x64_mov_rr(&t->b, p, r);
}

/* dst = dst a x[xi]. */
static void alu_x(struct tctx *t, enum x64_alu a, enum x64_reg dst, unsigned xi)
{
    enum x64_reg p = pin(xi);
    if (p != JIT_REG_NONE)
        x64_alu_rr(&t->b, a, dst, p, 0);
    else
        x64_alu_rm(&t->b, a, dst, RH, XOFF(xi));
}

/* x[xi] as an operand that is only read: its host register, or scratch
 * loaded with it. */
static enum x64_reg src(struct tctx *t, unsigned xi, enum x64_reg scratch)
{
    enum x64_reg p = pin(xi);
    if (p != JIT_REG_NONE)
        return p;
    ld(t, scratch, xi);
    return scratch;
}

/* Where op's result is computed: rd's host register when it has one and
 * writing it before rs2 is read clobbers nothing, else rax (st copies it
 * to rd then). */
static enum x64_reg dest(const struct hart_op *op)
{
    enum x64_reg d = pin(op->rd);
    return d != JIT_REG_NONE && (op->rd != op->rs2 || op->rd == op->rs1) ? d : X64_RAX;
}

/* The guest registers C called from op's code may read or write in h->x,
 * with those the call clobbers: stored before, loaded after. */
static uint32_t c_regs(const struct hart_op *op)
{
    return jit_regs_volatile() | jit_regs_bit(op->rs1) | jit_regs_bit(op->rs2) | jit_regs_bit(op->rd);
}

/* pc_off from the block's pc into h->pc, n more instructions retired.
 * Going on to the next instruction (JIT_NEXT) may stay in translated
 * code (jit_chain.c: loops, chains, the jump cache). */
static void exit_to(struct tctx *t, int32_t pc_off, unsigned n, int code)
{
    if (code == JIT_NEXT) {
        jit_chain_exit(&t->b, &t->f, pc_off, n);
        return;
    }
    jit_chain_leave(&t->b, &t->f, pc_off, n, code);
}

static void call_abs(struct x64_buf *b, const void *fn)
{
    x64_mov_ri(b, X64_RAX, (uint64_t)(uintptr_t)fn);
    x64_call_r(b, X64_RAX);
}

/* A call of C that may look at or change h->instret (see RINSTRET). */
static void call_c(struct x64_buf *b, const void *fn)
{
    x64_store(b, RH, INSTRET_OFF, RINSTRET);
    call_abs(b, fn);
    x64_load(b, RINSTRET, RH, INSTRET_OFF);
}

/* The slow paths of loads and stores, shared by every unit (emitted
 * after jit_chain_stubs), one per access size (index log2 size), called
 * with rax = va: a load's leaves mmu_load_slow's result in eax and the
 * value in rcx; a store's takes the value in rcx and leaves store_slow's
 * result in eax; both return with the flags of test eax, eax, and keep
 * the guest registers held in host registers. */
static void emit_mem_stubs(struct x64_buf *b, struct mem_stubs *m)
{
    for (unsigned k = 0; k < 4; k++) {
        m->load[k] = x64_size(b);
        jit_regs_push_volatile(b);
        x64_alu_ri(b, X64_SUB, X64_RSP, 8, 0);   /* aligned for the call; [rsp] the value */
        x64_mov_rr(b, X64_RDI, RH);
        x64_mov_rr(b, X64_RSI, X64_RAX);
        x64_mov_ri(b, X64_RDX, 1u << k);
        x64_mov_rr(b, X64_RCX, X64_RSP);
        call_c(b, (const void *)mmu_load_slow);
        x64_load(b, X64_RCX, X64_RSP, 0);
        x64_alu_ri(b, X64_ADD, X64_RSP, 8, 0);
        jit_regs_pop_volatile(b);
        x64_test_rr32(b, X64_RAX, X64_RAX);
        x64_ret(b);

        m->store[k] = x64_size(b);
        jit_regs_push_volatile(b);
        x64_alu_ri(b, X64_SUB, X64_RSP, 8, 0);
        x64_mov_rr(b, X64_RDI, RH);
        x64_mov_rr(b, X64_RSI, X64_RAX);
        x64_mov_ri(b, X64_RDX, 1u << k);
        call_c(b, (const void *)store_slow);
        x64_alu_ri(b, X64_ADD, X64_RSP, 8, 0);
        jit_regs_pop_volatile(b);
        x64_test_rr32(b, X64_RAX, X64_RAX);
        x64_ret(b);
    }
}

static unsigned log2_size(unsigned size)
{
    return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

/* rax = va = x[rs1] + imm; rcx = the TLB entry's set base (entry at
 * rcx + arr_off); jumps to the returned patch point (with rax = va) when
 * the entry does not map va for an access of size bytes. */
static size_t tlb_check(struct tctx *t, const struct hart_op *op, unsigned size, int32_t arr_off)
{
    struct x64_buf *b = &t->b;
    enum x64_reg p = pin(op->rs1);
    if (p != JIT_REG_NONE) {
        x64_lea(b, X64_RAX, p, op->imm);
    } else {
        ld(t, X64_RAX, op->rs1);
        if (op->imm)
            x64_alu_ri(b, X64_ADD, X64_RAX, op->imm, 0);
    }
    /* The entry's offset, ((va >> 12) % HART_TLB_SIZE) * 16, in one
     * shift and one mask. */
    x64_mov_rr32(b, X64_RCX, X64_RAX);
    x64_shift_ri(b, X64_SHR, X64_RCX, 8, 1);
    x64_alu_ri(b, X64_AND, X64_RCX, (HART_TLB_SIZE - 1) << 4, 1);
    x64_alu_rm(b, X64_ADD, X64_RCX, RH, DT_OFF);
    x64_mov_rr(b, X64_RDX, X64_RAX);
    /* The tag test fails for misaligned accesses too, as in the interpreter. */
    x64_alu_ri(b, X64_AND, X64_RDX, (int32_t)(-4096 + (int32_t)(size - 1)), 0);
    x64_alu_rm(b, X64_CMP, X64_RDX, X64_RCX, arr_off);
    return x64_jcc(b, X64_CC_NE);
}

static struct slow_path *add_slow(struct tctx *t, const struct hart_op *op, size_t jump, unsigned size)
{
    if (t->nslow == JIT_SLOW_MAX) {
        t->b.overflow = 1;   /* cannot happen: one per instruction */
        return &t->slow[JIT_SLOW_MAX];
    }
    struct slow_path *s = &t->slow[t->nslow++];
    *s = (struct slow_path){ .op = op, .jump = jump, .size = size };
    return s;
}

/* to = the size bytes at x[rs1] + imm, widened as ext says (or the unit
 * leaves with the exception). */
static void emit_load_val(struct tctx *t, const struct hart_op *op, unsigned size, enum x64_reg to, enum ext ext)
{
    struct x64_buf *b = &t->b;
    size_t slow = tlb_check(t, op, size, TLB_LOAD_OFF);
    x64_alu_rm(b, X64_ADD, X64_RAX, X64_RCX, TLB_LOAD_OFF + 8);
    if (ext == EXT_SX && size < 8)
        x64_load_sx(b, to, X64_RAX, 0, size);
    else
        x64_load_zx(b, to, X64_RAX, 0, size);
    struct slow_path *s = add_slow(t, op, slow, size);
    s->ext = ext;
    s->to = to;
    s->resume = x64_size(b);
}

static void emit_load(struct tctx *t, const struct hart_op *op, unsigned size)
{
    unsigned o = op->opc;
    enum x64_reg to = pin(op->rd) != JIT_REG_NONE ? pin(op->rd) : X64_RCX;
    emit_load_val(t, op, size, to, o == OP_LB || o == OP_LH || o == OP_LW ? EXT_SX : EXT_ZX);
    st(t, op->rd, to);
}

/* Stores the low size bytes of x[rs2] (fp: f[rs2]) to x[rs1] + imm. */
static void emit_store(struct tctx *t, const struct hart_op *op, unsigned size, int fp)
{
    struct x64_buf *b = &t->b;
    size_t slow = tlb_check(t, op, size, TLB_STORE_OFF);
    x64_alu_rm(b, X64_ADD, X64_RAX, X64_RCX, TLB_STORE_OFF + 8);
    enum x64_reg v = fp ? JIT_REG_NONE : pin(op->rs2);
    if (v == JIT_REG_NONE) {
        v = X64_RDX;
        if (fp)
            x64_load(b, v, RH, FOFF(op->rs2));
        else
            ld(t, v, op->rs2);
    }
    x64_store_n(b, X64_RAX, 0, v, size);
    struct slow_path *s = add_slow(t, op, slow, size);
    s->store = 1;
    s->fp = fp;
    s->resume = x64_size(b);
}

/* The slow paths of the unit's loads and stores, after its straight line. */
static void emit_slow_paths(struct tctx *t)
{
    struct x64_buf *b = &t->b;
    for (unsigned i = 0; i < t->nslow; i++) {
        const struct slow_path *s = &t->slow[i];
        const struct hart_op *op = s->op;
        x64_patch_here(b, s->jump);
        if (!s->store) {
            x64_call_to(b, t->ms->load[log2_size(s->size)]);
            size_t ok = x64_jcc(b, X64_CC_E);
            exit_to(t, op->pcoff, op->idx, JIT_EXC);
            x64_patch_here(b, ok);
            if (s->ext == EXT_SX && s->size < 8)
                x64_movsx(b, s->to, X64_RCX, s->size);
            else if (s->ext == EXT_ZX && s->size == 1)
                x64_movzx8(b, s->to, X64_RCX);
            else if (s->ext == EXT_ZX && s->size == 2)
                x64_movzx16(b, s->to, X64_RCX);
            else if (s->ext == EXT_ZX && s->size == 4)
                x64_mov_rr32(b, s->to, X64_RCX);
            else if (s->to != X64_RCX)
                x64_mov_rr(b, s->to, X64_RCX);
            x64_jmp_to(b, s->resume);
            continue;
        }
        if (s->fp)
            x64_load(b, X64_RCX, RH, FOFF(op->rs2));
        else
            ld(t, X64_RCX, op->rs2);
        x64_call_to(b, t->ms->store[log2_size(s->size)]);
        x64_jcc_to(b, X64_CC_E, s->resume);
        x64_alu_ri(b, X64_CMP, X64_RAX, JIT_EXC, 1);
        size_t boundary = x64_jcc(b, X64_CC_NE);
        exit_to(t, op->pcoff, op->idx, JIT_EXC);
        x64_patch_here(b, boundary);
        exit_to(t, op->pcoff + op->len, op->idx + 1u, JIT_BOUNDARY);
    }
}

/* Raises an illegal-instruction exception at op (tval: its bits). */
static void emit_illegal(struct tctx *t, const struct hart_op *op)
{
    x64_mov_ri(&t->b, X64_RAX, CAUSE_ILLEGAL);
    x64_store(&t->b, RH, EXC_CAUSE_OFF, X64_RAX);
    x64_mov_ri(&t->b, X64_RAX, op->raw);
    x64_store(&t->b, RH, EXC_TVAL_OFF, X64_RAX);
    exit_to(t, op->pcoff, op->idx, JIT_EXC);
}

/* FS_CHECK: illegal while mstatus.FS is off. */
static void emit_fs_check(struct tctx *t, const struct hart_op *op)
{
    x64_load(&t->b, X64_RAX, RH, MSTATUS_OFF);
    x64_alu_ri(&t->b, X64_AND, X64_RAX, (int32_t)MSTATUS_FS, 1);
    size_t on = x64_jcc(&t->b, X64_CC_NE);
    emit_illegal(t, op);
    x64_patch_here(&t->b, on);
}

/* FS_DIRTY. */
static void emit_fs_dirty(struct tctx *t)
{
    x64_alu_mi(&t->b, X64_OR, RH, MSTATUS_OFF, (int32_t)MSTATUS_FS);
}

/* FLW, FLD, FSW, FSD, as the interpreter's: FS_CHECK before the access,
 * FS_DIRTY after a load. */
static void emit_fp_mem(struct tctx *t, const struct hart_op *op)
{
    struct x64_buf *b = &t->b;
    unsigned o = op->opc, size = o == OP_FLW || o == OP_FSW ? 4 : 8;
    emit_fs_check(t, op);
    if (o == OP_FSW || o == OP_FSD) {
        emit_store(t, op, size, 1);
        return;
    }
    emit_load_val(t, op, size, X64_RCX, EXT_RAW);
    if (size == 4) {
        x64_mov_ri(b, X64_RAX, 0xffffffff00000000ull);
        x64_alu_rr(b, X64_OR, X64_RCX, X64_RAX, 0);
    }
    x64_store(b, RH, FOFF(op->rd), X64_RCX);
    emit_fs_dirty(t);
}

/* Calls helper fn (see jit_helpers.h) for op and does what it returns;
 * `may` has bit JIT_H_BOUNDARY and/or JIT_H_AGAIN set when it can return
 * those (JIT_H_EXC it always can). */
static void emit_helper(struct tctx *t, const struct hart_op *op, jit_helper_fn fn, unsigned may)
{
    struct x64_buf *b = &t->b;
    /* ecall's SBI reads a0-a7 and writes a0 and a1. */
    uint32_t regs = fn == jit_ecall ? JIT_REGS_ALL : c_regs(op);
    jit_regs_store(b, regs);
    x64_mov_rr(b, X64_RDI, RH);
    x64_mov_ri(b, X64_RSI, jit_pack_a(op));
    x64_mov_ri(b, X64_RDX, jit_pack_b(op));
    call_c(&t->b, (const void *)fn);
    jit_regs_load(b, regs);
    x64_test_rr32(b, X64_RAX, X64_RAX);
    size_t next = x64_jcc(b, X64_CC_E);
    if (may & (1u << JIT_H_BOUNDARY)) {
        x64_alu_ri(b, X64_CMP, X64_RAX, JIT_H_BOUNDARY, 1);
        size_t other = x64_jcc(b, X64_CC_NE);
        exit_to(t, op->pcoff + op->len, op->idx + 1u, JIT_BOUNDARY);
        x64_patch_here(b, other);
    }
    if (may & (1u << JIT_H_AGAIN)) {
        x64_alu_ri(b, X64_CMP, X64_RAX, JIT_H_AGAIN, 1);
        size_t other = x64_jcc(b, X64_CC_NE);
        exit_to(t, op->pcoff, op->idx, JIT_BOUNDARY);
        x64_patch_here(b, other);
    }
    exit_to(t, op->pcoff, op->idx, JIT_EXC);
    x64_patch_here(b, next);
}

/* An FP operation: inline where jit_fp.c can (the usual case), else, and
 * whenever the inline path declines, the helper. */
static void emit_fp(struct tctx *t, const struct hart_op *op)
{
    size_t slow[JIT_FP_SLOW_MAX];
    unsigned n = jit_fp_fast(&t->b, op, slow);
    size_t done = n ? x64_jmp(&t->b) : 0;
    for (unsigned i = 0; i < n; i++)
        x64_patch_here(&t->b, slow[i]);
    emit_helper(t, op, jit_fp, 0);
    if (n)
        x64_patch_here(&t->b, done);
}

static int is_fp_op(unsigned o)
{
    return o >= OP_FMADD_S && o <= OP_FMV_D_X;
}

/* d = x[rs1] op x[rs2] (or imm), 64-bit. */
static void emit_alu(struct tctx *t, const struct hart_op *op, enum x64_alu a, int has_imm, enum x64_reg d)
{
    ld(t, d, op->rs1);
    if (has_imm)
        x64_alu_ri(&t->b, a, d, op->imm, 0);
    else
        alu_x(t, a, d, op->rs2);
}

/* Flags of x[rs1] - x[rs2] (or imm), for a setcc into rax. */
static void emit_cmp(struct tctx *t, const struct hart_op *op, int has_imm)
{
    enum x64_reg a = src(t, op->rs1, X64_RAX);
    if (has_imm)
        x64_alu_ri(&t->b, X64_CMP, a, op->imm, 0);
    else
        alu_x(t, X64_CMP, a, op->rs2);
}

static void emit_shift_reg(struct tctx *t, const struct hart_op *op, enum x64_shift s, int w32, enum x64_reg d)
{
    ld(t, d, op->rs1);
    ld(t, X64_RCX, op->rs2);
    x64_shift_rcl(&t->b, s, d, w32);
    if (w32)
        x64_movsx(&t->b, d, d, 4);
}

static int branch_exit_cc(unsigned op, enum x64_cc *skip)
{
    switch (op) {
    case OP_BEQ: *skip = X64_CC_NE; return 1;
    case OP_BNE: *skip = X64_CC_E; return 1;
    case OP_BLT: *skip = X64_CC_GE; return 1;
    case OP_BGE: *skip = X64_CC_L; return 1;
    case OP_BLTU: *skip = X64_CC_AE; return 1;
    case OP_BGEU: *skip = X64_CC_B; return 1;
    }
    return 0;
}

/* Translates op; 0, or -1 when the JIT leaves op to the interpreter. With
 * b == NULL only says which. */
static int emit_op(struct tctx *t, const struct hart_op *op)
{
    struct x64_buf *b = t ? &t->b : NULL;
    unsigned o = op->opc;
    pure_fn pf = pure_helper(o);
    enum x64_cc cc;
    if (pf) {
        if (!t)
            return 0;
        ld(t, X64_RDI, op->rs1);
        ld(t, X64_RSI, op->rs2);
        jit_regs_store(b, jit_regs_volatile());
        call_abs(b, (const void *)pf);
        jit_regs_load(b, jit_regs_volatile());
        st(t, op->rd, X64_RAX);
        return 0;
    }
    if (is_fp_op(o)) {
        if (t)
            emit_fp(t, op);
        return 0;
    }
    if (branch_exit_cc(o, &cc)) {
        if (!t)
            return 0;
        emit_cmp(t, op, 0);
        size_t skip = x64_jcc(b, cc);
        exit_to(t, op->pcoff + op->imm, op->idx + 1u, JIT_NEXT);
        x64_patch_here(b, skip);
        return 0;
    }
    switch (o) {
    case OP_LB: case OP_LBU: case OP_LH: case OP_LHU: case OP_LW: case OP_LWU: case OP_LD:
        if (t)
            emit_load(t, op, o == OP_LB || o == OP_LBU ? 1 : o == OP_LH || o == OP_LHU ? 2
                           : o == OP_LD ? 8 : 4);
        return 0;
    case OP_SB: case OP_SH: case OP_SW: case OP_SD:
        if (t)
            emit_store(t, op, o == OP_SB ? 1 : o == OP_SH ? 2 : o == OP_SW ? 4 : 8, 0);
        return 0;
    case OP_FLW: case OP_FLD: case OP_FSW: case OP_FSD:
        if (t)
            emit_fp_mem(t, op);
        return 0;
    case OP_CSRRW: case OP_CSRRS: case OP_CSRRC: case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
        /* Counter reads need h->instret exact: a system instruction is
         * alone in its block, so first in its unit. */
        if (op->idx)
            return -1;
        if (t)
            emit_helper(t, op, jit_csr, 1u << JIT_H_BOUNDARY);
        return 0;
    case OP_ECALL:
        if (op->idx)
            return -1;
        if (t) {
            /* The SBI sees the ecall's pc. */
            x64_lea(b, X64_RAX, RBPC, op->pcoff);
            x64_store(b, RH, PC_OFF, X64_RAX);
            emit_helper(t, op, jit_ecall, 1u << JIT_H_BOUNDARY | 1u << JIT_H_AGAIN);
        }
        return 0;
    case OP_LR_W: case OP_SC_W: case OP_AMOSWAP_W: case OP_AMOADD_W: case OP_AMOXOR_W: case OP_AMOAND_W:
    case OP_AMOOR_W: case OP_AMOMIN_W: case OP_AMOMAX_W: case OP_AMOMINU_W: case OP_AMOMAXU_W:
    case OP_LR_D: case OP_SC_D: case OP_AMOSWAP_D: case OP_AMOADD_D: case OP_AMOXOR_D: case OP_AMOAND_D:
    case OP_AMOOR_D: case OP_AMOMIN_D: case OP_AMOMAX_D: case OP_AMOMINU_D: case OP_AMOMAXU_D:
        if (t)
            emit_helper(t, op, jit_atomic, 1u << JIT_H_BOUNDARY);
        return 0;
    case OP_FENCE:
        return 0;
    case OP_LUI: case OP_AUIPC: case OP_JAL: case OP_JALR:
    case OP_ADDI: case OP_XORI: case OP_ORI: case OP_ANDI: case OP_SLTI: case OP_SLTIU:
    case OP_SLLI: case OP_SRLI: case OP_SRAI:
    case OP_ADD: case OP_SUB: case OP_AND: case OP_OR: case OP_XOR: case OP_SLT: case OP_SLTU:
    case OP_SLL: case OP_SRL: case OP_SRA:
    case OP_ADDIW: case OP_SLLIW: case OP_SRLIW: case OP_SRAIW:
    case OP_ADDW: case OP_SUBW: case OP_SLLW: case OP_SRLW: case OP_SRAW:
    case OP_MUL: case OP_MULW: case OP_MULH: case OP_MULHU:
    case OP_SH1ADD: case OP_SH2ADD: case OP_SH3ADD: case OP_ADD_UW:
    case OP_SH1ADD_UW: case OP_SH2ADD_UW: case OP_SH3ADD_UW: case OP_SLLI_UW:
    case OP_ANDN: case OP_ORN: case OP_XNOR: case OP_MAX: case OP_MAXU: case OP_MIN: case OP_MINU:
    case OP_SEXT_B: case OP_SEXT_H: case OP_ZEXT_H: case OP_REV8:
    case OP_ROL: case OP_ROR: case OP_RORI: case OP_ROLW: case OP_RORW: case OP_RORIW:
    case OP_BCLR: case OP_BSET: case OP_BINV: case OP_BEXT:
    case OP_BCLRI: case OP_BSETI: case OP_BINVI: case OP_BEXTI:
        break;
    default:
        return -1;
    }
    if (!t)
        return 0;
    /* The result goes to d (rd's host register or rax); rs2 is read
     * after d is written only where dest() allows it. */
    enum x64_reg d = dest(op), res = d;
    switch (o) {
    case OP_LUI: x64_mov_ri(b, d, (uint64_t)(int64_t)op->imm); break;
    case OP_AUIPC: {
        int64_t off = (int64_t)op->pcoff + op->imm;
        if (off == (int32_t)off) {
            x64_lea(b, d, RBPC, (int32_t)off);
        } else {
            x64_mov_ri(b, d, (uint64_t)off);
            x64_alu_rr(b, X64_ADD, d, RBPC, 0);
        }
        break;
    }
    case OP_JAL:
        x64_lea(b, d, RBPC, op->pcoff + op->len);
        st(t, op->rd, d);
        exit_to(t, op->pcoff + op->imm, op->idx + 1u, JIT_NEXT);
        return 0;
    case OP_JALR: {
        /* rax = the target (jit_chain_jump's input), then the link. */
        enum x64_reg p = pin(op->rs1), l = pin(op->rd) != JIT_REG_NONE ? pin(op->rd) : X64_RCX;
        if (p != JIT_REG_NONE) {
            x64_lea(b, X64_RAX, p, op->imm);
        } else {
            ld(t, X64_RAX, op->rs1);
            if (op->imm)
                x64_alu_ri(b, X64_ADD, X64_RAX, op->imm, 0);
        }
        x64_alu_ri(b, X64_AND, X64_RAX, -2, 0);
        x64_lea(b, l, RBPC, op->pcoff + op->len);
        st(t, op->rd, l);
        x64_alu_ri(b, X64_ADD, RINSTRET, (int32_t)(op->idx + 1u), 0);
        jit_chain_jump(b, &t->f);
        return 0;
    }
    case OP_ADDI: {
        enum x64_reg p = pin(op->rs1);
        if (op->rs1 == 0)
            x64_mov_ri(b, d, (uint64_t)(int64_t)op->imm);
        else if (p != JIT_REG_NONE && p != d && op->imm)
            x64_lea(b, d, p, op->imm);
        else
            emit_alu(t, op, X64_ADD, 1, d);
        break;
    }
    case OP_XORI: emit_alu(t, op, X64_XOR, 1, d); break;
    case OP_ORI: emit_alu(t, op, X64_OR, 1, d); break;
    case OP_ANDI: emit_alu(t, op, X64_AND, 1, d); break;
    case OP_ADD: emit_alu(t, op, X64_ADD, 0, d); break;
    case OP_SUB: emit_alu(t, op, X64_SUB, 0, d); break;
    case OP_AND: emit_alu(t, op, X64_AND, 0, d); break;
    case OP_OR: emit_alu(t, op, X64_OR, 0, d); break;
    case OP_XOR: emit_alu(t, op, X64_XOR, 0, d); break;
    case OP_SLTI: case OP_SLTIU: case OP_SLT: case OP_SLTU:
        emit_cmp(t, op, o == OP_SLTI || o == OP_SLTIU);
        x64_setcc_zx(b, o == OP_SLTI || o == OP_SLT ? X64_CC_L : X64_CC_B, X64_RAX);
        res = X64_RAX;
        break;
    case OP_SLLI: case OP_SRLI: case OP_SRAI: case OP_RORI:
        ld(t, d, op->rs1);
        x64_shift_ri(b, o == OP_SLLI ? X64_SHL : o == OP_SRLI ? X64_SHR : o == OP_SRAI ? X64_SAR : X64_ROR,
                     d, (unsigned)op->imm, 0);
        break;
    case OP_SLL: emit_shift_reg(t, op, X64_SHL, 0, d); break;
    case OP_SRL: emit_shift_reg(t, op, X64_SHR, 0, d); break;
    case OP_SRA: emit_shift_reg(t, op, X64_SAR, 0, d); break;
    case OP_ROL: emit_shift_reg(t, op, X64_ROL, 0, d); break;
    case OP_ROR: emit_shift_reg(t, op, X64_ROR, 0, d); break;
    case OP_SLLW: emit_shift_reg(t, op, X64_SHL, 1, d); break;
    case OP_SRLW: emit_shift_reg(t, op, X64_SHR, 1, d); break;
    case OP_SRAW: emit_shift_reg(t, op, X64_SAR, 1, d); break;
    case OP_ROLW: emit_shift_reg(t, op, X64_ROL, 1, d); break;
    case OP_RORW: emit_shift_reg(t, op, X64_ROR, 1, d); break;
    case OP_ADDIW:
        ld(t, d, op->rs1);
        x64_alu_ri(b, X64_ADD, d, op->imm, 1);
        x64_movsx(b, d, d, 4);
        break;
    case OP_SLLIW: case OP_SRLIW: case OP_SRAIW: case OP_RORIW:
        ld(t, d, op->rs1);
        x64_shift_ri(b, o == OP_SLLIW ? X64_SHL : o == OP_SRLIW ? X64_SHR : o == OP_SRAIW ? X64_SAR : X64_ROR,
                     d, (unsigned)op->imm, 1);
        x64_movsx(b, d, d, 4);
        break;
    case OP_ADDW: case OP_SUBW: case OP_MULW: case OP_MUL: {
        ld(t, d, op->rs1);
        enum x64_reg r2 = src(t, op->rs2, X64_RCX);
        int w32 = o != OP_MUL;
        if (o == OP_MULW || o == OP_MUL)
            x64_imul_rr(b, d, r2, w32);
        else
            x64_alu_rr(b, o == OP_ADDW ? X64_ADD : X64_SUB, d, r2, 1);
        if (w32)
            x64_movsx(b, d, d, 4);
        break;
    }
    case OP_MULH: case OP_MULHU:
        ld(t, X64_RAX, op->rs1);
        ld(t, X64_RCX, op->rs2);
        x64_mul_wide(b, X64_RCX, o == OP_MULH);
        res = X64_RDX;
        break;
    case OP_SH1ADD: case OP_SH2ADD: case OP_SH3ADD:
    case OP_ADD_UW: case OP_SH1ADD_UW: case OP_SH2ADD_UW: case OP_SH3ADD_UW: {
        unsigned sh = (o == OP_SH1ADD || o == OP_SH1ADD_UW) ? 1 : (o == OP_SH2ADD || o == OP_SH2ADD_UW) ? 2
                    : (o == OP_SH3ADD || o == OP_SH3ADD_UW) ? 3 : 0;
        ld(t, d, op->rs1);
        if (o == OP_ADD_UW || o == OP_SH1ADD_UW || o == OP_SH2ADD_UW || o == OP_SH3ADD_UW)
            x64_mov_rr32(b, d, d);
        if (sh)
            x64_shift_ri(b, X64_SHL, d, sh, 0);
        alu_x(t, X64_ADD, d, op->rs2);
        break;
    }
    case OP_SLLI_UW:
        ld(t, d, op->rs1);
        x64_mov_rr32(b, d, d);
        x64_shift_ri(b, X64_SHL, d, (unsigned)op->imm, 0);
        break;
    case OP_ANDN: case OP_ORN:
        ld(t, X64_RCX, op->rs2);
        x64_not(b, X64_RCX);
        ld(t, d, op->rs1);
        x64_alu_rr(b, o == OP_ANDN ? X64_AND : X64_OR, d, X64_RCX, 0);
        break;
    case OP_XNOR:
        emit_alu(t, op, X64_XOR, 0, d);
        x64_not(b, d);
        break;
    case OP_MAX: case OP_MAXU: case OP_MIN: case OP_MINU: {
        ld(t, d, op->rs1);
        enum x64_reg r2 = src(t, op->rs2, X64_RCX);
        x64_alu_rr(b, X64_CMP, d, r2, 0);
        x64_cmov(b, o == OP_MAX ? X64_CC_L : o == OP_MIN ? X64_CC_G : o == OP_MAXU ? X64_CC_B : X64_CC_A, d, r2);
        break;
    }
    case OP_SEXT_B: x64_movsx(b, d, src(t, op->rs1, X64_RAX), 1); break;
    case OP_SEXT_H: x64_movsx(b, d, src(t, op->rs1, X64_RAX), 2); break;
    case OP_ZEXT_H: x64_movzx16(b, d, src(t, op->rs1, X64_RAX)); break;
    case OP_REV8: ld(t, d, op->rs1); x64_bswap(b, d); break;
    case OP_BCLR: case OP_BSET: case OP_BINV:
        ld(t, d, op->rs1);
        x64_bitop_rr(b, o == OP_BCLR ? X64_BTR : o == OP_BSET ? X64_BTS : X64_BTC, d, src(t, op->rs2, X64_RCX));
        break;
    case OP_BCLRI: case OP_BSETI: case OP_BINVI:
        ld(t, d, op->rs1);
        x64_bitop_ri(b, o == OP_BCLRI ? X64_BTR : o == OP_BSETI ? X64_BTS : X64_BTC, d, (unsigned)op->imm);
        break;
    case OP_BEXT:
        emit_shift_reg(t, op, X64_SHR, 0, d);
        x64_alu_ri(b, X64_AND, d, 1, 1);
        break;
    case OP_BEXTI:
        ld(t, d, op->rs1);
        x64_shift_ri(b, X64_SHR, d, (unsigned)op->imm, 0);
        x64_alu_ri(b, X64_AND, d, 1, 1);
        break;
    default:
        return -1;
    }
    st(t, op->rd, res);
    return 0;
}

/* Makes sure the next unit's pages are faulted in. A host that cannot
 * (no MADV_POPULATE_*) faults them in as they are touched. */
static void populate(struct jit *j)
{
    size_t want = j->used + JIT_UNIT_MAX_BYTES + sizeof(struct jit_unit);
    if (want <= j->populated || j->populated >= j->size)
        return;
    size_t end = (want + JIT_POPULATE_BYTES - 1) / JIT_POPULATE_BYTES * JIT_POPULATE_BYTES;
    if (end > j->size)
        end = j->size;
    madvise(j->rw + j->populated, end - j->populated, MADV_POPULATE_WRITE);
    madvise(j->rx + j->populated, end - j->populated, MADV_POPULATE_READ);
    j->populated = end;
}

/* The jump caches hold chain entries into the cache (see jit_chain.c):
 * they go with it. */
static void cache_flush(struct hart *h, struct jit *j)
{
    j->used = 0;
    j->gen++;
    j->stats.flushes++;
    mmu_flush_jcache(h);
}

/* The unit of block blk, translating it if needed; NULL when blk starts
 * with an instruction the JIT leaves to the interpreter. */
static const struct jit_unit *unit_for(struct hart *h, struct jit *j, struct hart_block *blk)
{
    uint64_t *gen;
    void **slot = hart_block_unit(blk, &gen);
    if (*slot && *gen == j->gen)
        return *slot == JIT_NONE ? NULL : *slot;
    unsigned n;
    const struct hart_op *ops = hart_block_ops(blk, &n);
    unsigned k = 0;
    while (k < n && emit_op(NULL, &ops[k]) == 0)
        k++;
    if (k == 0) {
        *slot = JIT_NONE;
        *gen = j->gen;
        return NULL;
    }
    if (j->size - j->used < JIT_UNIT_MAX_BYTES + sizeof(struct jit_unit))
        cache_flush(h, j);
    populate(j);
    if (!j->used) {
        struct x64_buf sb = { .start = j->rw, .p = j->rw, .end = j->rw + JIT_STUBS_MAX_BYTES };
        jit_chain_stubs(&sb, &j->stubs);
        emit_mem_stubs(&sb, &j->ms);
        if (sb.overflow)
            abort(); /* JIT_STUBS_MAX_BYTES is wrong */
        j->used = (x64_size(&sb) + 15) & ~(size_t)15;
    }
    /* Positions in the unit's buffer are code-cache offsets. */
    struct jit_unit *u = (struct jit_unit *)(j->rw + j->used);
    struct tctx t = { .b = { .start = j->rw, .p = u->code, .end = u->code + JIT_UNIT_MAX_BYTES } };
    struct x64_buf *b = &t.b;
    t.f.pa = hart_block_pa(blk);
    t.f.chain = 1;
    for (unsigned i = 0; i < k; i++)
        if (hart_op_is_system(ops[i].opc))
            t.f.chain = 0;
    t.f.stubs = &j->stubs;
    t.ms = &j->ms;
    jit_chain_begin(b, &t.f, k);
    int ended = 0;
    for (unsigned i = 0; i < k && !ended; i++) {
        emit_op(&t, &ops[i]);
        ended = ops[i].opc == OP_JAL || ops[i].opc == OP_JALR;
    }
    if (!ended)
        exit_to(&t, ops[k].pcoff, k, JIT_NEXT);
    emit_slow_paths(&t);
    if (b->overflow) {
        /* Cannot happen within the bound; never run a partial unit. */
        *slot = JIT_NONE;
        *gen = j->gen;
        return NULL;
    }
    u->ninsns = k;
    u->bytes = (uint32_t)(b->p - u->code);
    u->centry = j->rx + t.f.centry;
    u->body = j->rx + t.f.body;
    j->used += (sizeof *u + u->bytes + 15) & ~(size_t)15;
    j->stats.units++;
    j->stats.insns += k;
    j->stats.bytes += u->bytes;
    u = (struct jit_unit *)(j->rx + ((uint8_t *)u - j->rw));
    *slot = u;
    *gen = j->gen;
    return u;
}

/* ---- the run loop ---- */

#define REACHED(a, b) ((int64_t)((a) - (b)) >= 0)

enum hart_exit jit_run(struct hart *h, uint64_t budget)
{
    struct jit *j = h->jit;
    uint64_t budget_end = h->instret + budget;
    for (;;) {
        int r = hart_boundary(h, budget_end);
        if (r >= 0)
            return (enum hart_exit)r;
        /* Execute triggers are matched on the interpreter's block entries
         * (cpu/trigger.h): it runs the hart while one is armed. */
        if (__builtin_expect(h->trig.armed & TRIGGER_EXEC, 0))
            return hart_interp_run(h, budget_end - h->instret);
        uint64_t slice_end = budget_end - h->instret > HART_SLICE ? h->instret + HART_SLICE : budget_end;
        /* The record of the exit the last unit left by, while nothing
         * but the lookup of the next block came after it (see
         * jit_chain_link). */
        uint32_t rec = 0;
        uint64_t rec_gen = 0;
        while (!REACHED(h->instret, slice_end)) {
            struct hart_block *blk = hart_block_at(h, h->pc);
            const struct jit_unit *u = blk ? unit_for(h, j, blk) : NULL;
            if (u)
                mmu_jcache_set_jit(h, h->pc, blk, u->centry);
            if (rec) {
                if (u && rec_gen == j->gen &&
                    jit_chain_link(j->rw, j->rx, j->size, rec, hart_block_pa(blk), u))
                    j->stats.links++;
                rec = 0;
            }
            if (!u || !REACHED(budget_end, h->instret + u->ninsns)) {
                /* The interpreter runs what is not translated: budget
                 * for the block at pc, so it ends there unless a branch
                 * leaves the block early. A system instruction is alone
                 * in its block: just it runs, and the JIT takes over
                 * right after. A block that fits the budget is never
                 * shortened (decoded again) by the interpreter. 1 where
                 * there is no cached block (after a fetch fault it runs
                 * up to the first instruction that retires); the rest of
                 * the budget when the unit would overrun it. Then the
                 * boundary. */
                uint64_t left = budget_end - h->instret, n = left;
                if (!blk) {
                    n = 1;
                    j->stats.fallback_fetch++;
                } else if (!u) {
                    unsigned nb;
                    j->stats.fallback_op[hart_block_ops(blk, &nb)[0].opc]++;
                    if (nb && nb < left)
                        n = nb;
                } else {
                    j->stats.fallback_budget++;
                }
                j->stats.fallbacks++;
                enum hart_exit e = hart_interp_run(h, n);
                if (e != HART_EXIT_BUDGET)
                    return e;
                break;
            }
            struct jit_ret r = ((jit_enter_fn)(uintptr_t)(j->rx + j->stubs.enter))(h, h->pc, slice_end, u->body);
            int rc = (int)(r.rc & 0xff);
            j->stats.returns++;
            j->stats.chained += r.chains & 0xffff;
            j->stats.jcache_hits += r.chains >> 16;
            if (rc == JIT_NEXT) {
                rec = (uint32_t)(r.rc >> 8);
                rec_gen = j->gen;
            }
            if (rc == JIT_EXC) {
                if (hart_take_exception(h))
                    return HART_EXIT_CRASH;
                break;
            }
            if (rc == JIT_BOUNDARY)
                break;
        }
    }
}

#else /* no back end for this host: the interpreter runs */

int jit_create(struct hart *h, size_t cache_bytes)
{
    (void)cache_bytes;
    h->jit = NULL;
    return 0;
}

void jit_destroy(struct jit *j)
{
    (void)j;
}

void jit_reset(struct jit *j)
{
    (void)j;
}

enum hart_exit jit_run(struct hart *h, uint64_t budget)
{
    return hart_interp_run(h, budget);
}

void jit_get_stats(const struct hart *h, struct jit_stats *out)
{
    (void)h;
    memset(out, 0, sizeof *out);
}

#endif
