/* The host side of a byte-stream guest device (virtio-console): either a
 * Unix socket we listen on, serving one client at a time, or a pty whose
 * name we report so the user can attach (screen, picocom, cat).
 *
 * A chardev never blocks and never owns a thread. All its host fds sit in
 * one internal epoll set, chardev_poll_fd, which the device's owner puts in
 * the I/O thread's event loop; when it becomes readable the device calls
 * chardev_service and then reads or writes. That keeps all device work on
 * the I/O thread without this layer calling up into the event loop.
 *
 * What happens to output nobody takes, by kind:
 * - socket, no client connected: the bytes are dropped, as a serial line
 *   with no cable; a connected client that does not read back-pressures the
 *   writer (chardev_write takes fewer bytes and the poll fd signals
 *   CHARDEV_WRITABLE later), so a slow client loses nothing.
 * - pty: we hold the slave open ourselves (so the master never hangs up and
 *   spins the loop) in raw mode (so our output is not echoed back as
 *   input); output that does not fit in the pty's buffer is dropped, so a
 *   pty nobody watches never stalls the guest. */
#ifndef MINNOW_BACKENDS_CHARDEV_H
#define MINNOW_BACKENDS_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

enum chardev_kind {
    CHARDEV_SOCKET,   /* listen on a Unix socket at path */
    CHARDEV_PTY,      /* open a pty; see chardev_name */
};

struct chardev_options {
    enum chardev_kind kind;
    /* CHARDEV_SOCKET: where to listen. Nothing may exist there yet (we do
     * not silently replace a file or another program's socket); the socket
     * is removed again by chardev_close. */
    const char *path;
};

/* What chardev_service found. */
#define CHARDEV_READABLE 1u   /* input may be waiting: call chardev_read */
#define CHARDEV_WRITABLE 2u   /* a back-pressured write may go on */

struct chardev;

int chardev_open(struct chardev **out, const struct chardev_options *o, struct errmsg *e);
/* Remove chardev_poll_fd from the event loop first. */
void chardev_close(struct chardev *c);

/* The socket path, or the pty slave's path (e.g. /dev/pts/3) to attach to. */
const char *chardev_name(const struct chardev *c);
/* Readable when chardev_service has something to do. */
int chardev_poll_fd(const struct chardev *c);
/* Handles what made the poll fd readable (a client connecting or leaving,
 * readiness); returns CHARDEV_* bits for the device. */
unsigned chardev_service(struct chardev *c);

/* Reads up to len bytes of input; 0 when there is none now (no client,
 * nothing typed, or the client went away: a new one may connect). */
size_t chardev_read(struct chardev *c, uint8_t *buf, size_t len);
/* Whether the device wants input events now: a device with no guest buffer
 * to put input in turns them off, or a level-triggered loop would spin. */
void chardev_want_input(struct chardev *c, bool want);
/* Offers len bytes of output; returns how many were taken (written or
 * dropped, see the top of this file). Fewer than len: wait for
 * CHARDEV_WRITABLE and offer the rest again. */
size_t chardev_write(struct chardev *c, const uint8_t *buf, size_t len);
/* Whether a client is connected (always true for a pty). */
bool chardev_connected(const struct chardev *c);

#endif
