/* Unit tests for vmm/snapshot_file's snapshot_file_version
 * (--describe-snapshot): a state file minnow wrote gives its format
 * version, an older header its own, anything else an error naming the
 * path and the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/snapshot_file.h"

static char dir[] = "/tmp/minnow-snapver-XXXXXX";

static void put(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_version(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    char path[96], msg[200];
    snprintf(path, sizeof path, "%s/state", dir);
    struct snapshot_file f = { .mem_size = 4096, .config_json = "{}", .id = { 1, 2, 3 } };
    uint8_t *buf;
    size_t len;
    struct errmsg e = { "" };
    assert_int_equal(snapshot_file_encode(path, &f, &buf, &len, &e), 0);
    put(path, buf, len);
    uint32_t v = 0;
    assert_int_equal(snapshot_file_version(path, &v, &e), 0);
    assert_int_equal(v, SNAPSHOT_FORMAT_VERSION);
    /* A version-1 header is described (it is not loadable, but it is one). */
    buf[8] = 1;
    put(path, buf, len);
    assert_int_equal(snapshot_file_version(path, &v, &e), 0);
    assert_int_equal(v, 1);
    buf[0] = 'X';
    put(path, buf, len);
    assert_int_not_equal(snapshot_file_version(path, &v, &e), 0);
    snprintf(msg, sizeof msg, "snapshot '%s': not a minnow snapshot state file (bad magic)", path);
    assert_string_equal(e.text, msg);
    put(path, "MINNOW", 6);
    assert_int_not_equal(snapshot_file_version(path, &v, &e), 0);
    snprintf(msg, sizeof msg, "snapshot '%s': 6 bytes is too short for a minnow snapshot state file", path);
    assert_string_equal(e.text, msg);
    free(buf);
    unlink(path);
    assert_int_not_equal(snapshot_file_version(path, &v, &e), 0);
    snprintf(msg, sizeof msg, "snapshot '%s': No such file or directory", path);
    assert_string_equal(e.text, msg);
    assert_int_not_equal(snapshot_file_version(dir, &v, &e), 0);
    snprintf(msg, sizeof msg, "snapshot '%s': not a regular file", dir);
    assert_string_equal(e.text, msg);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
