/* The hart's interpreter and trap machinery (see hart.h).
 *
 * Speed comes from three things: the fetch path keeps the host address of
 * the current code page in locals, so most fetches are one host load; the
 * decoded-instruction cache is indexed and tagged by the instruction bits
 * themselves (decoding is a pure function of them), so a lookup is a hash
 * and a compare and the cache never needs invalidating, not on fence.i and
 * not when code is rewritten; and loads and stores hit a direct-mapped
 * software TLB holding host addends. Asynchronous events (interrupt lines,
 * timers, stop requests) are looked at every HART_SLICE instructions and
 * right after any instruction that can change what is enabled (CSR
 * writes, mret, sret, wfi, sfence.vma, traps). */
#include "cpu/hart.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/csr.h"
#include "cpu/mmu.h"
#include "cpu/fpu.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "guest memory is accessed with host loads");

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define HART_SLICE 4096
/* Same exception at the same pc this many times in a row: no progress. */
#define HART_REPEAT_LIMIT 100000
#define DEFAULT_FREQ_HZ 10000000ull

static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t hart_time(struct hart *h)
{
    if (h->clock.read)
        return h->clock.read(h->clock.opaque);
    return (host_ns() - h->clock_origin_ns) / (1000000000ull / DEFAULT_FREQ_HZ);
}

int hart_create(struct hart **out, const struct hart_config *cfg, struct errmsg *e)
{
    if (cfg->mem.size & 0xfff)
        return errmsg_set(e, -EINVAL, "hart %u: RAM size %#" PRIx64 " is not a multiple of 4 KiB",
                          cfg->hartid, cfg->mem.size);
    struct hart *h = aligned_alloc(64, (sizeof *h + 63) & ~(size_t)63);
    if (!h)
        return errmsg_set(e, -ENOMEM, "hart %u: out of memory for its state", cfg->hartid);
    memset(h, 0, sizeof *h);
    h->mem = cfg->mem;
    h->bus = cfg->bus;
    h->clock = cfg->clock;
    if (!h->clock.read || !h->clock.freq_hz)
        h->clock.freq_hz = DEFAULT_FREQ_HZ;
    h->clock_origin_ns = host_ns();
    h->mhartid = cfg->hartid;
    h->crash_detect = cfg->crash_detect;
    h->ecall = cfg->ecall;
    atomic_init(&h->flush_requested, 0);
    atomic_init(&h->flush_done, 0);
    atomic_init(&h->mip_ext, 0);
    atomic_init(&h->mtimecmp, UINT64_MAX);
    atomic_init(&h->stop_requested, 0);
    atomic_init(&h->kicked, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wait_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->wait_lock, NULL);
    /* Every decode-cache slot starts as the decoding of the bits 0, which
     * is what a fetch of 0 would find: no valid bit needed. */
    struct insn zero;
    decode_insn(0, &zero);
    for (size_t i = 0; i < (1u << HART_DCACHE_BITS); i++)
        h->dcache[i] = zero;
    hart_reset(h, h->mem.base, PRIV_M, 0, 0);
    *out = h;
    return 0;
}

void hart_destroy(struct hart *h)
{
    if (!h)
        return;
    pthread_cond_destroy(&h->wait_cond);
    pthread_mutex_destroy(&h->wait_lock);
    free(h);
}

void hart_reset(struct hart *h, uint64_t pc, enum hart_priv priv, uint64_t a0, uint64_t a1)
{
    memset(h->x, 0, sizeof h->x);
    memset(h->f, 0, sizeof h->f);
    h->pc = pc;
    h->priv = priv;
    h->mstatus = 0;
    h->medeleg = h->mideleg = h->mie = h->mtvec = h->mscratch = h->mepc = h->mcause = h->mtval = 0;
    h->mip_sw = 0;
    h->mcounteren = h->scounteren = h->mcountinhibit = 0;
    h->menvcfg = h->senvcfg = 0;
    h->stvec = h->sscratch = h->sepc = h->scause = h->stval = h->satp = 0;
    h->stimecmp = UINT64_MAX;
    h->instret = h->cycle_delta = 0;
    h->fflags = h->frm = 0;
    memset(h->pmpcfg, 0, sizeof h->pmpcfg);
    memset(h->pmpaddr, 0, sizeof h->pmpaddr);
    h->pmp_active = 0;
    h->resv_valid = 0;
    h->trapped_once = 0;
    h->exc_repeat = 0;
    h->crash_reason[0] = 0;
    h->x[10] = a0;
    h->x[11] = a1;
    csr_update_priv_ls(h);
    mmu_flush(h);
}

void hart_raise(struct hart *h, uint64_t cause, uint64_t tval)
{
    h->exc_cause = cause;
    h->exc_tval = tval;
}

uint64_t hart_pending_irqs(struct hart *h)
{
    uint64_t ip = h->mip_sw | atomic_load_explicit(&h->mip_ext, memory_order_acquire);
    uint64_t mtimecmp = atomic_load_explicit(&h->mtimecmp, memory_order_relaxed);
    int stce = (h->menvcfg & MENVCFG_STCE) != 0;
    if (stce)
        ip &= ~MIP_STIP;
    if (mtimecmp != UINT64_MAX || stce) {
        uint64_t t = hart_time(h);
        if (t >= mtimecmp)
            ip |= MIP_MTIP;
        if (stce && t >= h->stimecmp)
            ip |= MIP_STIP;
    }
    return ip;
}

/* The interrupt to take now, or 0. */
static uint64_t irq_to_take(struct hart *h)
{
    uint64_t p = hart_pending_irqs(h) & h->mie;
    if (!p)
        return 0;
    uint64_t take = 0;
    if (h->priv < PRIV_M || (h->mstatus & MSTATUS_MIE))
        take = p & ~h->mideleg;
    if (!take && (h->priv < PRIV_S || (h->priv == PRIV_S && (h->mstatus & MSTATUS_SIE))))
        take = p & h->mideleg;
    if (!take)
        return 0;
    static const unsigned order[] = { 11, 3, 7, 9, 1, 5 };
    for (unsigned i = 0; i < sizeof order / sizeof order[0]; i++)
        if (take & (1ull << order[i]))
            return CAUSE_INTERRUPT | order[i];
    return 0;
}

static void set_priv(struct hart *h, unsigned priv)
{
    if (h->priv != priv) {
        h->priv = priv;
        mmu_flush(h);
    }
    csr_update_priv_ls(h);
}

/* Takes a trap at h->pc. Returns 1 if crash detection says the program
 * cannot make progress (the trap is still taken, so the report shows it). */
static int take_trap(struct hart *h, uint64_t cause, uint64_t tval)
{
    int irq = (cause & CAUSE_INTERRUPT) != 0;
    unsigned code = (unsigned)(cause & 63);
    int crash = 0;
    if (h->crash_detect) {
        if (h->trapped_once && h->instret == h->last_trap_instret) {
            snprintf(h->crash_reason, sizeof h->crash_reason,
                     "a trap (cause %u) was taken at %#" PRIx64 " before any instruction completed "
                     "since the previous trap: the trap vector itself faults",
                     code, h->pc);
            crash = 1;
        }
        if (!irq && cause != CAUSE_ECALL_U && cause != CAUSE_ECALL_S && cause != CAUSE_ECALL_M &&
            cause == h->last_exc_cause && h->pc == h->last_exc_pc) {
            if (++h->exc_repeat >= HART_REPEAT_LIMIT) {
                snprintf(h->crash_reason, sizeof h->crash_reason,
                         "exception cause %u at pc %#" PRIx64 " repeated %d times in a row: no progress",
                         code, h->pc, HART_REPEAT_LIMIT);
                crash = 1;
            }
        } else {
            h->exc_repeat = 0;
        }
        h->last_exc_cause = irq ? UINT64_MAX : cause;
        h->last_exc_pc = h->pc;
        h->trapped_once = 1;
        h->last_trap_instret = h->instret;
    }
    h->resv_valid = 0;
    uint64_t deleg = irq ? h->mideleg : h->medeleg;
    if (h->priv <= PRIV_S && ((deleg >> code) & 1)) {
        h->scause = cause;
        h->sepc = h->pc;
        h->stval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_SPIE | MSTATUS_SIE | MSTATUS_SPP);
        if (h->mstatus & MSTATUS_SIE)
            s |= MSTATUS_SPIE;
        if (h->priv == PRIV_S)
            s |= MSTATUS_SPP;
        h->mstatus = s;
        h->pc = (h->stvec & ~3ull) + ((h->stvec & 1) && irq ? 4ull * code : 0);
        set_priv(h, PRIV_S);
    } else {
        h->mcause = cause;
        h->mepc = h->pc;
        h->mtval = tval;
        uint64_t s = h->mstatus & ~(MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_MPP);
        if (h->mstatus & MSTATUS_MIE)
            s |= MSTATUS_MPIE;
        s |= (uint64_t)h->priv << 11;
        h->mstatus = s;
        h->pc = (h->mtvec & ~3ull) + ((h->mtvec & 1) && irq ? 4ull * code : 0);
        set_priv(h, PRIV_M);
    }
    return crash;
}

/* ---- memory fast paths ---- */

static inline int load_u(struct hart *h, uint64_t va, unsigned size, uint64_t *v)
{
    const struct hart_tlb_entry *e = &h->tlb_load[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (likely(e->vpage == (va & ~0xfffull) && (va & 0xfff) <= 4096u - size)) {
        uint64_t t = 0;
        memcpy(&t, (const void *)(e->addend + (uintptr_t)va), size);
        *v = t;
        return 0;
    }
    return mmu_load_slow(h, va, size, v);
}

static inline int store_u(struct hart *h, uint64_t va, unsigned size, uint64_t v)
{
    const struct hart_tlb_entry *e = &h->tlb_store[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (likely(e->vpage == (va & ~0xfffull) && (va & 0xfff) <= 4096u - size)) {
        memcpy((void *)(e->addend + (uintptr_t)va), &v, size);
        return 0;
    }
    return mmu_store_slow(h, va, size, v);
}

static int fetch_slow(struct hart *h, uint64_t pc, uint32_t *raw, uint8_t **fpage, uint64_t *fvpage)
{
    uint8_t *host;
    uint32_t lo, hi;
    if (mmu_fetch_page(h, pc, &host))
        return -1;
    if (host) {
        *fpage = host;
        *fvpage = pc & ~0xfffull;
        if ((pc & 0xfff) != 0xffe) {
            memcpy(raw, host + (pc & 0xfff), 4);
            return 0;
        }
        uint16_t l16;
        memcpy(&l16, host + 0xffe, 2);
        lo = l16;
    } else {
        *fvpage = 1; /* uncacheable: come back here for every fetch */
        if (mmu_fetch16(h, pc, &lo))
            return -1;
    }
    if ((lo & 3) != 3) {
        *raw = lo;
        return 0;
    }
    /* A 32-bit instruction whose upper half is on the next page: a fault
     * there names that page (tval) but the instruction's pc (epc). */
    if (mmu_fetch16(h, pc + 2, &hi))
        return -1;
    *raw = lo | hi << 16;
    return 0;
}

/* ---- atomics ---- */

static uint64_t amo64(unsigned op, uint64_t *p, uint64_t v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_D: n = v; break;
        case OP_AMOADD_D: n = old + v; break;
        case OP_AMOXOR_D: n = old ^ v; break;
        case OP_AMOAND_D: n = old & v; break;
        case OP_AMOOR_D: n = old | v; break;
        case OP_AMOMIN_D: n = (int64_t)old < (int64_t)v ? old : v; break;
        case OP_AMOMAX_D: n = (int64_t)old > (int64_t)v ? old : v; break;
        case OP_AMOMINU_D: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_D */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

static uint32_t amo32(unsigned op, uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_W: n = v; break;
        case OP_AMOADD_W: n = old + v; break;
        case OP_AMOXOR_W: n = old ^ v; break;
        case OP_AMOAND_W: n = old & v; break;
        case OP_AMOOR_W: n = old | v; break;
        case OP_AMOMIN_W: n = (int32_t)old < (int32_t)v ? old : v; break;
        case OP_AMOMAX_W: n = (int32_t)old > (int32_t)v ? old : v; break;
        case OP_AMOMINU_W: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_W */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

/* ---- bit manipulation helpers ---- */

static inline uint64_t rol64(uint64_t a, unsigned s) { s &= 63; return s ? (a << s) | (a >> (64 - s)) : a; }
static inline uint64_t ror64(uint64_t a, unsigned s) { s &= 63; return s ? (a >> s) | (a << (64 - s)) : a; }
static inline uint32_t rol32(uint32_t a, unsigned s) { s &= 31; return s ? (a << s) | (a >> (32 - s)) : a; }
static inline uint32_t ror32(uint32_t a, unsigned s) { s &= 31; return s ? (a >> s) | (a << (32 - s)) : a; }
static inline uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

static uint64_t orc_b(uint64_t a)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < 64; i += 8)
        if ((a >> i) & 0xff)
            r |= 0xffull << i;
    return r;
}

/* ---- floating point helpers ---- */

static inline uint32_t unbox32(uint64_t v)
{
    return (v >> 32) == 0xffffffffu ? (uint32_t)v : 0x7fc00000u;
}

static inline uint64_t box32(uint32_t v)
{
    return 0xffffffff00000000ull | v;
}

/* ---- the run loop ---- */

static inline unsigned dcache_index(uint32_t raw)
{
    return (raw * 0x9e3779b1u) >> (32 - HART_DCACHE_BITS);
}

enum hart_exit hart_run(struct hart *h, uint64_t budget)
{
    uint64_t *const x = h->x;
    uint64_t *const f = h->f;
    uint64_t pc = h->pc;
    const uint64_t start = h->instret;
    uint8_t *fpage = NULL;
    uint64_t fvpage = 1; /* never equal to a page-aligned pc */
    int slice;
    const struct insn *d;

boundary:
    h->pc = pc;
    if (unlikely(atomic_load_explicit(&h->flush_requested, memory_order_acquire) !=
                 atomic_load_explicit(&h->flush_done, memory_order_relaxed))) {
        hart_service_flush(h);
        fvpage = 1;
    }
    if (unlikely(atomic_load_explicit(&h->stop_requested, memory_order_acquire))) {
        atomic_store(&h->stop_requested, 0);
        return HART_EXIT_STOP;
    }
    if (h->instret - start >= budget)
        return HART_EXIT_BUDGET;
    {
        uint64_t cause = irq_to_take(h);
        if (cause) {
            if (take_trap(h, cause, 0))
                return HART_EXIT_CRASH;
            pc = h->pc;
            fvpage = 1;
        }
    }
    slice = budget - (h->instret - start) < HART_SLICE ? (int)(budget - (h->instret - start)) : HART_SLICE;

    for (;;) {
        if (unlikely(--slice < 0))
            goto boundary;
        uint32_t raw;
        if (likely((pc & ~0xfffull) == fvpage && (pc & 0xfff) != 0xffe)) {
            memcpy(&raw, fpage + (pc & 0xfff), 4);
        } else if (fetch_slow(h, pc, &raw, &fpage, &fvpage)) {
            goto exception;
        }
        if ((raw & 3) != 3)
            raw &= 0xffff;
        {
            struct insn *c = &h->dcache[dcache_index(raw)];
            if (unlikely(c->raw != raw))
                decode_insn(raw, c);
            d = c;
        }

#define RD x[d->rd]
#define RS1 x[d->rs1]
#define RS2 x[d->rs2]
#define IMM ((uint64_t)(int64_t)d->imm)
#define NEXT goto next_insn
#define JUMP(t) do { pc = (t); goto retired; } while (0)
#define LOAD(sz, T) do { uint64_t v_; if (load_u(h, RS1 + IMM, sz, &v_)) goto exception; \
                         RD = (uint64_t)(T)v_; NEXT; } while (0)
#define STORE(sz) do { if (store_u(h, RS1 + IMM, sz, RS2)) goto exception; NEXT; } while (0)
#define BRANCH(cond) do { if (cond) JUMP(pc + IMM); NEXT; } while (0)

        switch (d->op) {
        case OP_LUI: RD = IMM; NEXT;
        case OP_AUIPC: RD = pc + IMM; NEXT;
        case OP_JAL: RD = pc + d->len; JUMP(pc + IMM);
        case OP_JALR: {
            uint64_t t = (RS1 + IMM) & ~1ull;
            RD = pc + d->len;
            JUMP(t);
        }
        case OP_BEQ: BRANCH(RS1 == RS2);
        case OP_BNE: BRANCH(RS1 != RS2);
        case OP_BLT: BRANCH((int64_t)RS1 < (int64_t)RS2);
        case OP_BGE: BRANCH((int64_t)RS1 >= (int64_t)RS2);
        case OP_BLTU: BRANCH(RS1 < RS2);
        case OP_BGEU: BRANCH(RS1 >= RS2);
        case OP_LB: LOAD(1, int8_t);
        case OP_LH: LOAD(2, int16_t);
        case OP_LW: LOAD(4, int32_t);
        case OP_LD: LOAD(8, uint64_t);
        case OP_LBU: LOAD(1, uint8_t);
        case OP_LHU: LOAD(2, uint16_t);
        case OP_LWU: LOAD(4, uint32_t);
        case OP_SB: STORE(1);
        case OP_SH: STORE(2);
        case OP_SW: STORE(4);
        case OP_SD: STORE(8);
        case OP_ADDI: RD = RS1 + IMM; NEXT;
        case OP_SLTI: RD = (int64_t)RS1 < (int64_t)IMM; NEXT;
        case OP_SLTIU: RD = RS1 < IMM; NEXT;
        case OP_XORI: RD = RS1 ^ IMM; NEXT;
        case OP_ORI: RD = RS1 | IMM; NEXT;
        case OP_ANDI: RD = RS1 & IMM; NEXT;
        case OP_SLLI: RD = RS1 << d->imm; NEXT;
        case OP_SRLI: RD = RS1 >> d->imm; NEXT;
        case OP_SRAI: RD = (uint64_t)((int64_t)RS1 >> d->imm); NEXT;
        case OP_ADD: RD = RS1 + RS2; NEXT;
        case OP_SUB: RD = RS1 - RS2; NEXT;
        case OP_SLL: RD = RS1 << (RS2 & 63); NEXT;
        case OP_SLT: RD = (int64_t)RS1 < (int64_t)RS2; NEXT;
        case OP_SLTU: RD = RS1 < RS2; NEXT;
        case OP_XOR: RD = RS1 ^ RS2; NEXT;
        case OP_SRL: RD = RS1 >> (RS2 & 63); NEXT;
        case OP_SRA: RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63)); NEXT;
        case OP_OR: RD = RS1 | RS2; NEXT;
        case OP_AND: RD = RS1 & RS2; NEXT;
        case OP_ADDIW: RD = sext32(RS1 + IMM); NEXT;
        case OP_SLLIW: RD = sext32((uint32_t)RS1 << d->imm); NEXT;
        case OP_SRLIW: RD = sext32((uint32_t)RS1 >> d->imm); NEXT;
        case OP_SRAIW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> d->imm); NEXT;
        case OP_ADDW: RD = sext32(RS1 + RS2); NEXT;
        case OP_SUBW: RD = sext32(RS1 - RS2); NEXT;
        case OP_SLLW: RD = sext32((uint32_t)RS1 << (RS2 & 31)); NEXT;
        case OP_SRLW: RD = sext32((uint32_t)RS1 >> (RS2 & 31)); NEXT;
        case OP_SRAW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31)); NEXT;

        case OP_MUL: RD = RS1 * RS2; NEXT;
        case OP_MULH: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64); NEXT;
        case OP_MULHSU: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)RS2) >> 64); NEXT;
        case OP_MULHU: RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64); NEXT;
        case OP_DIV: {
            int64_t a = (int64_t)RS1, b = (int64_t)RS2;
            RD = b == 0 ? UINT64_MAX : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
            NEXT;
        }
        case OP_DIVU: RD = RS2 == 0 ? UINT64_MAX : RS1 / RS2; NEXT;
        case OP_REM: {
            int64_t a = (int64_t)RS1, b = (int64_t)RS2;
            RD = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
            NEXT;
        }
        case OP_REMU: RD = RS2 == 0 ? RS1 : RS1 % RS2; NEXT;
        case OP_MULW: RD = sext32(RS1 * RS2); NEXT;
        case OP_DIVW: {
            int32_t a = (int32_t)RS1, b = (int32_t)RS2;
            RD = (uint64_t)(int64_t)(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b);
            NEXT;
        }
        case OP_DIVUW: {
            uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
            RD = sext32(b == 0 ? UINT32_MAX : a / b);
            NEXT;
        }
        case OP_REMW: {
            int32_t a = (int32_t)RS1, b = (int32_t)RS2;
            RD = (uint64_t)(int64_t)(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b);
            NEXT;
        }
        case OP_REMUW: {
            uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
            RD = sext32(b == 0 ? a : a % b);
            NEXT;
        }

        case OP_SH1ADD: RD = (RS1 << 1) + RS2; NEXT;
        case OP_SH2ADD: RD = (RS1 << 2) + RS2; NEXT;
        case OP_SH3ADD: RD = (RS1 << 3) + RS2; NEXT;
        case OP_ADD_UW: RD = (uint64_t)(uint32_t)RS1 + RS2; NEXT;
        case OP_SH1ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 1) + RS2; NEXT;
        case OP_SH2ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 2) + RS2; NEXT;
        case OP_SH3ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 3) + RS2; NEXT;
        case OP_SLLI_UW: RD = (uint64_t)(uint32_t)RS1 << d->imm; NEXT;
        case OP_ANDN: RD = RS1 & ~RS2; NEXT;
        case OP_ORN: RD = RS1 | ~RS2; NEXT;
        case OP_XNOR: RD = ~(RS1 ^ RS2); NEXT;
        case OP_CLZ: RD = RS1 ? (uint64_t)__builtin_clzll(RS1) : 64; NEXT;
        case OP_CLZW: RD = (uint32_t)RS1 ? (uint64_t)__builtin_clz((uint32_t)RS1) : 32; NEXT;
        case OP_CTZ: RD = RS1 ? (uint64_t)__builtin_ctzll(RS1) : 64; NEXT;
        case OP_CTZW: RD = (uint32_t)RS1 ? (uint64_t)__builtin_ctz((uint32_t)RS1) : 32; NEXT;
        case OP_CPOP: RD = (uint64_t)__builtin_popcountll(RS1); NEXT;
        case OP_CPOPW: RD = (uint64_t)__builtin_popcount((uint32_t)RS1); NEXT;
        case OP_MAX: RD = (int64_t)RS1 > (int64_t)RS2 ? RS1 : RS2; NEXT;
        case OP_MAXU: RD = RS1 > RS2 ? RS1 : RS2; NEXT;
        case OP_MIN: RD = (int64_t)RS1 < (int64_t)RS2 ? RS1 : RS2; NEXT;
        case OP_MINU: RD = RS1 < RS2 ? RS1 : RS2; NEXT;
        case OP_SEXT_B: RD = (uint64_t)(int64_t)(int8_t)RS1; NEXT;
        case OP_SEXT_H: RD = (uint64_t)(int64_t)(int16_t)RS1; NEXT;
        case OP_ZEXT_H: RD = (uint16_t)RS1; NEXT;
        case OP_ROL: RD = rol64(RS1, (unsigned)RS2); NEXT;
        case OP_ROR: RD = ror64(RS1, (unsigned)RS2); NEXT;
        case OP_RORI: RD = ror64(RS1, (unsigned)d->imm); NEXT;
        case OP_ROLW: RD = sext32(rol32((uint32_t)RS1, (unsigned)RS2)); NEXT;
        case OP_RORW: RD = sext32(ror32((uint32_t)RS1, (unsigned)RS2)); NEXT;
        case OP_RORIW: RD = sext32(ror32((uint32_t)RS1, (unsigned)d->imm)); NEXT;
        case OP_ORC_B: RD = orc_b(RS1); NEXT;
        case OP_REV8: RD = __builtin_bswap64(RS1); NEXT;
        case OP_BCLR: RD = RS1 & ~(1ull << (RS2 & 63)); NEXT;
        case OP_BCLRI: RD = RS1 & ~(1ull << d->imm); NEXT;
        case OP_BEXT: RD = (RS1 >> (RS2 & 63)) & 1; NEXT;
        case OP_BEXTI: RD = (RS1 >> d->imm) & 1; NEXT;
        case OP_BINV: RD = RS1 ^ (1ull << (RS2 & 63)); NEXT;
        case OP_BINVI: RD = RS1 ^ (1ull << d->imm); NEXT;
        case OP_BSET: RD = RS1 | (1ull << (RS2 & 63)); NEXT;
        case OP_BSETI: RD = RS1 | (1ull << d->imm); NEXT;

        case OP_LR_W: case OP_LR_D: {
            unsigned sz = d->op == OP_LR_W ? 4 : 8;
            void *p;
            uint64_t pa;
            if (mmu_atomic_ptr(h, RS1, sz, 1, &p, &pa))
                goto exception;
            uint64_t v = sz == 4 ? __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE)
                                 : __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
            h->resv_pa = pa;
            h->resv_val = v;
            h->resv_valid = 1;
            RD = sz == 4 ? sext32(v) : v;
            NEXT;
        }
        case OP_SC_W: case OP_SC_D: {
            unsigned sz = d->op == OP_SC_W ? 4 : 8;
            void *p;
            uint64_t pa;
            if (mmu_atomic_ptr(h, RS1, sz, 0, &p, &pa))
                goto exception;
            int ok = 0;
            /* The reservation holds if memory still has the value LR saw:
             * a compare-and-swap makes the check and the store one step
             * with respect to other harts. */
            if (h->resv_valid && h->resv_pa == pa) {
                if (sz == 4) {
                    uint32_t exp = (uint32_t)h->resv_val;
                    ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)RS2, 0,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
                } else {
                    uint64_t exp = h->resv_val;
                    ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, RS2, 0,
                                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
                }
            }
            h->resv_valid = 0;
            RD = !ok;
            NEXT;
        }
        case OP_AMOSWAP_W: case OP_AMOADD_W: case OP_AMOXOR_W: case OP_AMOAND_W: case OP_AMOOR_W:
        case OP_AMOMIN_W: case OP_AMOMAX_W: case OP_AMOMINU_W: case OP_AMOMAXU_W: {
            void *p;
            uint64_t pa;
            if (mmu_atomic_ptr(h, RS1, 4, 0, &p, &pa))
                goto exception;
            RD = sext32(amo32(d->op, (uint32_t *)p, (uint32_t)RS2));
            NEXT;
        }
        case OP_AMOSWAP_D: case OP_AMOADD_D: case OP_AMOXOR_D: case OP_AMOAND_D: case OP_AMOOR_D:
        case OP_AMOMIN_D: case OP_AMOMAX_D: case OP_AMOMINU_D: case OP_AMOMAXU_D: {
            void *p;
            uint64_t pa;
            if (mmu_atomic_ptr(h, RS1, 8, 0, &p, &pa))
                goto exception;
            RD = amo64(d->op, (uint64_t *)p, RS2);
            NEXT;
        }

        case OP_FENCE:
            NEXT;
        case OP_FENCE_I:
            /* Nothing is stale: the decode cache is tagged by instruction
             * bits, and every fetch reads guest memory. */
            NEXT;
        case OP_CBO_INVAL: case OP_CBO_CLEAN: case OP_CBO_FLUSH: case OP_CBO_ZERO: {
            uint64_t bit = d->op == OP_CBO_ZERO ? MENVCFG_CBZE
                         : d->op == OP_CBO_INVAL ? MENVCFG_CBIE : MENVCFG_CBCFE;
            if ((h->priv < PRIV_M && !(h->menvcfg & bit)) || (h->priv == PRIV_U && !(h->senvcfg & bit)))
                goto illegal;
            uint64_t va = RS1, pa;
            if (d->op == OP_CBO_ZERO) {
                /* 64-byte blocks never cross a page: translate once, so a
                 * fault leaves the block untouched and names rs1. */
                uint64_t blk = va & ~63ull;
                if (mmu_translate(h, blk, MMU_STORE, &pa)) {
                    h->exc_tval = va;
                    goto exception;
                }
                for (unsigned i = 0; i < 64; i += 8)
                    if (store_u(h, blk + i, 8, 0)) {
                        h->exc_tval = va;
                        goto exception;
                    }
            } else if (mmu_translate(h, va, MMU_LOAD, &pa)) {
                /* Cache-block management faults are reported as stores. */
                h->exc_cause = h->exc_cause == CAUSE_LOAD_PAGE ? CAUSE_STORE_PAGE : CAUSE_STORE_ACCESS;
                goto exception;
            }
            NEXT;
        }

        case OP_ECALL:
            if (h->priv == PRIV_S && h->ecall.call) {
                h->pc = pc;
                if (h->ecall.call(h->ecall.opaque, h) == 0) {
                    /* The call may have stopped this hart or changed what
                     * is pending: look at the boundary. */
                    pc += 4;
                    h->instret++;
                    fvpage = 1;
                    slice = 0;
                    continue;
                }
            }
            hart_raise(h, CAUSE_ECALL_U + h->priv, 0);
            goto exception;
        case OP_EBREAK:
            hart_raise(h, CAUSE_BREAKPOINT, pc);
            goto exception;
        case OP_MRET: {
            if (h->priv != PRIV_M)
                goto illegal;
            uint64_t s = h->mstatus;
            unsigned mpp = (unsigned)((s & MSTATUS_MPP) >> 11);
            s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
            if (mpp != PRIV_M)
                s &= ~MSTATUS_MPRV;
            h->mstatus = s;
            h->resv_valid = 0;
            set_priv(h, mpp);
            pc = h->mepc;
            h->instret++;
            fvpage = 1;
            slice = 0;
            continue;
        }
        case OP_SRET: {
            if (h->priv < PRIV_S || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TSR)))
                goto illegal;
            uint64_t s = h->mstatus;
            unsigned spp = (s & MSTATUS_SPP) ? PRIV_S : PRIV_U;
            s = (s & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) | MSTATUS_SPIE |
                ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0);
            h->mstatus = s;
            h->resv_valid = 0;
            set_priv(h, spp);
            pc = h->sepc;
            h->instret++;
            fvpage = 1;
            slice = 0;
            continue;
        }
        case OP_WFI:
            if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
                goto illegal;
            pc += d->len;
            h->instret++;
            if (hart_pending_irqs(h) & h->mie) {
                slice = 0;
                continue;
            }
            h->pc = pc;
            return HART_EXIT_WFI;
        case OP_SFENCE_VMA:
            if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
                goto illegal;
            /* TLB entries cache 4 KiB pieces of superpages too, so a
             * flush by address could miss some: flush everything. */
            mmu_flush(h);
            goto system_done;

        case OP_CSRRW: case OP_CSRRWI: {
            uint64_t src = d->op == OP_CSRRW ? RS1 : d->rs1;
            uint64_t old = 0;
            if (d->rd != DECODE_XZERO_SINK && csr_read(h, (unsigned)d->imm, &old))
                goto illegal;
            if (csr_write(h, (unsigned)d->imm, src))
                goto illegal;
            RD = old;
            goto system_done;
        }
        case OP_CSRRS: case OP_CSRRC: case OP_CSRRSI: case OP_CSRRCI: {
            uint64_t src = (d->op == OP_CSRRS || d->op == OP_CSRRC) ? RS1 : d->rs1;
            uint64_t old;
            if (csr_read(h, (unsigned)d->imm, &old))
                goto illegal;
            if (d->rs1 != 0) {
                uint64_t n = (d->op == OP_CSRRS || d->op == OP_CSRRSI) ? old | src : old & ~src;
                if (csr_write(h, (unsigned)d->imm, n))
                    goto illegal;
            }
            RD = old;
            goto system_done;
        }

#define FS_CHECK() do { if (unlikely(!(h->mstatus & MSTATUS_FS))) goto illegal; } while (0)
#define FS_DIRTY() (h->mstatus |= MSTATUS_FS)
        case OP_FLW: {
            FS_CHECK();
            uint64_t v;
            if (load_u(h, RS1 + IMM, 4, &v))
                goto exception;
            f[d->rd] = box32((uint32_t)v);
            FS_DIRTY();
            NEXT;
        }
        case OP_FLD: {
            FS_CHECK();
            uint64_t v;
            if (load_u(h, RS1 + IMM, 8, &v))
                goto exception;
            f[d->rd] = v;
            FS_DIRTY();
            NEXT;
        }
        case OP_FSW:
            FS_CHECK();
            if (store_u(h, RS1 + IMM, 4, (uint32_t)f[d->rs2]))
                goto exception;
            NEXT;
        case OP_FSD:
            FS_CHECK();
            if (store_u(h, RS1 + IMM, 8, f[d->rs2]))
                goto exception;
            NEXT;
        case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S: {
            FS_CHECK();
            uint32_t a = unbox32(f[d->rs1]), b = unbox32(f[d->rs2]), s;
            s = d->op == OP_FSGNJ_S ? b : d->op == OP_FSGNJN_S ? ~b : a ^ b;
            f[d->rd] = box32((a & 0x7fffffffu) | (s & 0x80000000u));
            FS_DIRTY();
            NEXT;
        }
        case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D: {
            FS_CHECK();
            uint64_t a = f[d->rs1], b = f[d->rs2], s;
            s = d->op == OP_FSGNJ_D ? b : d->op == OP_FSGNJN_D ? ~b : a ^ b;
            f[d->rd] = (a & ~(1ull << 63)) | (s & (1ull << 63));
            FS_DIRTY();
            NEXT;
        }
        case OP_FMV_X_W: FS_CHECK(); RD = sext32(f[d->rs1]); NEXT;
        case OP_FMV_X_D: FS_CHECK(); RD = f[d->rs1]; NEXT;
        case OP_FMV_W_X: FS_CHECK(); f[d->rd] = box32((uint32_t)RS1); FS_DIRTY(); NEXT;
        case OP_FMV_D_X: FS_CHECK(); f[d->rd] = RS1; FS_DIRTY(); NEXT;

#define RM() int rm = d->rm == 7 ? (int)h->frm : d->rm; if (unlikely(rm > 4)) goto illegal
#define FLAGS(fl) do { if (fl) { h->fflags |= (fl); FS_DIRTY(); } } while (0)
#define F_S1 unbox32(f[d->rs1])
#define F_S2 unbox32(f[d->rs2])
#define F_S3 unbox32(f[d->rs3])
#define F_D1 f[d->rs1]
#define F_D2 f[d->rs2]
#define F_D3 f[d->rs3]
#define FOP_S(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; f[d->rd] = box32(expr); \
                         FLAGS(fl); FS_DIRTY(); NEXT; } while (0)
#define FOP_D(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; f[d->rd] = (expr); \
                         FLAGS(fl); FS_DIRTY(); NEXT; } while (0)
#define FOP_X(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; RD = (expr); FLAGS(fl); NEXT; } while (0)
#define FOP_XN(expr) do { FS_CHECK(); unsigned fl = 0; RD = (expr); FLAGS(fl); NEXT; } while (0)
        case OP_FADD_S: FOP_S(fpu_f32_add(F_S1, F_S2, rm, &fl));
        case OP_FSUB_S: FOP_S(fpu_f32_sub(F_S1, F_S2, rm, &fl));
        case OP_FMUL_S: FOP_S(fpu_f32_mul(F_S1, F_S2, rm, &fl));
        case OP_FDIV_S: FOP_S(fpu_f32_div(F_S1, F_S2, rm, &fl));
        case OP_FSQRT_S: FOP_S(fpu_f32_sqrt(F_S1, rm, &fl));
        case OP_FMIN_S: FOP_S(fpu_f32_min(F_S1, F_S2, &fl));
        case OP_FMAX_S: FOP_S(fpu_f32_max(F_S1, F_S2, &fl));
        case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
            FOP_S(fpu_f32_fma(F_S1, F_S2, F_S3, (enum fpu_fma_op)(d->op - OP_FMADD_S), rm, &fl));
        case OP_FADD_D: FOP_D(fpu_f64_add(F_D1, F_D2, rm, &fl));
        case OP_FSUB_D: FOP_D(fpu_f64_sub(F_D1, F_D2, rm, &fl));
        case OP_FMUL_D: FOP_D(fpu_f64_mul(F_D1, F_D2, rm, &fl));
        case OP_FDIV_D: FOP_D(fpu_f64_div(F_D1, F_D2, rm, &fl));
        case OP_FSQRT_D: FOP_D(fpu_f64_sqrt(F_D1, rm, &fl));
        case OP_FMIN_D: FOP_D(fpu_f64_min(F_D1, F_D2, &fl));
        case OP_FMAX_D: FOP_D(fpu_f64_max(F_D1, F_D2, &fl));
        case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
            FOP_D(fpu_f64_fma(F_D1, F_D2, F_D3, (enum fpu_fma_op)(d->op - OP_FMADD_D), rm, &fl));
        case OP_FCVT_S_D: FOP_S(fpu_f64_to_f32(F_D1, rm, &fl));
        case OP_FCVT_D_S: FOP_D(fpu_f32_to_f64(F_S1, &fl));
        case OP_FCVT_W_S: FOP_X((uint64_t)(int64_t)fpu_f32_to_i32(F_S1, rm, &fl));
        case OP_FCVT_WU_S: FOP_X(sext32(fpu_f32_to_u32(F_S1, rm, &fl)));
        case OP_FCVT_L_S: FOP_X((uint64_t)fpu_f32_to_i64(F_S1, rm, &fl));
        case OP_FCVT_LU_S: FOP_X(fpu_f32_to_u64(F_S1, rm, &fl));
        case OP_FCVT_W_D: FOP_X((uint64_t)(int64_t)fpu_f64_to_i32(F_D1, rm, &fl));
        case OP_FCVT_WU_D: FOP_X(sext32(fpu_f64_to_u32(F_D1, rm, &fl)));
        case OP_FCVT_L_D: FOP_X((uint64_t)fpu_f64_to_i64(F_D1, rm, &fl));
        case OP_FCVT_LU_D: FOP_X(fpu_f64_to_u64(F_D1, rm, &fl));
        case OP_FCVT_S_W: FOP_S(fpu_i32_to_f32((int32_t)RS1, rm, &fl));
        case OP_FCVT_S_WU: FOP_S(fpu_u32_to_f32((uint32_t)RS1, rm, &fl));
        case OP_FCVT_S_L: FOP_S(fpu_i64_to_f32((int64_t)RS1, rm, &fl));
        case OP_FCVT_S_LU: FOP_S(fpu_u64_to_f32(RS1, rm, &fl));
        case OP_FCVT_D_W: FOP_D(fpu_i32_to_f64((int32_t)RS1, rm, &fl));
        case OP_FCVT_D_WU: FOP_D(fpu_u32_to_f64((uint32_t)RS1, rm, &fl));
        case OP_FCVT_D_L: FOP_D(fpu_i64_to_f64((int64_t)RS1, rm, &fl));
        case OP_FCVT_D_LU: FOP_D(fpu_u64_to_f64(RS1, rm, &fl));
        case OP_FEQ_S: FOP_XN((uint64_t)fpu_f32_eq(F_S1, F_S2, &fl));
        case OP_FLT_S: FOP_XN((uint64_t)fpu_f32_lt(F_S1, F_S2, &fl));
        case OP_FLE_S: FOP_XN((uint64_t)fpu_f32_le(F_S1, F_S2, &fl));
        case OP_FEQ_D: FOP_XN((uint64_t)fpu_f64_eq(F_D1, F_D2, &fl));
        case OP_FLT_D: FOP_XN((uint64_t)fpu_f64_lt(F_D1, F_D2, &fl));
        case OP_FLE_D: FOP_XN((uint64_t)fpu_f64_le(F_D1, F_D2, &fl));
        case OP_FCLASS_S: FS_CHECK(); RD = fpu_f32_class(F_S1); NEXT;
        case OP_FCLASS_D: FS_CHECK(); RD = fpu_f64_class(F_D1); NEXT;

        default:
            goto illegal;
        }

next_insn:
        pc += d->len;
retired:
        h->instret++;
        continue;
illegal:
        hart_raise(h, CAUSE_ILLEGAL, d->raw);
exception:
        h->pc = pc;
        if (take_trap(h, h->exc_cause, h->exc_tval))
            return HART_EXIT_CRASH;
        pc = h->pc;
        fvpage = 1;
        slice = 0;
        continue;
system_done:
        /* The instruction may have changed what is enabled or mapped. */
        pc += d->len;
        h->instret++;
        fvpage = 1;
        slice = 0;
        continue;
    }
}

/* ---- waiting, interrupts from other threads ---- */

void hart_set_irq(struct hart *h, uint64_t mask, int level)
{
    if (level)
        atomic_fetch_or_explicit(&h->mip_ext, mask, memory_order_release);
    else
        atomic_fetch_and_explicit(&h->mip_ext, ~mask, memory_order_release);
    pthread_mutex_lock(&h->wait_lock);
    pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
}

void hart_set_mtimecmp(struct hart *h, uint64_t value)
{
    atomic_store_explicit(&h->mtimecmp, value, memory_order_release);
    pthread_mutex_lock(&h->wait_lock);
    pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
}

uint64_t hart_get_mtimecmp(const struct hart *h)
{
    return atomic_load_explicit(&((struct hart *)h)->mtimecmp, memory_order_acquire);
}

void hart_kick(struct hart *h)
{
    atomic_store(&h->kicked, 1);
    pthread_mutex_lock(&h->wait_lock);
    pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
}

void hart_request_stop(struct hart *h)
{
    atomic_store(&h->stop_requested, 1);
    hart_kick(h);
}

void hart_flush_tlb(struct hart *h)
{
    mmu_flush(h);
}

uint64_t hart_request_flush(struct hart *h)
{
    uint64_t ticket = atomic_fetch_add(&h->flush_requested, 1) + 1;
    hart_kick(h);
    return ticket;
}

int hart_flush_complete(struct hart *h, uint64_t ticket)
{
    return atomic_load_explicit(&h->flush_done, memory_order_acquire) >= ticket;
}

void hart_service_flush(struct hart *h)
{
    uint64_t req = atomic_load_explicit(&h->flush_requested, memory_order_acquire);
    if (req == atomic_load_explicit(&h->flush_done, memory_order_relaxed))
        return;
    /* The decode cache is tagged by instruction bits, so remote fence.i
     * needs nothing beyond dropping the fetch translations. */
    mmu_flush(h);
    atomic_store_explicit(&h->flush_done, req, memory_order_release);
}

uint64_t hart_reg(const struct hart *h, unsigned i)
{
    return i && i < 32 ? h->x[i] : 0;
}

void hart_set_reg(struct hart *h, unsigned i, uint64_t v)
{
    if (i && i < 32)
        h->x[i] = v;
}

int hart_write_csr(struct hart *h, unsigned csr, uint64_t v)
{
    unsigned priv = h->priv;
    h->priv = PRIV_M;
    int r = csr_write(h, csr, v);
    h->priv = priv;
    csr_update_priv_ls(h);
    mmu_flush(h);
    return r;
}

void hart_wait(struct hart *h, uint64_t max_ns)
{
    const uint64_t cap = 100000000ull; /* re-evaluate timers at least every 100 ms */
    uint64_t start = host_ns();
    pthread_mutex_lock(&h->wait_lock);
    for (;;) {
        hart_service_flush(h);
        if (atomic_exchange(&h->kicked, 0) || atomic_load(&h->stop_requested))
            break;
        if (hart_pending_irqs(h) & h->mie)
            break;
        uint64_t now_ns = host_ns();
        if (max_ns && now_ns - start >= max_ns)
            break;
        uint64_t deadline = UINT64_MAX;
        uint64_t mtimecmp = atomic_load(&h->mtimecmp);
        if (h->mie & MIP_MTIP)
            deadline = mtimecmp;
        if ((h->mie & MIP_STIP) && (h->menvcfg & MENVCFG_STCE) && h->stimecmp < deadline)
            deadline = h->stimecmp;
        uint64_t wait = cap;
        if (deadline != UINT64_MAX) {
            uint64_t t = hart_time(h);
            uint64_t ticks = deadline > t ? deadline - t : 0;
            uint64_t ns = ticks > UINT64_MAX / 1000000000ull ? UINT64_MAX
                        : ticks * 1000000000ull / h->clock.freq_hz;
            if (ns < wait)
                wait = ns;
        }
        if (max_ns && max_ns - (now_ns - start) < wait)
            wait = max_ns - (now_ns - start);
        if (wait == 0)
            break;
        uint64_t until = now_ns + wait;
        struct timespec ts = { .tv_sec = (time_t)(until / 1000000000ull),
                               .tv_nsec = (long)(until % 1000000000ull) };
        pthread_cond_timedwait(&h->wait_cond, &h->wait_lock, &ts);
    }
    pthread_mutex_unlock(&h->wait_lock);
}

uint64_t hart_instret(const struct hart *h)
{
    return h->instret;
}

const char *hart_crash_reason(const struct hart *h)
{
    return h->crash_reason;
}

void hart_dump(const struct hart *h, char *buf, size_t len)
{
    static const char *const modes[4] = { "U", "S", "?", "M" };
    static const char *const abi[32] = {
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
    };
    size_t n = 0;
#define OUT(...) do { if (n < len) { int w_ = snprintf(buf + n, len - n, __VA_ARGS__); \
                                     if (w_ > 0) n += (size_t)w_; } } while (0)
    OUT("hart %" PRIu64 ": pc %016" PRIx64 "  mode %s  instret %" PRIu64 "\n", h->mhartid, h->pc,
        modes[h->priv & 3], h->instret);
    OUT("  mstatus %016" PRIx64 "  mcause %016" PRIx64 "  mepc %016" PRIx64 "  mtval %016" PRIx64 "\n",
        h->mstatus, h->mcause, h->mepc, h->mtval);
    OUT("  mtvec   %016" PRIx64 "  scause %016" PRIx64 "  sepc %016" PRIx64 "  stval %016" PRIx64 "\n",
        h->mtvec, h->scause, h->sepc, h->stval);
    OUT("  satp    %016" PRIx64 "  stvec  %016" PRIx64 "  mie  %016" PRIx64 "  medeleg %016" PRIx64 "\n",
        h->satp, h->stvec, h->mie, h->medeleg);
    for (int i = 0; i < 32; i++)
        OUT("  x%-2d %-4s %016" PRIx64 "%s", i, abi[i], h->x[i], (i % 4 == 3) ? "\n" : "");
#undef OUT
    if (len)
        buf[n < len ? n : len - 1] = 0;
}
