/* The SiFive test device ("sifive,test0"/"sifive,test1", QEMU virt:
 * 0x00100000) that guests use to power off or reboot the machine: a write
 * to offset 0 of 0x5555 asks for power-off, 0x7777 for a reboot and
 * (code << 16) | 0x3333 for power-off with failure code `code` (32-bit
 * writes; a 16-bit one carries the command with code 0, as on QEMU). Linux
 * reaches it through the syscon-poweroff and syscon-reboot FDT nodes,
 * OpenSBI and bare-metal tests directly. Other values and offsets are
 * ignored; reads return 0.
 *
 * The device keeps no state: it reports each request to the board's
 * callback, which decides how the run ends. */
#ifndef MINNOW_DEVICES_SYSCON_H
#define MINNOW_DEVICES_SYSCON_H

#include <stdint.h>

#include "devices/mmio.h"
#include "util/errmsg.h"

#define SYSCON_BASE 0x00100000ull
#define SYSCON_MMIO_SIZE 0x1000ull

#define SYSCON_VALUE_FAIL 0x3333u
#define SYSCON_VALUE_POWEROFF 0x5555u
#define SYSCON_VALUE_REBOOT 0x7777u

enum syscon_request {
    SYSCON_POWEROFF,   /* 0x5555 */
    SYSCON_REBOOT,     /* 0x7777 */
    SYSCON_FAIL,       /* (code << 16) | 0x3333 */
};

struct syscon_ops {
    /* code is the failure code for SYSCON_FAIL, 0 otherwise. Called on
     * the writing vCPU's thread with no lock held; the board typically
     * records the request and asks every hart to stop. */
    void (*request)(void *opaque, enum syscon_request req, uint32_t code);
    void *opaque;
};

struct syscon;

int syscon_create(struct syscon **out, const struct syscon_ops *ops, struct errmsg *e);
void syscon_destroy(struct syscon *s);

/* Map with opaque = the struct syscon, size SYSCON_MMIO_SIZE. */
extern const struct mmio_ops syscon_mmio_ops;

#endif
