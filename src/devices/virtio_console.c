/* virtio-console port 0 between the guest's queues and a chardev. See
 * virtio_console.h.
 *
 * Everything but the reset hook runs on the I/O thread. A chain may be
 * held across callbacks: an rx chain while no input is waiting, a tx chain
 * while a socket client back-pressures. */
#include "devices/virtio_console.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Input copied per receive buffer at most: bounds the stack buffer and
 * the time one callback takes. */
#define RX_CHUNK 4096u

struct virtio_console {
    struct virtio_mmio *t;
    struct chardev *cd;
    /* Set by the reset hook (vCPU thread, transport lock held), consumed on
     * the I/O thread: held chains belong to the old rings. */
    atomic_bool reset_pending;
    bool rx_held, tx_held;
    uint64_t tx_done;              /* bytes of the held tx chain taken */
    struct virtq_chain rx, tx;
};

static uint64_t con_config_read(void *opaque, uint32_t off, unsigned size)
{
    (void)opaque;
    (void)off;
    (void)size;
    return 0;   /* no feature that gives the config fields a meaning */
}

static void con_reset(void *opaque)
{
    struct virtio_console *c = opaque;
    atomic_store(&c->reset_pending, true);
}

static void check_reset(struct virtio_console *c)
{
    if (atomic_exchange(&c->reset_pending, false)) {
        c->rx_held = c->tx_held = false;
        c->tx_done = 0;
        chardev_want_input(c->cd, true);
    }
}

/* Moves waiting input into the guest's receive buffers. */
static void rx_pump(struct virtio_console *c)
{
    uint8_t buf[RX_CHUNK];
    bool pushed = false;
    for (;;) {
        if (!c->rx_held) {
            if (virtio_mmio_pop(c->t, VIRTIO_CONSOLE_RX, &c->rx) <= 0) {
                /* Nowhere to put input: stop listening for it until the
                 * guest offers buffers, or the loop would spin. */
                chardev_want_input(c->cd, false);
                break;
            }
            c->rx_held = true;
        }
        uint64_t room = c->rx.writable_len < RX_CHUNK ? c->rx.writable_len : RX_CHUNK;
        if (room == 0) {
            /* spec 5.3.6: receive buffers are device-writable; one with no
             * writable byte can carry nothing. Give it back empty. */
            virtio_mmio_push(c->t, &c->rx, 0);
            c->rx_held = false;
            pushed = true;
            continue;
        }
        chardev_want_input(c->cd, true);
        size_t n = chardev_read(c->cd, buf, (size_t)room);
        if (n == 0)
            break;   /* keep the buffer for the next input */
        virtq_chain_write(&c->rx, 0, buf, n);
        virtio_mmio_push(c->t, &c->rx, (uint32_t)n);
        c->rx_held = false;
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(c->t, VIRTIO_CONSOLE_RX);
}

/* Sends the guest's output to the chardev until it is all taken or the
 * client back-pressures. */
static void tx_pump(struct virtio_console *c)
{
    bool pushed = false;
    for (;;) {
        if (!c->tx_held) {
            if (virtio_mmio_pop(c->t, VIRTIO_CONSOLE_TX, &c->tx) <= 0)
                break;
            c->tx_held = true;
            c->tx_done = 0;
        }
        /* Only the device-readable part is output; writable buffers in a
         * transmit chain are ignored (spec: the driver must not add them). */
        bool blocked = false;
        uint64_t off = 0;
        for (unsigned k = 0; k < c->tx.n_readable && !blocked; k++) {
            const struct virtq_seg *s = &c->tx.seg[k];
            if (off + s->len <= c->tx_done) {
                off += s->len;
                continue;
            }
            uint64_t skip = c->tx_done - off;
            size_t left = (size_t)(s->len - skip);
            size_t took = chardev_write(c->cd, (const uint8_t *)s->host + skip, left);
            c->tx_done += took;
            off += s->len;
            blocked = took < left;
        }
        if (blocked)
            break;   /* chardev signals CHARDEV_WRITABLE when it can go on */
        virtio_mmio_push(c->t, &c->tx, 0);
        c->tx_held = false;
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(c->t, VIRTIO_CONSOLE_TX);
}

static void con_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_console *c = opaque;
    check_reset(c);
    if (queue == VIRTIO_CONSOLE_RX)
        rx_pump(c);
    else if (queue == VIRTIO_CONSOLE_TX)
        tx_pump(c);
}

void virtio_console_on_host(void *console)
{
    struct virtio_console *c = console;
    check_reset(c);
    unsigned ev = chardev_service(c->cd);
    if (ev & CHARDEV_WRITABLE)
        tx_pump(c);
    if (ev & CHARDEV_READABLE)
        rx_pump(c);
}

#define SNAP_VERSION 1u

/* The chains held across callbacks, by head (load walks them again from
 * the restored rings), and how much of the held transmit chain the
 * chardev already took. The chardev is new after a restore: a socket
 * client must connect again. */
static int con_save(void *opaque, struct snap_writer *w)
{
    struct virtio_console *c = opaque;
    check_reset(c);
    bool rx = c->rx_held && virtio_mmio_chain_current(c->t, &c->rx);
    bool tx = c->tx_held && virtio_mmio_chain_current(c->t, &c->tx);
    snapw_u32(w, SNAP_VERSION);
    snapw_u8(w, rx);
    snapw_u16(w, rx ? c->rx.head : 0);
    snapw_u8(w, tx);
    snapw_u16(w, tx ? c->tx.head : 0);
    snapw_u64(w, tx ? c->tx_done : 0);
    return w->err;
}

static int con_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    struct virtio_console *c = opaque;
    /* A reset flagged by an earlier failed load would otherwise drop what
     * this one restores at the first callback. */
    check_reset(c);
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-console: state version %u, expected %u", version, SNAP_VERSION);
    uint8_t rx = snapr_u8(r);
    uint16_t rx_head = snapr_u16(r);
    uint8_t tx = snapr_u8(r);
    uint16_t tx_head = snapr_u16(r);
    uint64_t tx_done = snapr_u64(r);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-console: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);
    if (rx > 1 || tx > 1)
        return errmsg_set(e, -EINVAL, "virtio-console: receive chain held %u, transmit chain held %u: expected 0 or 1 each",
                          rx, tx);
    struct errmsg ce;
    if (rx) {
        if (virtio_mmio_chain_at(c->t, VIRTIO_CONSOLE_RX, rx_head, &c->rx, &ce) < 0)
            return errmsg_set(e, -EINVAL, "virtio-console: held receive chain: %s", ce.text);
        c->rx_held = true;
    }
    if (tx) {
        if (virtio_mmio_chain_at(c->t, VIRTIO_CONSOLE_TX, tx_head, &c->tx, &ce) < 0)
            return errmsg_set(e, -EINVAL, "virtio-console: held transmit chain: %s", ce.text);
        if (tx_done > c->tx.readable_len)
            return errmsg_set(e, -EINVAL, "virtio-console: %llu bytes of the held transmit chain sent, but it has %llu",
                              (unsigned long long)tx_done, (unsigned long long)c->tx.readable_len);
        c->tx_held = true;
        c->tx_done = tx_done;
    }
    return 0;
}

static const struct virtio_device_ops con_ops = {
    .config_read = con_config_read,
    .queue_notify = con_queue_notify,
    .reset = con_reset,
    .save = con_save,
    .load = con_load,
};

int virtio_console_create(struct virtio_console **out, const struct virtio_console_options *o,
                          const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    struct virtio_console *c = calloc(1, sizeof *c);
    if (!c)
        return errmsg_set(e, -ENOMEM, "virtio-console: out of memory");
    int rc = chardev_open(&c->cd, &o->chardev, e);
    if (rc < 0) {
        free(c);
        return rc;
    }
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_CONSOLE,
        .num_queues = 2,
        .queue_max = VIRTIO_CONSOLE_QUEUE_SIZE,
        .config_size = VIRTIO_CONSOLE_CFG_SIZE,
        .ops = &con_ops,
        .opaque = c,
    };
    rc = virtio_mmio_create(&c->t, &dev, mem, irq, e);
    if (rc < 0) {
        chardev_close(c->cd);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void virtio_console_destroy(struct virtio_console *c)
{
    if (!c)
        return;
    virtio_mmio_destroy(c->t);
    chardev_close(c->cd);
    free(c);
}

struct virtio_mmio *virtio_console_mmio(struct virtio_console *c)
{
    return c->t;
}

const char *virtio_console_name(const struct virtio_console *c)
{
    return chardev_name(c->cd);
}

int virtio_console_host_fd(const struct virtio_console *c)
{
    return chardev_poll_fd(c->cd);
}
