/* The physical address space of a machine: RAM plus a small sorted array
 * of memory-mapped device regions. The hart reaches RAM directly through
 * its TLB and comes here only for what is not RAM (bus_load, bus_store
 * have the signatures of struct hart_bus); an address no region claims
 * answers -1, which the hart turns into an access fault. */
#ifndef MINNOW_MACHINE_BUS_H
#define MINNOW_MACHINE_BUS_H

#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "util/errmsg.h"

#define BUS_MAX_REGIONS 64

struct bus_region {
    uint64_t base, size;
    const struct mmio_ops *ops;
    void *opaque;
    const char *name;
};

struct bus {
    struct guest_mem ram;
    struct bus_region regions[BUS_MAX_REGIONS]; /* sorted by base, disjoint */
    unsigned nregions;
};

void bus_init(struct bus *b, const struct guest_mem *ram);

/* Maps a device at [base, base+size). Fails, naming the device, if the
 * range is empty, wraps, or overlaps RAM or another device. */
int bus_map(struct bus *b, uint64_t base, uint64_t size, const struct mmio_ops *ops, void *opaque,
            const char *name, struct errmsg *e);

/* The region holding [pa, pa+size), or NULL. */
const struct bus_region *bus_find(const struct bus *b, uint64_t pa, unsigned size);

/* opaque is the struct bus. Return 0, or -1 when nothing is mapped there. */
int bus_load(void *opaque, uint64_t pa, unsigned size, uint64_t *val);
int bus_store(void *opaque, uint64_t pa, unsigned size, uint64_t val);

#endif
