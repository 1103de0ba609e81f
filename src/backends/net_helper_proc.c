/* The user-mode network helper process: slirp (net_slirp.c, in this
 * process) behind one SOCK_SEQPACKET socket to the monitor. See
 * net_helper.h for why it exists and net_helper_proto.h for what crosses
 * the socket.
 *
 * Frames from slirp for the guest queue here while the helper handles
 * what woke it, and then go to the socket together (sendmmsg), so the
 * monitor wakes once for them, not once a frame. When the monitor cannot
 * take more (its device is out of receive buffers and it stopped
 * reading), up to HELD frames wait here and slirp stops reading its host
 * sockets (want_rx false) until the socket drains: data waits in the host
 * kernel, as it does in process. */
#include "backends/net_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/net_helper_proto.h"
#include "backends/net_helper_sandbox.h"

#define HELD 256u
#define RECV_BATCH 64u
#define SEND_BATCH 64u

struct helper {
    int sock;
    struct net_backend *be;
    bool dead;                 /* the monitor's end is gone */
    bool rx_paused;
    struct { uint8_t *data; size_t len; } held[HELD];
    unsigned head, count;
    uint8_t buf[NET_FRAME_MAX];
};

/* The monitor's pid, for the parent-death signal's handler. Process-wide
 * because a signal handler has nothing else to reach; set once before the
 * handler is installed. */
static pid_t monitor_pid;

/* PR_SET_PDEATHSIG fires when the *thread* that spawned us exits, not only
 * when the monitor does: leave only if our parent really changed. */
static void on_parent_death(int sig)
{
    (void)sig;
    if (getppid() != monitor_pid)
        _exit(0);
}

static void to_monitor(void *opaque, const uint8_t *frame, size_t len)
{
    struct helper *h = opaque;
    uint8_t *copy = !h->dead && h->count < HELD ? malloc(len) : NULL;
    if (!copy)
        return;   /* lost like on a wire; slirp's TCP retransmits */
    memcpy(copy, frame, len);
    unsigned tail = (h->head + h->count) % HELD;
    h->held[tail].data = copy;
    h->held[tail].len = len;
    h->count++;
}

/* Sends the queued frames, SEND_BATCH to a system call. What the socket
 * cannot take waits, and slirp stops reading its host sockets until it
 * drains. */
static void flush_held(struct helper *h)
{
    while (h->count && !h->dead) {
        struct mmsghdr mm[SEND_BATCH];
        struct iovec iov[SEND_BATCH];
        unsigned n = h->count < SEND_BATCH ? h->count : SEND_BATCH;
        memset(mm, 0, n * sizeof mm[0]);
        for (unsigned i = 0; i < n; i++) {
            unsigned k = (h->head + i) % HELD;
            iov[i] = (struct iovec){.iov_base = h->held[k].data, .iov_len = h->held[k].len};
            mm[i].msg_hdr.msg_iov = &iov[i];
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg(h->sock, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR)
            h->dead = true;
        if (sent <= 0)
            break;
        for (int i = 0; i < sent; i++) {
            free(h->held[h->head].data);
            h->head = (h->head + 1) % HELD;
            h->count--;
        }
        if ((unsigned)sent < n)
            break;
    }
    bool full = h->count != 0;
    if (full != h->rx_paused) {
        h->rx_paused = full;
        net_backend_want_rx(h->be, !full);
    }
}

static void from_monitor(struct helper *h)
{
    for (unsigned i = 0; i < RECV_BATCH && !h->dead; i++) {
        ssize_t n = recv(h->sock, h->buf, sizeof h->buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            h->dead = true;
            return;
        }
        if (n < 0)
            return;
        if ((size_t)n < NET_FRAME_MIN)
            continue;
        struct iovec iov = {.iov_base = h->buf, .iov_len = (size_t)n};
        net_backend_send(h->be, &iov, 1);
    }
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static void reply(int sock, int rc, const struct errmsg *e)
{
    struct net_helper_ready r;
    memset(&r, 0, sizeof r);
    r.magic = NET_HELPER_MAGIC;
    r.rc = rc;
    if (rc)
        snprintf(r.text, sizeof r.text, "%s", e->text);
    ssize_t w = send(sock, &r, sizeof r, MSG_NOSIGNAL);
    (void)w;   /* a monitor that is gone learns nothing either way */
}

int net_helper_main(int argc, char **argv)
{
    long fd, ppid;
    if (argc != 4 || parse_int(argv[2], 3, 1 << 20, &fd) || parse_int(argv[3], 1, 1L << 30, &ppid)) {
        fprintf(stderr, "minnow net-helper: internal command, started by minnow itself (usage: net-helper FD PPID)\n");
        return 122;
    }
    monitor_pid = (pid_t)ppid;
    struct sigaction sa = {.sa_handler = on_parent_death};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (prctl(PR_SET_PDEATHSIG, SIGHUP) < 0 || getppid() != monitor_pid)
        _exit(1);   /* the monitor died before we could notice */
    /* Keep only the socket and stderr (sanitizer reports); stdin and
     * stdout become /dev/null so no later socket lands on fd 0 or 1. */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        if (null > 2)
            close(null);
    }
    if (fd > 3)
        close_range(3, (unsigned)fd - 1, 0);
    close_range((unsigned)fd + 1, ~0u, 0);

    struct helper *h = calloc(1, sizeof *h);
    if (!h)
        _exit(1);
    h->sock = (int)fd;
    struct errmsg e = {{0}};
    struct net_helper_hello hello;
    ssize_t n = recv(h->sock, &hello, sizeof hello, 0);
    if (n != (ssize_t)sizeof hello || hello.magic != NET_HELPER_MAGIC || hello.n_hostfwd > NET_SLIRP_MAX_HOSTFWD) {
        errmsg_set(&e, -EPROTO, "network helper: bad configuration message from the monitor");
        reply(h->sock, -EPROTO, &e);
        _exit(1);
    }
    int sndbuf = 4 << 20;
    setsockopt(h->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct net_slirp_options so = {.hostfwd = hello.hostfwd, .n_hostfwd = hello.n_hostfwd};
    int rc = net_slirp_open(&h->be, &so, &e);
    if (!rc)
        rc = net_helper_sandbox_enter(&e);
    reply(h->sock, rc, &e);
    if (rc)
        _exit(1);
    net_backend_set_rx(h->be, to_monitor, h);

    while (!h->dead) {
        struct pollfd p[2] = {
            {.fd = h->sock, .events = (short)(POLLIN | (h->count ? POLLOUT : 0))},
            {.fd = net_backend_poll_fd(h->be), .events = POLLIN},
        };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents & POLLIN)
            from_monitor(h);
        else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
            break;
        if (p[1].revents & POLLIN)
            net_backend_service(h->be);
        flush_held(h);
    }
    /* No cleanup: the kernel closes slirp's sockets, and the sanitizers'
     * exit-time checks would trip the filter. */
    _exit(0);
}
