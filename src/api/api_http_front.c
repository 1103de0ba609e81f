/* The API socket's front: accept, check, relay (see api_http_front.h). */
#include "api/api_http_front.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api_http_head.h"
#include "vmm/sandbox.h"

struct client {
    struct api_front *f;
    int fd;          /* the API client */
    int srv;         /* our end of the pair; the server has the other */
    unsigned slot;
};

struct api_front {
    int listen_fd;
    int wake[2];     /* a pipe: written to stop the accept thread */
    unsigned max_body;
    api_front_pass_fn *pass;
    void *opaque;
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_cond_t idle;   /* signalled when a client thread ends */
    bool quit;
    unsigned nclients;
    int fds[API_FRONT_MAX_CLIENTS];   /* client sockets, -1 if free: shut down to stop */
};

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* Firecracker's error body, and the connection ends. */
static void send_error(int fd, unsigned status, const char *text)
{
    json_t *j = json_pack("{s:s}", "fault_message", text);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char head[256];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head, "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, reason(status), blen);
    if (!send_all(fd, head, (size_t)n) && body)
        send_all(fd, body, blen);
    free(body);
}

/* Relays whatever the server has written so far to the client; with
 * wait_ms, also waits that long for more (or for the server to close). */
static bool relay_from_server(struct client *c, int wait_ms)
{
    char buf[16384];
    for (;;) {
        struct pollfd p = { .fd = c->srv, .events = POLLIN };
        if (poll(&p, 1, wait_ms) <= 0)
            return true;
        ssize_t n = recv(c->srv, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        if (send_all(c->fd, buf, (size_t)n))
            return false;
    }
}

/* What the client still owes of the request being relayed. */
struct stream {
    char head[API_HTTP_HEAD_MAX];
    size_t have;       /* bytes of the head so far */
    uint64_t body;     /* body bytes still to pass through */
};

/* Takes n bytes the client sent: heads are collected and checked, bodies
 * passed through. Returns 0, or the error status to answer (msg). */
static unsigned take(struct client *c, struct stream *s, const char *p, size_t n, char *msg, size_t msg_size)
{
    while (n) {
        if (s->body) {
            size_t k = n < s->body ? n : (size_t)s->body;
            if (send_all(c->srv, p, k))
                return 500;
            s->body -= k;
            p += k;
            n -= k;
            continue;
        }
        size_t room = sizeof s->head - s->have, k = n < room ? n : room;
        memcpy(s->head + s->have, p, k);
        /* A control byte is refused as soon as it comes, not at the end. */
        long bad = api_http_head_bad_byte(s->head + s->have, k);
        size_t scan_from = s->have > 3 ? s->have - 3 : 0;
        s->have += k;
        size_t end = api_http_head_end(s->head + scan_from, s->have - scan_from);
        if (end)
            end += scan_from;
        if (bad >= 0 && (!end || (size_t)bad + (s->have - k) < end)) {
            struct api_http_head h;
            return api_http_head_check(s->head, end ? end : s->have, c->f->max_body, &h, msg, msg_size);
        }
        if (!end) {
            if (s->have == sizeof s->head) {
                snprintf(msg, msg_size, "the request head (request line and headers) is larger than %u bytes",
                         API_HTTP_HEAD_MAX);
                return 431;
            }
            p += k;
            n -= k;
            continue;
        }
        struct api_http_head h;
        unsigned st = api_http_head_check(s->head, end, c->f->max_body, &h, msg, msg_size);
        if (st)
            return st;
        if (send_all(c->srv, s->head, end))
            return 500;
        /* What came after the head goes round again (body, next request). */
        size_t used = k - (s->have - end);
        s->have = 0;
        s->body = h.content_length;
        p += used;
        n -= used;
    }
    return 0;
}

static void serve_client(struct client *c)
{
    struct stream *s = calloc(1, sizeof *s);
    if (!s)
        return;
    char buf[16384], msg[256];
    struct pollfd p[2] = { { .fd = c->fd, .events = POLLIN }, { .fd = c->srv, .events = POLLIN } };
    bool client_open = true;
    for (;;) {
        p[0].fd = client_open ? c->fd : -1;
        int r = poll(p, 2, API_FRONT_IDLE_S * 1000);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;   /* idle: closed */
        if (p[1].revents) {
            ssize_t n = recv(c->srv, buf, sizeof buf, 0);
            if (n <= 0 || send_all(c->fd, buf, (size_t)n))
                break;   /* the server closed (after Connection: close, say) */
        }
        if (p[0].revents) {
            ssize_t n = recv(c->fd, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                /* The client is done sending: let the server answer what it
                 * has, then end. */
                client_open = false;
                shutdown(c->srv, SHUT_WR);
                continue;
            }
            unsigned st = take(c, s, buf, (size_t)n, msg, sizeof msg);
            if (st) {
                /* Answers to requests already passed on come first. */
                shutdown(c->srv, SHUT_WR);
                relay_from_server(c, 2000);
                if (st != 500)
                    send_error(c->fd, st, msg);
                /* Read (and drop) what the client still sends for a
                 * while, so that it reads the answer rather than fail
                 * writing a body nobody takes. */
                shutdown(c->fd, SHUT_WR);
                struct pollfd d = { .fd = c->fd, .events = POLLIN };
                for (unsigned i = 0; i < 4096 && poll(&d, 1, 1000) > 0; i++)
                    if (recv(c->fd, buf, sizeof buf, 0) <= 0)
                        break;
                break;
            }
        }
    }
    free(s);
}

static void *client_thread(void *p)
{
    struct client *c = p;
    sandbox_thread_start(SANDBOX_API, "api");
    struct api_front *f = c->f;
    serve_client(c);
    close(c->srv);
    pthread_mutex_lock(&f->lock);
    f->fds[c->slot] = -1;
    close(c->fd);
    f->nclients--;
    pthread_cond_broadcast(&f->idle);
    pthread_mutex_unlock(&f->lock);
    free(c);
    return NULL;
}

/* A new client: a slot, a socket pair, the server's end handed over, a
 * thread. Refusals are answered. */
static void add_client(struct api_front *f, int fd)
{
    pthread_mutex_lock(&f->lock);
    unsigned slot = API_FRONT_MAX_CLIENTS;
    for (unsigned i = 0; i < API_FRONT_MAX_CLIENTS && !f->quit; i++)
        if (f->fds[i] < 0) {
            slot = i;
            break;
        }
    pthread_mutex_unlock(&f->lock);
    if (slot == API_FRONT_MAX_CLIENTS) {
        send_error(fd, 503, "too many API clients at once");
        close(fd);
        return;
    }
    struct timeval tv = { .tv_sec = API_FRONT_IDLE_S };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int sv[2];
    struct client *c = calloc(1, sizeof *c);
    if (!c || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        free(c);
        send_error(fd, 503, "out of resources for another API client");
        close(fd);
        return;
    }
    if (f->pass(f->opaque, sv[1])) {
        close(sv[0]);
        free(c);
        send_error(fd, 503, "the HTTP server cannot take another API client");
        close(fd);
        return;
    }
    *c = (struct client){ .f = f, .fd = fd, .srv = sv[0], .slot = slot };
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256u << 10);
    pthread_mutex_lock(&f->lock);
    f->fds[slot] = fd;
    f->nclients++;
    pthread_t t;
    bool ok = sandbox_thread_create(&t, &at, client_thread, c) == 0;
    if (!ok) {
        f->fds[slot] = -1;
        f->nclients--;
    }
    pthread_mutex_unlock(&f->lock);
    pthread_attr_destroy(&at);
    if (!ok) {
        close(sv[0]);
        free(c);
        send_error(fd, 503, "cannot create a thread for another API client");
        close(fd);
    }
}

static void *accept_thread(void *p)
{
    struct api_front *f = p;
    sandbox_thread_start(SANDBOX_API, "api-accept");
    struct pollfd pf[2] = { { .fd = f->listen_fd, .events = POLLIN }, { .fd = f->wake[0], .events = POLLIN } };
    for (;;) {
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[1].revents)
            break;
        if (!(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            add_client(f, fd);
    }
    return NULL;
}

int api_front_start(struct api_front **out, int listen_fd, unsigned max_body, api_front_pass_fn *pass,
                    void *opaque, struct errmsg *e)
{
    struct api_front *f = calloc(1, sizeof *f);
    if (!f) {
        close(listen_fd);
        return errmsg_set(e, -ENOMEM, "out of memory for the API server");
    }
    f->listen_fd = listen_fd;
    f->max_body = max_body;
    f->pass = pass;
    f->opaque = opaque;
    for (unsigned i = 0; i < API_FRONT_MAX_CLIENTS; i++)
        f->fds[i] = -1;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->idle, NULL);
    if (pipe2(f->wake, O_CLOEXEC)) {
        int err = errno;
        close(listen_fd);
        free(f);
        return errmsg_set(e, -err, "API server: pipe: %s", strerror(err));
    }
    if (sandbox_thread_create(&f->acceptor, NULL, accept_thread, f)) {
        close(f->wake[0]);
        close(f->wake[1]);
        close(listen_fd);
        free(f);
        return errmsg_set(e, -EAGAIN, "API server: cannot create a thread");
    }
    *out = f;
    return 0;
}

void api_front_stop(struct api_front *f)
{
    if (!f)
        return;
    char x = 1;
    ssize_t w = write(f->wake[1], &x, 1);
    (void)w;
    pthread_join(f->acceptor, NULL);
    pthread_mutex_lock(&f->lock);
    f->quit = true;
    for (unsigned i = 0; i < API_FRONT_MAX_CLIENTS; i++)
        if (f->fds[i] >= 0)
            shutdown(f->fds[i], SHUT_RDWR);
    while (f->nclients)
        pthread_cond_wait(&f->idle, &f->lock);
    pthread_mutex_unlock(&f->lock);
    close(f->listen_fd);
    close(f->wake[0]);
    close(f->wake[1]);
    pthread_cond_destroy(&f->idle);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
