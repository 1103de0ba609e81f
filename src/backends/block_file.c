/* Raw image files for virtio-blk: opening with clear errors, and the two
 * I/O engines (io_uring, synchronous). See block_file.h. */
#include "backends/block_file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_DEPTH 64u
#define MAX_IOV 1024

struct block_file {
    int fd;
    bool read_only;
    uint64_t size;
    uint32_t block_size;
    enum block_file_engine engine;
    struct io_uring ring;
};

static int open_error(struct errmsg *e, int err, const char *path, bool ro)
{
    switch (err) {
    case ENOENT:
        return errmsg_set(e, -err, "drive image '%s' does not exist", path);
    case EACCES:
    case EPERM:
        return errmsg_set(e, -err, "no permission to open drive image '%s' for %s%s", path,
                          ro ? "reading" : "reading and writing", ro ? "" : " (add ro for a read-only drive)");
    case EROFS:
        return errmsg_set(e, -err, "drive image '%s' is on a read-only file system; open it read-only (ro)", path);
    case EISDIR:
        return errmsg_set(e, -err, "drive image '%s' is a directory, expected a regular file or block device", path);
    default:
        return errmsg_set(e, -err, "cannot open drive image '%s': %s", path, strerror(err));
    }
}

int block_file_open(struct block_file **out, const char *path, bool read_only,
                    enum block_file_engine engine, struct errmsg *e)
{
    *out = NULL;
    /* O_NONBLOCK so that a FIFO given by mistake cannot hang the open; it
     * is rejected below and cleared for real files. */
    int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return open_error(e, errno, path, read_only);
    int rc;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = errmsg_set(e, -errno, "cannot stat drive image '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        rc = errmsg_set(e, -EINVAL, "drive image '%s' is %s, not a regular file or block device", path,
                        S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)" : S_ISCHR(st.st_mode) ? "a character device"
                        : S_ISSOCK(st.st_mode) ? "a socket" : S_ISDIR(st.st_mode) ? "a directory" : "a special file");
        goto fail;
    }
    if (fcntl(fd, F_SETFL, 0) < 0) {
        rc = errmsg_set(e, -errno, "drive image '%s': fcntl: %s", path, strerror(errno));
        goto fail;
    }
    /* Two VMs writing one image corrupt it; refuse instead. */
    if (flock(fd, (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
        int err = errno;
        if (err == EWOULDBLOCK)
            rc = errmsg_set(e, -EBUSY, "drive image '%s' is in use by another process (locked%s)",
                            path, read_only ? " for writing" : "");
        else
            rc = errmsg_set(e, -err, "cannot lock drive image '%s': %s", path, strerror(err));
        goto fail;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0) {
        rc = errmsg_set(e, -errno, "cannot get the size of block device '%s': %s", path, strerror(errno));
        goto fail;
    }
    struct block_file *f = calloc(1, sizeof *f);
    if (!f) {
        rc = errmsg_set(e, -ENOMEM, "drive image '%s': out of memory", path);
        goto fail;
    }
    f->fd = fd;
    f->read_only = read_only;
    f->size = size;
    f->block_size = 512;
    if (st.st_blksize >= 512 && st.st_blksize <= (1 << 20) && !(st.st_blksize & (st.st_blksize - 1)))
        f->block_size = (uint32_t)st.st_blksize;
    f->engine = BLOCK_FILE_ENGINE_SYNC;
    if (engine != BLOCK_FILE_ENGINE_SYNC) {
        int r = io_uring_queue_init(RING_DEPTH, &f->ring, 0);
        if (r == 0) {
            f->engine = BLOCK_FILE_ENGINE_URING;
        } else if (engine == BLOCK_FILE_ENGINE_URING) {
            free(f);
            rc = errmsg_set(e, r, "drive image '%s': the io_uring engine is not available here: %s "
                            "(use the sync engine)", path, strerror(-r));
            goto fail;
        }
    }
    *out = f;
    return 0;
fail:
    close(fd);
    return rc;
}

void block_file_close(struct block_file *f)
{
    if (!f)
        return;
    if (f->engine == BLOCK_FILE_ENGINE_URING)
        io_uring_queue_exit(&f->ring);
    close(f->fd);
    free(f);
}

uint64_t block_file_size(const struct block_file *f) { return f->size; }
bool block_file_read_only(const struct block_file *f) { return f->read_only; }
uint32_t block_file_block_size(const struct block_file *f) { return f->block_size; }
enum block_file_engine block_file_engine(const struct block_file *f) { return f->engine; }

const char *block_file_engine_name(enum block_file_engine engine)
{
    switch (engine) {
    case BLOCK_FILE_ENGINE_AUTO: return "auto";
    case BLOCK_FILE_ENGINE_URING: return "io_uring";
    case BLOCK_FILE_ENGINE_SYNC: return "sync";
    }
    return "?";
}

int block_file_parse_engine(const char *s, enum block_file_engine *out, struct errmsg *e)
{
    if (!strcmp(s, "auto"))
        *out = BLOCK_FILE_ENGINE_AUTO;
    else if (!strcmp(s, "io_uring"))
        *out = BLOCK_FILE_ENGINE_URING;
    else if (!strcmp(s, "sync"))
        *out = BLOCK_FILE_ENGINE_SYNC;
    else
        return errmsg_set(e, -EINVAL, "unknown I/O engine '%s', expected auto, io_uring or sync", s);
    return 0;
}

static uint64_t iov_total(const struct iovec *iov, int n)
{
    uint64_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

/* Finishes a read or write of which `done` bytes already happened,
 * synchronously; short transfers are rare (signals, end of file). */
static int rw_rest(struct block_file *f, const struct block_file_req *r, uint64_t done)
{
    if (r->iovcnt > MAX_IOV)
        return -EINVAL;
    struct iovec iov[MAX_IOV];
    memcpy(iov, r->iov, sizeof *iov * (size_t)r->iovcnt);
    struct iovec *v = iov;
    int n = r->iovcnt;
    for (;;) {
        while (n && done >= v->iov_len) {
            done -= v->iov_len;
            v++;
            n--;
        }
        if (!n)
            return 0;
        v->iov_base = (uint8_t *)v->iov_base + done;
        v->iov_len -= done;
        uint64_t off = r->offset + (iov_total(r->iov, r->iovcnt) - iov_total(v, n));
        ssize_t got = r->op == BLOCK_FILE_READ ? preadv(f->fd, v, n, (off_t)off)
                                               : pwritev(f->fd, v, n, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (got == 0)
            return -EIO;   /* end of file inside the request */
        done = (uint64_t)got;
    }
}

static int fallocate_retry(int fd, int mode, uint64_t off, uint64_t len)
{
    while (fallocate(fd, mode, (off_t)off, (off_t)len) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

static int write_zero_bytes(struct block_file *f, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        ssize_t w = pwrite(f->fd, zeros, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        off += (uint64_t)w;
        len -= (uint64_t)w;
    }
    return 0;
}

static bool unsupported(int rc)
{
    return rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENOSYS;
}

/* Fallbacks when a file system lacks an fallocate mode: write-zeroes must
 * still leave zeroes; a discard may simply do nothing. */
static int discard_or_zero(struct block_file *f, const struct block_file_req *r, int first_rc)
{
    if (r->op == BLOCK_FILE_DISCARD)
        return unsupported(first_rc) ? 0 : first_rc;
    if (!unsupported(first_rc))
        return first_rc;
    if (r->may_unmap) {
        int rc = fallocate_retry(f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, r->offset, r->len);
        if (!unsupported(rc))
            return rc;
    }
    return write_zero_bytes(f, r->offset, r->len);
}

static int fallocate_mode(const struct block_file_req *r)
{
    if (r->op == BLOCK_FILE_DISCARD || r->may_unmap)
        return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

static int run_sync(struct block_file *f, struct block_file_req *r)
{
    switch (r->op) {
    case BLOCK_FILE_READ:
    case BLOCK_FILE_WRITE:
        return rw_rest(f, r, 0);
    case BLOCK_FILE_FLUSH:
        return fdatasync(f->fd) < 0 ? -errno : 0;
    case BLOCK_FILE_DISCARD:
    case BLOCK_FILE_WRITE_ZEROES:
        return discard_or_zero(f, r, fallocate_retry(f->fd, fallocate_mode(r), r->offset, r->len));
    }
    return -EINVAL;
}

static bool precheck(struct block_file *f, struct block_file_req *r)
{
    if (f->read_only && r->op != BLOCK_FILE_READ && r->op != BLOCK_FILE_FLUSH) {
        r->result = -EROFS;
        return false;
    }
    if ((r->op == BLOCK_FILE_READ || r->op == BLOCK_FILE_WRITE) && (r->iovcnt < 0 || r->iovcnt > MAX_IOV)) {
        r->result = -EINVAL;
        return false;
    }
    return true;
}

static void submit_uring(struct block_file *f, struct block_file_req *reqs, unsigned n)
{
    unsigned i = 0;
    while (i < n) {
        unsigned queued = 0, start = i;
        for (; i < n && queued < RING_DEPTH; i++) {
            struct block_file_req *r = &reqs[i];
            if (!precheck(f, r))
                continue;
            struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
            if (!sqe)
                break;
            switch (r->op) {
            case BLOCK_FILE_READ:
                io_uring_prep_readv(sqe, f->fd, r->iov, (unsigned)r->iovcnt, r->offset);
                break;
            case BLOCK_FILE_WRITE:
                io_uring_prep_writev(sqe, f->fd, r->iov, (unsigned)r->iovcnt, r->offset);
                break;
            case BLOCK_FILE_FLUSH:
                io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
                /* A barrier: after everything before it, before everything
                 * after it. */
                io_uring_sqe_set_flags(sqe, IOSQE_IO_DRAIN);
                break;
            case BLOCK_FILE_DISCARD:
            case BLOCK_FILE_WRITE_ZEROES:
                io_uring_prep_fallocate(sqe, f->fd, fallocate_mode(r), r->offset, r->len);
                break;
            }
            io_uring_sqe_set_data(sqe, r);
            r->result = 1;   /* pending until its completion arrives */
            queued++;
        }
        if (!queued)
            continue;
        int sub = io_uring_submit(&f->ring);
        unsigned in_flight = sub > 0 ? (unsigned)sub : 0;
        if (in_flight < queued) {
            /* The kernel refused SQEs (resource shortage): they would stay
             * in the submission ring and run later on stale buffers. Drain
             * what it took, drop the ring and go on synchronously; each
             * request is idempotent, so running one twice is harmless. */
            for (unsigned k = 0; k < in_flight; k++) {
                struct io_uring_cqe *cqe;
                if (io_uring_wait_cqe(&f->ring, &cqe) == 0)
                    io_uring_cqe_seen(&f->ring, cqe);
            }
            io_uring_queue_exit(&f->ring);
            f->engine = BLOCK_FILE_ENGINE_SYNC;
            for (unsigned k = start; k < n; k++)
                if (k >= i || reqs[k].result == 1)
                    if (precheck(f, &reqs[k]))
                        reqs[k].result = run_sync(f, &reqs[k]);
            return;
        }
        for (unsigned k = 0; k < in_flight; k++) {
            struct io_uring_cqe *cqe;
            int w;
            while ((w = io_uring_wait_cqe(&f->ring, &cqe)) == -EINTR)
                ;
            if (w < 0)
                break;
            struct block_file_req *r = io_uring_cqe_get_data(cqe);
            int res = cqe->res;
            io_uring_cqe_seen(&f->ring, cqe);
            if (r->op == BLOCK_FILE_READ || r->op == BLOCK_FILE_WRITE) {
                if (res < 0)
                    r->result = res == -EAGAIN || res == -EINTR ? rw_rest(f, r, 0) : res;
                else if ((uint64_t)res < iov_total(r->iov, r->iovcnt))
                    r->result = res == 0 ? -EIO : rw_rest(f, r, (uint64_t)res);
                else
                    r->result = 0;
            } else if (r->op == BLOCK_FILE_FLUSH) {
                r->result = res < 0 ? res : 0;
            } else {
                r->result = res < 0 ? discard_or_zero(f, r, res) : 0;
            }
        }
        /* Only if waiting itself failed: never report success unseen. */
        for (unsigned k = start; k < i; k++)
            if (reqs[k].result == 1)
                reqs[k].result = -EIO;
    }
}

void block_file_submit(struct block_file *f, struct block_file_req *reqs, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        reqs[i].result = 0;
    if (f->engine == BLOCK_FILE_ENGINE_URING) {
        submit_uring(f, reqs, n);
        return;
    }
    for (unsigned i = 0; i < n; i++)
        if (precheck(f, &reqs[i]))
            reqs[i].result = run_sync(f, &reqs[i]);
}
