/* What a debugger (the vmm's gdb stub) does to a hart that is not running:
 * read and write its registers, read and write memory through its MMU
 * without side effects on the guest (no fault is raised, no A/D bit set,
 * no TLB filled), and arm a single step. Nothing here runs on the hart's
 * own path except the two flags a single step sets (struct hart:
 * debug_step, debug_irq_mask). */
#ifndef MINNOW_CPU_HART_DEBUG_H
#define MINNOW_CPU_HART_DEBUG_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"

uint64_t hart_debug_pc(const struct hart *h);
void hart_debug_set_pc(struct hart *h, uint64_t pc);
uint64_t hart_debug_freg(const struct hart *h, unsigned i);
void hart_debug_set_freg(struct hart *h, unsigned i, uint64_t v);
/* fflags (0x001), frm (0x002), fcsr (0x003): -1 for another CSR. */
int hart_debug_fcsr(const struct hart *h, unsigned csr, uint64_t *v);
int hart_debug_set_fcsr(struct hart *h, unsigned csr, uint64_t v);
/* A CSR as M-mode code would access it, with the same WARL rules and
 * write side effects (TLB flushes, a new translation context), but no
 * privilege or FS check and no instruction retiring: 0, or -1 when the
 * hart has no such CSR (or, for a write, it is read-only). */
int hart_debug_csr_read(struct hart *h, unsigned csr, uint64_t *v);
int hart_debug_csr_write(struct hart *h, unsigned csr, uint64_t v);
unsigned hart_debug_priv(const struct hart *h);
/* 0, 1 or 3; -1 for anything else. */
int hart_debug_set_priv(struct hart *h, unsigned priv);

/* Translates va as the hart's data accesses would (its effective load
 * privilege, satp), reading page tables only. Permission bits are not
 * checked: a debugger sees every mapped page. -1 when va is not mapped. */
int hart_debug_translate(const struct hart *h, uint64_t va, uint64_t *pa);
/* The same walk, step by step, for a debugger to show. */
struct hart_debug_walk {
    unsigned mode;          /* satp.MODE: 0 bare, 8 Sv39, 9 Sv48, 10 Sv57 */
    int untranslated;       /* M-mode (or MPRV to M) or bare: pa = va */
    uint64_t root;          /* the root table's physical address */
    unsigned nlevels;       /* PTEs read (level[0] the root's) */
    struct {
        unsigned level;     /* the spec's i: levels-1 at the root .. 0 */
        uint64_t pte_pa, pte;
    } level[5];
    int mapped;
    uint64_t pa;
    uint64_t page_size;     /* 4 KiB, or a megapage/gigapage... */
    const char *why;        /* not mapped: what stopped the walk */
};
int hart_debug_walk(const struct hart *h, uint64_t va, struct hart_debug_walk *w);
/* Physical reads and writes of RAM (as above, without the MMU). */
size_t hart_debug_read_phys(const struct hart *h, uint64_t pa, void *buf, size_t len);
size_t hart_debug_write_phys(struct hart *h, uint64_t pa, const void *buf, size_t len, struct hart *const *harts,
                             unsigned n);
/* Reads or writes len bytes at virtual address va; RAM only (device
 * registers have side effects). Returns the bytes done, which is less
 * than len where an unmapped page or a non-RAM address starts. A write
 * marks the pages dirty and drops the decoded code it overwrites on the
 * harts in harts[0..n) (every hart of the VM; all stopped). */
size_t hart_debug_read(const struct hart *h, uint64_t va, void *buf, size_t len);
size_t hart_debug_write(struct hart *h, uint64_t va, const void *buf, size_t len, struct hart *const *harts,
                        unsigned n);

/* For a debugger that runs the hart one instruction at a time:
 * trap_stops makes hart_run(h, 1) end (HART_EXIT_STOP) at the first
 * instruction of a trap handler, whether the instruction trapped or an
 * interrupt came, so a breakpoint there is seen; mask_irqs keeps
 * interrupts from being taken (a single step). */
void hart_debug_arm(struct hart *h, int trap_stops, int mask_irqs);
/* Whether hart_run ended for a trap under trap_stops (and forgets it):
 * that HART_EXIT_STOP was the debugger's, not a stop request. */
int hart_debug_trapped(struct hart *h);

#endif
