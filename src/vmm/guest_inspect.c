/* Text reports on a held hart (see guest_inspect.h). */
#include "vmm/guest_inspect.h"

#include <inttypes.h>

#include "cpu/csr.h"
#include "cpu/mmu.h"
#include "cpu/hart_debug.h"
#include "vmm/gdb_csr.h"

static const char *const abi[32] = {
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
    "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
};

static const char *priv_name(unsigned p)
{
    return p == PRIV_M ? "M" : p == PRIV_S ? "S" : p == PRIV_U ? "U" : "?";
}

const char *guest_inspect_satp_mode(unsigned mode)
{
    switch (mode) {
    case SATP_MODE_BARE: return "bare";
    case SATP_MODE_SV39: return "sv39";
    case SATP_MODE_SV48: return "sv48";
    case SATP_MODE_SV57: return "sv57";
    }
    return "reserved";
}

void guest_inspect_regs(FILE *f, struct hart *h)
{
    fprintf(f, "pc   %016" PRIx64 "   priv %s (%u)\n", hart_debug_pc(h), priv_name(hart_debug_priv(h)),
            hart_debug_priv(h));
    for (unsigned i = 1; i < 32; i++)
        fprintf(f, "%s%-4s %016" PRIx64 "%s", i % 4 == 1 ? "" : "   ", abi[i], hart_reg(h, i),
                i % 4 == 0 || i == 31 ? "\n" : "");
    static const unsigned csrs[] = { CSR_SSTATUS, CSR_STVEC, CSR_SEPC, CSR_SCAUSE, CSR_STVAL, CSR_SSCRATCH,
                                     CSR_SATP, CSR_SIE, CSR_SIP, CSR_MSTATUS, CSR_MTVEC, CSR_MEPC,
                                     CSR_MCAUSE, CSR_MTVAL, CSR_MSCRATCH, CSR_MIE, CSR_MIP, CSR_MHARTID,
                                     CSR_MINSTRET, CSR_TIME };
    unsigned col = 0;
    for (size_t k = 0; k < sizeof csrs / sizeof csrs[0]; k++) {
        uint64_t v;
        char nb[24];
        if (hart_debug_csr_read(h, csrs[k], &v))
            continue;
        fprintf(f, "%s%-8s %016" PRIx64, col % 3 ? "   " : "", gdb_csr_name(csrs[k], nb, sizeof nb), v);
        if (++col % 3 == 0)
            fputc('\n', f);
    }
    if (col % 3)
        fputc('\n', f);
}

static void pte_flags(char *o, uint64_t pte)
{
    static const char fl[] = "VRWXUGAD";
    for (int b = 7; b >= 0; b--)
        *o++ = (pte >> b) & 1 ? fl[b] : '-';
    *o = 0;
}

int guest_inspect_translate(FILE *f, const struct hart *h, uint64_t va)
{
    struct hart_debug_walk w;
    int r = hart_debug_walk(h, va, &w);
    fprintf(f, "satp %016" PRIx64 ": mode %s, root table %#" PRIx64 ", hart in %s-mode%s\n", h->satp,
            guest_inspect_satp_mode(w.mode), w.root, priv_name(h->priv),
            h->priv_ls != h->priv ? " (loads and stores as MPP: MPRV)" : "");
    if (w.untranslated) {
        fprintf(f, "no translation (%s): %#" PRIx64 " is physical %#" PRIx64 "\n",
                w.mode == SATP_MODE_BARE ? "satp is bare" : "M-mode", va, w.pa);
        return 0;
    }
    for (unsigned k = 0; k < w.nlevels; k++) {
        char fl[9];
        pte_flags(fl, w.level[k].pte);
        fprintf(f, "  level %u: pte at %#" PRIx64 " = %016" PRIx64 " [%s] ppn %#" PRIx64 "\n", w.level[k].level,
                w.level[k].pte_pa, w.level[k].pte, fl, (uint64_t)((w.level[k].pte >> 10) & ((1ull << 44) - 1)));
    }
    if (r) {
        fprintf(f, "%#" PRIx64 " is not mapped: %s\n", va, w.why);
        return -1;
    }
    fprintf(f, "%#" PRIx64 " -> physical %#" PRIx64 " (%" PRIu64 " KiB page)\n", va, w.pa, w.page_size >> 10);
    return 0;
}

struct mappings {
    FILE *f;
    const struct hart *h;
    unsigned top, vabits, lines, max;
    int have;                 /* a range is open */
    uint64_t va0, va1, pa0;
    unsigned flags;           /* R W X U G */
};

static void range_end(struct mappings *m)
{
    if (!m->have)
        return;
    m->have = 0;
    if (m->lines++ >= m->max)
        return;
    unsigned fl = m->flags;
    uint64_t size = m->va1 - m->va0;
    fprintf(m->f, "%016" PRIx64 "-%016" PRIx64 " -> %016" PRIx64 " %8" PRIu64 " KiB %c%c%c%c%c\n", m->va0, m->va1,
            m->pa0, size >> 10, fl & PTE_R ? 'r' : '-', fl & PTE_W ? 'w' : '-', fl & PTE_X ? 'x' : '-',
            fl & PTE_U ? 'u' : '-', fl & PTE_G ? 'g' : '-');
}

static void range_add(struct mappings *m, uint64_t va, uint64_t pa, uint64_t size, unsigned flags)
{
    if (m->have && va == m->va1 && pa == m->pa0 + (m->va1 - m->va0) && flags == m->flags) {
        m->va1 += size;
        return;
    }
    range_end(m);
    *m = (struct mappings){ m->f, m->h, m->top, m->vabits, m->lines, m->max, 1, va, va + size, pa, flags };
}

/* The table at pa, of level `level` (top: the root), mapping from va. */
static void map_table(struct mappings *m, uint64_t pa, unsigned level, uint64_t va)
{
    for (unsigned i = 0; i < 512 && m->lines < m->max; i++) {
        uint64_t pte;
        if (hart_debug_read_phys(m->h, pa + 8 * i, &pte, sizeof pte) != sizeof pte)
            return; /* a table outside RAM maps nothing */
        uint64_t v = va | (uint64_t)i << (12 + 9 * level);
        if (level == m->top && (v >> (m->vabits - 1)))
            v |= ~0ull << m->vabits; /* the upper half: sign-extended */
        if (!(pte & PTE_V) || (pte & (PTE_R | PTE_W)) == PTE_W)
            continue;
        uint64_t ppn = (pte >> 10) & ((1ull << 44) - 1);
        if (!(pte & (PTE_R | PTE_X))) {
            if (level)
                map_table(m, ppn << 12, level - 1, v);
            continue;
        }
        if (ppn & ((1ull << (9 * level)) - 1))
            continue; /* a misaligned superpage maps nothing */
        range_add(m, v, ppn << 12, 4096ull << (9 * level), (unsigned)pte & (PTE_R | PTE_W | PTE_X | PTE_U | PTE_G));
    }
}

void guest_inspect_mappings(FILE *f, const struct hart *h, unsigned max_lines)
{
    unsigned mode = (unsigned)(h->satp >> 60);
    uint64_t root = (h->satp & ((1ull << 44) - 1)) << 12;
    fprintf(f, "satp %016" PRIx64 ": mode %s, root table %#" PRIx64 "\n", h->satp, guest_inspect_satp_mode(mode),
            root);
    if (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57) {
        fprintf(f, "no page tables: addresses are physical%s\n", mode ? " (the mode is reserved)" : "");
        return;
    }
    unsigned levels = mode - SATP_MODE_SV39 + 3;
    struct mappings m = { .f = f, .h = h, .top = levels - 1, .vabits = 12 + 9 * levels, .max = max_lines };
    map_table(&m, root, levels - 1, 0);
    range_end(&m);
    if (m.lines > max_lines)
        fprintf(f, "(more ranges not shown: the first %u are)\n", max_lines);
    else if (!m.lines)
        fprintf(f, "nothing is mapped\n");
}

int guest_inspect_mem(FILE *f, const struct hart *h, uint64_t addr, size_t len, int phys)
{
    size_t done = 0;
    while (done < len) {
        uint8_t b[16];
        size_t want = len - done < 16 ? len - done : 16;
        size_t n = phys ? hart_debug_read_phys(h, addr + done, b, want) : hart_debug_read(h, addr + done, b, want);
        if (n) {
            fprintf(f, "%016" PRIx64 ": ", addr + done);
            for (size_t i = 0; i < 16; i++) {
                if (i < n)
                    fprintf(f, "%02x ", b[i]);
                else
                    fputs("   ", f);
                if (i == 7)
                    fputc(' ', f);
            }
            fputs(" |", f);
            for (size_t i = 0; i < n; i++)
                fputc(b[i] >= 0x20 && b[i] < 0x7f ? b[i] : '.', f);
            fputs("|\n", f);
            done += n;
        }
        if (n < want) {
            if (!done)
                return -1;
            fprintf(f, "(stops at %#" PRIx64 ": %s)\n", addr + done,
                    phys ? "not RAM" : "not mapped, or not RAM");
            break;
        }
    }
    return 0;
}

#define STACK_WORDS 32
#define FRAMES_MAX 64
/* How far above sp a frame pointer may point and still be this stack's. */
#define STACK_SPAN (64u << 10)

void guest_inspect_stack(FILE *f, const struct hart *h)
{
    uint64_t pc = hart_debug_pc(h), ra = hart_reg(h, 1), sp = hart_reg(h, 2), fp = hart_reg(h, 8);
    fprintf(f, "pc %016" PRIx64 "  ra %016" PRIx64 "  sp %016" PRIx64 "  s0/fp %016" PRIx64 "\n", pc, ra, sp,
            fp);
    /* RISC-V frames with frame pointers: the caller's fp at fp-16 and the
     * return address at fp-8; the chain grows towards the stack's top. */
    fprintf(f, "frame-pointer chain (meaningful for code built with frame pointers):\n");
    fprintf(f, "  #0  %016" PRIx64 "\n", pc);
    uint64_t prev = sp;
    for (unsigned k = 1; k < FRAMES_MAX; k++) {
        uint64_t pair[2];
        if ((fp & 7) || fp < prev || fp - sp > STACK_SPAN || fp < 16 ||
            hart_debug_read(h, fp - 16, pair, sizeof pair) != sizeof pair)
            break;
        if (!pair[1])
            break;
        fprintf(f, "  #%-2u %016" PRIx64 "  (frame at %016" PRIx64 ")\n", k, pair[1], fp);
        prev = fp;
        fp = pair[0];
    }
    fprintf(f, "stack words at sp:\n");
    for (unsigned k = 0; k < STACK_WORDS; k++) {
        uint64_t v;
        if (hart_debug_read(h, sp + 8 * k, &v, sizeof v) != sizeof v) {
            fprintf(f, "  %016" PRIx64 ": (not mapped)\n", sp + 8 * k);
            break;
        }
        fprintf(f, "  %016" PRIx64 ": %016" PRIx64 "\n", sp + 8 * k, v);
    }
}
