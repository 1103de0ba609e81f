/* The jail's directory tree. See jailer_tree.h. */
#include "vmm/jailer_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000   /* Linux 5.8 */
#endif

/* Deeper trees than this (which only the jailed VM could have made) are
 * left for the operator rather than holding a descriptor per level. */
#define REMOVE_DEPTH_MAX 256

static int remember(struct jailer_tree *t, const char *dir, struct errmsg *e)
{
    if (t->nmade == JAILER_TREE_MADE_MAX)
        return errmsg_set(e, -ENAMETOOLONG, "chroot base dir: more than %u directories to make above %s",
                          JAILER_TREE_MADE_MAX, dir);
    if (!(t->made[t->nmade] = strdup(dir)))
        return errmsg_set(e, -ENOMEM, "out of memory");
    t->nmade++;
    return 0;
}

/* mkdir, remembering the directory if it is new; one that exists must be
 * a directory. */
static int make_dir(struct jailer_tree *t, const char *dir, const char *what, struct errmsg *e)
{
    if (!mkdir(dir, 0755)) {
        /* the mode exactly, whatever the umask */
        chmod(dir, 0755);
        return remember(t, dir, e);
    }
    int err = errno;
    struct stat st;
    if (err == EEXIST && !stat(dir, &st) && S_ISDIR(st.st_mode))
        return 0;
    if (err == EEXIST || err == ENOTDIR)
        return errmsg_set(e, -ENOTDIR, "%s '%s' is not a directory", what, dir);
    return errmsg_set(e, -err, "cannot make the directory %s: %s", dir, strerror(err));
}

int jailer_tree_create(struct jailer_tree *t, const char *base, const char *name, const char *id, struct errmsg *e)
{
    memset(t, 0, sizeof *t);
    t->root_fd = -1;
    struct stat st;
    if (!stat(base, &st) && !S_ISDIR(st.st_mode))
        return errmsg_set(e, -ENOTDIR, "--chroot-base-dir '%s' is not a directory", base);
    /* mkdir -p, each new directory remembered */
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", base) >= (int)sizeof path)
        return errmsg_set(e, -ENAMETOOLONG, "--chroot-base-dir '%s' is too long", base);
    int rc = 0;
    for (char *p = path + 1; !rc && *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        rc = make_dir(t, path, "--chroot-base-dir: the path component", e);
        *p = '/';
    }
    if (!rc)
        rc = make_dir(t, path, "--chroot-base-dir", e);
    char abs[PATH_MAX];
    if (!rc && !realpath(path, abs))
        rc = errmsg_set(e, -errno, "--chroot-base-dir '%s': %s", base, strerror(errno));
    int n = rc ? 0 : snprintf(t->id_dir, sizeof t->id_dir, "%s/%s", strcmp(abs, "/") ? abs : "", name);
    if (!rc && (n < 0 || (size_t)n >= sizeof t->id_dir))
        rc = errmsg_set(e, -ENAMETOOLONG, "--chroot-base-dir '%s' is too long", base);
    if (!rc)
        rc = make_dir(t, t->id_dir, "the jail directory", e);
    if (!rc && strlen(t->id_dir) + 1 + strlen(id) >= sizeof t->id_dir)
        rc = errmsg_set(e, -ENAMETOOLONG, "--chroot-base-dir '%s' is too long", base);
    if (!rc) {
        strcat(t->id_dir, "/");
        strcat(t->id_dir, id);
        rc = make_dir(t, t->id_dir, "the jail directory", e);
    }
    if (!rc) {
        snprintf(t->root, sizeof t->root, "%s/root", t->id_dir);
        if (mkdir(t->root, 0755)) {
            int err = errno;
            rc = err == EEXIST ? errmsg_set(e, -EEXIST, "a jail with id '%s' exists already: %s (its VM runs, or it "
                                                      "was not cleaned up: minnow jail --cleanup --id %s)",
                                            id, t->root, id)
                               : errmsg_set(e, -err, "cannot make the jail %s: %s", t->root, strerror(err));
            t->root[0] = 0;   /* not ours: undo leaves it alone */
        } else {
            chmod(t->root, 0755);
        }
    }
    if (!rc && (t->root_fd = open(t->root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = errmsg_set(e, -errno, "cannot open the jail %s: %s", t->root, strerror(errno));
    if (rc)
        jailer_tree_undo(t);
    return rc;
}

/* Makes the missing directories of path (relative to the root) above its
 * last component. */
static int parents(struct jailer_tree *t, const char *path, struct errmsg *e)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return errmsg_set(e, -ENAMETOOLONG, "jail path '%s' is too long", path);
    for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        struct stat st;
        if (mkdirat(t->root_fd, p, 0755) == 0)
            fchmodat(t->root_fd, p, 0755, 0);
        else if (errno != EEXIST)
            return errmsg_set(e, -errno, "cannot make %s/%s: %s", t->root, p, strerror(errno));
        else if (fstatat(t->root_fd, p, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
            return errmsg_set(e, -ENOTDIR, "%s/%s is not a directory", t->root, p);
        *s = '/';
    }
    return 0;
}

static int copy_data(int in, int out, off_t size)
{
    while (size > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)size, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;   /* not supported here, or the file shrank: read and write the rest */
        size -= n;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -errno;
            off += w;
        }
    }
}

int jailer_tree_copy(struct jailer_tree *t, const char *src, const char *path, mode_t mode, struct errmsg *e)
{
    int rc = parents(t, path, e);
    if (rc)
        return rc;
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errmsg_set(e, -errno, "cannot read %s: %s", src, strerror(errno));
    struct stat st;
    if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
        close(in);
        return errmsg_set(e, -EINVAL, "%s is not a regular file", src);
    }
    int out = openat(t->root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        rc = errmsg_set(e, -errno, "cannot make %s/%s: %s", t->root, path, strerror(errno));
        close(in);
        return rc;
    }
    rc = copy_data(in, out, st.st_size);
    if (!rc && fchmod(out, mode))
        rc = -errno;
    if (close(out) && !rc)
        rc = -errno;
    close(in);
    if (rc)
        return errmsg_set(e, rc, "cannot copy %s into the jail as %s/%s: %s", src, t->root, path, strerror(-rc));
    return 0;
}

int jailer_tree_link(struct jailer_tree *t, const char *src, const char *path, struct errmsg *e)
{
    int rc = parents(t, path, e);
    if (rc)
        return rc;
    if (!linkat(AT_FDCWD, src, t->root_fd, path, AT_SYMLINK_FOLLOW))
        return 0;
    if (errno == EXDEV)
        return errmsg_set(e, -EXDEV, "--file %s: cannot hard-link it into the jail %s: they are on different file "
                                     "systems (put the file on the jail's, or copy it into the jail yourself)",
                          src, t->root);
    return errmsg_set(e, -errno, "--file %s: cannot hard-link it into the jail as %s/%s: %s", src, t->root, path,
                      strerror(errno));
}

int jailer_tree_mknod(struct jailer_tree *t, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
                      struct errmsg *e)
{
    int rc = parents(t, path, e);
    if (rc)
        return rc;
    if (mknodat(t->root_fd, path, S_IFCHR | mode, dev) || fchmodat(t->root_fd, path, mode, 0) ||
        fchownat(t->root_fd, path, uid, gid, AT_SYMLINK_NOFOLLOW))
        return errmsg_set(e, -errno, "cannot make the device node %s/%s: %s", t->root, path, strerror(errno));
    return 0;
}

int jailer_tree_mkdir(struct jailer_tree *t, const char *path, mode_t mode, struct errmsg *e)
{
    int rc = parents(t, path, e);
    if (rc)
        return rc;
    if (mkdirat(t->root_fd, path, mode) || fchmodat(t->root_fd, path, mode, 0))
        return errmsg_set(e, -errno, "cannot make %s/%s: %s", t->root, path, strerror(errno));
    return 0;
}

int jailer_tree_write(struct jailer_tree *t, const char *path, const char *text, struct errmsg *e)
{
    int fd = openat(t->root_fd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return errmsg_set(e, -errno, "cannot make %s/%s: %s", t->root, path, strerror(errno));
    size_t n = strlen(text);
    int rc = write(fd, text, n) == (ssize_t)n && !fchmod(fd, 0644) ? 0 : -(errno ? errno : EIO);
    if (close(fd) && !rc)
        rc = -errno;
    return rc ? errmsg_set(e, rc, "cannot write %s/%s: %s", t->root, path, strerror(-rc)) : 0;
}

int jailer_tree_chown_root(struct jailer_tree *t, uid_t uid, gid_t gid, struct errmsg *e)
{
    if (fchown(t->root_fd, uid, gid))
        return errmsg_set(e, -errno, "cannot give the jail %s to %u:%u: %s", t->root, (unsigned)uid, (unsigned)gid,
                          strerror(errno));
    return 0;
}

void jailer_tree_close(struct jailer_tree *t)
{
    if (t->root_fd >= 0)
        close(t->root_fd);
    t->root_fd = -1;
    for (unsigned i = 0; i < t->nmade; i++)
        free(t->made[i]);
    t->nmade = 0;
}

void jailer_tree_undo(struct jailer_tree *t)
{
    if (t->root_fd >= 0)
        close(t->root_fd);
    t->root_fd = -1;
    if (t->root[0])
        jailer_tree_remove(t->root, NULL);
    /* Only if empty: something another jailer put there stays. */
    while (t->nmade) {
        rmdir(t->made[t->nmade - 1]);
        free(t->made[--t->nmade]);
    }
}

/* Whether name (a directory in parent) is the root of a mount. */
static bool mount_root(int parent, const char *name, dev_t parent_dev, dev_t dev)
{
    if (dev != parent_dev)
        return true;
    struct statx sx;
    return !statx(parent, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) &&
           (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int remove_at(int parent, const char *name, dev_t dev, const char *shown, unsigned depth, struct errmsg *e)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW))
        return errno == ENOENT ? 0 : errmsg_set(e, -errno, "cannot remove %s: %s", shown, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(parent, name, 0) && errno != ENOENT)
            return errmsg_set(e, -errno, "cannot remove %s: %s", shown, strerror(errno));
        return 0;
    }
    if (mount_root(parent, name, dev, st.st_dev))
        return errmsg_set(e, -EBUSY, "cannot remove %s: a file system is mounted there", shown);
    if (depth > REMOVE_DEPTH_MAX)
        return errmsg_set(e, -ELOOP, "cannot remove %s: more than %u directories deep", shown, REMOVE_DEPTH_MAX);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return errmsg_set(e, -err, "cannot remove %s: %s", shown, strerror(err));
    }
    int rc = 0;
    /* Removing entries while reading the directory may make readdir skip
     * some: read it again until a pass finds nothing. */
    for (bool again = true; again && !rc;) {
        again = false;
        rewinddir(d);
        struct dirent *de;
        while (!rc && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char sub[PATH_MAX];
            snprintf(sub, sizeof sub, "%s/%s", shown, de->d_name);
            rc = remove_at(dirfd(d), de->d_name, dev, sub, depth + 1, e);
            again = true;
        }
    }
    closedir(d);
    if (!rc && unlinkat(parent, name, AT_REMOVEDIR) && errno != ENOENT)
        rc = errmsg_set(e, -errno, "cannot remove %s: %s", shown, strerror(errno));
    return rc;
}

int jailer_tree_remove(const char *dir, struct errmsg *e)
{
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", dir) >= (int)sizeof parent)
        return errmsg_set(e, -ENAMETOOLONG, "'%s' is too long", dir);
    char *slash = strrchr(parent, '/');
    const char *name = slash ? slash + 1 : parent;
    if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return errmsg_set(e, -EINVAL, "will not remove '%s'", dir);
    if (slash == parent)
        strcpy(parent, "/");
    else if (slash)
        *slash = 0;
    int pfd = open(slash ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0)
        return errmsg_set(e, -errno, "cannot open %s: %s", slash ? parent : ".", strerror(errno));
    struct stat st;
    int rc;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW))
        rc = errmsg_set(e, -errno, "cannot remove %s: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        rc = errmsg_set(e, -ENOTDIR, "will not remove %s: not a directory", dir);
    else
        rc = remove_at(pfd, name, st.st_dev, dir, 0, e);
    close(pfd);
    return rc;
}
