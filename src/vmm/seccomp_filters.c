/* The built-in seccomp policy, as data: per thread class the syscalls it
 * may make, with argument conditions where they narrow what a thread could
 * do if the guest took it over. Anything else traps (sandbox.c ends the VM
 * naming the syscall). Filters stack (sandbox.h): the spawner's filter
 * (the union of every class's and its own list) is every thread's outer
 * one; the vmm filter is the main thread's own. */
#include "vmm/seccomp_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <linux/sched.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <signal.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <sys/socket.h>
#include <termios.h>

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

/* Memory: never a new executable mapping (the JIT's code cache has a rule
 * of its own in the vmm filter, the network helper's loader in the
 * spawner's). */
#define MEMORY \
    MASKED(mmap, 2, PROT_EXEC, 0), \
    MASKED(mprotect, 2, PROT_EXEC, 0), \
    A(munmap)

/* glibc's stack cache and malloc give memory back; the JIT prefaults its
 * code cache; ram.c and hart.c ask for huge pages and drop balloon pages. */
#define MADVISE \
    EQ(madvise, 2, MADV_DONTNEED), \
    EQ(madvise, 2, MADV_POPULATE_READ), \
    EQ(madvise, 2, MADV_POPULATE_WRITE), \
    EQ(madvise, 2, MADV_HUGEPAGE), \
    EQ(madvise, 2, MADV_REMOVE)

/* What every thread does: lock, read and write what it was given, leave. */
#define COMMON \
    A(futex), \
    A(read), \
    A(write), \
    A(exit), \
    A(rt_sigprocmask), \
    A(rt_sigreturn) /* ram_fault.c's SIGBUS handler returns in any thread */, \
    EQ(madvise, 2, MADV_DONTNEED), \
    MEMORY

#define THREADS \
    MASKED(clone, 0, THREAD_FLAGS, THREAD_FLAGS), \
    A(set_robust_list), \
    A(rseq)

static const struct seccomp_rule vmm_rules[] = {
    COMMON,
    EQ(madvise, 2, MADV_POPULATE_READ),
    EQ(madvise, 2, MADV_POPULATE_WRITE),
    EQ(madvise, 2, MADV_HUGEPAGE),
    EQ(madvise, 2, MADV_REMOVE),
    { .syscall = "mmap", .ncond = 2, .cond = { { 2, 0, SECCOMP_OP_EQ, PROT_READ | PROT_EXEC, 0 },
                                              { 3, 0, SECCOMP_OP_EQ, MAP_SHARED, 0 } },
      .comment = "the JIT's code cache: its memfd mapped read+exec" },
    THREADS,
    A(exit_group),
    A(close),
    A(close_range),
    A(dup2),
    A(brk),
    A(prlimit64),
    A(prctl),
    A(getppid),
    A(getpid),
    A(rt_sigaction),
    A(rt_sigtimedwait),
    A(tgkill),
    A(kill),
    A(wait4),
    A(waitid),
    A(pidfd_open),
    A(clock_nanosleep),
    A(sched_yield),
    A(getrusage),
    A(umask),
    A(openat),
    A(newfstatat),
    A(readlink),
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
    A(flock),
    A(unlink),
    A(rename),
    A(renameat),
    A(unlinkat),
    A(copy_file_range),
    A(memfd_create),
    A(pipe2),
    A(eventfd2),
    A(epoll_create1),
    A(epoll_ctl),
    A(epoll_wait),
    A(poll),
    A(timerfd_create),
    A(timerfd_settime),
    A(inotify_init1),
    A(inotify_add_watch),
    A(io_uring_setup),
    A(io_uring_enter),
    A(getrandom),
    A(fcntl),
    A(getdents64) /* snapshot_commit.c: the temporary files of a dead create */,
    A(sysinfo) /* glibc's qsort and sysconf, libzstd's workers */,
    EQ(ioctl, 1, TCGETS),
    EQ(ioctl, 1, TCSETS),
    EQ(ioctl, 1, TUNSETIFF),
    EQ(ioctl, 1, SIOCGIFINDEX),
    EQ(ioctl, 1, FIONBIO),
    EQ(socket, 0, AF_UNIX),
    EQ(socket, 0, AF_INET),
    EQ(socket, 0, AF_INET6),
    EQ(socket, 0, AF_VSOCK),
    EQ(socketpair, 0, AF_UNIX),
    A(bind),
    A(listen),
    A(accept4),
    A(connect),
    A(shutdown),
    A(getsockname),
    A(getpeername),
    A(setsockopt),
    A(getsockopt),
    A(sendto),
    A(sendmsg),
    A(recvfrom),
    A(recvmsg),
    A(clock_gettime),
    A(mremap),
    A(fstat),
    A(restart_syscall),
    A(gettid),
};

/* The spawner (sandbox.c): the thread every other thread is created by,
 * and which starts the network helper. Its filter is the union of every
 * class's and this list: the outer filter of every thread and of the
 * helper, which it bounds until the helper adds its own, stricter one
 * (backends/net_helper_sandbox.c). Not a thread class of the policy
 * (not printed); `minnow seccomp count` shows its size as "spawner". */
static const struct seccomp_rule spawner_rules_[] = {
    THREADS,
    A(prctl),
    A(seccomp) /* each new thread loads its class's filter under this one */,
    { .syscall = "clone", .ncond = 1, .cond = { { 0, 0, SECCOMP_OP_EQ, CLONE_VM | CLONE_VFORK | SIGCHLD, 0 } },
      .comment = "posix_spawn of the network helper" },
    A(execve),
    { .syscall = "mmap", .ncond = 2, .cond = { { 2, 0, SECCOMP_OP_EQ, PROT_READ | PROT_EXEC, 0 },
                                              { 3, 0, SECCOMP_OP_EQ, MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE, 0 } },
      .comment = "the network helper's loader (it inherits this filter across execve)" },
    /* the helper's loader and its start-up, before its own filter */
    A(arch_prctl),
    A(access),
    A(set_tid_address),
    A(brk),
    A(openat),
    A(newfstatat),
    A(pread64),
    A(close),
    A(prlimit64),
    A(getppid),
    A(getpid),
    A(landlock_create_ruleset),
    A(landlock_add_rule),
    A(landlock_restrict_self),
    /* the network helper's own filter (backends/net_helper_sandbox.c)
     * stacks on this one: what it allows slirp must be here too */
    A(recvmmsg),
    A(sendmmsg),
    A(ppoll),
    A(epoll_pwait),
    A(timerfd_gettime),
    A(clock_gettime),
    A(clock_getres),
    A(gettimeofday),
    A(nanosleep),
    A(accept),
    EQ(ioctl, 1, FIONREAD),
    A(mremap),
    A(fstat),
    A(restart_syscall),
    A(gettid),
    A(exit_group),
};
const struct seccomp_rule *const seccomp_spawner_rules = spawner_rules_;
const unsigned seccomp_spawner_nrules = sizeof spawner_rules_ / sizeof spawner_rules_[0];

/* The API server: its socket, and what the handlers do in this thread
 * (snapshot files, the log and metrics files, the VM's creation). */
static const struct seccomp_rule api_rules[] = {
    COMMON,
    THREADS,
    A(close),
    A(accept4),
    A(poll),
    A(recvfrom),
    A(sendto),
    A(shutdown),
    A(setsockopt),
    EQ(fcntl, 1, F_GETFL),
    EQ(fcntl, 1, F_SETFL),
    EQ(socketpair, 0, AF_UNIX),
    A(openat),
    A(newfstatat),
    A(lseek),
    A(pread64),
    A(pwrite64),
    A(fsync),
    A(fdatasync),
    A(ftruncate),
    A(flock),
    A(rename),
    A(renameat),
    A(unlinkat),
    A(copy_file_range),
    A(unlink),
    A(getrandom),
    A(eventfd2),
    A(epoll_ctl),
    A(memfd_create),
    A(timerfd_create),
    A(io_uring_setup),
    EQ(madvise, 2, MADV_HUGEPAGE),
    EQ(madvise, 2, MADV_POPULATE_READ),
    EQ(madvise, 2, MADV_POPULATE_WRITE),
    A(getdents64),
    A(sysinfo),
    A(tgkill),
    A(exit_group),
};

/* A hart: guest code runs here; it waits, wakes others and prefaults the
 * JIT's code cache. Console output goes through the io thread's fds. */
static const struct seccomp_rule vcpu_rules[] = {
    COMMON,
    /* --boot-timer: the process CPU time when the guest signals its boot
     * (the other clocks are read in the vDSO) */
    EQ(clock_gettime, 0, CLOCK_PROCESS_CPUTIME_ID),
    EQ(madvise, 2, MADV_POPULATE_READ),
    EQ(madvise, 2, MADV_POPULATE_WRITE),
    A(sched_yield),
    A(exit_group),
};

/* The event loop: virtqueues and their backends (block through io_uring
 * or preadv/pwritev, net through the helper's socket or a TAP fd, vsock
 * through Unix sockets). */
static const struct seccomp_rule io_rules[] = {
    COMMON,
    A(close),
    A(epoll_wait),
    A(epoll_ctl),
    A(readv),
    A(writev),
    A(preadv),
    A(pwritev),
    A(fdatasync),
    A(fsync),
    A(fallocate),
    A(io_uring_enter),
    A(recvfrom),
    A(sendto),
    A(sendmsg),
    A(accept4),
    EQ(socket, 0, AF_UNIX),
    A(connect),
    A(shutdown),
    A(timerfd_settime),
    A(getrandom),
    A(openat) /* a backend that (re)opens its file or socket path */,
    A(waitid),
    A(exit_group),
};

/* Helpers: the metrics timer writes its file, the balloon poller asks the
 * device, the console reader reads stdin, migration streams the VM, the
 * gdb stub serves its socket. */
static const struct seccomp_rule aux_rules[] = {
    COMMON,
    A(close),
    A(poll),
    A(clock_nanosleep),
    EQ(socket, 0, AF_UNIX),
    EQ(socket, 0, AF_INET),
    EQ(socket, 0, AF_INET6),
    A(connect),
    A(accept4),
    A(sendto),
    A(recvfrom),
    A(shutdown),
    A(setsockopt),
    A(getsockopt),
    A(fcntl),
    A(openat),
    A(newfstatat),
    A(pread64),
    A(lseek),
    A(getrandom),
    A(getrusage) /* the metrics timer's periodic line: max_rss_bytes (metrics.c) */,
    A(exit_group),
};

/* Sanitizer builds (the test suite's): what the ASan, LSan and UBSan
 * runtimes call from any thread — their allocator's mappings, reports,
 * /proc reads, and LeakSanitizer's stop-the-world at exit (a clone that
 * is not a thread, ptrace). Added to every filter by sandbox.c in those
 * builds only; not part of the policy (not printed, not counted). */
const char *const seccomp_sanitizer_extra[] = {
    "open", "stat", "lstat", "access", "pipe", "getdents", /* the runtimes' raw calls */
    "mmap", "munmap", "mprotect", "madvise", "mremap", "mincore", "sigaltstack", "prctl", "prlimit64",
    "getrlimit", "sched_getaffinity", "sched_yield", "readlink", "readlinkat", "openat", "read", "pread64",
    "write", "close", "fstat", "newfstatat", "statx", "lseek", "getdents64", "getpid", "gettid", "getppid",
    "tgkill", "kill", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "clone", "ptrace", "wait4", "waitid",
    "futex", "nanosleep", "clock_nanosleep", "clock_gettime", "exit", "exit_group", "uname", "getrandom",
    "dup", "dup2", "dup3", "pipe2", "set_robust_list", "rseq", "sysinfo", "process_vm_readv", "personality",
    "set_tid_address", "getuid", "geteuid", "getcwd", NULL,
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

int seccomp_spawner_filter(const struct seccomp_policy *p, struct seccomp_filter *out)
{
    unsigned n = seccomp_spawner_nrules;
    for (int c = 0; c < SANDBOX_NCLASS; c++)
        n += p->cls[c].nrules;
    struct seccomp_rule *r = malloc(n * sizeof *r);
    if (!r)
        return -ENOMEM;
    unsigned k = 0;
    for (int c = 0; c < SANDBOX_NCLASS; c++)
        for (unsigned i = 0; i < p->cls[c].nrules; i++)
            r[k++] = p->cls[c].rules[i];
    for (unsigned i = 0; i < seccomp_spawner_nrules; i++)
        r[k++] = seccomp_spawner_rules[i];
    *out = (struct seccomp_filter){ p->cls[SANDBOX_VMM].default_action, p->cls[SANDBOX_VMM].filter_action, r, n };
    return 0;
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
