/* Physical address dispatch (see bus.h). Regions are few (a dozen on the
 * virt board), so a binary search over a sorted array is all it takes. */
#include "machine/bus.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void bus_init(struct bus *b, const struct guest_mem *ram)
{
    memset(b, 0, sizeof *b);
    b->ram = *ram;
}

static int overlaps(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
    return a < b + bsize && b < a + asize;
}

int bus_map(struct bus *b, uint64_t base, uint64_t size, const struct mmio_ops *ops, void *opaque,
            const char *name, struct errmsg *e)
{
    if (!size || base + size < base)
        return errmsg_set(e, -EINVAL, "device %s: region at %#" PRIx64 " size %#" PRIx64 " is empty or wraps",
                          name, base, size);
    if (b->ram.size && overlaps(base, size, b->ram.base, b->ram.size))
        return errmsg_set(e, -EINVAL, "device %s at %#" PRIx64 " overlaps RAM [%#" PRIx64 ", %#" PRIx64 ")",
                          name, base, b->ram.base, b->ram.base + b->ram.size);
    if (b->nregions == BUS_MAX_REGIONS)
        return errmsg_set(e, -ENOSPC, "device %s: the bus has no room for more than %d devices", name,
                          BUS_MAX_REGIONS);
    unsigned i = 0;
    while (i < b->nregions && b->regions[i].base < base)
        i++;
    for (unsigned k = 0; k < b->nregions; k++)
        if (overlaps(base, size, b->regions[k].base, b->regions[k].size))
            return errmsg_set(e, -EEXIST, "device %s at %#" PRIx64 " overlaps device %s at %#" PRIx64, name,
                              base, b->regions[k].name, b->regions[k].base);
    memmove(&b->regions[i + 1], &b->regions[i], (b->nregions - i) * sizeof b->regions[0]);
    b->regions[i] = (struct bus_region){ .base = base, .size = size, .ops = ops, .opaque = opaque, .name = name };
    b->nregions++;
    return 0;
}

const struct bus_region *bus_find(const struct bus *b, uint64_t pa, unsigned size)
{
    unsigned lo = 0, hi = b->nregions;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        const struct bus_region *r = &b->regions[mid];
        if (pa < r->base) {
            hi = mid;
        } else if (pa - r->base >= r->size) {
            lo = mid + 1;
        } else {
            /* The whole access must fall inside the region. */
            return size <= r->size - (pa - r->base) ? r : NULL;
        }
    }
    return NULL;
}

int bus_load(void *opaque, uint64_t pa, unsigned size, uint64_t *val)
{
    const struct bus_region *r = bus_find(opaque, pa, size);
    if (!r || !r->ops->read)
        return -1;
    *val = r->ops->read(r->opaque, pa - r->base, size);
    return 0;
}

int bus_store(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
    const struct bus_region *r = bus_find(opaque, pa, size);
    if (!r)
        return -1;
    if (r->ops->write)
        r->ops->write(r->opaque, pa - r->base, val, size);
    return 0;
}
