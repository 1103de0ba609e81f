/* Creating the virt board's virtio devices and their backends (see
 * virt_devices.h). */
#include "machine/virt_devices.h"

#include <errno.h>

#include "backends/net_guard.h"
#include "backends/net_helper.h"
#include "backends/net_slirp.h"
#include "backends/net_tap.h"
#include "devices/boot_timer.h"
#include "devices/plic.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "devices/virtio_input.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "machine/fdt.h"
#include "machine/virt.h"

_Static_assert(VIRT_MAX_DEVICES == FDT_VIRTIO_USER_SLOTS, "one device per user virtio slot");
_Static_assert(FDT_VIRTIO_USER_SLOTS + 1 == FDT_VIRTIO_SLOTS, "the user slots and the keyboard's");
_Static_assert(FDT_VIRTIO_SLOTS <= 64, "virt_devices_slots is a 64-bit mask");
/* The virtio slots' PLIC sources go round the UART's and RTC's and stay
 * within the PLIC's. */
_Static_assert(FDT_VIRTIO_IRQ0 + FDT_VIRTIO_KEYBOARD_SLOT < UART_IRQ && UART_IRQ + 1 == RTC_IRQ &&
                   RTC_IRQ < FDT_VIRTIO_HIGH_IRQ0,
               "PLIC sources: slots 0-8, UART, RTC, slots 9 up");
_Static_assert(FDT_VIRTIO_HIGH_IRQ0 + (FDT_VIRTIO_SLOTS - FDT_VIRTIO_KEYBOARD_SLOT - 2) <= PLIC_NDEV,
               "the last slot's PLIC source exists");
/* The slots end below the boot timer's page. */
_Static_assert(FDT_VIRTIO_BASE + FDT_VIRTIO_SLOTS * FDT_VIRTIO_STRIDE <= BOOT_TIMER_BASE, "virtio slots clash");

/* bus_map keeps the name pointer: one string per slot that lives as long
 * as the program. */
static const char *const slot_names[FDT_VIRTIO_SLOTS] = {
    "virtio slot 0", "virtio slot 1", "virtio slot 2", "virtio slot 3", "virtio slot 4", "virtio slot 5",
    "virtio slot 6", "virtio slot 7", "virtio slot 8 (keyboard)", "virtio slot 9", "virtio slot 10",
    "virtio slot 11", "virtio slot 12", "virtio slot 13", "virtio slot 14", "virtio slot 15",
    "virtio slot 16", "virtio slot 17", "virtio slot 18", "virtio slot 19", "virtio slot 20",
    "virtio slot 21", "virtio slot 22", "virtio slot 23", "virtio slot 24", "virtio slot 25",
    "virtio slot 26", "virtio slot 27", "virtio slot 28", "virtio slot 29", "virtio slot 30",
    "virtio slot 31", "virtio slot 32",
};

const char *virt_device_kind_name(enum virt_device_kind k)
{
    static const char *const names[] = { "drive", "net", "console2", "vsock", "rng", "balloon" };
    return k <= VIRT_DEV_BALLOON ? names[k] : "device";
}

static void add_io(struct virt *v, int fd, void (*fn)(void *), void *opaque)
{
    v->io_fds[v->n_io_fds++] = (struct virt_io_fd){ fd, fn, opaque };
}

static int open_net_backend(const struct net_spec *s, struct net_backend **out, struct errmsg *e)
{
    if (s->kind == NET_SPEC_TAP)
        return net_tap_open(out, s->tap_name, e);
    /* libslirp runs in a confined helper process, behind a validator
     * here: see net_helper.h and net_guard.h for why. */
    struct net_slirp_options so = { .hostfwd = s->hostfwd, .n_hostfwd = s->n_hostfwd, .mtu = net_spec_mtu(s) };
    struct net_helper_options ho = { .slirp = so };
    struct net_backend *stack;
    int r = s->in_process ? net_slirp_open(&stack, &so, e) : net_helper_open(&stack, &ho, e);
    return r ? r : net_guard_wrap(out, stack, e);
}

/* Device i of the configuration goes to slot fdt_virtio_user_slot(i). */
static int create_one(struct virt *v, unsigned i, const struct virt_device_config *c, struct errmsg *e)
{
    unsigned slot = fdt_virtio_user_slot(i);
    struct irq_line irq = { plic_irq_set, v->plic, fdt_virtio_irq(slot) };
    struct virt_device *d = &v->devices[i];
    int r = 0;
    d->kind = c->kind;
    switch (c->kind) {
    case VIRT_DEV_BLK: {
        struct virtio_blk *b;
        if ((r = virtio_blk_create(&b, &c->blk, &v->ram, &irq, e)))
            return r;
        d->dev = b;
        d->mmio = virtio_blk_mmio(b);
        break;
    }
    case VIRT_DEV_NET: {
        struct net_backend *nb;
        if ((r = open_net_backend(&c->net, &nb, e)))
            return r;
        struct virtio_net_options o = { .backend = nb, .has_mac = c->net.has_mac, .mtu = net_spec_mtu(&c->net),
                                        .mmds = c->mmds };
        for (int i = 0; i < 6; i++)
            o.mac[i] = c->net.mac[i];
        struct virtio_net *n;
        if ((r = virtio_net_create(&n, &o, &v->ram, &irq, e)))
            return r; /* the device owns (and closed) the backend from the call on */
        d->dev = n;
        d->mmio = virtio_net_mmio(n);
        add_io(v, virtio_net_host_fd(n), virtio_net_on_host, n);
        break;
    }
    case VIRT_DEV_CONSOLE: {
        struct virtio_console *cn;
        if ((r = virtio_console_create(&cn, &c->console, &v->ram, &irq, e)))
            return r;
        d->dev = cn;
        d->mmio = virtio_console_mmio(cn);
        add_io(v, virtio_console_host_fd(cn), virtio_console_on_host, cn);
        break;
    }
    case VIRT_DEV_VSOCK: {
        struct virtio_vsock *vs;
        if ((r = virtio_vsock_create(&vs, &c->vsock, &v->ram, &irq, e)))
            return r;
        d->dev = vs;
        d->mmio = virtio_vsock_mmio(vs);
        add_io(v, virtio_vsock_host_fd(vs), virtio_vsock_on_host, vs);
        break;
    }
    case VIRT_DEV_RNG: {
        struct virtio_rng *rg;
        if ((r = virtio_rng_create(&rg, &v->ram, &irq, e)))
            return r;
        d->dev = rg;
        d->mmio = virtio_rng_mmio(rg);
        break;
    }
    case VIRT_DEV_BALLOON: {
        struct virtio_balloon *bl;
        if ((r = virtio_balloon_create(&bl, &c->balloon, &v->ram, &irq, e)))
            return r;
        d->dev = bl;
        d->mmio = virtio_balloon_mmio(bl);
        break;
    }
    }
    add_io(v, virtio_mmio_kick_fd(d->mmio), virtio_mmio_on_kick, d->mmio);
    return bus_map(&v->bus, fdt_virtio_base(slot), VIRTIO_MMIO_SIZE, &virtio_mmio_ops, d->mmio, slot_names[slot], e);
}

static int create_keyboard(struct virt *v, struct errmsg *e)
{
    struct irq_line irq = { plic_irq_set, v->plic, fdt_virtio_irq(FDT_VIRTIO_KEYBOARD_SLOT) };
    struct errmsg why = { "" };
    int r = virtio_input_create(&v->keyboard, &v->ram, &irq, &why);
    if (r)
        return errmsg_set(e, r, "keyboard: %s", why.text);
    struct virtio_mmio *t = virtio_input_mmio(v->keyboard);
    add_io(v, virtio_mmio_kick_fd(t), virtio_mmio_on_kick, t);
    return bus_map(&v->bus, fdt_virtio_base(FDT_VIRTIO_KEYBOARD_SLOT), VIRTIO_MMIO_SIZE,
                   &virtio_mmio_ops, t, slot_names[FDT_VIRTIO_KEYBOARD_SLOT], e);
}

int virt_devices_create(struct virt *v, struct errmsg *e)
{
    const struct virt_config *cfg = &v->cfg;
    if (cfg->ndevices > VIRT_MAX_DEVICES)
        return errmsg_set(e, -E2BIG, "%u devices: the board has %u virtio slots", cfg->ndevices,
                          VIRT_MAX_DEVICES);
    unsigned count[VIRT_DEV_BALLOON + 1] = { 0 };
    for (unsigned i = 0; i < cfg->ndevices; i++) {
        const struct virt_device_config *c = &cfg->devices[i];
        unsigned nth = ++count[c->kind];
        if (nth > 1 && (c->kind == VIRT_DEV_VSOCK || c->kind == VIRT_DEV_RNG || c->kind == VIRT_DEV_BALLOON))
            return errmsg_set(e, -EINVAL, "only one %s device per machine", virt_device_kind_name(c->kind));
        struct errmsg why = { "" };
        int r = create_one(v, i, c, &why);
        if (r) {
            v->ndevices = i + 1; /* so destroy sees what was made */
            return errmsg_set(e, r, "%s %u: %s", virt_device_kind_name(c->kind), nth, why.text);
        }
        v->ndevices = i + 1;
    }
    return create_keyboard(v, e);
}

void virt_devices_destroy(struct virt *v)
{
    for (unsigned i = 0; i < v->ndevices; i++) {
        struct virt_device *d = &v->devices[i];
        if (!d->dev)
            continue;
        switch (d->kind) {
        case VIRT_DEV_BLK: virtio_blk_destroy(d->dev); break;
        case VIRT_DEV_NET: virtio_net_destroy(d->dev); break;
        case VIRT_DEV_CONSOLE: virtio_console_destroy(d->dev); break;
        case VIRT_DEV_VSOCK: virtio_vsock_destroy(d->dev); break;
        case VIRT_DEV_RNG: virtio_rng_destroy(d->dev); break;
        case VIRT_DEV_BALLOON: virtio_balloon_destroy(d->dev); break;
        }
        d->dev = NULL;
    }
    v->ndevices = 0;
    virtio_input_destroy(v->keyboard);
    v->keyboard = NULL;
    v->n_io_fds = 0;
}

uint64_t virt_devices_slots(const struct virt *v)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < v->ndevices; i++)
        if (v->devices[i].dev)
            m |= 1ull << fdt_virtio_user_slot(i);
    if (v->keyboard)
        m |= 1ull << FDT_VIRTIO_KEYBOARD_SLOT;
    return m;
}

int virt_send_ctrl_alt_del(struct virt *v, struct errmsg *e)
{
    static const uint16_t keys[] = { VIRTIO_INPUT_KEY_LEFTCTRL, VIRTIO_INPUT_KEY_LEFTALT, VIRTIO_INPUT_KEY_DELETE };
    if (!v->keyboard)
        return errmsg_set(e, -ENODEV, "Ctrl+Alt+Del: the board has no keyboard");
    int r = virtio_input_send_keys(v->keyboard, keys, sizeof keys / sizeof keys[0]);
    if (r == -EBUSY)
        return errmsg_set(e, r, "Ctrl+Alt+Del: the keyboard's queue is full: the guest has not taken the keys "
                          "sent before (no virtio-input driver, or it is not running yet)");
    if (r)
        return errmsg_set(e, r, "Ctrl+Alt+Del: the keyboard refused the keys (error %d)", r);
    return 0;
}
