/* The network helper's confinement. See net_helper_sandbox.h. */
#include "backends/net_helper_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESOLV_CONF "/etc/resolv.conf"

/* Returns true when the ruleset is in force; false when this kernel has no
 * Landlock (then the seccomp filter refuses every open). */
static bool landlock_resolv_conf_only(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return false;
    /* Every filesystem right this header and the kernel both know: ABI 1
     * has bits 0..12, ABI 2 adds REFER. */
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = abi >= 2 ? (LANDLOCK_ACCESS_FS_REFER << 1) - 1 : LANDLOCK_ACCESS_FS_REFER - 1,
    };
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (rs < 0)
        return false;
    bool ok = true;
    /* O_PATH follows a symlink (systemd-resolved's stub file): the rule is
     * on the file slirp will read. No file, no rule: nothing to read. */
    int f = open(RESOLV_CONF, O_PATH | O_CLOEXEC);
    if (f >= 0) {
        struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE, .parent_fd = f};
        ok = syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0;
        close(f);
    }
    ok = ok && syscall(SYS_landlock_restrict_self, rs, 0) == 0;
    close(rs);
    return ok;
}

#define ALLOW(name) rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), 0)
#define ALLOW_IF(name, ...) \
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(name), __VA_ARGS__)
#define REFUSE_IF(err, name, ...) \
    rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), SCMP_SYS(name), __VA_ARGS__)

static int add_rules(scmp_filter_ctx ctx, bool may_open)
{
    int rc = 0;
    /* the event loop: slirp's sockets, our socket to the monitor, the
     * epoll set and timerfd that net_slirp.c keeps */
    ALLOW(read);
    ALLOW(write);
    ALLOW(readv);
    ALLOW(writev);
    ALLOW(recvfrom);
    ALLOW(recvmsg);
    ALLOW(recvmmsg);
    ALLOW(sendto);
    ALLOW(sendmsg);
    ALLOW(sendmmsg);
    ALLOW(close);
    ALLOW(poll);
    ALLOW(ppoll);
    ALLOW(epoll_wait);
    ALLOW(epoll_pwait);
    ALLOW(epoll_ctl);
    ALLOW(timerfd_settime);
    ALLOW(timerfd_gettime);
    ALLOW(clock_gettime);
    ALLOW(clock_getres);
    ALLOW(gettimeofday);
    ALLOW(nanosleep);
    ALLOW(clock_nanosleep);
    /* slirp's flows: outgoing TCP/UDP/ICMP sockets and the forwards'
     * accepted connections. Only IPv4 and IPv6: an AF_UNIX socket would
     * reach the host's local services by path, netlink its configuration. */
    ALLOW_IF(socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET));
    ALLOW_IF(socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
    REFUSE_IF(EAFNOSUPPORT, socket, 1, SCMP_A0(SCMP_CMP_LT, AF_INET));
    /* one comparison per argument and rule: the families between, one by one */
    for (int af = AF_INET + 1; af < AF_INET6; af++)
        REFUSE_IF(EAFNOSUPPORT, socket, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)af));
    REFUSE_IF(EAFNOSUPPORT, socket, 1, SCMP_A0(SCMP_CMP_GT, AF_INET6));
    ALLOW(connect);
    ALLOW(accept);
    ALLOW(accept4);
    ALLOW(shutdown);
    ALLOW(setsockopt);
    ALLOW(getsockopt);
    ALLOW(getsockname);
    ALLOW(getpeername);
    ALLOW_IF(ioctl, 1, SCMP_A1(SCMP_CMP_EQ, FIONREAD));
    ALLOW_IF(ioctl, 1, SCMP_A1(SCMP_CMP_EQ, FIONBIO));
    ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_GETFL));
    ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_SETFL));
    ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_GETFD));
    ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_SETFD));
    /* memory (glib's and the sanitizers' allocators); never executable */
    ALLOW(brk);
    ALLOW_IF(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW_IF(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    ALLOW(munmap);
    ALLOW(mremap);
    ALLOW(madvise);
    ALLOW(futex);
    ALLOW(getrandom);
    /* slirp's DNS: stat() says whether resolv.conf changed, fopen reads it
     * (Landlock decides which file that can be). Write-mode opens are
     * refused whatever Landlock says. */
    ALLOW(fstat);
    ALLOW(newfstatat);
    ALLOW(lseek);
    if (may_open) {
        ALLOW_IF(openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_PATH, O_RDONLY));
        REFUSE_IF(EACCES, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY));
        REFUSE_IF(EACCES, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDWR));
        REFUSE_IF(EACCES, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_CREAT, O_CREAT));
        REFUSE_IF(EACCES, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_TRUNC, O_TRUNC));
        REFUSE_IF(EACCES, openat, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, O_PATH, O_PATH));
    } else {
        rc = rc ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
    }
    /* the process itself: leave, signal returns, abort() on a bug */
    ALLOW(exit);
    ALLOW(exit_group);
    ALLOW(rt_sigreturn);
    ALLOW(rt_sigprocmask);
    ALLOW(restart_syscall);
    ALLOW(getpid);
    ALLOW(gettid);
    ALLOW(getppid);
    ALLOW(sched_yield);
    ALLOW_IF(tgkill, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
    return rc;
}

int net_helper_sandbox_enter(struct errmsg *e)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return errmsg_set(e, -errno, "network helper: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    bool may_open = landlock_resolv_conf_only();
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return errmsg_set(e, -ENOMEM, "network helper: seccomp_init failed");
    int rc = add_rules(ctx, may_open);
    if (!rc)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc)
        return errmsg_set(e, rc < 0 ? rc : -EINVAL, "network helper: cannot install the seccomp filter: %s",
                          strerror(rc < 0 ? -rc : EINVAL));
    return 0;
}
