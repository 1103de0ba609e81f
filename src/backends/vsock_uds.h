/* The host side of virtio-vsock in Firecracker's convention: guest vsock
 * ports map to host Unix sockets.
 * - Host to guest: a host program connects to the socket at uds_path and
 *   writes "CONNECT <port>\n"; once the guest listener on <port> accepts,
 *   it reads "OK <hostport>\n" (the host-side port of the connection) and
 *   the stream is connected.
 * - Guest to host: a guest connection to host CID 2 port P is a connection
 *   to the Unix socket "<uds_path>_<P>", which a host program listens on.
 * These are the socket-level pieces; the connection state machine is in
 * devices/virtio_vsock. All sockets are non-blocking and close-on-exec. */
#ifndef MINNOW_BACKENDS_VSOCK_UDS_H
#define MINNOW_BACKENDS_VSOCK_UDS_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

/* The longest CONNECT line accepted, newline included. */
#define VSOCK_UDS_CMD_MAX 32u

/* Listens at path (which must not exist yet: we never replace someone
 * else's socket) and returns the fd in *fd. path must leave room for the
 * "_<port>" suffix of the guest-to-host sockets. */
int vsock_uds_listen(const char *path, int *fd, struct errmsg *e);
/* Removes the listening socket's file. */
void vsock_uds_unlink(const char *path);

/* Connects to "<path>_<port>". Returns the fd, or a negative errno
 * (-ECONNREFUSED, -ENOENT: nobody listens; -EAGAIN: its backlog is full). */
int vsock_uds_connect_port(const char *path, uint32_t port);

/* Reads the CONNECT line from a freshly accepted host socket into line
 * (VSOCK_UDS_CMD_MAX bytes, *have of them already read; start at 0) without
 * consuming anything after the newline (data the host sent right behind it
 * belongs to the stream). Returns 1 with *port set, 0 if the line is not
 * complete yet (call again when the socket is readable), -EINVAL if it is
 * not "CONNECT <decimal u32>\n" within VSOCK_UDS_CMD_MAX bytes, -EPIPE if
 * the host closed first. */
int vsock_uds_read_connect(int fd, char *line, size_t *have, uint32_t *port);
/* Parses one complete line (newline included). 0 or -EINVAL. */
int vsock_uds_parse_connect(const char *line, size_t len, uint32_t *port);

/* Writes "OK <hostport>\n". 0, or a negative errno if it could not be
 * written whole (a fresh socket always has room for it). */
int vsock_uds_send_ok(int fd, uint32_t hostport);

#endif
