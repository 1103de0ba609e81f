/* A jail's cgroups. See jailer_cgroup.h. */
#include "vmm/jailer_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HIER_MAX 16
#define UNDO_MAX 64
#define CTRL_MAX 32

/* One thing create did: a cgroup it made (ctrl empty), or a controller it
 * enabled in the cgroup.subtree_control file path. */
struct undo {
    char path[PATH_MAX];
    char ctrl[CTRL_MAX];
};

/* The jail's cgroup in one hierarchy. */
struct hierarchy {
    char mount[PATH_MAX];
    char dir[PATH_MAX];       /* <mount>/<parent>/<id> */
    bool cpuset;              /* a v1 hierarchy with the cpuset controller */
    int procs_fd;             /* its cgroup.procs, -1 once written */
};

struct jailer_cgroup {
    struct hierarchy h[HIER_MAX];
    unsigned nh;
    struct undo undo[UNDO_MAX];
    unsigned nundo;
};

static const char mounts_file[] = "/proc/self/mounts";

int jailer_cgroup_check(const struct jailer_setting *s, struct errmsg *e)
{
    const char *f = s->file;
    const char *dot = strchr(f, '.');
    if (!*f || !dot || dot == f || !dot[1])
        return errmsg_set(e, -EINVAL, "--cgroup '%s': expected FILE=VALUE with a cgroup file name such as "
                                      "pids.max or memory.max", f);
    for (const char *p = f; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return errmsg_set(e, -EINVAL, "--cgroup '%s': a cgroup file name has letters, digits, '.', '_' and "
                                          "'-' only", f);
    if (!strcmp(f, "cgroup.procs") || !strcmp(f, "cgroup.threads"))
        return errmsg_set(e, -EINVAL, "--cgroup %s: the jailer moves minnow into the cgroup itself", f);
    if (strchr(s->value, '\n'))
        return errmsg_set(e, -EINVAL, "--cgroup %s: the value has a newline", f);
    if ((size_t)(dot - f) >= CTRL_MAX)
        return errmsg_set(e, -EINVAL, "--cgroup '%s': no controller has so long a name", f);
    return 0;
}

int jailer_cgroup_check_parent(const char *parent, struct errmsg *e)
{
    if (!*parent || *parent == '/')
        return errmsg_set(e, -EINVAL, "--parent-cgroup '%s': expected a path relative to the cgroup hierarchy's "
                                      "root, such as minnow or vms/minnow", parent);
    if (strlen(parent) > 1024)
        return errmsg_set(e, -ENAMETOOLONG, "--parent-cgroup: longer than 1024 characters");
    const char *p = parent;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return errmsg_set(e, -EINVAL, "--parent-cgroup '%s': empty, '.' and '..' components are not allowed",
                              parent);
        for (size_t i = 0; i < n; i++)
            if (p[i] == '\n')
                return errmsg_set(e, -EINVAL, "--parent-cgroup: the path has a newline");
        p += n;
        if (*p == '/')
            p++;
    }
    return p[-1] == '/' ? errmsg_set(e, -EINVAL, "--parent-cgroup '%s' ends with '/'", parent) : 0;
}

/* The controller a cgroup file belongs to: its name up to the first '.'. */
static void controller_of(const char *file, char *ctrl)
{
    size_t n = strcspn(file, ".");
    memcpy(ctrl, file, n);
    ctrl[n] = 0;
}

/* The first mount of fstype ("cgroup2", or "cgroup" carrying controller
 * ctrl). */
static bool find_mount(const char *fstype, const char *ctrl, char *out, size_t len)
{
    FILE *f = setmntent(mounts_file, "re");
    if (!f)
        return false;
    struct mntent m, *p;
    char buf[4096];
    bool found = false;
    while (!found && (p = getmntent_r(f, &m, buf, sizeof buf)))
        if (!strcmp(p->mnt_type, fstype) && (!ctrl || hasmntopt(p, ctrl)))
            found = snprintf(out, len, "%s", p->mnt_dir) < (int)len;
    endmntent(f);
    return found;
}

static int read_text(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, len - 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = 0;
    return 0;
}

/* Writes text to path, as one write (a cgroup file takes a value per
 * write). */
static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n ? 0 : -(errno ? errno : EIO);
    close(fd);
    return rc;
}

/* Whether word is one of the space-separated words of list. */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

static int join(char *out, const char *a, const char *b, struct errmsg *e)
{
    if (snprintf(out, PATH_MAX, "%s/%s", a, b) >= PATH_MAX)
        return errmsg_set(e, -ENAMETOOLONG, "cgroup path %s/%s is too long", a, b);
    return 0;
}

static int remember(struct jailer_cgroup *cg, const char *path, const char *ctrl, struct errmsg *e)
{
    if (cg->nundo == UNDO_MAX)
        return errmsg_set(e, -E2BIG, "cgroups: more than %u changes to make", UNDO_MAX);
    struct undo *u = &cg->undo[cg->nundo++];
    /* path may be a hierarchy's dir, in *cg too: copied, not printed */
    size_t n = strnlen(path, sizeof u->path - 1);
    memcpy(u->path, path, n);
    u->path[n] = 0;
    snprintf(u->ctrl, sizeof u->ctrl, "%s", ctrl ? ctrl : "");
    return 0;
}

/* A v1 cpuset cgroup is made with empty cpuset.cpus and cpuset.mems (no
 * process can join it then): it gets its parent's. */
static int inherit_cpuset(const char *dir, struct errmsg *e)
{
    static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    *strrchr(parent, '/') = 0;
    for (unsigned i = 0; i < 2; i++) {
        char mine[PATH_MAX], theirs[PATH_MAX], val[4096];
        if (join(mine, dir, files[i], e) || join(theirs, parent, files[i], e))
            return -ENAMETOOLONG;
        if (read_text(mine, val, sizeof val) || strspn(val, " \n") != strlen(val))
            continue;   /* not there, or set */
        int rc = read_text(theirs, val, sizeof val);
        if (!rc && strspn(val, " \n") != strlen(val))
            rc = write_text(mine, val);
        if (rc)
            return errmsg_set(e, rc, "cannot give the cgroup %s its parent's %s: %s", dir, files[i], strerror(-rc));
    }
    return 0;
}

/* Enables the controllers ctrls (n of them) for the children of the
 * cgroup dir; made: dir is new (undoing removes it). */
static int enable(struct jailer_cgroup *cg, const char *dir, char ctrls[][CTRL_MAX], unsigned n, bool made,
                  struct errmsg *e)
{
    if (!n)
        return 0;
    char path[PATH_MAX], have[1024];
    if (join(path, dir, "cgroup.subtree_control", e))
        return -ENAMETOOLONG;
    int rc = read_text(path, have, sizeof have);
    if (rc)
        return errmsg_set(e, rc, "cannot read %s: %s", path, strerror(-rc));
    for (unsigned i = 0; i < n; i++) {
        if (has_word(have, ctrls[i]))
            continue;
        char op[CTRL_MAX + 1];
        snprintf(op, sizeof op, "+%s", ctrls[i]);
        if ((rc = write_text(path, op)))
            return errmsg_set(e, rc, "cannot enable the %s controller in %s: %s%s", ctrls[i], path, strerror(-rc),
                              rc == -EBUSY ? " (the cgroup has processes of its own, which cgroup v2 does not allow "
                                             "beside child cgroups with controllers: choose another --parent-cgroup)"
                                           : "");
        if (!made && (rc = remember(cg, path, ctrls[i], e)))
            return rc;
    }
    return 0;
}

/* Makes <h->mount>/<parent>/<id>, enabling ctrls (v2) on the way down. */
static int make_path(struct jailer_cgroup *cg, struct hierarchy *h, const char *parent, const char *id,
                     char ctrls[][CTRL_MAX], unsigned nctrls, struct errmsg *e)
{
    char cur[PATH_MAX];
    snprintf(cur, sizeof cur, "%s", h->mount);
    int rc = enable(cg, cur, ctrls, nctrls, false, e);
    const char *p = parent;
    while (!rc && *p) {
        size_t n = strcspn(p, "/");
        size_t len = strlen(cur);
        if (len + 1 + n >= sizeof cur)
            return errmsg_set(e, -ENAMETOOLONG, "cgroup path %s/%s is too long", h->mount, parent);
        cur[len] = '/';
        memcpy(cur + len + 1, p, n);
        cur[len + 1 + n] = 0;
        p += n + (p[n] == '/');
        bool made = !mkdir(cur, 0755);
        if (!made && errno != EEXIST)
            return errmsg_set(e, -errno, "cannot make the cgroup %s: %s", cur, strerror(errno));
        if (made && (rc = remember(cg, cur, NULL, e)))
            return rc;
        if (made && h->cpuset && (rc = inherit_cpuset(cur, e)))
            return rc;
        rc = enable(cg, cur, ctrls, nctrls, made, e);
    }
    if (rc || (rc = join(h->dir, cur, id, e)))
        return rc;
    if (mkdir(h->dir, 0755))
        return errno == EEXIST ? errmsg_set(e, -EEXIST, "the cgroup %s exists already: a jail with id '%s' runs, or "
                                                        "was not cleaned up (minnow jail --cleanup --id %s)",
                                            h->dir, id, id)
                               : errmsg_set(e, -errno, "cannot make the cgroup %s: %s", h->dir, strerror(errno));
    if ((rc = remember(cg, h->dir, NULL, e)))
        return rc;
    return h->cpuset ? inherit_cpuset(h->dir, e) : 0;
}

static int write_setting(const struct hierarchy *h, const struct jailer_setting *s, struct errmsg *e)
{
    char path[PATH_MAX];
    if (join(path, h->dir, s->file, e))
        return -ENAMETOOLONG;
    struct stat st;
    if (stat(path, &st))
        return errmsg_set(e, -ENOENT, "--cgroup %s=%s: the cgroup file %s does not exist in %s", s->file, s->value,
                          s->file, h->dir);
    int rc = write_text(path, s->value);
    if (rc)
        return errmsg_set(e, rc, "--cgroup %s=%s: cannot write '%s' to %s: %s", s->file, s->value, s->value, path,
                          strerror(-rc));
    return 0;
}

static struct hierarchy *add_hierarchy(struct jailer_cgroup *cg, const char *mount, bool cpuset)
{
    for (unsigned i = 0; i < cg->nh; i++)
        if (!strcmp(cg->h[i].mount, mount))
            return &cg->h[i];
    if (cg->nh == HIER_MAX)
        return NULL;
    struct hierarchy *h = &cg->h[cg->nh++];
    snprintf(h->mount, sizeof h->mount, "%s", mount);
    h->cpuset = cpuset;
    h->procs_fd = -1;
    return h;
}

static int create_v2(struct jailer_cgroup *cg, const char *parent, const char *id, const struct jailer_setting *s,
                     unsigned n, struct errmsg *e)
{
    char mnt[PATH_MAX];
    if (!find_mount("cgroup2", NULL, mnt, sizeof mnt)) {
        if (!n)
            return 0;   /* no cgroups on this host, and none asked for */
        return errmsg_set(e, -ENOENT, "--cgroup-version 2: no cgroup2 file system is mounted (%s)%s", mounts_file,
                          find_mount("cgroup", NULL, mnt, sizeof mnt)
                              ? "; this host has cgroup v1 hierarchies: --cgroup-version 1" : "");
    }
    char avail[1024] = "", path[PATH_MAX];
    if (join(path, mnt, "cgroup.controllers", e))
        return -ENAMETOOLONG;
    read_text(path, avail, sizeof avail);
    avail[strcspn(avail, "\n")] = 0;
    char ctrls[JAILER_MAX_SETTINGS][CTRL_MAX];
    unsigned nctrls = 0;
    for (unsigned i = 0; i < n; i++) {
        char c[CTRL_MAX];
        controller_of(s[i].file, c);
        if (!strcmp(c, "cgroup"))
            continue;   /* the core files every cgroup has */
        if (!has_word(avail, c)) {
            char v1[PATH_MAX];
            if (find_mount("cgroup", c, v1, sizeof v1))
                return errmsg_set(e, -ENOENT, "--cgroup %s: the %s controller is not in the cgroup v2 hierarchy at "
                                              "%s (it is bound to the cgroup v1 hierarchy at %s: --cgroup-version 1)",
                                  s[i].file, c, mnt, v1);
            return errmsg_set(e, -ENOENT, "--cgroup %s: no %s controller in the cgroup v2 hierarchy at %s (it has: "
                                          "%s)", s[i].file, c, mnt, *avail ? avail : "none");
        }
        bool dup = false;
        for (unsigned k = 0; k < nctrls; k++)
            dup |= !strcmp(ctrls[k], c);
        if (!dup)
            strcpy(ctrls[nctrls++], c);
    }
    struct hierarchy *h = add_hierarchy(cg, mnt, false);
    int rc = make_path(cg, h, parent, id, ctrls, nctrls, e);
    for (unsigned i = 0; !rc && i < n; i++)
        rc = write_setting(h, &s[i], e);
    return rc;
}

static int create_v1(struct jailer_cgroup *cg, const char *parent, const char *id, const struct jailer_setting *s,
                     unsigned n, struct errmsg *e)
{
    struct hierarchy *of[JAILER_MAX_SETTINGS];
    for (unsigned i = 0; i < n; i++) {
        char c[CTRL_MAX], mnt[PATH_MAX];
        controller_of(s[i].file, c);
        if (!strcmp(c, "cgroup"))
            return errmsg_set(e, -EINVAL, "--cgroup %s: with cgroup v1, name a controller's file (such as "
                                          "pids.max)", s[i].file);
        if (!find_mount("cgroup", c, mnt, sizeof mnt)) {
            char v2[PATH_MAX];
            if (find_mount("cgroup2", NULL, v2, sizeof v2))
                return errmsg_set(e, -ENOENT, "--cgroup %s: no cgroup v1 hierarchy has the %s controller (%s); this "
                                              "host has cgroup v2 at %s: --cgroup-version 2",
                                  s[i].file, c, mounts_file, v2);
            return errmsg_set(e, -ENOENT, "--cgroup %s: no cgroup v1 hierarchy has the %s controller (%s)",
                              s[i].file, c, mounts_file);
        }
        char cpuset[PATH_MAX];
        bool has_cpuset = find_mount("cgroup", "cpuset", cpuset, sizeof cpuset) && !strcmp(cpuset, mnt);
        if (!(of[i] = add_hierarchy(cg, mnt, has_cpuset)))
            return errmsg_set(e, -E2BIG, "--cgroup: more than %u cgroup hierarchies", HIER_MAX);
    }
    int rc = 0;
    for (unsigned i = 0; !rc && i < cg->nh; i++)
        rc = make_path(cg, &cg->h[i], parent, id, NULL, 0, e);
    for (unsigned i = 0; !rc && i < n; i++)
        rc = write_setting(of[i], &s[i], e);
    return rc;
}

int jailer_cgroup_create(struct jailer_cgroup **out, int version, const char *parent, const char *id,
                         const struct jailer_setting *s, unsigned n, struct errmsg *e)
{
    *out = NULL;
    struct jailer_cgroup *cg = calloc(1, sizeof *cg);
    if (!cg)
        return errmsg_set(e, -ENOMEM, "out of memory");
    int rc = version == 2 ? create_v2(cg, parent, id, s, n, e) : create_v1(cg, parent, id, s, n, e);
    for (unsigned i = 0; !rc && i < cg->nh; i++) {
        char path[PATH_MAX];
        if ((rc = join(path, cg->h[i].dir, "cgroup.procs", e)))
            break;
        if ((cg->h[i].procs_fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            rc = errmsg_set(e, -errno, "cannot open %s: %s", path, strerror(errno));
    }
    if (rc) {
        jailer_cgroup_undo(cg);
        return rc;
    }
    *out = cg;
    return 0;
}

int jailer_cgroup_enter(struct jailer_cgroup *cg, struct errmsg *e)
{
    for (unsigned i = 0; i < cg->nh; i++) {
        struct hierarchy *h = &cg->h[i];
        /* "0" is the writer itself, in whichever pid namespace it is */
        ssize_t w = write(h->procs_fd, "0", 1);
        int err = errno;
        close(h->procs_fd);
        h->procs_fd = -1;
        if (w != 1)
            return errmsg_set(e, -err, "cannot move minnow into the cgroup %s: %s", h->dir, strerror(err));
    }
    return 0;
}

void jailer_cgroup_close(struct jailer_cgroup *cg)
{
    if (!cg)
        return;
    for (unsigned i = 0; i < cg->nh; i++)
        if (cg->h[i].procs_fd >= 0)
            close(cg->h[i].procs_fd);
    free(cg);
}

void jailer_cgroup_undo(struct jailer_cgroup *cg)
{
    if (!cg)
        return;
    for (unsigned i = cg->nundo; i-- > 0;) {
        const struct undo *u = &cg->undo[i];
        if (u->ctrl[0]) {
            char op[CTRL_MAX + 1];
            snprintf(op, sizeof op, "-%s", u->ctrl);
            write_text(u->path, op);
        } else {
            rmdir(u->path);
        }
    }
    jailer_cgroup_close(cg);
}

/* The first pid in the cgroup dir, 0 if none. */
static long first_pid(const char *dir)
{
    char path[PATH_MAX], buf[64];
    if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path || read_text(path, buf, sizeof buf))
        return 0;
    return strtol(buf, NULL, 10);
}

int jailer_cgroup_remove(const char *parent, const char *id, unsigned *removed, struct errmsg *e)
{
    *removed = 0;
    char dirs[HIER_MAX * 2][PATH_MAX];
    unsigned n = 0;
    FILE *f = setmntent(mounts_file, "re");
    if (!f)
        return errmsg_set(e, -errno, "cannot read %s: %s", mounts_file, strerror(errno));
    struct mntent m, *p;
    char buf[4096];
    int rc = 0;
    while (!rc && n < HIER_MAX * 2 && (p = getmntent_r(f, &m, buf, sizeof buf))) {
        if (strcmp(p->mnt_type, "cgroup") && strcmp(p->mnt_type, "cgroup2"))
            continue;
        struct stat st;
        if (snprintf(dirs[n], PATH_MAX, "%s/%s/%s", p->mnt_dir, parent, id) >= PATH_MAX ||
            stat(dirs[n], &st) || !S_ISDIR(st.st_mode))
            continue;
        long pid = first_pid(dirs[n]);
        if (pid > 0)
            rc = errmsg_set(e, -EBUSY, "jail '%s' still runs: pid %ld is in its cgroup %s", id, pid, dirs[n]);
        n++;
    }
    endmntent(f);
    for (unsigned i = 0; !rc && i < n; i++) {
        if (!rmdir(dirs[i]))
            ++*removed;
        else if (errno != ENOENT)   /* another mount of a hierarchy already done */
            rc = errmsg_set(e, -errno, "cannot remove the cgroup %s: %s", dirs[i], strerror(errno));
    }
    return rc;
}
