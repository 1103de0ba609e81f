/* The API's Unix socket: created with mode 0600, a stale socket file left
 * by a dead process replaced, a live one (something answers connect())
 * refused, anything else at the path left alone and refused. */
#ifndef MINNOW_API_API_SOCKET_H
#define MINNOW_API_API_SOCKET_H

#include "util/errmsg.h"

/* Returns the listening fd (close-on-exec), or a negative code. Call it
 * before any thread starts: it sets the process umask around bind(). */
int api_socket_listen(const char *path, struct errmsg *e);

#endif
