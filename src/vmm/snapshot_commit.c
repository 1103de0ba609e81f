/* Crash-consistent writing of a snapshot's state and memory files (see
 * snapshot_commit.h). */
#include "vmm/snapshot_commit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/snapshot_mem.h"

int snapshot_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int snapshot_path_split(const char *path, const char *what, int *dirfd, char *name, struct errmsg *e)
{
    *dirfd = -1;
    size_t n = strlen(path);
    if (!n || path[n - 1] == '/')
        return errmsg_set(e, -EINVAL, "%s '%s': expected a file name, not a directory", what, path);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strlen(base) > NAME_MAX - SNAPSHOT_TMP_SUFFIX_LEN || !strcmp(base, ".") || !strcmp(base, ".."))
        return errmsg_set(e, -EINVAL, "%s '%s': expected a file name of at most %u bytes", what, path,
                          (unsigned)(NAME_MAX - SNAPSHOT_TMP_SUFFIX_LEN));
    char dir[PATH_MAX];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir)
        return errmsg_set(e, -ENAMETOOLONG, "%s '%s': the path is too long", what, path);
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "%s '%s': its directory '%s': %s", what, path, dir, strerror(errno));
    snprintf(name, NAME_MAX + 1, "%s", base);
    *dirfd = fd;
    return 0;
}

static const char *kind_of(mode_t m)
{
    return S_ISLNK(m) ? "a symbolic link (not followed)" : S_ISDIR(m) ? "a directory"
         : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int snapshot_dest_check(int dirfd, const char *name, const char *path, const char *what, struct errmsg *e)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
        if (errno == ENOENT)
            return 0;
        return errmsg_set(e, -errno, "%s '%s': %s", what, path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return errmsg_set(e, -EINVAL, "%s '%s' exists and is %s: refusing to replace it (a snapshot replaces "
                          "only regular files)", what, path, kind_of(st.st_mode));
    return 0;
}

int snapshot_tmp_name(const char *name, const uint8_t id[SNAPSHOT_ID_BYTES], char *out, const char *path,
                      struct errmsg *e)
{
    char hex[SNAPSHOT_ID_TEXT];
    snapshot_id_text(id, hex);
    int n = snprintf(out, NAME_MAX + 1, "%s.tmp-%s", name, hex);
    if (n < 0 || n > NAME_MAX)
        return errmsg_set(e, -ENAMETOOLONG, "'%s': the file name is too long", path);
    return 0;
}

static int is_tmp_of(const char *entry, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(entry, name, n) || strncmp(entry + n, ".tmp-", 5))
        return 0;
    const char *hex = entry + n + 5;
    if (strlen(hex) != 2 * SNAPSHOT_ID_BYTES)
        return 0;
    for (const char *p = hex; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

void snapshot_tmp_clean(int dirfd, const char *name, const char *keep)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (!is_tmp_of(de->d_name, name) || (keep && !strcmp(de->d_name, keep)) ||
            fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
            continue;
        unlinkat(dirfd, de->d_name, 0);
    }
    closedir(d);
}

static void sync_dir(int dirfd)
{
    /* Some file systems refuse fsync on a directory (EINVAL): their
     * renames are as durable as they get. */
    fsync(dirfd);
}

/* The trailer of dirfd/name, or -1 (absent, unreadable, not one). */
static int trailer_at(int dirfd, const char *name, struct snapshot_mem_trailer *t)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    int r = !fstat(fd, &st) && S_ISREG(st.st_mode) && !snapshot_mem_read_trailer(fd, name, t, NULL) ? 0 : -1;
    close(fd);
    return r;
}

/* The create before us was killed after its commit point: STATE names a
 * memory file that is still under its temporary name. Rename it onto
 * MEM, as that create would have; the old memory file it replaces
 * belongs to no state file any more. */
static int finish_interrupted(struct snapshot_commit *c, struct errmsg *e)
{
    struct snapshot_file f;
    if (snapshot_file_read(c->state_path, &f, NULL))
        return 0; /* no state file, or not one of ours: nothing to finish */
    struct snapshot_mem_trailer t;
    char tmp[NAME_MAX + 1];
    int r = 0;
    if ((trailer_at(c->mem_dir, c->mem_name, &t) || memcmp(t.id, f.id, SNAPSHOT_ID_BYTES)) &&
        !snapshot_tmp_name(c->mem_name, f.id, tmp, c->mem_path, NULL) && !trailer_at(c->mem_dir, tmp, &t) &&
        !memcmp(t.id, f.id, SNAPSHOT_ID_BYTES)) {
        if (renameat(c->mem_dir, tmp, c->mem_dir, c->mem_name))
            r = errmsg_set(e, -errno, "cannot finish the interrupted snapshot '%s': renaming its memory file onto "
                           "'%s': %s", c->state_path, c->mem_path, strerror(errno));
        else
            sync_dir(c->mem_dir);
    }
    snapshot_file_free(&f);
    return r;
}

static void release(struct snapshot_commit *c)
{
    if (c->mem_fd >= 0)
        close(c->mem_fd);
    if (c->state_dir >= 0)
        close(c->state_dir);
    if (c->mem_dir >= 0)
        close(c->mem_dir);
    c->mem_fd = c->state_dir = c->mem_dir = -1;
}

int snapshot_commit_begin(struct snapshot_commit *c, const char *state_path, const char *mem_path,
                          struct errmsg *e)
{
    memset(c, 0, sizeof *c);
    c->state_path = state_path;
    c->mem_path = mem_path;
    c->mem_fd = c->state_dir = c->mem_dir = -1;
    int r;
    if ((r = snapshot_path_split(state_path, "snapshot_path", &c->state_dir, c->state_name, e)) ||
        (r = snapshot_path_split(mem_path, "mem_file_path", &c->mem_dir, c->mem_name, e)) ||
        (r = snapshot_dest_check(c->state_dir, c->state_name, state_path, "snapshot_path", e)) ||
        (r = snapshot_dest_check(c->mem_dir, c->mem_name, mem_path, "mem_file_path", e)))
        goto fail;
    struct stat a, b;
    if (!fstatat(c->state_dir, c->state_name, &a, AT_SYMLINK_NOFOLLOW) &&
        !fstatat(c->mem_dir, c->mem_name, &b, AT_SYMLINK_NOFOLLOW) && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        r = errmsg_set(e, -EINVAL, "snapshot_path '%s' and mem_file_path '%s' are the same file", state_path,
                       mem_path);
        goto fail;
    }
    if ((r = finish_interrupted(c, e)))
        goto fail;
    snapshot_tmp_clean(c->state_dir, c->state_name, NULL);
    snapshot_tmp_clean(c->mem_dir, c->mem_name, NULL);
    do {
        if (getrandom(c->id, sizeof c->id, 0) != (ssize_t)sizeof c->id) {
            r = errmsg_set(e, -EIO, "cannot draw a snapshot id: %s", strerror(errno));
            goto fail;
        }
    } while (snapshot_id_is_zero(c->id));
    if ((r = snapshot_tmp_name(c->state_name, c->id, c->state_tmp, state_path, e)) ||
        (r = snapshot_tmp_name(c->mem_name, c->id, c->mem_tmp, mem_path, e)))
        goto fail;
    c->mem_fd = openat(c->mem_dir, c->mem_tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->mem_fd < 0) {
        r = errmsg_set(e, -errno, "memory file '%s': cannot create '%s' next to it: %s", mem_path, c->mem_tmp,
                       strerror(errno));
        goto fail;
    }
    return 0;
fail:
    release(c);
    return r;
}

void snapshot_commit_abort(struct snapshot_commit *c)
{
    if (c->mem_dir >= 0 && c->mem_tmp[0])
        unlinkat(c->mem_dir, c->mem_tmp, 0);
    if (c->state_dir >= 0 && c->state_tmp_made)
        unlinkat(c->state_dir, c->state_tmp, 0);
    release(c);
}

static int write_state(struct snapshot_commit *c, const struct snapshot_file *f, struct errmsg *e)
{
    uint8_t *buf;
    size_t len;
    int r = snapshot_file_encode(c->state_path, f, &buf, &len, e);
    if (r)
        return r;
    int fd = openat(c->state_dir, c->state_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        r = errmsg_set(e, -errno, "snapshot '%s': cannot create '%s' next to it: %s", c->state_path, c->state_tmp,
                       strerror(errno));
    } else {
        c->state_tmp_made = 1;
        if ((r = snapshot_pwrite_all(fd, buf, len, 0)) || (fsync(fd) && (r = -errno)))
            errmsg_set(e, r, "cannot write snapshot '%s': %s", c->state_path, strerror(-r));
        if (close(fd) && !r)
            r = errmsg_set(e, -errno, "cannot write snapshot '%s': %s", c->state_path, strerror(errno));
    }
    free(buf);
    return r;
}

int snapshot_commit_finish(struct snapshot_commit *c, const struct snapshot_file *f, uint32_t mem_kind,
                           struct errmsg *e)
{
    struct snapshot_mem_trailer t = { .kind = mem_kind, .mem_size = f->mem_size };
    memcpy(t.id, c->id, sizeof t.id);
    int r = snapshot_mem_write_trailer(c->mem_fd, c->mem_path, &t, e);
    if (!r && fsync(c->mem_fd))
        r = errmsg_set(e, -errno, "cannot write memory file '%s': %s", c->mem_path, strerror(errno));
    if (!r && close(c->mem_fd)) {
        c->mem_fd = -1;
        r = errmsg_set(e, -errno, "cannot write memory file '%s': %s", c->mem_path, strerror(errno));
    }
    c->mem_fd = -1;
    if (r)
        goto abort;
    /* The new memory file's name is on disk before a state file names it. */
    sync_dir(c->mem_dir);
    if ((r = write_state(c, f, e)))
        goto abort;
    if (renameat(c->state_dir, c->state_tmp, c->state_dir, c->state_name)) {
        r = errmsg_set(e, -errno, "cannot rename '%s' onto snapshot '%s': %s", c->state_tmp, c->state_path,
                       strerror(errno));
        goto abort;
    }
    /* Committed: from here a restore of the two paths gets the new pair. */
    sync_dir(c->state_dir);
    if (renameat(c->mem_dir, c->mem_tmp, c->mem_dir, c->mem_name))
        r = errmsg_set(e, -errno, "snapshot '%s' is written, but its memory file is still '%s' (a restore or the "
                       "next snapshot renames it onto '%s'): %s", c->state_path, c->mem_tmp, c->mem_path,
                       strerror(errno));
    else
        sync_dir(c->mem_dir);
    release(c);
    return r;
abort:
    snapshot_commit_abort(c);
    return r;
}
