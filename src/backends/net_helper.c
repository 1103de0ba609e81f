/* The monitor's side of the user-mode network helper. See net_helper.h.
 *
 * poll_fd is an epoll set of our own holding the socket (EPOLLIN while the
 * device takes frames) and a pidfd of the helper, so its death is seen
 * even while reading is paused, and a dead helper's fds leave the set:
 * nothing stays readable to spin the event loop. */
#include "backends/net_helper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/net_helper_proto.h"

extern char **environ;

#define RECV_BATCH 64u
/* Frames from the guest waiting for room in the socket. A socketpair's
 * datagram queue holds only net.unix.max_dgram_qlen (10) messages: a
 * burst from the guest past that would be lost, and TCP would fall back
 * to its retransmission timer. */
#define TX_HELD 256u
/* Generous: a sanitizer build starts slowly on a loaded machine. */
#define READY_TIMEOUT_MS 30000
#define SELF_EXE "/proc/self/exe"

struct net_helper {
    struct net_backend base;    /* first: the ops get a struct net_backend * */
    pid_t pid;                  /* -1 once reaped */
    int sock;                   /* -1 once the helper is gone */
    int pidfd;
    bool want_rx;
    struct { uint8_t *data; size_t len; } held[TX_HELD];
    unsigned held_head, held_count;
    net_helper_report_fn *report;
    void *report_opaque;
    uint8_t buf[NET_FRAME_MAX];
};

static void report(struct net_helper *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct net_helper *h, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (h->report)
        h->report(h->report_opaque, line);
    else
        fprintf(stderr, "minnow: %s\n", line);
}

static void drop_socket(struct net_helper *h)
{
    if (h->sock < 0)
        return;
    epoll_ctl(h->base.poll_fd, EPOLL_CTL_DEL, h->sock, NULL);
    close(h->sock);
    h->sock = -1;
}

/* The helper exited (the pidfd is readable): say how, once. */
static void reap(struct net_helper *h)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PIDFD, (id_t)h->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
        return;   /* not yet: the pidfd was not what woke us */
    drop_socket(h);
    epoll_ctl(h->base.poll_fd, EPOLL_CTL_DEL, h->pidfd, NULL);
    if (si.si_code == CLD_EXITED)
        report(h, "user network: the network helper (pid %d) exited with status %d; the guest's network is down",
               (int)h->pid, si.si_status);
    else
        report(h, "user network: the network helper (pid %d) was killed by signal %d (%s); the guest's network is down",
               (int)h->pid, si.si_status, strsignal(si.si_status));
    h->pid = -1;
}

static void update_events(struct net_helper *h)
{
    if (h->sock < 0)
        return;
    struct epoll_event ev = {.events = (h->want_rx ? EPOLLIN : 0) | (h->held_count ? EPOLLOUT : 0),
                             .data.fd = h->sock};
    epoll_ctl(h->base.poll_fd, EPOLL_CTL_MOD, h->sock, &ev);
}

static void flush_held(struct net_helper *h)
{
    unsigned before = h->held_count;
    while (h->held_count && h->sock >= 0) {
        if (send(h->sock, h->held[h->held_head].data, h->held[h->held_head].len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS))
            break;
        free(h->held[h->held_head].data);   /* sent, or lost with a dying helper */
        h->held_head = (h->held_head + 1) % TX_HELD;
        h->held_count--;
    }
    if (!h->held_count && before)
        update_events(h);
}

static int helper_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct net_helper *h = (struct net_helper *)b;
    if (h->sock < 0)
        return -EPIPE;
    if (!h->held_count) {
        struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
        if (sendmsg(h->sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS)
            return -errno;
    }
    /* The helper is behind: keep the frame until the socket has room. */
    if (h->held_count == TX_HELD)
        return -EAGAIN;   /* lost like on a wire */
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(copy + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    unsigned tail = (h->held_head + h->held_count) % TX_HELD;
    h->held[tail].data = copy;
    h->held[tail].len = len;
    if (h->held_count++ == 0)
        update_events(h);
    return 0;
}

static void helper_service(struct net_backend *b)
{
    struct net_helper *h = (struct net_helper *)b;
    flush_held(h);
    for (unsigned i = 0; i < RECV_BATCH && h->sock >= 0 && h->want_rx; i++) {
        ssize_t n = recv(h->sock, h->buf, sizeof h->buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (n <= 0) {
            drop_socket(h);   /* the helper is gone or going: its pidfd says how */
            break;
        }
        if ((size_t)n >= NET_FRAME_MIN)
            net_backend_deliver(&h->base, h->buf, (size_t)n);
    }
    if (h->pid > 0)
        reap(h);
}

static void helper_want_rx(struct net_backend *b, bool want)
{
    struct net_helper *h = (struct net_helper *)b;
    if (want == h->want_rx)
        return;
    h->want_rx = want;
    update_events(h);
}

static void helper_close(struct net_backend *b)
{
    struct net_helper *h = (struct net_helper *)b;
    drop_socket(h);
    while (h->held_count) {
        free(h->held[h->held_head].data);
        h->held_head = (h->held_head + 1) % TX_HELD;
        h->held_count--;
    }
    if (h->pid > 0) {
        /* Its forwards' listening sockets close when it is gone, so a VM
         * opened next with the same forwards can bind them. */
        kill(h->pid, SIGKILL);
        while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (h->pidfd >= 0)
        close(h->pidfd);
    if (h->base.poll_fd >= 0)
        close(h->base.poll_fd);
    free(h);
}

static const struct net_backend_ops helper_ops = {
    .send = helper_send,
    .service = helper_service,
    .want_rx = helper_want_rx,
    .close = helper_close,
};

pid_t net_helper_pid(const struct net_backend *b)
{
    return ((const struct net_helper *)b)->pid;
}

static int spawn(struct net_helper *h, const char *exe, int child_fd, struct errmsg *e)
{
    char fd_arg[16], ppid_arg[24];
    snprintf(fd_arg, sizeof fd_arg, "%d", 3);
    snprintf(ppid_arg, sizeof ppid_arg, "%d", (int)getpid());
    char *argv[] = {(char *)"minnow", (char *)"net-helper", fd_arg, ppid_arg, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&fa))
        return errmsg_set(e, -ENOMEM, "user network: out of memory");
    posix_spawnattr_init(&attr);
    /* Default signal handling and an empty mask: the monitor blocks
     * signals in its threads for its own signal thread. */
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    /* The socket becomes fd 3 and nothing else of the monitor's crosses
     * (its fds are not all close-on-exec). */
    int rc = posix_spawn_file_actions_adddup2(&fa, child_fd, 3);
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    if (!rc)
        rc = posix_spawn(&h->pid, exe, &fa, &attr, argv, environ);
    /* No /proc (a jail, vmm/jailer.h): the path this process was started
     * as, which the jailer gives as absolute. */
    const char *started_as = (const char *)getauxval(AT_EXECFN);
    if (rc == ENOENT && !strcmp(exe, SELF_EXE) && started_as && started_as[0] == '/')
        rc = posix_spawn(&h->pid, exe = started_as, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        h->pid = -1;
        return errmsg_set(e, -rc, "user network: cannot start the network helper %s: %s", exe, strerror(rc));
    }
    return 0;
}

/* Waits for the helper's ready message. */
static int await_ready(struct net_helper *h, const char *exe, struct errmsg *e)
{
    struct pollfd p = {.fd = h->sock, .events = POLLIN};
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = READY_TIMEOUT_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return errmsg_set(e, -ETIMEDOUT, "user network: the network helper %s did not start within %d s",
                              exe, READY_TIMEOUT_MS / 1000);
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errmsg_set(e, -errno, "user network: waiting for the network helper: %s", strerror(errno));
        if (r > 0)
            break;
    }
    struct net_helper_ready ready;
    ssize_t n = recv(h->sock, &ready, sizeof ready, MSG_DONTWAIT);
    if (n != (ssize_t)sizeof ready || ready.magic != NET_HELPER_MAGIC)
        return errmsg_set(e, -EPROTO, "user network: the network helper %s did not start (is it minnow %s?)",
                          exe, MINNOW_VERSION);
    if (ready.rc) {
        ready.text[sizeof ready.text - 1] = 0;
        return errmsg_set(e, ready.rc < 0 ? ready.rc : -EINVAL, "%s", ready.text);
    }
    return 0;
}

int net_helper_open(struct net_backend **out, const struct net_helper_options *o, struct errmsg *e)
{
    *out = NULL;
    if (o->slirp.n_hostfwd > NET_SLIRP_MAX_HOSTFWD)
        return errmsg_set(e, -EINVAL, "user network: %u host forwards, at most %u allowed",
                          o->slirp.n_hostfwd, NET_SLIRP_MAX_HOSTFWD);
    struct net_helper *h = calloc(1, sizeof *h);
    if (!h)
        return errmsg_set(e, -ENOMEM, "user network: out of memory");
    h->base.ops = &helper_ops;
    h->pid = -1;
    h->sock = -1;
    h->pidfd = -1;
    h->want_rx = true;
    h->report = o->report;
    h->report_opaque = o->report_opaque;
    const char *exe = o->exe ? o->exe : SELF_EXE;
    int sv[2] = {-1, -1};
    int rc;
    h->base.poll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (h->base.poll_fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = errmsg_set(e, -errno, "user network: epoll/socketpair: %s", strerror(errno));
        goto fail;
    }
    h->sock = sv[0];
    /* dup2 onto fd 3 clears close-on-exec only when the numbers differ. */
    if (sv[1] == 3) {
        int d = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
        close(sv[1]);
        sv[1] = d;
        if (d < 0) {
            rc = errmsg_set(e, -errno, "user network: fcntl: %s", strerror(errno));
            goto fail;
        }
    }
    if ((rc = spawn(h, exe, sv[1], e)) < 0)
        goto fail;
    close(sv[1]);
    sv[1] = -1;
    h->pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
    if (h->pidfd < 0) {
        rc = errmsg_set(e, -errno, "user network: pidfd_open: %s", strerror(errno));
        goto fail;
    }
    struct net_helper_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.magic = NET_HELPER_MAGIC;
    hello.n_hostfwd = o->slirp.n_hostfwd;
    for (unsigned i = 0; i < o->slirp.n_hostfwd; i++)
        hello.hostfwd[i] = o->slirp.hostfwd[i];
    if (send(h->sock, &hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
        rc = errmsg_set(e, -errno, "user network: cannot talk to the network helper: %s", strerror(errno));
        goto fail;
    }
    if ((rc = await_ready(h, exe, e)) < 0)
        goto fail;
    int sndbuf = 4 << 20;
    setsockopt(h->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->sock};
    struct epoll_event pev = {.events = EPOLLIN, .data.fd = h->pidfd};
    if (epoll_ctl(h->base.poll_fd, EPOLL_CTL_ADD, h->sock, &ev) < 0 ||
        epoll_ctl(h->base.poll_fd, EPOLL_CTL_ADD, h->pidfd, &pev) < 0) {
        rc = errmsg_set(e, -errno, "user network: epoll: %s", strerror(errno));
        goto fail;
    }
    *out = &h->base;
    return 0;
fail:
    if (sv[1] >= 0)
        close(sv[1]);
    helper_close(&h->base);
    return rc;
}
