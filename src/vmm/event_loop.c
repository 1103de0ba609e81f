/* The I/O thread's epoll loop. See event_loop.h. */
#include "vmm/event_loop.h"
#include "vmm/sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct reg {
    struct reg *next;
    int fd;
    event_loop_fn *fn;
    void *opaque;
    bool dead;          /* removed; freed at destroy, as epoll_wait may
                           still have handed it to the loop thread */
    bool is_kick;
};

struct event_loop_kick {
    struct reg reg;     /* first: a kick is a registration of its own fd */
    event_loop_fn *user_fn;
    void *user_opaque;
};

struct event_loop {
    int epfd;
    int stop_fd;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cb_done;
    struct reg *regs;
    struct reg *running;    /* callback running now on the loop thread */
    pthread_mutex_t hold;   /* held around each callback; event_loop_hold */
};

int event_loop_create(struct event_loop **out, struct errmsg *e)
{
    *out = NULL;
    struct event_loop *l = calloc(1, sizeof *l);
    if (!l)
        return errmsg_set(e, -ENOMEM, "event loop: out of memory");
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int err = errno;
        free(l);
        return errmsg_set(e, -err, "event loop: epoll_create1: %s", strerror(err));
    }
    l->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (l->stop_fd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_fd, &ev) < 0) {
        int err = errno;
        if (l->stop_fd >= 0)
            close(l->stop_fd);
        close(l->epfd);
        free(l);
        return errmsg_set(e, -err, "event loop: stop eventfd: %s", strerror(err));
    }
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->hold, NULL);
    pthread_cond_init(&l->cb_done, NULL);
    *out = l;
    return 0;
}

static void *loop_thread(void *arg)
{
    struct event_loop *l = arg;
    sandbox_thread_start(SANDBOX_IO, "io");
    struct epoll_event evs[32];
    for (;;) {
        int n = epoll_wait(l->epfd, evs, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return NULL;   /* only EBADF/EINVAL, i.e. a bug; stop serving */
        }
        for (int i = 0; i < n; i++) {
            struct reg *r = evs[i].data.ptr;
            if (!r)
                return NULL;    /* the stop eventfd */
            pthread_mutex_lock(&l->lock);
            if (r->dead) {
                pthread_mutex_unlock(&l->lock);
                continue;
            }
            l->running = r;
            pthread_mutex_unlock(&l->lock);
            pthread_mutex_lock(&l->hold);
            r->fn(r->opaque);
            pthread_mutex_unlock(&l->hold);
            pthread_mutex_lock(&l->lock);
            l->running = NULL;
            pthread_cond_broadcast(&l->cb_done);
            pthread_mutex_unlock(&l->lock);
        }
    }
}

int event_loop_start(struct event_loop *l, struct errmsg *e)
{
    if (l->started)
        return errmsg_set(e, -EBUSY, "event loop: already started");
    int rc = sandbox_thread_create(&l->thread, NULL, loop_thread, l);
    if (rc)
        return errmsg_set(e, -rc, "event loop: cannot start the I/O thread: %s", strerror(rc));
    l->started = true;
    return 0;
}

void event_loop_destroy(struct event_loop *l)
{
    if (!l)
        return;
    if (l->started) {
        uint64_t one = 1;
        ssize_t w = write(l->stop_fd, &one, sizeof one);
        (void)w;
        pthread_join(l->thread, NULL);
    }
    struct reg *r = l->regs;
    while (r) {
        struct reg *next = r->next;
        if (r->is_kick)
            close(r->fd);
        free(r);   /* a kick's reg is the start of its allocation */
        r = next;
    }
    close(l->stop_fd);
    close(l->epfd);
    pthread_cond_destroy(&l->cb_done);
    pthread_mutex_destroy(&l->hold);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

static int add_reg(struct event_loop *l, struct reg *r, struct errmsg *e)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = r};
    pthread_mutex_lock(&l->lock);
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0) {
        int err = errno;
        pthread_mutex_unlock(&l->lock);
        return errmsg_set(e, -err, "event loop: cannot watch fd %d: %s", r->fd, strerror(err));
    }
    r->next = l->regs;
    l->regs = r;
    pthread_mutex_unlock(&l->lock);
    return 0;
}

int event_loop_add_fd(struct event_loop *l, int fd, event_loop_fn *fn, void *opaque, struct errmsg *e)
{
    struct reg *r = calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, -ENOMEM, "event loop: out of memory");
    r->fd = fd;
    r->fn = fn;
    r->opaque = opaque;
    int rc = add_reg(l, r, e);
    if (rc < 0)
        free(r);
    return rc;
}

/* Lock held. Marks r dead and waits until its callback is not running,
 * unless we are that callback (removing itself from the loop thread). */
static void kill_reg(struct event_loop *l, struct reg *r)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->fd, NULL);
    r->dead = true;
    if (l->started && pthread_equal(pthread_self(), l->thread))
        return;
    while (l->running == r)
        pthread_cond_wait(&l->cb_done, &l->lock);
}

int event_loop_remove_fd(struct event_loop *l, int fd, struct errmsg *e)
{
    pthread_mutex_lock(&l->lock);
    for (struct reg *r = l->regs; r; r = r->next) {
        if (!r->dead && !r->is_kick && r->fd == fd) {
            kill_reg(l, r);
            pthread_mutex_unlock(&l->lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&l->lock);
    return errmsg_set(e, -ENOENT, "event loop: fd %d is not registered", fd);
}

static void kick_fired(void *opaque)
{
    struct event_loop_kick *k = opaque;
    uint64_t n;
    /* Drain first: a kick that arrives while fn runs makes it run again. */
    ssize_t r = read(k->reg.fd, &n, sizeof n);
    (void)r;
    k->user_fn(k->user_opaque);
}

int event_loop_add_kick(struct event_loop *l, event_loop_fn *fn, void *opaque,
                        struct event_loop_kick **out, struct errmsg *e)
{
    *out = NULL;
    struct event_loop_kick *k = calloc(1, sizeof *k);
    if (!k)
        return errmsg_set(e, -ENOMEM, "event loop: out of memory");
    k->reg.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (k->reg.fd < 0) {
        int err = errno;
        free(k);
        return errmsg_set(e, -err, "event loop: eventfd: %s", strerror(err));
    }
    k->reg.fn = kick_fired;
    k->reg.opaque = k;
    k->reg.is_kick = true;
    k->user_fn = fn;
    k->user_opaque = opaque;
    int rc = add_reg(l, &k->reg, e);
    if (rc < 0) {
        close(k->reg.fd);
        free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void event_loop_kick(struct event_loop_kick *k)
{
    uint64_t one = 1;
    /* Never blocks (non-blocking eventfd); a full counter is already
     * readable, so no kick is lost. */
    ssize_t r = write(k->reg.fd, &one, sizeof one);
    (void)r;
}

void event_loop_remove_kick(struct event_loop *l, struct event_loop_kick *k)
{
    pthread_mutex_lock(&l->lock);
    if (!k->reg.dead)
        kill_reg(l, &k->reg);
    pthread_mutex_unlock(&l->lock);
}

void event_loop_hold(struct event_loop *l)
{
    pthread_mutex_lock(&l->hold);
}

void event_loop_release(struct event_loop *l)
{
    pthread_mutex_unlock(&l->hold);
}
