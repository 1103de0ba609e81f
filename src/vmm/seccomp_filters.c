/* The built-in seccomp policy, as data: per thread class the syscalls it
 * may make, with argument conditions where they narrow what a thread could
 * do if the guest took it over. Anything else traps (sandbox.c ends the VM
 * naming the syscall). Filters stack (sandbox.h): the vmm filter is every
 * thread's outer one, so it holds what the others need. */
#include "vmm/seccomp_policy.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#define A(name) { .syscall = #name }
#define EQ(name, i, v) { .syscall = #name, .ncond = 1, .cond = { { (i), 0, SECCOMP_OP_EQ, (v), 0 } } }
#define QEQ(name, i, v) { .syscall = #name, .ncond = 1, .cond = { { (i), 1, SECCOMP_OP_EQ, (v), 0 } } }
/* (arg & mask) == val */
#define MASKED(name, i, mask, v) { .syscall = #name, .ncond = 1, .cond = { { (i), 0, SECCOMP_OP_MASKED_EQ, (v), (mask) } } }

/* glibc's pthread_create: clone with the thread flags. clone3 passes its
 * flags in memory, where a filter cannot see them: sandbox.c answers it
 * with ENOSYS in every filter, and glibc falls back to clone. */
#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
                      CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/* Memory: never a new executable mapping, but for the JIT's code cache
 * (a shared mapping of its memfd, read+exec). */
#define MEMORY \
    MASKED(mmap, 2, PROT_EXEC, 0), \
    MASKED(mprotect, 2, PROT_EXEC, 0), \
    A(munmap), \
    A(brk), \
    A(mremap)

#define MADVISE \
    EQ(madvise, 2, MADV_DONTNEED), \
    EQ(madvise, 2, MADV_POPULATE_READ), \
    EQ(madvise, 2, MADV_POPULATE_WRITE), \
    EQ(madvise, 2, MADV_HUGEPAGE), \
    EQ(madvise, 2, MADV_DONTDUMP), \
    EQ(madvise, 2, MADV_FREE), \
    EQ(madvise, 2, MADV_REMOVE)

/* What every thread does: lock, sleep, leave, take signals. */
#define COMMON \
    A(futex), \
    A(read), \
    A(write), \
    A(close), \
    A(exit), \
    A(rt_sigreturn), \
    A(rt_sigprocmask), \
    MADVISE, \
    A(clock_gettime), \
    A(clock_nanosleep), \
    A(nanosleep), \
    A(sched_yield), \
    A(restart_syscall), \
    A(gettid), \
    A(getpid)

static const struct seccomp_rule vmm_rules[] = {
    COMMON,
    MEMORY,
    { .syscall = "mmap", .ncond = 2, .cond = { { 2, 0, SECCOMP_OP_EQ, PROT_READ | PROT_EXEC, 0 },
                                              { 3, 0, SECCOMP_OP_EQ, MAP_SHARED, 0 } },
      .comment = "the JIT's code cache: its memfd mapped read+exec" },
    MASKED(clone, 0, THREAD_FLAGS, THREAD_FLAGS),
    A(set_robust_list),
    A(rseq),
    A(exit_group),
    A(rt_sigaction),
    A(rt_sigtimedwait),
    A(tgkill),
    A(kill),
    A(getppid),
    A(openat),
    A(newfstatat),
    A(fstat),
    A(statx),
    A(lseek),
    A(pread64),
    A(pwrite64),
    A(preadv),
    A(pwritev),
    A(readv),
    A(writev),
    A(fsync),
    A(fdatasync),
    A(ftruncate),
    A(fallocate),
    A(unlink),
    A(unlinkat),
    A(rename),
    A(renameat),
    A(renameat2),
    A(readlink),
    A(getdents64),
    A(dup),
    A(dup3),
    A(fcntl),
    A(ioctl),
    A(pipe2),
    A(eventfd2),
    A(epoll_create1),
    A(epoll_ctl),
    A(epoll_wait),
    A(epoll_pwait),
    A(poll),
    A(ppoll),
    A(timerfd_create),
    A(timerfd_settime),
    A(signalfd4),
    A(inotify_init1),
    A(inotify_add_watch),
    A(memfd_create),
    A(socket),
    A(socketpair),
    A(bind),
    A(listen),
    A(accept4),
    A(connect),
    A(shutdown),
    A(getsockopt),
    A(setsockopt),
    A(getsockname),
    A(sendto),
    A(sendmsg),
    A(recvfrom),
    A(recvmsg),
    A(io_uring_setup),
    A(io_uring_enter),
    A(io_uring_register),
    A(getrandom),
    A(prctl),
    A(seccomp),
    A(sched_getaffinity),
    A(wait4),
    A(waitid),
    A(execve),
    A(vfork),
    A(clock_getres),
    A(uname),
    A(getuid),
    A(geteuid),
    A(getgid),
    A(getegid),
    A(sysinfo),
    A(prlimit64),
    A(mkdirat),
    A(fchmod),
};

static const struct seccomp_rule api_rules[] = {
    COMMON,
    MEMORY,
    MASKED(clone, 0, THREAD_FLAGS, THREAD_FLAGS),
    A(set_robust_list),
    A(rseq),
    A(exit_group),
    A(accept4),
    A(poll),
    A(ppoll),
    A(recvfrom),
    A(sendto),
    A(sendmsg),
    A(recvmsg),
    A(writev),
    A(fcntl),
    A(openat),
    A(newfstatat),
    A(fstat),
    A(lseek),
    A(ioctl),
    A(tgkill),
    A(getsockopt),
    A(setsockopt),
    A(shutdown),
    A(eventfd2),
    A(epoll_ctl),
    A(pwrite64),
    A(pread64),
    A(fsync),
    A(fdatasync),
    A(ftruncate),
    A(fallocate),
    A(rename),
    A(renameat),
    A(unlink),
    A(unlinkat),
    A(socket),
    A(connect),
    A(getrandom),
    A(pipe2),
    A(dup3),
    A(getdents64),
    A(readlink),
    A(statx),
    A(inotify_init1),
    A(inotify_add_watch),
    A(memfd_create),
    A(timerfd_create),
    A(timerfd_settime),
    A(epoll_create1),
    A(epoll_wait),
    A(io_uring_setup),
    A(io_uring_enter),
    A(io_uring_register),
    A(wait4),
    A(kill),
    A(execve),
    A(vfork),
    A(socketpair),
    A(prctl),
};

static const struct seccomp_rule vcpu_rules[] = {
    COMMON,
    MASKED(mmap, 2, PROT_EXEC, 0),
    MASKED(mprotect, 2, PROT_EXEC, 0),
    A(munmap),
    A(tgkill),
    A(exit_group),
    A(ppoll),
    A(poll),
    A(writev),
    A(pwrite64),
    A(ioctl),
};

static const struct seccomp_rule io_rules[] = {
    COMMON,
    MEMORY,
    A(exit_group),
    A(epoll_wait),
    A(epoll_pwait),
    A(epoll_ctl),
    A(readv),
    A(writev),
    A(preadv),
    A(pwritev),
    A(pread64),
    A(pwrite64),
    A(fsync),
    A(fdatasync),
    A(fallocate),
    A(io_uring_enter),
    A(io_uring_setup),
    A(io_uring_register),
    A(recvfrom),
    A(recvmsg),
    A(sendto),
    A(sendmsg),
    A(accept4),
    A(socket),
    A(connect),
    A(shutdown),
    A(getsockopt),
    A(setsockopt),
    A(fcntl),
    A(ioctl),
    A(timerfd_settime),
    A(poll),
    A(ppoll),
    A(tgkill),
    A(kill),
    A(wait4),
    A(newfstatat),
    A(fstat),
    A(lseek),
    A(openat),
    A(unlink),
};

static const struct seccomp_rule aux_rules[] = {
    COMMON,
    MEMORY,
    MASKED(clone, 0, THREAD_FLAGS, THREAD_FLAGS),
    A(set_robust_list),
    A(rseq),
    A(exit_group),
    A(rt_sigtimedwait),
    A(rt_sigaction),
    A(tgkill),
    A(kill),
    A(poll),
    A(ppoll),
    A(pread64),
    A(pwrite64),
    A(writev),
    A(readv),
    A(lseek),
    A(openat),
    A(fstat),
    A(newfstatat),
    A(fcntl),
    A(ioctl),
    A(accept4),
    A(recvfrom),
    A(sendto),
    A(sendmsg),
    A(recvmsg),
    A(setsockopt),
    A(getsockopt),
    A(shutdown),
    A(socket),
    A(connect),
    A(getrandom),
    A(epoll_ctl),
    A(eventfd2),
    A(fsync),
    A(fdatasync),
    A(ftruncate),
    A(rename),
    A(renameat),
    A(unlink),
    A(memfd_create),
    A(io_uring_enter),
};

#define N(a) (unsigned)(sizeof a / sizeof a[0])
#define TRAP { SECCOMP_ACTION_TRAP, 0 }
#define ALLOW { SECCOMP_ACTION_ALLOW, 0 }

static const struct seccomp_policy builtin = {
    .cls = {
        [SANDBOX_VMM] = { TRAP, ALLOW, vmm_rules, N(vmm_rules) },
        [SANDBOX_API] = { TRAP, ALLOW, api_rules, N(api_rules) },
        [SANDBOX_VCPU] = { TRAP, ALLOW, vcpu_rules, N(vcpu_rules) },
        [SANDBOX_IO] = { TRAP, ALLOW, io_rules, N(io_rules) },
        [SANDBOX_AUX] = { TRAP, ALLOW, aux_rules, N(aux_rules) },
    },
};

const struct seccomp_policy *seccomp_builtin(void)
{
    return &builtin;
}

unsigned seccomp_filter_count(const struct seccomp_filter *f)
{
    unsigned n = 0;
    for (unsigned i = 0; i < f->nrules; i++) {
        unsigned k = 0;
        while (k < i && strcmp(f->rules[k].syscall, f->rules[i].syscall))
            k++;
        n += k == i;
    }
    return n;
}
