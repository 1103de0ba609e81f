/* The virt board's state in a snapshot: the boot ROM, each hart's SBI HSM
 * state and registers (cpu/hart.h: hart_save), CLINT, PLIC, UART, RTC and
 * every virtio slot (transport, queues and device, devices/virtio_mmio.h)
 * including the keyboard's.
 * Guest RAM is not in it: the vmm layer writes that to the memory file.
 *
 * virt_save runs with every hart parked and the I/O thread held (the vmm
 * layer's vm_snapshot does both), so nothing changes under it; devices
 * finish their in-flight work first. virt_load runs on a board made by
 * virt_create from the same configuration with cfg.restore set, before
 * any hart thread starts; it refuses a state whose shape (harts, RAM size,
 * device kinds) does not match that board, and any value out of range. */
#ifndef MINNOW_MACHINE_VIRT_SNAPSHOT_H
#define MINNOW_MACHINE_VIRT_SNAPSHOT_H

#include "machine/virt.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

int virt_save(struct virt *v, struct snap_writer *w, struct errmsg *e);
int virt_load(struct virt *v, struct snap_reader *r, struct errmsg *e);

#endif
