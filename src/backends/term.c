/* Host terminal backend: raw mode, reader thread, Ctrl-A escapes. */
#include "backends/term.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CTRL_A 0x01

struct term {
    int in_fd, out_fd;
    int stop_pipe[2];
    int is_tty;
    struct termios saved;
    struct term_ops ops;
    pthread_t reader;
    int reader_started;
    pthread_mutex_t out_lock;
};

/* Offers buf to the guest until all of it is taken or we are told to stop. */
static int deliver(struct term *t, const uint8_t *buf, size_t n)
{
    while (n) {
        size_t took = t->ops.input(t->ops.opaque, buf, n);
        buf += took;
        n -= took;
        if (n) {
            struct pollfd p = {t->stop_pipe[0], POLLIN, 0};
            if (poll(&p, 1, 2) > 0)  /* the guest is not reading: wait, unless stopping */
                return -1;
        }
    }
    return 0;
}

static void *reader_main(void *arg)
{
    struct term *t = arg;
    if (t->ops.thread_start)
        t->ops.thread_start(t->ops.opaque);
    int escape = 0;
    uint8_t buf[256], out[256];
    for (;;) {
        struct pollfd p[2] = {{t->in_fd, POLLIN, 0}, {t->stop_pipe[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        ssize_t n = read(t->in_fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;  /* end of input: the guest keeps running without it */
        size_t m = 0;
        for (ssize_t i = 0; i < n; i++) {
            uint8_t c = buf[i];
            if (!t->is_tty) {
                out[m++] = c;
            } else if (escape) {
                escape = 0;
                if (c == 'x' || c == 'X') {
                    if (m && deliver(t, out, m))
                        return NULL;
                    t->ops.quit(t->ops.opaque);
                    return NULL;
                }
                if (c == CTRL_A)
                    out[m++] = c;
                /* any other key after Ctrl-A is dropped, as in QEMU */
            } else if (c == CTRL_A) {
                escape = 1;
            } else {
                out[m++] = c;
            }
        }
        if (m && deliver(t, out, m))
            break;
    }
    return NULL;
}

int term_open(struct term **out, int in_fd, int out_fd, const struct term_ops *ops,
              struct errmsg *e)
{
    struct term *t = calloc(1, sizeof *t);
    if (!t)
        return errmsg_set(e, -ENOMEM, "console: out of memory");
    t->in_fd = in_fd;
    t->out_fd = out_fd;
    t->ops = *ops;
    pthread_mutex_init(&t->out_lock, NULL);
    if (pipe(t->stop_pipe)) {
        int err = errno;
        free(t);
        return errmsg_set(e, -err, "console: pipe: %s", strerror(err));
    }
    t->is_tty = isatty(in_fd) && tcgetattr(in_fd, &t->saved) == 0;
    if (t->is_tty) {
        struct termios raw = t->saved;
        cfmakeraw(&raw);
        tcsetattr(in_fd, TCSANOW, &raw);
    }
    int rc = (t->ops.thread_create ? t->ops.thread_create : pthread_create)(&t->reader, NULL, reader_main, t);
    if (rc) {
        term_close(t);
        return errmsg_set(e, -rc, "console: cannot start the input thread: %s", strerror(rc));
    }
    t->reader_started = 1;
    *out = t;
    return 0;
}

void term_write(struct term *t, const uint8_t *buf, size_t n)
{
    pthread_mutex_lock(&t->out_lock);
    while (n) {
        ssize_t w = write(t->out_fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;  /* output gone (closed pipe): the guest keeps running */
        }
        buf += w;
        n -= (size_t)w;
    }
    pthread_mutex_unlock(&t->out_lock);
}

void term_close(struct term *t)
{
    if (!t)
        return;
    if (t->reader_started) {
        ssize_t w = write(t->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(t->reader, NULL);
    }
    if (t->is_tty)
        tcsetattr(t->in_fd, TCSANOW, &t->saved);
    close(t->stop_pipe[0]);
    close(t->stop_pipe[1]);
    pthread_mutex_destroy(&t->out_lock);
    free(t);
}
