/* The platform-level interrupt controller (RISC-V PLIC spec 1.0.0) in QEMU
 * virt's layout at 0x0c000000: priorities at 0x0 + 4*source, pending bits
 * at 0x1000, enables at 0x2000 + 0x80*context, threshold and claim/complete
 * at 0x200000 + 0x1000*context. Two contexts per hart: 2h is hart h's
 * M-mode (drives MEIP), 2h+1 its S-mode (drives SEIP).
 *
 * Sources 1..PLIC_NDEV are level-triggered: a device drives its line with
 * plic_set_level (plic_irq_set fits struct irq_line). A source is pending
 * while its line is high and it is not claimed; a claim hands out the
 * highest-priority enabled pending source above the context's threshold
 * (ties go to the lowest id) and holds it until the matching complete.
 * Each context's output is recomputed after every change and pushed to the
 * board through set_pending when it changes.
 *
 * Locking: one mutex; set_pending is called with it held, so the board's
 * callback must not call back into the PLIC (setting an atomic pending word
 * and waking the hart is fine). Lock order: device -> plic -> hart. */
#ifndef MINNOW_DEVICES_PLIC_H
#define MINNOW_DEVICES_PLIC_H

#include <stdint.h>

#include "devices/mmio.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define PLIC_BASE 0x0c000000ull
/* QEMU virt's window; room for 512 harts of contexts. */
#define PLIC_MMIO_SIZE 0x600000ull
/* Highest source id (riscv,ndev in the FDT); source 0 means "none". */
#define PLIC_NDEV 95u
#define PLIC_MAX_HARTS 16u
/* Priorities and thresholds are 3 bits (WARL): 0 = never, 7 = highest. */
#define PLIC_MAX_PRIORITY 7u

struct plic_ops {
    /* Sets (level 1) or clears (level 0) mip bit `mip_bit` (1 << 11 for
     * MEIP, 1 << 9 for SEIP) of hart `hart`. Called with the PLIC lock
     * held, only when the level changes. */
    void (*set_pending)(void *opaque, unsigned hart, uint64_t mip_bit, int level);
    void *opaque;
};

struct plic;

int plic_create(struct plic **out, unsigned nharts, const struct plic_ops *ops,
                struct errmsg *e);
void plic_destroy(struct plic *p);

/* Drives source `source`'s line. Sources outside 1..PLIC_NDEV are ignored. */
void plic_set_level(struct plic *p, unsigned source, int level);
/* plic_set_level with an opaque pointer, for struct irq_line.set. */
void plic_irq_set(void *opaque, unsigned source, int level);

/* Snapshot: priorities, line levels, pending and claimed sources, and
 * each context's enables and threshold. load (on a PLIC just created for
 * the same number of harts, before the VM runs) refuses values the
 * registers could never hold, then pushes every context's output to the
 * harts, changed or not. */
int plic_save(struct plic *p, struct snap_writer *w);
int plic_load(struct plic *p, struct snap_reader *r, struct errmsg *e);

/* Map with opaque = the struct plic, size PLIC_MMIO_SIZE. Registers are
 * 32 bits wide; other access sizes read 0 and are ignored on write. */
extern const struct mmio_ops plic_mmio_ops;

#endif
