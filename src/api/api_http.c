/* The REST API over HTTP with libmicrohttpd (see api_http.h).
 *
 * libmicrohttpd is loaded (dlopen) when a server starts, not linked:
 * Debian builds it with HTTPS, so linking it loads GnuTLS and its
 * libraries into every minnow process, which costs about 1.5 ms of each
 * process start (measured: an empty program linked with minnow's
 * libraries starts in 3.3 ms, 1.8 ms without libmicrohttpd) — most of what
 * a `minnow restore` without an API takes to reach the guest. */
#include "api/api_http.h"
#include "api/api_http_front.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "vmm/sandbox.h"

/* The functions used, from the loaded library. */
struct mhd {
    void *lib;
    __typeof__(&MHD_start_daemon) start_daemon;
    __typeof__(&MHD_stop_daemon) stop_daemon;
    __typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
    __typeof__(&MHD_add_response_header) add_response_header;
    __typeof__(&MHD_queue_response) queue_response;
    __typeof__(&MHD_destroy_response) destroy_response;
    __typeof__(&MHD_add_connection) add_connection;
};

struct api_http {
    struct mhd mhd;
    struct MHD_Daemon *daemon;
    struct api_front *front;
    struct api_vmm *vmm;
    unsigned max_body;
};

struct mhd_open {
    void *lib;
    char error[256];  /* dlerror() is per thread: copied where it is set */
};

/* sandbox_spawner_call's fn: the loader maps the library's code
 * executable, which only the spawner's filter allows (the vmm filter
 * refuses every PROT_EXEC mapping but the JIT's). */
static int mhd_dlopen(void *p)
{
    struct mhd_open *o = p;
    static const char *const names[] = { API_HTTP_LIBRARY, "libmicrohttpd.so" };
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !o->lib; i++)
        o->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!o->lib)
        snprintf(o->error, sizeof o->error, "%s", dlerror());
    return o->lib ? 0 : -ENOENT;
}

static int mhd_load(struct mhd *m, struct errmsg *e)
{
    struct mhd_open o = { NULL, "" };
    sandbox_spawner_call(mhd_dlopen, &o);
    m->lib = o.lib;
    if (!m->lib)
        return errmsg_set(e, -ENOENT, "cannot load libmicrohttpd for the API server: %s (install libmicrohttpd12)",
                          o.error);
#define SYM(field, name) (*(void **)&m->field = dlsym(m->lib, name))
    if (!SYM(start_daemon, "MHD_start_daemon") || !SYM(stop_daemon, "MHD_stop_daemon") ||
        !SYM(create_response_from_buffer, "MHD_create_response_from_buffer") ||
        !SYM(add_response_header, "MHD_add_response_header") || !SYM(queue_response, "MHD_queue_response") ||
        !SYM(destroy_response, "MHD_destroy_response") || !SYM(add_connection, "MHD_add_connection")) {
#undef SYM
        dlclose(m->lib);
        m->lib = NULL;
        return errmsg_set(e, -ENOENT, "libmicrohttpd lacks a function minnow uses: %s", dlerror());
    }
    return 0;
}

/* One request's body as it arrives. */
struct request {
    char *buf;
    size_t len;
    bool too_big;
    unsigned long long seen;  /* body bytes received, kept or not */
};

static enum MHD_Result respond(const struct mhd *m, struct MHD_Connection *c, unsigned status, char *body)
{
    size_t len = body ? strlen(body) : 0;
    struct MHD_Response *r = m->create_response_from_buffer(len, body ? body : (char *)"",
                                                            body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (body)
        m->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ok = m->queue_response(c, status, r);
    m->destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ctx)
{
    struct api_http *h = cls;
    (void)version;
    struct request *q = *ctx;
    if (!q) {
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *ctx = q;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        q->seen += n;
        if (q->too_big || q->len + n > h->max_body) {
            q->too_big = true;
            return MHD_YES;
        }
        char *b = realloc(q->buf, q->len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + q->len, upload, n);
        q->buf = b;
        q->len += n;
        q->buf[q->len] = 0;
        return MHD_YES;
    }
    if (q->too_big) {
        /* The front refuses a Content-Length over the limit; this is
         * only a backstop. */
        char *msg = NULL;
        if (asprintf(&msg, "{\"fault_message\":\"Request payload with size %llu is larger than the limit of %u "
                     "allowed by server.\"}", (unsigned long long)q->seen, h->max_body) < 0)
            msg = NULL;
        return respond(&h->mhd, c, 400, msg);
    }
    struct api_reply rep;
    api_vmm_handle(h->vmm, method, url, q->buf, q->len, &rep);
    return respond(&h->mhd, c, rep.status, rep.body);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    struct request *q = *ctx;
    if (q) {
        free(q->buf);
        free(q);
        *ctx = NULL;
    }
}

/* api_front_pass_fn: the front's checked stream becomes a connection. */
static int pass_connection(void *opaque, int fd)
{
    struct api_http *h = opaque;
    static const struct sockaddr_un peer = { .sun_family = AF_UNIX };
    if (h->mhd.add_connection(h->daemon, fd, (const struct sockaddr *)&peer, sizeof peer) != MHD_YES)
        return -1;   /* it closed fd */
    return 0;
}

/* No listening socket of its own: the front (api_http_front.h) accepts,
 * checks each request head and hands over complete ones, so this one
 * thread only ever sees requests ready to be parsed. */
static int start_daemon(void *p)
{
    struct api_http *h = p;
    h->daemon = h->mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_NO_LISTEN_SOCKET |
                                    MHD_USE_ITC, 0, NULL, NULL, on_request, h,
                                    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(API_FRONT_MAX_CLIENTS + 16),
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_FRONT_IDLE_S,
                                    MHD_OPTION_END);
    return h->daemon ? 0 : -EIO;
}

int api_http_start(struct api_http **out, int listen_fd, struct api_vmm *vmm, unsigned max_body,
                   struct errmsg *e)
{
    struct api_http *h = calloc(1, sizeof *h);
    if (!h) {
        close(listen_fd);
        return errmsg_set(e, -ENOMEM, "out of memory for the API server");
    }
    h->vmm = vmm;
    h->max_body = max_body;
    int r = mhd_load(&h->mhd, e);
    if (r) {
        close(listen_fd);
        free(h);
        return r;
    }
    /* Its thread inherits this one's (the main thread's) vmm filter: the
     * handlers it runs create and restore VMs. */
    r = start_daemon(h);
    if (r) {
        close(listen_fd);
        dlclose(h->mhd.lib);
        free(h);
        return errmsg_set(e, r, "cannot start the HTTP server on the API socket");
    }
    r = api_front_start(&h->front, listen_fd, max_body, pass_connection, h, e);
    if (r) {
        h->mhd.stop_daemon(h->daemon);
        dlclose(h->mhd.lib);
        free(h);
        return r;
    }
    *out = h;
    return 0;
}

void api_http_stop(struct api_http *h)
{
    if (!h)
        return;
    api_front_stop(h->front);
    h->mhd.stop_daemon(h->daemon);
    dlclose(h->mhd.lib);
    free(h);
}
