/* Per-thread seccomp filters for the monitor. See sandbox.h. */
#include "vmm/sandbox.h"

#include <errno.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYSCALL_NAMES 512

/* Process-wide by nature: a filter and a signal handler belong to the
 * process, and the handler can reach nothing but globals. */
static struct {
    const struct seccomp_policy *policy;
    const char *names[SYSCALL_NAMES];  /* resolved at init: the handler may not allocate */
    atomic_uint_fast64_t faults;
    int on;
    /* each class's filter, compiled once by sandbox_init */
    struct sock_fprog prog[SANDBOX_NCLASS];
    struct sock_fprog spawner_prog;  /* the union of them and the spawner's own list */
    /* the spawner: one request at a time */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int busy, done, result;
    pthread_t *req_t;
    const pthread_attr_t *req_attr;
    void *(*req_fn)(void *);
    void *req_arg;
    int (*req_call)(void *);  /* non-NULL: a sandbox_spawner_call, not a thread */
    sigset_t req_mask;  /* the requester's: the new thread inherits it, as from pthread_create */
} sb = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static const char *const class_names[SANDBOX_NCLASS] = {
    [SANDBOX_VMM] = "vmm", [SANDBOX_API] = "api", [SANDBOX_VCPU] = "vcpu", [SANDBOX_IO] = "io",
    [SANDBOX_AUX] = "aux",
};

static _Thread_local char thread_name[16] = "?";
static _Thread_local int thread_class = -1;
static _Thread_local int in_handler;

/* Threads a library creates itself inherit their creator's filter and
 * never pass sandbox_enter; the report knows them by the name they give
 * themselves. */
static const struct {
    const char *prefix;
    enum sandbox_class cls;
} library_threads[] = {
    { "MHD-", SANDBOX_VMM },  /* libmicrohttpd's, started by the main thread: it runs the handlers */
};

/* For the SIGSYS report of a thread that never entered a class: its
 * kernel name and, if known, the class it inherited. */
static int library_thread_class(char name[16])
{
    /* the handler runs with SIGSYS unblocked (SA_NODEFER): a filter that
     * refuses prctl too comes back here, and is ignored, leaving "?" */
    if (prctl(PR_GET_NAME, name, 0, 0, 0) < 0)
        return -1;
    name[15] = 0;
    for (size_t i = 0; i < sizeof library_threads / sizeof library_threads[0]; i++)
        if (!strncmp(name, library_threads[i].prefix, strlen(library_threads[i].prefix)))
            return (int)library_threads[i].cls;
    return -1;
}


const char *sandbox_class_name(enum sandbox_class c)
{
    return (unsigned)c < SANDBOX_NCLASS ? class_names[c] : "?";
}

int sandbox_class_parse(const char *name)
{
    for (int i = 0; i < SANDBOX_NCLASS; i++)
        if (!strcmp(name, class_names[i]))
            return i;
    return -1;
}

int sandbox_enabled(void)
{
    return sb.on;
}

uint64_t sandbox_num_faults(void)
{
    return atomic_load(&sb.faults);
}

static size_t put(char *buf, size_t at, size_t cap, const char *s)
{
    while (*s && at + 1 < cap)
        buf[at++] = *s++;
    return at;
}

static size_t put_num(char *buf, size_t at, size_t cap, long v)
{
    char d[24];
    int n = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do
        d[n++] = (char)('0' + u % 10);
    while ((u /= 10) && n < 23);
    if (v < 0)
        d[n++] = '-';
    while (n && at + 1 < cap)
        buf[at++] = d[--n];
    return at;
}

/* Async-signal-safe: one write(2), then _exit. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    if (in_handler)
        return;  /* a call of the report itself was refused: go on without it */
    in_handler = 1;
    atomic_fetch_add(&sb.faults, 1);
    int cls = thread_class;
    const char *how = "";
    if (cls < 0) {
        cls = library_thread_class(thread_name);
        how = ", a library's thread";
    }
    char buf[256];
    size_t n = 0;
    int nr = si->si_syscall;
    const char *name = nr >= 0 && nr < SYSCALL_NAMES && sb.names[nr] ? sb.names[nr] : "unknown";
    n = put(buf, n, sizeof buf, "minnow: seccomp: thread '");
    n = put(buf, n, sizeof buf, thread_name);
    n = put(buf, n, sizeof buf, "' (class ");
    n = put(buf, n, sizeof buf, cls >= 0 ? class_names[cls] : "inherited");
    n = put(buf, n, sizeof buf, how);
    n = put(buf, n, sizeof buf, ") made the blocked syscall ");
    n = put(buf, n, sizeof buf, name);
    n = put(buf, n, sizeof buf, " (");
    n = put_num(buf, n, sizeof buf, nr);
    n = put(buf, n, sizeof buf, "); stopping the VM\n");
    ssize_t w = write(STDERR_FILENO, buf, n);
    (void)w;
    _exit(SANDBOX_EXIT_SYSCALL);
}

static uint32_t action_of(const struct seccomp_action *a)
{
    switch (a->kind) {
    case SECCOMP_ACTION_ALLOW: return SCMP_ACT_ALLOW;
    case SECCOMP_ACTION_TRAP: return SCMP_ACT_TRAP;
    case SECCOMP_ACTION_ERRNO: return SCMP_ACT_ERRNO(a->value);
    case SECCOMP_ACTION_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
    case SECCOMP_ACTION_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
    case SECCOMP_ACTION_LOG: return SCMP_ACT_LOG;
    case SECCOMP_ACTION_TRACE: return SCMP_ACT_TRACE(a->value);
    }
    return SCMP_ACT_KILL_PROCESS;
}

static const enum scmp_compare ops[] = {
    [SECCOMP_OP_EQ] = SCMP_CMP_EQ, [SECCOMP_OP_NE] = SCMP_CMP_NE, [SECCOMP_OP_LT] = SCMP_CMP_LT,
    [SECCOMP_OP_LE] = SCMP_CMP_LE, [SECCOMP_OP_GT] = SCMP_CMP_GT, [SECCOMP_OP_GE] = SCMP_CMP_GE,
    [SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

/* libseccomp 2.5 exports a program only to a file descriptor. */
static int export_bpf(scmp_filter_ctx ctx, const char *cls, struct sock_fprog *prog, struct errmsg *e)
{
    int fd = memfd_create("minnow-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "seccomp: %s filter: memfd: %s", cls, strerror(errno));
    int rc = seccomp_export_bpf(ctx, fd);
    struct stat st;
    if (rc)
        rc = errmsg_set(e, rc, "seccomp: %s filter: export: %s", cls, strerror(-rc));
    else if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
             st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS)
        rc = errmsg_set(e, -E2BIG, "seccomp: %s filter: %lld bytes of BPF (at most %d instructions)", cls,
                        (long long)st.st_size, BPF_MAXINSNS);
    struct sock_filter *insns = rc ? NULL : malloc((size_t)st.st_size);
    if (!rc && (!insns || pread(fd, insns, (size_t)st.st_size, 0) != st.st_size)) {
        free(insns);
        rc = errmsg_set(e, -EIO, "seccomp: %s filter: reading the exported program failed", cls);
    }
    close(fd);
    if (!rc)
        *prog = (struct sock_fprog){ .len = (unsigned short)(st.st_size / sizeof *insns), .filter = insns };
    return rc;
}

/* Compiles filter f of class cls to BPF in *prog (malloc'd): libseccomp
 * builds it once, and every thread of the class loads the same program. */
static int compile(const struct seccomp_filter *f, const char *cls, struct sock_fprog *prog, struct errmsg *e)
{
    scmp_filter_ctx ctx = seccomp_init(action_of(&f->default_action));
    if (!ctx)
        return errmsg_set(e, -ENOMEM, "seccomp: out of memory");
    int rc = 0;
    uint32_t act = action_of(&f->filter_action);
    for (unsigned i = 0; !rc && i < f->nrules; i++) {
        const struct seccomp_rule *r = &f->rules[i];
        int nr = seccomp_syscall_resolve_name(r->syscall);
        if (nr == __NR_SCMP_ERROR) {
            rc = errmsg_set(e, -EINVAL, "seccomp: %s filter: unknown syscall '%s'", cls, r->syscall);
            break;
        }
        struct scmp_arg_cmp c[SECCOMP_COND_MAX];
        for (unsigned k = 0; k < r->ncond; k++) {
            const struct seccomp_cond *q = &r->cond[k];
            c[k] = (struct scmp_arg_cmp){ .arg = q->index, .op = ops[q->op] };
            if (q->op == SECCOMP_OP_MASKED_EQ) {
                c[k].datum_a = q->qword ? q->mask : (uint32_t)q->mask;
                c[k].datum_b = q->qword ? q->val : (uint32_t)q->val;
            } else if (!q->qword && (q->op == SECCOMP_OP_EQ || q->op == SECCOMP_OP_NE)) {
                /* a dword compares the low 32 bits only */
                c[k] = (struct scmp_arg_cmp){ .arg = q->index, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffu,
                                              .datum_b = (uint32_t)q->val };
                if (q->op == SECCOMP_OP_NE) /* libseccomp has no masked != : compare all bits */
                    c[k] = (struct scmp_arg_cmp){ .arg = q->index, .op = SCMP_CMP_NE, .datum_a = (uint32_t)q->val };
            } else {
                c[k].datum_a = q->qword ? q->val : (uint32_t)q->val;
            }
        }
        int r2 = seccomp_rule_add_array(ctx, act, nr, r->ncond, c);
        if (r2 && r2 != -EEXIST)
            rc = errmsg_set(e, r2, "seccomp: %s filter: rule %u (%s): %s", cls, i + 1, r->syscall, strerror(-r2));
    }
#ifdef MINNOW_SANITIZE
    for (unsigned i = 0; !rc && seccomp_sanitizer_extra[i]; i++) {
        int nr = seccomp_syscall_resolve_name(seccomp_sanitizer_extra[i]);
        int r2 = nr == __NR_SCMP_ERROR ? 0 : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
        if (r2 && r2 != -EEXIST)
            rc = errmsg_set(e, r2, "seccomp: %s filter: sanitizer call %s: %s", cls, seccomp_sanitizer_extra[i],
                            strerror(-r2));
    }
#endif
    /* clone3's flags are out of a filter's reach: ENOSYS makes glibc use clone */
    if (!rc && f->filter_action.kind == SECCOMP_ACTION_ALLOW) {
        int r2 = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        if (r2 && r2 != -EEXIST)
            rc = errmsg_set(e, r2, "seccomp: %s filter: clone3: %s", cls, strerror(-r2));
    }
    if (!rc)
        rc = export_bpf(ctx, cls, prog, e);
    seccomp_release(ctx);
    return rc;
}

int sandbox_enter(enum sandbox_class c, const char *name, struct errmsg *e)
{
    snprintf(thread_name, sizeof thread_name, "%s", name);
    thread_class = (int)c;
    prctl(PR_SET_NAME, thread_name, 0, 0, 0);
    if (!sb.on)
        return 0;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return errmsg_set(e, -errno, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb.prog[c]) < 0)
        return errmsg_set(e, -errno, "seccomp: loading the %s filter: %s", class_names[c], strerror(errno));
    return 0;
}

void sandbox_thread_start(enum sandbox_class c, const char *name)
{
    struct errmsg e = { "" };
    if (sandbox_enter(c, name, &e)) {
        fprintf(stderr, "minnow: thread '%s': %s\n", name, e.text);
        _exit(123);
    }
}

static void *spawner(void *p)
{
    (void)p;
    snprintf(thread_name, sizeof thread_name, "spawner");
    prctl(PR_SET_NAME, thread_name, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb.spawner_prog) < 0) {
        fprintf(stderr, "minnow: seccomp: loading the spawner's filter: %s\n", strerror(errno));
        _exit(123);
    }
    /* The process's signals are for the threads that wait for them. */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    pthread_mutex_lock(&sb.lock);
    for (;;) {
        while (!sb.busy || sb.done)
            pthread_cond_wait(&sb.cond, &sb.lock);
        pthread_sigmask(SIG_SETMASK, &sb.req_mask, NULL);
        sb.result = sb.req_call ? sb.req_call(sb.req_arg) : pthread_create(sb.req_t, sb.req_attr, sb.req_fn, sb.req_arg);
        pthread_sigmask(SIG_SETMASK, &all, NULL);
        sb.done = 1;
        pthread_cond_broadcast(&sb.cond);
    }
    return NULL;
}

/* One request to the spawner at a time; returns its result. */
static int ask_spawner(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), int (*call)(void *), void *arg)
{
    pthread_mutex_lock(&sb.lock);
    while (sb.busy)
        pthread_cond_wait(&sb.cond, &sb.lock);
    sb.busy = 1;
    sb.done = 0;
    sb.req_t = t;
    sb.req_attr = attr;
    sb.req_fn = fn;
    sb.req_call = call;
    sb.req_arg = arg;
    pthread_sigmask(SIG_SETMASK, NULL, &sb.req_mask);
    pthread_cond_broadcast(&sb.cond);
    while (!sb.done)
        pthread_cond_wait(&sb.cond, &sb.lock);
    int r = sb.result;
    sb.busy = 0;
    sb.done = 0;
    pthread_cond_broadcast(&sb.cond);
    pthread_mutex_unlock(&sb.lock);
    return r;
}

int sandbox_thread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!sb.on || pthread_equal(pthread_self(), sb.thread))
        return pthread_create(t, attr, fn, arg);
    return ask_spawner(t, attr, fn, NULL, arg);
}

int sandbox_spawner_call(int (*fn)(void *), void *arg)
{
    if (!sb.on || pthread_equal(pthread_self(), sb.thread))
        return fn(arg);
    return ask_spawner(NULL, NULL, NULL, fn, arg);
}

int sandbox_init(const struct seccomp_policy *p, struct errmsg *e)
{
    sb.policy = p ? p : seccomp_builtin();
    for (int c = 0; c < SANDBOX_NCLASS; c++) {
        int r = compile(&sb.policy->cls[c], class_names[c], &sb.prog[c], e);
        if (r)
            return r;
    }
    struct seccomp_filter sf;
    if (seccomp_spawner_filter(sb.policy, &sf))
        return errmsg_set(e, -ENOMEM, "seccomp: out of memory");
    int rc = compile(&sf, "spawner", &sb.spawner_prog, e);
    free((void *)sf.rules);
    if (rc)
        return rc;
    uint32_t arch = seccomp_arch_native();
    for (int i = 0; i < SYSCALL_NAMES; i++)
        sb.names[i] = seccomp_syscall_resolve_num_arch(arch, i);
    struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_NODEFER };
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0)
        return errmsg_set(e, -errno, "seccomp: SIGSYS handler: %s", strerror(errno));
    sb.on = 1;
    /* SIGSYS must reach every thread: none blocks it */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    int r = pthread_create(&sb.thread, NULL, spawner, NULL);
    if (r) {
        sb.on = 0;
        return errmsg_set(e, -r, "seccomp: cannot start the spawner thread: %s", strerror(r));
    }
    return 0;
}
