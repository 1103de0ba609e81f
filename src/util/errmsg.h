/* Error reporting convention for all layers: a function returns 0 or a
 * negative errno-style code and, on failure, fills a struct errmsg with a
 * sentence for the user that names the bad input. Only the CLI prints it. */
#ifndef MINNOW_UTIL_ERRMSG_H
#define MINNOW_UTIL_ERRMSG_H

#include <stddef.h>

struct errmsg {
    char text[512];
};

/* Formats the message into e (if e is not NULL) and returns code, which
 * should be negative, so callers can write `return errmsg_set(e, -EINVAL, ...)`. */
int errmsg_set(struct errmsg *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
