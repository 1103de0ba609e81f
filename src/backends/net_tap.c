/* The TAP network backend. See net_tap.h. The tap fd sits in a private
 * epoll set (the backend's poll_fd) so that turning input off is one
 * epoll_ctl on our own set, invisible to the event loop. */
#include "backends/net_tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Frames read per service call at most, so a busy tap cannot keep the I/O
 * thread from its other devices; the level-triggered loop calls again. */
#define READ_BUDGET 64u

struct net_tap {
    struct net_backend base;    /* first: the ops get a struct net_backend * */
    int fd;
    bool want_rx;
    char name[IFNAMSIZ];
    uint8_t buf[NET_FRAME_MAX];
};

static int tap_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct net_tap *t = (struct net_tap *)b;
    ssize_t n;
    do
        n = writev(t->fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    /* A tap write is one whole frame or nothing. */
    return n < 0 ? -errno : 0;
}

static void tap_service(struct net_backend *b)
{
    struct net_tap *t = (struct net_tap *)b;
    for (unsigned i = 0; i < READ_BUDGET && t->want_rx; i++) {
        ssize_t n = read(t->fd, t->buf, sizeof t->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;   /* EAGAIN: drained; other errors: the level-triggered loop retries */
        if ((size_t)n < NET_FRAME_MIN)
            continue;
        net_backend_deliver(b, t->buf, (size_t)n);
    }
}

static void tap_want_rx(struct net_backend *b, bool want)
{
    struct net_tap *t = (struct net_tap *)b;
    if (want == t->want_rx)
        return;
    struct epoll_event ev = {.events = want ? EPOLLIN : 0};
    if (epoll_ctl(t->base.poll_fd, EPOLL_CTL_MOD, t->fd, &ev) == 0)
        t->want_rx = want;
}

static void tap_close(struct net_backend *b)
{
    struct net_tap *t = (struct net_tap *)b;
    if (t->fd >= 0)
        close(t->fd);
    if (t->base.poll_fd >= 0)
        close(t->base.poll_fd);
    free(t);
}

static const struct net_backend_ops tap_ops = {
    .send = tap_send,
    .service = tap_service,
    .want_rx = tap_want_rx,
    .close = tap_close,
};

int net_tap_open(struct net_backend **out, const char *name, struct errmsg *e)
{
    *out = NULL;
    if (!name || !*name || strlen(name) >= IFNAMSIZ)
        return errmsg_set(e, -EINVAL, "tap '%s': expected an interface name of 1..%d characters",
                          name ? name : "", IFNAMSIZ - 1);
    /* TUNSETIFF would create a missing device when we are privileged; the
     * user asked for an existing one, so a typo must not make a new one. */
    if (if_nametoindex(name) == 0)
        return errmsg_set(e, -ENODEV,
                          "tap '%s': no such network interface (create it first: ip tuntap add dev %s mode tap user $USER)",
                          name, name);
    struct net_tap *t = calloc(1, sizeof *t);
    if (!t)
        return errmsg_set(e, -ENOMEM, "tap '%s': out of memory", name);
    t->base.ops = &tap_ops;
    t->base.poll_fd = -1;
    snprintf(t->name, sizeof t->name, "%s", name);
    int rc;
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        rc = -errno;
        errmsg_set(e, rc, "tap '%s': cannot open /dev/net/tun: %s", name, strerror(-rc));
        goto fail;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        rc = -errno;
        const char *hint = rc == -EPERM ? " (the device must be owned by this user: ip tuntap add dev NAME mode tap user $USER)"
                         : rc == -EBUSY ? " (another program is attached to it)"
                         : rc == -EINVAL ? " (is it a tun device rather than a tap?)" : "";
        errmsg_set(e, rc, "tap '%s': cannot attach: %s%s", name, strerror(-rc), hint);
        goto fail;
    }
    t->base.poll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (t->base.poll_fd < 0 || epoll_ctl(t->base.poll_fd, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
        rc = -errno;
        errmsg_set(e, rc, "tap '%s': epoll: %s", name, strerror(-rc));
        goto fail;
    }
    t->want_rx = true;
    *out = &t->base;
    return 0;
fail:
    tap_close(&t->base);
    return rc;
}
