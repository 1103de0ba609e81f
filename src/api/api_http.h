/* HTTP/1.1 for the REST API: the front (api_http_front.h) accepts on an
 * already listening Unix socket, a thread per client, and hands checked
 * requests to libmicrohttpd's one internal thread; each request's body is
 * collected (at most the server's limit, by default API_HTTP_MAX_BODY
 * bytes: --http-api-max-payload-size; a larger one is answered 400 with a
 * fault_message, as Firecracker does) and handed to api_vmm_handle. */
#ifndef MINNOW_API_API_HTTP_H
#define MINNOW_API_API_HTTP_H

#include "api/api_vmm.h"
#include "util/errmsg.h"

#define API_HTTP_MAX_BODY 51200u   /* Firecracker's default payload limit */
/* What --http-api-max-payload-size may set (the front holds no body: it
 * passes bodies through, and the server collects one per request). */
#define API_HTTP_MAX_BODY_LIMIT (1u << 30)
/* The library api_http_start loads (dlopen), first by its soname (the
 * jailer copies what that resolves to into a jail: vmm/jailer.h). */
#define API_HTTP_LIBRARY "libmicrohttpd.so.12"

struct api_http;

/* Serves listen_fd (which the server then owns and closes) until
 * api_http_stop. Start it with SIGINT/SIGTERM/SIGHUP blocked: its thread
 * inherits the mask. */
int api_http_start(struct api_http **out, int listen_fd, struct api_vmm *vmm, unsigned max_body,
                   struct errmsg *e);
/* Waits for the request in progress, then stops. NULL is fine. */
void api_http_stop(struct api_http *h);

#endif
