/* The core-local interruptor (SiFive CLINT, i.e. ACLINT MSWI + MTIMER) in
 * QEMU virt's layout at 0x02000000: msip at 0x0 + 4*hart, mtimecmp at
 * 0x4000 + 8*hart, mtime at 0xbff8. mtime counts at CLINT_FREQ_HZ from the
 * host's CLOCK_MONOTONIC (a guest write to mtime moves an offset), and is
 * the platform time the harts' `time` CSR and Sstc's stimecmp compare with
 * (clint_time / clint_time_read).
 *
 * MSIP follows the msip register and MTIP is the level mtime >= mtimecmp;
 * both go to the board through set_pending when they change. Time passes
 * without any register access, so the board asks clint_next_deadline when
 * to look again and calls clint_update then (from a sleeping hart's WFI or
 * a timer thread). A board whose harts compare mtimecmp themselves can
 * follow the register through the optional mtimecmp_changed callback.
 *
 * Locking: one mutex (clint_time reads the clock without it); callbacks
 * are called with it held and must not call
 * back into the CLINT. Lock order: clint -> hart. */
#ifndef MINNOW_DEVICES_CLINT_H
#define MINNOW_DEVICES_CLINT_H

#include <stdint.h>

#include "devices/mmio.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define CLINT_BASE 0x02000000ull
#define CLINT_MMIO_SIZE 0x10000ull
#define CLINT_FREQ_HZ 10000000ull
#define CLINT_MAX_HARTS 16u

struct clint_ops {
    /* Sets or clears mip bit `mip_bit` (1 << 3 MSIP, 1 << 7 MTIP) of a
     * hart. Called only when the level changes. */
    void (*set_pending)(void *opaque, unsigned hart, uint64_t mip_bit, int level);
    /* The guest wrote hart's mtimecmp (may be NULL). */
    void (*mtimecmp_changed)(void *opaque, unsigned hart, uint64_t value);
    void *opaque;
};

struct clint;

int clint_create(struct clint **out, unsigned nharts, const struct clint_ops *ops,
                 struct errmsg *e);
void clint_destroy(struct clint *c);

/* The current mtime. */
uint64_t clint_time(struct clint *c);
/* Stops mtime where it stands (the VM is paused) / lets it run on from
 * there, so the guest sees no time pass while paused. */
void clint_freeze(struct clint *c);
void clint_thaw(struct clint *c);
/* clint_time with an opaque pointer: fits struct hart_clock.read. */
uint64_t clint_time_read(void *opaque);

/* The CLOCK_MONOTONIC time in ns at which hart's MTIP becomes due: in the
 * past (or now) if it already is, UINT64_MAX if never (mtimecmp at its
 * reset value ~0, or beyond what the clock can reach) or hart is out of
 * range. */
uint64_t clint_next_deadline(struct clint *c, unsigned hart);
/* Re-evaluates MTIP of every hart against the current mtime. */
void clint_update(struct clint *c);

/* Snapshot: mtime (as clint_time gives it: the frozen value while the VM
 * is paused), the msip bits and the mtimecmp registers (the harts keep
 * the copy they compare in their own snapshot). load (on a CLINT just created
 * for the same number of harts, before the VM runs) makes mtime go on
 * from the saved value: if the CLINT is frozen it stays frozen there, so
 * clint_thaw continues from it. It then drives every hart's MSIP. */
int clint_save(struct clint *c, struct snap_writer *w);
int clint_load(struct clint *c, struct snap_reader *r, struct errmsg *e);

/* Map with opaque = the struct clint, size CLINT_MMIO_SIZE. msip takes
 * 32-bit accesses; mtimecmp and mtime take 32-bit (either half) and
 * aligned 64-bit accesses. Anything else reads 0 and is ignored. */
extern const struct mmio_ops clint_mmio_ops;

#endif
