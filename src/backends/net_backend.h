/* The host side of a network device, as virtio-net sees it: something that
 * takes Ethernet frames the guest sends and hands back frames for the
 * guest. Two implementations exist, user-mode networking through libslirp
 * (net_slirp.h) and a host TAP device (net_tap.h); tests add their own.
 *
 * A backend never blocks and never owns a thread. Its host fds sit behind
 * one fd, poll_fd, which the device's owner puts in the I/O thread's event
 * loop; when poll_fd becomes readable the device calls net_backend_service,
 * so all network work runs on the I/O thread without this layer calling up
 * into the event loop (the same shape as backends/chardev.h).
 *
 * Frames for the guest arrive through the rx callback the device installed,
 * from inside net_backend_service or net_backend_send (slirp answers ARP,
 * DHCP and DNS while it takes the guest's frame). A device that cannot take
 * more frames calls net_backend_want_rx(false): the backend stops reading
 * its host fds, so input waits in the host kernel instead of being dropped
 * or spinning a level-triggered loop, until want_rx(true). */
#ifndef MINNOW_BACKENDS_NET_BACKEND_H
#define MINNOW_BACKENDS_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The largest Ethernet frame carried either way: a 64 KiB IP packet behind
 * an Ethernet header with one VLAN tag. No FCS. */
#define NET_FRAME_MAX (65535u + 18u)
/* The smallest: an Ethernet header. */
#define NET_FRAME_MIN 14u

struct net_backend;

/* A frame for the guest, valid only during the call. */
typedef void net_backend_rx_fn(void *opaque, const uint8_t *frame, size_t len);

struct net_backend_ops {
    /* One frame from the guest, gathered from iov (NET_FRAME_MIN ..
     * NET_FRAME_MAX bytes). 0, or a negative errno when the frame was
     * dropped (the host side is full or gone): Ethernet loses frames and
     * the protocols above recover, so the device only counts it.
     * -EPROTO: a validator in front of the stack refused the frame
     * (backends/net_guard.h), counted apart. */
    int (*send)(struct net_backend *b, const struct iovec *iov, int iovcnt);
    /* poll_fd was readable: do the host-side work, deliver frames. */
    void (*service)(struct net_backend *b);
    void (*want_rx)(struct net_backend *b, bool want);
    void (*close)(struct net_backend *b);
};

struct net_backend {
    const struct net_backend_ops *ops;
    int poll_fd;
    net_backend_rx_fn *rx;      /* NULL: frames for the guest are dropped */
    void *rx_opaque;
};

static inline void net_backend_set_rx(struct net_backend *b, net_backend_rx_fn *fn, void *opaque)
{
    b->rx = fn;
    b->rx_opaque = opaque;
}

static inline int net_backend_poll_fd(const struct net_backend *b)
{
    return b->poll_fd;
}

static inline int net_backend_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    return b->ops->send(b, iov, iovcnt);
}

static inline void net_backend_service(struct net_backend *b)
{
    b->ops->service(b);
}

static inline void net_backend_want_rx(struct net_backend *b, bool want)
{
    b->ops->want_rx(b, want);
}

/* Remove poll_fd from the event loop first. NULL is fine. */
static inline void net_backend_close(struct net_backend *b)
{
    if (b)
        b->ops->close(b);
}

/* For implementations: hand one frame to the device. */
static inline void net_backend_deliver(struct net_backend *b, const uint8_t *frame, size_t len)
{
    if (b->rx)
        b->rx(b->rx_opaque, frame, len);
}

#endif
