/* The monitor's side of the network helper against a helper that breaks
 * the rules of the shared frame rings (hostile_net_helper.c, named by
 * $HOSTILE_HELPER): an impossible index or length is one report line and
 * the network goes down, the VM's process carries on; the helper cannot
 * shrink the shared memory under the monitor. Runs under ASan in the suite:
 * a read outside the ring would be reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/net_helper.h"

struct seen {
    char report[256];
    unsigned frames;
    size_t len;
    uint8_t first;
};

static void on_report(void *opaque, const char *line)
{
    struct seen *s = opaque;
    if (!s->report[0])
        snprintf(s->report, sizeof s->report, "%s", line);
}

static void on_frame(void *opaque, const uint8_t *frame, size_t len)
{
    struct seen *s = opaque;
    s->frames++;
    s->len = len;
    s->first = frame[0];
}

static struct net_backend *open_hostile(const char *mode, struct seen *s)
{
    const char *exe = getenv("HOSTILE_HELPER");
    if (!exe)
        fail_msg("HOSTILE_HELPER names no helper executable");
    setenv("HOSTILE", mode, 1);
    memset(s, 0, sizeof *s);
    struct net_helper_options o = {.exe = exe, .report = on_report, .report_opaque = s};
    struct net_backend *b;
    struct errmsg e = {{0}};
    if (net_helper_open(&b, &o, &e))
        fail_msg("net_helper_open: %s", e.text);
    net_backend_set_rx(b, on_frame, s);
    return b;
}

/* Serves the backend until its poll_fd is quiet or done() holds. */
static void serve_until(struct net_backend *b, struct seen *s, bool (*done)(const struct seen *))
{
    for (int i = 0; i < 1000 && !done(s); i++) {
        struct pollfd p = {.fd = net_backend_poll_fd(b), .events = POLLIN};
        if (poll(&p, 1, 30000) != 1)
            fail_msg("the backend's poll_fd stayed quiet (report '%s')", s->report);
        net_backend_service(b);
    }
}

static bool reported(const struct seen *s)
{
    return s->report[0] != 0;
}

static bool one_frame(const struct seen *s)
{
    return s->frames > 0 || s->report[0];
}

static void expect_broken(struct net_backend *b, struct seen *s)
{
    static const char want[] = "broke the frame ring; the guest's network is down";
    if (!strstr(s->report, want))
        fail_msg("report '%s', expected one containing '%s'", s->report, want);
    assert_int_equal(s->frames, 0);
    uint8_t f[60] = {0};
    struct iovec iov = {f, sizeof f};
    assert_int_equal(net_backend_send(b, &iov, 1), -EPIPE);
    net_backend_close(b);
}

static void test_head_past_the_ring(void **state)
{
    (void)state;
    struct seen s;
    struct net_backend *b = open_hostile("head", &s);
    serve_until(b, &s, reported);
    expect_broken(b, &s);
}

static void test_length_past_the_largest_frame(void **state)
{
    (void)state;
    struct seen s;
    struct net_backend *b = open_hostile("length", &s);
    serve_until(b, &s, reported);
    expect_broken(b, &s);
}

static void test_tail_past_what_was_sent(void **state)
{
    (void)state;
    struct seen s;
    struct net_backend *b = open_hostile("tail", &s);
    /* The helper claims to have consumed more than we sent: our next
     * frame finds the ring broken. */
    uint8_t f[60] = {0};
    struct iovec iov = {f, sizeof f};
    for (int i = 0; i < 1000 && !s.report[0]; i++) {
        int rc = net_backend_send(b, &iov, 1);
        assert_true(rc == 0 || rc == -EPIPE);
        if (!s.report[0]) {
            struct pollfd p = {.fd = net_backend_poll_fd(b), .events = POLLIN};
            if (poll(&p, 1, 100) == 1)
                net_backend_service(b);
        }
    }
    expect_broken(b, &s);
}

static void test_cannot_shrink_the_rings(void **state)
{
    (void)state;
    struct seen s;
    struct net_backend *b = open_hostile("shrink", &s);
    serve_until(b, &s, one_frame);
    if (s.frames != 1 || s.len != 60 || s.first != 0x5a)
        fail_msg("got %u frames (last %zu bytes, first byte %#x), report '%s'; expected the helper's one 60-byte "
                 "frame", s.frames, s.len, s.first, s.report);
    net_backend_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_past_the_ring),
        cmocka_unit_test(test_length_past_the_largest_frame),
        cmocka_unit_test(test_tail_past_what_was_sent),
        cmocka_unit_test(test_cannot_shrink_the_rings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
