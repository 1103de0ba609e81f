/* The host terminal as a guest console backend: raw mode while the guest
 * runs (restored on close), a reader thread that hands typed bytes to the
 * device with back-pressure, and QEMU's escape Ctrl-A x to quit (Ctrl-A
 * Ctrl-A sends one Ctrl-A). When stdin is not a terminal (a pipe, a file,
 * /dev/null in CI) bytes pass through untouched and end of input simply
 * stops reading. */
#ifndef MINNOW_BACKENDS_TERM_H
#define MINNOW_BACKENDS_TERM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

struct term_ops {
    /* Offers bytes to the guest device; returns how many it took. The rest
     * is offered again shortly, so nothing typed is lost. */
    size_t (*input)(void *opaque, const uint8_t *buf, size_t n);
    /* The user pressed Ctrl-A x. */
    void (*quit)(void *opaque);
    void *opaque;
    /* Optional: how the reader thread is created (pthread_create's
     * signature; NULL: pthread_create) and what it calls first, with
     * opaque (the monitor's sandbox: a backend does not know it). */
    int (*thread_create)(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
    void (*thread_start)(void *opaque);
};

struct term;

/* Takes over file descriptors in_fd/out_fd (normally 0 and 1). */
int term_open(struct term **out, int in_fd, int out_fd, const struct term_ops *ops,
              struct errmsg *e);
/* Writes all of buf to the output, retrying on short writes. */
void term_write(struct term *t, const uint8_t *buf, size_t n);
/* Stops the reader and restores the terminal mode. */
void term_close(struct term *t);

#endif
