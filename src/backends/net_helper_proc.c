/* The user-mode network helper process: slirp (net_slirp.c, in this
 * process) behind one SOCK_SEQPACKET socket to the monitor. See
 * net_helper.h for why it exists and net_helper_proto.h for what crosses
 * the socket.
 *
 * Frames cross in the two rings the monitor made (net_ring.h); the socket
 * carries wake-ups only. Frames from slirp for the guest go into the ring
 * while the helper handles what woke it, and the monitor is shown them
 * (and woken, if it sleeps) once at the end of the pass. When the ring is
 * full (the device is out of receive buffers and the monitor stopped
 * taking frames), up to HELD frames wait here and slirp stops reading its
 * host sockets (want_rx false) until the monitor makes room: data waits
 * in the host kernel, as it does in process. */
#include "backends/net_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/net_helper_proto.h"
#include "backends/net_helper_sandbox.h"
#include "backends/net_ring.h"

#define HELD 256u
#define RECV_BATCH 64u

struct helper {
    int sock;
    struct net_backend *be;
    bool dead;                 /* the monitor's end is gone */
    bool rx_paused;
    bool more;                 /* the monitor's ring was not emptied: no sleep */
    struct net_ring from, to;  /* the guest's frames, and frames for the guest */
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

/* Wakes the monitor; a full socket means a wake-up is on its way. */
static void kick(struct helper *h)
{
    if (send(h->sock, "k", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
        errno != ENOBUFS)
        h->dead = true;
}

static void to_monitor(void *opaque, const uint8_t *frame, size_t len)
{
    struct helper *h = opaque;
    if (h->dead)
        return;
    if (!h->count) {
        struct iovec iov = {.iov_base = (void *)frame, .iov_len = len};
        int rc = net_ring_put(&h->to, &iov, 1, len);
        if (rc == -EPIPE)
            h->dead = true;
        if (rc != -EAGAIN)
            return;
    }
    uint8_t *copy = h->count < HELD ? malloc(len) : NULL;
    if (!copy)
        return;   /* lost like on a wire; slirp's TCP retransmits */
    memcpy(copy, frame, len);
    unsigned tail = (h->head + h->count) % HELD;
    h->held[tail].data = copy;
    h->held[tail].len = len;
    h->count++;
}

/* Moves held frames into the ring as it has room and shows the monitor
 * what this pass made. While frames wait, slirp stops reading its host
 * sockets: data waits in the host kernel, as it does in process. */
static void flush_held(struct helper *h)
{
    while (h->count && !h->dead) {
        struct iovec iov = {.iov_base = h->held[h->head].data, .iov_len = h->held[h->head].len};
        int rc = net_ring_put(&h->to, &iov, 1, iov.iov_len);
        if (rc == -EAGAIN) {
            if (net_ring_wait_room(&h->to, iov.iov_len))
                break;   /* the monitor wakes us when it has made room */
            continue;
        }
        if (rc == -EPIPE)
            h->dead = true;
        free(h->held[h->head].data);
        h->head = (h->head + 1) % HELD;
        h->count--;
    }
    if (!h->dead && net_ring_publish(&h->to))
        kick(h);
    bool full = h->count != 0;
    if (full != h->rx_paused) {
        h->rx_paused = full;
        net_backend_want_rx(h->be, !full);
    }
}

/* Reads a wake-up (the rings say what it was for); should there be
 * more, the socket stays readable and the next poll returns at once. */
static void drain_kick(struct helper *h)
{
    char byte;
    ssize_t n = recv(h->sock, &byte, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        h->dead = true;
}

static void from_monitor(struct helper *h)
{
    h->more = false;
    for (unsigned i = 0; i < RECV_BATCH && !h->dead; i++) {
        long n = net_ring_get(&h->from, h->buf);
        if (n == 0 && !net_ring_wait_data(&h->from))
            continue;   /* a frame arrived as we were about to sleep */
        if (n < 0)
            h->dead = true;
        if (n <= 0)
            break;
        struct iovec iov = {.iov_base = h->buf, .iov_len = (size_t)n};
        net_backend_send(h->be, &iov, 1);
        h->more = i + 1 == RECV_BATCH;
    }
    if (!h->dead && net_ring_consumed(&h->from))
        kick(h);
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
    long fd, ring_fd, ppid;
    if (argc != 5 || parse_int(argv[2], 3, 1 << 20, &fd) || parse_int(argv[3], 3, 1 << 20, &ring_fd) ||
        fd == ring_fd || parse_int(argv[4], 1, 1L << 30, &ppid)) {
        fprintf(stderr, "minnow net-helper: internal command, started by minnow itself "
                        "(usage: net-helper SOCKET-FD RING-FD PPID)\n");
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
     * stdout become /dev/null so no later socket lands on fd 0 or 1. The
     * rings' memory is mapped, and its fd closed, first. */
    void *shm = mmap(NULL, 2 * NET_RING_AREA, PROT_READ | PROT_WRITE, MAP_SHARED, (int)ring_fd, 0);
    if (shm == MAP_FAILED)
        _exit(1);   /* the monitor sees the socket close before a ready */
    close((int)ring_fd);
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
    net_ring_attach(&h->from, shm);
    net_ring_attach(&h->to, (uint8_t *)shm + NET_RING_AREA);
    net_ring_wait_data(&h->from);   /* asleep until the first frame */
    struct errmsg e = {{0}};
    struct net_helper_hello hello;
    ssize_t n = recv(h->sock, &hello, sizeof hello, 0);
    if (n != (ssize_t)sizeof hello || hello.magic != NET_HELPER_MAGIC || hello.n_hostfwd > NET_SLIRP_MAX_HOSTFWD ||
        hello.mtu > NET_FRAME_MAX - 18u) {
        errmsg_set(&e, -EPROTO, "network helper: bad configuration message from the monitor");
        reply(h->sock, -EPROTO, &e);
        _exit(1);
    }
    struct net_slirp_options so = {.hostfwd = hello.hostfwd, .n_hostfwd = hello.n_hostfwd, .mtu = hello.mtu};
    int rc = net_slirp_open(&h->be, &so, &e);
    if (!rc)
        rc = net_helper_sandbox_enter(&e);
    reply(h->sock, rc, &e);
    if (rc)
        _exit(1);
    net_backend_set_rx(h->be, to_monitor, h);

    while (!h->dead) {
        struct pollfd p[2] = {
            {.fd = h->sock, .events = POLLIN},
            {.fd = net_backend_poll_fd(h->be), .events = POLLIN},
        };
        if (poll(p, 2, h->more ? 0 : -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents & POLLIN)
            drain_kick(h);
        else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL))
            break;
        from_monitor(h);
        if (p[1].revents & POLLIN)
            net_backend_service(h->be);
        flush_held(h);
    }
    /* No cleanup: the kernel closes slirp's sockets, and the sanitizers'
     * exit-time checks would trip the filter. */
    _exit(0);
}
