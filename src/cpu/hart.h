/* One RISC-V hart (RV64IMAFDC + Zicsr, Zifencei, Zba, Zbb, Zbs, Zicbom,
 * Zicboz, Zihintpause, Sstc, Svpbmt; M, S and U modes; Sv39/48/57; PMP)
 * and the interpreter that runs it.
 *
 * The hart knows nothing of devices. It sees guest RAM as one host mapping
 * (struct hart_mem, shared by all harts of a VM) and everything else
 * through the bus callbacks in struct hart_bus; interrupts arrive as bits
 * other threads set with hart_set_irq. hart_run executes until a budget of
 * instructions is spent or something needs the caller (wfi with nothing
 * pending, a stop request, a crash), so the caller (the vmm layer) decides
 * how to wait, when to stop and what to report.
 *
 * Typical driver loop, one host thread per hart:
 *     for (;;) switch (hart_run(h, 1 << 20)) {
 *     case HART_EXIT_BUDGET: break;
 *     case HART_EXIT_WFI:    hart_wait(h); break;
 *     case HART_EXIT_STOP:   return;            (someone called hart_request_stop)
 *     case HART_EXIT_CRASH:  report hart_dump(); return;
 *     }
 *
 * struct hart is defined here so cpu/ modules share it; other layers use
 * only the functions below. */
#ifndef MINNOW_CPU_HART_H
#define MINNOW_CPU_HART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/decode.h"
#include "cpu/trigger.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

enum hart_priv { PRIV_U = 0, PRIV_S = 1, PRIV_M = 3 };

/* mip/mie bits. */
#define MIP_SSIP (1ull << 1)
#define MIP_MSIP (1ull << 3)
#define MIP_STIP (1ull << 5)
#define MIP_MTIP (1ull << 7)
#define MIP_SEIP (1ull << 9)
#define MIP_MEIP (1ull << 11)

/* Exception causes. */
enum hart_cause {
    CAUSE_FETCH_MISALIGNED = 0,
    CAUSE_FETCH_ACCESS = 1,
    CAUSE_ILLEGAL = 2,
    CAUSE_BREAKPOINT = 3,
    CAUSE_LOAD_MISALIGNED = 4,
    CAUSE_LOAD_ACCESS = 5,
    CAUSE_STORE_MISALIGNED = 6,
    CAUSE_STORE_ACCESS = 7,
    CAUSE_ECALL_U = 8,
    CAUSE_ECALL_S = 9,
    CAUSE_ECALL_M = 11,
    CAUSE_FETCH_PAGE = 12,
    CAUSE_LOAD_PAGE = 13,
    CAUSE_STORE_PAGE = 15,
};
#define CAUSE_INTERRUPT (1ull << 63)

/* Guest RAM: host mapping of guest physical [base, base+size), size a
 * multiple of 4 KiB. Stores that touch [watch_lo, watch_hi) physical are
 * reported to hart_bus.watch after they land (HTIF tohost); those pages are
 * never cached for stores, so the report costs nothing elsewhere.
 * Every write to RAM sets its page's bit in `dirty`: stores mark it on
 * the slow path before the page may enter the store TLB, so the fast path
 * needs no check, and whoever clears bits must then drop the harts' TLBs
 * (hart_flush_tlb, or hart_request_flush while they run) before it reads
 * the pages it took.
 * `written` has a page's bit set by every write that no hart's store
 * made: devices' (DMA), page-table A/D updates. A hart that is alone in
 * its machine takes the bits at fence.i and checks only the decoded code
 * of those pages (see "decoded code" in hart.c). */
struct hart_mem {
    uint8_t *host;
    uint64_t base;
    uint64_t size;
    uint64_t watch_lo, watch_hi;
    _Atomic uint64_t *dirty;   /* util/dirty_bitmap.h; NULL: not tracked */
    _Atomic uint64_t *written; /* the same layout; NULL: not tracked */
};

/* Physical accesses that are not RAM. load/store return 0, or -1 when
 * nothing answers at pa (the hart raises an access fault). */
struct hart_bus {
    int (*load)(void *opaque, uint64_t pa, unsigned size, uint64_t *val);
    int (*store)(void *opaque, uint64_t pa, unsigned size, uint64_t val);
    void *opaque;
    void (*watch)(void *watch_opaque, uint64_t pa, unsigned size, uint64_t val);
    void *watch_opaque;
};

/* The platform's time (the `time` CSR, mtimecmp, stimecmp), in ticks of
 * freq_hz that advance in real time. read == NULL means the default: the
 * host's monotonic clock at 10 MHz, counted from hart creation. */
struct hart_clock {
    uint64_t (*read)(void *opaque);
    void *opaque;
    uint64_t freq_hz;
};

struct hart;

/* An ecall from S-mode goes to `call` when it is set (the board's SBI runs
 * in the monitor, as M-mode firmware would): it reads and writes the
 * hart's registers with hart_reg/hart_set_reg and returns 0, and the hart
 * continues after the ecall. HART_ECALL_RETRY means the call gave way to a
 * stop request (hart_stop_pending) before it had any effect the guest can
 * see: the ecall does not retire, the hart stops there, and it runs the
 * ecall again when it next runs (a pause parks it in the same
 * architectural state, instruction count included). Any other nonzero
 * return takes the ordinary trap. */
#define HART_ECALL_RETRY 2
struct hart_ecall {
    int (*call)(void *opaque, struct hart *h);
    void *opaque;
};

/* Execution engines behind hart_run: the threaded interpreter (every
 * host; the reference) and the JIT (cpu/jit.c, x86-64 hosts). */
enum hart_engine { HART_ENGINE_INTERP = 0, HART_ENGINE_JIT = 1 };
/* What runs the harts unless the user says otherwise (minnow run
 * --engine, machine-config's "engine"). */
#define HART_ENGINE_DEFAULT HART_ENGINE_JIT
/* "interp" or "jit" into *out; -1 for anything else. */
int hart_engine_parse(const char *name, enum hart_engine *out);
const char *hart_engine_name(enum hart_engine e);

struct hart_config {
    unsigned hartid;
    enum hart_engine engine;  /* HART_ENGINE_JIT falls back to the interpreter where there is no JIT */
    struct hart_ecall ecall;
    struct hart_mem mem;
    struct hart_bus bus;
    struct hart_clock clock;
    /* End the run with HART_EXIT_CRASH instead of looping when a trap is
     * taken before any instruction retired since the previous trap (the
     * trap vector itself faults), or when the same exception repeats at the
     * same pc many times in a row with no other trap between. Meant for
     * bare-metal programs; a full OS board may leave it off. */
    int crash_detect;
    /* The only hart of its machine: no other hart's stores reach RAM. */
    int alone;
    /* Size of the JIT's code cache; 0: the default. Tests make it small
     * to exercise the cache's flushes. */
    size_t jit_cache_bytes;
};

enum hart_exit {
    HART_EXIT_BUDGET,  /* ran the budget; call hart_run again */
    HART_EXIT_WFI,     /* wfi with no interrupt pending: hart_wait, then run */
    HART_EXIT_STOP,    /* hart_request_stop was called */
    HART_EXIT_CRASH,   /* the program cannot make progress; see hart_dump */
};

/* Asynchronous events are looked at every HART_SLICE instructions or so
 * (both engines). */
#define HART_SLICE 4096
#define HART_TLB_SIZE 512
/* Entries of the jump cache (virtual pc -> decoded block); a power of 2. */
#define HART_JCACHE_SIZE 4096
/* TLB and jump-cache fills remembered for a cheap flush (see mmu.h). */
#define HART_FLUSH_LOG 64

struct hart_tlb_entry {
    uint64_t vpage;      /* virtual page (va & ~0xfff); ~0 when empty */
    uintptr_t addend;    /* host address = addend + va */
};

/* One pre-decoded instruction of a block (see hart.c). */
struct hart_op {
    const void *handler; /* the interpreter's code for it (a label address) */
    int32_t imm;
    union {
        uint32_t raw;    /* the instruction bits, for mtval/stval */
        int32_t link;    /* branches, jal, block ends: byte offset from this op to
                          * the block they lead to (same page), 0 = not known */
    };
    uint16_t opc;        /* enum decode_op, for handlers several operations share */
    uint16_t pcoff;      /* byte offset from the start of the block */
    uint8_t rd, rs1, rs2, rs3;
    uint8_t rm, len;
    uint8_t idx;         /* instructions before this one in the block */
};

struct hart_block;
struct hart_code;
struct jit;

struct hart_jcache_entry {
    uint64_t pc;         /* virtual pc; ~0 when empty (pcs are even) */
    struct hart_block *blk;
    /* The chain entry of blk's JIT unit in the code cache's current
     * generation, or NULL (not translated yet, left to the interpreter):
     * set by jit_run, reset by every fill; emptying the code cache
     * empties the jump caches. Read by the JIT's inline lookup. */
    const void *jit;
    uint64_t spare;      /* 32-byte entries: the lookup scales by a shift */
};

/* Cached translations are kept per translation context, so that a change
 * of privilege (a trap, sret, mret) or of mstatus.SUM only switches to
 * another set instead of dropping them (see mmu.h). Each set remembers
 * the slots filled since it was last cleared (log: a count above
 * HART_FLUSH_LOG means it overflowed and a clear must wipe everything)
 * and the span of virtual pages they map ([lo, hi], empty when lo > hi),
 * so that clearing a set, or one page of it, costs little. `local` is set
 * once the set may hold a translation that is not global (no G bit on
 * its page-table path): only such sets go when the address space
 * changes (mmu_flush_local). */
struct hart_tlb_log {
    uint64_t lo, hi;
    unsigned n;
    int local;
    uint16_t slot[HART_FLUSH_LOG];
};

/* Fetch context (one per privilege): instruction pages and the jump cache,
 * which maps virtual pcs to blocks under this context's translation. Log
 * entries: fetch index, or jcache index | 0x8000. jpages has bit
 * (page number % 1024) set for every page with jump-cache entries, so a
 * flush of one page rarely needs to search the jump cache. */
struct hart_fetch_tlb {
    struct hart_tlb_entry fetch[HART_TLB_SIZE];
    struct hart_jcache_entry jcache[HART_JCACHE_SIZE];
    struct hart_tlb_log log;
    uint64_t jpages[16];
};

/* Data context: loads and stores. Log entries: load index, or store
 * index | 0x8000. */
struct hart_data_tlb {
    struct hart_tlb_entry load[HART_TLB_SIZE];
    struct hart_tlb_entry store[HART_TLB_SIZE];
    struct hart_tlb_log log;
};

/* Fetch contexts are indexed by privilege (U, S, M); data contexts by the
 * effective load/store privilege and the mstatus bits that change what it
 * may access. MXR is rare, so all its combinations share one set that is
 * cleared when entered under another (priv_ls, SUM) than it was filled. */
enum { HART_FCTX_U, HART_FCTX_S, HART_FCTX_M, HART_FCTX_N };
enum { HART_DCTX_U, HART_DCTX_S, HART_DCTX_S_SUM, HART_DCTX_M, HART_DCTX_MXR, HART_DCTX_N };

struct hart {
    /* Architectural state. x[32] is a write sink for rd = x0. */
    uint64_t x[33];
    uint64_t f[32];
    uint64_t pc;
    unsigned priv;

    uint64_t mstatus;    /* SD is computed when read */
    uint64_t medeleg, mideleg, mie, mtvec, mscratch, mepc, mcause, mtval;
    uint64_t mip_sw;     /* SSIP, STIP (when Sstc is off), SEIP as software wrote them */
    _Atomic uint64_t mip_ext;  /* lines from interrupt controllers */
    _Atomic uint64_t mtimecmp; /* machine timer compare (the board's CLINT writes it) */
    uint32_t mcounteren, scounteren, mcountinhibit;
    uint64_t menvcfg, senvcfg;
    uint64_t stvec, sscratch, sepc, scause, stval, satp, stimecmp;
    /* instret: instructions this hart retired, counted by the run loop
     * (budgets, hart_instret, crash detection). The guest's minstret and
     * mcycle are derived from it through instret_delta and cycle_delta,
     * so guest writes and mcountinhibit need not touch instret itself. */
    uint64_t instret, cycle_delta, instret_delta;
    uint32_t fflags, frm;
    uint8_t pmpcfg[64];
    uint64_t pmpaddr[64];
    int pmp_active;      /* some entry has A != OFF */
    int pmp_ram_rw;      /* PMP lets S-mode read and write all of RAM (page walks skip their checks) */
    uint64_t mhartid;

    /* LR/SC reservation (physical address and the value LR saw). */
    uint64_t resv_pa, resv_val;
    int resv_valid;

    /* Derived from the above, kept in step by every write. */
    unsigned priv_ls;    /* privilege of loads/stores (MPRV) */

    /* Exception raised by a helper, taken by the run loop. */
    uint64_t exc_cause, exc_tval;

    struct hart_mem mem;
    struct hart_bus bus;
    struct hart_clock clock;
    uint64_t clock_origin_ns;
    struct hart_ecall ecall;

    /* Run control, shared with other threads. */
    _Atomic int stop_requested;
    _Atomic int kicked;
    _Atomic uint64_t flush_requested, flush_done;  /* remote fence tickets */
    _Atomic unsigned flush_kinds;                  /* HART_FLUSH_* asked for since the last service */
    _Atomic int in_run;  /* inside hart_run (see hart_flush_complete) */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond;

    /* Exits to the monitor, counted by the hart's thread and read by
     * others (metrics): device accesses through the bus, ecalls the
     * board's SBI answered, and waits in hart_wait. */
    struct {
        _Atomic uint64_t mmio_read, mmio_write, sbi, wfi;
    } exits;

    /* Crash detection (see hart_config.crash_detect). */
    int crash_detect;
    int alone;           /* hart_config.alone */
    uint64_t last_trap_instret;
    uint64_t last_exc_cause, last_exc_pc, exc_repeat;
    int trapped_once;
    char crash_reason[160];

    /* Cached translations (see struct hart_tlb_log): ft and dt point at
     * the sets of the current context, chosen by csr_update_priv_ls.
     * super_lo/super_hi span the virtual addresses of every superpage
     * translation since the last full flush (empty when lo > hi): an
     * sfence.vma by address inside it drops everything, since entries
     * hold 4 KiB pieces of superpages. */
    struct hart_fetch_tlb *ft;
    struct hart_data_tlb *dt;
    struct hart_fetch_tlb ftlb[HART_FCTX_N];
    struct hart_data_tlb dtlb[HART_DCTX_N];
    unsigned mxr_key;    /* what the MXR set was filled under */
    uint64_t super_lo, super_hi;

    /* Decoded code (see hart.c). code_mask has one word per RAM page: bit
     * i set when bytes [64i, 64i+64) of the page hold instructions this
     * hart decoded; such pages never enter a store TLB, so every store to
     * them reaches hart_code_store. */
    struct hart_code *code;
    uint64_t *code_mask;
    int code_dirty;      /* a store dropped decoded code: end the block */

    /* The engine hart_run dispatches to, and the JIT's state (NULL when
     * the interpreter runs this hart). */
    enum hart_engine engine;
    struct jit *jit;
    /* A debugger's hold (cpu/hart_debug.h): with debug_step set a trap
     * sets debug_trapped, which ends hart_run (HART_EXIT_STOP) at the
     * handler's first instruction; debug_irq_mask keeps interrupts from
     * being taken. All 0 unless a debugger steps or set breakpoints. */
    int debug_step, debug_irq_mask, debug_trapped;
    /* Debug triggers, the guest's and a debugger's (cpu/trigger.h). */
    struct hart_triggers trig;
};

int hart_create(struct hart **out, const struct hart_config *cfg, struct errmsg *e);
void hart_destroy(struct hart *h);

/* Reset state: all registers and CSRs to their reset values, then start at
 * pc in privilege priv with a0 and a1 (hart id and FDT address on a board). */
void hart_reset(struct hart *h, uint64_t pc, enum hart_priv priv, uint64_t a0, uint64_t a1);

enum hart_exit hart_run(struct hart *h, uint64_t budget);

/* Sets (level 1) or clears (level 0) the mip bits in mask (MIP_MEIP,
 * MIP_SEIP, MIP_MTIP, MIP_MSIP, and MIP_SSIP for an SBI IPI, which the
 * guest then clears through sip) from any thread, and wakes the hart if it
 * waits in hart_wait. */
void hart_set_irq(struct hart *h, uint64_t mask, int level);
/* The machine timer compare value; MTIP is pending while time >= it. */
void hart_set_mtimecmp(struct hart *h, uint64_t value);
uint64_t hart_get_mtimecmp(const struct hart *h);
/* The platform time the hart sees. */
uint64_t hart_time(struct hart *h);

/* Blocks the calling (the hart's) thread until an enabled interrupt is
 * pending, a timer the hart enabled is due, hart_kick or hart_request_stop
 * is called, or max_ns passes (0 = no limit). */
void hart_wait(struct hart *h, uint64_t max_ns);
void hart_kick(struct hart *h);
/* Makes hart_run return HART_EXIT_STOP soon (any thread). */
void hart_request_stop(struct hart *h);
/* Whether a stop request is waiting for the hart to honour it: code that
 * waits on the hart's thread for other harts (an SBI remote fence) gives
 * way to it (see HART_ECALL_RETRY). */
int hart_stop_pending(const struct hart *h);

/* Clears every cached translation (remote sfence.vma from the SBI). The
 * caller must run on the hart's thread or have it stopped. */
void hart_flush_tlb(struct hart *h);

/* Remote fences (any thread): asks the hart to drop every cached
 * translation (HART_FLUSH_TLB), all but the global ones (HART_FLUSH_LOCAL:
 * a fence for one ASID), and/or check its decoded instructions
 * against memory as fence.i does (HART_FLUSH_CODE), and returns a ticket;
 * hart_flush_complete(h, ticket) is true once the hart has done so, or
 * while it is outside hart_run (parked by a pause, stopped): it then
 * honours the request before it runs another instruction, so a requester
 * never waits for a hart that is not running. The hart answers between
 * slices, in hart_wait, and in hart_service_flush, which a waiting
 * requester calls for itself (so two harts fencing each other cannot
 * deadlock). */
enum { HART_FLUSH_TLB = 1, HART_FLUSH_CODE = 2, HART_FLUSH_LOCAL = 4 };
uint64_t hart_request_flush(struct hart *h, unsigned kinds);
int hart_flush_complete(struct hart *h, uint64_t ticket);
void hart_service_flush(struct hart *h);

/* Integer register i (1-31) of a hart, for the board's ecall handler. */
uint64_t hart_reg(const struct hart *h, unsigned i);
void hart_set_reg(struct hart *h, unsigned i, uint64_t v);
/* Writes a CSR as M-mode software would (WARL rules apply, privilege
 * checks do not): a board sets up what firmware would before starting
 * S-mode code. Returns -1 for a CSR that does not exist. Hart's thread,
 * or the hart not running. */
int hart_write_csr(struct hart *h, unsigned csr, uint64_t v);

/* Snapshots (hart_snapshot.c), with the hart not running: registers, pc,
 * privilege, counters, mtimecmp and every CSR. The LR reservation is not
 * kept (an SC after restore fails, as it may after any trap). load checks
 * what it reads, applies CSR values through their WARL rules and refuses a
 * state saved for another hart id. */
int hart_save(struct hart *h, struct snap_writer *w);
int hart_load(struct hart *h, struct snap_reader *r, struct errmsg *e);

uint64_t hart_instret(const struct hart *h);
/* Exits to the monitor so far (see struct hart: exits). */
struct hart_exit_counts {
    uint64_t mmio_read, mmio_write, sbi, wfi;
};
void hart_exit_counts(const struct hart *h, struct hart_exit_counts *out);
const char *hart_crash_reason(const struct hart *h);
/* Writes a human-readable report of the hart state (pc, mode, trap CSRs,
 * registers) into buf. */
void hart_dump(const struct hart *h, char *buf, size_t len);

/* Used by the other cpu/ modules. */
void hart_raise(struct hart *h, uint64_t cause, uint64_t tval);
uint64_t hart_pending_irqs(struct hart *h);
/* The store slow path calls this for every store (and AMO/SC) that lands
 * in RAM at physical pa: it drops the decoded code the store overwrites.
 * Returns 1 while the page still holds decoded code, so the caller must
 * not put it in the store TLB. */
int hart_code_store(struct hart *h, uint64_t pa, unsigned size);
/* Drops every decoded block (with the JIT's units, block links and jump
 * caches): the triggers changed what must be looked at on block entry. */
void hart_code_flush(struct hart *h);

/* The seam between the interpreter and the JIT (cpu/jit.c), nothing else
 * calls these. hart_interp_run is the interpreter (hart_run with the
 * interpreter engine): the JIT runs through it what it does not
 * translate, with the interpreter's exact semantics. hart_boundary does
 * what the interpreter does between slices (remote fences, stop requests,
 * the budget, interrupts) and returns -1 to go on, else the exit.
 * hart_take_exception takes the exception a helper raised at h->pc
 * (1: crash detection fired). hart_block_at is the interpreter's cached
 * decoded block for pc under the current translation (NULL after a fetch
 * fault or where the block cannot be cached), kept coherent with guest
 * memory by the code_mask mechanism; the JIT hangs its translation off it
 * (hart_block_unit), so whatever drops the block drops the translation.
 * Blocks of one RAM page are only ever dropped together. */
struct hart_block;
enum hart_exit hart_interp_run(struct hart *h, uint64_t budget);
int hart_boundary(struct hart *h, uint64_t budget_end);
int hart_take_exception(struct hart *h);
struct hart_block *hart_block_at(struct hart *h, uint64_t pc);
const struct hart_op *hart_block_ops(const struct hart_block *b, unsigned *ninsns);
void **hart_block_unit(struct hart_block *b, uint64_t **gen);
/* The physical address of the block's first instruction. */
uint64_t hart_block_pa(const struct hart_block *b);
/* Whether op is a "system" instruction, alone in its block: it may change
 * the translation, the privilege, what is enabled, or decoded code, so
 * what follows it must be found again through the boundary. */
int hart_op_is_system(unsigned op);

#endif
