/* The board's snapshot state (see virt_snapshot.h). */
#include "machine/virt_snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "devices/clint.h"
#include "devices/plic.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "devices/virtio_input.h"
#include "devices/virtio_mmio.h"

#define VIRT_STATE_VERSION 1u

/* Each part goes into a blob of its own, so a part that reads less or
 * more than it wrote is caught where it happens. */
typedef int save_fn(void *dev, struct snap_writer *w);

static int save_part(struct snap_writer *w, save_fn *fn, void *dev)
{
    struct snap_writer sub;
    snapw_init(&sub);
    int r = fn(dev, &sub);
    if (!r)
        r = sub.err;
    if (!r)
        snapw_blob(w, sub.buf, sub.len);
    snapw_free(&sub);
    return r;
}

static int save_hart(void *h, struct snap_writer *w) { return hart_save(h, w); }
static int save_clint(void *c, struct snap_writer *w) { return clint_save(c, w); }
static int save_plic(void *p, struct snap_writer *w) { return plic_save(p, w); }
static int save_uart(void *u, struct snap_writer *w) { return uart_save(u, w); }
static int save_rtc(void *t, struct snap_writer *w) { return rtc_save(t, w); }
static int save_virtio(void *t, struct snap_writer *w) { return virtio_mmio_save(t, w); }

int virt_save(struct virt *v, struct snap_writer *w, struct errmsg *e)
{
    snapw_u32(w, VIRT_STATE_VERSION);
    snapw_u32(w, v->nharts);
    snapw_u64(w, v->ram.size);
    snapw_u32(w, v->ndevices);
    for (unsigned i = 0; i < v->ndevices; i++)
        snapw_u32(w, v->devices[i].kind);
    snapw_bytes(w, v->rom, sizeof v->rom);
    int r = 0;
    for (unsigned i = 0; i < v->nharts && !r; i++) {
        struct virt_hart *vh = &v->harts[i];
        pthread_mutex_lock(&v->lock);
        int state = vh->state == SBI_HART_SUSPENDED ? SBI_HART_STARTED : vh->state;
        pthread_mutex_unlock(&v->lock);
        snapw_u8(w, (uint8_t)state);
        snapw_u64(w, vh->start_addr);
        snapw_u64(w, vh->start_arg);
        if ((r = save_part(w, save_hart, vh->hart)))
            errmsg_set(e, r, "hart %u: cannot save its state", i);
    }
    if (!r && (r = save_part(w, save_clint, v->clint)))
        errmsg_set(e, r, "CLINT: cannot save its state");
    if (!r && (r = save_part(w, save_plic, v->plic)))
        errmsg_set(e, r, "PLIC: cannot save its state");
    if (!r && (r = save_part(w, save_uart, v->uart)))
        errmsg_set(e, r, "UART: cannot save its state");
    if (!r && (r = save_part(w, save_rtc, v->rtc)))
        errmsg_set(e, r, "RTC: cannot save its state");
    for (unsigned i = 0; i < v->ndevices && !r; i++)
        if ((r = save_part(w, save_virtio, v->devices[i].mmio)))
            errmsg_set(e, r, "device %u (%s): cannot save its state", i,
                       virt_device_kind_name(v->devices[i].kind));
    if (!r && (r = save_part(w, save_virtio, virtio_input_mmio(v->keyboard))))
        errmsg_set(e, r, "keyboard: cannot save its state");
    if (!r && w->err)
        r = errmsg_set(e, w->err, "out of memory for the snapshot state");
    return r;
}

/* Loads one part from its blob; the part must consume it exactly. */
static int load_part(struct snap_reader *r, const char *what, struct errmsg *e,
                     int (*fn)(void *dev, struct snap_reader *r, struct errmsg *e), void *dev)
{
    struct snap_reader sub;
    snapr_sub(r, &sub);
    if (r->err)
        return errmsg_set(e, -EINVAL, "snapshot state: %s: truncated", what);
    struct errmsg why = { "" };
    int rc = fn(dev, &sub, &why);
    if (rc)
        return errmsg_set(e, rc, "snapshot state: %s: %s", what, why.text);
    if (!snapr_ok(&sub))
        return errmsg_set(e, -EINVAL, "snapshot state: %s: %s", what,
                          sub.err ? "truncated" : "longer than its format");
    return 0;
}

static int load_hart(void *h, struct snap_reader *r, struct errmsg *e) { return hart_load(h, r, e); }
static int load_clint(void *c, struct snap_reader *r, struct errmsg *e) { return clint_load(c, r, e); }
static int load_plic(void *p, struct snap_reader *r, struct errmsg *e) { return plic_load(p, r, e); }
static int load_uart(void *u, struct snap_reader *r, struct errmsg *e) { return uart_load(u, r, e); }
static int load_rtc(void *t, struct snap_reader *r, struct errmsg *e) { return rtc_load(t, r, e); }
static int load_virtio(void *t, struct snap_reader *r, struct errmsg *e) { return virtio_mmio_load(t, r, e); }

int virt_load(struct virt *v, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != VIRT_STATE_VERSION)
        return errmsg_set(e, -EINVAL, "snapshot state: board format version %u, expected %u", version,
                          VIRT_STATE_VERSION);
    uint32_t nharts = snapr_u32(r);
    uint64_t mem = snapr_u64(r);
    uint32_t ndev = snapr_u32(r);
    if (r->err)
        return errmsg_set(e, -EINVAL, "snapshot state: truncated");
    if (nharts != v->nharts || mem != v->ram.size || ndev != v->ndevices)
        return errmsg_set(e, -EINVAL, "snapshot state: saved from a machine with %u harts, %" PRIu64 " bytes "
                          "of RAM and %u devices; the configuration gives %u, %" PRIu64 " and %u", nharts, mem,
                          ndev, v->nharts, v->ram.size, v->ndevices);
    for (unsigned i = 0; i < ndev; i++) {
        uint32_t kind = snapr_u32(r);
        if (!r->err && kind != v->devices[i].kind)
            return errmsg_set(e, -EINVAL, "snapshot state: device %u was of kind %u, the configuration "
                              "puts a %s there", i, kind, virt_device_kind_name(v->devices[i].kind));
    }
    snapr_bytes(r, v->rom, sizeof v->rom);
    int rc = 0;
    char what[64];
    for (unsigned i = 0; i < v->nharts && !rc; i++) {
        struct virt_hart *vh = &v->harts[i];
        uint8_t state = snapr_u8(r);
        uint64_t start_addr = snapr_u64(r), start_arg = snapr_u64(r);
        if (r->err)
            return errmsg_set(e, -EINVAL, "snapshot state: truncated");
        if (state != SBI_HART_STARTED && state != SBI_HART_STOPPED && state != SBI_HART_START_PENDING)
            return errmsg_set(e, -EINVAL, "snapshot state: hart %u: HSM state %u", i, state);
        snprintf(what, sizeof what, "hart %u", i);
        if ((rc = load_part(r, what, e, load_hart, vh->hart)))
            return rc;
        pthread_mutex_lock(&v->lock);
        vh->state = state;
        vh->start_addr = start_addr;
        vh->start_arg = start_arg;
        vh->restored = state == SBI_HART_STARTED;
        pthread_mutex_unlock(&v->lock);
    }
    if ((rc = load_part(r, "CLINT", e, load_clint, v->clint)) || (rc = load_part(r, "PLIC", e, load_plic, v->plic)) ||
        (rc = load_part(r, "UART", e, load_uart, v->uart)) || (rc = load_part(r, "RTC", e, load_rtc, v->rtc)))
        return rc;
    for (unsigned i = 0; i < v->ndevices; i++) {
        snprintf(what, sizeof what, "device %u (%s)", i, virt_device_kind_name(v->devices[i].kind));
        if ((rc = load_part(r, what, e, load_virtio, v->devices[i].mmio)))
            return rc;
    }
    if ((rc = load_part(r, "keyboard", e, load_virtio, virtio_input_mmio(v->keyboard))))
        return rc;
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "snapshot state: %s", r->err ? "truncated" : "longer than its format");
    return 0;
}
