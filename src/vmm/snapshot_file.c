/* Snapshot state files (see snapshot_file.h). */
#include "vmm/snapshot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/snapbuf.h"

#define HEADER_BYTES 40u
static const char magic[8] = { 'M', 'I', 'N', 'N', 'O', 'W', 'S', 'N' };

static uint32_t crc_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

int snapshot_file_create_tmp(const char *path, char *tmp, int *fd, struct errmsg *e)
{
    int n = snprintf(tmp, PATH_MAX, "%s.tmp-XXXXXX", path);
    if (n < 0 || n >= PATH_MAX)
        return errmsg_set(e, -ENAMETOOLONG, "'%s': the path is too long", path);
    *fd = mkostemp(tmp, O_CLOEXEC);
    if (*fd < 0)
        return errmsg_set(e, -errno, "cannot create '%s': %s", tmp, strerror(errno));
    return 0;
}

void snapshot_file_abort(int fd, const char *tmp)
{
    if (fd >= 0)
        close(fd);
    unlink(tmp);
}

int snapshot_file_commit(int fd, const char *tmp, const char *path, struct errmsg *e)
{
    int r = 0;
    if (fsync(fd))
        r = errmsg_set(e, -errno, "cannot write '%s': %s", path, strerror(errno));
    else if (close(fd)) {
        fd = -1;
        r = errmsg_set(e, -errno, "cannot write '%s': %s", path, strerror(errno));
    } else {
        fd = -1;
        if (rename(tmp, path))
            r = errmsg_set(e, -errno, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
    }
    if (r) {
        snapshot_file_abort(fd, tmp);
        return r;
    }
    /* The rename itself must reach the disk too. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int snapshot_file_write(const char *path, const struct snapshot_file *f, struct errmsg *e)
{
    struct snap_writer pw;
    snapw_init(&pw);
    snapw_blob(&pw, f->config_json, strlen(f->config_json));
    snapw_blob(&pw, f->machine, f->machine_len);
    snapw_u32(&pw, (uint32_t)(f->pages_words * 8));
    for (size_t i = 0; i < f->pages_words; i++)
        snapw_u64(&pw, f->pages[i]);
    struct snap_writer hw;
    snapw_init(&hw);
    snapw_bytes(&hw, magic, sizeof magic);
    snapw_u32(&hw, SNAPSHOT_FORMAT_VERSION);
    snapw_u32(&hw, f->flags);
    snapw_u64(&hw, f->mem_size);
    snapw_u64(&hw, pw.len);
    snapw_u32(&hw, pw.err ? 0 : crc_of(pw.buf, pw.len));
    snapw_u32(&hw, 0);
    int r = pw.err ? pw.err : hw.err;
    if (r || pw.len > SNAPSHOT_MAX_BYTES - HEADER_BYTES) {
        snapw_free(&pw);
        snapw_free(&hw);
        return errmsg_set(e, r ? r : -EFBIG, "snapshot '%s': the state does not fit in %u MiB", path,
                          SNAPSHOT_MAX_BYTES >> 20);
    }
    char tmp[PATH_MAX];
    int fd;
    if (!(r = snapshot_file_create_tmp(path, tmp, &fd, e))) {
        if ((r = write_all(fd, hw.buf, hw.len)) || (r = write_all(fd, pw.buf, pw.len))) {
            errmsg_set(e, r, "cannot write '%s': %s", tmp, strerror(-r));
            snapshot_file_abort(fd, tmp);
        } else {
            r = snapshot_file_commit(fd, tmp, path, e);
        }
    }
    snapw_free(&pw);
    snapw_free(&hw);
    return r;
}

/* A blob of the payload, in place. */
static const uint8_t *blob_at(struct snap_reader *r, size_t *len)
{
    struct snap_reader sub;
    snapr_sub(r, &sub);
    *len = sub.len;
    return sub.p;
}

int snapshot_file_read(const char *path, struct snapshot_file *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "snapshot '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return errmsg_set(e, -EINVAL, "snapshot '%s': not a regular file", path);
    }
    if ((uint64_t)st.st_size < HEADER_BYTES || (uint64_t)st.st_size > SNAPSHOT_MAX_BYTES) {
        close(fd);
        return errmsg_set(e, -EINVAL, "snapshot '%s': %lld bytes is not the size of a minnow snapshot "
                          "(truncated, or not one)", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size);
    if (!data) {
        close(fd);
        return errmsg_set(e, -ENOMEM, "snapshot '%s': out of memory", path);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    int r = -EINVAL;
    struct snap_reader hr;
    snapr_init(&hr, data, HEADER_BYTES);
    char m[8];
    snapr_bytes(&hr, m, sizeof m);
    uint32_t version = snapr_u32(&hr);
    uint32_t flags = snapr_u32(&hr);
    uint64_t mem_size = snapr_u64(&hr);
    uint64_t payload = snapr_u64(&hr);
    uint32_t crc = snapr_u32(&hr);
    if (got != size)
        errmsg_set(e, -EIO, "snapshot '%s': read %zu of %zu bytes", path, got, size);
    else if (memcmp(m, magic, sizeof magic))
        errmsg_set(e, r, "snapshot '%s': not a minnow snapshot state file (bad magic)", path);
    else if (version != SNAPSHOT_FORMAT_VERSION)
        errmsg_set(e, r, "snapshot '%s': format version %u, but this minnow reads version %u", path, version,
                   SNAPSHOT_FORMAT_VERSION);
    else if (flags & ~SNAPSHOT_DIFF)
        errmsg_set(e, r, "snapshot '%s': unknown flags %#x", path, flags);
    else if (payload != size - HEADER_BYTES)
        errmsg_set(e, r, "snapshot '%s': truncated or extended: the header says %llu bytes of state, "
                   "the file has %zu", path, (unsigned long long)payload, size - HEADER_BYTES);
    else if (crc_of(data + HEADER_BYTES, payload) != crc)
        errmsg_set(e, r, "snapshot '%s': checksum mismatch: the file is corrupt", path);
    else
        r = 0;
    if (r) {
        free(data);
        return r;
    }
    struct snap_reader pr;
    snapr_init(&pr, data + HEADER_BYTES, payload);
    size_t jlen, plen;
    const uint8_t *json = blob_at(&pr, &jlen);
    out->machine = blob_at(&pr, &out->machine_len);
    const uint8_t *pages = blob_at(&pr, &plen);
    size_t want_words = (flags & SNAPSHOT_DIFF) ? (mem_size / 4096 + 63) / 64 : 0;
    char *text = NULL;
    uint64_t *bits = NULL;
    if (!snapr_ok(&pr) || plen != want_words * 8 || mem_size % 4096 ||
        !(text = malloc(jlen + 1)) || (want_words && !(bits = malloc(plen)))) {
        free(text);
        free(data);
        memset(out, 0, sizeof *out);
        return errmsg_set(e, -EINVAL, "snapshot '%s': the state inside is malformed", path);
    }
    memcpy(text, json, jlen);
    text[jlen] = 0;
    struct snap_reader br;
    snapr_init(&br, pages, plen);
    for (size_t i = 0; i < want_words; i++)
        bits[i] = snapr_u64(&br);
    out->config_json = text;
    out->pages = bits;
    out->pages_words = want_words;
    out->flags = flags;
    out->mem_size = mem_size;
    out->data = data;
    return 0;
}

void snapshot_file_free(struct snapshot_file *f)
{
    free((void *)f->config_json);
    free((void *)f->pages);
    free(f->data);
    memset(f, 0, sizeof *f);
}

static int open_mem(const char *path, int flags, uint64_t size, struct errmsg *e)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "memory file '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
        close(fd);
        return errmsg_set(e, -EINVAL, "memory file '%s': expected a file of %llu bytes (the snapshot's RAM)",
                          path, (unsigned long long)size);
    }
    return fd;
}

int snapshot_file_merge(const struct snapshot_file *f, const char *diff_mem, const char *base_mem,
                        uint64_t *pages_copied, struct errmsg *e)
{
    *pages_copied = 0;
    if (!(f->flags & SNAPSHOT_DIFF))
        return errmsg_set(e, -EINVAL, "the snapshot is a Full one: its memory file restores as it is");
    int in = open_mem(diff_mem, O_RDONLY, f->mem_size, e);
    if (in < 0)
        return in;
    int out = open_mem(base_mem, O_RDWR, f->mem_size, e);
    if (out < 0) {
        close(in);
        return out;
    }
    static const size_t chunk = 256;  /* pages per copy */
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
        if (pread(in, buf, len, off) != (ssize_t)len)
            r = errmsg_set(e, -EIO, "memory file '%s': short read at %lld", diff_mem, (long long)off);
        else if (pwrite(out, buf, len, off) != (ssize_t)len)
            r = errmsg_set(e, -EIO, "memory file '%s': write failed at %lld: %s", base_mem, (long long)off,
                           strerror(errno));
        *pages_copied += n;
        p += n;
    }
    if (!r && fsync(out))
        r = errmsg_set(e, -errno, "memory file '%s': %s", base_mem, strerror(errno));
    free(buf);
    close(in);
    close(out);
    return r;
}
