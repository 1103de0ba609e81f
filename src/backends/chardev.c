/* Unix-socket and pty host endpoints for byte-stream devices, driven from
 * one internal epoll set. See chardev.h for the behaviour of each kind. */
#include "backends/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/unix_bind.h"

/* epoll tags */
#define TAG_LISTEN 1u
#define TAG_PEER 2u

struct chardev {
    enum chardev_kind kind;
    int epfd;
    int listen_fd;        /* socket kind */
    int peer_fd;          /* the client, or the pty master; -1 if none */
    int slave_fd;         /* pty kind: held open, see chardev.h */
    bool want_input;
    bool out_blocked;     /* a write was short: wait for EPOLLOUT */
    uint32_t peer_events; /* what peer_fd is registered for now */
    char name[108];
};

static int errno_msg(struct errmsg *e, const char *what, const char *path)
{
    int err = errno;
    return errmsg_set(e, -err, "console %s '%s': %s", what, path, strerror(err));
}

static uint32_t peer_wanted(const struct chardev *c)
{
    uint32_t ev = 0;
    if (c->want_input)
        ev |= EPOLLIN;
    if (c->out_blocked)
        ev |= EPOLLOUT;
    /* A socket client leaving must be noticed even while input is off, so
     * the next one can connect. */
    if (c->kind == CHARDEV_SOCKET)
        ev |= EPOLLRDHUP;
    return ev;
}

static void update_peer(struct chardev *c)
{
    if (c->peer_fd < 0)
        return;
    uint32_t ev = peer_wanted(c);
    if (ev == c->peer_events)
        return;
    struct epoll_event e = {.events = ev, .data.u32 = TAG_PEER};
    if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->peer_fd, &e) == 0)
        c->peer_events = ev;
}

static void set_listen(struct chardev *c, bool on)
{
    struct epoll_event e = {.events = on ? EPOLLIN : 0, .data.u32 = TAG_LISTEN};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->listen_fd, &e);
}

/* Socket kind: the client left (or broke); wait for the next one. */
static void disconnect(struct chardev *c)
{
    if (c->kind != CHARDEV_SOCKET || c->peer_fd < 0)
        return;
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->peer_fd, NULL);
    close(c->peer_fd);
    c->peer_fd = -1;
    c->out_blocked = false;
    c->peer_events = 0;
    set_listen(c, true);
}

static int add_peer(struct chardev *c, int fd)
{
    c->peer_fd = fd;
    c->out_blocked = false;
    c->peer_events = peer_wanted(c);
    struct epoll_event e = {.events = c->peer_events, .data.u32 = TAG_PEER};
    return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &e);
}

static int open_socket(struct chardev *c, const char *path, struct errmsg *e)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!path || !*path)
        return errmsg_set(e, -EINVAL, "console socket: no path given");
    if (strlen(path) >= sizeof sa.sun_path)
        return errmsg_set(e, -ENAMETOOLONG, "console socket path '%s' is longer than %zu bytes",
                          path, sizeof sa.sun_path - 1);
    struct stat st;
    if (lstat(path, &st) == 0)
        return errmsg_set(e, -EEXIST, "console socket path '%s' already exists; remove it or choose another",
                          path);
    strcpy(sa.sun_path, path);
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0)
        return errno_msg(e, "socket", path);
    int br = unix_bind_private(c->listen_fd, (struct sockaddr *)&sa, sizeof sa);
    if (br < 0) {
        errno = -br;
        return errno_msg(e, "socket bind", path);
    }
    if (listen(c->listen_fd, 4) < 0) {
        int rc = errno_msg(e, "socket listen", path);
        unlink(path);
        return rc;
    }
    snprintf(c->name, sizeof c->name, "%s", path);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_LISTEN};
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->listen_fd, &ev) < 0) {
        int rc = errno_msg(e, "socket epoll", path);
        unlink(path);
        return rc;
    }
    return 0;
}

static int open_pty(struct chardev *c, struct errmsg *e)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (m < 0)
        return errno_msg(e, "pty", "/dev/ptmx");
    c->peer_fd = m;   /* closed by chardev_close on failure */
    if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, c->name, sizeof c->name) != 0)
        return errno_msg(e, "pty", "/dev/ptmx");
    c->slave_fd = open(c->name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (c->slave_fd < 0)
        return errno_msg(e, "pty", c->name);
    struct termios t;
    if (tcgetattr(c->slave_fd, &t) < 0)
        return errno_msg(e, "pty", c->name);
    cfmakeraw(&t);
    if (tcsetattr(c->slave_fd, TCSANOW, &t) < 0)
        return errno_msg(e, "pty", c->name);
    if (add_peer(c, m) < 0)
        return errno_msg(e, "pty epoll", c->name);
    return 0;
}

int chardev_open(struct chardev **out, const struct chardev_options *o, struct errmsg *e)
{
    *out = NULL;
    struct chardev *c = calloc(1, sizeof *c);
    if (!c)
        return errmsg_set(e, -ENOMEM, "console: out of memory");
    c->kind = o->kind;
    c->listen_fd = c->peer_fd = c->slave_fd = -1;
    c->want_input = true;
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    int rc;
    if (c->epfd < 0)
        rc = errno_msg(e, "epoll", "-");
    else if (o->kind == CHARDEV_SOCKET)
        rc = open_socket(c, o->path, e);
    else if (o->kind == CHARDEV_PTY)
        rc = open_pty(c, e);
    else
        rc = errmsg_set(e, -EINVAL, "console: unknown backend kind %d", (int)o->kind);
    if (rc < 0) {
        c->name[0] = 0;   /* nothing of ours to unlink */
        chardev_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void chardev_close(struct chardev *c)
{
    if (!c)
        return;
    if (c->peer_fd >= 0)
        close(c->peer_fd);
    if (c->slave_fd >= 0)
        close(c->slave_fd);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        if (c->name[0])
            unlink(c->name);
    }
    if (c->epfd >= 0)
        close(c->epfd);
    free(c);
}

const char *chardev_name(const struct chardev *c)
{
    return c->name;
}

int chardev_poll_fd(const struct chardev *c)
{
    return c->epfd;
}

bool chardev_connected(const struct chardev *c)
{
    return c->peer_fd >= 0;
}

unsigned chardev_service(struct chardev *c)
{
    struct epoll_event evs[4];
    unsigned out = 0;
    int n = epoll_wait(c->epfd, evs, 4, 0);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u32 == TAG_LISTEN) {
            if (c->peer_fd >= 0)
                continue;
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0)
                continue;
            if (add_peer(c, fd) < 0) {
                close(fd);
                c->peer_fd = -1;
                continue;
            }
            set_listen(c, false);
            out |= CHARDEV_READABLE | CHARDEV_WRITABLE;
        } else if (c->peer_fd >= 0) {
            uint32_t ev = evs[i].events;
            if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                /* With input on, let chardev_read drain what the client
                 * sent before it left; it sees the end and disconnects. */
                if (c->want_input && (ev & EPOLLIN)) {
                    out |= CHARDEV_READABLE;
                } else {
                    disconnect(c);
                    out |= CHARDEV_WRITABLE;   /* blocked output now drops */
                }
                continue;
            }
            if (ev & EPOLLIN)
                out |= CHARDEV_READABLE;
            if (ev & EPOLLOUT) {
                c->out_blocked = false;
                update_peer(c);
                out |= CHARDEV_WRITABLE;
            }
        }
    }
    return out;
}

size_t chardev_read(struct chardev *c, uint8_t *buf, size_t len)
{
    if (c->peer_fd < 0 || len == 0)
        return 0;
    ssize_t n = read(c->peer_fd, buf, len);
    if (n > 0)
        return (size_t)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    disconnect(c);   /* end of stream or a broken client; a no-op for a pty */
    return 0;
}

void chardev_want_input(struct chardev *c, bool want)
{
    c->want_input = want;
    update_peer(c);
}

size_t chardev_write(struct chardev *c, const uint8_t *buf, size_t len)
{
    if (c->peer_fd < 0 || len == 0)
        return len;   /* no client: dropped */
    ssize_t n = c->kind == CHARDEV_SOCKET ? send(c->peer_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                                          : write(c->peer_fd, buf, len);
    if (n < 0) {
        if (errno == EINTR)
            n = 0;
        else if (errno != EAGAIN) {
            disconnect(c);
            return len;
        } else if (c->kind == CHARDEV_PTY) {
            return len;   /* full pty: dropped, see chardev.h */
        } else {
            n = 0;
        }
    }
    if ((size_t)n < len && c->kind == CHARDEV_SOCKET) {
        c->out_blocked = true;
        update_peer(c);
    }
    if ((size_t)n < len && c->kind == CHARDEV_PTY)
        return len;
    return (size_t)n;
}
