/* The monitor's side of the user-mode network helper. See net_helper.h.
 *
 * Frames cross in two rings in one shared memory file (net_ring.h): area
 * 0 carries the guest's frames to the helper, area 1 the helper's to the
 * guest. The socket carries only wake-ups (a byte: "look at the rings")
 * and shows the helper's end going away.
 *
 * poll_fd is an epoll set of our own holding the socket, an eventfd with
 * which we wake ourselves (frames left in the ring after a pass, or the
 * device taking frames again) and a pidfd of the helper, so its death is
 * seen even while reading is paused, and a dead helper's fds leave the
 * set: nothing stays readable to spin the event loop. */
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
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/net_helper_proto.h"
#include "backends/net_ring.h"

extern char **environ;

/* Frames for the guest handled in one pass; more wait for the next, so
 * the event loop's other devices get their turn. */
#define RECV_BATCH 64u
/* Frames from the guest waiting for room in the ring, which the helper
 * frees as slirp takes them. Past that they are lost, as on a wire. */
#define TX_HELD 256u
/* Generous: a sanitizer build starts slowly on a loaded machine. */
#define READY_TIMEOUT_MS 30000
#define SELF_EXE "/proc/self/exe"

struct net_helper {
    struct net_backend base;    /* first: the ops get a struct net_backend * */
    pid_t pid;                  /* -1 once reaped */
    int sock;                   /* -1 once the helper is gone */
    int pidfd;
    int wake_fd;                /* eventfd: another pass is due */
    bool woke_self;             /* wake_fd holds a count to read */
    bool want_rx;
    void *shm;                  /* the two rings' areas */
    struct net_ring tx, rx;     /* we produce tx and consume rx */
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

/* Wakes the helper: it looks at both rings. A full socket means a
 * wake-up is already on its way. */
static void kick(struct net_helper *h)
{
    if (h->sock >= 0 && send(h->sock, "k", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
        errno != EWOULDBLOCK && errno != ENOBUFS)
        drop_socket(h);   /* the helper is gone or going: its pidfd says how */
}

static void wake_self(struct net_helper *h)
{
    if (h->woke_self)
        return;
    h->woke_self = true;
    uint64_t one = 1;
    ssize_t w = write(h->wake_fd, &one, sizeof one);
    (void)w;   /* only fails when the counter is already huge: awake */
}

/* The helper wrote an impossible index or length into a ring: it is
 * not the helper we started. */
static void ring_broken(struct net_helper *h)
{
    if (h->sock < 0)
        return;
    report(h, "user network: the network helper (pid %d) broke the frame ring; the guest's network is down",
           (int)h->pid);
    drop_socket(h);
}

static void free_held_front(struct net_helper *h)
{
    free(h->held[h->held_head].data);
    h->held_head = (h->held_head + 1) % TX_HELD;
    h->held_count--;
}

static void flush_held(struct net_helper *h)
{
    while (h->held_count) {
        struct iovec iov = {.iov_base = h->held[h->held_head].data, .iov_len = h->held[h->held_head].len};
        int rc = h->sock < 0 ? -EPIPE : net_ring_put(&h->tx, &iov, 1, iov.iov_len);
        if (rc == -EAGAIN) {
            if (net_ring_wait_room(&h->tx, iov.iov_len))
                break;   /* the helper wakes us when it has made room */
            continue;
        }
        if (rc == -EPIPE)
            ring_broken(h);
        free_held_front(h);   /* in the ring, or lost with a dying helper */
    }
    if (h->sock >= 0 && net_ring_publish(&h->tx))
        kick(h);
}

static int helper_send(struct net_backend *b, const struct iovec *iov, int iovcnt)
{
    struct net_helper *h = (struct net_helper *)b;
    if (h->sock < 0)
        return -EPIPE;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (!h->held_count) {
        int rc = net_ring_put(&h->tx, iov, iovcnt, len);
        if (rc == 0 && net_ring_publish(&h->tx))
            kick(h);
        if (rc == -EPIPE)
            ring_broken(h);
        if (rc != -EAGAIN)
            return rc;
    }
    /* The helper is behind: keep the frame until the ring has room. */
    if (h->held_count == TX_HELD)
        return -EAGAIN;   /* lost like on a wire */
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
        flush_held(h);   /* room may have appeared already; if not, ask for it */
    return 0;
}

/* Reads the wake-ups that may have brought us here: ours, and one of the
 * helper's (it sends one per sleep of ours; should there be more, the
 * socket stays readable and brings us back). */
static void drain_wakeups(struct net_helper *h)
{
    if (h->woke_self) {
        uint64_t n;
        ssize_t r = read(h->wake_fd, &n, sizeof n);
        (void)r;
        h->woke_self = false;
    }
    char byte;
    ssize_t got = h->sock < 0 ? 1 : recv(h->sock, &byte, 1, MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        drop_socket(h);   /* the helper is gone or going: its pidfd says how */
}

static void receive(struct net_helper *h)
{
    unsigned i = 0;
    for (; i < RECV_BATCH && h->want_rx && h->sock >= 0; i++) {
        long n = net_ring_get(&h->rx, h->buf);
        if (n == 0 && !net_ring_wait_data(&h->rx))
            continue;   /* a frame arrived as we were about to sleep */
        if (n <= 0)
            break;
        net_backend_deliver(&h->base, h->buf, (size_t)n);
    }
    if (h->rx.broken) {
        ring_broken(h);
        return;
    }
    if (net_ring_consumed(&h->rx))
        kick(h);
    if (i == RECV_BATCH && h->want_rx)
        wake_self(h);   /* more may wait: another pass, after the other devices */
}

static void helper_service(struct net_backend *b)
{
    struct net_helper *h = (struct net_helper *)b;
    drain_wakeups(h);
    flush_held(h);
    receive(h);
    if (h->pid > 0 && h->sock < 0)
        reap(h);   /* its socket closed as it exited: the pidfd follows */
}

static void helper_want_rx(struct net_backend *b, bool want)
{
    struct net_helper *h = (struct net_helper *)b;
    if (want == h->want_rx)
        return;
    h->want_rx = want;
    if (want)
        wake_self(h);   /* frames may be waiting in the ring */
}

static void helper_close(struct net_backend *b)
{
    struct net_helper *h = (struct net_helper *)b;
    drop_socket(h);
    while (h->held_count)
        free_held_front(h);
    if (h->pid > 0) {
        /* Its forwards' listening sockets close when it is gone, so a VM
         * opened next with the same forwards can bind them. */
        kill(h->pid, SIGKILL);
        while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (h->pidfd >= 0)
        close(h->pidfd);
    if (h->wake_fd >= 0)
        close(h->wake_fd);
    if (h->base.poll_fd >= 0)
        close(h->base.poll_fd);
    if (h->shm)
        munmap(h->shm, 2 * NET_RING_AREA);
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

/* The helper gets the socket as fd 3 and the rings' memory as fd 4. */
static int (*runner)(int (*fn)(void *), void *arg);

void net_helper_set_runner(int (*run)(int (*fn)(void *), void *arg))
{
    runner = run;
}

struct spawn_req {
    pid_t pid;
    const char *exe;
    posix_spawn_file_actions_t *fa;
    posix_spawnattr_t *attr;
    char **argv;
};

static int do_spawn(void *p)
{
    struct spawn_req *r = p;
    return posix_spawn(&r->pid, r->exe, r->fa, r->attr, r->argv, environ);
}

static int spawn(struct net_helper *h, const char *exe, int child_sock, int ring_fd, struct errmsg *e)
{
    char ppid_arg[24];
    snprintf(ppid_arg, sizeof ppid_arg, "%d", (int)getpid());
    char *argv[] = {(char *)"minnow", (char *)"net-helper", (char *)"3", (char *)"4", ppid_arg, NULL};
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
    /* Nothing else of the monitor's crosses (its fds are not all
     * close-on-exec). Both fds are above 4 (net_helper_open), so neither
     * dup2 overwrites the other's source. */
    int rc = posix_spawn_file_actions_adddup2(&fa, child_sock, 3);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2(&fa, ring_fd, 4);
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 5);
    struct spawn_req req = { -1, exe, &fa, &attr, argv };
    if (!rc)
        rc = runner ? runner(do_spawn, &req) : do_spawn(&req);
    /* No /proc (a jail, vmm/jailer.h): the path this process was started
     * as, which the jailer gives as absolute. */
    const char *started_as = (const char *)getauxval(AT_EXECFN);
    if (rc == ENOENT && !strcmp(exe, SELF_EXE) && started_as && started_as[0] == '/') {
        req.exe = exe = started_as;
        rc = runner ? runner(do_spawn, &req) : do_spawn(&req);
    }
    h->pid = req.pid;
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

/* Moves *fd to a number above 4, close-on-exec: the helper's fds 3 and 4
 * are dup2'ed from it, which clears close-on-exec only when the numbers
 * differ, and neither source may be the other's target. */
static int above_4(int *fd, struct errmsg *e)
{
    if (*fd > 4)
        return 0;
    int d = fcntl(*fd, F_DUPFD_CLOEXEC, 5);
    close(*fd);
    *fd = d;
    return d < 0 ? errmsg_set(e, -errno, "user network: fcntl: %s", strerror(errno)) : 0;
}

/* The rings' shared memory: a sealed memfd of fixed size, so that the
 * helper can neither shrink it under us (a SIGBUS here) nor grow it. */
static int make_rings(struct net_helper *h, int *fd_out, struct errmsg *e)
{
    int fd = memfd_create("minnow-net-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return errmsg_set(e, -errno, "user network: memfd_create: %s", strerror(errno));
    *fd_out = fd;
    if (ftruncate(fd, 2 * NET_RING_AREA) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        return errmsg_set(e, -errno, "user network: the frame rings' memory: %s", strerror(errno));
    void *m = mmap(NULL, 2 * NET_RING_AREA, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return errmsg_set(e, -errno, "user network: mmap of the frame rings: %s", strerror(errno));
    h->shm = m;
    net_ring_attach(&h->tx, m);
    net_ring_attach(&h->rx, (uint8_t *)m + NET_RING_AREA);
    net_ring_wait_data(&h->rx);   /* asleep until the first frame */
    return above_4(fd_out, e);
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
    h->wake_fd = -1;
    h->want_rx = true;
    h->report = o->report;
    h->report_opaque = o->report_opaque;
    const char *exe = o->exe ? o->exe : SELF_EXE;
    int sv[2] = {-1, -1}, ring_fd = -1;
    int rc;
    h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    h->base.poll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (h->wake_fd < 0 || h->base.poll_fd < 0 || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        rc = errmsg_set(e, -errno, "user network: epoll/eventfd/socketpair: %s", strerror(errno));
        goto fail;
    }
    h->sock = sv[0];
    if ((rc = above_4(&sv[1], e)) < 0 || (rc = make_rings(h, &ring_fd, e)) < 0 ||
        (rc = spawn(h, exe, sv[1], ring_fd, e)) < 0)
        goto fail;
    close(sv[1]);
    sv[1] = -1;
    close(ring_fd);
    ring_fd = -1;
    h->pidfd = (int)syscall(SYS_pidfd_open, h->pid, 0);
    if (h->pidfd < 0) {
        rc = errmsg_set(e, -errno, "user network: pidfd_open: %s", strerror(errno));
        goto fail;
    }
    struct net_helper_hello hello;
    memset(&hello, 0, sizeof hello);
    hello.magic = NET_HELPER_MAGIC;
    hello.n_hostfwd = o->slirp.n_hostfwd;
    hello.mtu = o->slirp.mtu;
    for (unsigned i = 0; i < o->slirp.n_hostfwd; i++)
        hello.hostfwd[i] = o->slirp.hostfwd[i];
    if (send(h->sock, &hello, sizeof hello, MSG_NOSIGNAL) != (ssize_t)sizeof hello) {
        rc = errmsg_set(e, -errno, "user network: cannot talk to the network helper: %s", strerror(errno));
        goto fail;
    }
    if ((rc = await_ready(h, exe, e)) < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->sock};
    struct epoll_event pev = {.events = EPOLLIN, .data.fd = h->pidfd};
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = h->wake_fd};
    if (epoll_ctl(h->base.poll_fd, EPOLL_CTL_ADD, h->sock, &ev) < 0 ||
        epoll_ctl(h->base.poll_fd, EPOLL_CTL_ADD, h->pidfd, &pev) < 0 ||
        epoll_ctl(h->base.poll_fd, EPOLL_CTL_ADD, h->wake_fd, &wev) < 0) {
        rc = errmsg_set(e, -errno, "user network: epoll: %s", strerror(errno));
        goto fail;
    }
    *out = &h->base;
    return 0;
fail:
    if (sv[1] >= 0)
        close(sv[1]);
    if (ring_fd >= 0)
        close(ring_fd);
    helper_close(&h->base);
    return rc;
}
