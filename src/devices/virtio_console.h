/* virtio-console (virtio 1.2 section 5.3), port 0 only: the guest's hvc0,
 * connected to a host chardev (a Unix socket with one client at a time, or
 * a pty). Bytes the guest transmits go to the chardev; bytes from it fill
 * the guest's receive buffers. No feature bits (no MULTIPORT, no SIZE, no
 * EMERG_WRITE): the config space reads as zeros.
 *
 * Output with no client connected is dropped; a connected socket client
 * that does not read holds the guest's transmit queue (see chardev.h).
 * Input waits in the host socket or pty until the guest offers a buffer.
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): the chains
 * held across callbacks, by head, and how much of a held transmit chain
 * was sent; the chardev is new after a restore.
 *
 * To put one on the board:
 *     struct virtio_console_options o = {.chardev = {.kind = CHARDEV_SOCKET, .path = p}};
 *     virtio_console_create(&con, &o, &ram, &irq_line_for_slot, &err);
 *     map &virtio_mmio_ops with opaque virtio_console_mmio(con), VIRTIO_MMIO_SIZE bytes;
 *     event_loop_add_fd(loop, virtio_mmio_kick_fd(virtio_console_mmio(con)),
 *                       virtio_mmio_on_kick, virtio_console_mmio(con), &err);
 *     event_loop_add_fd(loop, virtio_console_host_fd(con), virtio_console_on_host, con, &err);
 * and tell the user virtio_console_name(con) (the pty to attach to).
 * Both registrations must be on the same event loop: the device relies on
 * its callbacks never running at the same time. */
#ifndef MINNOW_DEVICES_VIRTIO_CONSOLE_H
#define MINNOW_DEVICES_VIRTIO_CONSOLE_H

#include "backends/chardev.h"
#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"

/* Queues (spec 5.3.2), port 0 */
#define VIRTIO_CONSOLE_RX 0u
#define VIRTIO_CONSOLE_TX 1u

/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr */
#define VIRTIO_CONSOLE_CFG_SIZE 12u
#define VIRTIO_CONSOLE_QUEUE_SIZE 64u

struct virtio_console_options {
    struct chardev_options chardev;
};

struct virtio_console;

int virtio_console_create(struct virtio_console **out, const struct virtio_console_options *o,
                          const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove both fds from the event loop first. */
void virtio_console_destroy(struct virtio_console *c);

struct virtio_mmio *virtio_console_mmio(struct virtio_console *c);
/* The socket path or pty name the user connects to. */
const char *virtio_console_name(const struct virtio_console *c);
/* The host side's fd and its I/O-thread callback (opaque = the console). */
int virtio_console_host_fd(const struct virtio_console *c);
void virtio_console_on_host(void *console);

#endif
