/* Firecracker's boot timer (its --boot-timer): a pseudo device the guest
 * tells "boot complete" by writing the byte 123 to offset 0, so the host
 * can log how long the boot took. It has no registers to read (reads
 * return 0) and ignores every other size, offset and value, as
 * Firecracker's does. minnow maps it at BOOT_TIMER_BASE (0x4000_0000, the
 * address Firecracker's aarch64 boards use for it; nothing else of
 * minnow's board lives there) only when asked, and it is not in the FDT:
 * a guest reaches it through /dev/mem (busybox: devmem 0x40000000 8 123).
 *
 * The device keeps no state: each signal goes to the board's callback,
 * on the writing vCPU's thread. */
#ifndef MINNOW_DEVICES_BOOT_TIMER_H
#define MINNOW_DEVICES_BOOT_TIMER_H

#include <stdint.h>

#include "devices/mmio.h"

#define BOOT_TIMER_BASE 0x40000000ull
#define BOOT_TIMER_MMIO_SIZE 0x1000ull
#define BOOT_TIMER_MAGIC 123u

struct boot_timer {
    void (*signal)(void *opaque);
    void *opaque;
};

/* opaque: a struct boot_timer. */
extern const struct mmio_ops boot_timer_mmio_ops;

#endif
