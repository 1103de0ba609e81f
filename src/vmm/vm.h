/* Running a virt-board VM to its end: one host thread per hart (each runs
 * its hart with vcpu_run, sleeping in wfi), the host terminal wired to the
 * guest console, SIGINT/SIGTERM/SIGHUP turned into an orderly stop (the
 * terminal mode is always restored), and the board's timers (RTC alarm,
 * panic grace period) on the calling thread. */
#ifndef MINNOW_VMM_VM_H
#define MINNOW_VMM_VM_H

#include <stdint.h>

#include "machine/virt.h"
#include "util/errmsg.h"

struct vm_result {
    enum virt_end end;
    uint32_t code;            /* VIRT_FAIL: the guest's failure code */
    char report[4096];        /* VIRT_CRASH: the crashed hart's state */
};

/* Builds the board from cfg (console_out is set by the VM), runs it until
 * it ends and fills *res. If dump_dtb is set, writes the FDT there and
 * returns without running. Returns 0, or a negative code with a message
 * when the VM could not be built or started. */
int vm_run(const struct virt_config *cfg, const char *dump_dtb, struct vm_result *res, struct errmsg *e);

#endif
