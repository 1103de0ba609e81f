/* SIGBUS on file-backed guest RAM (see ram_fault.h). */
#include "machine/ram_fault.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_WATCHED 64

struct ram_fault {
    uintptr_t start;
    size_t len;
    int efd;
    int ifd;                /* inotify: the file written in place */
    _Atomic int hit;
    _Atomic int changed;
    _Atomic uint64_t offset;
    char path[PATH_MAX];
};

/* Process-wide because the signal handler is (see ram_fault.h): the
 * handler reads `slots` without a lock (only atomic loads), registration
 * changes it under `lock`. */
static struct ram_fault *_Atomic slots[MAX_WATCHED];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous;
static int installed;

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    /* The default action: returning re-runs the faulting access, which
     * now kills the process as if we had never been here. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
}

/* Only async-signal-safe calls: atomics, mmap (a system call on Linux)
 * and write to an eventfd. */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (unsigned i = 0; i < MAX_WATCHED; i++) {
        struct ram_fault *f = atomic_load(&slots[i]);
        if (!f || a < f->start || a - f->start >= f->len)
            continue;
        uintptr_t page = a & ~(uintptr_t)4095;
        if (mmap((void *)page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
            MAP_FAILED)
            break; /* cannot repair: die of it below */
        int expect = 0;
        if (!atomic_load(&f->hit))
            atomic_store(&f->offset, (uint64_t)(a - f->start));
        if (atomic_compare_exchange_strong(&f->hit, &expect, 1)) {
            uint64_t one = 1;
            ssize_t w = write(f->efd, &one, sizeof one);
            (void)w;
        }
        errno = saved;
        return;
    }
    errno = saved;
    chain(sig, si, uc);
}

static int install_locked(struct errmsg *e)
{
    if (installed)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous))
        return errmsg_set(e, -errno, "cannot install the SIGBUS handler: %s", strerror(errno));
    installed = 1;
    return 0;
}

int ram_fault_watch(struct ram_fault **out, void *start, size_t len, int fd, const char *path, struct errmsg *e)
{
    *out = NULL;
    struct ram_fault *f = calloc(1, sizeof *f);
    if (!f)
        return errmsg_set(e, -ENOMEM, "out of memory");
    f->start = (uintptr_t)start;
    f->len = len;
    snprintf(f->path, sizeof f->path, "%s", path);
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (f->efd < 0) {
        int r = errmsg_set(e, -errno, "cannot create an eventfd: %s", strerror(errno));
        free(f);
        return r;
    }
    /* The inode fd maps, not whatever the path names by now. Without a
     * watch (inotify instances are limited per user: a host running many
     * restored VMs may run out) only the in-place writes go unseen. */
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
    f->ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (f->ifd >= 0 && inotify_add_watch(f->ifd, self, IN_MODIFY) < 0 &&
        inotify_add_watch(f->ifd, path, IN_MODIFY) < 0) {
        close(f->ifd);
        f->ifd = -1;
    }
    pthread_mutex_lock(&lock);
    int r = install_locked(e);
    unsigned i = 0;
    while (!r && i < MAX_WATCHED && atomic_load(&slots[i]))
        i++;
    if (!r && i == MAX_WATCHED)
        r = errmsg_set(e, -ENOSPC, "memory file '%s': this process already runs %u VMs from memory files", path,
                       MAX_WATCHED);
    if (!r)
        atomic_store(&slots[i], f);
    pthread_mutex_unlock(&lock);
    if (r) {
        close(f->efd);
        if (f->ifd >= 0)
            close(f->ifd);
        free(f);
        return r;
    }
    *out = f;
    return 0;
}

void ram_fault_unwatch(struct ram_fault *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < MAX_WATCHED; i++)
        if (atomic_load(&slots[i]) == f)
            atomic_store(&slots[i], NULL);
    pthread_mutex_unlock(&lock);
    close(f->efd);
    if (f->ifd >= 0)
        close(f->ifd);
    free(f);
}

int ram_fault_changed_fd(const struct ram_fault *f)
{
    return f->ifd;
}

int ram_fault_consume(struct ram_fault *f)
{
    uint64_t n;
    ssize_t got = read(f->efd, &n, sizeof n);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int modified = 0;
    while (f->ifd >= 0 && (got = read(f->ifd, buf, sizeof buf)) > 0)
        for (char *p = buf; p < buf + got; p += sizeof(struct inotify_event) + ((struct inotify_event *)p)->len)
            modified |= (((struct inotify_event *)p)->mask & IN_MODIFY) != 0;
    if (modified)
        atomic_store(&f->changed, 1);
    return ram_fault_hit(f, NULL);
}

int ram_fault_fd(const struct ram_fault *f)
{
    return f->efd;
}

int ram_fault_hit(const struct ram_fault *f, uint64_t *offset)
{
    if (!f)
        return 0;
    if (atomic_load(&f->hit)) {
        if (offset)
            *offset = atomic_load(&f->offset);
        return 1;
    }
    if (atomic_load(&f->changed)) {
        if (offset)
            *offset = UINT64_MAX;
        return 1;
    }
    return 0;
}

const char *ram_fault_path(const struct ram_fault *f)
{
    return f->path;
}
