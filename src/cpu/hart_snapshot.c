/* A hart's architectural state in a snapshot (see hart.h: hart_save,
 * hart_load). CSRs are written back through the same WARL rules a guest
 * write goes through, so a crafted snapshot can only produce a state the
 * guest could have reached itself; what the run loop derives (translation
 * contexts, TLBs, decoded code) is rebuilt, not loaded.
 *
 * Version 2 adds the debug triggers (cpu/trigger.h) after the CSRs. It is
 * written only when the guest's triggers are not in their reset state, so
 * the state of a hart that never used them stays version 1, which older
 * builds read; both versions load. A debugger's own triggers are not
 * guest state and are not saved. */
#include <errno.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/mmu.h"
#include "cpu/hart.h"

#define HART_STATE_VERSION 1u
#define HART_STATE_VERSION_TRIGGERS 2u

/* CSRs carried through csr_read / csr_write, in write order: menvcfg
 * before stimecmp, pmpaddr before pmpcfg (a locked entry ignores later
 * address writes). */
static const uint16_t saved_csrs[] = {
    CSR_MSTATUS, CSR_MEDELEG, CSR_MIDELEG, CSR_MIE, CSR_MTVEC, CSR_MCOUNTEREN, CSR_MENVCFG,
    CSR_MSCRATCH, CSR_MEPC, CSR_MCAUSE, CSR_MTVAL, CSR_MIP,
    CSR_STVEC, CSR_SCOUNTEREN, CSR_SENVCFG, CSR_SSCRATCH, CSR_SEPC, CSR_SCAUSE, CSR_STVAL,
    CSR_STIMECMP, CSR_SATP,
    CSR_PMPADDR0 + 0, CSR_PMPADDR0 + 1, CSR_PMPADDR0 + 2, CSR_PMPADDR0 + 3,
    CSR_PMPADDR0 + 4, CSR_PMPADDR0 + 5, CSR_PMPADDR0 + 6, CSR_PMPADDR0 + 7,
    CSR_PMPADDR0 + 8, CSR_PMPADDR0 + 9, CSR_PMPADDR0 + 10, CSR_PMPADDR0 + 11,
    CSR_PMPADDR0 + 12, CSR_PMPADDR0 + 13, CSR_PMPADDR0 + 14, CSR_PMPADDR0 + 15,
    CSR_PMPCFG0, CSR_PMPCFG0 + 2,
};
#define N_SAVED_CSRS (sizeof saved_csrs / sizeof saved_csrs[0])

int hart_save(struct hart *h, struct snap_writer *w)
{
    int triggers = trigger_in_use(h);
    snapw_u32(w, triggers ? HART_STATE_VERSION_TRIGGERS : HART_STATE_VERSION);
    snapw_u64(w, h->mhartid);
    snapw_u64(w, h->pc);
    snapw_u8(w, (uint8_t)h->priv);
    for (unsigned i = 1; i < 32; i++)
        snapw_u64(w, h->x[i]);
    for (unsigned i = 0; i < 32; i++)
        snapw_u64(w, h->f[i]);
    snapw_u32(w, h->fflags);
    snapw_u32(w, h->frm);
    snapw_u64(w, h->instret);
    snapw_u64(w, h->cycle_delta);
    snapw_u64(w, h->instret_delta);
    snapw_u32(w, h->mcountinhibit);
    snapw_u64(w, hart_get_mtimecmp(h));
    unsigned priv = h->priv;
    h->priv = PRIV_M; /* read every CSR as M-mode would */
    for (unsigned i = 0; i < N_SAVED_CSRS; i++) {
        uint64_t v = 0;
        int r = csr_read(h, saved_csrs[i], &v);
        if (saved_csrs[i] == CSR_MIP)
            v = csr_rmw_base(h, CSR_MIP, v); /* not the lines the PLIC drives */
        snapw_u16(w, saved_csrs[i]);
        snapw_u64(w, r ? 0 : v);
    }
    h->priv = priv;
    if (triggers)
        trigger_save(h, w);
    return w->err;
}

int hart_load(struct hart *h, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != HART_STATE_VERSION && version != HART_STATE_VERSION_TRIGGERS)
        return errmsg_set(e, -EINVAL, "hart state: format version %u, expected %u or %u", version,
                          HART_STATE_VERSION, HART_STATE_VERSION_TRIGGERS);
    uint64_t id = snapr_u64(r);
    uint64_t pc = snapr_u64(r);
    unsigned priv = snapr_u8(r);
    uint64_t x[32] = { 0 }, f[32];
    for (unsigned i = 1; i < 32; i++)
        x[i] = snapr_u64(r);
    for (unsigned i = 0; i < 32; i++)
        f[i] = snapr_u64(r);
    uint32_t fflags = snapr_u32(r), frm = snapr_u32(r);
    uint64_t instret = snapr_u64(r), cycle_delta = snapr_u64(r), instret_delta = snapr_u64(r);
    uint32_t inhibit = snapr_u32(r);
    uint64_t mtimecmp = snapr_u64(r);
    uint64_t csr_val[N_SAVED_CSRS];
    for (unsigned i = 0; i < N_SAVED_CSRS; i++) {
        uint16_t n = snapr_u16(r);
        csr_val[i] = snapr_u64(r);
        if (!r->err && n != saved_csrs[i])
            return errmsg_set(e, -EINVAL, "hart state: CSR %#x where %#x was expected", n, saved_csrs[i]);
    }
    if (r->err)
        return errmsg_set(e, -EINVAL, "hart state: truncated");
    if (id != h->mhartid)
        return errmsg_set(e, -EINVAL, "hart state: saved for hart %llu, loaded into hart %llu",
                          (unsigned long long)id, (unsigned long long)h->mhartid);
    if (priv != PRIV_U && priv != PRIV_S && priv != PRIV_M)
        return errmsg_set(e, -EINVAL, "hart %llu state: privilege %u is not U, S or M", (unsigned long long)id, priv);
    if (pc & 1)
        return errmsg_set(e, -EINVAL, "hart %llu state: pc %#llx is odd", (unsigned long long)id,
                          (unsigned long long)pc);
    /* The same ranges csr.c keeps (fflags & 0x1f, frm & 7, mcountinhibit's
     * WARL mask): anything the hart can hold loads. */
    if (fflags > 0x1f || frm > 7 || (inhibit & ~MCOUNTINHIBIT_WRITABLE))
        return errmsg_set(e, -EINVAL, "hart %llu state: fflags %#x, frm %u or mcountinhibit %#x out of range",
                          (unsigned long long)id, fflags, frm, inhibit);

    hart_reset(h, pc, PRIV_M, 0, 0);
    memcpy(h->x, x, sizeof x);
    memcpy(h->f, f, sizeof f);
    h->fflags = fflags;
    h->frm = frm;
    h->instret = instret;
    h->cycle_delta = cycle_delta;
    h->instret_delta = instret_delta;
    h->mcountinhibit = inhibit;
    for (unsigned i = 0; i < N_SAVED_CSRS; i++)
        if (hart_write_csr(h, saved_csrs[i], csr_val[i]))
            return errmsg_set(e, -EINVAL, "hart %llu state: CSR %#x refused the value %#llx",
                              (unsigned long long)id, saved_csrs[i], (unsigned long long)csr_val[i]);
    if (version == HART_STATE_VERSION_TRIGGERS) {
        struct errmsg why = { "" };
        if (trigger_load(h, r, &why))
            return errmsg_set(e, -EINVAL, "hart %llu state: %s", (unsigned long long)id, why.text);
    }
    hart_set_mtimecmp(h, mtimecmp);
    h->priv = priv;
    csr_update_priv_ls(h);
    mmu_flush(h);
    return 0;
}
