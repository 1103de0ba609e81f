/* Unit tests for backends/term: pass-through from a pipe with back-pressure,
 * and Ctrl-A escapes and raw mode on a real pseudo-terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "backends/term.h"

struct sink {
    pthread_mutex_t lock;
    uint8_t got[8192];
    size_t n;
    size_t per_call;  /* accept at most this many bytes per call (0: all) */
    int quit;
};

static size_t sink_input(void *o, const uint8_t *buf, size_t n)
{
    struct sink *s = o;
    pthread_mutex_lock(&s->lock);
    if (s->per_call && n > s->per_call)
        n = s->per_call;
    if (n > sizeof s->got - s->n)
        n = sizeof s->got - s->n;
    memcpy(s->got + s->n, buf, n);
    s->n += n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void sink_quit(void *o) { ((struct sink *)o)->quit = 1; }

static size_t wait_for(struct sink *s, size_t want)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&s->lock);
        size_t n = s->n;
        int q = s->quit;
        pthread_mutex_unlock(&s->lock);
        if (n >= want && (want || q))
            return n;
        usleep(1000);
    }
    return s->n;
}

static void pipe_passes_everything_with_backpressure(void **state)
{
    (void)state;
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    struct sink s = {.lock = PTHREAD_MUTEX_INITIALIZER, .per_call = 3};
    struct term_ops ops = {.input = sink_input, .quit = sink_quit, .opaque = &s};
    struct term *t;
    struct errmsg e;
    assert_int_equal(term_open(&t, in[0], out[1], &ops, &e), 0);
    uint8_t msg[1000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    msg[10] = 0x01;
    msg[11] = 'x'; /* not a terminal: no escapes, the bytes pass through */
    assert_int_equal(write(in[1], msg, sizeof msg), (ssize_t)sizeof msg);
    assert_int_equal(wait_for(&s, sizeof msg), sizeof msg);
    assert_memory_equal(s.got, msg, sizeof msg);
    assert_int_equal(s.quit, 0);
    term_write(t, (const uint8_t *)"guest says hi", 13);
    char back[32] = {0};
    assert_int_equal(read(out[0], back, sizeof back), 13);
    assert_string_equal(back, "guest says hi");
    term_close(t);
    close(in[1]);
    close(out[0]);
    close(out[1]);
}

static void close_while_guest_is_not_reading(void **state)
{
    (void)state;
    int in[2];
    assert_int_equal(pipe(in), 0);
    struct sink s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    s.n = sizeof s.got; /* full: takes nothing */
    struct term_ops ops = {.input = sink_input, .quit = sink_quit, .opaque = &s};
    struct term *t;
    struct errmsg e;
    assert_int_equal(term_open(&t, in[0], 1, &ops, &e), 0);
    assert_int_equal(write(in[1], "abc", 3), 3);
    usleep(20000);
    term_close(t); /* must not hang */
    close(in[1]);
}

static void tty_raw_mode_and_ctrl_a_escapes(void **state)
{
    (void)state;
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    struct termios before;
    tcgetattr(slave, &before);
    assert_true(before.c_lflag & ICANON);

    struct sink s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    struct term_ops ops = {.input = sink_input, .quit = sink_quit, .opaque = &s};
    struct term *t;
    struct errmsg e;
    assert_int_equal(term_open(&t, slave, slave, &ops, &e), 0);
    struct termios raw;
    tcgetattr(slave, &raw);
    assert_false(raw.c_lflag & (ICANON | ECHO | ISIG));

    /* "ab", Ctrl-A Ctrl-A (one literal Ctrl-A), "c", Ctrl-A x (quit) */
    assert_int_equal(write(master, "ab\001\001c\001x", 7), 7);
    wait_for(&s, 0);
    assert_int_equal(s.quit, 1);
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.got, "ab\001c", 4);
    term_close(t);
    struct termios after;
    tcgetattr(slave, &after);
    assert_true(after.c_lflag & ICANON); /* restored */
    close(slave);
    close(master);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pipe_passes_everything_with_backpressure),
        cmocka_unit_test(close_while_guest_is_not_reading),
        cmocka_unit_test(tty_raw_mode_and_ctrl_a_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
