/* Snapshot state files (see snapshot_file.h). */
#include "vmm/snapshot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/snapbuf.h"

#define HEADER_BYTES 72u
#define HEADER_CRC_AT 36u
/* Enough of a header to tell its magic and version. */
#define VERSION_END 12u
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

int snapshot_file_encode(const char *path, const struct snapshot_file *f, uint8_t **buf, size_t *len,
                         struct errmsg *e)
{
    *buf = NULL;
    *len = 0;
    struct snap_writer pw;
    snapw_init(&pw);
    snapw_blob(&pw, f->config_json, strlen(f->config_json));
    snapw_blob(&pw, f->machine, f->machine_len);
    snapw_u32(&pw, (uint32_t)(f->pages_words * 8));
    for (size_t i = 0; i < f->pages_words; i++)
        snapw_u64(&pw, f->pages[i]);
    struct snap_writer w;
    snapw_init(&w);
    snapw_bytes(&w, magic, sizeof magic);
    snapw_u32(&w, SNAPSHOT_FORMAT_VERSION);
    snapw_u32(&w, f->flags);
    snapw_u64(&w, f->mem_size);
    snapw_u64(&w, pw.len);
    snapw_u32(&w, pw.err ? 0 : crc_of(pw.buf, pw.len));
    snapw_u32(&w, 0); /* the header's CRC, below */
    snapw_bytes(&w, f->id, SNAPSHOT_ID_BYTES);
    snapw_bytes(&w, f->parent, SNAPSHOT_ID_BYTES);
    int r = pw.err ? pw.err : w.err;
    if (!r && w.len == HEADER_BYTES && pw.len <= SNAPSHOT_MAX_BYTES - HEADER_BYTES) {
        uint32_t hcrc = crc_of(w.buf, HEADER_BYTES);
        for (unsigned i = 0; i < 4; i++)
            w.buf[HEADER_CRC_AT + i] = (uint8_t)(hcrc >> (8 * i));
        snapw_bytes(&w, pw.buf, pw.len);
        r = w.err;
    } else if (!r) {
        r = -EFBIG;
    }
    snapw_free(&pw);
    if (r) {
        snapw_free(&w);
        return errmsg_set(e, r, "snapshot '%s': the state does not fit in %u MiB", path, SNAPSHOT_MAX_BYTES >> 20);
    }
    *buf = w.buf;
    *len = w.len;
    return 0;
}

void snapshot_id_text(const uint8_t id[SNAPSHOT_ID_BYTES], char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < SNAPSHOT_ID_BYTES; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[2 * SNAPSHOT_ID_BYTES] = 0;
}

int snapshot_id_is_zero(const uint8_t id[SNAPSHOT_ID_BYTES])
{
    uint8_t acc = 0;
    for (unsigned i = 0; i < SNAPSHOT_ID_BYTES; i++)
        acc |= id[i];
    return !acc;
}

/* A blob of the payload, in place. */
static const uint8_t *blob_at(struct snap_reader *r, size_t *len)
{
    struct snap_reader sub;
    snapr_sub(r, &sub);
    *len = sub.len;
    return sub.p;
}

/* The state file at path, opened for reading; *st its status. O_NONBLOCK:
 * a FIFO put in the file's place must not hang us in open(2); it is
 * refused as not a regular file. */
static int open_state(const char *path, struct stat *st, struct errmsg *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errmsg_set(e, -errno, "snapshot '%s': %s", path, strerror(errno));
    if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
        close(fd);
        return errmsg_set(e, -EINVAL, "snapshot '%s': not a regular file", path);
    }
    return fd;
}

int snapshot_file_version(const char *path, uint32_t *version, struct errmsg *e)
{
    struct stat st;
    int fd = open_state(path, &st, e);
    if (fd < 0)
        return fd;
    uint8_t head[VERSION_END];
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    if (n != (ssize_t)sizeof head)
        return errmsg_set(e, -EINVAL, "snapshot '%s': %lld bytes is too short for a minnow snapshot state file",
                          path, (long long)st.st_size);
    if (memcmp(head, magic, sizeof magic))
        return errmsg_set(e, -EINVAL, "snapshot '%s': not a minnow snapshot state file (bad magic)", path);
    struct snap_reader r;
    snapr_init(&r, head, sizeof head);
    uint8_t m[8];
    snapr_bytes(&r, m, sizeof m);
    *version = snapr_u32(&r);
    return 0;
}

int snapshot_file_read(const char *path, struct snapshot_file *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    struct stat st;
    int fd = open_state(path, &st, e);
    if (fd < 0)
        return fd;
    if ((uint64_t)st.st_size < VERSION_END || (uint64_t)st.st_size > SNAPSHOT_MAX_BYTES) {
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
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
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
    snapr_init(&hr, data, got < HEADER_BYTES ? got : HEADER_BYTES);
    char m[8];
    snapr_bytes(&hr, m, sizeof m);
    uint32_t version = snapr_u32(&hr);
    uint32_t flags = snapr_u32(&hr);
    uint64_t mem_size = snapr_u64(&hr);
    uint64_t payload = snapr_u64(&hr);
    uint32_t crc = snapr_u32(&hr);
    uint32_t hcrc = snapr_u32(&hr);
    snapr_bytes(&hr, out->id, SNAPSHOT_ID_BYTES);
    snapr_bytes(&hr, out->parent, SNAPSHOT_ID_BYTES);
    if (got != size)
        errmsg_set(e, -EIO, "snapshot '%s': read %zu of %zu bytes", path, got, size);
    else if (memcmp(m, magic, sizeof magic))
        errmsg_set(e, r, "snapshot '%s': not a minnow snapshot state file (bad magic)", path);
    else if (version == 1)
        errmsg_set(e, r, "snapshot '%s': format version 1, written by an older minnow: this minnow reads version "
                   "%u only (version 1 pairs are not bound to their memory file); take the snapshot again",
                   path, SNAPSHOT_FORMAT_VERSION);
    else if (version != SNAPSHOT_FORMAT_VERSION)
        errmsg_set(e, r, "snapshot '%s': format version %u, but this minnow reads version %u", path, version,
                   SNAPSHOT_FORMAT_VERSION);
    else if (size < HEADER_BYTES)
        errmsg_set(e, r, "snapshot '%s': %zu bytes is not the size of a minnow snapshot (truncated, or not one)",
                   path, size);
    else if ((memset(data + HEADER_CRC_AT, 0, 4), crc_of(data, HEADER_BYTES)) != hcrc)
        errmsg_set(e, r, "snapshot '%s': header checksum mismatch: the file is corrupt", path);
    else if (flags & ~SNAPSHOT_DIFF)
        errmsg_set(e, r, "snapshot '%s': unknown flags %#x", path, flags);
    else if (payload != size - HEADER_BYTES)
        errmsg_set(e, r, "snapshot '%s': truncated or extended: the header says %llu bytes of state, "
                   "the file has %zu", path, (unsigned long long)payload, size - HEADER_BYTES);
    else if (crc_of(data + HEADER_BYTES, payload) != crc)
        errmsg_set(e, r, "snapshot '%s': checksum mismatch: the file is corrupt", path);
    else if (snapshot_id_is_zero(out->id))
        errmsg_set(e, r, "snapshot '%s': the header has no snapshot id", path);
    else
        r = 0;
    if (r) {
        free(data);
        memset(out, 0, sizeof *out);
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

