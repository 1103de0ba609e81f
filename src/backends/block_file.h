/* The host side of a disk: a raw image in a regular file or a block
 * device, read and written in batches of requests by one of two engines:
 * io_uring (liburing; a batch goes to the kernel in one submission and runs
 * in parallel) or plain synchronous preadv/pwritev. AUTO picks io_uring when
 * the kernel lets us set up a ring and falls back to sync otherwise.
 *
 * A block_file is used by one thread at a time (the I/O thread). */
#ifndef MINNOW_BACKENDS_BLOCK_FILE_H
#define MINNOW_BACKENDS_BLOCK_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/errmsg.h"

enum block_file_engine {
    BLOCK_FILE_ENGINE_AUTO,
    BLOCK_FILE_ENGINE_URING,
    BLOCK_FILE_ENGINE_SYNC,
};

enum block_file_op {
    BLOCK_FILE_READ,
    BLOCK_FILE_WRITE,
    BLOCK_FILE_FLUSH,        /* fdatasync: earlier writes reach stable storage */
    BLOCK_FILE_DISCARD,      /* punch a hole; a hint, so "unsupported" is success */
    BLOCK_FILE_WRITE_ZEROES, /* zero range (or punch, if may_unmap) */
};

struct block_file_req {
    enum block_file_op op;
    const struct iovec *iov;   /* READ, WRITE */
    int iovcnt;
    uint64_t offset;           /* bytes */
    uint64_t len;              /* DISCARD, WRITE_ZEROES */
    bool may_unmap;            /* WRITE_ZEROES */
    int result;                /* out: 0, or -errno (-EIO for a short read at end of file) */
};

struct block_file;

/* Opens path read-write, or read-only. Errors name the file and say what
 * is wrong: missing, no permission, not a regular file or block device, in
 * use by another minnow (images are locked: shared for read-only, exclusive
 * for read-write), or io_uring unavailable when it was asked for. */
int block_file_open(struct block_file **out, const char *path, bool read_only,
                    enum block_file_engine engine, struct errmsg *e);
void block_file_close(struct block_file *f);

uint64_t block_file_size(const struct block_file *f);
bool block_file_read_only(const struct block_file *f);
/* The host's preferred I/O size for the image (st_blksize), a power of two
 * >= 512: the granularity at which discard really frees space. */
uint32_t block_file_block_size(const struct block_file *f);
/* URING or SYNC: what AUTO chose. */
enum block_file_engine block_file_engine(const struct block_file *f);
const char *block_file_engine_name(enum block_file_engine engine);
/* "auto", "io_uring" or "sync" (for option parsing). */
int block_file_parse_engine(const char *s, enum block_file_engine *out, struct errmsg *e);

/* Runs the n requests and sets each result. A FLUSH is a barrier: it starts
 * after every earlier request of the batch completed and later ones start
 * after it. Other requests may run in any order, so the caller must not put
 * overlapping writes in one batch if their order matters (virtio lets a
 * device complete requests in any order, so a driver never relies on it). */
void block_file_submit(struct block_file *f, struct block_file_req *reqs, unsigned n);

#endif
