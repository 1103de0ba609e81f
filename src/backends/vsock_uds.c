/* Unix-socket plumbing for virtio-vsock's host side. See vsock_uds.h. */
#include "backends/vsock_uds.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/unix_bind.h"

/* "_" and the ten digits of the largest port. */
#define PORT_SUFFIX 11u

int vsock_uds_listen(const char *path, int *fd, struct errmsg *e)
{
    *fd = -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || !*path)
        return errmsg_set(e, -EINVAL, "vsock: no uds path given");
    if (strlen(path) + PORT_SUFFIX >= sizeof sa.sun_path)
        return errmsg_set(e, -ENAMETOOLONG,
                          "vsock uds path '%s' is too long: with its \"_<port>\" suffix it must fit in %zu bytes",
                          path, sizeof sa.sun_path - 1);
    struct stat st;
    if (lstat(path, &st) == 0)
        return errmsg_set(e, -EEXIST, "vsock uds path '%s' already exists; remove it or choose another", path);
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        int err = errno;
        return errmsg_set(e, -err, "vsock uds '%s': socket: %s", path, strerror(err));
    }
    int br = unix_bind_private(s, (struct sockaddr *)&sa, sizeof sa);
    if (br < 0) {
        int err = -br;
        close(s);
        return errmsg_set(e, -err, "vsock uds '%s': bind: %s", path, strerror(err));
    }
    if (listen(s, 64) < 0) {
        int err = errno;
        close(s);
        unlink(path);
        return errmsg_set(e, -err, "vsock uds '%s': listen: %s", path, strerror(err));
    }
    *fd = s;
    return 0;
}

void vsock_uds_unlink(const char *path)
{
    unlink(path);
}

int vsock_uds_connect_port(const char *path, uint32_t port)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s_%u", path, port);
    if (n < 0 || (size_t)n >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    /* A Unix stream connect completes at once or fails; non-blocking, a
     * full backlog is EAGAIN, which we treat as a refusal rather than let
     * the guest's connection wait on a host program that is not accepting. */
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int err = errno;
        close(s);
        return -err;
    }
    return s;
}

int vsock_uds_parse_connect(const char *line, size_t len, uint32_t *port)
{
    static const char verb[] = "CONNECT ";
    size_t vl = sizeof verb - 1;
    if (len < vl + 2 || memcmp(line, verb, vl) != 0 || line[len - 1] != '\n')
        return -EINVAL;
    uint64_t v = 0;
    size_t digits = len - 1 - vl;
    if (digits > 10)
        return -EINVAL;
    for (size_t i = vl; i < len - 1; i++) {
        if (line[i] < '0' || line[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(line[i] - '0');
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    *port = (uint32_t)v;
    return 0;
}

int vsock_uds_read_connect(int fd, char *line, size_t *have, uint32_t *port)
{
    size_t room = VSOCK_UDS_CMD_MAX - *have;
    if (room == 0)
        return -EINVAL;
    ssize_t n = recv(fd, line + *have, room, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0)
        return -EPIPE;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -EPIPE;
    char *nl = memchr(line + *have, '\n', (size_t)n);
    /* Consume up to the newline only; what follows stays in the socket.
     * Without one, consume all: leaving a partial line there would keep
     * the socket readable and spin a level-triggered loop. */
    size_t take = nl ? (size_t)(nl - (line + *have)) + 1 : (size_t)n;
    if (recv(fd, line + *have, take, MSG_DONTWAIT) != (ssize_t)take)
        return -EPIPE;
    *have += take;
    if (!nl)
        return *have < VSOCK_UDS_CMD_MAX ? 0 : -EINVAL;
    return vsock_uds_parse_connect(line, *have, port) < 0 ? -EINVAL : 1;
}

int vsock_uds_send_ok(int fd, uint32_t hostport)
{
    char line[32];
    int n = snprintf(line, sizeof line, "OK %u\n", hostport);
    ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w == n)
        return 0;
    return w < 0 ? -errno : -EAGAIN;
}
