/* The interface between the bus and a memory-mapped device. The machine
 * layer maps each device at a base address and forwards guest loads and
 * stores that fall in [base, base+size) with the offset from base. Access
 * sizes are 1, 2, 4 or 8 bytes; a device decides what it does with sizes or
 * offsets it does not implement (usually: reads return 0, writes ignored).
 * Calls may come from any vCPU thread; a device with state shared between
 * threads locks it itself. */
#ifndef MINNOW_DEVICES_MMIO_H
#define MINNOW_DEVICES_MMIO_H

#include <stdint.h>

struct mmio_ops {
    uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
    void (*write)(void *opaque, uint64_t offset, uint64_t value, unsigned size);
};

/* An interrupt line from a device to an interrupt controller. Level-
 * triggered: the device calls set(opaque, source, 1) while it wants
 * service and set(..., 0) when it no longer does. */
struct irq_line {
    void (*set)(void *opaque, unsigned source, int level);
    void *opaque;
    unsigned source;
};

static inline void irq_line_set(const struct irq_line *l, int level)
{
    if (l->set)
        l->set(l->opaque, l->source, level);
}

#endif
