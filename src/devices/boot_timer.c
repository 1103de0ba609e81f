/* The boot timer pseudo device (see boot_timer.h). */
#include "devices/boot_timer.h"

static uint64_t boot_timer_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque, (void)offset, (void)size;
    return 0;
}

static void boot_timer_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    const struct boot_timer *t = opaque;
    if (offset == 0 && size == 1 && (value & 0xff) == BOOT_TIMER_MAGIC && t->signal)
        t->signal(t->opaque);
}

const struct mmio_ops boot_timer_mmio_ops = { .read = boot_timer_read, .write = boot_timer_write };
