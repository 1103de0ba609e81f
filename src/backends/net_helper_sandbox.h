/* The confinement of the user-mode network helper process (see
 * net_helper.h), entered once slirp is set up and before the first frame
 * from the guest: no new privileges, a Landlock ruleset that lets it open
 * only /etc/resolv.conf for reading (slirp re-reads it when it changes, to
 * find the host's DNS server), and a seccomp filter (libseccomp) that
 * allows only what slirp's event loop needs: poll/epoll, timers, memory,
 * reads and writes on open fds, and IPv4/IPv6 sockets it connects out or
 * accepts on. Everything else (exec, fork, other socket families such as
 * AF_UNIX or netlink, bind/listen, ptrace, mount, write-mode opens, ...)
 * kills the process. Without Landlock (kernels before 5.13, or disabled)
 * every open is refused instead: DNS through 10.0.2.3 then fails, the rest
 * works. */
#ifndef MINNOW_BACKENDS_NET_HELPER_SANDBOX_H
#define MINNOW_BACKENDS_NET_HELPER_SANDBOX_H

#include "util/errmsg.h"

/* Confines the calling process, which must be single-threaded. 0 or a
 * negative errno with a message. */
int net_helper_sandbox_enter(struct errmsg *e);

#endif
