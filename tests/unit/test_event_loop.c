/* Unit tests for vmm/event_loop: callbacks run on the I/O thread for fds
 * and kicks, removal waits for a running callback, destroy joins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "vmm/event_loop.h"

struct counter {
    atomic_int calls;
    atomic_int busy;           /* inside the callback */
    pthread_t thread;
    int fd;                    /* pipe read end to drain, or -1 */
    int sleep_ms;
};

static void on_event(void *opaque)
{
    struct counter *c = opaque;
    atomic_store(&c->busy, 1);
    c->thread = pthread_self();
    if (c->fd >= 0) {
        char b[64];
        ssize_t r = read(c->fd, b, sizeof b);
        (void)r;
    }
    if (c->sleep_ms)
        usleep((useconds_t)c->sleep_ms * 1000);
    atomic_fetch_add(&c->calls, 1);
    atomic_store(&c->busy, 0);
}

static bool wait_calls(struct counter *c, int n)
{
    for (int i = 0; i < 5000; i++) {
        if (atomic_load(&c->calls) >= n)
            return true;
        usleep(1000);
    }
    return false;
}

static void test_kick_runs_on_loop_thread(void **state)
{
    (void)state;
    struct event_loop *l;
    struct errmsg e;
    assert_int_equal(event_loop_create(&l, &e), 0);
    assert_int_equal(event_loop_start(l, &e), 0);
    assert_int_equal(event_loop_start(l, &e), -EBUSY);   /* twice */
    struct counter c = {.fd = -1};
    struct event_loop_kick *k;
    assert_int_equal(event_loop_add_kick(l, on_event, &c, &k, &e), 0);
    usleep(10000);
    assert_int_equal(atomic_load(&c.calls), 0);       /* nothing until kicked */
    event_loop_kick(k);
    assert_true(wait_calls(&c, 1));
    assert_false(pthread_equal(c.thread, pthread_self()));
    /* kicks coalesce but are never lost */
    for (int i = 0; i < 100; i++)
        event_loop_kick(k);
    assert_true(wait_calls(&c, 2));
    usleep(10000);
    int after = atomic_load(&c.calls);
    assert_true(after >= 2 && after <= 101);
    event_loop_remove_kick(l, k);
    event_loop_kick(k);
    usleep(10000);
    assert_int_equal(atomic_load(&c.calls), after);
    event_loop_destroy(l);
}

static void test_fd_and_remove(void **state)
{
    (void)state;
    struct event_loop *l;
    struct errmsg e;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(event_loop_create(&l, &e), 0);
    struct counter c = {.fd = p[0]};
    assert_int_equal(event_loop_add_fd(l, p[0], on_event, &c, &e), 0);
    assert_int_equal(event_loop_start(l, &e), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_true(wait_calls(&c, 1));
    /* removal waits for a running callback */
    c.sleep_ms = 100;
    assert_int_equal(write(p[1], "y", 1), 1);
    while (!atomic_load(&c.busy) && atomic_load(&c.calls) < 2)
        usleep(100);
    assert_int_equal(event_loop_remove_fd(l, p[0], &e), 0);
    assert_int_equal(atomic_load(&c.busy), 0);
    assert_int_equal(atomic_load(&c.calls), 2);
    assert_int_equal(write(p[1], "z", 1), 1);
    usleep(20000);
    assert_int_equal(atomic_load(&c.calls), 2);
    assert_int_equal(event_loop_remove_fd(l, p[0], &e), -ENOENT);
    assert_int_equal(event_loop_add_fd(l, -1, on_event, &c, &e), -EBADF);
    event_loop_destroy(l);
    close(p[0]);
    close(p[1]);
}

static void test_destroy_joins(void **state)
{
    (void)state;
    struct event_loop *l;
    struct errmsg e;
    assert_int_equal(event_loop_create(&l, &e), 0);
    struct counter c = {.fd = -1, .sleep_ms = 50};
    struct event_loop_kick *k;
    assert_int_equal(event_loop_add_kick(l, on_event, &c, &k, &e), 0);
    assert_int_equal(event_loop_start(l, &e), 0);
    event_loop_kick(k);
    while (!atomic_load(&c.busy) && !atomic_load(&c.calls))
        usleep(100);
    event_loop_destroy(l);             /* waits for the callback, joins */
    assert_int_equal(atomic_load(&c.calls), 1);
    assert_int_equal(atomic_load(&c.busy), 0);
    /* a loop that never started can be destroyed too */
    assert_int_equal(event_loop_create(&l, &e), 0);
    event_loop_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_runs_on_loop_thread),
        cmocka_unit_test(test_fd_and_remove),
        cmocka_unit_test(test_destroy_joins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
