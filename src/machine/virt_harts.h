/* The virt board's harts: creating them, the start state each one gets,
 * and the board side of minnow's SBI (HSM start/stop/suspend, IPIs, remote
 * fences, timer, reset, console), which the harts reach through their
 * ecall hook in direct kernel boot. Used by virt.c only; the vmm layer
 * uses the functions in virt.h. */
#ifndef MINNOW_MACHINE_VIRT_HARTS_H
#define MINNOW_MACHINE_VIRT_HARTS_H

#include "machine/virt.h"
#include "util/errmsg.h"

/* Creates v->nharts harts on v's RAM and bus and sets their HSM states:
 * in direct boot hart 0 is ready to start at the kernel and the others
 * are stopped; in firmware boot all start at the boot ROM. */
int virt_harts_create(struct virt *v, struct errmsg *e);
void virt_harts_destroy(struct virt *v);

#endif
