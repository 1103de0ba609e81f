/* Page walks, PMP, software TLBs and the slow paths of guest memory
 * accesses (see mmu.h). The fast paths (a TLB hit) are inline in hart.c. */
#include "cpu/mmu.h"

#include <string.h>

#include "util/dirty_bitmap.h"

#define PAGE_MASK (~(uint64_t)0xfff)
#define PPN_MASK ((1ull << 44) - 1)
#define PTE_RESERVED (0x7full << 54)
#define PTE_PBMT (3ull << 61)
#define PTE_N (1ull << 63)
#define MENVCFG_PBMTE (1ull << 62)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)

static const uint64_t page_fault_cause[3] = { CAUSE_FETCH_PAGE, CAUSE_LOAD_PAGE, CAUSE_STORE_PAGE };
static const uint64_t access_fault_cause[3] = { CAUSE_FETCH_ACCESS, CAUSE_LOAD_ACCESS, CAUSE_STORE_ACCESS };

/* ---- cached translations ---- */

static void log_reset(struct hart_tlb_log *log)
{
    log->n = 0;
    log->lo = UINT64_MAX;
    log->hi = 0;
    log->local = 0;
}

static void fetch_tlb_clear(struct hart_fetch_tlb *t)
{
    if (!t->log.n)
        return;
    if (t->log.n > HART_FLUSH_LOG) {
        memset(t->fetch, 0xff, sizeof t->fetch);
        memset(t->jcache, 0xff, sizeof t->jcache);
        memset(t->jpages, 0, sizeof t->jpages);
    } else {
        for (unsigned i = 0; i < t->log.n; i++) {
            unsigned v = t->log.slot[i];
            if (v & 0x8000)
                t->jcache[v & 0x7fff].pc = ~0ull;
            else
                t->fetch[v].vpage = ~0ull;
        }
        memset(t->jpages, 0, sizeof t->jpages);
    }
    log_reset(&t->log);
}

static void data_tlb_clear(struct hart_data_tlb *t)
{
    if (!t->log.n)
        return;
    if (t->log.n > HART_FLUSH_LOG) {
        memset(t->load, 0xff, sizeof t->load);
        memset(t->store, 0xff, sizeof t->store);
    } else {
        for (unsigned i = 0; i < t->log.n; i++) {
            unsigned v = t->log.slot[i];
            if (v & 0x8000)
                t->store[v & 0x7fff].vpage = ~0ull;
            else
                t->load[v].vpage = ~0ull;
        }
    }
    log_reset(&t->log);
}

void mmu_flush(struct hart *h)
{
    for (unsigned i = 0; i < HART_FCTX_N; i++)
        fetch_tlb_clear(&h->ftlb[i]);
    for (unsigned i = 0; i < HART_DCTX_N; i++)
        data_tlb_clear(&h->dtlb[i]);
    h->super_lo = UINT64_MAX;
    h->super_hi = 0;
}

void mmu_flush_local(struct hart *h)
{
    for (unsigned i = 0; i < HART_FCTX_N; i++)
        if (h->ftlb[i].log.local)
            fetch_tlb_clear(&h->ftlb[i]);
    for (unsigned i = 0; i < HART_DCTX_N; i++)
        if (h->dtlb[i].log.local)
            data_tlb_clear(&h->dtlb[i]);
}

static inline void entry_drop_page(struct hart_tlb_entry *e, uint64_t page)
{
    if (e->vpage == page)
        e->vpage = ~0ull;
}

void mmu_flush_page(struct hart *h, uint64_t va)
{
    uint64_t page = va & PAGE_MASK;
    if (page >= h->super_lo && page <= h->super_hi) {
        mmu_flush(h);
        return;
    }
    unsigned idx = (unsigned)(page >> 12) & (HART_TLB_SIZE - 1);
    for (unsigned c = 0; c < HART_FCTX_N; c++) {
        struct hart_fetch_tlb *t = &h->ftlb[c];
        if (!t->log.n || page < t->log.lo || page > t->log.hi)
            continue; /* the set maps nothing there */
        entry_drop_page(&t->fetch[idx], page);
        unsigned bit = mmu_jpage_bit(page);
        if (!(t->jpages[bit / 64] & (1ull << (bit % 64)))) {
            /* no jump-cache entry in the page */
        } else if (t->log.n <= HART_FLUSH_LOG) {
            for (unsigned i = 0; i < t->log.n; i++) {
                unsigned v = t->log.slot[i];
                if ((v & 0x8000) && (t->jcache[v & 0x7fff].pc & PAGE_MASK) == page)
                    t->jcache[v & 0x7fff].pc = ~0ull;
            }
        } else {
            for (unsigned i = 0; i < HART_JCACHE_SIZE; i++)
                if ((t->jcache[i].pc & PAGE_MASK) == page)
                    t->jcache[i].pc = ~0ull;
        }
    }
    for (unsigned c = 0; c < HART_DCTX_N; c++) {
        struct hart_data_tlb *t = &h->dtlb[c];
        if (!t->log.n || page < t->log.lo || page > t->log.hi)
            continue;
        entry_drop_page(&t->load[idx], page);
        entry_drop_page(&t->store[idx], page);
    }
}

void mmu_flush_jcache(struct hart *h)
{
    for (unsigned c = 0; c < HART_FCTX_N; c++)
        if (h->ftlb[c].log.n) { /* else nothing was filled since it was cleared */
            memset(h->ftlb[c].jcache, 0xff, sizeof h->ftlb[c].jcache);
            memset(h->ftlb[c].jpages, 0, sizeof h->ftlb[c].jpages);
        }
}

void mmu_drop_store_page(struct hart *h, const uint8_t *host_page)
{
    uintptr_t host = (uintptr_t)host_page;
    for (unsigned c = 0; c < HART_DCTX_N; c++) {
        struct hart_data_tlb *t = &h->dtlb[c];
        if (!t->log.n)
            continue;
        if (t->log.n <= HART_FLUSH_LOG) {
            for (unsigned i = 0; i < t->log.n; i++) {
                unsigned v = t->log.slot[i];
                struct hart_tlb_entry *e = &t->store[v & 0x7fff];
                if ((v & 0x8000) && e->vpage != ~0ull && e->addend + (uintptr_t)e->vpage == host)
                    e->vpage = ~0ull;
            }
        } else {
            for (unsigned i = 0; i < HART_TLB_SIZE; i++) {
                struct hart_tlb_entry *e = &t->store[i];
                if (e->vpage != ~0ull && e->addend + (uintptr_t)e->vpage == host)
                    e->vpage = ~0ull;
            }
        }
    }
}

void mmu_select_context(struct hart *h)
{
    static const unsigned fctx[4] = { HART_FCTX_U, HART_FCTX_S, HART_FCTX_S, HART_FCTX_M };
    h->ft = &h->ftlb[fctx[h->priv & 3]];
    unsigned d;
    if (h->priv_ls == PRIV_M) {
        d = HART_DCTX_M; /* no translation: SUM and MXR do not matter */
    } else if (h->mstatus & MSTATUS_MXR) {
        unsigned key = 8 | h->priv_ls | ((h->mstatus & MSTATUS_SUM) ? 4 : 0);
        if (h->mxr_key != key) {
            data_tlb_clear(&h->dtlb[HART_DCTX_MXR]);
            h->mxr_key = key;
        }
        d = HART_DCTX_MXR;
    } else if (h->priv_ls == PRIV_U) {
        d = HART_DCTX_U; /* SUM does not apply to U */
    } else {
        d = (h->mstatus & MSTATUS_SUM) ? HART_DCTX_S_SUM : HART_DCTX_S;
    }
    h->dt = &h->dtlb[d];
}

/* Host pointer for [pa, pa+len) if it is all RAM. */
static inline uint8_t *ram_ptr(const struct hart *h, uint64_t pa, uint64_t len)
{
    uint64_t off = pa - h->mem.base;
    if (pa < h->mem.base || off >= h->mem.size || len > h->mem.size - off)
        return NULL;
    return h->mem.host + off;
}

/* Only the hart's own thread writes its counters. */
static inline void count_exit(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

static inline void mark_dirty(const struct hart *h, uint64_t pa, uint64_t len)
{
    dirty_bitmap_mark(h->mem.dirty, pa - h->mem.base, len);
}

/* ---- PMP ---- */

/* Range [lo, hi) matched by entry i, or 0 if it is off. */
static int pmp_range(const struct hart *h, int i, uint64_t *lo, uint64_t *hi)
{
    unsigned a = (h->pmpcfg[i] >> 3) & 3;
    uint64_t addr = h->pmpaddr[i];
    switch (a) {
    case 1: /* TOR */
        *lo = i ? h->pmpaddr[i - 1] << 2 : 0;
        *hi = addr << 2;
        return 1;
    case 2: /* NA4 */
        *lo = addr << 2;
        *hi = *lo + 4;
        return 1;
    case 3: { /* NAPOT: trailing ones of pmpaddr give the size */
        unsigned t = (unsigned)__builtin_ctzll(~addr);
        if (t >= 54) {
            *lo = 0;
            *hi = UINT64_MAX;
            return 1;
        }
        uint64_t size = 1ull << (t + 3);
        *lo = (addr << 2) & ~(size - 1);
        *hi = *lo + size;
        return 1;
    }
    }
    return 0;
}

int mmu_pmp_allows(const struct hart *h, uint64_t pa, uint64_t len, enum mmu_access acc, unsigned priv)
{
    /* No entry matches: M-mode is allowed, S and U are not (a board that
     * starts S-mode code directly programs an allow-all entry first, as
     * firmware would). */
    if (!h->pmp_active)
        return priv == PRIV_M;
    uint64_t end = pa + len; /* exclusive; the ranges we check never wrap */
    for (int i = 0; i < PMP_ENTRIES; i++) {
        uint64_t lo, hi;
        if (!pmp_range(h, i, &lo, &hi) || lo >= hi)
            continue;
        if (end <= lo || pa >= hi)
            continue; /* no byte of the access matches */
        if (pa < lo || end > hi)
            return 0; /* partially matched: fails whatever the permissions */
        uint8_t cfg = h->pmpcfg[i];
        if (priv == PRIV_M && !(cfg & 0x80))
            return 1;
        static const uint8_t need[3] = { 4, 1, 2 };
        return (cfg & need[acc]) != 0;
    }
    return priv == PRIV_M;
}

/* ---- page walk ---- */

int mmu_translate(struct hart *h, uint64_t va, enum mmu_access acc, uint64_t *pa)
{
    unsigned priv = acc == MMU_FETCH ? h->priv : h->priv_ls;
    unsigned mode = (unsigned)(h->satp >> 60);
    if (priv == PRIV_M || mode == SATP_MODE_BARE) {
        *pa = va;
        return 0;
    }
    unsigned levels = mode - SATP_MODE_SV39 + 3;
    unsigned vabits = 12 + 9 * levels;
    /* The address must be the sign extension of its low vabits bits. */
    if ((uint64_t)((int64_t)(va << (64 - vabits)) >> (64 - vabits)) != va)
        goto page_fault;

restart:;
    uint64_t table = (h->satp & PPN_MASK) << 12;
    uint64_t global = 0;
    for (int i = (int)levels - 1; i >= 0; i--) {
        uint64_t vpn = (va >> (12 + 9 * i)) & 0x1ff;
        uint64_t pte_pa = table + vpn * 8;
        uint64_t *pte_host = (uint64_t *)ram_ptr(h, pte_pa, 8);
        if (!pte_host || (!h->pmp_ram_rw && !mmu_pmp_allows(h, pte_pa, 8, MMU_LOAD, PRIV_S))) {
            hart_raise(h, access_fault_cause[acc], va);
            return -1;
        }
        uint64_t pte = __atomic_load_n(pte_host, __ATOMIC_ACQUIRE);
        if (!(pte & PTE_V) || ((pte & (PTE_R | PTE_W)) == PTE_W))
            goto page_fault;
        if (pte & (PTE_RESERVED | PTE_N))
            goto page_fault;
        uint64_t pbmt = pte & PTE_PBMT;
        if (pbmt && (!(h->menvcfg & MENVCFG_PBMTE) || pbmt == PTE_PBMT))
            goto page_fault;
        uint64_t ppn = (pte >> 10) & PPN_MASK;
        global |= pte & PTE_G; /* a global pointer makes all below it global */
        if (!(pte & (PTE_R | PTE_X))) {
            /* Pointer to the next level; PBMT is reserved there. */
            if (i == 0 || pbmt)
                goto page_fault;
            table = ppn << 12;
            continue;
        }
        /* Leaf: permissions. */
        if (priv == PRIV_U && !(pte & PTE_U))
            goto page_fault;
        if (priv == PRIV_S && (pte & PTE_U) && (acc == MMU_FETCH || !(h->mstatus & MSTATUS_SUM)))
            goto page_fault;
        switch (acc) {
        case MMU_FETCH:
            if (!(pte & PTE_X)) goto page_fault;
            break;
        case MMU_LOAD:
            if (!(pte & PTE_R) && !((h->mstatus & MSTATUS_MXR) && (pte & PTE_X))) goto page_fault;
            break;
        case MMU_STORE:
            if (!(pte & PTE_W)) goto page_fault;
            break;
        }
        uint64_t low = (1ull << (9 * i)) - 1;
        if (ppn & low)
            goto page_fault; /* misaligned superpage */
        uint64_t want = pte | PTE_A | (acc == MMU_STORE ? PTE_D : 0);
        if (want != pte) {
            /* The A/D update is an implicit S-mode store, checked by PMP. */
            if (!h->pmp_ram_rw && !mmu_pmp_allows(h, pte_pa, 8, MMU_STORE, PRIV_S)) {
                hart_raise(h, access_fault_cause[acc], va);
                return -1;
            }
            /* Another hart may change the PTE between our read and the
             * update: only update the exact PTE we checked, else walk again. */
            if (!__atomic_compare_exchange_n(pte_host, &pte, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                goto restart;
            mark_dirty(h, pte_pa, 8);
            /* Not a store of ours: fence.i must look (struct hart_mem). */
            dirty_bitmap_mark(h->mem.written, pte_pa - h->mem.base, 8);
        }
        if (i) {
            /* TLB entries will hold 4 KiB pieces of this superpage: see
             * mmu_flush_page. */
            uint64_t lo = va & ~((4096ull << (9 * i)) - 1), hi = lo | (((4096ull << (9 * i)) - 1) & PAGE_MASK);
            if (lo < h->super_lo)
                h->super_lo = lo;
            if (hi > h->super_hi)
                h->super_hi = hi;
        }
        *pa = (((ppn & ~low) | ((va >> 12) & low)) << 12) | (va & 0xfff);
        /* Whatever the context caches from this walk may be local to
         * the address space. */
        if (!global)
            (acc == MMU_FETCH ? &h->ft->log : &h->dt->log)->local = 1;
        return 0;
    }
page_fault:
    hart_raise(h, page_fault_cause[acc], va);
    return -1;
}

/* ---- data accesses ---- */

static inline void tlb_fill(struct hart *h, enum mmu_access acc, uint64_t va, uint8_t *host_page)
{
    /* A page that may hold a watched address stays on the slow path. */
    if (__builtin_expect(h->trig.armed != 0, 0) && acc != MMU_FETCH &&
        trigger_page_watched(h, va, acc == MMU_LOAD ? TRIGGER_LOAD : TRIGGER_STORE))
        return;
    unsigned i = (unsigned)(va >> 12) & (HART_TLB_SIZE - 1);
    struct hart_tlb_entry *e;
    if (acc == MMU_FETCH) {
        e = &h->ft->fetch[i];
        mmu_log_fill(&h->ft->log, i, va);
    } else if (acc == MMU_LOAD) {
        e = &h->dt->load[i];
        mmu_log_fill(&h->dt->log, i, va);
    } else {
        e = &h->dt->store[i];
        mmu_log_fill(&h->dt->log, i | 0x8000, va);
    }
    e->vpage = va & PAGE_MASK;
    e->addend = (uintptr_t)host_page - (uintptr_t)(va & PAGE_MASK);
}

static inline int overlaps_watch(const struct hart *h, uint64_t pa, uint64_t len)
{
    return h->mem.watch_lo < h->mem.watch_hi && pa < h->mem.watch_hi && pa + len > h->mem.watch_lo;
}

/* Load from a physical address; va only names the fault. */
static int phys_load(struct hart *h, uint64_t va, uint64_t pa, unsigned size, uint64_t *val)
{
    unsigned priv = h->priv_ls;
    if (!mmu_pmp_allows(h, pa, size, MMU_LOAD, priv))
        goto fault;
    uint8_t *p = ram_ptr(h, pa, size);
    if (p) {
        uint64_t v = 0;
        memcpy(&v, p, size);
        *val = v;
        uint64_t page = pa & PAGE_MASK;
        if (ram_ptr(h, page, 4096) && mmu_pmp_allows(h, page, 4096, MMU_LOAD, priv))
            tlb_fill(h, MMU_LOAD, va, p - (pa & 0xfff));
        return 0;
    }
    count_exit(&h->exits.mmio_read);
    if (h->bus.load && h->bus.load(h->bus.opaque, pa, size, val) == 0)
        return 0;
fault:
    hart_raise(h, CAUSE_LOAD_ACCESS, va);
    return -1;
}

static int phys_store(struct hart *h, uint64_t va, uint64_t pa, unsigned size, uint64_t val, int fill)
{
    unsigned priv = h->priv_ls;
    if (!mmu_pmp_allows(h, pa, size, MMU_STORE, priv))
        goto fault;
    uint8_t *p = ram_ptr(h, pa, size);
    if (p) {
        memcpy(p, &val, size);
        /* A page is only ever writable through the fast path after it
         * passed this point once, so it is marked dirty here. The same
         * goes for the decoded-code cache: pages holding decoded code stay
         * out of the store TLB. */
        mark_dirty(h, pa, size);
        int code = hart_code_store(h, pa, size);
        if (overlaps_watch(h, pa, size)) {
            if (h->bus.watch)
                h->bus.watch(h->bus.watch_opaque, pa, size, val);
            return 0;
        }
        uint64_t page = pa & PAGE_MASK;
        if (fill && !code && ram_ptr(h, page, 4096) && !overlaps_watch(h, page, 4096) &&
            mmu_pmp_allows(h, page, 4096, MMU_STORE, priv))
            tlb_fill(h, MMU_STORE, va, p - (pa & 0xfff));
        return 0;
    }
    count_exit(&h->exits.mmio_write);
    if (h->bus.store && h->bus.store(h->bus.opaque, pa, size, val) == 0)
        return 0;
fault:
    hart_raise(h, CAUSE_STORE_ACCESS, va);
    return -1;
}

/* An access that crosses a page: translates both parts and checks them
 * against the PMP before any byte moves, so a fault on the second page
 * leaves memory untouched. A fault names the first address of the part
 * that faulted (the second page's first byte when it is that one), as
 * QEMU reports it. */
static int cross_prepare(struct hart *h, uint64_t va, unsigned size, enum mmu_access acc, uint64_t *pa1,
                         uint64_t *pa2)
{
    uint64_t va2 = (va + 4096) & PAGE_MASK;
    uint64_t n1 = va2 - va;
    if (mmu_translate(h, va, acc, pa1) || mmu_translate(h, va2, acc, pa2))
        return -1;
    if (!mmu_pmp_allows(h, *pa1, n1, acc, h->priv_ls)) {
        hart_raise(h, access_fault_cause[acc], va);
        return -1;
    }
    if (!mmu_pmp_allows(h, *pa2, size - n1, acc, h->priv_ls)) {
        hart_raise(h, access_fault_cause[acc], va2);
        return -1;
    }
    return 0;
}

int mmu_load_slow(struct hart *h, uint64_t va, unsigned size, uint64_t *val)
{
    if (__builtin_expect(h->trig.armed & TRIGGER_LOAD, 0) && trigger_data(h, va, size, TRIGGER_LOAD))
        return -1;
    if ((va & 0xfff) + size > 4096) {
        uint64_t va2 = (va + 4096) & PAGE_MASK;
        uint64_t pa1, pa2, v = 0;
        if (cross_prepare(h, va, size, MMU_LOAD, &pa1, &pa2))
            return -1;
        for (unsigned i = 0; i < size; i++) {
            uint64_t bva = va + i, b;
            uint64_t bpa = bva < va2 ? pa1 + i : pa2 + (bva - va2);
            if (phys_load(h, bva, bpa, 1, &b))
                return -1;
            v |= b << (8 * i);
        }
        *val = v;
        return 0;
    }
    uint64_t pa;
    if (mmu_translate(h, va, MMU_LOAD, &pa))
        return -1;
    return phys_load(h, va, pa, size, val);
}

int mmu_store_slow(struct hart *h, uint64_t va, unsigned size, uint64_t val)
{
    if (__builtin_expect(h->trig.armed & TRIGGER_STORE, 0) && trigger_data(h, va, size, TRIGGER_STORE))
        return -1;
    if ((va & 0xfff) + size > 4096) {
        uint64_t va2 = (va + 4096) & PAGE_MASK;
        uint64_t pa1, pa2;
        if (cross_prepare(h, va, size, MMU_STORE, &pa1, &pa2))
            return -1;
        for (unsigned i = 0; i < size; i++) {
            uint64_t bva = va + i;
            uint64_t bpa = bva < va2 ? pa1 + i : pa2 + (bva - va2);
            if (phys_store(h, bva, bpa, 1, (val >> (8 * i)) & 0xff, 0))
                return -1;
        }
        return 0;
    }
    uint64_t pa;
    if (mmu_translate(h, va, MMU_STORE, &pa))
        return -1;
    return phys_store(h, va, pa, size, val, 1);
}

int mmu_atomic_ptr(struct hart *h, uint64_t va, unsigned size, int is_lr, void **ptr, uint64_t *pa)
{
    enum mmu_access acc = is_lr ? MMU_LOAD : MMU_STORE;
    if (va & (size - 1)) {
        hart_raise(h, is_lr ? CAUSE_LOAD_MISALIGNED : CAUSE_STORE_MISALIGNED, va);
        return -1;
    }
    if (mmu_translate(h, va, acc, pa))
        return -1;
    uint8_t *p = ram_ptr(h, *pa, size);
    if (!p || !mmu_pmp_allows(h, *pa, size, acc, h->priv_ls) || (!is_lr && overlaps_watch(h, *pa, size))) {
        /* AMOs on MMIO are not supported by any device we model. */
        hart_raise(h, is_lr ? CAUSE_LOAD_ACCESS : CAUSE_STORE_ACCESS, va);
        return -1;
    }
    if (!is_lr) {
        /* SC and AMOs write (SC may not, which is harmless) */
        hart_code_store(h, *pa, size);
        mark_dirty(h, *pa, size);
    }
    *ptr = p;
    return 0;
}

/* ---- instruction fetch ---- */

int mmu_fetch_page(struct hart *h, uint64_t va, uint8_t **host)
{
    struct hart_tlb_entry *e = &h->ft->fetch[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (e->vpage == (va & PAGE_MASK)) {
        *host = (uint8_t *)(e->addend + (va & PAGE_MASK));
        return 0;
    }
    uint64_t pa;
    if (mmu_translate(h, va, MMU_FETCH, &pa))
        return -1;
    uint64_t page = pa & PAGE_MASK;
    uint8_t *p = ram_ptr(h, page, 4096);
    if (p && mmu_pmp_allows(h, page, 4096, MMU_FETCH, h->priv)) {
        tlb_fill(h, MMU_FETCH, va, p);
        *host = p;
        return 0;
    }
    *host = NULL;
    return 0;
}

int mmu_fetch16(struct hart *h, uint64_t va, uint32_t *half)
{
    uint64_t pa, v;
    if (mmu_translate(h, va, MMU_FETCH, &pa))
        return -1;
    if (!mmu_pmp_allows(h, pa, 2, MMU_FETCH, h->priv))
        goto fault;
    uint8_t *p = ram_ptr(h, pa, 2);
    if (p) {
        uint16_t x;
        memcpy(&x, p, 2);
        *half = x;
        return 0;
    }
    /* Executing from a device (a boot ROM) works, uncached. */
    if (h->bus.load && h->bus.load(h->bus.opaque, pa, 2, &v) == 0) {
        *half = (uint32_t)(v & 0xffff);
        return 0;
    }
fault:
    hart_raise(h, CAUSE_FETCH_ACCESS, va);
    return -1;
}
