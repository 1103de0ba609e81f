/* The monitor's own confinement: each thread enters its class's seccomp
 * filter (seccomp_policy.h) when it starts, before it touches
 * guest-controlled data, with no new privileges. A syscall a filter does
 * not allow ends the process: one line on stderr naming the thread, its
 * class and the syscall, then exit status SANDBOX_EXIT_SYSCALL.
 *
 * The sandbox is process-wide (seccomp and the SIGSYS handler are), so its
 * state is the one global of this layer; a process that never calls
 * sandbox_init (the unit tests, a VM run with --no-seccomp) gets plain
 * threads and no filters. */
#ifndef MINNOW_VMM_SANDBOX_H
#define MINNOW_VMM_SANDBOX_H

#include <pthread.h>
#include <stdint.h>

#include "util/errmsg.h"
#include "vmm/seccomp_policy.h"

#define SANDBOX_EXIT_SYSCALL 148

/* Turns the sandbox on with policy p (kept; NULL: the built-in one):
 * compiles every class's filter to BPF once (a rule libseccomp refuses is
 * reported here, before any thread runs), installs the SIGSYS handler
 * and starts the spawner thread, which every
 * later thread is created by. Call it once, in the main thread, before
 * any other thread starts; then sandbox_enter(SANDBOX_VMM, "main", e). */
int sandbox_init(const struct seccomp_policy *p, struct errmsg *e);
int sandbox_enabled(void);

/* Loads class c's filter into the calling thread; name is its thread name
 * (set with PR_SET_NAME too, so the log line and /proc show it). Without
 * sandbox_init, only names the thread. */
int sandbox_enter(enum sandbox_class c, const char *name, struct errmsg *e);

/* sandbox_enter for a thread's first call: a thread that cannot enter
 * its class must not run unconfined, so a failure ends the process
 * (status 123) with the message. */
void sandbox_thread_start(enum sandbox_class c, const char *name);

/* pthread_create through the spawner (a thread whose filter is the union
 * of every class's and its own list, seccomp_policy.h),
 * so the new thread does not inherit its creator's stricter filter; a
 * plain pthread_create without the sandbox. attr may be NULL. Returns 0 or
 * an errno value, as pthread_create. */
int sandbox_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

/* Runs fn(arg) in the spawner and returns its result (fn(arg) here
 * without the sandbox): for what only the spawner's filter allows, such
 * as starting the network helper (posix_spawn, execve), so the vmm
 * filter of the thread that asks need not allow it. */
int sandbox_spawner_call(int (*fn)(void *), void *arg);

/* How many syscalls the filters refused (Firecracker's seccomp.num_faults:
 * the process ends at the first, so a metrics line shows at most 0). */
uint64_t sandbox_num_faults(void);

#endif
