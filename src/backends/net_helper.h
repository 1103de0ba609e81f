/* User-mode networking in a separate, confined process. libslirp parses
 * everything the guest sends (IP reassembly, TCP, DHCP, DNS ...), and
 * Debian 12's 4.7.0 has let a guest write into the memory of the process
 * that runs it; so the monitor does not run it. net_helper_open starts
 * `minnow net-helper` (the monitor's own executable, re-executed: a fresh
 * address space, nothing of the monitor's memory or fds) joined to the
 * monitor by a SOCK_SEQPACKET socketpair (net_helper_proto.h) and two
 * rings of frames in a shared memfd (net_ring.h), nothing else of the
 * monitor's memory. The helper runs the same slirp stack
 * as before (net_slirp.h: addresses, DHCP, DNS, hostfwd unchanged), then
 * confines itself (net_helper_sandbox.h) before the first frame: what a
 * guest can reach through a slirp bug is a process that can only talk
 * IPv4/IPv6 and its socket to the monitor.
 *
 * It dies with the monitor: its socket reads EOF when the monitor is gone
 * however it went, and PR_SET_PDEATHSIG covers a monitor that is stopped
 * rather than killed. If the helper dies (killed, or by its own fault), the
 * monitor reports one line through report (it names the pid and the signal
 * or status), frames the guest sends are dropped from then on and the
 * guest's network is down; the VM runs on. Closing the backend kills and
 * reaps the helper, so its forwards' ports are free when close returns.
 *
 * The rings are the only memory the two share, and the monitor trusts
 * nothing the helper writes there (net_ring.h): a broken ring is one line
 * through report and the guest's network goes down.
 *
 * The monitor still checks what the guest sends before slirp sees it:
 * user-mode networking is opened as net_guard_wrap(net_helper_open(...)). */
#ifndef MINNOW_BACKENDS_NET_HELPER_H
#define MINNOW_BACKENDS_NET_HELPER_H

#include <sys/types.h>

#include "backends/net_backend.h"
#include "backends/net_slirp.h"
#include "util/errmsg.h"

/* One line for the user (no newline), e.g. the helper's death. */
typedef void net_helper_report_fn(void *opaque, const char *line);

struct net_helper_options {
    /* The minnow executable to run as `EXE net-helper SOCKET-FD RING-FD PPID`. NULL: this
     * process's own (/proc/self/exe; in a jail with no /proc, the absolute
     * path it was started as), which is right for minnow itself; tests and
     * tools linking the library name the built minnow. */
    const char *exe;
    struct net_slirp_options slirp;
    net_helper_report_fn *report;   /* NULL: the line goes to stderr */
    void *report_opaque;
};

/* Starts the helper and its stack; returns once slirp is up and confined,
 * or with the helper's own message (a hostfwd that cannot bind, ...). */
int net_helper_open(struct net_backend **out, const struct net_helper_options *o, struct errmsg *e);

/* How the helper is started: run(fn, arg) calls fn(arg), which does the
 * posix_spawn, and returns its result. Process-wide, set once before any
 * helper starts: the sandbox (vmm/sandbox.h) runs it in its spawner, the
 * only thread whose filter allows execve. Unset: fn(arg) in the caller. */
void net_helper_set_runner(int (*run)(int (*fn)(void *), void *arg));

/* The helper's pid (for tests), or -1 once it is gone. b must come from
 * net_helper_open. */
pid_t net_helper_pid(const struct net_backend *b);

/* The helper process's main: `minnow net-helper SOCKET-FD RING-FD PPID`. Never returns
 * on success (it leaves with _exit: the sanitizers' exit-time work would
 * need system calls the filter refuses). */
int net_helper_main(int argc, char **argv);

#endif
