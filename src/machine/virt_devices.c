/* Creating the virt board's virtio devices and their backends (see
 * virt_devices.h). */
#include "machine/virt_devices.h"

#include <errno.h>
#include <stdio.h>

#include "backends/net_slirp.h"
#include "backends/net_tap.h"
#include "devices/plic.h"
#include "devices/virtio_mmio.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "machine/fdt.h"
#include "machine/virt.h"

_Static_assert(VIRT_MAX_DEVICES == FDT_VIRTIO_SLOTS, "one device per virtio slot");

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
    struct net_slirp_options o = { .hostfwd = s->hostfwd, .n_hostfwd = s->n_hostfwd };
    return net_slirp_open(out, &o, e);
}

static int create_one(struct virt *v, unsigned slot, const struct virt_device_config *c, struct errmsg *e)
{
    struct irq_line irq = { plic_irq_set, v->plic, FDT_VIRTIO_IRQ0 + slot };
    struct virt_device *d = &v->devices[slot];
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
        struct virtio_net_options o = { .backend = nb, .has_mac = c->net.has_mac };
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
    char name[32];
    snprintf(name, sizeof name, "virtio slot %u", slot);
    return bus_map(&v->bus, FDT_VIRTIO_BASE + slot * FDT_VIRTIO_STRIDE, VIRTIO_MMIO_SIZE, &virtio_mmio_ops,
                   d->mmio, name, e);
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
    return 0;
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
    v->n_io_fds = 0;
}

uint32_t virt_devices_slots(const struct virt *v)
{
    uint32_t m = 0;
    for (unsigned i = 0; i < v->ndevices; i++)
        if (v->devices[i].dev)
            m |= 1u << i;
    return m;
}
