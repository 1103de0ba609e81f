/* The MMDS's HTTP server for the guest, as Firecracker's answers: GET of a
 * path reads the data store (api/mmds_store.h: JSON with "Accept:
 * application/json", else IMDS text); PUT /latest/api/token with
 * X-metadata-token-ttl-seconds (or X-aws-ec2-metadata-token-ttl-seconds)
 * 1..21600 returns a session token; in V2 a GET needs a valid token in
 * X-metadata-token (or X-aws-ec2-metadata-token), else 401; V1 takes GETs
 * with or without one. Other methods get 405 with "Allow: GET, PUT"; a PUT
 * with X-Forwarded-For gets 400 (a token must not be fetched through a
 * proxy). Errors are text/plain with Firecracker's messages.
 *
 * HTTP/1.0 and 1.1; a connection stays open after an answer unless the
 * request was HTTP/1.0 without "Connection: keep-alive", said "Connection:
 * close", or was malformed. The guest is hostile: the head is at most
 * MMDS_HTTP_HEAD_MAX bytes, a body (counted by Content-Length only: no
 * chunked transfer) at most MMDS_HTTP_BODY_MAX; control bytes in the head,
 * folded or nameless header lines, bad methods, URIs and versions are
 * refused with 400 and the connection closes. */
#ifndef MINNOW_API_MMDS_HTTP_H
#define MINNOW_API_MMDS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/mmds_store.h"

#define MMDS_HTTP_HEAD_MAX 4096u
#define MMDS_HTTP_BODY_MAX 4096u

/* One request at the start of buf (see mmds_net_handler in
 * devices/mmds_net.h, whose request function this is with opaque = the
 * store). now_ms: CLOCK_MONOTONIC milliseconds, for token expiry. */
long mmds_http_handle(struct mmds_store *s, const uint8_t *buf, size_t len, uint64_t now_ms, uint8_t **resp,
                      size_t *resp_len, bool *close);
/* The same with the clock read here: the handler's signature. */
long mmds_http_request(void *store, const uint8_t *buf, size_t len, uint8_t **resp, size_t *resp_len, bool *close);

#endif
