/* The seccomp policy of the monitor: one filter per thread class, as data.
 * seccomp_filters.c holds the built-in policy, seccomp_json.c reads and
 * writes Firecracker's seccompiler JSON format, sandbox.c loads a class's
 * filter into the calling thread (with libseccomp). */
#ifndef MINNOW_VMM_SECCOMP_POLICY_H
#define MINNOW_VMM_SECCOMP_POLICY_H

#include <stdint.h>

#include "util/errmsg.h"

/* Thread classes. Filters stack: a thread also keeps every filter of the
 * thread that created it, so threads are created by the sandbox's spawner
 * (a vmm-class thread), never by a thread of a stricter class. */
enum sandbox_class {
    SANDBOX_VMM,   /* the main thread, the spawner, the signal thread */
    SANDBOX_API,   /* the API server's acceptor and connection threads */
    SANDBOX_VCPU,  /* one per hart */
    SANDBOX_IO,    /* the event loop: virtio queues, block, net, vsock backends */
    SANDBOX_AUX,   /* small helpers: metrics timer, balloon poller, console reader, migration, gdb stub */
    SANDBOX_NCLASS,
};

/* Firecracker's thread names for the classes ("vmm", "api", "vcpu", ...). */
const char *sandbox_class_name(enum sandbox_class c);
/* -1 if name is none. */
int sandbox_class_parse(const char *name);

enum seccomp_action_kind {
    SECCOMP_ACTION_ALLOW,
    SECCOMP_ACTION_TRAP,
    SECCOMP_ACTION_ERRNO,        /* value: the errno */
    SECCOMP_ACTION_KILL_THREAD,
    SECCOMP_ACTION_KILL_PROCESS,
    SECCOMP_ACTION_LOG,
    SECCOMP_ACTION_TRACE,        /* value: the tracer's data */
};

struct seccomp_action {
    enum seccomp_action_kind kind;
    uint32_t value;
};

enum seccomp_op { SECCOMP_OP_EQ, SECCOMP_OP_NE, SECCOMP_OP_LT, SECCOMP_OP_LE, SECCOMP_OP_GT, SECCOMP_OP_GE,
                  SECCOMP_OP_MASKED_EQ };

#define SECCOMP_COND_MAX 6 /* a syscall has 6 arguments */

struct seccomp_cond {
    uint8_t index;  /* argument 0..5 */
    uint8_t qword;  /* 1: compare all 64 bits, 0: the low 32 ("dword") */
    uint8_t op;     /* enum seccomp_op */
    uint64_t val;
    uint64_t mask;  /* SECCOMP_OP_MASKED_EQ: (arg & mask) == val */
};

/* One rule: the syscall is allowed (filter_action) when every condition
 * holds; a syscall with several rules is allowed when any of them holds. */
struct seccomp_rule {
    const char *syscall;
    unsigned ncond;
    struct seccomp_cond cond[SECCOMP_COND_MAX];
    const char *comment;  /* NULL: none */
};

struct seccomp_filter {
    struct seccomp_action default_action, filter_action;
    const struct seccomp_rule *rules;
    unsigned nrules;
};

struct seccomp_policy {
    struct seccomp_filter cls[SANDBOX_NCLASS];
    void *owned;  /* what seccomp_json allocated for it; NULL for the built-in one */
};

/* The built-in policy (seccomp_filters.c): trap on anything not listed. */
const struct seccomp_policy *seccomp_builtin(void);
/* The spawner's own list (seccomp_filters.c): sandbox.c gives the
 * spawner thread the union of every class's filter and this. */
extern const struct seccomp_rule *const seccomp_spawner_rules;
extern const unsigned seccomp_spawner_nrules;
/* The spawner's filter of policy p in *out (its rules malloc'd: free
 * out->rules); returns 0 or -ENOMEM. */
int seccomp_spawner_filter(const struct seccomp_policy *p, struct seccomp_filter *out);
/* NULL-terminated: what sanitizer runtimes need (sandbox.c adds them to
 * every filter when built with ASan or UBSan). */
extern const char *const seccomp_sanitizer_extra[];
/* How many distinct syscalls a filter allows. */
unsigned seccomp_filter_count(const struct seccomp_filter *f);

/* seccomp_json.c: Firecracker's format. load fills p (free it with
 * seccomp_policy_free); every class must be present, unknown thread names,
 * syscalls, ops and actions are errors naming the file, thread and entry. */
int seccomp_json_load(struct seccomp_policy *p, const char *path, struct errmsg *e);
int seccomp_json_parse(struct seccomp_policy *p, const char *text, const char *what, struct errmsg *e);
/* The policy as JSON (malloc'ed, ends in a newline); NULL when out of memory. */
char *seccomp_json_print(const struct seccomp_policy *p);
void seccomp_policy_free(struct seccomp_policy *p);

#endif
