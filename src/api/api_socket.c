/* The API socket (see api_socket.h). */
#include "api/api_socket.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/unix_bind.h"

static int fill_addr(struct sockaddr_un *a, const char *path, struct errmsg *e)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof a->sun_path)
        return errmsg_set(e, -ENAMETOOLONG, "--api-sock: a socket path must have 1 to %zu characters, not %zu",
                          sizeof a->sun_path - 1, n);
    memcpy(a->sun_path, path, n);
    return 0;
}

/* Removes a socket file nobody listens on. */
static int clear_stale(const char *path, const struct sockaddr_un *a, struct errmsg *e)
{
    struct stat st;
    if (lstat(path, &st)) {
        if (errno == ENOENT)
            return 0;
        return errmsg_set(e, -errno, "--api-sock %s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return errmsg_set(e, -EEXIST, "--api-sock %s: the path exists and is not a socket; not replacing it", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(e, -errno, "--api-sock %s: socket: %s", path, strerror(errno));
    int live = connect(fd, (const struct sockaddr *)a, sizeof *a) == 0;
    int err = errno;
    close(fd);
    if (live)
        return errmsg_set(e, -EADDRINUSE, "--api-sock %s: another process is serving this socket", path);
    if (err != ECONNREFUSED)
        return errmsg_set(e, -err, "--api-sock %s: cannot tell whether the socket is in use: %s", path,
                          strerror(err));
    if (unlink(path) && errno != ENOENT)
        return errmsg_set(e, -errno, "--api-sock %s: cannot remove the stale socket: %s", path, strerror(errno));
    return 0;
}

int api_socket_listen(const char *path, struct errmsg *e)
{
    struct sockaddr_un a;
    int r = fill_addr(&a, path, e);
    if (!r)
        r = clear_stale(path, &a, e);
    if (r)
        return r;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(e, -errno, "--api-sock %s: socket: %s", path, strerror(errno));
    /* The socket is born 0600: nobody else may ever connect. */
    r = unix_bind_private(fd, (const struct sockaddr *)&a, sizeof a);
    int err = -r;
    if (r) {
        close(fd);
        return errmsg_set(e, -err, "--api-sock %s: bind: %s", path, strerror(err));
    }
    /* The most the kernel allows: a burst of clients (orchestrators start
     * many at once) waits in the queue instead of being refused (a
     * non-blocking connect gets EAGAIN when the queue is full) while the
     * API thread is busy or not scheduled. */
    if (listen(fd, SOMAXCONN)) {
        err = errno;
        close(fd);
        unlink(path);
        return errmsg_set(e, -err, "--api-sock %s: listen: %s", path, strerror(err));
    }
    return fd;
}
