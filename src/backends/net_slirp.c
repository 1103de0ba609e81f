/* The libslirp network backend. See net_slirp.h.
 *
 * libslirp wants a poll() loop: before sleeping, slirp_pollfds_fill names
 * the fds to watch and a timeout; after, slirp_pollfds_poll reads the
 * results. Here the "sleep" is the event loop: after every call into slirp
 * (a frame from the guest, a service step) the fill result is mirrored into
 * our epoll set, which is the backend's poll_fd, and the timeout and slirp's
 * own timers arm one timerfd in the same set. When poll_fd fires, a
 * zero-timeout poll() on the filled array gives slirp its revents.
 *
 * Mirroring fills into epoll needs to know when an fd number is closed and
 * reused for a new socket: slirp reports both (register_poll_fd,
 * unregister_poll_fd), and we drop or refresh the registration then. */
#include "backends/net_slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct watch {
    int fd;
    uint32_t events;    /* registered in epoll now */
    bool seen;          /* named by the latest fill */
    bool stale;         /* the fd number may be a new socket: re-register */
};

struct stimer {
    struct stimer *next;
    SlirpTimerCb cb;    /* old-style timer; NULL: call slirp_handle_timer */
    SlirpTimerId id;
    void *cb_opaque;
    int64_t expire_ms;
    bool armed, due;
};

struct net_slirp {
    struct net_backend base;    /* first: the ops get a struct net_backend * */
    Slirp *slirp;
    int timer_fd;
    bool want_rx;
    struct pollfd *pfd;         /* the latest fill, indexed as slirp knows it */
    unsigned n_pfd, cap_pfd;
    struct watch *w;            /* what our epoll set holds */
    unsigned n_w, cap_w;
    struct stimer *timers;
    uint64_t guest_errors;
    uint8_t txbuf[NET_FRAME_MAX];
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- callbacks from slirp ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    if (len >= NET_FRAME_MIN && len <= NET_FRAME_MAX)
        net_backend_deliver(&s->base, buf, len);
    /* A frame the device could not take is lost like on a wire; slirp's
     * TCP retransmits. Never an error: slirp would tear the flow down. */
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    struct net_slirp *s = opaque;
    (void)msg;   /* nothing below the CLI prints; the count is for tests and stats */
    s->guest_errors++;
}

static int64_t cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static struct stimer *timer_alloc(struct net_slirp *s)
{
    struct stimer *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->next = s->timers;
    s->timers = t;
    return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct stimer *t = timer_alloc(opaque);
    if (t) {
        t->cb = cb;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct stimer *t = timer_alloc(opaque);
    if (t) {
        t->id = id;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct net_slirp *s = opaque;
    for (struct stimer **p = &s->timers; *p; p = &(*p)->next) {
        if (*p == timer) {
            struct stimer *t = *p;
            *p = t->next;
            free(t);
            return;
        }
    }
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct stimer *t = timer;
    if (!t)
        return;
    t->expire_ms = expire_ms;
    t->armed = true;
}

static struct watch *find_watch(struct net_slirp *s, int fd)
{
    for (unsigned i = 0; i < s->n_w; i++)
        if (s->w[i].fd == fd)
            return &s->w[i];
    return NULL;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
    /* A new socket: if its number is one we watch, that registration was
     * for a closed socket (epoll forgot it at close). */
    struct watch *w = find_watch(opaque, fd);
    if (w)
        w->stale = true;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
    struct net_slirp *s = opaque;
    struct watch *w = find_watch(s, fd);
    if (!w)
        return;
    /* Still open here (slirp closes it next): drop it while we can. */
    epoll_ctl(s->base.poll_fd, EPOLL_CTL_DEL, fd, NULL);
    *w = s->w[--s->n_w];
}

static void cb_notify(void *opaque)
{
    /* slirp asks the loop to look again; every entry point here already
     * refills after calling slirp. */
    (void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

static int add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->n_pfd == s->cap_pfd) {
        unsigned cap = s->cap_pfd ? 2 * s->cap_pfd : 32;
        struct pollfd *p = realloc(s->pfd, cap * sizeof *p);
        if (!p)
            return -1;   /* not watched this round; slirp treats -1 as "no events" */
        s->pfd = p;
        s->cap_pfd = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    s->pfd[s->n_pfd] = (struct pollfd){.fd = fd, .events = ev};
    return (int)s->n_pfd++;
}

static int get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || (unsigned)idx >= s->n_pfd)
        return 0;
    short r = s->pfd[idx].revents;
    int ev = 0;
    if (r & POLLIN)
        ev |= SLIRP_POLL_IN;
    if (r & POLLOUT)
        ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI)
        ev |= SLIRP_POLL_PRI;
    if (r & POLLERR)
        ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP)
        ev |= SLIRP_POLL_HUP;
    return ev;
}

/* While the device takes no frames, host sockets are not read (their data
 * waits in the kernel and TCP windows close); writes to them go on. */
static short wanted(const struct net_slirp *s, short events)
{
    return s->want_rx ? events : (short)(events & ~(POLLIN | POLLPRI));
}

static void watch_fd(struct net_slirp *s, int fd, uint32_t events)
{
    struct watch *w = find_watch(s, fd);
    if (w) {
        w->seen = true;
        if (w->events == events && !w->stale)
            return;
        struct epoll_event ev = {.events = events, .data.fd = fd};
        if (epoll_ctl(s->base.poll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
            epoll_ctl(s->base.poll_fd, EPOLL_CTL_ADD, fd, &ev);
        w->events = events;
        w->stale = false;
        return;
    }
    if (s->n_w == s->cap_w) {
        unsigned cap = s->cap_w ? 2 * s->cap_w : 32;
        struct watch *p = realloc(s->w, cap * sizeof *p);
        if (!p)
            return;   /* unwatched until the next fill; its timeout still runs slirp */
        s->w = p;
        s->cap_w = cap;
    }
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(s->base.poll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        if (errno != EEXIST || epoll_ctl(s->base.poll_fd, EPOLL_CTL_MOD, fd, &ev) < 0)
            return;
    }
    s->w[s->n_w++] = (struct watch){.fd = fd, .events = events, .seen = true};
}

/* Asks slirp what to watch next and mirrors it into the epoll set and the
 * timerfd. Called after every call into slirp. */
static void refill(struct net_slirp *s)
{
    s->n_pfd = 0;
    uint32_t timeout = UINT32_MAX;
    slirp_pollfds_fill(s->slirp, &timeout, add_poll, s);

    for (unsigned i = 0; i < s->n_w; i++)
        s->w[i].seen = false;
    for (unsigned i = 0; i < s->n_pfd; i++) {
        short ev = wanted(s, s->pfd[i].events);
        uint32_t e = (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) | (ev & POLLPRI ? EPOLLPRI : 0);
        if (e)
            watch_fd(s, s->pfd[i].fd, e);
    }
    for (unsigned i = 0; i < s->n_w;) {
        if (s->w[i].seen) {
            i++;
            continue;
        }
        epoll_ctl(s->base.poll_fd, EPOLL_CTL_DEL, s->w[i].fd, NULL);
        s->w[i] = s->w[--s->n_w];
    }

    int64_t now = now_ns();
    int64_t deadline = timeout == UINT32_MAX ? INT64_MAX : now + (int64_t)timeout * 1000000;
    for (struct stimer *t = s->timers; t; t = t->next)
        if (t->armed && t->expire_ms * 1000000 < deadline)
            deadline = t->expire_ms * 1000000;
    struct itimerspec its = {0};
    if (deadline != INT64_MAX) {
        if (deadline <= now)
            deadline = now + 1;   /* 0 would disarm */
        its.it_value.tv_sec = deadline / 1000000000;
        its.it_value.tv_nsec = deadline % 1000000000;
    }
    timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void run_timers(struct net_slirp *s)
{
    int64_t now_ms = now_ns() / 1000000;
    for (struct stimer *t = s->timers; t; t = t->next)
        t->due = t->armed && t->expire_ms <= now_ms;
    /* A callback may re-arm or free timers: rescan from the head each time,
     * firing each timer that was due at most once. */
    for (;;) {
        struct stimer *t = s->timers;
        while (t && !t->due)
            t = t->next;
        if (!t)
            break;
        t->due = false;
        t->armed = false;
        if (t->cb)
            t->cb(t->cb_opaque);
        else
            slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
    }
}

/* ---- backend ops ---- */

static int slirp_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct net_slirp *s = (struct net_slirp *)b;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > sizeof s->txbuf - len)
            return -EMSGSIZE;
        memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
        len += iov[i].iov_len;
    }
    slirp_input(s->slirp, s->txbuf, (int)len);
    refill(s);
    return 0;
}

static void slirp_service(struct net_backend *b)
{
    struct net_slirp *s = (struct net_slirp *)b;
    uint64_t expirations;
    ssize_t r = read(s->timer_fd, &expirations, sizeof expirations);
    (void)r;   /* EAGAIN when it was a socket that woke us */
    int select_error = 0;
    if (s->n_pfd) {
        for (unsigned i = 0; i < s->n_pfd; i++)
            s->pfd[i].events = wanted(s, s->pfd[i].events);
        int n = poll(s->pfd, s->n_pfd, 0);
        if (n < 0) {
            select_error = errno != EINTR;
            for (unsigned i = 0; i < s->n_pfd; i++)
                s->pfd[i].revents = 0;
        }
    }
    slirp_pollfds_poll(s->slirp, select_error, get_revents, s);
    run_timers(s);
    refill(s);
}

static void slirp_want_rx(struct net_backend *b, bool want)
{
    struct net_slirp *s = (struct net_slirp *)b;
    if (want == s->want_rx)
        return;
    s->want_rx = want;
    refill(s);
}

static void slirp_close(struct net_backend *b)
{
    struct net_slirp *s = (struct net_slirp *)b;
    if (s->slirp)
        slirp_cleanup(s->slirp);
    while (s->timers) {
        struct stimer *t = s->timers;
        s->timers = t->next;
        free(t);
    }
    if (s->timer_fd >= 0)
        close(s->timer_fd);
    if (s->base.poll_fd >= 0)
        close(s->base.poll_fd);
    free(s->pfd);
    free(s->w);
    free(s);
}

static const struct net_backend_ops slirp_ops = {
    .send = slirp_send,
    .service = slirp_service,
    .want_rx = slirp_want_rx,
    .close = slirp_close,
};

int net_slirp_open(struct net_backend **out, const struct net_slirp_options *o, struct errmsg *e)
{
    *out = NULL;
    if (o->n_hostfwd > NET_SLIRP_MAX_HOSTFWD)
        return errmsg_set(e, -EINVAL, "user network: %u host forwards, at most %u allowed",
                          o->n_hostfwd, NET_SLIRP_MAX_HOSTFWD);
    struct net_slirp *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(e, -ENOMEM, "user network: out of memory");
    s->base.ops = &slirp_ops;
    s->want_rx = true;
    s->timer_fd = -1;
    int rc;
    s->base.poll_fd = epoll_create1(EPOLL_CLOEXEC);
    s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = s->timer_fd};
    if (s->base.poll_fd < 0 || s->timer_fd < 0 ||
        epoll_ctl(s->base.poll_fd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0) {
        rc = -errno;
        errmsg_set(e, rc, "user network: epoll/timerfd: %s", strerror(-rc));
        goto fail;
    }

    SlirpConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.version = 4;   /* timer_new_opaque, disable_dhcp (libslirp >= 4.7) */
    cfg.in_enabled = true;
    cfg.if_mtu = cfg.if_mru = o->mtu;   /* 0: slirp's default */
    cfg.restricted = o->restricted;
    inet_pton(AF_INET, NET_SLIRP_NETWORK, &cfg.vnetwork);
    inet_pton(AF_INET, NET_SLIRP_NETMASK, &cfg.vnetmask);
    inet_pton(AF_INET, NET_SLIRP_HOST, &cfg.vhost);
    inet_pton(AF_INET, NET_SLIRP_DHCP_START, &cfg.vdhcp_start);
    inet_pton(AF_INET, NET_SLIRP_DNS, &cfg.vnameserver);
    cfg.in6_enabled = true;
    inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
    cfg.vprefix_len = 64;
    inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
    inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);
    cfg.vhostname = "minnow";
    s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
    if (!s->slirp) {
        rc = errmsg_set(e, -ENOMEM, "user network: libslirp could not start");
        goto fail;
    }
    for (unsigned i = 0; i < o->n_hostfwd; i++) {
        const struct net_hostfwd *f = &o->hostfwd[i];
        errno = 0;
        if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr, f->guest_port) < 0) {
            int err = errno ? errno : EADDRINUSE;
            char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &f->host_addr, h, sizeof h);
            inet_ntop(AF_INET, &f->guest_addr, g, sizeof g);
            rc = errmsg_set(e, -err, "hostfwd %s:%s:%u-%s:%u: cannot listen on %s port %u: %s",
                            f->udp ? "udp" : "tcp", h, f->host_port, g, f->guest_port, h, f->host_port,
                            strerror(err));
            goto fail;
        }
    }
    refill(s);
    *out = &s->base;
    return 0;
fail:
    slirp_close(&s->base);
    return rc;
}
