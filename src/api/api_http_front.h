/* The API socket's front: it accepts the clients, gives each a thread of
 * its own, checks every request head (api_http_head.h) and relays checked
 * requests to the HTTP server over a socket pair, and the server's answers
 * back. So a client that is slow or silent holds only its own thread (the
 * server sees a request once its head is complete), every framing error
 * gets a JSON fault_message, and the server never parses what we would
 * read differently. */
#ifndef MINNOW_API_API_HTTP_FRONT_H
#define MINNOW_API_API_HTTP_FRONT_H

#include "util/errmsg.h"

/* At most this many clients at once; more are answered 503 and closed. */
#define API_FRONT_MAX_CLIENTS 512u
/* A client that sends nothing for this long is closed. */
#define API_FRONT_IDLE_S 30

struct api_front;

/* Hands the server its end of a new socket pair (it owns it then).
 * Returns 0, or -1 if it cannot take it. */
typedef int api_front_pass_fn(void *opaque, int fd);

/* Serves listen_fd (owned and closed by the front from now on). */
int api_front_start(struct api_front **out, int listen_fd, unsigned max_body, api_front_pass_fn *pass,
                    void *opaque, struct errmsg *e);
/* Closes every client and joins every thread. NULL is fine. */
void api_front_stop(struct api_front *f);

#endif
