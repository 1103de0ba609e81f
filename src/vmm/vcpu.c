/* The vCPU loop (see vcpu.h). */
#include "vmm/vcpu.h"

#include "vmm/gdb_target.h"

/* Instructions per hart_run call: long enough to amortise the call, short
 * enough that board polling (HTIF) and the watchdog react quickly. */
#define VCPU_SLICE (1u << 20)

/* Whether anything but another hart could ever end this wfi: an enabled
 * interrupt line from a device, or an enabled timer that is armed. */
static int can_wake(struct hart *h)
{
    uint64_t lines = atomic_load(&h->mip_ext) | h->mip_sw;
    if (h->mie & ~(MIP_MTIP | MIP_STIP) & lines)
        return 1;
    if ((h->mie & MIP_MTIP) && hart_get_mtimecmp(h) != UINT64_MAX)
        return 1;
    if ((h->mie & MIP_STIP) && (h->menvcfg & (1ull << 63)) && h->stimecmp != UINT64_MAX)
        return 1;
    return 0;
}

enum vcpu_end vcpu_run(struct hart *h, const struct vcpu_opts *o)
{
    uint64_t ran = 0;
    for (;;) {
        uint64_t budget = VCPU_SLICE;
        if (o->max_insns && o->max_insns - ran < budget)
            budget = o->max_insns - ran;
        uint64_t before = hart_instret(h);
        enum hart_exit r = o->gdb ? gdb_target_run(o->gdb, o->gdb_index, budget) : hart_run(h, budget);
        ran += hart_instret(h) - before;
        if (o->poll)
            o->poll(o->opaque);
        /* A device may have ended the run (syscon, HTIF) just before the
         * hart reached a wfi or the end of its budget. */
        if (r != HART_EXIT_CRASH && atomic_load(&h->stop_requested)) {
            atomic_store(&h->stop_requested, 0);
            return VCPU_END_STOP;
        }
        switch (r) {
        case HART_EXIT_STOP:
            return VCPU_END_STOP;
        case HART_EXIT_CRASH:
            return VCPU_END_CRASH;
        case HART_EXIT_WFI:
            if (o->wfi_deadlock && !can_wake(h))
                return VCPU_END_DEADLOCK;
            hart_wait(h, 0);
            break;
        case HART_EXIT_BUDGET:
            break;
        }
        if (o->max_insns && ran >= o->max_insns)
            return VCPU_END_WATCHDOG;
    }
}
