/* The hart's interpreter and trap machinery (see hart.h).
 *
 * Speed comes from doing per block what a simple interpreter does per
 * instruction. Guest code is decoded once into blocks of pre-decoded ops
 * (struct hart_op), cached by physical address; each op holds the address
 * of its handler, and handlers jump straight to the next op's handler
 * (direct threading with GCC's labels-as-values), so there is no central
 * switch and no per-instruction fetch, decode, pc or counter update. Blocks
 * are found through a jump cache keyed by virtual pc, and branches whose
 * target lies in the same page link to the target block directly. The
 * budget and the slice (how often asynchronous events are looked at) are
 * checked when a block is entered, and a block that would overrun the
 * budget is shortened, so the budget is exact. Loads, stores and atomics
 * hit a direct-mapped software TLB holding host addends, with one compare.
 * TLBs and jump caches are kept per translation context (see mmu.h), so
 * traps, xrets and SUM changes do not drop them.
 *
 * Asynchronous events (interrupt lines, timers, stop requests, remote
 * fences) are looked at every HART_SLICE instructions or so and right after
 * any instruction that can change what is enabled or mapped (CSR writes,
 * mret, sret, wfi, sfence.vma, fence.i, ecall, traps). Decoded code is kept
 * coherent with guest memory as described at "decoded code" below. */
#include "cpu/hart.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "cpu/amo.h"
#include "cpu/csr.h"
#include "cpu/mmu.h"
#include "cpu/fpu.h"
#include "cpu/fpu_ops.h"
#include "cpu/jit.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "guest memory is accessed with host loads");

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Same exception at the same pc this many times in a row: no progress. */
#define HART_REPEAT_LIMIT 100000
#define DEFAULT_FREQ_HZ 10000000ull

/* The decoded-code cache (below the trap machinery). */
static int code_init(struct hart *h);
static void code_free(struct hart *h);
static void code_flush_all(struct hart *h);
static void code_fence(struct hart *h);

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
    h->alone = cfg->alone;
    h->ecall = cfg->ecall;
    h->engine = cfg->engine;
    atomic_init(&h->flush_requested, 0);
    atomic_init(&h->flush_done, 0);
    atomic_init(&h->flush_kinds, 0);
    atomic_init(&h->mip_ext, 0);
    atomic_init(&h->mtimecmp, UINT64_MAX);
    atomic_init(&h->stop_requested, 0);
    atomic_init(&h->kicked, 0);
    atomic_init(&h->in_run, 0);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wait_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->wait_lock, NULL);
    /* Nothing is logged yet: the first flush clears every slot. */
    for (unsigned i = 0; i < HART_FCTX_N; i++)
        h->ftlb[i].log = (struct hart_tlb_log){ .lo = 0, .hi = UINT64_MAX, .n = HART_FLUSH_LOG + 1 };
    for (unsigned i = 0; i < HART_DCTX_N; i++)
        h->dtlb[i].log = (struct hart_tlb_log){ .lo = 0, .hi = UINT64_MAX, .n = HART_FLUSH_LOG + 1 };
    if (code_init(h)) {
        hart_destroy(h);
        return errmsg_set(e, -ENOMEM, "hart %u: out of memory for its decoded-code cache", cfg->hartid);
    }
    if (h->engine == HART_ENGINE_JIT && jit_create(h, cfg->jit_cache_bytes)) {
        hart_destroy(h);
        return errmsg_set(e, -ENOMEM, "hart %u: cannot map the JIT's code cache", cfg->hartid);
    }
    /* Publishes the interpreter's handler table (budget 0 runs nothing). */
    hart_interp_run(h, 0);
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
    jit_destroy(h->jit);
    code_free(h);
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
    h->instret = h->cycle_delta = h->instret_delta = 0;
    h->fflags = h->frm = 0;
    memset(h->pmpcfg, 0, sizeof h->pmpcfg);
    memset(h->pmpaddr, 0, sizeof h->pmpaddr);
    h->pmp_active = h->pmp_ram_rw = 0;
    h->resv_valid = 0;
    h->trapped_once = 0;
    h->exc_repeat = 0;
    h->last_exc_cause = UINT64_MAX;   /* else the first exception may count as a repeat of the last one */
    h->last_exc_pc = h->last_trap_instret = 0;
    h->crash_reason[0] = 0;
    h->x[10] = a0;
    h->x[11] = a1;
    csr_update_priv_ls(h);
    trigger_reset(h);
    mmu_flush(h);
    /* The board may have loaded new code into RAM. */
    code_flush_all(h);
    jit_reset(h->jit);
    h->code_dirty = 0;
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
    if (!p || unlikely(h->debug_irq_mask))
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

/* Cached translations stay: the new privilege uses its own TLB sets. */
static void set_priv(struct hart *h, unsigned priv)
{
    h->priv = priv;
    csr_update_priv_ls(h);
}

/* Takes a trap at h->pc. Returns 1 if crash detection says the program
 * cannot make progress (the trap is still taken, so the report shows it). */
static int take_trap(struct hart *h, uint64_t cause, uint64_t tval)
{
    /* A debugger's trigger: the hart stops before the instruction, which
     * has had no effect (see hart_boundary). */
    if (unlikely(cause == TRIGGER_CAUSE_DEBUG))
        return 0;
    int irq = (cause & CAUSE_INTERRUPT) != 0;
    /* A debugger's single step ends at the trap handler's first
     * instruction (cpu/hart_debug.h). */
    if (unlikely(h->debug_step))
        h->debug_trapped = 1;
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
        h->trig.tcontrol = trigger_tcontrol_trap_m(h->trig.tcontrol);
        h->pc = (h->mtvec & ~3ull) + ((h->mtvec & 1) && irq ? 4ull * code : 0);
        set_priv(h, PRIV_M);
    }
    return crash;
}

/* ---- memory fast paths ---- */

/* A store through the TLB (for the few handlers that do not use the
 * STORE macro of the run loop). */
static inline int store_u(struct hart *h, uint64_t va, unsigned size, uint64_t v)
{
    const struct hart_tlb_entry *e = &h->dt->store[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (likely(e->vpage == (va & (~0xfffull | (size - 1))))) {
        memcpy((void *)(e->addend + (uintptr_t)va), &v, size);
        return 0;
    }
    return mmu_store_slow(h, va, size, v);
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

/* ---- decoded code ----
 *
 * Blocks are runs of pre-decoded instructions (struct hart_op) that start
 * at some pc and go on to the first jump (jal, jalr), the first
 * instruction that needs the boundary checks (CSR access, traps, fences,
 * xret, wfi), the end of the page or BLOCK_MAX_INSNS. Conditional
 * branches do not end a block: taken, they leave it; not taken, execution
 * runs on. Such "system" instructions always sit alone in a block, so they
 * run with h->instret exact and with pc equal to the block's start.
 *
 * A block is keyed by the physical address of its first instruction and
 * never crosses a page, so the bytes it was decoded from are one piece of
 * one RAM page. Blocks live in a bump arena (emptied as a whole when full)
 * and are found through a hash table on that physical address; the jump
 * caches (one per privilege, in struct hart_fetch_tlb) map virtual pcs to
 * blocks under that context's translation and are emptied with it by
 * mmu_flush and mmu_flush_page.
 *
 * Keeping the cache coherent with guest memory: a page that holds decoded
 * code is marked in h->code_mask (per 64-byte chunk) and never enters the
 * store TLB, so this hart's stores to it reach hart_code_store through the
 * store slow path; a store over decoded bytes drops every block of the
 * page and ends the current block (h->code_dirty), so self-modifying code
 * works with or without fence.i. Code that other harts or devices (DMA)
 * write is picked up at fence.i and at remote fences (hart_service_flush),
 * as the ISA requires software to ask for. Linux runs fence.i often (each
 * time it maps a page of user code), so a fence does not drop the decoded
 * code: a page's blocks are used again only after their decoded chunks
 * were compared with the copy taken when they were decoded
 * (code_validate); where they differ, the page's blocks are dropped.
 * A hart alone in its machine knows every write its stores did not make:
 * they are marked in h->mem.written, and its fence checks just the code
 * pages marked there (code_fence_written). Otherwise a fence starts a new
 * epoch and empties the jump caches, and block_lookup checks each page
 * before its blocks run again in the new epoch (every way into a block
 * after the fence goes through block_lookup: links stay within a page). */

#define BLOCK_MAX_INSNS 64
/* Booting the default guest decodes about 26k blocks (~10 MiB): a 4 MiB
 * arena was emptied 5 times on the way and the JIT translated everything
 * twice over (15% more host instructions for the boot). Only the part
 * used is committed (lazy_alloc). */
#define CODE_ARENA_BYTES (16u << 20)
#define CODE_HASH_SIZE 16384          /* power of 2 */
#define CODE_MAX_PAGES 8192           /* pages with decoded code before a flush */

struct hart_block {
    uint64_t pa;                      /* first instruction; ~0 for uncached blocks */
    struct hart_block *next;          /* hash chain */
    uint32_t ninsns;                  /* instructions run when no branch is taken */
    uint32_t nbytes;
    void *unit;                       /* the JIT's translation (cpu/jit.c), valid while unit_gen matches */
    uint64_t unit_gen;
    struct hart_op ops[];             /* ninsns ops, then an EXIT op */
};

#define BLOCK_BYTES(n) (sizeof(struct hart_block) + ((size_t)(n) + 1) * sizeof(struct hart_op))

struct hart_code {
    struct hart_block *hash[CODE_HASH_SIZE];
    uint8_t *arena;                   /* CODE_ARENA_BYTES */
    size_t used;
    uint64_t flushes;                 /* times the arena was emptied */
    struct hart_block *scratch;       /* uncached blocks: MMIO, page-crossing, end of budget */
    uint32_t npages;
    uint32_t pages[CODE_MAX_PAGES];   /* RAM pages whose code_mask may be nonzero */
    /* Slot k of pages[]: snap holds (at k * 4096) the bytes of the page's
     * decoded chunks as they were when decoded, and checked[k] the fence
     * epoch in which they were last known to match memory. slot[p] is the
     * slot of RAM page p while its code_mask is nonzero. */
    uint64_t epoch;
    uint64_t checked[CODE_MAX_PAGES];
    uint8_t *snap;
    uint16_t *slot;
    const void *const *handlers;      /* the interpreter's, for hart_block_at */
};

/* The arena and the page snapshots are large and mostly never touched by
 * a small or idle guest: mapped, not malloc'd, they cost only the pages
 * used (which matters with thousands of microVMs per host). */
static void *lazy_alloc(size_t n)
{
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

#define HUGE_PAGE (2u << 20)
_Static_assert(CODE_ARENA_BYTES > HUGE_PAGE, "the arena's second part is in huge pages");

/* The arena, 2 MiB aligned: its first 2 MiB in small pages (what a small
 * or idle guest's code needs, and no more is committed), the rest in
 * transparent huge pages where the host allows them (a guest that decodes
 * more, a booting kernel, reaches them, and looks blocks up in them
 * without a TLB miss each). */
static void *arena_alloc(void)
{
    uint8_t *p = lazy_alloc(CODE_ARENA_BYTES + HUGE_PAGE);
    if (!p)
        return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (a > p)
        munmap(p, (size_t)(a - p));
    munmap(a + CODE_ARENA_BYTES, (size_t)(p + HUGE_PAGE - a));
    madvise(a + HUGE_PAGE, CODE_ARENA_BYTES - HUGE_PAGE, MADV_HUGEPAGE);
    return a;
}

static void lazy_free(void *p, size_t n)
{
    if (p)
        munmap(p, n);
}

static int code_init(struct hart *h)
{
    struct hart_code *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->arena = arena_alloc();
    c->scratch = malloc(BLOCK_BYTES(BLOCK_MAX_INSNS));
    h->code_mask = calloc(h->mem.size / 4096 + 1, sizeof *h->code_mask);
    c->snap = lazy_alloc((size_t)CODE_MAX_PAGES * 4096);
    c->slot = calloc(h->mem.size / 4096 + 1, sizeof *c->slot);
    h->code = c;
    if (!c->arena || !c->scratch || !h->code_mask || !c->snap || !c->slot)
        return -1;
    return 0;
}

static void code_free(struct hart *h)
{
    if (h->code) {
        lazy_free(h->code->arena, CODE_ARENA_BYTES);
        free(h->code->scratch);
        lazy_free(h->code->snap, (size_t)CODE_MAX_PAGES * 4096);
        free(h->code->slot);
        free(h->code);
    }
    free(h->code_mask);
}

/* Drops every decoded block. */
static void code_flush_all(struct hart *h)
{
    struct hart_code *c = h->code;
    memset(c->hash, 0, sizeof c->hash);
    c->used = 0;
    c->flushes++;
    for (uint32_t i = 0; i < c->npages; i++)
        h->code_mask[c->pages[i]] = 0;
    c->npages = 0;
    mmu_flush_jcache(h);
}

static void code_validate(struct hart *h, uint64_t pa);

/* fence.i of a hart alone in its machine: checks the code pages that
 * something other than its stores wrote since its last fence, and takes
 * their bits. A bit is taken before the page is compared, so a write
 * that lands meanwhile is seen now or at the next fence. */
static void code_fence_written(struct hart *h)
{
    size_t words = (h->mem.size / 4096 + 63) / 64;
    for (size_t w = 0; w < words; w++) {
        if (!atomic_load_explicit(&h->mem.written[w], memory_order_relaxed))
            continue;
        for (uint64_t m = atomic_exchange_explicit(&h->mem.written[w], 0, memory_order_acquire); m; m &= m - 1) {
            uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(m);
            if (h->code_mask[page])
                code_validate(h, h->mem.base + (page << 12));
        }
    }
}

/* fence.i: decoded code must be checked against memory before it runs
 * again (see above). */
static void code_fence(struct hart *h)
{
    if (h->alone && h->mem.written) {
        code_fence_written(h);
        return;
    }
    h->code->epoch++;
    mmu_flush_jcache(h);
}

static inline uint64_t chunk_bits(unsigned off, unsigned len)
{
    unsigned first = off >> 6, last = (off + len - 1) >> 6;
    if (last > 63)
        last = 63;
    return (~0ull >> (63 - last)) & (~0ull << first);
}

/* Records that [pa, pa+len) (within one RAM page) holds decoded code. */
static void code_mark(struct hart *h, uint64_t pa, unsigned len)
{
    uint64_t off = pa - h->mem.base;
    uint64_t page = off >> 12;
    uint64_t *m = &h->code_mask[page];
    struct hart_code *c = h->code;
    if (!*m) {
        c->slot[page] = (uint16_t)c->npages;
        c->checked[c->npages] = c->epoch;
        c->pages[c->npages++] = (uint32_t)page;
        /* From now on stores to the page must take the slow path: drop
         * the store TLB entries that map it (under any virtual address). */
        mmu_drop_store_page(h, h->mem.host + (page << 12));
    }
    /* Copy the chunks decoded for the first time (a chunk decoded before
     * keeps the copy its older blocks were decoded from). */
    uint64_t fresh = chunk_bits((unsigned)(off & 0xfff), len) & ~*m;
    uint8_t *snap = c->snap + (size_t)c->slot[page] * 4096;
    const uint8_t *ram = h->mem.host + (page << 12);
    for (; fresh; fresh &= fresh - 1) {
        unsigned k = (unsigned)__builtin_ctzll(fresh);
        memcpy(snap + 64 * k, ram + 64 * k, 64);
    }
    *m |= chunk_bits((unsigned)(off & 0xfff), len);
}

static inline unsigned code_hash(uint64_t pa)
{
    return (unsigned)((pa >> 1) ^ (pa >> 13)) & (CODE_HASH_SIZE - 1);
}

/* Drops every block of the RAM page holding pa. */
static void code_drop_page(struct hart *h, uint64_t pa)
{
    struct hart_code *c = h->code;
    uint64_t page = pa >> 12;
    for (unsigned i = 0; i < CODE_HASH_SIZE; i++)
        for (struct hart_block **p = &c->hash[i]; *p;) {
            if ((*p)->pa >> 12 == page)
                *p = (*p)->next;
            else
                p = &(*p)->next;
        }
    h->code_mask[(pa - h->mem.base) >> 12] = 0;
    mmu_flush_jcache(h);
}

int hart_code_store(struct hart *h, uint64_t pa, unsigned size)
{
    uint64_t off = pa - h->mem.base;
    uint64_t *m = &h->code_mask[off >> 12];
    if (likely(!*m))
        return 0;
    if (!(*m & chunk_bits((unsigned)(off & 0xfff), size)))
        return 1;
    /* The store overwrote decoded instructions. */
    code_drop_page(h, pa);
    h->code_dirty = 1;
    return 0;
}

/* Before the blocks of the RAM page at pa run in a new fence epoch: drops
 * them unless the bytes they were decoded from are unchanged. */
static void code_validate(struct hart *h, uint64_t pa)
{
    struct hart_code *c = h->code;
    uint64_t page = (pa - h->mem.base) >> 12;
    unsigned k = c->slot[page];
    const uint8_t *snap = c->snap + (size_t)k * 4096, *ram = h->mem.host + (page << 12);
    for (uint64_t m = h->code_mask[page]; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        if (memcmp(snap + 64 * i, ram + 64 * i, 64)) {
            code_drop_page(h, pa);
            return;
        }
    }
    c->checked[k] = c->epoch;
}

/* Operations that must be alone in their block (see above). */
static int op_is_system(unsigned op)
{
    switch (op) {
    case OP_ECALL: case OP_EBREAK: case OP_MRET: case OP_SRET: case OP_WFI: case OP_SFENCE_VMA:
    case OP_FENCE_I:
    case OP_CSRRW: case OP_CSRRS: case OP_CSRRC: case OP_CSRRWI: case OP_CSRRSI: case OP_CSRRCI:
        return 1;
    }
    return 0;
}

static void set_op(struct hart_op *o, const struct insn *d, const void *handler, unsigned pcoff, unsigned idx)
{
    o->handler = handler;
    o->imm = d->imm;
    if ((d->op >= OP_BEQ && d->op <= OP_BGEU) || d->op == OP_JAL || d->op == OP_COUNT_)
        o->link = 0; /* these never trap, so need no raw */
    else
        o->raw = d->raw;
    o->opc = d->op;
    o->pcoff = (uint16_t)pcoff;
    o->rd = d->rd;
    o->rs1 = d->rs1;
    o->rs2 = d->rs2;
    o->rs3 = d->rs3;
    o->rm = d->rm;
    o->len = d->len;
    o->idx = (uint8_t)idx;
}

/* Decodes up to max instructions at pc from page (the host copy of pc's
 * page) into b. The first instruction must not cross the page end. */
static void build_ops(struct hart_block *b, uint64_t pc, const uint8_t *page, unsigned max,
                      const void *const *handlers)
{
    unsigned start = (unsigned)(pc & 0xfff), n = 0, bytes = 0;
    while (n < max && start + bytes < 4096) {
        unsigned at = start + bytes;
        uint16_t lo;
        uint32_t raw;
        memcpy(&lo, page + at, 2);
        raw = lo;
        if ((lo & 3) == 3) {
            if (at == 4096 - 2)
                break; /* crosses into the next page: an uncached block of its own */
            memcpy(&raw, page + at, 4);
        }
        struct insn d;
        decode_insn(raw, &d);
        int sys = op_is_system(d.op);
        if (sys && n)
            break;
        set_op(&b->ops[n], &d, handlers[d.op], bytes, n);
        n++;
        bytes += d.len;
        if (sys || d.op == OP_JAL || d.op == OP_JALR || d.op == OP_ILLEGAL)
            break;
    }
    struct insn end = { .op = OP_COUNT_ };
    set_op(&b->ops[n], &end, handlers[OP_COUNT_], bytes, n);
    b->ninsns = n;
    b->nbytes = bytes;
}

/* Fetches the instruction at pc the slow way (MMIO, a page-crossing
 * instruction, a PMP region smaller than a page). */
static int fetch_insn(struct hart *h, uint64_t pc, uint8_t *page, uint32_t *raw)
{
    uint32_t lo, hi;
    if (page) {
        uint16_t l16;
        memcpy(&l16, page + (pc & 0xfff), 2);
        lo = l16;
    } else if (mmu_fetch16(h, pc, &lo)) {
        return -1;
    }
    if ((lo & 3) != 3) {
        *raw = lo;
        return 0;
    }
    /* A 32-bit instruction whose upper half is on the next page (or in
     * MMIO): a fault there names that address (tval) but the
     * instruction's pc (epc). */
    if (mmu_fetch16(h, pc + 2, &hi))
        return -1;
    *raw = lo | hi << 16;
    return 0;
}

/* An uncached block for pc in the scratch space: one instruction when the
 * page cannot be cached or the instruction crosses the page end, else up
 * to max instructions (the end of a budget). NULL after a fetch fault. */
static struct hart_block *block_scratch(struct hart *h, uint64_t pc, unsigned max, const void *const *handlers)
{
    struct hart_block *b = h->code->scratch;
    uint8_t *page;
    if (mmu_fetch_page(h, pc, &page))
        return NULL;
    b->pa = ~0ull;
    b->unit = NULL;
    if (page && !((pc & 0xfff) == 4096 - 2 && decode_len(page[4096 - 2]) == 4)) {
        build_ops(b, pc, page, max, handlers);
        return b;
    }
    uint32_t raw;
    if (fetch_insn(h, pc, page, &raw))
        return NULL;
    struct insn d;
    decode_insn(raw, &d);
    set_op(&b->ops[0], &d, handlers[d.op], 0, 0);
    struct insn end = { .op = OP_COUNT_ };
    set_op(&b->ops[1], &end, handlers[OP_COUNT_], d.len, 1);
    b->ninsns = 1;
    b->nbytes = d.len;
    return b;
}

/* Links op (a branch, jal or block end in a block that started at bpc)
 * to y, the block its static target t leads to, when both are cached
 * blocks of one page: a target in the same virtual page is in the same
 * physical page whatever the translation, and blocks of a page are only
 * ever dropped together, so the link stays good while op's block lives. */
static void block_link(struct hart_op *op, uint64_t bpc, uint64_t t, const struct hart_block *y)
{
    const struct hart_block *x =
        (const struct hart_block *)((const char *)(op - op->idx) - offsetof(struct hart_block, ops));
    if (x->pa == ~0ull || (t >> 12) != (bpc >> 12) || y->pa != (x->pa & ~0xfffull) + (t & 0xfff))
        return;
    op->link = (int32_t)((const char *)y - (const char *)op);
}

/* The block for pc when the jump cache missed: translate, find or build
 * it, remember it in the jump cache (if jcache). NULL after a fetch
 * fault. */
static struct hart_block *block_find(struct hart *h, uint64_t pc, const void *const *handlers, int jcache)
{
    uint8_t *page;
    if (mmu_fetch_page(h, pc, &page))
        return NULL;
    if (!page || ((pc & 0xfff) == 4096 - 2 && decode_len(page[4096 - 2]) == 4))
        return block_scratch(h, pc, 1, handlers);
    struct hart_code *c = h->code;
    uint64_t pa = h->mem.base + (uint64_t)(page - h->mem.host) + (pc & 0xfff);
    uint64_t rp = (uint64_t)(page - h->mem.host) >> 12;
    if (h->code_mask[rp] && c->checked[c->slot[rp]] != c->epoch)
        code_validate(h, pa);
    unsigned hi = code_hash(pa);
    struct hart_block *b;
    for (b = c->hash[hi]; b; b = b->next)
        if (b->pa == pa)
            goto found;
    if (c->used + BLOCK_BYTES(BLOCK_MAX_INSNS) > CODE_ARENA_BYTES || c->npages == CODE_MAX_PAGES)
        code_flush_all(h);
    b = (struct hart_block *)(c->arena + c->used);
    build_ops(b, pc, page, BLOCK_MAX_INSNS, handlers);
    c->used += BLOCK_BYTES(b->ninsns);
    b->pa = pa;
    b->unit = NULL;
    b->next = c->hash[hi];
    c->hash[hi] = b;
    code_mark(h, pa, b->nbytes);
found:
    if (jcache)
        mmu_jcache_fill(h, (unsigned)(pc >> 1) & (HART_JCACHE_SIZE - 1), pc, b);
    return b;
}

/* block_find, and while an execute trigger is armed (cpu/trigger.h) the
 * check of the block's pcs: not remembered in the jump cache, so every
 * entry comes here; cut before a pc a trigger may match; NULL with the
 * trigger's exception raised when it fires at pc. */
static struct hart_block *block_lookup(struct hart *h, uint64_t pc, const void *const *handlers)
{
    if (likely(!(h->trig.armed & TRIGGER_EXEC)))
        return block_find(h, pc, handlers, 1);
    struct hart_block *b = block_find(h, pc, handlers, 0);
    if (!b)
        return NULL;
    int k = trigger_exec(h, pc, b->ops, b->ninsns);
    if (k < 0)
        return NULL;
    if ((unsigned)k < b->ninsns)
        b = block_scratch(h, pc, (unsigned)k, handlers);
    return b;
}

void hart_code_flush(struct hart *h)
{
    code_flush_all(h);
}

/* ---- the run loop ----
 *
 * Direct-threaded: each op holds the address of its handler (a label in
 * hart_run, GCC's labels-as-values), and every handler ends by jumping to
 * the next op's handler, so there is no central switch. Handlers know
 * their pc as the block's virtual start (bpc) plus the op's offset; they
 * do not maintain pc or instret as they go. A block is left by a taken
 * branch or jump (TAKEN), its EXIT op, an exception, or a system
 * instruction; leaving adds the instructions retired in it to
 * h->instret. Between blocks (next_block) one comparison decides whether
 * to go to the boundary (every HART_SLICE instructions) or to shorten the
 * next block so the budget ends exactly. */

/* Wrap-safe "a is at or past b" for instruction counts. */
#define REACHED(a, b) ((int64_t)((a) - (b)) >= 0)

enum hart_exit hart_interp_run(struct hart *h, uint64_t budget)
{
#define HANDLER_(name) &&op_##name,
    static const void *const handlers[OP_COUNT_ + 1] = { DECODE_OPS(HANDLER_) &&op_EXIT };
#undef HANDLER_
    h->code->handlers = handlers;
    uint64_t *const x = h->x;
    uint64_t *const f = h->f;
    uint64_t pc = h->pc;
    uint64_t budget_end = h->instret + budget;
    uint64_t slice_end;
    uint64_t bpc;                 /* virtual pc of the running block's first instruction */
    struct hart_op *op;           /* the running op */
    struct hart_op *link_from = NULL; /* an op to link to the next block (TAKEN_STATIC) */
    uint64_t link_flushes = 0;    /* ...unless the arena was emptied since */
    struct hart_block *blk;

boundary:
    h->pc = pc;
    {
        int r = hart_boundary(h, budget_end);
        if (r >= 0)
            return (enum hart_exit)r;
        pc = h->pc;   /* an interrupt may have been taken */
    }
    slice_end = budget_end - h->instret > HART_SLICE ? h->instret + HART_SLICE : budget_end;

next_block:
    {
        const struct hart_jcache_entry *j = &h->ft->jcache[(pc >> 1) & (HART_JCACHE_SIZE - 1)];
        if (likely(j->pc == pc))
            blk = j->blk;
        else if (!(blk = block_lookup(h, pc, handlers)))
            goto fetch_fault;
    }
    if (link_from) {
        /* No links while an execute trigger is armed: every entry must
         * be looked at (block_lookup). */
        if (link_flushes == h->code->flushes && !(h->trig.armed & TRIGGER_EXEC))
            block_link(link_from, bpc, pc, blk);
        link_from = NULL;
    }
    if (unlikely(!REACHED(slice_end, h->instret + blk->ninsns))) {
        if (REACHED(h->instret, slice_end))
            goto boundary;
        /* Past the end of the slice (the next block entry goes to the
         * boundary), but must it stop early for the budget? */
        if (!REACHED(budget_end, h->instret + blk->ninsns) &&
            !(blk = block_scratch(h, pc, (unsigned)(budget_end - h->instret), handlers)))
            goto fetch_fault;
    }
    bpc = pc;
    op = blk->ops;
    goto *op->handler;

fetch_fault:
    link_from = NULL;
    if (REACHED(h->instret, slice_end))
        goto boundary;
    h->pc = pc;
    if (take_trap(h, h->exc_cause, h->exc_tval))
        return HART_EXIT_CRASH;
    pc = h->pc;
    goto boundary;

#define RD x[op->rd]
#define RS1 x[op->rs1]
#define RS2 x[op->rs2]
#define IMM ((uint64_t)(int64_t)op->imm)
#define OPC (bpc + op->pcoff)  /* this instruction's pc */
#define NEXT() do { op++; goto *op->handler; } while (0)
/* Enters the block at pc. The common case (a jump-cache hit, well within
 * the slice) is expanded at every exit so each has its own indirect jump,
 * which the host predicts better than one shared jump. */
#define ENTER_BLOCK() do { \
        const struct hart_jcache_entry *j_ = &h->ft->jcache[(pc >> 1) & (HART_JCACHE_SIZE - 1)]; \
        if (likely(j_->pc == pc) && likely(REACHED(slice_end, h->instret + j_->blk->ninsns))) { \
            bpc = pc; \
            op = j_->blk->ops; \
            goto *op->handler; \
        } \
        goto next_block; \
    } while (0)
/* Leave the block for t, this instruction retired. */
#define TAKEN(t) do { h->instret += op->idx + 1u; pc = (t); ENTER_BLOCK(); } while (0)
/* The same for a target known when the block was built, having retired n
 * instructions of the block: follows op->link once next_block set it. */
#define TAKEN_STATIC(t, n) do { \
        h->instret += (n); \
        pc = (t); \
        if (likely(op->link)) { \
            struct hart_block *y_ = (struct hart_block *)((char *)op + op->link); \
            if (likely(REACHED(slice_end, h->instret + y_->ninsns))) { \
                bpc = pc; \
                op = y_->ops; \
                goto *op->handler; \
            } \
            goto next_block; \
        } \
        link_from = op; \
        link_flushes = h->code->flushes; \
        goto next_block; \
    } while (0)
#define BRANCH(cond) do { if (cond) TAKEN_STATIC(OPC + IMM, op->idx + 1u); NEXT(); } while (0)
/* TLB hits are one compare: the tag test also fails for misaligned
 * accesses, which the slow path emulates. */
#define TLB_HIT(e, va, sz) ((e)->vpage == ((va) & (~0xfffull | ((sz) - 1))))
#define LOAD_VAL(sz, T, out) do { \
        uint64_t va_ = RS1 + IMM; \
        const struct hart_tlb_entry *e_ = &h->dt->load[(va_ >> 12) & (HART_TLB_SIZE - 1)]; \
        if (likely(TLB_HIT(e_, va_, sz))) { \
            memcpy(&(out), (const void *)(e_->addend + (uintptr_t)va_), sz); \
        } else { \
            uint64_t w_; \
            if (mmu_load_slow(h, va_, sz, &w_)) \
                goto exception; \
            (out) = (T)w_; \
        } \
    } while (0)
#define LOAD(sz, T) do { T v_; LOAD_VAL(sz, T, v_); RD = (uint64_t)(int64_t)v_; NEXT(); } while (0)
/* A store that took the slow path may have overwritten decoded code,
 * maybe this very block's, or reached a device that asked the hart to
 * stop (a poweroff): then leave the block after it, for the boundary. */
#define AFTER_SLOW_STORE() do { \
        if (unlikely(h->code_dirty | atomic_load_explicit(&h->stop_requested, memory_order_relaxed))) \
            goto store_exit; \
    } while (0)
#define STORE(sz, T, val) do { \
        uint64_t va_ = RS1 + IMM; \
        T v_ = (T)(val); \
        const struct hart_tlb_entry *e_ = &h->dt->store[(va_ >> 12) & (HART_TLB_SIZE - 1)]; \
        if (likely(TLB_HIT(e_, va_, sz))) { \
            memcpy((void *)(e_->addend + (uintptr_t)va_), &v_, sz); \
        } else { \
            if (mmu_store_slow(h, va_, sz, v_)) \
                goto exception; \
            AFTER_SLOW_STORE(); \
        } \
    } while (0)

        op_LUI: RD = IMM; NEXT();
        op_AUIPC: RD = OPC + IMM; NEXT();
        op_JAL: {
            uint64_t t = OPC + IMM;
            RD = OPC + op->len;
            TAKEN_STATIC(t, op->idx + 1u);
        }
        op_JALR: {
            uint64_t t = (RS1 + IMM) & ~1ull;
            RD = OPC + op->len;
            TAKEN(t);
        }
        op_BEQ: BRANCH(RS1 == RS2);
        op_BNE: BRANCH(RS1 != RS2);
        op_BLT: BRANCH((int64_t)RS1 < (int64_t)RS2);
        op_BGE: BRANCH((int64_t)RS1 >= (int64_t)RS2);
        op_BLTU: BRANCH(RS1 < RS2);
        op_BGEU: BRANCH(RS1 >= RS2);
        op_LB: LOAD(1, int8_t);
        op_LH: LOAD(2, int16_t);
        op_LW: LOAD(4, int32_t);
        op_LD: LOAD(8, uint64_t);
        op_LBU: LOAD(1, uint8_t);
        op_LHU: LOAD(2, uint16_t);
        op_LWU: LOAD(4, uint32_t);
        op_SB: STORE(1, uint8_t, RS2); NEXT();
        op_SH: STORE(2, uint16_t, RS2); NEXT();
        op_SW: STORE(4, uint32_t, RS2); NEXT();
        op_SD: STORE(8, uint64_t, RS2); NEXT();
        op_ADDI: RD = RS1 + IMM; NEXT();
        op_SLTI: RD = (int64_t)RS1 < (int64_t)IMM; NEXT();
        op_SLTIU: RD = RS1 < IMM; NEXT();
        op_XORI: RD = RS1 ^ IMM; NEXT();
        op_ORI: RD = RS1 | IMM; NEXT();
        op_ANDI: RD = RS1 & IMM; NEXT();
        op_SLLI: RD = RS1 << op->imm; NEXT();
        op_SRLI: RD = RS1 >> op->imm; NEXT();
        op_SRAI: RD = (uint64_t)((int64_t)RS1 >> op->imm); NEXT();
        op_ADD: RD = RS1 + RS2; NEXT();
        op_SUB: RD = RS1 - RS2; NEXT();
        op_SLL: RD = RS1 << (RS2 & 63); NEXT();
        op_SLT: RD = (int64_t)RS1 < (int64_t)RS2; NEXT();
        op_SLTU: RD = RS1 < RS2; NEXT();
        op_XOR: RD = RS1 ^ RS2; NEXT();
        op_SRL: RD = RS1 >> (RS2 & 63); NEXT();
        op_SRA: RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63)); NEXT();
        op_OR: RD = RS1 | RS2; NEXT();
        op_AND: RD = RS1 & RS2; NEXT();
        op_ADDIW: RD = sext32(RS1 + IMM); NEXT();
        op_SLLIW: RD = sext32((uint32_t)RS1 << op->imm); NEXT();
        op_SRLIW: RD = sext32((uint32_t)RS1 >> op->imm); NEXT();
        op_SRAIW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> op->imm); NEXT();
        op_ADDW: RD = sext32(RS1 + RS2); NEXT();
        op_SUBW: RD = sext32(RS1 - RS2); NEXT();
        op_SLLW: RD = sext32((uint32_t)RS1 << (RS2 & 31)); NEXT();
        op_SRLW: RD = sext32((uint32_t)RS1 >> (RS2 & 31)); NEXT();
        op_SRAW: RD = (uint64_t)(int64_t)((int32_t)RS1 >> (RS2 & 31)); NEXT();

        op_MUL: RD = RS1 * RS2; NEXT();
        op_MULH: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64); NEXT();
        op_MULHSU: RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)RS2) >> 64); NEXT();
        op_MULHU: RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64); NEXT();
        op_DIV: {
            int64_t a = (int64_t)RS1, b = (int64_t)RS2;
            RD = b == 0 ? UINT64_MAX : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
            NEXT();
        }
        op_DIVU: RD = RS2 == 0 ? UINT64_MAX : RS1 / RS2; NEXT();
        op_REM: {
            int64_t a = (int64_t)RS1, b = (int64_t)RS2;
            RD = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
            NEXT();
        }
        op_REMU: RD = RS2 == 0 ? RS1 : RS1 % RS2; NEXT();
        op_MULW: RD = sext32(RS1 * RS2); NEXT();
        op_DIVW: {
            int32_t a = (int32_t)RS1, b = (int32_t)RS2;
            RD = (uint64_t)(int64_t)(b == 0 ? -1 : (a == INT32_MIN && b == -1) ? a : a / b);
            NEXT();
        }
        op_DIVUW: {
            uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
            RD = sext32(b == 0 ? UINT32_MAX : a / b);
            NEXT();
        }
        op_REMW: {
            int32_t a = (int32_t)RS1, b = (int32_t)RS2;
            RD = (uint64_t)(int64_t)(b == 0 ? a : (a == INT32_MIN && b == -1) ? 0 : a % b);
            NEXT();
        }
        op_REMUW: {
            uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
            RD = sext32(b == 0 ? a : a % b);
            NEXT();
        }

        op_SH1ADD: RD = (RS1 << 1) + RS2; NEXT();
        op_SH2ADD: RD = (RS1 << 2) + RS2; NEXT();
        op_SH3ADD: RD = (RS1 << 3) + RS2; NEXT();
        op_ADD_UW: RD = (uint64_t)(uint32_t)RS1 + RS2; NEXT();
        op_SH1ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 1) + RS2; NEXT();
        op_SH2ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 2) + RS2; NEXT();
        op_SH3ADD_UW: RD = ((uint64_t)(uint32_t)RS1 << 3) + RS2; NEXT();
        op_SLLI_UW: RD = (uint64_t)(uint32_t)RS1 << op->imm; NEXT();
        op_ANDN: RD = RS1 & ~RS2; NEXT();
        op_ORN: RD = RS1 | ~RS2; NEXT();
        op_XNOR: RD = ~(RS1 ^ RS2); NEXT();
        op_CLZ: RD = RS1 ? (uint64_t)__builtin_clzll(RS1) : 64; NEXT();
        op_CLZW: RD = (uint32_t)RS1 ? (uint64_t)__builtin_clz((uint32_t)RS1) : 32; NEXT();
        op_CTZ: RD = RS1 ? (uint64_t)__builtin_ctzll(RS1) : 64; NEXT();
        op_CTZW: RD = (uint32_t)RS1 ? (uint64_t)__builtin_ctz((uint32_t)RS1) : 32; NEXT();
        op_CPOP: RD = (uint64_t)__builtin_popcountll(RS1); NEXT();
        op_CPOPW: RD = (uint64_t)__builtin_popcount((uint32_t)RS1); NEXT();
        op_MAX: RD = (int64_t)RS1 > (int64_t)RS2 ? RS1 : RS2; NEXT();
        op_MAXU: RD = RS1 > RS2 ? RS1 : RS2; NEXT();
        op_MIN: RD = (int64_t)RS1 < (int64_t)RS2 ? RS1 : RS2; NEXT();
        op_MINU: RD = RS1 < RS2 ? RS1 : RS2; NEXT();
        op_SEXT_B: RD = (uint64_t)(int64_t)(int8_t)RS1; NEXT();
        op_SEXT_H: RD = (uint64_t)(int64_t)(int16_t)RS1; NEXT();
        op_ZEXT_H: RD = (uint16_t)RS1; NEXT();
        op_ROL: RD = rol64(RS1, (unsigned)RS2); NEXT();
        op_ROR: RD = ror64(RS1, (unsigned)RS2); NEXT();
        op_RORI: RD = ror64(RS1, (unsigned)op->imm); NEXT();
        op_ROLW: RD = sext32(rol32((uint32_t)RS1, (unsigned)RS2)); NEXT();
        op_RORW: RD = sext32(ror32((uint32_t)RS1, (unsigned)RS2)); NEXT();
        op_RORIW: RD = sext32(ror32((uint32_t)RS1, (unsigned)op->imm)); NEXT();
        op_ORC_B: RD = orc_b(RS1); NEXT();
        op_REV8: RD = __builtin_bswap64(RS1); NEXT();
        op_BCLR: RD = RS1 & ~(1ull << (RS2 & 63)); NEXT();
        op_BCLRI: RD = RS1 & ~(1ull << op->imm); NEXT();
        op_BEXT: RD = (RS1 >> (RS2 & 63)) & 1; NEXT();
        op_BEXTI: RD = (RS1 >> op->imm) & 1; NEXT();
        op_BINV: RD = RS1 ^ (1ull << (RS2 & 63)); NEXT();
        op_BINVI: RD = RS1 ^ (1ull << op->imm); NEXT();
        op_BSET: RD = RS1 | (1ull << (RS2 & 63)); NEXT();
        op_BSETI: RD = RS1 | (1ull << op->imm); NEXT();

        op_LR_W: op_LR_D: {
            uint64_t v;
            if (amo_exec(h, op->opc, RS1, RS2, &v))
                goto exception;
            RD = v;
            NEXT();
        }
        op_SC_W: op_SC_D:
        op_AMOSWAP_W: op_AMOADD_W: op_AMOXOR_W: op_AMOAND_W: op_AMOOR_W:
        op_AMOMIN_W: op_AMOMAX_W: op_AMOMINU_W: op_AMOMAXU_W:
        op_AMOSWAP_D: op_AMOADD_D: op_AMOXOR_D: op_AMOAND_D: op_AMOOR_D:
        op_AMOMIN_D: op_AMOMAX_D: op_AMOMINU_D: op_AMOMAXU_D: {
            uint64_t v;
            if (amo_exec(h, op->opc, RS1, RS2, &v))
                goto exception;
            RD = v;
            AFTER_SLOW_STORE();
            NEXT();
        }

        op_FENCE:
            NEXT();
        op_FENCE_I:
            /* Our own stores already dropped what they overwrote; this is
             * for code that DMA or other harts wrote. */
            pc = bpc + op->len;
            h->instret++;
            code_fence(h);
            goto boundary;
        op_CBO_INVAL: op_CBO_CLEAN: op_CBO_FLUSH: op_CBO_ZERO: {
            uint64_t bit = op->opc == OP_CBO_ZERO ? MENVCFG_CBZE
                         : op->opc == OP_CBO_INVAL ? MENVCFG_CBIE : MENVCFG_CBCFE;
            if ((h->priv < PRIV_M && !(h->menvcfg & bit)) || (h->priv == PRIV_U && !(h->senvcfg & bit)))
                goto illegal;
            uint64_t va = RS1, pa;
            /* They match store triggers on their whole block (trigger.h). */
            if (unlikely(h->trig.armed & TRIGGER_STORE) && trigger_data(h, va & ~63ull, 64, TRIGGER_STORE))
                goto exception;
            if (op->opc == OP_CBO_ZERO) {
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
                AFTER_SLOW_STORE();
            } else if (mmu_translate(h, va, MMU_LOAD, &pa)) {
                /* Cache-block management faults are reported as stores. */
                h->exc_cause = h->exc_cause == CAUSE_LOAD_PAGE ? CAUSE_STORE_PAGE : CAUSE_STORE_ACCESS;
                goto exception;
            }
            NEXT();
        }

        op_ECALL:
            if (h->priv == PRIV_S && h->ecall.call) {
                h->pc = bpc;
                atomic_store_explicit(&h->exits.sbi, atomic_load_explicit(&h->exits.sbi, memory_order_relaxed) + 1,
                                      memory_order_relaxed);
                int rc = h->ecall.call(h->ecall.opaque, h);
                if (rc == 0) {
                    /* The call may have stopped this hart or changed what
                     * is pending: look at the boundary. */
                    pc = bpc + 4;
                    h->instret++;
                    goto boundary;
                }
                if (rc == HART_ECALL_RETRY) {
                    /* Not retired: the boundary leaves for the stop
                     * request, and the ecall runs again afterwards. */
                    pc = bpc;
                    goto boundary;
                }
            }
            hart_raise(h, CAUSE_ECALL_U + h->priv, 0);
            goto exception;
        op_EBREAK:
            hart_raise(h, CAUSE_BREAKPOINT, bpc);
            goto exception;
        op_MRET: {
            if (h->priv != PRIV_M)
                goto illegal;
            uint64_t s = h->mstatus;
            unsigned mpp = (unsigned)((s & MSTATUS_MPP) >> 11);
            s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | MSTATUS_MPIE | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0);
            if (mpp != PRIV_M)
                s &= ~MSTATUS_MPRV;
            h->mstatus = s;
            h->trig.tcontrol = trigger_tcontrol_mret(h->trig.tcontrol);
            h->resv_valid = 0;
            set_priv(h, mpp);
            pc = h->mepc;
            h->instret++;
            goto boundary;
        }
        op_SRET: {
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
            goto boundary;
        }
        op_WFI:
            if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW)))
                goto illegal;
            pc = bpc + op->len;
            h->instret++;
            if (hart_pending_irqs(h) & h->mie)
                goto boundary;
            h->pc = pc;
            return HART_EXIT_WFI;
        op_SFENCE_VMA:
            if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM)))
                goto illegal;
            /* By address: that page in every context (mmu_flush_page knows
             * about superpages); the ASID is ignored there: more is dropped
             * than needed, never less. By ASID alone: all but the global
             * translations. */
            if (op->rs1)
                mmu_flush_page(h, RS1);
            else if (op->rs2)
                mmu_flush_local(h);
            else
                mmu_flush(h);
            goto system_done;

        op_CSRRW: op_CSRRWI: op_CSRRS: op_CSRRC: op_CSRRSI: op_CSRRCI: {
            uint64_t old;
            int wrote;
            if (csr_insn(h, op->opc, (unsigned)op->imm, op->rs1, RS1, op->rd == DECODE_XZERO_SINK, &old, &wrote))
                goto illegal;
            RD = old;
            goto system_done;
        }

#define FS_CHECK() do { if (unlikely(!(h->mstatus & MSTATUS_FS))) goto illegal; } while (0)
#define FS_DIRTY() (h->mstatus |= MSTATUS_FS)
        op_FLW: {
            FS_CHECK();
            uint32_t v;
            LOAD_VAL(4, uint32_t, v);
            f[op->rd] = fpu_box32(v);
            FS_DIRTY();
            NEXT();
        }
        op_FLD: {
            FS_CHECK();
            uint64_t v;
            LOAD_VAL(8, uint64_t, v);
            f[op->rd] = v;
            FS_DIRTY();
            NEXT();
        }
        op_FSW:
            FS_CHECK();
            STORE(4, uint32_t, f[op->rs2]);
            NEXT();
        op_FSD:
            FS_CHECK();
            STORE(8, uint64_t, f[op->rs2]);
            NEXT();
        /* Every other F and D operation: cpu/fpu_ops.h. */
#define RM() int rm = op->rm == 7 ? (int)h->frm : op->rm; if (unlikely(rm > 4)) goto illegal
#define FLAGS(fl) do { if (fl) { h->fflags |= (fl); FS_DIRTY(); } } while (0)
#define S1 fpu_unbox32(f[op->rs1])
#define S2 fpu_unbox32(f[op->rs2])
#define S3 fpu_unbox32(f[op->rs3])
#define D1 f[op->rs1]
#define D2 f[op->rs2]
#define D3 f[op->rs3]
#define R1 RS1
#define FOP_S(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; f[op->rd] = fpu_box32(expr); \
                         FLAGS(fl); FS_DIRTY(); NEXT(); } while (0)
#define FOP_D(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; f[op->rd] = (expr); \
                         FLAGS(fl); FS_DIRTY(); NEXT(); } while (0)
#define FOP_X(expr) do { FS_CHECK(); RM(); unsigned fl = 0; (void)rm; RD = (expr); FLAGS(fl); NEXT(); } while (0)
#define FOP_XN(expr) do { FS_CHECK(); unsigned fl = 0; RD = (expr); FLAGS(fl); NEXT(); } while (0)
#define FOP_SN(expr) do { FS_CHECK(); f[op->rd] = fpu_box32(expr); FS_DIRTY(); NEXT(); } while (0)
#define FOP_DN(expr) do { FS_CHECK(); f[op->rd] = (expr); FS_DIRTY(); NEXT(); } while (0)
#define FPU_HANDLER(OP, KIND, EXPR) op_##OP: FOP_##KIND(EXPR);
        FPU_OPS(FPU_HANDLER)
#undef FPU_HANDLER
#undef S1
#undef S2
#undef S3
#undef D1
#undef D2
#undef D3
#undef R1


op_ILLEGAL:
illegal:
    hart_raise(h, CAUSE_ILLEGAL, op->raw);
exception:
    /* The instructions before op in the block retired; op did not. */
    h->instret += op->idx;
    h->pc = OPC;
    if (take_trap(h, h->exc_cause, h->exc_tval))
        return HART_EXIT_CRASH;
    pc = h->pc;
    goto boundary;
system_done:
    /* The instruction (alone in its block) may have changed what is
     * enabled or mapped. */
    pc = bpc + op->len;
    h->instret++;
    goto boundary;
store_exit:
    h->code_dirty = 0;
    h->instret += op->idx + 1u;
    pc = OPC + op->len;
    goto boundary;
op_EXIT:
    /* Ran off the end of the block without a taken branch. */
    TAKEN_STATIC(bpc + op->pcoff, op->idx);
}

/* ---- the seam to the JIT (see hart.h) ---- */

/* The run loop's boundary (both engines): fences, stop, budget, interrupts,
 * in that order. */
int hart_boundary(struct hart *h, uint64_t budget_end)
{
    h->code_dirty = 0;
    if (unlikely(atomic_load_explicit(&h->flush_requested, memory_order_acquire) !=
                 atomic_load_explicit(&h->flush_done, memory_order_relaxed)))
        hart_service_flush(h);
    /* Before the stop request, which stays pending for the next run. */
    if (unlikely(h->debug_trapped | h->trig.stopped))
        return HART_EXIT_STOP;
    if (unlikely(atomic_load_explicit(&h->stop_requested, memory_order_acquire))) {
        atomic_store(&h->stop_requested, 0);
        return HART_EXIT_STOP;
    }
    if (REACHED(h->instret, budget_end))
        return HART_EXIT_BUDGET;
    uint64_t cause = irq_to_take(h);
    if (cause && take_trap(h, cause, 0))
        return HART_EXIT_CRASH;
    if (unlikely(h->debug_trapped | h->trig.stopped))
        return HART_EXIT_STOP;
    return -1;
}

int hart_take_exception(struct hart *h)
{
    return take_trap(h, h->exc_cause, h->exc_tval);
}

struct hart_block *hart_block_at(struct hart *h, uint64_t pc)
{
    const struct hart_jcache_entry *j = &h->ft->jcache[(pc >> 1) & (HART_JCACHE_SIZE - 1)];
    if (likely(j->pc == pc))
        return j->blk;
    struct hart_block *b = block_lookup(h, pc, h->code->handlers);
    return b && b->pa != ~0ull ? b : NULL;
}

const struct hart_op *hart_block_ops(const struct hart_block *b, unsigned *ninsns)
{
    *ninsns = b->ninsns;
    return b->ops;
}

void **hart_block_unit(struct hart_block *b, uint64_t **gen)
{
    *gen = &b->unit_gen;
    return &b->unit;
}

uint64_t hart_block_pa(const struct hart_block *b)
{
    return b->pa;
}

int hart_op_is_system(unsigned op)
{
    return op_is_system(op);
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

int hart_stop_pending(const struct hart *h)
{
    return atomic_load_explicit(&((struct hart *)h)->stop_requested, memory_order_acquire);
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

uint64_t hart_request_flush(struct hart *h, unsigned kinds)
{
    atomic_fetch_or_explicit(&h->flush_kinds, kinds, memory_order_release);
    uint64_t ticket = atomic_fetch_add(&h->flush_requested, 1) + 1;
    hart_kick(h);
    return ticket;
}

int hart_flush_complete(struct hart *h, uint64_t ticket)
{
    if (atomic_load_explicit(&h->flush_done, memory_order_acquire) >= ticket)
        return 1;
    /* Outside hart_run (parked by a pause, stopped, between slices) the
     * hart runs no guest code, and the request is still pending: it honours
     * it before its next instruction. The fence is complete for the
     * requester's purpose. */
    atomic_thread_fence(memory_order_seq_cst);
    return !atomic_load(&h->in_run);
}

void hart_service_flush(struct hart *h)
{
    uint64_t req = atomic_load_explicit(&h->flush_requested, memory_order_acquire);
    if (req == atomic_load_explicit(&h->flush_done, memory_order_relaxed))
        return;
    /* Remote sfence.vma drops translations, remote fence.i checks decoded
     * code. The kinds of requests whose tickets are in req were set before
     * them; later ones' may be honoured early, which does no harm. */
    unsigned kinds = atomic_exchange_explicit(&h->flush_kinds, 0, memory_order_acquire);
    if (kinds & HART_FLUSH_TLB)
        mmu_flush(h);
    else if (kinds & HART_FLUSH_LOCAL)
        mmu_flush_local(h);
    if (kinds & HART_FLUSH_CODE)
        code_fence(h);
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
    atomic_store_explicit(&h->exits.wfi, atomic_load_explicit(&h->exits.wfi, memory_order_relaxed) + 1,
                          memory_order_relaxed);
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

void hart_exit_counts(const struct hart *h, struct hart_exit_counts *out)
{
    out->mmio_read = atomic_load_explicit(&((struct hart *)h)->exits.mmio_read, memory_order_relaxed);
    out->mmio_write = atomic_load_explicit(&((struct hart *)h)->exits.mmio_write, memory_order_relaxed);
    out->sbi = atomic_load_explicit(&((struct hart *)h)->exits.sbi, memory_order_relaxed);
    out->wfi = atomic_load_explicit(&((struct hart *)h)->exits.wfi, memory_order_relaxed);
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
