/* A minimal HTTP/1.1 client for minnow's own API socket, so the CLI can
 * drive a running minnow (`minnow pause`, `minnow migrate`, ...) without
 * curl. One request per connection ("Connection: close"). */
#ifndef MINNOW_API_API_CLIENT_H
#define MINNOW_API_API_CLIENT_H

#include <stddef.h>

#include "util/errmsg.h"

/* Sends METHOD PATH with the JSON body (NULL: none) to the API on the Unix
 * socket `sock`; fills *status and the reply body (NUL-terminated,
 * truncated to cap - 1 bytes). Returns 0, or a negative code when no
 * answer came (the message names the socket). */
int api_client_request(const char *sock, const char *method, const char *path, const char *body, int *status,
                       char *reply, size_t cap, struct errmsg *e);

#endif
