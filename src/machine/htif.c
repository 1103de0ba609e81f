/* HTIF tohost/fromhost mailbox (see htif.h). */
#include "machine/htif.h"

#include <string.h>

void htif_init(struct htif *t, const struct guest_mem *ram, uint64_t tohost, int has_fromhost, uint64_t fromhost,
               void (*out)(void *opaque, const uint8_t *buf, size_t n), void *out_opaque)
{
    memset(t, 0, sizeof *t);
    t->ram = *ram;
    t->tohost = tohost;
    t->fromhost = fromhost;
    t->has_fromhost = has_fromhost;
    t->out = out;
    t->out_opaque = out_opaque;
}

static uint64_t *word(struct htif *t, uint64_t pa)
{
    return guest_mem_ptr(&t->ram, pa, 8);
}

static int command(struct htif *t)
{
    uint64_t *to = word(t, t->tohost);
    if (!to)
        return 0;
    uint64_t v = __atomic_load_n(to, __ATOMIC_ACQUIRE);
    t->low_pending = 0;
    if (!v)
        return 0;
    unsigned dev = (unsigned)(v >> 56), cmd = (unsigned)(v >> 48) & 0xff;
    uint64_t payload = v & ((1ull << 48) - 1);
    if (dev == 0 && cmd == 0 && (payload & 1)) {
        t->state = HTIF_EXITED;
        t->exit_code = payload >> 1;
        return 1;
    }
    if (dev == 1 && cmd == 1) {
        uint8_t c = (uint8_t)payload;
        if (t->out)
            t->out(t->out_opaque, &c, 1);
        __atomic_store_n(to, 0, __ATOMIC_RELEASE);
        uint64_t *from = t->has_fromhost ? word(t, t->fromhost) : NULL;
        if (from)
            __atomic_store_n(from, (1ull << 56) | (1ull << 48) | 0x100 | c, __ATOMIC_RELEASE);
        return 0;
    }
    t->state = HTIF_UNSUPPORTED;
    t->bad_command = v;
    return 1;
}

int htif_store(struct htif *t, uint64_t pa, unsigned size)
{
    if (pa + size > t->tohost + 4)
        return command(t); /* the high word (or all of it) landed */
    t->low_pending = 1;
    return 0;
}

int htif_poll(struct htif *t)
{
    return t->low_pending ? command(t) : 0;
}
