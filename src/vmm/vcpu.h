/* Drives one hart on the calling thread: runs it in slices, sleeps it in
 * wfi until an interrupt or timer is due, calls the board between slices,
 * and ends the run on a stop request, a crash, or when the instruction
 * watchdog runs out. */
#ifndef MINNOW_VMM_VCPU_H
#define MINNOW_VMM_VCPU_H

#include <stdint.h>

#include "cpu/hart.h"

struct gdb_target;

enum vcpu_end {
    VCPU_END_STOP,      /* hart_request_stop (the board powered off, the test ended...) */
    VCPU_END_CRASH,     /* the hart cannot make progress: hart_crash_reason */
    VCPU_END_WATCHDOG,  /* max_insns instructions ran */
    VCPU_END_DEADLOCK,  /* wfi with no interrupt enabled and wfi_deadlock set */
};

struct vcpu_opts {
    uint64_t max_insns;     /* 0: no limit */
    /* A wfi that only another hart or an interrupt line could end, with
     * no line raised and no enabled timer armed, ends the run (bare metal:
     * nothing else will ever interrupt). */
    int wfi_deadlock;
    /* Called between slices (on the vCPU thread). */
    void (*poll)(void *opaque);
    void *opaque;
    /* A debugger's hold on the hart (vmm/gdb_target.h), or NULL; index
     * is the hart's there. */
    struct gdb_target *gdb;
    unsigned gdb_index;
};

enum vcpu_end vcpu_run(struct hart *h, const struct vcpu_opts *o);

#endif
