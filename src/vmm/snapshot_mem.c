/* Snapshot memory files: the trailer, opening one for a restore, merging
 * a Diff (see snapshot_mem.h). */
#include "vmm/snapshot_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/snapbuf.h"
#include "vmm/snapshot_commit.h"

static const char magic[8] = { 'M', 'I', 'N', 'N', 'O', 'W', 'M', 'F' };
#define TRAILER_CRC_AT 40u

int snapshot_mem_write_trailer(int fd, const char *path, const struct snapshot_mem_trailer *t, struct errmsg *e)
{
    uint8_t b[SNAPSHOT_MEM_TRAILER_BYTES] = { 0 };
    struct snap_writer w;
    snapw_init(&w);
    snapw_bytes(&w, magic, sizeof magic);
    snapw_u32(&w, SNAPSHOT_FORMAT_VERSION);
    snapw_u32(&w, t->kind);
    snapw_u64(&w, t->mem_size);
    snapw_bytes(&w, t->id, SNAPSHOT_ID_BYTES);
    if (w.err || w.len != TRAILER_CRC_AT) {
        snapw_free(&w);
        return errmsg_set(e, -ENOMEM, "memory file '%s': out of memory", path);
    }
    memcpy(b, w.buf, w.len);
    snapw_free(&w);
    uint32_t crc = (uint32_t)crc32(0L, b, TRAILER_CRC_AT);
    for (unsigned i = 0; i < 4; i++)
        b[TRAILER_CRC_AT + i] = (uint8_t)(crc >> (8 * i));
    int r = snapshot_pwrite_all(fd, b, sizeof b, t->mem_size);
    if (r)
        return errmsg_set(e, r, "cannot write memory file '%s': %s", path, strerror(-r));
    return 0;
}

int snapshot_mem_read_trailer(int fd, const char *path, struct snapshot_mem_trailer *t, struct errmsg *e)
{
    memset(t, 0, sizeof *t);
    struct stat st;
    if (fstat(fd, &st))
        return errmsg_set(e, -errno, "memory file '%s': %s", path, strerror(errno));
    uint8_t b[SNAPSHOT_MEM_TRAILER_BYTES];
    if (st.st_size < (off_t)sizeof b ||
        pread(fd, b, sizeof b, st.st_size - (off_t)sizeof b) != (ssize_t)sizeof b)
        return errmsg_set(e, -EINVAL, "memory file '%s': %lld bytes: too short for a minnow memory file", path,
                          (long long)st.st_size);
    struct snap_reader r;
    snapr_init(&r, b, sizeof b);
    char m[8];
    snapr_bytes(&r, m, sizeof m);
    uint32_t version = snapr_u32(&r);
    t->kind = snapr_u32(&r);
    t->mem_size = snapr_u64(&r);
    snapr_bytes(&r, t->id, SNAPSHOT_ID_BYTES);
    uint32_t crc = snapr_u32(&r);
    if (memcmp(m, magic, sizeof magic))
        return errmsg_set(e, -EINVAL, "memory file '%s' has no minnow trailer: not a memory file, not written to "
                          "its end, or written by an older minnow (take the snapshot again)", path);
    if (version != SNAPSHOT_FORMAT_VERSION)
        return errmsg_set(e, -EINVAL, "memory file '%s': format version %u, but this minnow reads version %u", path,
                          version, SNAPSHOT_FORMAT_VERSION);
    if ((uint32_t)crc32(0L, b, TRAILER_CRC_AT) != crc)
        return errmsg_set(e, -EINVAL, "memory file '%s': trailer checksum mismatch: the file is corrupt", path);
    if (t->kind > SNAPSHOT_MEM_DIFF || (uint64_t)st.st_size - sizeof b != t->mem_size)
        return errmsg_set(e, -EINVAL, "memory file '%s': the trailer does not fit the file (%lld bytes)", path,
                          (long long)st.st_size);
    return 0;
}

/* Opens dirfd/name read-only if it is a memory file of `id` (*t its
 * trailer); -1 otherwise, with a message in e when `e` is given. */
static int open_if(int dirfd, const char *name, const char *path, const struct snapshot_file *f,
                   const char *state_path, struct snapshot_mem_trailer *t, struct errmsg *e)
{
    /* O_NONBLOCK: a FIFO in the file's place must not hang open(2). */
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errmsg_set(e, -errno, "memory file '%s': %s", path, strerror(errno));
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode))
        r = errmsg_set(e, -EINVAL, "memory file '%s': not a regular file", path);
    else if ((uint64_t)st.st_size != f->mem_size + SNAPSHOT_MEM_TRAILER_BYTES)
        r = errmsg_set(e, -EINVAL, "memory file '%s': %lld bytes, but snapshot '%s' has %" PRIu64 " bytes of RAM "
                       "(a memory file is that and a %u-byte trailer)", path, (long long)st.st_size, state_path,
                       f->mem_size, SNAPSHOT_MEM_TRAILER_BYTES);
    else
        r = snapshot_mem_read_trailer(fd, path, t, e);
    if (!r && memcmp(t->id, f->id, SNAPSHOT_ID_BYTES)) {
        char a[SNAPSHOT_ID_TEXT], b[SNAPSHOT_ID_TEXT];
        snapshot_id_text(f->id, a);
        snapshot_id_text(t->id, b);
        r = errmsg_set(e, -EINVAL, "snapshot '%s' and memory file '%s' are not a pair: the state file is snapshot "
                       "%s, the memory file belongs to snapshot %s", state_path, path, a, b);
    }
    if (r) {
        close(fd);
        return r;
    }
    return fd;
}

int snapshot_mem_open(const struct snapshot_file *f, const char *state_path, const char *mem_path,
                      struct errmsg *e)
{
    int dirfd;
    char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
    int r = snapshot_path_split(mem_path, "memory file", &dirfd, name, e);
    if (r)
        return r;
    struct snapshot_mem_trailer t;
    int fd = open_if(dirfd, name, mem_path, f, state_path, &t, e);
    if (fd < 0 && !snapshot_tmp_name(name, f->id, tmp, mem_path, NULL)) {
        /* The create that wrote the state file was killed between its
         * commit and its last rename: its memory file is the temporary
         * one. Finish the create (VMs running from the old file keep it);
         * where the directory is read-only, use it where it is. */
        struct errmsg ignored;
        int t_fd = open_if(dirfd, tmp, tmp, f, state_path, &t, &ignored);
        if (t_fd >= 0) {
            renameat(dirfd, tmp, dirfd, name);
            fsync(dirfd);
            fd = t_fd;
        }
    }
    close(dirfd);
    if (fd >= 0 && t.kind == SNAPSHOT_MEM_DIFF) {
        close(fd);
        return errmsg_set(e, -EINVAL, "memory file '%s' holds only the pages of the Diff snapshot '%s': merge it "
                          "onto the memory file of the snapshot before it first (minnow snapshot-merge)", mem_path,
                          state_path);
    }
    return fd;
}

/* ---- snapshot-merge ---- */

/* Copies the first len bytes of in to out, keeping holes: a clone of the
 * extents where the file system shares them (FICLONE), else the data
 * ranges one by one. */
static int copy_sparse(int in, int out, uint64_t len)
{
    if (!ioctl(out, FICLONE, in))
        return ftruncate(out, (off_t)len) ? -errno : 0;
    if (ftruncate(out, (off_t)len))
        return -errno;
    uint64_t pos = 0;
    while (pos < len) {
        off_t data = lseek(in, (off_t)pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO)
                break; /* only a hole is left */
            data = (off_t)pos; /* no SEEK_DATA here: copy everything */
        }
        if ((uint64_t)data >= len)
            break;
        off_t hole = lseek(in, data, SEEK_HOLE);
        uint64_t end = hole < 0 || (uint64_t)hole > len ? len : (uint64_t)hole;
        off_t src = data, dst = data;
        while ((uint64_t)src < end) {
            ssize_t n = copy_file_range(in, &src, out, &dst, end - (uint64_t)src, 0);
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                static const size_t chunk = 1 << 20;
                uint8_t *buf = malloc(chunk);
                if (!buf)
                    return -ENOMEM;
                int r = 0;
                while (!r && (uint64_t)src < end) {
                    size_t want = end - (uint64_t)src < chunk ? (size_t)(end - (uint64_t)src) : chunk;
                    ssize_t got = pread(in, buf, want, src);
                    if (got <= 0)
                        r = got < 0 ? -errno : -EIO;
                    else if (!(r = snapshot_pwrite_all(out, buf, (size_t)got, (uint64_t)src)))
                        src += got;
                }
                free(buf);
                if (r)
                    return r;
                break;
            }
            if (n < 0)
                return -errno;
            if (n == 0)
                return -EIO;
        }
        pos = end;
    }
    return 0;
}

static int copy_pages(const struct snapshot_file *f, int in, int out, const char *diff_mem, const char *base_mem,
                      uint64_t *pages_copied, struct errmsg *e)
{
    static const size_t chunk = 256; /* pages per copy */
    uint8_t *buf = malloc(chunk * 4096);
    int r = buf ? 0 : errmsg_set(e, -ENOMEM, "out of memory");
    uint64_t pages = f->mem_size / 4096;
    for (uint64_t p = 0; p < pages && !r;) {
        if (!((f->pages[p / 64] >> (p % 64)) & 1)) {
            p++;
            continue;
        }
        uint64_t n = 1;
        while (p + n < pages && n < chunk && ((f->pages[(p + n) / 64] >> ((p + n) % 64)) & 1))
            n++;
        size_t len = (size_t)n * 4096;
        off_t off = (off_t)(p * 4096);
        int w;
        if (pread(in, buf, len, off) != (ssize_t)len)
            r = errmsg_set(e, -EIO, "memory file '%s': short read at %lld", diff_mem, (long long)off);
        else if ((w = snapshot_pwrite_all(out, buf, len, (uint64_t)off)))
            r = errmsg_set(e, w, "cannot write the merged memory file for '%s': %s", base_mem, strerror(-w));
        *pages_copied += n;
        p += n;
    }
    free(buf);
    return r;
}

int snapshot_mem_merge(const struct snapshot_file *f, const char *state_path, const char *diff_mem,
                       const char *base_mem, uint64_t *pages_copied, struct errmsg *e)
{
    *pages_copied = 0;
    if (!(f->flags & SNAPSHOT_DIFF))
        return errmsg_set(e, -EINVAL, "the snapshot is a Full one: its memory file restores as it is");
    int dirfd, in, base = -1, out = -1, r;
    char name[NAME_MAX + 1], tmp[NAME_MAX + 1];
    struct snapshot_mem_trailer dt, bt;
    if ((r = snapshot_path_split(diff_mem, "--mem", &dirfd, name, e)))
        return r;
    in = open_if(dirfd, name, diff_mem, f, state_path, &dt, e);
    close(dirfd);
    dirfd = -1;
    if (in < 0)
        return in;
    if (dt.kind != SNAPSHOT_MEM_DIFF) {
        r = errmsg_set(e, -EINVAL, "memory file '%s' already holds the whole RAM: nothing to merge", diff_mem);
        goto out;
    }
    if ((r = snapshot_path_split(base_mem, "--base-mem", &dirfd, name, e)))
        goto out;
    if ((r = snapshot_dest_check(dirfd, name, base_mem, "--base-mem", e)))
        goto out;
    base = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (base < 0) {
        r = errmsg_set(e, -errno, "memory file '%s': %s", base_mem, strerror(errno));
        goto out;
    }
    if (fstat(base, &st) || (uint64_t)st.st_size != f->mem_size + SNAPSHOT_MEM_TRAILER_BYTES) {
        r = errmsg_set(e, -EINVAL, "memory file '%s': expected %" PRIu64 " bytes (the snapshot's RAM and a %u-byte "
                       "trailer)", base_mem, f->mem_size + SNAPSHOT_MEM_TRAILER_BYTES, SNAPSHOT_MEM_TRAILER_BYTES);
        goto out;
    }
    if ((r = snapshot_mem_read_trailer(base, base_mem, &bt, e)))
        goto out;
    if (bt.kind != SNAPSHOT_MEM_FULL) {
        r = errmsg_set(e, -EINVAL, "memory file '%s' holds only a Diff's pages: merge it onto its own base first",
                       base_mem);
        goto out;
    }
    if (!snapshot_id_is_zero(f->parent) && memcmp(bt.id, f->parent, SNAPSHOT_ID_BYTES)) {
        char a[SNAPSHOT_ID_TEXT], b[SNAPSHOT_ID_TEXT];
        snapshot_id_text(f->parent, a);
        snapshot_id_text(bt.id, b);
        r = errmsg_set(e, -EINVAL, "Diff snapshot '%s' was taken after snapshot %s, but '%s' is the memory of "
                       "snapshot %s: merge each Diff onto the memory file of the snapshot before it, in the order "
                       "they were taken", state_path, a, base_mem, b);
        goto out;
    }
    /* A new file renamed over the base: VMs restored from the base map
     * it privately and see every change made to it in place. */
    snapshot_tmp_clean(dirfd, name, NULL);
    if ((r = snapshot_tmp_name(name, f->id, tmp, base_mem, e)))
        goto out;
    out = openat(dirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (out < 0) {
        r = errmsg_set(e, -errno, "memory file '%s': cannot create '%s' next to it: %s", base_mem, tmp,
                       strerror(errno));
        goto out;
    }
    struct snapshot_mem_trailer mt = { .kind = SNAPSHOT_MEM_FULL, .mem_size = f->mem_size };
    memcpy(mt.id, f->id, sizeof mt.id);
    if ((r = copy_sparse(base, out, f->mem_size)))
        errmsg_set(e, r, "cannot copy '%s' for the merge: %s", base_mem, strerror(-r));
    else if (!(r = copy_pages(f, in, out, diff_mem, base_mem, pages_copied, e)) &&
             !(r = snapshot_mem_write_trailer(out, base_mem, &mt, e)) && fsync(out))
        r = errmsg_set(e, -errno, "cannot write the merged memory file for '%s': %s", base_mem, strerror(errno));
    if (!r && renameat(dirfd, tmp, dirfd, name))
        r = errmsg_set(e, -errno, "cannot rename '%s' onto '%s': %s", tmp, base_mem, strerror(errno));
    if (r)
        unlinkat(dirfd, tmp, 0);
    else
        fsync(dirfd);
out:
    if (out >= 0)
        close(out);
    if (base >= 0)
        close(base);
    if (dirfd >= 0)
        close(dirfd);
    close(in);
    return r;
}
