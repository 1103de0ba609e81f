/* Unit tests for backends/block_file: open errors that name the file,
 * image locking, and the same I/O checks on the io_uring and sync engines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/block_file.h"

#define SIZE (1u << 20)

struct ffx {
    char path[64];
    int fd;
    enum block_file_engine engine;
    struct block_file *f;
};

static int setup_engine(void **state, enum block_file_engine engine)
{
    struct ffx *x = calloc(1, sizeof *x);
    strcpy(x->path, "/tmp/minnow-bf-XXXXXX");
    x->fd = mkstemp(x->path);
    assert_true(x->fd >= 0);
    static uint8_t buf[SIZE];
    memset(buf, 0xab, SIZE);
    assert_int_equal(pwrite(x->fd, buf, SIZE, 0), SIZE);
    x->engine = engine;
    *state = x;
    return 0;
}

static int setup_uring(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_URING); }
static int setup_sync(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_SYNC); }

static int teardown(void **state)
{
    struct ffx *x = *state;
    block_file_close(x->f);
    close(x->fd);
    unlink(x->path);
    free(x);
    return 0;
}

static void open_ok(struct ffx *x, bool ro)
{
    struct errmsg e = {{0}};
    if (block_file_open(&x->f, x->path, ro, x->engine, &e) < 0)
        fail_msg("open: %s", e.text);
    assert_int_equal(block_file_engine(x->f), x->engine);
}

static void expect_open_error(const char *path, bool ro, int code, const char *what)
{
    struct block_file *f = NULL;
    struct errmsg e = {{0}};
    assert_int_equal(block_file_open(&f, path, ro, BLOCK_FILE_ENGINE_AUTO, &e), code);
    assert_null(f);
    if (!strstr(e.text, path) || !strstr(e.text, what))
        fail_msg("error '%s' should name '%s' and say '%s'", e.text, path, what);
}

static void test_open_errors(void **state)
{
    (void)state;
    expect_open_error("/tmp/minnow-no-such-image.raw", false, -ENOENT, "does not exist");
    expect_open_error("/tmp", false, -EISDIR, "directory");
    expect_open_error("/tmp", true, -EINVAL, "not a regular file or block device");
    expect_open_error("/dev/null", true, -EINVAL, "not a regular file or block device");
    char fifo[] = "/tmp/minnow-fifo-XXXXXX";
    int tfd = mkstemp(fifo);
    assert_true(tfd >= 0);
    close(tfd);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    expect_open_error(fifo, true, -EINVAL, "not a regular file");   /* and does not hang */
    unlink(fifo);
}

static void test_open_permission(void **state)
{
    struct ffx *x = *state;
    assert_int_equal(chmod(x->path, 0600), 0);
    /* Root ignores file modes: check as an unprivileged user in a child. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0) {
            if (setuid(65534) < 0)   /* nobody: the 0600 root file is not ours */
                _exit(2);
        } else if (chmod(x->path, 0) < 0) {   /* our file: take our own rights */
            _exit(3);
        }
        struct block_file *f = NULL;
        struct errmsg e = {{0}};
        int rc = block_file_open(&f, x->path, false, BLOCK_FILE_ENGINE_SYNC, &e);
        _exit(rc == -EACCES && strstr(e.text, "no permission") && strstr(e.text, x->path) ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_lock(void **state)
{
    struct ffx *x = *state;
    open_ok(x, false);
    expect_open_error(x->path, false, -EBUSY, "in use");
    expect_open_error(x->path, true, -EBUSY, "in use");
    block_file_close(x->f);
    open_ok(x, true);
    struct block_file *g;
    struct errmsg e;
    assert_int_equal(block_file_open(&g, x->path, true, BLOCK_FILE_ENGINE_SYNC, &e), 0);  /* shared */
    block_file_close(g);
    expect_open_error(x->path, false, -EBUSY, "in use");
}

static void test_engine_names(void **state)
{
    (void)state;
    enum block_file_engine en;
    struct errmsg e;
    assert_int_equal(block_file_parse_engine("io_uring", &en, &e), 0);
    assert_int_equal(en, BLOCK_FILE_ENGINE_URING);
    assert_int_equal(block_file_parse_engine("sync", &en, &e), 0);
    assert_int_equal(en, BLOCK_FILE_ENGINE_SYNC);
    assert_int_equal(block_file_parse_engine("auto", &en, &e), 0);
    assert_int_equal(en, BLOCK_FILE_ENGINE_AUTO);
    assert_int_equal(block_file_parse_engine("aio", &en, &e), -EINVAL);
    assert_non_null(strstr(e.text, "'aio'"));
    assert_string_equal(block_file_engine_name(BLOCK_FILE_ENGINE_URING), "io_uring");
}

static void test_read_write(void **state)
{
    struct ffx *x = *state;
    open_ok(x, false);
    assert_int_equal(block_file_size(x->f), SIZE);
    assert_true(block_file_block_size(x->f) >= 512);
    char a[100], b[412], out[512];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    struct iovec wv[2] = {{a, sizeof a}, {b, sizeof b}};
    char r1[300], r2[212];
    struct iovec rv[2] = {{r1, sizeof r1}, {r2, sizeof r2}};
    struct block_file_req reqs[3] = {
        {.op = BLOCK_FILE_WRITE, .iov = wv, .iovcnt = 2, .offset = 4096},
        {.op = BLOCK_FILE_FLUSH},
        {.op = BLOCK_FILE_READ, .iov = rv, .iovcnt = 2, .offset = 4096},
    };
    /* the flush is a barrier: the read after it sees the write before it */
    block_file_submit(x->f, reqs, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(reqs[i].result, 0);
    assert_int_equal(pread(x->fd, out, 512, 4096), 512);
    assert_memory_equal(out, a, 100);
    assert_memory_equal(out + 100, b, 412);
    assert_memory_equal(r1, out, 300);
    assert_memory_equal(r2, out + 300, 212);
    /* a read past the end of the file */
    struct iovec tail = {out, 512};
    struct block_file_req past = {.op = BLOCK_FILE_READ, .iov = &tail, .iovcnt = 1, .offset = SIZE - 256};
    block_file_submit(x->f, &past, 1);
    assert_int_equal(past.result, -EIO);
}

static void test_read_only_refuses_writes(void **state)
{
    struct ffx *x = *state;
    open_ok(x, true);
    assert_true(block_file_read_only(x->f));
    char z[512] = {0};
    struct iovec v = {z, sizeof z};
    struct block_file_req reqs[4] = {
        {.op = BLOCK_FILE_WRITE, .iov = &v, .iovcnt = 1, .offset = 0},
        {.op = BLOCK_FILE_DISCARD, .offset = 0, .len = 65536},
        {.op = BLOCK_FILE_WRITE_ZEROES, .offset = 0, .len = 512},
        {.op = BLOCK_FILE_READ, .iov = &v, .iovcnt = 1, .offset = 0},
    };
    block_file_submit(x->f, reqs, 4);
    assert_int_equal(reqs[0].result, -EROFS);
    assert_int_equal(reqs[1].result, -EROFS);
    assert_int_equal(reqs[2].result, -EROFS);
    assert_int_equal(reqs[3].result, 0);
    for (int i = 0; i < 512; i++)
        assert_int_equal((uint8_t)z[i], 0xab);
}

static void test_discard_and_zeroes(void **state)
{
    struct ffx *x = *state;
    open_ok(x, false);
    assert_int_equal(fsync(x->fd), 0);
    struct stat before, after;
    assert_int_equal(fstat(x->fd, &before), 0);
    struct block_file_req reqs[3] = {
        {.op = BLOCK_FILE_DISCARD, .offset = 256 * 1024, .len = 256 * 1024},
        {.op = BLOCK_FILE_WRITE_ZEROES, .offset = 1000, .len = 24},
        {.op = BLOCK_FILE_WRITE_ZEROES, .offset = 4096, .len = 8192, .may_unmap = true},
    };
    block_file_submit(x->f, reqs, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(reqs[i].result, 0);
    assert_int_equal(fstat(x->fd, &after), 0);
    assert_int_equal(after.st_size, SIZE);
    assert_true(after.st_blocks < before.st_blocks);
    assert_int_equal(lseek(x->fd, 0, SEEK_HOLE), 4096);   /* the unmapped zeroes */
    assert_int_equal(lseek(x->fd, 16384, SEEK_HOLE), 256 * 1024);
    static uint8_t buf[SIZE];
    assert_int_equal(pread(x->fd, buf, SIZE, 0), SIZE);
    for (unsigned i = 0; i < SIZE; i++) {
        bool zero = (i >= 1000 && i < 1024) || (i >= 4096 && i < 12288) ||
                    (i >= 256 * 1024 && i < 512 * 1024);
        if (buf[i] != (zero ? 0 : 0xab))
            fail_msg("byte %u is 0x%x", i, buf[i]);
    }
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown), \
                 cmocka_unit_test_setup_teardown(fn, setup_sync, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_engine_names),
        cmocka_unit_test_setup_teardown(test_open_permission, setup_sync, teardown),
        BOTH(test_lock),
        BOTH(test_read_write),
        BOTH(test_read_only_refuses_writes),
        BOTH(test_discard_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
