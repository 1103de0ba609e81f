/* Unit tests for util/log: line formatting, level names, a logger writing
 * to a file, and the metrics module's line (no VM attached). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "vmm/metrics.h"

/* 2026-11-30T13:35:52.123456Z */
static const struct timespec when = { 1796045752, 123456789 };

static void formats_bare_line(void **state)
{
    (void)state;
    char buf[256];
    struct log_options o = { .level = LOG_INFO };
    size_t n = log_format_line(buf, sizeof buf, NULL, &o, LOG_INFO, &when, "../src/a.c", 7, "hello");
    assert_string_equal(buf, "2026-11-30T13:35:52.123456Z hello\n");
    assert_int_equal(n, strlen(buf));
}

static void formats_id_level_and_origin(void **state)
{
    (void)state;
    char buf[256];
    struct log_options o = { .level = LOG_INFO, .show_level = true, .show_origin = true };
    log_format_line(buf, sizeof buf, "vm1", &o, LOG_WARNING, &when, "../src/api/api_vmm.c", 42, "x");
    assert_string_equal(buf, "2026-11-30T13:35:52.123456Z [vm1:WARN:src/api/api_vmm.c:42] x\n");
    log_format_line(buf, sizeof buf, "vm1", &o, LOG_INFO, &when, "../../checkout/minnow/src/vmm/vm.c", 3, "x");
    assert_string_equal(buf, "2026-11-30T13:35:52.123456Z [vm1:INFO:src/vmm/vm.c:3] x\n");
    o.show_origin = false;
    log_format_line(buf, sizeof buf, "vm1", &o, LOG_ERROR, &when, "f.c", 1, "y");
    assert_string_equal(buf, "2026-11-30T13:35:52.123456Z [vm1:ERROR] y\n");
    o.show_level = false;
    o.show_origin = true;
    log_format_line(buf, sizeof buf, NULL, &o, LOG_ERROR, &when, "f.c", 1, "z");
    assert_string_equal(buf, "2026-11-30T13:35:52.123456Z [f.c:1] z\n");
}

static void keeps_one_line_and_truncates(void **state)
{
    (void)state;
    char buf[40];
    struct log_options o = { .level = LOG_INFO };
    size_t n = log_format_line(buf, sizeof buf, NULL, &o, LOG_INFO, &when, NULL, 0, "a\nb\rc and a long tail here");
    assert_int_equal(n, sizeof buf - 1);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    assert_non_null(strstr(buf, "a b c"));
}

static void parses_levels_case_insensitively(void **state)
{
    (void)state;
    enum log_level l;
    assert_int_equal(log_level_parse("Warning", &l), 0);
    assert_int_equal(l, LOG_WARNING);
    assert_int_equal(log_level_parse("trace", &l), 0);
    assert_int_equal(l, LOG_TRACE);
    assert_int_equal(log_level_parse("OFF", &l), 0);
    assert_int_equal(l, LOG_OFF);
    assert_int_equal(log_level_parse("Warn", &l), -EINVAL);
    assert_int_equal(log_level_parse("", &l), -EINVAL);
    assert_string_equal(log_level_name(LOG_DEBUG), "Debug");
}

static void writes_enabled_levels_to_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/minnow-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct logger *l;
    struct errmsg e;
    assert_int_equal(logger_create(&l, "t", &e), 0);
    LOG_INFO(l, "before the sink %d", 1);   /* no sink yet: dropped silently */
    struct log_options o = { .level = LOG_WARNING, .show_level = true };
    assert_int_equal(logger_configure(l, path, &o, &e), 0);
    assert_false(logger_enabled(l, LOG_INFO));
    assert_true(logger_enabled(l, LOG_ERROR));
    LOG_INFO(l, "quiet");
    LOG_WARN(l, "loud %s", "one");
    LOG_ERROR(l, "louder");
    logger_destroy(l);
    char text[512] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    text[n] = 0;
    assert_null(strstr(text, "quiet"));
    assert_null(strstr(text, "before"));
    assert_non_null(strstr(text, "[t:WARN] loud one\n"));
    assert_non_null(strstr(text, "[t:ERROR] louder\n"));
}

static void refuses_a_fifo_without_reader(void **state)
{
    (void)state;
    char dir[] = "/tmp/minnow-test-fifo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct logger *l;
    struct errmsg e;
    assert_int_equal(logger_create(&l, NULL, &e), 0);
    struct log_options o = { .level = LOG_INFO };
    assert_int_equal(logger_configure(l, path, &o, &e), -ENXIO);
    assert_non_null(strstr(e.text, "no process is reading"));
    logger_destroy(l);
    unlink(path);
    rmdir(dir);
}

static void metrics_line_without_vm(void **state)
{
    (void)state;
    struct metrics *m;
    struct errmsg e;
    assert_int_equal(metrics_create(&m, 0, &e), 0);
    assert_int_equal(metrics_flush(m, "x", &e), -ENOENT);
    metrics_record_api(m, METRICS_REQ_PUT_DRIVE, 204, 3000);
    metrics_record_api(m, METRICS_REQ_PUT_DRIVE, 400, 1000);
    metrics_record_api(m, METRICS_REQ_GET_INSTANCE_INFO, 200, 2000);
    metrics_record_latency(m, METRICS_LAT_PAUSE_VM, false, 70);
    metrics_record_latency(m, METRICS_LAT_PAUSE_VM, true, 60);
    metrics_set_startup(m, 1234, 567);
    char *s = metrics_line(m, "test");
    assert_non_null(s);
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    free(s);
    assert_non_null(j);
    /* Firecracker's keys. */
    json_t *put = json_object_get(j, "put_api_requests");
    assert_int_equal(json_integer_value(json_object_get(put, "drive_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(put, "drive_fails")), 1);
    assert_int_equal(json_integer_value(json_object_get(put, "actions_count")), 0);
    json_t *get = json_object_get(j, "get_api_requests");
    assert_int_equal(json_integer_value(json_object_get(get, "instance_info_count")), 1);
    assert_null(json_object_get(get, "instance_info_fails"));
    json_t *lats = json_object_get(j, "latencies_us");
    assert_int_equal(json_integer_value(json_object_get(lats, "pause_vm")), 70);
    assert_int_equal(json_integer_value(json_object_get(lats, "vmm_pause_vm")), 60);
    json_t *srv = json_object_get(j, "api_server");
    assert_int_equal(json_integer_value(json_object_get(srv, "process_startup_time_us")), 1234);
    assert_int_equal(json_integer_value(json_object_get(srv, "process_startup_time_cpu_us")), 567);
    assert_non_null(json_object_get(j, "utc_timestamp_ms"));
    /* minnow's own, cumulative. */
    json_t *own = json_object_get(j, "minnow");
    assert_string_equal(json_string_value(json_object_get(own, "reason")), "test");
    json_t *api = json_object_get(own, "api");
    assert_int_equal(json_integer_value(json_object_get(api, "requests")), 3);
    assert_int_equal(json_integer_value(json_object_get(api, "errors")), 1);
    json_t *lat = json_object_get(api, "latency_us");
    assert_int_equal(json_integer_value(json_object_get(lat, "p50")), 2);
    assert_int_equal(json_integer_value(json_object_get(lat, "max")), 3);
    assert_true(json_integer_value(json_object_get(json_object_get(own, "monitor"), "rss_bytes")) > 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(own, "vm"), "state")), "Not started");
    json_decref(j);

    /* The next line: Firecracker's counters say what happened since the
     * previous one, its stored values stay, minnow's keep counting. */
    metrics_record_api(m, METRICS_REQ_PUT_DRIVE, 204, 1000);
    s = metrics_line(m, "again");
    j = json_loads(s, 0, &err);
    free(s);
    assert_non_null(j);
    put = json_object_get(j, "put_api_requests");
    assert_int_equal(json_integer_value(json_object_get(put, "drive_count")), 1);
    assert_int_equal(json_integer_value(json_object_get(put, "drive_fails")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "get_api_requests"), "instance_info_count")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "latencies_us"), "pause_vm")), 70);
    api = json_object_get(json_object_get(j, "minnow"), "api");
    assert_int_equal(json_integer_value(json_object_get(api, "requests")), 4);
    json_decref(j);
    metrics_destroy(m);
}

static void metrics_timer_writes_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/minnow-test-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    struct metrics *m;
    struct errmsg e;
    assert_int_equal(metrics_create(&m, 20, &e), 0);
    assert_int_equal(metrics_configure(m, path, "vm7", &e), 0);
    assert_int_equal(metrics_configure(m, path, NULL, &e), -EBUSY);
    /* Wait for two periodic lines (no fixed sleep: the machine may be busy). */
    for (int tries = 0; tries < 6000; tries++) {
        FILE *c = fopen(path, "r");
        int lines = 0;
        for (int ch; c && (ch = fgetc(c)) != EOF;)
            lines += ch == '\n';
        if (c)
            fclose(c);
        if (lines >= 3)
            break;
        usleep(10 * 1000);
    }
    assert_int_equal(metrics_flush(m, "FlushMetrics", &e), 0);
    metrics_destroy(m);   /* stops the timer thread */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[65536];
    int n = 0, periodic = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "id")), "vm7");
        const char *reason = json_string_value(json_object_get(json_object_get(j, "minnow"), "reason"));
        assert_non_null(reason);
        periodic += !strcmp(reason, "periodic");
        json_decref(j);
        n++;
    }
    fclose(f);
    unlink(path);
    assert_true(periodic >= 2);
    assert_int_equal(n, periodic + 2);   /* + "configured" and "FlushMetrics" */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_bare_line),
        cmocka_unit_test(formats_id_level_and_origin),
        cmocka_unit_test(keeps_one_line_and_truncates),
        cmocka_unit_test(parses_levels_case_insensitively),
        cmocka_unit_test(writes_enabled_levels_to_a_file),
        cmocka_unit_test(refuses_a_fifo_without_reader),
        cmocka_unit_test(metrics_line_without_vm),
        cmocka_unit_test(metrics_timer_writes_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
