/* Debugger access to a stopped hart (see hart_debug.h). */
#include "cpu/hart_debug.h"

#include <string.h>

#include "cpu/csr.h"
#include "cpu/mmu.h"
#include "util/dirty_bitmap.h"

#define PPN_MASK ((1ull << 44) - 1)

uint64_t hart_debug_pc(const struct hart *h)
{
    return h->pc;
}

void hart_debug_set_pc(struct hart *h, uint64_t pc)
{
    h->pc = pc & ~1ull;
}

uint64_t hart_debug_freg(const struct hart *h, unsigned i)
{
    return i < 32 ? h->f[i] : 0;
}

void hart_debug_set_freg(struct hart *h, unsigned i, uint64_t v)
{
    if (i < 32)
        h->f[i] = v;
}

int hart_debug_fcsr(const struct hart *h, unsigned csr, uint64_t *v)
{
    switch (csr) {
    case 0x001: *v = h->fflags; return 0;
    case 0x002: *v = h->frm; return 0;
    case 0x003: *v = (uint64_t)h->frm << 5 | h->fflags; return 0;
    }
    return -1;
}

int hart_debug_set_fcsr(struct hart *h, unsigned csr, uint64_t v)
{
    switch (csr) {
    case 0x001: h->fflags = (uint32_t)(v & 0x1f); return 0;
    case 0x002: h->frm = (uint32_t)(v & 7); return 0;
    case 0x003: h->fflags = (uint32_t)(v & 0x1f); h->frm = (uint32_t)((v >> 5) & 7); return 0;
    }
    return -1;
}

/* As M-mode, without mode switches on the hart (another reader, the API's
 * inspection, may look at it meanwhile). The floating-point CSRs are the
 * FPU feature's, without the FS check (hart_debug_fcsr). */
static int csr_as_m(struct hart *h, unsigned csr, uint64_t *rd, const uint64_t *wr)
{
    if (csr >= 0x1000)
        return -1;
    if (csr >= CSR_FFLAGS && csr <= CSR_FCSR)
        return rd ? hart_debug_fcsr(h, csr, rd) : hart_debug_set_fcsr(h, csr, *wr);
    if (rd)
        return csr_read_as(h, PRIV_M, csr, rd);
    /* csr_write counts the retirement of the writing instruction; here
     * none retires, so the value read back is the one written. */
    uint64_t v = *wr;
    if ((csr == CSR_MCYCLE && !(h->mcountinhibit & 1)) || (csr == CSR_MINSTRET && !(h->mcountinhibit & 4)))
        v++;
    return csr_write_as(h, PRIV_M, csr, v);
}

int hart_debug_csr_read(struct hart *h, unsigned csr, uint64_t *v)
{
    return csr_as_m(h, csr, v, NULL);
}

int hart_debug_csr_write(struct hart *h, unsigned csr, uint64_t v)
{
    return csr_as_m(h, csr, NULL, &v);
}

unsigned hart_debug_priv(const struct hart *h)
{
    return h->priv;
}

int hart_debug_set_priv(struct hart *h, unsigned priv)
{
    if (priv != PRIV_U && priv != PRIV_S && priv != PRIV_M)
        return -1;
    h->priv = priv;
    csr_update_priv_ls(h);
    return 0;
}

/* Reads the 8 bytes at physical pa if they are RAM. */
static int read_pte(const struct hart *h, uint64_t pa, uint64_t *pte)
{
    uint64_t off = pa - h->mem.base;
    if (pa < h->mem.base || off >= h->mem.size || h->mem.size - off < 8)
        return -1;
    *pte = __atomic_load_n((const uint64_t *)(h->mem.host + off), __ATOMIC_ACQUIRE);
    return 0;
}

int hart_debug_walk(const struct hart *h, uint64_t va, struct hart_debug_walk *w)
{
    memset(w, 0, sizeof *w);
    unsigned mode = (unsigned)(h->satp >> 60);
    w->mode = mode;
    w->root = (h->satp & PPN_MASK) << 12;
    if (h->priv_ls == PRIV_M || mode == SATP_MODE_BARE) {
        w->untranslated = w->mapped = 1;
        w->pa = va;
        w->page_size = 4096;
        return 0;
    }
    w->why = "satp holds an unsupported mode";
    if (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57)
        return -1;
    unsigned levels = mode - SATP_MODE_SV39 + 3;
    unsigned vabits = 12 + 9 * levels;
    w->why = "the address is not canonical (its top bits are not a sign extension)";
    if ((uint64_t)((int64_t)(va << (64 - vabits)) >> (64 - vabits)) != va)
        return -1;
    uint64_t table = w->root;
    for (int i = (int)levels - 1; i >= 0; i--) {
        uint64_t pte, pte_pa = table + ((va >> (12 + 9 * i)) & 0x1ff) * 8;
        w->why = "a page table is outside RAM";
        if (read_pte(h, pte_pa, &pte))
            return -1;
        w->level[w->nlevels].level = (unsigned)i;
        w->level[w->nlevels].pte_pa = pte_pa;
        w->level[w->nlevels].pte = pte;
        w->nlevels++;
        w->why = "the PTE is not valid (V=0)";
        if (!(pte & PTE_V))
            return -1;
        w->why = "the PTE is reserved (W without R)";
        if ((pte & (PTE_R | PTE_W)) == PTE_W)
            return -1;
        uint64_t ppn = (pte >> 10) & PPN_MASK;
        if (!(pte & (PTE_R | PTE_X))) {
            w->why = "a pointer PTE at the last level";
            if (i == 0)
                return -1;
            table = ppn << 12;
            continue;
        }
        uint64_t low = (1ull << (9 * i)) - 1;
        w->why = "a misaligned superpage";
        if (ppn & low)
            return -1;
        w->why = NULL;
        w->mapped = 1;
        w->page_size = 4096ull << (9 * i);
        w->pa = (((ppn & ~low) | ((va >> 12) & low)) << 12) | (va & 0xfff);
        return 0;
    }
    return -1;
}

int hart_debug_translate(const struct hart *h, uint64_t va, uint64_t *pa)
{
    struct hart_debug_walk w;
    if (hart_debug_walk(h, va, &w))
        return -1;
    *pa = w.pa;
    return 0;
}

/* Host address of [pa, pa+len) if it is all RAM. */
static uint8_t *ram_at(const struct hart *h, uint64_t pa, size_t len)
{
    uint64_t off = pa - h->mem.base;
    if (pa < h->mem.base || off >= h->mem.size || len > h->mem.size - off)
        return NULL;
    return h->mem.host + off;
}

/* The piece of [va, va+len) inside va's page, as a host pointer. */
static uint8_t *piece(const struct hart *h, int phys, uint64_t va, size_t len, size_t *n, uint64_t *pa)
{
    size_t in_page = 4096 - (size_t)(va & 0xfff);
    *n = len < in_page ? len : in_page;
    if (phys)
        *pa = va;
    else if (hart_debug_translate(h, va, pa))
        return NULL;
    return ram_at(h, *pa, *n);
}

static size_t mem_read(const struct hart *h, int phys, uint64_t va, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n;
        uint64_t pa;
        const uint8_t *p = piece(h, phys, va + done, len - done, &n, &pa);
        if (!p)
            break;
        memcpy((uint8_t *)buf + done, p, n);
        done += n;
    }
    return done;
}

static size_t mem_write(struct hart *h, int phys, uint64_t va, const void *buf, size_t len,
                        struct hart *const *harts, unsigned nharts)
{
    size_t done = 0;
    while (done < len) {
        size_t n;
        uint64_t pa;
        uint8_t *p = piece(h, phys, va + done, len - done, &n, &pa);
        if (!p)
            break;
        memcpy(p, (const uint8_t *)buf + done, n);
        dirty_bitmap_mark(h->mem.dirty, pa - h->mem.base, n);
        /* Decoded copies of what was overwritten must go, on every hart. */
        for (unsigned k = 0; k < nharts; k++)
            for (size_t o = 0; o < n; o += 8)
                hart_code_store(harts[k], pa + o, (unsigned)(n - o < 8 ? n - o : 8));
        done += n;
    }
    return done;
}

size_t hart_debug_read(const struct hart *h, uint64_t va, void *buf, size_t len)
{
    return mem_read(h, 0, va, buf, len);
}

size_t hart_debug_read_phys(const struct hart *h, uint64_t pa, void *buf, size_t len)
{
    return mem_read(h, 1, pa, buf, len);
}

size_t hart_debug_write(struct hart *h, uint64_t va, const void *buf, size_t len, struct hart *const *harts,
                        unsigned nharts)
{
    return mem_write(h, 0, va, buf, len, harts, nharts);
}

size_t hart_debug_write_phys(struct hart *h, uint64_t pa, const void *buf, size_t len, struct hart *const *harts,
                             unsigned nharts)
{
    return mem_write(h, 1, pa, buf, len, harts, nharts);
}

void hart_debug_arm(struct hart *h, int trap_stops, int mask_irqs)
{
    h->debug_step = trap_stops;
    h->debug_irq_mask = mask_irqs;
    h->debug_trapped = 0;
}

int hart_debug_trapped(struct hart *h)
{
    int t = h->debug_trapped;
    h->debug_trapped = 0;
    return t;
}
