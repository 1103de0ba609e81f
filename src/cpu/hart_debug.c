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

int hart_debug_translate(const struct hart *h, uint64_t va, uint64_t *pa)
{
    unsigned mode = (unsigned)(h->satp >> 60);
    if (h->priv_ls == PRIV_M || mode == SATP_MODE_BARE) {
        *pa = va;
        return 0;
    }
    if (mode < SATP_MODE_SV39 || mode > SATP_MODE_SV57)
        return -1;
    unsigned levels = mode - SATP_MODE_SV39 + 3;
    unsigned vabits = 12 + 9 * levels;
    if ((uint64_t)((int64_t)(va << (64 - vabits)) >> (64 - vabits)) != va)
        return -1;
    uint64_t table = (h->satp & PPN_MASK) << 12;
    for (int i = (int)levels - 1; i >= 0; i--) {
        uint64_t pte;
        if (read_pte(h, table + ((va >> (12 + 9 * i)) & 0x1ff) * 8, &pte))
            return -1;
        if (!(pte & PTE_V) || (pte & (PTE_R | PTE_W)) == PTE_W)
            return -1;
        uint64_t ppn = (pte >> 10) & PPN_MASK;
        if (!(pte & (PTE_R | PTE_X))) {
            if (i == 0)
                return -1;
            table = ppn << 12;
            continue;
        }
        uint64_t low = (1ull << (9 * i)) - 1;
        if (ppn & low)
            return -1;
        *pa = (((ppn & ~low) | ((va >> 12) & low)) << 12) | (va & 0xfff);
        return 0;
    }
    return -1;
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
static uint8_t *piece(const struct hart *h, uint64_t va, size_t len, size_t *n, uint64_t *pa)
{
    size_t in_page = 4096 - (size_t)(va & 0xfff);
    *n = len < in_page ? len : in_page;
    if (hart_debug_translate(h, va, pa))
        return NULL;
    return ram_at(h, *pa, *n);
}

size_t hart_debug_read(const struct hart *h, uint64_t va, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        size_t n;
        uint64_t pa;
        const uint8_t *p = piece(h, va + done, len - done, &n, &pa);
        if (!p)
            break;
        memcpy((uint8_t *)buf + done, p, n);
        done += n;
    }
    return done;
}

size_t hart_debug_write(struct hart *h, uint64_t va, const void *buf, size_t len, struct hart *const *harts,
                        unsigned nharts)
{
    size_t done = 0;
    while (done < len) {
        size_t n;
        uint64_t pa;
        uint8_t *p = piece(h, va + done, len - done, &n, &pa);
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
