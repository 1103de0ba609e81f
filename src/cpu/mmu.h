/* Address translation for one hart: the Sv39/Sv48/Sv57 page walker (with
 * hardware A/D updates by compare-and-swap on the PTE), PMP checks, the
 * software TLBs (virtual page -> host pointer, one array each for fetch,
 * load and store, one set of arrays per translation context) and the
 * slow paths of loads and stores (TLB misses,
 * page-crossing accesses, MMIO through the bus).
 *
 * All functions that can fault return 0 on success or -1 after recording
 * the exception with hart_raise (cause and tval); the run loop takes it. */
#ifndef MINNOW_CPU_MMU_H
#define MINNOW_CPU_MMU_H

#include <stdint.h>

#include "cpu/hart.h"

enum mmu_access { MMU_FETCH = 0, MMU_LOAD = 1, MMU_STORE = 2 };

#define SATP_MODE_BARE 0
#define SATP_MODE_SV39 8
#define SATP_MODE_SV48 9
#define SATP_MODE_SV57 10

/* PTE bits. */
#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)

/* Translates va for an access of type acc at the privilege that access
 * uses (priv for fetches, the MPRV-adjusted priv_ls for data), walking the
 * page table if satp asks for it. Does not check PMP and fills no TLB. */
int mmu_translate(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa);

/* PMP entries implemented: 0-15 (the CSRs of 16-63 do not exist). */
#define PMP_ENTRIES 16

/* 1 if the PMP lets privilege priv do acc on all of [pa, pa+len), else 0. */
int mmu_pmp_allows(const struct hart *h, uint64_t pa, uint64_t len, enum mmu_access acc, unsigned priv);

/* Loads and stores that missed the TLB fast path (size 1, 2, 4 or 8, any
 * alignment). */
int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val);
int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val);

/* Host pointer for an atomic access (AMO, LR, SC) of size bytes at va,
 * which must be naturally aligned and in RAM. LR translates as a load, the
 * others as stores. pa receives the physical address. */
int mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, int is_lr, void **ptr, uint64_t *pa);

/* Instruction fetch: on success *host is the host address of the 4 KiB page
 * holding va, or NULL when the page cannot be cached (not RAM, or a PMP
 * region smaller than a page); then read with mmu_fetch16. */
int mmu_fetch_page(struct hart *h, uint64_t va, uint8_t **host);
int mmu_fetch16(struct hart *h, uint64_t va, uint32_t *half);

/* Cached translations. The TLB sets and the jump cache are kept per
 * translation context (struct hart: ft, dt), so nothing is dropped when
 * the privilege or mstatus.SUM/MXR/MPRV change; csr_update_priv_ls picks
 * the sets. What invalidates them: mmu_flush (satp mode changes,
 * sfence.vma without address and ASID, PMP and menvcfg.PBMTE changes,
 * remote fences) drops every context; mmu_flush_local (satp writes within
 * a mode, sfence.vma by ASID) drops the contexts that may hold non-global
 * translations, as an ASID-tagged TLB would keep global ones (the kernel's,
 * in Linux); mmu_flush_page (sfence.vma with an address) drops the page in
 * every context, or everything when va lies where superpages were
 * translated. */
void mmu_flush(struct hart *h);
void mmu_flush_local(struct hart *h);
void mmu_flush_page(struct hart *h, uint64_t va);
/* Points h->ft and h->dt at the sets of the current context (h->priv,
 * h->priv_ls, mstatus SUM and MXR). */
void mmu_select_context(struct hart *h);
/* Empties the jump caches of every context (decoded code was dropped). */
void mmu_flush_jcache(struct hart *h);
/* Drops store TLB entries (of every context) that map the RAM page at
 * host address host_page: it now holds decoded code. */
void mmu_drop_store_page(struct hart *h, const uint8_t *host_page);

static inline unsigned mmu_jpage_bit(uint64_t va)
{
    return (unsigned)(va >> 12) & 1023;
}

/* Remembers a filled TLB or jump-cache slot v (encoded as the log of its
 * set says) for virtual address va, so the next clear of the set wipes
 * just the filled slots. */
static inline void mmu_log_fill(struct hart_tlb_log *log, unsigned v, uint64_t va)
{
    uint64_t page = va & ~(uint64_t)0xfff;
    if (log->n < HART_FLUSH_LOG)
        log->slot[log->n] = (uint16_t)v;
    if (log->n <= HART_FLUSH_LOG)
        log->n++;
    if (page < log->lo)
        log->lo = page;
    if (page > log->hi)
        log->hi = page;
}

/* Records that blk, the block at pc in the current fetch context's jump
 * cache, has its JIT unit's chain entry at centry. */
static inline void mmu_jcache_set_jit(struct hart *h, uint64_t pc, const struct hart_block *blk,
                                      const void *centry)
{
    struct hart_jcache_entry *e = &h->ft->jcache[(pc >> 1) & (HART_JCACHE_SIZE - 1)];
    if (e->pc == pc && e->blk == blk)
        e->jit = centry;
}

/* Fills jump-cache slot ji of the current fetch context with pc -> blk. */
static inline void mmu_jcache_fill(struct hart *h, unsigned ji, uint64_t pc, struct hart_block *blk)
{
    struct hart_fetch_tlb *t = h->ft;
    t->jcache[ji].pc = pc;
    t->jcache[ji].blk = blk;
    t->jcache[ji].jit = NULL;
    mmu_log_fill(&t->log, ji | 0x8000, pc);
    t->jpages[mmu_jpage_bit(pc) / 64] |= 1ull << (mmu_jpage_bit(pc) % 64);
}

#endif
