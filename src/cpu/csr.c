/* CSR access rules and WARL behaviour (see csr.h). The values chosen where
 * the privileged spec leaves a choice: a write of a reserved mtvec/stvec
 * mode or an unsupported satp mode is ignored as a whole; MPP keeps its old
 * value when written with the reserved value 2; ASIDLEN is 16; hpm
 * counters and events read zero and ignore writes; mcycle counts retired
 * instructions. There are 16 PMP entries: pmpcfg0, pmpcfg2 and
 * pmpaddr0-15 exist, and the CSRs of entries 16-63 raise illegal
 * instruction as in QEMU 7.2. There is no H extension, so mtinst and
 * mtval2 do not exist either. The debug trigger CSRs (0x7a0-0x7a5) are
 * cpu/trigger.c's. */
#include "cpu/csr.h"

#include "cpu/mmu.h"
#include "cpu/trigger.h"

#define MSTATUS_UXL_SXL_VALUE ((2ull << 32) | (2ull << 34)) /* XLEN 64 in S and U */
#define MSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP | \
                          MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | \
                          MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR)
#define SSTATUS_VISIBLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | \
                         MSTATUS_MXR | MSTATUS_UXL | MSTATUS_SD)
#define SSTATUS_WRITABLE (MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR)
/* Exceptions that can be delegated: all but ecall from M (11) and the
 * reserved/hypervisor causes. */
#define MEDELEG_WRITABLE 0xb3ffull
#define MIDELEG_WRITABLE (MIP_SSIP | MIP_STIP | MIP_SEIP)
#define MIE_WRITABLE (MIP_SSIP | MIP_MSIP | MIP_STIP | MIP_MTIP | MIP_SEIP | MIP_MEIP)
#define MENVCFG_WRITABLE (MENVCFG_FIOM | MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE | MENVCFG_PBMTE | \
                          MENVCFG_STCE)
#define SENVCFG_WRITABLE (MENVCFG_FIOM | MENVCFG_CBIE | MENVCFG_CBCFE | MENVCFG_CBZE)
#define MCOUNTINHIBIT_CY 1u
#define MCOUNTINHIBIT_IR 4u

/* pmpcfg0 and pmpcfg2 hold the configuration of entries 0-15 (RV64 has no
 * odd pmpcfg registers). Returns the first entry of csr, or -1. */
static int pmpcfg_first_entry(unsigned csr)
{
    unsigned n = csr - CSR_PMPCFG0;
    return n == 0 || n == 2 ? (int)(n * 4) : -1;
}

/* mcycle and minstret both count retired instructions: h->instret (the
 * run loop's own count, never written by the guest) plus a per-counter
 * delta. While the counter's mcountinhibit bit is set, the delta holds the
 * frozen value itself. */
static uint64_t *counter_delta(struct hart *h, uint32_t bit)
{
    return bit == MCOUNTINHIBIT_CY ? &h->cycle_delta : &h->instret_delta;
}

static uint64_t counter_read(struct hart *h, uint32_t bit)
{
    uint64_t d = *counter_delta(h, bit);
    return (h->mcountinhibit & bit) ? d : h->instret + d;
}

/* The value written is what the next instruction reads: the writing
 * instruction's own retirement is not counted on top of it. */
static void counter_write(struct hart *h, uint32_t bit, uint64_t v)
{
    *counter_delta(h, bit) = (h->mcountinhibit & bit) ? v : v - h->instret - 1;
}

static void mcountinhibit_write(struct hart *h, uint32_t v)
{
    v &= MCOUNTINHIBIT_WRITABLE;
    uint32_t old = h->mcountinhibit;
    uint64_t cy = counter_read(h, MCOUNTINHIBIT_CY), ir = counter_read(h, MCOUNTINHIBIT_IR);
    h->mcountinhibit = v;
    /* The writing instruction counts if counting was on while it ran. */
    if ((old ^ v) & MCOUNTINHIBIT_CY)
        counter_write(h, MCOUNTINHIBIT_CY, cy + !(old & MCOUNTINHIBIT_CY));
    if ((old ^ v) & MCOUNTINHIBIT_IR)
        counter_write(h, MCOUNTINHIBIT_IR, ir + !(old & MCOUNTINHIBIT_IR));
}

void csr_update_priv_ls(struct hart *h)
{
    if (h->priv == PRIV_M && (h->mstatus & MSTATUS_MPRV))
        h->priv_ls = (unsigned)((h->mstatus & MSTATUS_MPP) >> 11);
    else
        h->priv_ls = h->priv;
    mmu_select_context(h);
}

static uint64_t mstatus_read(const struct hart *h)
{
    uint64_t v = h->mstatus | MSTATUS_UXL_SXL_VALUE;
    if ((v & MSTATUS_FS) == MSTATUS_FS)
        v |= MSTATUS_SD;
    return v;
}

static void mstatus_write(struct hart *h, uint64_t v, uint64_t writable)
{
    uint64_t old = h->mstatus;
    uint64_t n = (old & ~writable) | (v & writable);
    if (((n & MSTATUS_MPP) >> 11) == 2)
        n = (n & ~MSTATUS_MPP) | (old & MSTATUS_MPP);
    h->mstatus = n;
    /* Translations are cached per context (see mmu.h): a change of what
     * loads and stores may access only picks other TLB sets. */
    if ((old ^ n) & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR))
        csr_update_priv_ls(h);
}

/* Counter CSRs (cycle, time, instret, hpmcounterN) in S and U mode depend
 * on mcounteren and scounteren. */
static int counter_allowed(const struct hart *h, unsigned priv, unsigned bit)
{
    if (priv < PRIV_M && !(h->mcounteren & (1u << bit)))
        return 0;
    if (priv == PRIV_U && !(h->scounteren & (1u << bit)))
        return 0;
    return 1;
}

static uint64_t mip_read(struct hart *h)
{
    return hart_pending_irqs(h);
}

static void pmp_recompute(struct hart *h)
{
    int active = 0;
    for (int i = 0; i < PMP_ENTRIES; i++)
        if (h->pmpcfg[i] & 0x18)
            active = 1;
    h->pmp_active = active;
    uint64_t base = h->mem.base, size = h->mem.size;
    h->pmp_ram_rw = size && mmu_pmp_allows(h, base, size, MMU_LOAD, PRIV_S) &&
                    mmu_pmp_allows(h, base, size, MMU_STORE, PRIV_S);
    mmu_flush(h);
}

static int fs_off(const struct hart *h)
{
    return (h->mstatus & MSTATUS_FS) == 0;
}

static void fs_dirty(struct hart *h)
{
    h->mstatus |= MSTATUS_FS;
}

int csr_read(struct hart *h, unsigned csr, uint64_t *val)
{
    return csr_read_as(h, h->priv, csr, val);
}

int csr_read_as(struct hart *h, unsigned priv, unsigned csr, uint64_t *val)
{
    if (priv < ((csr >> 8) & 3))
        return -1;
    switch (csr) {
    case CSR_FFLAGS:
        if (fs_off(h)) return -1;
        *val = h->fflags;
        return 0;
    case CSR_FRM:
        if (fs_off(h)) return -1;
        *val = h->frm;
        return 0;
    case CSR_FCSR:
        if (fs_off(h)) return -1;
        *val = (h->frm << 5) | h->fflags;
        return 0;
    case CSR_SSTATUS: *val = mstatus_read(h) & SSTATUS_VISIBLE; return 0;
    case CSR_SIE: *val = h->mie & h->mideleg; return 0;
    case CSR_STVEC: *val = h->stvec; return 0;
    case CSR_SCOUNTEREN: *val = h->scounteren; return 0;
    case CSR_SENVCFG: *val = h->senvcfg; return 0;
    case CSR_SSCRATCH: *val = h->sscratch; return 0;
    case CSR_SEPC: *val = h->sepc; return 0;
    case CSR_SCAUSE: *val = h->scause; return 0;
    case CSR_STVAL: *val = h->stval; return 0;
    case CSR_SIP: *val = mip_read(h) & h->mideleg; return 0;
    case CSR_STIMECMP:
        if (priv == PRIV_S && (!(h->mcounteren & 2) || !(h->menvcfg & MENVCFG_STCE)))
            return -1;
        *val = h->stimecmp;
        return 0;
    case CSR_SATP:
        if (priv == PRIV_S && (h->mstatus & MSTATUS_TVM))
            return -1;
        *val = h->satp;
        return 0;
    case CSR_MVENDORID: case CSR_MARCHID: case CSR_MIMPID: case CSR_MCONFIGPTR:
        *val = 0;
        return 0;
    case CSR_MHARTID: *val = h->mhartid; return 0;
    case CSR_MSTATUS: *val = mstatus_read(h); return 0;
    case CSR_MISA: *val = CSR_MISA_VALUE; return 0;
    case CSR_MEDELEG: *val = h->medeleg; return 0;
    case CSR_MIDELEG: *val = h->mideleg; return 0;
    case CSR_MIE: *val = h->mie; return 0;
    case CSR_MTVEC: *val = h->mtvec; return 0;
    case CSR_MCOUNTEREN: *val = h->mcounteren; return 0;
    case CSR_MENVCFG: *val = h->menvcfg; return 0;
    case CSR_MCOUNTINHIBIT: *val = h->mcountinhibit; return 0;
    case CSR_MSCRATCH: *val = h->mscratch; return 0;
    case CSR_MEPC: *val = h->mepc; return 0;
    case CSR_MCAUSE: *val = h->mcause; return 0;
    case CSR_MTVAL: *val = h->mtval; return 0;
    case CSR_MIP: *val = mip_read(h); return 0;
    case CSR_MCYCLE: *val = counter_read(h, MCOUNTINHIBIT_CY); return 0;
    case CSR_MINSTRET: *val = counter_read(h, MCOUNTINHIBIT_IR); return 0;
    }
    if (csr >= CSR_CYCLE && csr <= 0xc1f) {
        if (!counter_allowed(h, priv, csr - CSR_CYCLE))
            return -1;
        switch (csr) {
        case CSR_CYCLE: *val = counter_read(h, MCOUNTINHIBIT_CY); return 0;
        case CSR_TIME: *val = hart_time(h); return 0;
        case CSR_INSTRET: *val = counter_read(h, MCOUNTINHIBIT_IR); return 0;
        }
        *val = 0;
        return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f)) {
        *val = 0; /* hpm counters and events: implemented as constant zero */
        return 0;
    }
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG0 + 15) {
        int first = pmpcfg_first_entry(csr);
        if (first < 0)
            return -1;
        uint64_t v = 0;
        for (unsigned k = 0; k < 8; k++)
            v |= (uint64_t)h->pmpcfg[first + k] << (8 * k);
        *val = v;
        return 0;
    }
    if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + PMP_ENTRIES) {
        *val = h->pmpaddr[csr - CSR_PMPADDR0];
        return 0;
    }
    return trigger_csr_read(h, csr, val);
}

uint64_t csr_rmw_base(const struct hart *h, unsigned csr, uint64_t read)
{
    if (csr == CSR_MIP)
        return (read & ~MIP_SEIP) | (h->mip_sw & MIP_SEIP);
    return read;
}

int csr_insn(struct hart *h, unsigned opc, unsigned csr, unsigned rs1, uint64_t xrs1, int rd_x0, uint64_t *old,
             int *wrote)
{
    int reg = opc == OP_CSRRW || opc == OP_CSRRS || opc == OP_CSRRC;
    uint64_t src = reg ? xrs1 : rs1;
    *old = 0;
    *wrote = 1;
    if (opc == OP_CSRRW || opc == OP_CSRRWI)
        return (!rd_x0 && csr_read(h, csr, old)) || csr_write(h, csr, src) ? -1 : 0;
    if (csr_read(h, csr, old))
        return -1;
    *wrote = rs1 != 0;
    if (!*wrote)
        return 0;
    uint64_t base = csr_rmw_base(h, csr, *old);
    return csr_write(h, csr, opc == OP_CSRRS || opc == OP_CSRRSI ? base | src : base & ~src);
}

int csr_write(struct hart *h, unsigned csr, uint64_t v)
{
    return csr_write_as(h, h->priv, csr, v);
}

int csr_write_as(struct hart *h, unsigned priv, unsigned csr, uint64_t v)
{
    if (priv < ((csr >> 8) & 3) || ((csr >> 10) & 3) == 3)
        return -1;
    switch (csr) {
    case CSR_FFLAGS:
        if (fs_off(h)) return -1;
        h->fflags = v & 0x1f;
        fs_dirty(h);
        return 0;
    case CSR_FRM:
        if (fs_off(h)) return -1;
        h->frm = v & 7;
        fs_dirty(h);
        return 0;
    case CSR_FCSR:
        if (fs_off(h)) return -1;
        h->fflags = v & 0x1f;
        h->frm = (v >> 5) & 7;
        fs_dirty(h);
        return 0;
    case CSR_SSTATUS: mstatus_write(h, v, SSTATUS_WRITABLE); return 0;
    case CSR_SIE: h->mie = (h->mie & ~h->mideleg) | (v & h->mideleg & MIE_WRITABLE); return 0;
    case CSR_STVEC:
        if ((v & 3) < 2) h->stvec = v;
        return 0;
    case CSR_SCOUNTEREN: h->scounteren = (uint32_t)v; return 0;
    case CSR_SENVCFG: h->senvcfg = v & SENVCFG_WRITABLE; return 0;
    case CSR_SSCRATCH: h->sscratch = v; return 0;
    case CSR_SEPC: h->sepc = v & ~1ull; return 0;
    case CSR_SCAUSE: h->scause = v; return 0;
    case CSR_STVAL: h->stval = v; return 0;
    case CSR_SIP:
        if (h->mideleg & MIP_SSIP) {
            h->mip_sw = (h->mip_sw & ~MIP_SSIP) | (v & MIP_SSIP);
            if (!(v & MIP_SSIP)) /* also an IPI the board posted */
                atomic_fetch_and(&h->mip_ext, ~MIP_SSIP);
        }
        return 0;
    case CSR_STIMECMP:
        if (priv == PRIV_S && (!(h->mcounteren & 2) || !(h->menvcfg & MENVCFG_STCE)))
            return -1;
        h->stimecmp = v;
        return 0;
    case CSR_SATP: {
        if (priv == PRIV_S && (h->mstatus & MSTATUS_TVM))
            return -1;
        unsigned mode = (unsigned)(v >> 60);
        if (mode != SATP_MODE_BARE && mode != SATP_MODE_SV39 && mode != SATP_MODE_SV48 &&
            mode != SATP_MODE_SV57)
            return 0; /* unsupported mode: the write has no effect */
        uint64_t old = h->satp;
        h->satp = v & ((0xfull << 60) | (0xffffull << 44) | ((1ull << 44) - 1));
        /* Another address space in the same mode keeps the global
         * translations (see mmu.h). */
        if ((old ^ h->satp) >> 60 || mode == SATP_MODE_BARE)
            mmu_flush(h);
        else
            mmu_flush_local(h);
        return 0;
    }
    case CSR_MSTATUS: mstatus_write(h, v, MSTATUS_WRITABLE); return 0;
    case CSR_MISA: return 0; /* fixed */
    case CSR_MEDELEG: h->medeleg = v & MEDELEG_WRITABLE; return 0;
    case CSR_MIDELEG: h->mideleg = v & MIDELEG_WRITABLE; return 0;
    case CSR_MIE: h->mie = v & MIE_WRITABLE; return 0;
    case CSR_MTVEC:
        if ((v & 3) < 2) h->mtvec = v;
        return 0;
    case CSR_MCOUNTEREN: h->mcounteren = (uint32_t)v; return 0;
    case CSR_MENVCFG: {
        uint64_t old = h->menvcfg;
        h->menvcfg = v & MENVCFG_WRITABLE;
        if ((old ^ h->menvcfg) & MENVCFG_PBMTE)
            mmu_flush(h);
        return 0;
    }
    case CSR_MCOUNTINHIBIT: mcountinhibit_write(h, (uint32_t)v); return 0;
    case CSR_MSCRATCH: h->mscratch = v; return 0;
    case CSR_MEPC: h->mepc = v & ~1ull; return 0;
    case CSR_MCAUSE: h->mcause = v; return 0;
    case CSR_MTVAL: h->mtval = v; return 0;
    case CSR_MIP: {
        uint64_t w = MIP_SSIP | MIP_SEIP;
        if (!(h->menvcfg & MENVCFG_STCE))
            w |= MIP_STIP;
        h->mip_sw = (h->mip_sw & ~w) | (v & w);
        if (!(v & MIP_SSIP))
            atomic_fetch_and(&h->mip_ext, ~MIP_SSIP);
        return 0;
    }
    /* The counters are bumped again when this instruction retires. */
    case CSR_MCYCLE: counter_write(h, MCOUNTINHIBIT_CY, v); return 0;
    case CSR_MINSTRET: counter_write(h, MCOUNTINHIBIT_IR, v); return 0;
    }
    if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0x323 && csr <= 0x33f))
        return 0;
    if (csr >= CSR_PMPCFG0 && csr <= CSR_PMPCFG0 + 15) {
        int first = pmpcfg_first_entry(csr);
        if (first < 0)
            return -1;
        for (unsigned k = 0; k < 8; k++) {
            unsigned i = (unsigned)first + k;
            if (h->pmpcfg[i] & 0x80)
                continue; /* locked */
            h->pmpcfg[i] = (uint8_t)((v >> (8 * k)) & 0x9f);
        }
        pmp_recompute(h);
        return 0;
    }
    if (csr >= CSR_PMPADDR0 && csr < CSR_PMPADDR0 + PMP_ENTRIES) {
        unsigned i = csr - CSR_PMPADDR0;
        if (h->pmpcfg[i] & 0x80)
            return 0;
        if (i + 1 < PMP_ENTRIES && (h->pmpcfg[i + 1] & 0x80) && ((h->pmpcfg[i + 1] >> 3) & 3) == 1)
            return 0; /* top of a locked TOR region */
        h->pmpaddr[i] = v & ((1ull << 54) - 1);
        pmp_recompute(h);
        return 0;
    }
    return trigger_csr_write(h, csr, v);
}
