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
