/* The bare-metal test machine (see baremetal.h).
 * The UART and the syscon are the board's devices (src/devices), mapped
 * where QEMU's virt board has them; the UART has no interrupt line here
 * (no PLIC in bare-metal mode). */
#include "machine/baremetal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/syscon.h"
#include "devices/uart.h"
#include "machine/elf_image.h"
#include "machine/ram.h"

static void finish(struct baremetal *m, enum baremetal_status s, uint64_t code)
{
    if (m->status == BAREMETAL_RUNNING) {
        m->status = s;
        m->code = code;
    }
    hart_request_stop(m->hart);
}

static void tohost_stored(void *opaque, uint64_t pa, unsigned size, uint64_t val)
{
    struct baremetal *m = opaque;
    (void)val;
    if (htif_store(&m->htif, pa, size)) {
        if (m->htif.state == HTIF_EXITED)
            finish(m, m->htif.exit_code ? BAREMETAL_FAIL : BAREMETAL_PASS, m->htif.exit_code);
        else
            finish(m, BAREMETAL_BAD_HTIF, m->htif.bad_command);
    }
}

void baremetal_poll(void *opaque)
{
    struct baremetal *m = opaque;
    if (m->has_htif && htif_poll(&m->htif)) {
        if (m->htif.state == HTIF_EXITED)
            finish(m, m->htif.exit_code ? BAREMETAL_FAIL : BAREMETAL_PASS, m->htif.exit_code);
        else
            finish(m, BAREMETAL_BAD_HTIF, m->htif.bad_command);
    }
}

static void syscon_request(void *opaque, enum syscon_request req, uint32_t code)
{
    struct baremetal *m = opaque;
    switch (req) {
    case SYSCON_POWEROFF: finish(m, BAREMETAL_PASS, 0); break;
    case SYSCON_FAIL: finish(m, BAREMETAL_FAIL, code); break;
    case SYSCON_REBOOT: finish(m, BAREMETAL_RESET, 0); break;
    }
}

int baremetal_create(struct baremetal **out, const struct baremetal_config *cfg, struct errmsg *e)
{
    struct baremetal *m = calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, -ENOMEM, "out of memory for the machine");
    m->out = cfg->out;
    m->out_opaque = cfg->out_opaque;
    int r = ram_create(&m->ram, BAREMETAL_RAM_BASE, cfg->mem_size, e);
    if (r)
        goto fail;
    struct elf_image_info info;
    r = elf_image_load(cfg->program, &m->ram, &info, e);
    if (r)
        goto fail;
    m->entry = info.entry;
    bus_init(&m->bus, &m->ram);
    struct syscon_ops sops = { .request = syscon_request, .opaque = m };
    struct uart_ops uops = { .out = cfg->out, .opaque = cfg->out_opaque };
    if ((r = syscon_create(&m->syscon, &sops, e)) || (r = uart_create(&m->uart, &uops, NULL, e)))
        goto fail;
    if ((r = bus_map(&m->bus, SYSCON_BASE, SYSCON_MMIO_SIZE, &syscon_mmio_ops, m->syscon, "syscon", e)) ||
        (r = bus_map(&m->bus, UART_BASE, UART_MMIO_SIZE, &uart_mmio_ops, m->uart, "uart", e)))
        goto fail;

    struct hart_config hc = {
        .hartid = 0,
        .engine = cfg->engine,
        .mem = { .host = m->ram.host, .base = m->ram.base, .size = m->ram.size },
        .bus = { .load = bus_load, .store = bus_store, .opaque = &m->bus,
                 .watch = tohost_stored, .watch_opaque = m },
        .crash_detect = 1,
    };
    if (info.has_tohost) {
        if (!guest_mem_ptr(&m->ram, info.tohost, 8)) {
            r = errmsg_set(e, -ERANGE, "%s: symbol tohost at %#llx is not in RAM", cfg->program,
                           (unsigned long long)info.tohost);
            goto fail;
        }
        m->has_htif = 1;
        htif_init(&m->htif, &m->ram, info.tohost, info.has_fromhost && guest_mem_ptr(&m->ram, info.fromhost, 8),
                  info.fromhost, cfg->out, cfg->out_opaque);
        hc.mem.watch_lo = info.tohost;
        hc.mem.watch_hi = info.tohost + 8;
    }
    r = hart_create(&m->hart, &hc, e);
    if (r)
        goto fail;
    hart_reset(m->hart, info.entry, PRIV_M, 0, 0);
    *out = m;
    return 0;
fail:
    baremetal_destroy(m);
    return r;
}

void baremetal_destroy(struct baremetal *m)
{
    if (!m)
        return;
    hart_destroy(m->hart);
    uart_destroy(m->uart);
    syscon_destroy(m->syscon);
    ram_destroy(&m->ram);
    free(m);
}
