/* The jailer's steps, in the order Firecracker's docs/jailer.md gives them,
 * and the cleanup of a jail. See jailer.h.
 *
 * Everything that can be made from the host side is made before the fork
 * (the tree, the cgroups, the descriptors the child needs), so that a
 * failure anywhere, the child's included, is undone by the parent, which
 * never leaves the host's namespaces. The child reports a failure as one
 * message on a close-on-exec pipe: end of file with no message means the
 * exec happened. */
#include "vmm/jailer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/jailer_cgroup.h"
#include "vmm/jailer_libs.h"
#include "vmm/jailer_tree.h"

/* What the child writes when a step fails. */
struct failure {
    int code;
    char text[sizeof(struct errmsg)];
};

struct jail {
    const struct jailer_config *c;
    char exec[PATH_MAX];        /* the exec file to copy */
    char name[NAME_MAX + 1];    /* its name: the copy is /<name>, the pid file /<name>.pid */
    char files[JAILER_MAX_FILES][PATH_MAX];   /* --file destinations, relative to the root */
    const char *parent_cgroup;
    struct jailer_libs libs;
    struct jailer_tree tree;
    struct jailer_cgroup *cg;
    int netns_fd, null_fd;
    mode_t umask;
};

int jailer_check_id(const char *id, struct errmsg *e)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > JAILER_ID_MAX)
        return errmsg_set(e, -EINVAL, "--id: expected 1 to %u characters, got %zu", JAILER_ID_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return errmsg_set(e, -EINVAL, "--id '%s': only letters, digits and '-' are allowed", id);
    }
    return 0;
}

/* The exec file and its name (which also names the parent cgroup and the
 * directory below the base); checked if check is set. */
static int exec_file(struct jail *j, bool check, struct errmsg *e)
{
    const char *given = j->c->exec_file;
    char target[PATH_MAX];
    const char *named = given;
    if (!given) {
        /* The running binary itself, even if its file was replaced. */
        ssize_t n = readlink("/proc/self/exe", target, sizeof target - 1);
        if (n <= 0)
            return errmsg_set(e, -errno, "cannot find this minnow's executable (/proc/self/exe): give --exec-file");
        target[n] = 0;
        char *del = strstr(target, " (deleted)");
        if (del && !del[10])
            *del = 0;
        named = target;
        given = "/proc/self/exe";
    }
    if (snprintf(j->exec, sizeof j->exec, "%s", given) >= (int)sizeof j->exec)
        return errmsg_set(e, -ENAMETOOLONG, "--exec-file: too long");
    const char *slash = strrchr(named, '/');
    const char *base = slash ? slash + 1 : named;
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..") || strlen(base) > NAME_MAX - 4)
        return errmsg_set(e, -EINVAL, "--exec-file '%s': expected the path of a file", named);
    strcpy(j->name, base);
    if (!check)
        return 0;
    struct stat st;
    if (stat(j->exec, &st))
        return errmsg_set(e, -errno, "--exec-file %s: %s", named, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errmsg_set(e, -EINVAL, "--exec-file %s is not a regular file", named);
    if (access(j->exec, X_OK))
        return errmsg_set(e, -EACCES, "--exec-file %s is not executable", named);
    return 0;
}

/* A --file destination as a path relative to the root. */
static int file_dest(struct jail *j, unsigned i, struct errmsg *e)
{
    const struct jailer_file *f = &j->c->files[i];
    struct stat st;
    if (stat(f->host, &st))
        return errmsg_set(e, -errno, "--file %s: %s", f->host, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return errmsg_set(e, -EISDIR, "--file %s is a directory: only files can be linked into the jail", f->host);
    const char *dest = f->jail;
    const char *slash = strrchr(f->host, '/');
    char def[PATH_MAX];
    if (!dest) {
        snprintf(def, sizeof def, "/%s", slash ? slash + 1 : f->host);
        dest = def;
    }
    if (dest[0] != '/')
        return errmsg_set(e, -EINVAL, "--file %s:%s: the path in the jail must start with '/'", f->host, dest);
    const char *p = dest;
    while (*p == '/')
        p++;
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return errmsg_set(e, -EINVAL, "--file %s:%s: empty, '.' and '..' components are not allowed", f->host,
                              dest);
        c += n;
        if (*c == '/')
            c++;
    }
    if (!*p || p[strlen(p) - 1] == '/')
        return errmsg_set(e, -EINVAL, "--file %s:%s: expected the path of a file in the jail", f->host, dest);
    snprintf(j->files[i], sizeof j->files[i], "%s", p);
    return 0;
}

static int check(struct jail *j, struct errmsg *e)
{
    const struct jailer_config *c = j->c;
    int rc = jailer_check_id(c->id, e);
    if (rc)
        return rc;
    if (geteuid() != 0)
        return errmsg_set(e, -EPERM, "the jailer must run as root (it makes device nodes, cgroups and namespaces)");
    if (!c->allow_root && (c->uid == 0 || c->gid == 0))
        return errmsg_set(e, -EPERM, "--%s 0: the jailer does not run minnow as root; give an unprivileged %s "
                                     "(or --allow-root)", c->uid == 0 ? "uid" : "gid", c->uid == 0 ? "uid" : "gid");
    if (c->cgroup_version != 1 && c->cgroup_version != 2)
        return errmsg_set(e, -EINVAL, "--cgroup-version %d: expected 1 or 2", c->cgroup_version);
    if ((rc = exec_file(j, true, e)))
        return rc;
    j->parent_cgroup = c->parent_cgroup ? c->parent_cgroup : j->name;
    if ((rc = jailer_cgroup_check_parent(j->parent_cgroup, e)))
        return rc;
    for (unsigned i = 0; i < c->ncgroups; i++)
        if ((rc = jailer_cgroup_check(&c->cgroups[i], e)))
            return rc;
    for (unsigned i = 0; i < c->nfiles; i++)
        if ((rc = file_dest(j, i, e)))
            return rc;
    if (c->netns) {
        j->netns_fd = open(c->netns, O_RDONLY | O_CLOEXEC);
        if (j->netns_fd < 0)
            return errmsg_set(e, -errno, "--netns %s: %s", c->netns, strerror(errno));
        if (ioctl(j->netns_fd, NS_GET_NSTYPE) != CLONE_NEWNET)
            return errmsg_set(e, -EINVAL, "--netns %s is not a network namespace (such as /var/run/netns/NAME)",
                              c->netns);
    }
    return 0;
}

/* The jail's contents. */
static int populate(struct jail *j, struct errmsg *e)
{
    const struct jailer_config *c = j->c;
    struct jailer_tree *t = &j->tree;
    struct statvfs vfs;
    if (fstatvfs(t->root_fd, &vfs))
        return errmsg_set(e, -errno, "cannot stat the file system of %s: %s", t->root, strerror(errno));
    if (vfs.f_flag & (ST_NODEV | ST_NOEXEC | ST_RDONLY))
        return errmsg_set(e, -EINVAL, "the jail %s is on a file system mounted %s: minnow could not %s there "
                                      "(choose another --chroot-base-dir)", t->root,
                          vfs.f_flag & ST_RDONLY ? "read-only" : vfs.f_flag & ST_NODEV ? "nodev" : "noexec",
                          vfs.f_flag & ST_RDONLY ? "make its sockets"
                          : vfs.f_flag & ST_NODEV ? "open its device nodes" : "be executed");
    int rc = jailer_tree_copy(t, j->exec, j->name, 0755, e);
    for (unsigned i = 0; !rc && i < j->libs.n; i++)
        rc = jailer_tree_copy(t, j->libs.paths[i], j->libs.paths[i] + 1, 0755, e);
    if (!rc)
        rc = jailer_tree_mkdir(t, "dev", 0755, e);
    if (!rc)
        rc = jailer_tree_mkdir(t, "dev/net", 0755, e);
    /* TAP devices; the network helper's stdin and stdout; libslirp's
     * (glib's) random seed. */
    if (!rc)
        rc = jailer_tree_mknod(t, "dev/net/tun", 0600, makedev(10, 200), c->uid, c->gid, e);
    if (!rc)
        rc = jailer_tree_mknod(t, "dev/null", 0666, makedev(1, 3), 0, 0, e);
    if (!rc)
        rc = jailer_tree_mknod(t, "dev/urandom", 0444, makedev(1, 9), 0, 0, e);
    if (!rc && j->libs.needs_proc)
        rc = jailer_tree_mkdir(t, "proc", 0555, e);
    for (unsigned i = 0; !rc && i < c->nfiles; i++)
        rc = jailer_tree_link(t, c->files[i].host, j->files[i], e);
    if (!rc)
        rc = jailer_tree_chown_root(t, c->uid, c->gid, e);
    return rc;
}

/* ---- the child: into the jail, then exec ---- */

static void fail(int fd, int code, const struct errmsg *e) __attribute__((noreturn));
static void fail(int fd, int code, const struct errmsg *e)
{
    struct failure f = { .code = code < 0 ? code : -EIO };
    snprintf(f.text, sizeof f.text, "%s", e->text);
    ssize_t w = write(fd, &f, sizeof f);
    (void)w;   /* a parent that is gone cleans nothing up either way */
    _exit(1);
}

/* pivot_root into the root in a new mount namespace; the host's tree is
 * detached and no longer reachable. */
static int enter_root(const struct jail *j, struct errmsg *e)
{
    const char *root = j->tree.root;
    if (unshare(CLONE_NEWNS))
        return errmsg_set(e, -errno, "cannot make a mount namespace: %s", strerror(errno));
    /* Nothing done here reaches the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        return errmsg_set(e, -errno, "cannot make the mounts private: %s", strerror(errno));
    /* pivot_root needs a mount point; nosuid: nothing in the jail gains
     * privileges by its file mode. */
    if (mount(root, root, NULL, MS_BIND, NULL) || mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID, NULL))
        return errmsg_set(e, -errno, "cannot bind-mount the jail %s: %s", root, strerror(errno));
    if (chdir(root) || syscall(SYS_pivot_root, ".", "."))
        return errmsg_set(e, -errno, "cannot pivot_root into %s: %s", root, strerror(errno));
    /* The old root is stacked on the new one: detaching it leaves the jail. */
    if (umount2(".", MNT_DETACH) || chroot(".") || chdir("/"))
        return errmsg_set(e, -errno, "cannot detach the host's file system from the jail: %s", strerror(errno));
    if (j->libs.needs_proc) {
        /* Only the jailed processes' own pid directories. */
        unsigned long fl = MS_NOSUID | MS_NODEV | MS_NOEXEC;
        if (mount("proc", "/proc", "proc", fl, "hidepid=invisible,subset=pid") &&
            mount("proc", "/proc", "proc", fl, "hidepid=2"))
            return errmsg_set(e, -errno, "cannot mount /proc in the jail (the exec file links a sanitizer "
                                         "runtime, which reads it): %s", strerror(errno));
    }
    return 0;
}

static int drop_privileges(const struct jailer_config *c, struct errmsg *e)
{
    /* Nothing minnow execs (itself, as the network helper) gains
     * privileges through file capabilities or set-id bits. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        return errmsg_set(e, -errno, "cannot set no_new_privs: %s", strerror(errno));
    if (setgroups(0, NULL))
        return errmsg_set(e, -errno, "cannot drop the supplementary groups: %s", strerror(errno));
    if (setresgid(c->gid, c->gid, c->gid))
        return errmsg_set(e, -errno, "--gid %u: %s", (unsigned)c->gid, strerror(errno));
    if (setresuid(c->uid, c->uid, c->uid))
        return errmsg_set(e, -errno, "--uid %u: %s", (unsigned)c->uid, strerror(errno));
    return 0;
}

static void child(struct jail *j, int err_fd, int go_fd) __attribute__((noreturn));
static void child(struct jail *j, int err_fd, int go_fd)
{
    const struct jailer_config *c = j->c;
    struct errmsg e = { "" };
    int rc = 0;
    char go;
    /* The parent has written the pid file. */
    if (read(go_fd, &go, 1) != 1)
        fail(err_fd, errmsg_set(&e, -EPIPE, "the jailer's parent process is gone"), &e);
    if ((rc = jailer_cgroup_enter(j->cg, &e)))
        fail(err_fd, rc, &e);
    bool nofile = false;
    for (unsigned i = 0; i < c->nrlimits; i++) {
        struct rlimit r = { c->rlimits[i].value, c->rlimits[i].value };
        nofile |= c->rlimits[i].resource == RLIMIT_NOFILE;
        if (setrlimit(c->rlimits[i].resource, &r))
            fail(err_fd, errmsg_set(&e, -errno, "--resource-limit %s=%llu: %s",
                                    c->rlimits[i].resource == RLIMIT_NOFILE ? "no-file" : "fsize",
                                    (unsigned long long)c->rlimits[i].value, strerror(errno)), &e);
    }
    if (!nofile && setrlimit(RLIMIT_NOFILE, &(struct rlimit){ JAILER_DEFAULT_NOFILE, JAILER_DEFAULT_NOFILE }))
        fail(err_fd, errmsg_set(&e, -errno, "cannot limit open files to %d: %s", JAILER_DEFAULT_NOFILE,
                                strerror(errno)), &e);
    if (j->netns_fd >= 0) {
        if (setns(j->netns_fd, CLONE_NEWNET))
            fail(err_fd, errmsg_set(&e, -errno, "--netns %s: cannot join it: %s", c->netns, strerror(errno)), &e);
        close(j->netns_fd);
    }
    if ((rc = enter_root(j, &e)))
        fail(err_fd, rc, &e);
    umask(j->umask);
    if (c->daemonize) {
        if (setsid() < 0)
            fail(err_fd, errmsg_set(&e, -errno, "--daemonize: setsid: %s", strerror(errno)), &e);
        if (dup2(j->null_fd, 0) < 0 || dup2(j->null_fd, 1) < 0 || dup2(j->null_fd, 2) < 0)
            fail(err_fd, errmsg_set(&e, -errno, "--daemonize: cannot redirect to /dev/null: %s", strerror(errno)),
                 &e);
        close(j->null_fd);
    }
    if ((rc = drop_privileges(c, &e)))
        fail(err_fd, rc, &e);
    if (!c->daemonize) {
        /* minnow ends with the jailer, even killed with SIGKILL (with
         * Firecracker's jailer they are one process). Set after the uid
         * change, which clears it; the parent holds go's write end until
         * the exec, so a hang-up means it died before the setting. */
        struct pollfd p = { .fd = go_fd, .events = POLLIN };
        if (prctl(PR_SET_PDEATHSIG, SIGKILL))
            fail(err_fd, errmsg_set(&e, -errno, "cannot set the parent-death signal: %s", strerror(errno)), &e);
        if (poll(&p, 1, 0) != 0)
            fail(err_fd, errmsg_set(&e, -EPIPE, "the jailer's parent process is gone"), &e);
    }
    /* Whatever is still open above stderr is closed by the exec. */
    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC))
        fail(err_fd, errmsg_set(&e, -errno, "close_range: %s", strerror(errno)), &e);
    char path[NAME_MAX + 2];
    snprintf(path, sizeof path, "/%s", j->name);
    char **argv = calloc((size_t)c->nargs + 2, sizeof *argv);
    if (!argv)
        fail(err_fd, errmsg_set(&e, -ENOMEM, "out of memory"), &e);
    argv[0] = j->name;
    for (int i = 0; i < c->nargs; i++)
        argv[i + 1] = c->args[i];
    char *envp[] = { NULL };
    execve(path, argv, envp);
    fail(err_fd, errmsg_set(&e, -errno, "cannot run %s in the jail %s: %s", path, j->tree.root, strerror(errno)),
         &e);
}

/* ---- the parent ---- */

/* Waits for minnow, passing on the signals that stop a process. */
static int supervise(pid_t pid)
{
    sigset_t set, old;
    sigemptyset(&set);
    static const int passed[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
    for (unsigned i = 0; i < sizeof passed / sizeof passed[0]; i++)
        sigaddset(&set, passed[i]);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    int status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (w < 0 && errno != EINTR) {
            status = 1;
            break;
        }
        /* A SIGCHLD sent before the mask was set is seen by the waitpid. */
        int sig = sigwaitinfo(&set, NULL);
        if (sig > 0 && sig != SIGCHLD)
            kill(pid, sig);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return status;
}

/* Forks the child and waits until it has exec'd or failed. */
static int spawn(struct jail *j, pid_t *pid, struct errmsg *e)
{
    int err[2], go[2];
    if (pipe2(err, O_CLOEXEC))
        return errmsg_set(e, -errno, "pipe: %s", strerror(errno));
    if (pipe2(go, O_CLOEXEC)) {
        close(err[0]);
        close(err[1]);
        return errmsg_set(e, -errno, "pipe: %s", strerror(errno));
    }
    int rc = 0;
    /* The next child is the init of a new pid namespace. Only that one:
     * once it has died, no process could be made in its namespace, the
     * threads a sanitizer runtime starts at exit included. */
    int own_pidns = -1;
    if (j->c->new_pid_ns && (own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0)
        rc = errmsg_set(e, -errno, "--new-pid-ns: /proc/self/ns/pid: %s", strerror(errno));
    if (!rc && own_pidns >= 0 && unshare(CLONE_NEWPID))
        rc = errmsg_set(e, -errno, "--new-pid-ns: cannot make a pid namespace: %s", strerror(errno));
    *pid = rc ? -1 : fork();
    if (*pid == 0) {
        close(err[0]);
        close(go[1]);
        child(j, err[1], go[0]);
    }
    if (!rc && *pid < 0)
        rc = errmsg_set(e, -errno, "fork: %s", strerror(errno));
    if (own_pidns >= 0) {
        if (setns(own_pidns, CLONE_NEWPID) && !rc)
            rc = errmsg_set(e, -errno, "--new-pid-ns: cannot return to this pid namespace: %s", strerror(errno));
        close(own_pidns);
        if (rc && *pid > 0) {
            kill(*pid, SIGKILL);
            while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    close(err[1]);
    close(go[0]);
    if (!rc) {
        struct sigaction ign = { .sa_handler = SIG_IGN }, old;
        sigaction(SIGPIPE, &ign, &old);
        char pidfile[NAME_MAX + 8], text[32];
        snprintf(pidfile, sizeof pidfile, "%s.pid", j->name);
        snprintf(text, sizeof text, "%d\n", (int)*pid);
        rc = jailer_tree_write(&j->tree, pidfile, text, e);
        if (!rc && write(go[1], "g", 1) != 1)
            rc = 1;   /* the child failed at once: its message says why */
        sigaction(SIGPIPE, &old, NULL);
        if (rc < 0) {
            close(go[1]);   /* the child, told nothing, ends */
            go[1] = -1;
        }
        struct failure f;
        size_t got = 0;
        while (got < sizeof f) {
            ssize_t n = read(err[0], (char *)&f + got, sizeof f - got);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (rc < 0) {
            /* the pid file: the child, told nothing, ends with "gone" */
        } else if (got == sizeof f) {
            f.text[sizeof f.text - 1] = 0;
            rc = errmsg_set(e, f.code, "%s", f.text);
        } else if (rc == 1) {
            rc = errmsg_set(e, -EPIPE, "the jailed process ended before it could run minnow");
        }
        if (rc) {
            kill(*pid, SIGKILL);
            while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
    }
    close(err[0]);
    if (go[1] >= 0)
        close(go[1]);
    return rc;
}

int jailer_run(const struct jailer_config *c, int *status, struct errmsg *e)
{
    *status = 0;
    struct jail *j = calloc(1, sizeof *j);
    if (!j)
        return errmsg_set(e, -ENOMEM, "out of memory");
    j->c = c;
    j->netns_fd = -1;
    j->null_fd = -1;
    j->tree.root_fd = -1;
    /* The jail's modes are exact; minnow gets the caller's umask back. */
    j->umask = umask(0);
    int rc = check(j, e);
    if (!rc)
        rc = jailer_libs_find(&j->libs, j->exec, c->on_demand_libs, e);
    bool made = false;
    if (!rc)
        made = !(rc = jailer_tree_create(&j->tree, c->base_dir ? c->base_dir : JAILER_DEFAULT_BASE, j->name, c->id,
                                         e));
    if (!rc)
        rc = populate(j, e);
    if (!rc)
        rc = jailer_cgroup_create(&j->cg, c->cgroup_version, j->parent_cgroup, c->id, c->cgroups, c->ncgroups, e);
    if (!rc && c->daemonize && (j->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
        rc = errmsg_set(e, -errno, "--daemonize: /dev/null: %s", strerror(errno));
    pid_t pid = -1;
    if (!rc)
        rc = spawn(j, &pid, e);
    umask(j->umask);
    if (j->netns_fd >= 0)
        close(j->netns_fd);
    if (j->null_fd >= 0)
        close(j->null_fd);
    if (rc) {
        jailer_cgroup_undo(j->cg);
        if (made)
            jailer_tree_undo(&j->tree);
    } else {
        jailer_cgroup_close(j->cg);
        jailer_tree_close(&j->tree);
    }
    jailer_libs_free(&j->libs);
    free(j);
    if (!rc && !c->daemonize)
        *status = supervise(pid);
    return rc;
}

/* ---- cleanup ---- */

/* The pid in the jail's pid file, if that process still runs in the jail. */
static pid_t running(const char *root, const char *name)
{
    char path[2 * PATH_MAX], buf[32];
    snprintf(path, sizeof path, "%s/%s.pid", root, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    long pid = strtol(buf, NULL, 10);
    if (pid <= 0 || pid > INT_MAX)
        return 0;
    /* Not just any process with that pid: one whose root is the jail. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%ld/root", pid);
    struct stat a, b;
    if (stat(proc, &a) || stat(root, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return 0;
    return (pid_t)pid;
}

int jailer_cleanup(const struct jailer_config *c, struct errmsg *e)
{
    struct jail j = { .c = c, .netns_fd = -1, .null_fd = -1 };
    int rc = jailer_check_id(c->id, e);
    if (!rc)
        rc = exec_file(&j, false, e);
    const char *parent = c->parent_cgroup ? c->parent_cgroup : j.name;
    if (!rc)
        rc = jailer_cgroup_check_parent(parent, e);
    if (rc)
        return rc;
    const char *base = c->base_dir ? c->base_dir : JAILER_DEFAULT_BASE;
    char abs[PATH_MAX], dir[PATH_MAX + NAME_MAX + JAILER_ID_MAX + 8], root[sizeof dir + 8];
    bool have_dir = false;
    if (realpath(base, abs)) {
        snprintf(dir, sizeof dir, "%s/%s/%s", strcmp(abs, "/") ? abs : "", j.name, c->id);
        snprintf(root, sizeof root, "%s/root", dir);
        struct stat st;
        have_dir = !lstat(dir, &st);
        pid_t pid = have_dir ? running(root, j.name) : 0;
        if (pid)
            return errmsg_set(e, -EBUSY, "jail '%s' still runs: pid %d (from %s/%s.pid)", c->id, (int)pid, root,
                              j.name);
    }
    unsigned removed;
    if ((rc = jailer_cgroup_remove(parent, c->id, &removed, e)))
        return rc;
    if (have_dir && (rc = jailer_tree_remove(dir, e)))
        return rc;
    if (!have_dir && !removed)
        return errmsg_set(e, -ENOENT, "no jail '%s': neither %s/%s/%s nor a cgroup %s/%s exists", c->id, base,
                          j.name, c->id, parent, c->id);
    return 0;
}
