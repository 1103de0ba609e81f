/* Live migration, pre-copy (see migration.h). */
#include "vmm/migration.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "machine/ram.h"
#include "machine/virt_snapshot.h"
#include "vmm/vm.h"
#include "vmm/vm_impl.h"
#include "util/unix_bind.h"
#include "vmm/sandbox.h"

#define MIG_VERSION 2u                /* 2: the authentication handshake */
#define BATCH_PAGES 64u             /* pages per PAGES record */
#define MAX_RECORD (64u << 20)      /* the largest record a target accepts */
#define ACK_TIMEOUT_S 60
#define CONNECT_TIMEOUT_S 10        /* the source's connect */
#define SEND_TIMEOUT_S 60           /* a target that stops reading */
#define MIN_RATE (1u << 20)         /* bytes/s a record must at least come at */
static const char mig_magic[8] = { 'M', 'I', 'N', 'N', 'O', 'W', 'M', 'G' };
static const char mig_reply_magic[8] = { 'M', 'I', 'N', 'N', 'O', 'W', 'M', 'T' };

enum { REC_CONFIG = 1, REC_PAGES = 2, REC_STATE = 3, REC_DONE = 4 };

struct migration {
    struct vm *vm;
    struct logger *log;
    char *config_json;
    int fd;
    pthread_t thread;
    bool joined;
    pthread_mutex_t lock;     /* guards progress */
    struct migration_progress progress;
    char *dest;
    struct migration_token token;
    bool held;                /* stop-and-copy: the VM is held parked (vm_hold) */
    uint64_t *taken;          /* every dirty bit this migration took */
    uint64_t *dirty;          /* this round's */
    size_t words;
    void *zbuf;
    size_t zcap;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- endpoints ---- */

/* Checks the form of "tcp:HOST:PORT" or "unix:PATH" (no resolving). */
static int endpoint_syntax(const char *spec, struct errmsg *e)
{
    if (!strncmp(spec, "unix:", 5)) {
        if (!spec[5] || strlen(spec + 5) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return errmsg_set(e, -EINVAL, "'%s': the socket path is empty or too long", spec);
        return 0;
    }
    if (strncmp(spec, "tcp:", 4))
        return errmsg_set(e, -EINVAL, "'%s': expected tcp:HOST:PORT or unix:PATH", spec);
    const char *colon = strrchr(spec + 4, ':');
    if (!colon || colon == spec + 4 || (size_t)(colon - (spec + 4)) >= 256 || !colon[1])
        return errmsg_set(e, -EINVAL, "'%s': expected tcp:HOST:PORT", spec);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return errmsg_set(e, -EINVAL, "'%s': port '%s' is not a number from 1 to 65535", spec, colon + 1);
    return 0;
}

/* "tcp:HOST:PORT" or "unix:PATH" into an address. */
static int parse_endpoint(const char *spec, struct sockaddr_storage *sa, socklen_t *len, struct errmsg *e)
{
    memset(sa, 0, sizeof *sa);
    if (!strncmp(spec, "unix:", 5)) {
        struct sockaddr_un *un = (struct sockaddr_un *)sa;
        if (!spec[5] || strlen(spec + 5) >= sizeof un->sun_path)
            return errmsg_set(e, -EINVAL, "'%s': the socket path is empty or too long", spec);
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, spec + 5);
        *len = sizeof *un;
        return 0;
    }
    if (strncmp(spec, "tcp:", 4))
        return errmsg_set(e, -EINVAL, "'%s': expected tcp:HOST:PORT or unix:PATH", spec);
    char host[256];
    const char *colon = strrchr(spec + 4, ':');
    if (!colon || colon == spec + 4 || (size_t)(colon - (spec + 4)) >= sizeof host || !colon[1])
        return errmsg_set(e, -EINVAL, "'%s': expected tcp:HOST:PORT", spec);
    memcpy(host, spec + 4, (size_t)(colon - (spec + 4)));
    host[colon - (spec + 4)] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return errmsg_set(e, -EINVAL, "'%s': port '%s' is not a number from 1 to 65535", spec, colon + 1);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    int r = getaddrinfo(host, colon + 1, &hints, &ai);
    if (r)
        return errmsg_set(e, -EINVAL, "'%s': host '%s': %s", spec, host, gai_strerror(r));
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_UNIX)
        return true;
    if (sa->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

int migration_listen(const char *spec, bool have_token, struct errmsg *e)
{
    struct sockaddr_storage sa;
    socklen_t len;
    int r = parse_endpoint(spec, &sa, &len, e);
    if (r)
        return r;
    /* Without a token anyone who can connect drives the target. */
    if (!have_token && !is_loopback(&sa))
        return errmsg_set(e, -EPERM, "--incoming %s: listening beyond loopback needs --token FILE (a secret the "
                          "source gives with 'minnow migrate --token FILE'); without one only 127.0.0.1, ::1 or "
                          "unix:PATH", spec);
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(e, -errno, "--incoming %s: socket: %s", spec, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa.ss_family == AF_UNIX) {
        /* Replace only a socket (a stale one), never another kind of file. */
        struct stat st;
        const char *path = ((struct sockaddr_un *)&sa)->sun_path;
        if (!lstat(path, &st) && !S_ISSOCK(st.st_mode)) {
            close(fd);
            return errmsg_set(e, -EEXIST, "--incoming %s: the path exists and is not a socket", spec);
        }
        unlink(path);
        r = unix_bind_private(fd, (struct sockaddr *)&sa, len);
    } else {
        r = bind(fd, (struct sockaddr *)&sa, len) ? -errno : 0;
    }
    if (r || listen(fd, 8)) {
        r = errmsg_set(e, r ? r : -errno, "--incoming %s: %s", spec, strerror(r ? -r : errno));
        close(fd);
        return r;
    }
    return fd;
}

/* ---- the wire ---- */

static int send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int recv_all(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = recv(fd, b, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ECONNRESET;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* A record: header, then the parts one after another. */
static int send_record(int fd, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    uint8_t h[16];
    put32(h, type);
    put32(h + 4, 0);
    put64(h + 8, alen + blen);
    int r = send_all(fd, h, sizeof h);
    if (!r && alen)
        r = send_all(fd, a, alen);
    if (!r && blen)
        r = send_all(fd, b, blen);
    return r;
}

/* ---- source ---- */

static void set_error(struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct migration *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&m->lock);
    vsnprintf(m->progress.error, sizeof m->progress.error, fmt, ap);
    pthread_mutex_unlock(&m->lock);
    va_end(ap);
}

/* Sends the listed pages in one PAGES record. */
static int send_batch(struct migration *m, const uint64_t *pages, unsigned n)
{
    const struct guest_mem *ram = &m->vm->board->ram;
    uint8_t raw[BATCH_PAGES * 4096];
    for (unsigned i = 0; i < n; i++)
        memcpy(raw + (size_t)i * 4096, ram->host + pages[i] * 4096, 4096);
    size_t z = ZSTD_compress(m->zbuf, m->zcap, raw, (size_t)n * 4096, 1);
    if (ZSTD_isError(z))
        return -EIO;
    uint8_t head[8 + BATCH_PAGES * 8];
    put32(head, n);
    put32(head + 4, (uint32_t)z);
    for (unsigned i = 0; i < n; i++)
        put64(head + 8 + 8 * i, pages[i]);
    int r = send_record(m->fd, REC_PAGES, head, 8 + (size_t)n * 8, m->zbuf, z);
    if (!r) {
        pthread_mutex_lock(&m->lock);
        m->progress.pages_sent += n;
        m->progress.bytes_sent += 24 + (uint64_t)n * 8 + z;
        pthread_mutex_unlock(&m->lock);
    }
    return r;
}

/* Sends the pages set in `want`, skipping pages of zeros when skip_zero
 * (the first pass: the target's RAM starts zeroed). */
static int send_pages(struct migration *m, const uint64_t *want, bool skip_zero)
{
    const struct guest_mem *ram = &m->vm->board->ram;
    uint64_t batch[BATCH_PAGES];
    unsigned n = 0;
    for (uint64_t p = 0; p < ram->size / 4096; p++) {
        if (!((want[p / 64] >> (p % 64)) & 1) || (skip_zero && ram_page_is_zero(ram, p)))
            continue;
        batch[n++] = p;
        if (n == BATCH_PAGES) {
            int r = send_batch(m, batch, n);
            if (r)
                return r;
            n = 0;
        }
    }
    return n ? send_batch(m, batch, n) : 0;
}

/* Takes this round's dirty pages: with the harts held parked for the
 * moment it takes (their store TLBs must be dropped so the next store to
 * each page marks it again, see struct hart_mem). A hold, not a pause:
 * the API's own pause and resume neither end it nor are undone by it.
 * Returns how many. */
static uint64_t take_dirty(struct migration *m)
{
    struct vm *vm = m->vm;
    if (!m->held)
        vm_hold(vm);
    ram_dirty_take(&vm->board->ram, m->dirty);
    for (unsigned i = 0; i < vm->board->nharts; i++)
        hart_flush_tlb(vm->board->harts[i].hart);
    if (!m->held)
        vm_release(vm);
    uint64_t n = 0;
    for (size_t i = 0; i < m->words; i++) {
        m->taken[i] |= m->dirty[i];
        n += (uint64_t)__builtin_popcountll(m->dirty[i]);
    }
    return n;
}

static int wait_ack(struct migration *m)
{
    uint8_t b[4];
    int r = recv_all(m->fd, b, sizeof b);
    if (r)
        return r;
    return get32(b) ? -EREMOTEIO : 0;
}

/* Connects with a deadline: a destination that does not accept must
 * not hold the migration (or whoever waits on it) forever. */
static int connect_dest(struct migration *m)
{
    struct sockaddr_storage sa;
    socklen_t len;
    struct errmsg why = { "" };
    int r = parse_endpoint(m->dest, &sa, &len, &why);
    if (r) {
        set_error(m, "destination %s", why.text);
        return r;
    }
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    r = connect(fd, (struct sockaddr *)&sa, len) ? -errno : 0;
    /* A Unix socket whose backlog is full refuses at once (EAGAIN) rather
     * than pending: try again until the deadline. */
    for (unsigned i = 0; r == -EAGAIN && sa.ss_family == AF_UNIX && i < CONNECT_TIMEOUT_S * 20; i++) {
        nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
        r = connect(fd, (struct sockaddr *)&sa, len) ? -errno : 0;
    }
    if (r == -EAGAIN)
        r = -ETIMEDOUT;
    if (r == -EINPROGRESS) {
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        int n;
        do
            n = poll(&p, 1, CONNECT_TIMEOUT_S * 1000);
        while (n < 0 && errno == EINTR);
        int err = 0;
        socklen_t el = sizeof err;
        if (n == 0)
            r = -ETIMEDOUT;
        else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
            r = -errno;
        else
            r = -err;
    }
    if (r) {
        close(fd);
        set_error(m, "cannot connect to %s: %s", m->dest,
                  r == -ETIMEDOUT ? "it did not accept within 10 s" : strerror(-r));
        return r;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval rt = { .tv_sec = ACK_TIMEOUT_S }, st = { .tv_sec = SEND_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof rt);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof st);
    pthread_mutex_lock(&m->lock);
    m->fd = fd;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* The source's half of the handshake (see migration.h). */
static int source_handshake(struct migration *m)
{
    struct errmsg why = { "" };
    uint8_t hello[12 + MIGRATION_NONCE], ns[MIGRATION_NONCE];
    if (migration_nonce(ns, &why)) {
        set_error(m, "%s", why.text);
        return -EIO;
    }
    memcpy(hello, mig_magic, 8);
    put32(hello + 8, MIG_VERSION);
    memcpy(hello + 12, ns, MIGRATION_NONCE);
    int r = send_all(m->fd, hello, sizeof hello);
    uint8_t reply[12 + MIGRATION_NONCE + MIGRATION_MAC];
    if (!r && (r = recv_all(m->fd, reply, sizeof reply))) {
        set_error(m, "the target at %s did not answer the handshake (%s; is it a minnow --incoming of this "
                  "version?)", m->dest, r == -EAGAIN ? "timed out" : strerror(-r));
        return r;
    }
    if (r)
        return r;
    if (memcmp(reply, mig_reply_magic, 8)) {
        set_error(m, "the peer at %s is not a minnow migration target", m->dest);
        return -EPROTO;
    }
    uint32_t auth = get32(reply + 8);
    const uint8_t *nt = reply + 12, *proof = reply + 12 + MIGRATION_NONCE;
    uint8_t mine[MIGRATION_MAC] = { 0 };
    if (auth && !m->token.len) {
        set_error(m, "the target at %s wants a token: give the same token file as its --token (token_path, "
                  "or 'minnow migrate --token FILE')", m->dest);
        return -EACCES;
    }
    if (!auth && m->token.len) {
        set_error(m, "the target at %s has no --token: it cannot prove it is the one meant to get this VM",
                  m->dest);
        return -EACCES;
    }
    if (auth) {
        uint8_t want[MIGRATION_MAC];
        if (migration_auth_mac(&m->token, "target", ns, nt, want, &why) ||
            migration_auth_mac(&m->token, "source", ns, nt, mine, &why)) {
            set_error(m, "%s", why.text);
            return -EIO;
        }
        if (!migration_auth_equal(want, proof)) {
            set_error(m, "the target at %s does not know the token (a different --token file?)", m->dest);
            return -EACCES;
        }
    }
    if ((r = send_all(m->fd, mine, sizeof mine)))
        return r;
    return 0;
}

static int migrate(struct migration *m, double *pause_at)
{
    struct vm *vm = m->vm;
    uint8_t size[8];
    put64(size, vm->board->ram.size);
    int r = connect_dest(m);
    if (!r)
        r = source_handshake(m);
    if (!r)
        r = send_record(m->fd, REC_CONFIG, size, sizeof size, m->config_json, strlen(m->config_json));
    if (r)
        return r;
    /* Round 0: everything, with dirty tracking starting now. */
    take_dirty(m);
    double round_start = now_ms();
    ram_populated(&vm->board->ram, m->dirty);
    if ((r = send_pages(m, m->dirty, true)))
        return r;
    for (unsigned round = 1;; round++) {
        bool last = round >= MIGRATION_MAX_ROUNDS;
        uint64_t n = take_dirty(m);
        double t = now_ms();
        pthread_mutex_lock(&m->lock);
        m->progress.round = round;
        m->progress.last_dirty_pages = n;
        m->progress.dirty_rate = (double)n / ((t - round_start) / 1e3 + 1e-9);
        pthread_mutex_unlock(&m->lock);
        LOG_INFO(m->log, "migration round %u: %llu pages dirty (%.0f pages/s), %llu pages sent so far", round,
                 (unsigned long long)n, m->progress.dirty_rate, (unsigned long long)m->progress.pages_sent);
        round_start = t;
        if (n <= MIGRATION_STOP_PAGES || last) {
            /* Those few go with the last ones, while paused. */
            for (size_t i = 0; i < m->words; i++)
                atomic_fetch_or(&vm->board->ram.dirty[i], m->dirty[i]);
            break;
        }
        if ((r = send_pages(m, m->dirty, false)))
            return r;
    }
    /* Stop and copy. */
    *pause_at = now_ms();
    vm_hold(vm);
    m->held = true;
    struct snap_writer w;
    snapw_init(&w);
    struct errmsg why = { "" };
    event_loop_hold(vm->io);
    r = virt_save(vm->board, &w, &why);
    if (!r) {
        take_dirty(m);
        r = send_pages(m, m->dirty, false);
    }
    event_loop_release(vm->io);
    if (r && why.text[0])
        set_error(m, "%s", why.text);
    if (!r)
        r = send_record(m->fd, REC_STATE, w.buf, w.len, NULL, 0);
    snapw_free(&w);
    if (!r)
        r = send_record(m->fd, REC_DONE, NULL, 0, NULL, 0);
    if (!r)
        r = wait_ack(m);
    return r;
}

static void *source_thread(void *p)
{
    struct migration *m = p;
    sandbox_thread_start(SANDBOX_AUX, "migration");
    struct vm *vm = m->vm;
    double t0 = now_ms(), pause_at = 0;
    int r = migrate(m, &pause_at);
    double t1 = now_ms();
    pthread_mutex_lock(&m->lock);
    m->progress.total_ms = t1 - t0;
    m->progress.downtime_ms = pause_at ? t1 - pause_at : 0;
    m->progress.state = r ? MIGRATION_FAILED : MIGRATION_COMPLETED;
    if (r && !m->progress.error[0])
        snprintf(m->progress.error, sizeof m->progress.error, "%s",
                 r == -EREMOTEIO ? "the target could not start the VM" : strerror(-r));
    struct migration_progress pr = m->progress;
    pthread_mutex_unlock(&m->lock);
    if (r) {
        /* Nothing is lost: the pages this migration took count as dirty
         * again (for a later Diff snapshot or migration). */
        for (size_t i = 0; i < m->words; i++)
            atomic_fetch_or(&vm->board->ram.dirty[i], m->taken[i]);
        LOG_ERROR(m->log, "migration to %s failed after %.0f ms: %s; the VM keeps running here", pr.destination,
                  pr.total_ms, pr.error);
        fprintf(stderr, "minnow: migration to %s failed: %s; the VM keeps running here\n", pr.destination,
                pr.error);
    } else {
        LOG_INFO(m->log, "migrated to %s: %llu pages (%llu bytes on the wire) in %u rounds, %.1f ms, downtime "
                 "%.1f ms", pr.destination, (unsigned long long)pr.pages_sent, (unsigned long long)pr.bytes_sent,
                 pr.round, pr.total_ms, pr.downtime_ms);
        virt_finish(vm->board, VIRT_MIGRATED, 0);
    }
    /* Failed: the VM runs on (unless the API paused it); migrated: the
     * parked harts wake to see the end. Either way the migration is over
     * before the hold goes, so a resume that was refused can be made now. */
    if (m->held) {
        m->held = false;
        vm_release(vm);
    }
    pthread_mutex_lock(&m->lock);
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void migration_free(struct migration *m)
{
    if (!m)
        return;
    free(m->config_json);
    free(m->dest);
    free(m->taken);
    free(m->dirty);
    free(m->zbuf);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void vm_migration_join(struct vm *vm)
{
    struct migration *m = vm->mig;
    if (!m)
        return;
    if (!m->joined) {
        pthread_mutex_lock(&m->lock);
        if (m->fd >= 0)
            shutdown(m->fd, SHUT_RDWR);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
        m->joined = true;
    }
}

void vm_migration_free(struct vm *vm)
{
    vm_migration_join(vm);
    migration_free(vm->mig);
    vm->mig = NULL;
}

int migration_start(struct vm *vm, const char *dest, const char *token_path, const char *config_json,
                    struct logger *log, struct errmsg *e)
{
    if (vm->mig) {
        pthread_mutex_lock(&vm->mig->lock);
        bool active = vm->mig->progress.state == MIGRATION_ACTIVE;
        pthread_mutex_unlock(&vm->mig->lock);
        if (active)
            return errmsg_set(e, -EBUSY, "migrate: a migration to %s is already under way",
                              vm->mig->progress.destination);
        vm_migration_free(vm);
    }
    if (virt_end_reason(vm->board) != VIRT_RUNNING)
        return errmsg_set(e, -EINVAL, "migrate: the microVM's run has ended");
    /* Only the form here: a host name is resolved, and the connection
     * made, on the migration's thread (neither may hold the API). */
    struct errmsg why = { "" };
    int r = endpoint_syntax(dest, &why);
    if (r)
        return errmsg_set(e, r, "migrate: destination %s", why.text);
    struct migration *m = calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, -ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->vm = vm;
    m->log = log;
    m->fd = -1;
    m->words = ram_dirty_words(&vm->board->ram);
    m->zcap = ZSTD_compressBound(BATCH_PAGES * 4096);
    m->config_json = strdup(config_json);
    m->taken = calloc(m->words, sizeof *m->taken);
    m->dirty = calloc(m->words, sizeof *m->dirty);
    m->zbuf = malloc(m->zcap);
    m->dest = strdup(dest);
    snprintf(m->progress.destination, sizeof m->progress.destination, "%s", dest);
    if (!m->config_json || !m->taken || !m->dirty || !m->zbuf || !m->dest) {
        migration_free(m);
        return errmsg_set(e, -ENOMEM, "out of memory");
    }
    if (token_path && (r = migration_token_load(&m->token, "migrate: token_path", token_path, e))) {
        migration_free(m);
        return r;
    }
    m->progress.state = MIGRATION_ACTIVE;
    vm->mig = m;
    if (sandbox_thread_create(&m->thread, NULL, source_thread, m)) {
        vm->mig = NULL;
        migration_free(m);
        return errmsg_set(e, -EAGAIN, "migrate: cannot create a thread");
    }
    LOG_INFO(log, "migration to %s started", dest);
    return 0;
}

bool vm_migration_active(struct vm *vm, char *dest, size_t len)
{
    struct migration *m = vm->mig;
    if (!m)
        return false;
    pthread_mutex_lock(&m->lock);
    bool active = m->progress.state == MIGRATION_ACTIVE;
    if (active && len)
        snprintf(dest, len, "%s", m->progress.destination);
    pthread_mutex_unlock(&m->lock);
    return active;
}

void migration_get(struct vm *vm, struct migration_progress *out)
{
    memset(out, 0, sizeof *out);
    if (!vm->mig)
        return;
    pthread_mutex_lock(&vm->mig->lock);
    *out = vm->mig->progress;
    pthread_mutex_unlock(&vm->mig->lock);
}

/* ---- target ---- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The target's connection: every read has a deadline and gives way to a
 * stop request (stop_fd readable). */
struct wire {
    int fd, stop_fd;
    unsigned idle_s;
    struct logger *log;
};

/* n bytes by deadline_ns: 0, -ETIMEDOUT, -EINTR (stop), -ECONNRESET... */
static int wire_recv(const struct wire *w, void *p, size_t n, uint64_t deadline_ns, size_t *got)
{
    uint8_t *b = p;
    *got = 0;
    while (*got < n) {
        uint64_t now = mono_ns();
        if (now >= deadline_ns)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline_ns - now) / 1000000u + 1;
        struct pollfd pf[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = w->stop_fd, .events = POLLIN } };
        int k = poll(pf, w->stop_fd >= 0 ? 2 : 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (w->stop_fd >= 0 && pf[1].revents)
            return -EINTR;
        if (!k)
            continue;
        ssize_t r = recv(w->fd, b + *got, n - *got, MSG_DONTWAIT);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return -ECONNRESET;
        *got += (size_t)r;
    }
    return 0;
}

/* A part of the stream: `what` for the message; len bytes are allowed
 * idle_s plus what MIN_RATE needs for them. */
static int wire_read(const struct wire *w, void *p, size_t len, const char *what, struct errmsg *e)
{
    uint64_t allow_ns = (uint64_t)w->idle_s * 1000000000u + (uint64_t)len * (1000000000u / MIN_RATE);
    size_t got;
    int r = wire_recv(w, p, len, mono_ns() + allow_ns, &got);
    if (r == -ETIMEDOUT)
        return errmsg_set(e, r, "the source stalled: %zu of the %zu bytes of %s came within %.1f s (at least "
                          "%u s idle allowance and 1 MiB/s), giving up", got, len, what, (double)allow_ns / 1e9,
                          w->idle_s);
    if (r == -EINTR)
        return errmsg_set(e, r, "stopped by a signal while receiving %s", what);
    if (r)
        return errmsg_set(e, r, "the source went away (%s) while sending %s", strerror(-r), what);
    return 0;
}

static int recv_pages(struct vm *vm, const uint8_t *rec, uint64_t len, void *raw, struct errmsg *e)
{
    struct guest_mem *ram = &vm->board->ram;
    if (len < 8)
        return errmsg_set(e, -EPROTO, "a page record of %llu bytes", (unsigned long long)len);
    uint32_t n = get32(rec), z = get32(rec + 4);
    if (!n || n > BATCH_PAGES || len != 8 + (uint64_t)n * 8 + z)
        return errmsg_set(e, -EPROTO, "a page record of %u pages and %u compressed bytes in %llu bytes", n, z,
                          (unsigned long long)len);
    size_t got = ZSTD_decompress(raw, BATCH_PAGES * 4096, rec + 8 + (size_t)n * 8, z);
    if (ZSTD_isError(got) || got != (size_t)n * 4096)
        return errmsg_set(e, -EPROTO, "a page record does not decompress to its %u pages", n);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t p = get64(rec + 8 + 8 * i);
        if (p >= ram->size / 4096)
            return errmsg_set(e, -EPROTO, "page %llu is outside the guest's %llu pages", (unsigned long long)p,
                              (unsigned long long)(ram->size / 4096));
        memcpy(ram->host + p * 4096, (uint8_t *)raw + (size_t)i * 4096, 4096);
    }
    return 0;
}

/* The target's half of the handshake. -EACCES: not our source (the
 * caller logs it and waits for another). */
static int target_handshake(const struct wire *w, const struct migration_target *t, struct errmsg *e)
{
    uint8_t hello[12 + MIGRATION_NONCE];
    int r = wire_read(w, hello, sizeof hello, "the stream header", e);
    if (r)
        return r == -EINTR ? r : -EACCES;
    if (memcmp(hello, mig_magic, 8))
        return errmsg_set(e, -EACCES, "the peer is not a minnow migration source");
    if (get32(hello + 8) != MIG_VERSION)
        return errmsg_set(e, -EACCES, "migration stream version %u, this minnow speaks %u", get32(hello + 8),
                          MIG_VERSION);
    const uint8_t *ns = hello + 12;
    uint8_t reply[12 + MIGRATION_NONCE + MIGRATION_MAC] = { 0 }, nt[MIGRATION_NONCE];
    bool auth = t->token && t->token->len;
    if ((r = migration_nonce(nt, e)))
        return r;
    memcpy(reply, mig_reply_magic, 8);
    put32(reply + 8, auth);
    memcpy(reply + 12, nt, MIGRATION_NONCE);
    if (auth && (r = migration_auth_mac(t->token, "target", ns, nt, reply + 12 + MIGRATION_NONCE, e)))
        return r;
    if ((r = send_all(w->fd, reply, sizeof reply)))
        return errmsg_set(e, -EACCES, "the peer went away during the handshake: %s", strerror(-r));
    uint8_t proof[MIGRATION_MAC], want[MIGRATION_MAC];
    if ((r = wire_read(w, proof, sizeof proof, "the source's proof of the token", e)))
        return r == -EINTR ? r : -EACCES;
    if (!auth)
        return 0;
    if ((r = migration_auth_mac(t->token, "source", ns, nt, want, e)))
        return r;
    if (!migration_auth_equal(proof, want))
        return errmsg_set(e, -EACCES, "the peer does not know the token (wrong or no --token at the source)");
    return 0;
}

static int receive(const struct wire *w, migration_configure_fn *configure, void *opaque, struct vm **out,
                   struct errmsg *e)
{
    struct vm *vm = NULL;
    uint8_t *rec = NULL, *raw = malloc(BATCH_PAGES * 4096);
    if (!raw)
        return errmsg_set(e, -ENOMEM, "out of memory");
    int r = 0;
    for (;;) {
        uint8_t h[16];
        if ((r = wire_read(w, h, sizeof h, "a record header", e)))
            break;
        uint32_t type = get32(h);
        uint64_t len = get64(h + 8);
        if (len > MAX_RECORD) {
            r = errmsg_set(e, -EPROTO, "a record of %llu bytes", (unsigned long long)len);
            break;
        }
        free(rec);
        rec = malloc(len ? len : 1);
        if (!rec) {
            r = errmsg_set(e, -ENOMEM, "out of memory");
            break;
        }
        char what[64];
        snprintf(what, sizeof what, "a record of type %u", type);
        if ((r = wire_read(w, rec, len, what, e)))
            break;
        if (type == REC_CONFIG && !vm) {
            if (len < 8) {
                r = errmsg_set(e, -EPROTO, "a configuration record of %llu bytes", (unsigned long long)len);
                break;
            }
            char *json = malloc(len - 8 + 1);
            if (!json) {
                r = errmsg_set(e, -ENOMEM, "out of memory");
                break;
            }
            memcpy(json, rec + 8, len - 8);
            json[len - 8] = 0;
            const struct virt_config *cfg;
            LOG_INFO(w->log, "incoming migration: the configuration arrived (%llu MiB of RAM)",
                     (unsigned long long)(get64(rec) >> 20));
            r = configure(opaque, json, get64(rec), &cfg, e);
            free(json);
            if (!r)
                r = vm_restore_begin(&vm, cfg, e);
            if (r)
                break;
        } else if (type == REC_PAGES && vm) {
            if ((r = recv_pages(vm, rec, len, raw, e)))
                break;
        } else if (type == REC_STATE && vm && !vm->running) {
            if ((r = vm_restore_finish(vm, rec, len, e)))
                break;
        } else if (type == REC_DONE && vm && vm->running) {
            uint8_t ok[4];
            put32(ok, 0);
            if ((r = send_all(w->fd, ok, sizeof ok)))
                errmsg_set(e, r, "the source went away before the VM could start here");
            break;
        } else {
            r = errmsg_set(e, -EPROTO, "unexpected record type %u", type);
            break;
        }
    }
    free(rec);
    free(raw);
    if (r) {
        vm_destroy(vm);
        return r;
    }
    *out = vm;
    return 0;
}

int migration_receive_stream(int fd, const struct migration_target *t, migration_configure_fn *configure,
                             void *opaque, struct logger *log, struct vm **out, struct errmsg *e)
{
    struct wire w = { .fd = fd, .stop_fd = t->stop_fd, .idle_s = t->idle_s ? t->idle_s : MIGRATION_IDLE_S,
                      .log = log };
    int r = target_handshake(&w, t, e);
    if (r)
        return r;
    r = receive(&w, configure, opaque, out, e);
    if (r && r != -EINTR) {
        /* A failure status tells a source still waiting to run on. */
        uint8_t bad[4];
        put32(bad, 1);
        send(fd, bad, sizeof bad, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    return r;
}

static void peer_name(int fd, char *buf, size_t n)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    snprintf(buf, n, "a local process");
    if (getpeername(fd, (struct sockaddr *)&sa, &len))
        return;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (sa.ss_family != AF_UNIX &&
        !getnameinfo((struct sockaddr *)&sa, len, host, sizeof host, serv, sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV))
        snprintf(buf, n, "%.80s port %.8s", host, serv);
}

int migration_receive(int listen_fd, const struct migration_target *t, migration_configure_fn *configure,
                      void *opaque, struct logger *log, struct vm **out, struct errmsg *e)
{
    int r;
    for (;;) {
        struct pollfd pf[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = t->stop_fd, .events = POLLIN } };
        int k = poll(pf, t->stop_fd >= 0 ? 2 : 1, -1);
        if (k < 0 && errno == EINTR)
            continue;
        if (t->stop_fd >= 0 && k > 0 && pf[1].revents) {
            close(listen_fd);
            return errmsg_set(e, -EINTR, "incoming migration: stopped by a signal while waiting for a source");
        }
        if (k <= 0 || !(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
                continue;
            r = errmsg_set(e, -errno, "incoming migration: accept: %s", strerror(errno));
            close(listen_fd);
            return r;
        }
        char peer[128];
        peer_name(fd, peer, sizeof peer);
        LOG_INFO(log, "incoming migration: %s connected", peer);
        double t0 = now_ms();
        struct errmsg why = { "" };
        r = migration_receive_stream(fd, t, configure, opaque, log, out, &why);
        close(fd);
        if (r == -EACCES) {
            /* Not our source: say so, and wait for the real one. */
            LOG_WARN(log, "incoming migration: refused %s: %s; still waiting", peer, why.text);
            fprintf(stderr, "minnow: incoming migration: refused %s: %s; still waiting\n", peer, why.text);
            continue;
        }
        close(listen_fd);
        if (r)
            return errmsg_set(e, r, "incoming migration from %s: %s", peer, why.text);
        LOG_INFO(log, "incoming migration: the VM arrived from %s in %.1f ms", peer, now_ms() - t0);
        return 0;
    }
}
