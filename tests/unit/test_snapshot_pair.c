/* Unit tests for a snapshot's pair of files: vmm/snapshot_commit (the
 * commit, stale temporaries, destinations), vmm/snapshot_mem (the
 * trailer binding a memory file to its state file, finishing an
 * interrupted create) and machine/ram_fault (a truncated memory file
 * under mapped RAM reads zeros and is reported, not a SIGBUS death; one
 * written in place is reported). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine/ram.h"
#include "machine/ram_fault.h"
#include "vmm/snapshot_commit.h"
#include "vmm/snapshot_mem.h"

#define RAM (1u << 20)

struct fx {
    char dir[64];
    char state[128], mem[128];
};

static int setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    strcpy(x->dir, "/tmp/minnow-pair-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->state, sizeof x->state, "%s/s.state", x->dir);
    snprintf(x->mem, sizeof x->mem, "%s/s.mem", x->dir);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fx *x = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
    return 0;
}

/* A pair whose RAM is all `fill`, under state/mem; its id in id. */
static void make_pair(const char *state, const char *mem, uint8_t fill, uint8_t id[SNAPSHOT_ID_BYTES])
{
    struct snapshot_commit c;
    struct errmsg e = { "" };
    assert_int_equal(snapshot_commit_begin(&c, state, mem, &e), 0);
    static uint8_t buf[RAM];
    memset(buf, fill, sizeof buf);
    assert_int_equal(snapshot_pwrite_all(c.mem_fd, buf, sizeof buf, 0), 0);
    static const uint8_t machine[3] = { 1, 2, 3 };
    struct snapshot_file f = { .mem_size = RAM, .config_json = "{}", .machine = machine, .machine_len = 3 };
    memcpy(f.id, c.id, sizeof f.id);
    if (id)
        memcpy(id, c.id, SNAPSHOT_ID_BYTES);
    assert_int_equal(snapshot_commit_finish(&c, &f, SNAPSHOT_MEM_FULL, &e), 0);
}

static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".tmp-") != NULL;
    closedir(d);
    return n;
}

static uint8_t first_byte(int fd)
{
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, 0), 1);
    return b;
}

static void pair_restores_and_binds(void **state)
{
    struct fx *x = *state;
    make_pair(x->state, x->mem, 0x11, NULL);
    char s2[PATH_MAX], m2[PATH_MAX];
    snprintf(s2, sizeof s2, "%s/other.state", x->dir);
    snprintf(m2, sizeof m2, "%s/other.mem", x->dir);
    make_pair(s2, m2, 0x22, NULL);
    assert_int_equal(count_tmp(x->dir), 0);
    struct snapshot_file f;
    struct errmsg e = { "" };
    assert_int_equal(snapshot_file_read(x->state, &f, &e), 0);
    int fd = snapshot_mem_open(&f, x->state, x->mem, &e);
    assert_true(fd >= 0);
    assert_int_equal(first_byte(fd), 0x11);
    close(fd);
    /* s.state with other.mem: refused, naming both */
    assert_int_equal(snapshot_mem_open(&f, x->state, m2, &e), -EINVAL);
    assert_non_null(strstr(e.text, x->state));
    assert_non_null(strstr(e.text, m2));
    assert_non_null(strstr(e.text, "not a pair"));
    snapshot_file_free(&f);
}

static void interrupted_commit_is_finished(void **state)
{
    struct fx *x = *state;
    make_pair(x->state, x->mem, 0x11, NULL);
    /* What a create killed between its two renames leaves: the new state
     * file at the path, its memory file still under the temporary name. */
    char s2[PATH_MAX], m2[PATH_MAX], tmp[PATH_MAX], hex[SNAPSHOT_ID_TEXT];
    uint8_t id[SNAPSHOT_ID_BYTES];
    snprintf(s2, sizeof s2, "%s/new.state", x->dir);
    snprintf(m2, sizeof m2, "%s/new.mem", x->dir);
    make_pair(s2, m2, 0x33, id);
    snapshot_id_text(id, hex);
    snprintf(tmp, sizeof tmp, "%s.tmp-%s", x->mem, hex);
    assert_int_equal(rename(s2, x->state), 0);
    assert_int_equal(rename(m2, tmp), 0);
    struct snapshot_file f;
    struct errmsg e = { "" };
    assert_int_equal(snapshot_file_read(x->state, &f, &e), 0);
    int fd = snapshot_mem_open(&f, x->state, x->mem, &e);
    assert_true(fd >= 0);
    assert_int_equal(first_byte(fd), 0x33);
    close(fd);
    snapshot_file_free(&f);
    assert_int_equal(count_tmp(x->dir), 0); /* renamed onto s.mem */
    assert_int_equal(snapshot_file_read(x->state, &f, &e), 0);
    fd = snapshot_mem_open(&f, x->state, x->mem, &e);
    assert_true(fd >= 0);
    assert_int_equal(first_byte(fd), 0x33);
    close(fd);
    snapshot_file_free(&f);
}

static void stale_temporaries_are_removed(void **state)
{
    struct fx *x = *state;
    char stale[PATH_MAX], foreign[PATH_MAX];
    snprintf(stale, sizeof stale, "%s.tmp-0123456789abcdef0123456789abcdef", x->mem);
    snprintf(foreign, sizeof foreign, "%s.tmp-notours", x->mem);
    for (const char *p = stale; p; p = p == stale ? foreign : NULL) {
        int fd = open(p, O_CREAT | O_WRONLY, 0600);
        assert_true(fd >= 0);
        close(fd);
    }
    make_pair(x->state, x->mem, 0x44, NULL);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(foreign, F_OK), 0);
}

static void destination_must_be_regular(void **state)
{
    struct fx *x = *state;
    assert_int_equal(mkfifo(x->state, 0600), 0);
    struct snapshot_commit c;
    struct errmsg e = { "" };
    assert_int_equal(snapshot_commit_begin(&c, x->state, x->mem, &e), -EINVAL);
    assert_non_null(strstr(e.text, x->state));
    assert_non_null(strstr(e.text, "FIFO"));
    unlink(x->state);
    assert_int_equal(symlink("/etc/hostname", x->mem), 0);
    assert_int_equal(snapshot_commit_begin(&c, x->state, x->mem, &e), -EINVAL);
    assert_non_null(strstr(e.text, "symbolic link"));
    assert_int_equal(count_tmp(x->dir), 0);
}

static void truncated_memory_file_reads_zeros_and_is_reported(void **state)
{
    struct fx *x = *state;
    int fd = open(x->mem, O_CREAT | O_RDWR, 0600);
    assert_true(fd >= 0);
    static uint8_t buf[RAM];
    memset(buf, 0x5a, sizeof buf);
    assert_int_equal(pwrite(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    struct guest_mem ram;
    struct errmsg e = { "" };
    assert_int_equal(ram_map_file(&ram, 0x80000000ull, RAM, fd, x->mem, &e), 0);
    assert_int_equal(ram.host[0], 0x5a);
    assert_null(ram_lost(&ram, NULL));
    assert_int_equal(ftruncate(fd, 0), 0);
    /* The page past the end now: zeros, and the loss is recorded. */
    volatile uint8_t *p = ram.host + 5 * 4096 + 7;
    assert_int_equal(*p, 0);
    uint64_t off = 0;
    const char *lost = ram_lost(&ram, &off);
    assert_non_null(lost);
    assert_string_equal(lost, x->mem);
    assert_int_equal(off, 5 * 4096 + 7);
    struct pollfd pfd = { .fd = ram_fault_fd(ram.fault), .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 0), 1);
    ram_destroy(&ram);
    close(fd);
}

static void memory_file_written_in_place_is_reported(void **state)
{
    struct fx *x = *state;
    int fd = open(x->mem, O_CREAT | O_RDWR, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, RAM), 0);
    struct guest_mem ram;
    struct errmsg e = { "" };
    assert_int_equal(ram_map_file(&ram, 0x80000000ull, RAM, fd, x->mem, &e), 0);
    assert_int_equal(ram_fault_consume(ram.fault), 0);
    assert_int_equal(pwrite(fd, "x", 1, 4096), 1);
    struct pollfd pfd = { .fd = ram_fault_changed_fd(ram.fault), .events = POLLIN };
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    assert_int_equal(ram_fault_consume(ram.fault), 1);
    uint64_t off = 0;
    assert_string_equal(ram_lost(&ram, &off), x->mem);
    assert_true(off == UINT64_MAX);
    ram_destroy(&ram);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pair_restores_and_binds, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupted_commit_is_finished, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_temporaries_are_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(destination_must_be_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_memory_file_reads_zeros_and_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(memory_file_written_in_place_is_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
