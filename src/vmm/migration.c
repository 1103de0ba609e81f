/* Live migration, pre-copy (see migration.h). */
#include "vmm/migration.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "machine/ram.h"
#include "machine/virt_snapshot.h"
#include "vmm/vm.h"
#include "vmm/vm_impl.h"

#define MIG_VERSION 1u
#define BATCH_PAGES 64u             /* pages per PAGES record */
#define MAX_RECORD (64u << 20)      /* the largest record a target accepts */
#define ACK_TIMEOUT_S 60
static const char mig_magic[8] = { 'M', 'I', 'N', 'N', 'O', 'W', 'M', 'G' };

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

int migration_listen(const char *spec, struct errmsg *e)
{
    struct sockaddr_storage sa;
    socklen_t len;
    int r = parse_endpoint(spec, &sa, &len, e);
    if (r)
        return r;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errmsg_set(e, -errno, "--incoming %s: socket: %s", spec, strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&sa)->sun_path);
    if (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 1)) {
        r = errmsg_set(e, -errno, "--incoming %s: %s", spec, strerror(errno));
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
    struct timeval tv = { .tv_sec = ACK_TIMEOUT_S };
    setsockopt(m->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t b[4];
    int r = recv_all(m->fd, b, sizeof b);
    if (r)
        return r;
    return get32(b) ? -EREMOTEIO : 0;
}

static int migrate(struct migration *m, double *pause_at)
{
    struct vm *vm = m->vm;
    uint8_t hello[12];
    memcpy(hello, mig_magic, 8);
    put32(hello + 8, MIG_VERSION);
    uint8_t size[8];
    put64(size, vm->board->ram.size);
    int r = send_all(m->fd, hello, sizeof hello);
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
    close(m->fd);
    m->fd = -1;
    return NULL;
}

static void migration_free(struct migration *m)
{
    if (!m)
        return;
    free(m->config_json);
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
        if (m->fd >= 0)
            shutdown(m->fd, SHUT_RDWR);
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

int migration_start(struct vm *vm, const char *dest, const char *config_json, struct logger *log,
                    struct errmsg *e)
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
    struct sockaddr_storage sa;
    socklen_t len;
    struct errmsg why = { "" };
    int r = parse_endpoint(dest, &sa, &len, &why);
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
    snprintf(m->progress.destination, sizeof m->progress.destination, "%s", dest);
    if (!m->config_json || !m->taken || !m->dirty || !m->zbuf) {
        migration_free(m);
        return errmsg_set(e, -ENOMEM, "out of memory");
    }
    m->fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m->fd < 0 || connect(m->fd, (struct sockaddr *)&sa, len)) {
        r = errmsg_set(e, -errno, "migrate: cannot connect to %s: %s", dest, strerror(errno));
        if (m->fd >= 0)
            close(m->fd);
        migration_free(m);
        return r;
    }
    m->progress.state = MIGRATION_ACTIVE;
    vm->mig = m;
    if (pthread_create(&m->thread, NULL, source_thread, m)) {
        close(m->fd);
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

static int receive(int fd, migration_configure_fn *configure, void *opaque, struct vm **out, struct errmsg *e)
{
    uint8_t hello[12];
    int r = recv_all(fd, hello, sizeof hello);
    if (r)
        return errmsg_set(e, r, "reading the stream header: %s", strerror(-r));
    if (memcmp(hello, mig_magic, 8))
        return errmsg_set(e, -EPROTO, "the peer is not a minnow migration source");
    if (get32(hello + 8) != MIG_VERSION)
        return errmsg_set(e, -EPROTO, "migration stream version %u, this minnow speaks %u", get32(hello + 8),
                          MIG_VERSION);
    struct vm *vm = NULL;
    uint8_t *rec = NULL, *raw = malloc(BATCH_PAGES * 4096);
    if (!raw)
        return errmsg_set(e, -ENOMEM, "out of memory");
    r = 0;
    for (;;) {
        uint8_t h[16];
        if ((r = recv_all(fd, h, sizeof h))) {
            errmsg_set(e, r, "the source went away: %s", strerror(-r));
            break;
        }
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
        if ((r = recv_all(fd, rec, len))) {
            errmsg_set(e, r, "the source went away: %s", strerror(-r));
            break;
        }
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
            if ((r = send_all(fd, ok, sizeof ok)))
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

int migration_receive(int listen_fd, migration_configure_fn *configure, void *opaque, struct logger *log,
                      struct vm **out, struct errmsg *e)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    close(listen_fd);
    if (fd < 0)
        return errmsg_set(e, -errno, "incoming migration: accept: %s", strerror(errno));
    LOG_INFO(log, "incoming migration: a source connected");
    double t0 = now_ms();
    struct errmsg why = { "" };
    int r = receive(fd, configure, opaque, out, &why);
    if (r) {
        /* A failure status tells a source still waiting to run on. */
        uint8_t bad[4];
        put32(bad, 1);
        send(fd, bad, sizeof bad, MSG_NOSIGNAL);
        errmsg_set(e, r, "incoming migration: %s", why.text);
    } else {
        LOG_INFO(log, "incoming migration: the VM arrived in %.1f ms", now_ms() - t0);
    }
    close(fd);
    return r;
}
