/* libFuzzer harness for the JIT (cpu/jit*.c): the input is a page of
 * guest code, run by two bare harts, one per engine, in lockstep (the
 * interpreter is the reference), with the same small budgets. After every
 * step the architectural state (tests/cpu/hart_compare.c), hart_run's
 * exit and all of RAM must agree. On a difference the harness prints it
 * (the step's first pc and instruction, the field, both values), runs
 * that step again with smaller budgets to find the fewest instructions
 * after which the engines differ (the JIT runs a unit only when all of
 * it fits the budget, so single steps would leave it all to the
 * interpreter), prints the interpreter's instructions up to there, and
 * aborts. ASan checks the translator, the helpers and the slow paths;
 * generated code is not instrumented, so RAM sits between inaccessible
 * guard regions, where an access the JIT computes wrongly faults.
 * Crash detection is on (hart_config.crash_detect): a trap loop that
 * retires nothing ends the run, which both engines must agree on. The
 * harts are made once and reset for each input (hart_reset makes a hart
 * run as a new one would; a difference is checked again on new harts).
 *
 * Input: a 64-byte header, then the code (up to 4096 bytes; a shorter
 * input leaves the rest of the page to `j` back to its start). Header:
 *   [0]      bits 0-1: privilege (1 S, 2 U, else M); bits 2-3: translation
 *            (0 bare, 1 an Sv39 identity gigapage, 2-3 Sv39 with 4 KiB
 *            pages: the data page's PTE flags are byte 2, and page 7
 *            maps the code page again, read-write; satp is set in M mode
 *            too, for MPRV); bit 4: exceptions delegated to S (medeleg);
 *            bit 5: mstatus.FS off (else Initial); bit 6: SUM; bit 7: MXR
 *   [1]      bits 0-6: the largest budget of one step - 1; bit 7: the
 *            smallest JIT code cache (flushed over and over)
 *   [2]      the data page's PTE flags (4 KiB pages)
 *   [3]      frm (bits 0-2) and fflags (bits 3-7)
 *   [4..11]  seed of the budgets, the other registers and the data page
 *   [12]     mcounteren; [13] scounteren; [14] menvcfg bits 0-7
 *   [15]     bit 0: menvcfg.STCE; bit 1: menvcfg.PBMTE; bits 2-4: R, W, X
 *            of a PMP entry over the data page (used when bit 6 is set;
 *            bit 5 locks it, so it binds M mode too); S and U always have
 *            an allow-all entry after it
 *   [16..63] x10..x15 (8 bytes each, little endian)
 * Guest physical memory, RAM at 0x80000000, 8 pages: 0 the code; 1 `j`
 * back to page 0's start in every word (code that runs off page 0);
 * 2 data; 3 the trap handlers (M at +0, S at +0x800: they skip the
 * trapping instruction, epc += 4, and return); 4-6 page tables; 7 data
 * (or the alias of page 0). Fixed registers: x30 the middle of the data
 * page (every 12-bit offset reaches it), x29 the middle of the code page
 * (stores rewrite code), x28 the middle of page 7; x31 is the handlers'.
 * Other registers come from the seed: small numbers, data addresses,
 * random values. Each input runs at most MAX_INSNS instructions in at
 * most MAX_STEPS steps; time is a counter the steps advance.
 *
 * MINNOW_FUZZ_SEED=FILE writes a seed (M mode, valid instructions of
 * every group: ALU, M, Zba/Zbb/Zbs, loads and stores, branches, jal,
 * jalr, a loop, CSRs, AMOs and LR/SC, F and D, compressed, system, a
 * store into the code) to FILE and exits (see fuzz.sh). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../cpu/hart_compare.h"
#include "../cpu/rv_encode.h"
#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"

#define HDR 64
#define CODE_MAX 4096
#define RAM_BASE UINT64_C(0x80000000)
#define RAM_PAGES 8
#define RAM_SIZE (RAM_PAGES * 4096u)
#define GUARD (1u << 20)
#define PG_CODE 0
#define PG_CODE2 1
#define PG_DATA 2
#define PG_HANDLER 3
#define PG_ROOT 4
#define PG_L1 5
#define PG_L0 6
#define PG_EXTRA 7
#define MAX_INSNS 2000
#define MAX_STEPS 600
#define R_EXTRA 28
#define R_CODE 29
#define R_DATA 30

struct side {
    uint8_t *map;      /* the mapping: guard, RAM, guard */
    uint8_t *ram;
    struct hart *h;
    uint64_t ticks;
    enum hart_exit last;
};

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void put32(uint8_t *ram, uint64_t off, uint32_t v)
{
    memcpy(ram + off, &v, 4);
}

static void put64(uint8_t *ram, uint64_t off, uint64_t v)
{
    memcpy(ram + off, &v, 8);
}

static uint64_t page_pa(unsigned pg) { return RAM_BASE + 4096ull * pg; }
static uint64_t pte(uint64_t pa, uint64_t flags) { return pa >> 12 << 10 | flags; }

/* The guest memory and hart of one side, between guard regions; cache:
 * the JIT's code-cache size (0: the default). Exits on failure. */
static void side_open(struct side *s, enum hart_engine eng, size_t cache)
{
    memset(s, 0, sizeof *s);
    void *m = mmap(NULL, GUARD + RAM_SIZE + GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED || mprotect((uint8_t *)m + GUARD, RAM_SIZE, PROT_READ | PROT_WRITE)) {
        perror("fuzz_jit: mapping guest RAM");
        exit(2);
    }
    s->map = m;
    s->ram = s->map + GUARD;
    struct errmsg e = { "" };
    struct hart_config hc = {
        .engine = eng,
        .mem = { .host = s->ram, .base = RAM_BASE, .size = RAM_SIZE },
        .bus = hart_compare_no_devices,
        .clock = { .read = hart_compare_clock, .opaque = &s->ticks, .freq_hz = 10000000 },
        /* A trap loop that retires nothing (the handlers overwritten, mtvec
         * moved) ends the run, instead of hart_run never returning. */
        .crash_detect = 1,
        .jit_cache_bytes = cache,
    };
    if (hart_create(&s->h, &hc, &e)) {
        fprintf(stderr, "fuzz_jit: %s\n", e.text);
        exit(2);
    }
}

/* Puts the input into the side's RAM and resets its hart to run it (a
 * reset hart runs as a new one would; see hart_reset, jit_reset). */
static void side_load(struct side *s, const uint8_t *data, size_t size)
{
    const uint8_t *hdr = data;
    unsigned mode = hdr[0] & 3, xlat = hdr[0] >> 2 & 3;
    unsigned priv = mode == 1 ? PRIV_S : mode == 2 ? PRIV_U : PRIV_M;
    uint8_t *ram = s->ram;
    memset(ram, 0, RAM_SIZE);
    s->ticks = 0;
    s->last = HART_EXIT_BUDGET;

    /* Code: the input, then `j` back to the start of page 0. */
    size_t n = size - HDR > CODE_MAX ? CODE_MAX : size - HDR;
    memcpy(ram, data + HDR, n);
    for (uint64_t off = (n + 3) & ~(size_t)3; off < 2 * 4096; off += 4)
        put32(ram, off, j_type(-(int32_t)off, 0));
    uint64_t rs = get64(hdr + 4) | 1;
    for (uint64_t off = 0; off < 4096; off += 8) {
        put64(ram, PG_DATA * 4096ull + off, next(&rs));
        put64(ram, PG_EXTRA * 4096ull + off, next(&rs));
    }
    /* The handlers: x31 = epc + 4; epc = x31; return. */
    uint64_t hm = PG_HANDLER * 4096ull, hs = hm + 0x800;
    put32(ram, hm + 0, i_type(CSR_MEPC, 0, 2, 31, 0x73));
    put32(ram, hm + 4, i_type(4, 31, 0, 31, 0x13));
    put32(ram, hm + 8, i_type(CSR_MEPC, 31, 1, 0, 0x73));
    put32(ram, hm + 12, 0x30200073); /* mret */
    put32(ram, hs + 0, i_type(CSR_SEPC, 0, 2, 31, 0x73));
    put32(ram, hs + 4, i_type(4, 31, 0, 31, 0x13));
    put32(ram, hs + 8, i_type(CSR_SEPC, 31, 1, 0, 0x73));
    put32(ram, hs + 12, 0x10200073); /* sret */

    /* Page tables. VA 0x80000000: VPN2 2, VPN1 0, VPN0 the page. */
    uint64_t u = priv == PRIV_U ? PTE_U : 0, ad = PTE_A | PTE_D;
    if (xlat == 1) {
        put64(ram, PG_ROOT * 4096ull + 2 * 8, pte(RAM_BASE, PTE_V | PTE_R | PTE_W | PTE_X | ad | u));
    } else if (xlat >= 2) {
        put64(ram, PG_ROOT * 4096ull + 2 * 8, pte(page_pa(PG_L1), PTE_V));
        put64(ram, PG_L1 * 4096ull, pte(page_pa(PG_L0), PTE_V));
        uint64_t l0 = PG_L0 * 4096ull, rwx = PTE_V | PTE_R | PTE_W | PTE_X | ad;
        put64(ram, l0 + 8 * PG_CODE, pte(page_pa(PG_CODE), rwx | u));
        put64(ram, l0 + 8 * PG_CODE2, pte(page_pa(PG_CODE2), rwx | u));
        put64(ram, l0 + 8 * PG_DATA, pte(page_pa(PG_DATA), hdr[2]));
        put64(ram, l0 + 8 * PG_HANDLER, pte(page_pa(PG_HANDLER), PTE_V | PTE_R | PTE_X | PTE_A));
        for (unsigned pg = PG_ROOT; pg <= PG_L0; pg++)
            put64(ram, l0 + 8 * pg, pte(page_pa(pg), PTE_V | PTE_R | PTE_W | ad));
        put64(ram, l0 + 8 * PG_EXTRA, pte(page_pa(PG_CODE), PTE_V | PTE_R | PTE_W | ad | u));
    }

    struct hart *h = s->h;
    hart_reset(h, RAM_BASE, priv, 0, 0);
    for (unsigned r = 1; r < 28; r++) {
        uint64_t v = next(&rs);
        switch (v % 4) {
        case 0: h->x[r] = (uint64_t)(int64_t)(int)(next(&rs) % 9) - 4; break;
        case 1: h->x[r] = page_pa(PG_DATA) + next(&rs) % 4096; break;
        default: h->x[r] = next(&rs); break;
        }
    }
    for (unsigned r = 10; r <= 15; r++)
        h->x[r] = get64(hdr + 16 + 8 * (r - 10));
    h->x[R_EXTRA] = page_pa(PG_EXTRA) + 0x800;
    h->x[R_CODE] = page_pa(PG_CODE) + 0x800;
    h->x[R_DATA] = page_pa(PG_DATA) + 0x800;
    for (unsigned r = 0; r < 32; r++) {
        uint64_t v = next(&rs);
        h->f[r] = v % 3 ? v : 0xffffffff00000000ull | (uint32_t)next(&rs); /* some NaN-boxed singles */
    }
    uint64_t ms = (hdr[0] & 0x20 ? 0 : 1ull << 13) | (hdr[0] & 0x40 ? MSTATUS_SUM : 0) |
                  (hdr[0] & 0x80 ? MSTATUS_MXR : 0);
    hart_write_csr(h, CSR_MSTATUS, ms);
    hart_write_csr(h, CSR_MTVEC, RAM_BASE + hm);
    hart_write_csr(h, CSR_STVEC, RAM_BASE + hs);
    if (hdr[0] & 0x10)
        hart_write_csr(h, CSR_MEDELEG, ~0ull);
    hart_write_csr(h, CSR_FRM, hdr[3] & 7);
    hart_write_csr(h, CSR_FFLAGS, hdr[3] >> 3);
    hart_write_csr(h, CSR_MCOUNTEREN, hdr[12]);
    hart_write_csr(h, CSR_SCOUNTEREN, hdr[13]);
    hart_write_csr(h, CSR_MENVCFG, hdr[14] | (hdr[15] & 1 ? MENVCFG_STCE : 0) | (hdr[15] & 2 ? MENVCFG_PBMTE : 0));
    /* PMP: maybe an entry over the data page (NAPOT 4 KiB), then all of
     * memory for S and U. */
    uint64_t cfg = 0x18 | 7;
    if (hdr[15] & 0x40) {
        hart_write_csr(h, CSR_PMPADDR0, (page_pa(PG_DATA) | 0x7ff) >> 2);
        hart_write_csr(h, CSR_PMPADDR0 + 1, ~0ull >> 10);
        cfg = (0x18 | (hdr[15] >> 2 & 7) | (hdr[15] & 0x20 ? 0x80 : 0)) | (0x18 | 7) << 8;
    } else {
        hart_write_csr(h, CSR_PMPADDR0, ~0ull >> 10);
    }
    hart_write_csr(h, CSR_PMPCFG0, cfg);
    if (xlat)
        hart_write_csr(h, CSR_SATP, (uint64_t)SATP_MODE_SV39 << 60 | page_pa(PG_ROOT) >> 12);
}

/* One step of budget k; 1 when the hart cannot go on. */
static int step(struct side *s, uint64_t k)
{
    s->ticks += k;
    s->last = hart_run(s->h, k);
    if (s->last == HART_EXIT_WFI)
        s->ticks += 1000;  /* time passes while it waits */
    return s->last != HART_EXIT_BUDGET && s->last != HART_EXIT_WFI;
}

static const char *exit_name(enum hart_exit e)
{
    switch (e) {
    case HART_EXIT_BUDGET: return "budget";
    case HART_EXIT_WFI: return "wfi";
    case HART_EXIT_STOP: return "stop";
    case HART_EXIT_CRASH: return "crash";
    }
    return "?";
}

/* Where and how the engines first differ. */
struct diff {
    long step;
    uint64_t pc, instret, budget;   /* the interpreter's before that step, and its budget */
    unsigned priv;
    char what[256];
};

/* The budgets of the steps, from the input's seed. */
struct budgets {
    uint64_t state;
    unsigned max;
};

static struct budgets budgets_of(const uint8_t *data)
{
    return (struct budgets){ .state = (get64(data + 4) ^ 0x9e3779b97f4a7c15ull) | 1, .max = (data[1] & 0x7fu) + 1 };
}

static uint64_t budget_next(struct budgets *bg)
{
    return 1 + next(&bg->state) % bg->max;
}

/* The first difference between the two sides, into d->what; 0 when none. */
static int compare(const struct side *a, const struct side *b, struct diff *d)
{
    if (hart_compare(a->h, b->h, d->what, sizeof d->what))
        return 1;
    if (a->last != b->last) {
        snprintf(d->what, sizeof d->what, "hart_run's exit: interp %s jit %s", exit_name(a->last),
                 exit_name(b->last));
        return 1;
    }
    if (memcmp(a->ram, b->ram, RAM_SIZE)) {
        unsigned off = 0;
        while (a->ram[off] == b->ram[off])
            off++;
        snprintf(d->what, sizeof d->what, "RAM at %#" PRIx64 ": interp %#04x jit %#04x", RAM_BASE + (uint64_t)off,
                 a->ram[off], b->ram[off]);
        return 1;
    }
    return 0;
}

/* Runs the input on both engines, with the seeded budgets; with
 * last >= 0, step `last` gets budget last_k instead, and is the last.
 * 1 with *d filled when the engines differ after some step, else 0. */
static int run(struct side *a, struct side *b, const uint8_t *data, size_t size, long last, uint64_t last_k,
               struct diff *d)
{
    side_load(a, data, size);
    side_load(b, data, size);
    struct budgets bg = budgets_of(data);
    for (long i = 0; i < MAX_STEPS && a->h->instret < MAX_INSNS; i++) {
        uint64_t k = budget_next(&bg);
        if (i == last)
            k = last_k;
        *d = (struct diff){ .step = i, .pc = a->h->pc, .instret = a->h->instret, .budget = k, .priv = a->h->priv };
        int da = step(a, k), db = step(b, k);
        if (compare(a, b, d))
            return 1;
        if ((da && db) || i == last)
            break;
    }
    return 0;
}

/* Prints the last (at most 16) of the first n instructions the
 * interpreter runs in step `at` (one at a time: only the reference
 * engine, whose results do not depend on budgets). */
static void trace(struct side *a, const uint8_t *data, size_t size, long at, uint64_t n)
{
    side_load(a, data, size);
    struct budgets bg = budgets_of(data);
    for (long i = 0; i < at; i++)
        step(a, budget_next(&bg));
    for (uint64_t k = 0; k < n; k++) {
        char ib[64];
        /* pc is virtual; code is identity-mapped. */
        if (k + 16 >= n)
            fprintf(stderr, "fuzz_jit:   pc %#" PRIx64 " %s\n", a->h->pc,
                    hart_compare_insn(a->ram, RAM_BASE, RAM_SIZE, a->h->pc, ib, sizeof ib));
        if (step(a, 1))
            break;
    }
}

/* The interpreter's side and the JIT's, with the default code cache and
 * with the smallest, made once: a side costs more to make than most
 * inputs take to run. */
static struct side interp, jit_big, jit_small;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HDR)
        return 0;
    struct side *j = data[1] & 0x80 ? &jit_small : &jit_big;
    struct diff d;
    if (!run(&interp, j, data, size, -1, 0, &d))
        return 0;
    char ib[64];
    fprintf(stderr, "fuzz_jit: the engines differ after step %ld (from pc %#" PRIx64 ", %s, privilege %u, "
            "instret %" PRIu64 ", budget %" PRIu64 "): %s\n", d.step, d.pc,
            hart_compare_insn(interp.ram, RAM_BASE, RAM_SIZE, d.pc, ib, sizeof ib), d.priv, d.instret, d.budget,
            d.what);
    /* The JIT runs a unit only when the budget takes all of it, so a
     * smaller budget for that step, not single steps, shows the first
     * instructions after which they differ. */
    uint64_t n = d.budget;
    for (uint64_t k = 1; k < d.budget; k++) {
        struct diff dk;
        if (run(&interp, j, data, size, d.step, k, &dk)) {
            fprintf(stderr, "fuzz_jit: with budget %" PRIu64 " for that step they differ already: %s\n", k, dk.what);
            n = k;
            break;
        }
    }
    fprintf(stderr, "fuzz_jit: the interpreter's instructions up to there:\n");
    trace(&interp, data, size, d.step, n);
    /* The harts are reused: check that a new pair differs too (else
     * hart_reset leaves state behind, a bug of its own). */
    struct side a, b;
    side_open(&a, HART_ENGINE_INTERP, 0);
    side_open(&b, HART_ENGINE_JIT, data[1] & 0x80 ? 1 : 0);
    if (run(&a, &b, data, size, -1, 0, &d))
        fprintf(stderr, "fuzz_jit: new harts differ too\n");
    else
        fprintf(stderr, "fuzz_jit: new harts agree: the harts reused from earlier inputs were not reset fully\n");
    abort();
}

/* ---- the seed ---- */

struct seed {
    uint8_t buf[HDR + CODE_MAX];
    size_t len;
};

static void e32(struct seed *s, uint32_t v)
{
    memcpy(s->buf + s->len, &v, 4);
    s->len += 4;
}

static void e16(struct seed *s, uint16_t v)
{
    memcpy(s->buf + s->len, &v, 2);
    s->len += 2;
}

/* The code offset of the next instruction. */
static int32_t here(const struct seed *s) { return (int32_t)(s->len - HDR); }

static void write_seed(const char *path)
{
    static struct seed sd;
    struct seed *s = &sd;
    uint8_t *hdr = s->buf;
    hdr[1] = 31;                      /* budgets 1..32 */
    hdr[2] = PTE_V | PTE_R | PTE_W | PTE_A | PTE_D;
    put64(hdr, 4, 0x243f6a8885a308d3ull);
    put64(hdr, 16, page_pa(PG_DATA) + 0x100);          /* x10: compressed loads and stores */
    put64(hdr, 24, 0xffffffff80000000ull);
    put64(hdr, 32, 7);
    put64(hdr, 40, (uint64_t)INT64_MIN);
    put64(hdr, 48, ~0ull);
    put64(hdr, 56, 0x0123456789abcdefull);
    s->len = HDR;
    e32(s, i_type(0, 0, 0, 26, 0x13));            /* li x26, 0 (once) */
    /* ALU, register and immediate forms, 64 and 32 bits. */
    static const uint8_t rop[][2] = { {0, 0}, {0x20, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0x20, 5},
                                      {0, 6}, {0, 7} };
    for (unsigned k = 0; k < sizeof rop / sizeof rop[0]; k++)
        e32(s, r_type(rop[k][0], 10 + k % 6, 11 + k % 5, rop[k][1], 5 + k % 3, 0x33));
    static const uint8_t iop[] = { 0, 2, 3, 4, 6, 7 };
    for (unsigned k = 0; k < sizeof iop; k++)
        e32(s, i_type((int32_t)(k * 700) - 2048, 12 + k % 4, iop[k], 6, 0x13));
    e32(s, i_type(13, 11, 1, 7, 0x13));           /* slli */
    e32(s, i_type(63, 13, 5, 8, 0x13));           /* srli */
    e32(s, i_type(0x400 | 5, 13, 5, 9, 0x13));    /* srai */
    e32(s, 0xabcde000u | 5u << 7 | 0x37);         /* lui */
    e32(s, 0x00001000u | 6u << 7 | 0x17);         /* auipc */
    static const uint8_t wop[][2] = { {0, 0}, {0x20, 0}, {0, 1}, {0, 5}, {0x20, 5} };
    for (unsigned k = 0; k < 5; k++)
        e32(s, r_type(wop[k][0], 12, 13 - k % 2, wop[k][1], 7, 0x3b));
    e32(s, i_type(-5, 13, 0, 8, 0x1b));           /* addiw */
    e32(s, i_type(31, 14, 1, 8, 0x1b));           /* slliw */
    e32(s, i_type(0x400 | 3, 13, 5, 8, 0x1b));    /* sraiw */
    /* M. */
    for (unsigned f3 = 0; f3 < 8; f3++) {
        e32(s, r_type(1, 11 + f3 % 5, 12 + f3 % 4, f3, 5 + f3 % 4, 0x33));
        if (f3 == 0 || f3 >= 4)
            e32(s, r_type(1, 14 - f3 % 3, 13, f3, 9, 0x3b));
    }
    /* Zba, Zbb, Zbs. */
    static const uint8_t bop[][2] = { {0x10, 2}, {0x10, 4}, {0x10, 6}, {0x20, 7}, {0x20, 6}, {0x20, 4},
                                      {5, 4}, {5, 5}, {5, 6}, {5, 7}, {0x30, 1}, {0x30, 5}, {0x24, 1},
                                      {0x14, 1}, {0x34, 1}, {0x24, 5} };
    for (unsigned k = 0; k < sizeof bop / sizeof bop[0]; k++)
        e32(s, r_type(bop[k][0], 12 + k % 3, 15 - k % 4, bop[k][1], 5 + k % 4, 0x33));
    e32(s, r_type(4, 12, 13, 0, 6, 0x3b));         /* add.uw */
    static const int32_t unary[] = { 0x600, 0x601, 0x602, 0x604, 0x605 };
    for (unsigned k = 0; k < 5; k++)
        e32(s, i_type(unary[k], 11 + k, 1, 7, 0x13)); /* clz ctz cpop sext.b sext.h */
    e32(s, i_type(0x6b8, 15, 5, 8, 0x13));        /* rev8 */
    e32(s, i_type(0x287, 15, 5, 8, 0x13));        /* orc.b */
    e32(s, i_type(0x600 | 17, 15, 5, 8, 0x13));   /* rori */
    e32(s, i_type(0x280 | 40, 15, 1, 8, 0x13));   /* bseti */
    e32(s, i_type(0x480 | 3, 15, 5, 8, 0x13));    /* bexti */
    e32(s, i_type(0x080 | 4, 12, 1, 8, 0x1b));    /* slli.uw */
    e32(s, r_type(4, 0, 15, 4, 9, 0x3b));         /* zext.h */
    /* Loads and stores through x30 (some misaligned), x28 and an
     * unmapped address (x12 = 7). */
    for (unsigned f3 = 0; f3 < 7; f3++)
        e32(s, i_type((int32_t)(f3 * 600) - 2048 + (f3 == 3 ? 3 : 0), R_DATA, f3, 5 + f3 % 4, 0x03));
    for (unsigned f3 = 0; f3 < 4; f3++)
        e32(s, s_type((int32_t)(f3 * 900) - 2000 + (f3 == 2 ? 2 : 0), 13 + f3 % 3, R_DATA, f3, 0x23));
    e32(s, i_type(16, R_EXTRA, 3, 6, 0x03));      /* ld x6, 16(x28) */
    e32(s, i_type(0, 12, 3, 6, 0x03));            /* ld x6, 0(x12): a fault, skipped */
    e32(s, s_type(8, 15, 12, 3, 0x23));           /* sd x15, 8(x12): a fault */
    /* Branches (taken or not, each over one instruction), jal, jalr. */
    static const uint8_t bf3[] = { 0, 1, 4, 5, 6, 7 };
    for (unsigned k = 0; k < 6; k++) {
        e32(s, b_type(8, 11 + k % 5, 12 + k % 3, bf3[k]));
        e32(s, i_type(1, 5, 0, 5, 0x13));
    }
    e32(s, j_type(8, 1));                         /* jal x1, +8 */
    e32(s, i_type(1, 6, 0, 6, 0x13));
    e32(s, i_type(here(s) + 8 - 0x800, R_CODE, 0, 1, 0x67)); /* jalr x1, to +8 */
    e32(s, i_type(1, 6, 0, 6, 0x13));
    /* A counted loop. */
    e32(s, i_type(5, 0, 0, 27, 0x13));            /* li x27, 5 */
    e32(s, r_type(0, 27, 7, 0, 7, 0x33));         /* add x7, x7, x27 */
    e32(s, i_type(-1, 27, 0, 27, 0x13));          /* addi x27, x27, -1 */
    e32(s, b_type(-8, 0, 27, 1));                 /* bne x27, x0, -8 */
    /* CSRs: scratch, counters, FP, mstatus, one that does not exist. */
    e32(s, i_type(CSR_MSCRATCH, 13, 1, 5, 0x73)); /* csrrw */
    e32(s, i_type(CSR_MSCRATCH, 14, 2, 6, 0x73)); /* csrrs */
    e32(s, i_type(CSR_MSCRATCH, 3, 7, 6, 0x73));  /* csrrci */
    e32(s, i_type(CSR_CYCLE, 0, 2, 7, 0x73));
    e32(s, i_type(CSR_INSTRET, 0, 2, 7, 0x73));
    e32(s, i_type(CSR_TIME, 0, 2, 7, 0x73));
    e32(s, i_type(CSR_MINSTRET, 13, 1, 0, 0x73));
    e32(s, i_type(CSR_FRM, 2, 5, 8, 0x73));       /* csrrwi frm, 2 */
    e32(s, i_type(CSR_FFLAGS, 0, 2, 8, 0x73));
    e32(s, i_type(CSR_MSTATUS, 0, 2, 9, 0x73));
    e32(s, i_type(0x7c0, 0, 2, 9, 0x73));         /* illegal */
    /* AMOs and LR/SC (x10 is a data address). */
    static const uint8_t amo[] = { 0x01, 0x00, 0x04, 0x0c, 0x08, 0x10, 0x14, 0x18, 0x1c };
    for (unsigned k = 0; k < sizeof amo; k++)
        e32(s, r_type(amo[k] << 2, 13 + k % 3, R_DATA, 2 + k % 2, 5 + k % 4, 0x2f));
    e32(s, r_type(0x02 << 2, 0, R_DATA, 3, 6, 0x2f));     /* lr.d */
    e32(s, r_type(0x03 << 2, 15, R_DATA, 3, 7, 0x2f));    /* sc.d */
    e32(s, r_type(0x03 << 2, 15, R_DATA, 2, 7, 0x2f));    /* sc.w, no reservation */
    /* F and D. */
    e32(s, i_type(0, R_DATA, 3, 1, 0x07));        /* fld f1 */
    e32(s, i_type(8, R_DATA, 2, 2, 0x07));        /* flw f2 */
    e32(s, s_type(16, 1, R_DATA, 3, 0x27));       /* fsd f1 */
    e32(s, s_type(24, 2, R_DATA, 2, 0x27));       /* fsw f2 */
    static const uint8_t fop[] = { 0x00, 0x04, 0x08, 0x0c, 0x01, 0x05, 0x09, 0x0d };
    for (unsigned k = 0; k < sizeof fop; k++)
        e32(s, r_type(fop[k], 3 + k % 4, 1 + k % 3, 7, 4 + k % 5, 0x53));
    e32(s, r_type(0x2d, 0, 3, 0, 6, 0x53));       /* fsqrt.d, rm rne */
    e32(s, r_type(0x11, 2, 3, 1, 7, 0x53));       /* fsgnjn.d */
    e32(s, r_type(0x15, 2, 3, 1, 7, 0x53));       /* fmax.d */
    e32(s, 1u << 27 | 1u << 25 | 2u << 20 | 3u << 15 | 7u << 12 | 8u << 7 | 0x43); /* fmadd.d */
    e32(s, r_type(0x61, 0, 3, 1, 5, 0x53));       /* fcvt.w.d, rtz */
    e32(s, r_type(0x60, 2, 2, 7, 6, 0x53));       /* fcvt.l.s */
    e32(s, r_type(0x69, 2, 13, 7, 9, 0x53));      /* fcvt.d.l */
    e32(s, r_type(0x71, 0, 4, 0, 7, 0x53));       /* fmv.x.d */
    e32(s, r_type(0x71, 0, 4, 1, 7, 0x53));       /* fclass.d */
    e32(s, r_type(0x51, 5, 4, 2, 8, 0x53));       /* feq.d */
    e32(s, r_type(0x79, 0, 15, 0, 10, 0x53));     /* fmv.d.x */
    e32(s, r_type(0x20, 1, 4, 7, 11, 0x53));      /* fcvt.s.d */
    e32(s, r_type(0x05, 0, 0, 5, 12, 0x53));      /* bad rounding mode: illegal */
    /* Compressed: c.addi x5, 3; c.li x6, -1; c.mv x7, x5; c.add x7, x6;
     * c.lw x9, 4(x10); c.sw x9, 8(x10); c.ld x9, 16(x10); c.beqz x9, +4;
     * c.nop; c.j +4; c.nop; c.slli x5, 3. */
    static const uint16_t rvc[] = { 0x028d, 0x537d, 0x8396, 0x939a, 0x4144, 0xc504, 0x6904, 0xc091, 0x0001,
                                    0xa011, 0x0001, 0x028e };
    for (unsigned k = 0; k < sizeof rvc / sizeof rvc[0]; k++)
        e16(s, rvc[k]);
    e32(s, i_type(0, 0, 0, 0, 0x13));             /* realign: nop */
    /* Self-modifying code, the first time round: a store turns a nop
     * into li x26, 1 (x26 = 0 at the start), which skips the store from
     * then on (each store into decoded code drops the page's blocks, and
     * translating them again would cost more than the rest). */
    {
        uint32_t target = i_type(1, 0, 0, 26, 0x13);
        int32_t hi = (int32_t)((target + 0x800) >> 12), lo = (int32_t)(target - ((uint32_t)hi << 12));
        e32(s, b_type(20, 0, 26, 1));                            /* bne x26, x0, to the nop */
        e32(s, (uint32_t)hi << 12 | 5u << 7 | 0x37);             /* lui x5, hi */
        e32(s, i_type(lo, 5, 0, 5, 0x1b));                       /* addiw x5, x5, lo */
        e32(s, s_type(here(s) + 8 - 0x800, 5, R_CODE, 2, 0x23)); /* sw x5, to +8 */
        e32(s, 0x0000000f);                                      /* fence */
        e32(s, i_type(0, 0, 0, 0, 0x13));                        /* nop */
    }
    /* System: ecall, ebreak (both trap and are skipped), fence.i, wfi, cbo.zero. */
    e32(s, 0x00000073);
    e32(s, 0x00100073);
    e32(s, 0x0000100f);
    e32(s, 0x10500073);
    e32(s, i_type(4, R_DATA, 2, 0, 0x0f));        /* cbo.zero (x30) */
    e32(s, j_type(4 - here(s), 0));               /* again, after the first instruction */
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
        perror(path);
        exit(2);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *seed = getenv("MINNOW_FUZZ_SEED");
    if (seed) {
        write_seed(seed);
        exit(0);
    }
    side_open(&interp, HART_ENGINE_INTERP, 0);
    side_open(&jit_big, HART_ENGINE_JIT, 0);
    side_open(&jit_small, HART_ENGINE_JIT, 1);  /* rounded up to the least the JIT takes */
    return 0;
}
