/* The sifive,test power-off/reboot register. See syscon.h. */
#include "devices/syscon.h"

#include <errno.h>
#include <stdlib.h>

struct syscon {
    struct syscon_ops ops;   /* set at creation, read-only afterwards */
};

static uint64_t syscon_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque;
    (void)offset;
    (void)size;
    return 0;
}

static void syscon_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct syscon *s = opaque;
    /* The command is the low half-word, so (as on QEMU) a 16-bit store
     * counts too, with failure code 0; a byte store cannot carry it. */
    if (offset != 0 || size < 2 || !s->ops.request)
        return;
    uint32_t v = size == 2 ? (uint32_t)(value & 0xffff) : (uint32_t)value;
    switch (v & 0xffff) {
    case SYSCON_VALUE_POWEROFF:
        s->ops.request(s->ops.opaque, SYSCON_POWEROFF, 0);
        break;
    case SYSCON_VALUE_REBOOT:
        s->ops.request(s->ops.opaque, SYSCON_REBOOT, 0);
        break;
    case SYSCON_VALUE_FAIL:
        s->ops.request(s->ops.opaque, SYSCON_FAIL, v >> 16);
        break;
    default:
        break;   /* not a command: ignored, as on the real part */
    }
}

const struct mmio_ops syscon_mmio_ops = {
    .read = syscon_read,
    .write = syscon_write,
};

int syscon_create(struct syscon **out, const struct syscon_ops *ops, struct errmsg *e)
{
    *out = NULL;
    struct syscon *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(e, -ENOMEM, "syscon: out of memory");
    if (ops)
        s->ops = *ops;
    *out = s;
    return 0;
}

void syscon_destroy(struct syscon *s)
{
    free(s);
}
