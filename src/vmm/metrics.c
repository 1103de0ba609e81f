/* The monitor's metrics (see metrics.h). */
#include "vmm/metrics.h"
#include "vmm/metrics_fc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "machine/virt.h"
#include "vmm/vm.h"
#include "util/file_open.h"
#include "vmm/sandbox.h"

#define LAT_RING 1024u

struct metrics {
    pthread_mutex_t lock;     /* guards everything below but the timer's */
    int fd;                   /* -1: no sink */
    struct vm *vm;
    uint64_t created_ns, vm_started_ns;
    uint64_t lines, lines_dropped;
    char id[80];              /* "": no "id" field */
    char end_reason[80];      /* "": the run has not ended */
    int exit_status;

    uint64_t api_requests, api_errors, api_lat_sum_ns, api_lat_max_ns;
    uint64_t lat_ring[LAT_RING]; /* the last LAT_RING latencies, ns */
    struct metrics_fc fc;

    /* The timer thread: tlock/tcond, woken early to quit. */
    unsigned period_ms;
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t tlock;
    pthread_cond_t tcond;
    bool quit;
};

static uint64_t now_ns(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int metrics_create(struct metrics **out, unsigned period_ms, struct errmsg *e)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return errmsg_set(e, -ENOMEM, "out of memory for the metrics");
    m->fd = -1;
    m->period_ms = period_ms;
    m->created_ns = now_ns(CLOCK_MONOTONIC);
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->tlock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->tcond, &ca);
    pthread_condattr_destroy(&ca);
    *out = m;
    return 0;
}

void metrics_destroy(struct metrics *m)
{
    if (!m)
        return;
    if (m->timer_started) {
        pthread_mutex_lock(&m->tlock);
        m->quit = true;
        pthread_cond_signal(&m->tcond);
        pthread_mutex_unlock(&m->tlock);
        pthread_join(m->timer, NULL);
    }
    if (m->fd >= 0)
        close(m->fd);
    pthread_cond_destroy(&m->tcond);
    pthread_mutex_destroy(&m->tlock);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static void *timer_thread(void *p)
{
    struct metrics *m = p;
    sandbox_thread_start(SANDBOX_AUX, "metrics");
    pthread_mutex_lock(&m->tlock);
    uint64_t next = now_ns(CLOCK_MONOTONIC) + (uint64_t)m->period_ms * 1000000u;
    while (!m->quit) {
        struct timespec ts = { (time_t)(next / 1000000000u), (long)(next % 1000000000u) };
        if (pthread_cond_timedwait(&m->tcond, &m->tlock, &ts) != ETIMEDOUT)
            continue;
        pthread_mutex_unlock(&m->tlock);
        metrics_flush(m, "periodic", NULL);
        pthread_mutex_lock(&m->tlock);
        next += (uint64_t)m->period_ms * 1000000u;
    }
    pthread_mutex_unlock(&m->tlock);
    return NULL;
}

int metrics_configure(struct metrics *m, const char *path, const char *id, struct errmsg *e)
{
    pthread_mutex_lock(&m->lock);
    bool again = m->fd >= 0;
    pthread_mutex_unlock(&m->lock);
    if (again)
        return errmsg_set(e, -EBUSY, "metrics: the metrics are already configured (reinitialization is not allowed)");
    int fd = file_open_kind("metrics: metrics_path", path, O_WRONLY | O_APPEND | O_CREAT, 0600,
                            FILE_OPEN_REG | FILE_OPEN_FIFO | FILE_OPEN_CHR, e);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&m->lock);
    m->fd = fd;
    snprintf(m->id, sizeof m->id, "%s", id ? id : "");
    pthread_mutex_unlock(&m->lock);
    metrics_flush(m, "configured", NULL);
    if (m->period_ms && !m->timer_started) {
        if (sandbox_thread_create(&m->timer, NULL, timer_thread, m))
            return errmsg_set(e, -EAGAIN, "metrics: cannot create the timer thread");
        m->timer_started = true;
    }
    return 0;
}

bool metrics_configured(struct metrics *m)
{
    pthread_mutex_lock(&m->lock);
    bool c = m->fd >= 0;
    pthread_mutex_unlock(&m->lock);
    return c;
}

void metrics_attach_vm(struct metrics *m, struct vm *vm)
{
    pthread_mutex_lock(&m->lock);
    m->vm = vm;
    m->vm_started_ns = vm ? now_ns(CLOCK_MONOTONIC) : 0;
    metrics_fc_reset_devices(&m->fc);
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_end(struct metrics *m, const char *why, int exit_status)
{
    pthread_mutex_lock(&m->lock);
    snprintf(m->end_reason, sizeof m->end_reason, "%s", why);
    m->exit_status = exit_status;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_mmds_source(struct metrics *m, metrics_mmds_counts_fn *counts, void *opaque)
{
    pthread_mutex_lock(&m->lock);
    m->fc.mmds_counts = counts;
    m->fc.mmds_opaque = opaque;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_signal(struct metrics *m, int signo)
{
    pthread_mutex_lock(&m->lock);
    if (signo == SIGHUP)
        m->fc.sighup = 1;
    pthread_mutex_unlock(&m->lock);
}

void metrics_name_device(struct metrics *m, unsigned slot, const char *prefix, const char *id)
{
    pthread_mutex_lock(&m->lock);
    if (slot < VIRT_MAX_DEVICES)
        snprintf(m->fc.dev_name[slot], sizeof m->fc.dev_name[slot], "%s_%s", prefix, id);
    pthread_mutex_unlock(&m->lock);
}

void metrics_record_latency(struct metrics *m, enum metrics_lat which, bool vmm, uint64_t us)
{
    pthread_mutex_lock(&m->lock);
    if (which > METRICS_LAT_NONE && which < METRICS_LAT_COUNT)
        m->fc.lat_us[which][vmm] = us;
    pthread_mutex_unlock(&m->lock);
}

void metrics_set_startup(struct metrics *m, uint64_t wall_us, uint64_t cpu_us)
{
    pthread_mutex_lock(&m->lock);
    m->fc.startup_us = wall_us;
    m->fc.startup_cpu_us = cpu_us;
    pthread_mutex_unlock(&m->lock);
}

void metrics_record_api(struct metrics *m, enum metrics_req req, unsigned status, uint64_t latency_ns)
{
    pthread_mutex_lock(&m->lock);
    if (req > METRICS_REQ_NONE && req < METRICS_REQ_COUNT) {
        m->fc.req[req][0]++;
        m->fc.req[req][1] += status >= 400;
    }
    m->lat_ring[m->api_requests % LAT_RING] = latency_ns;
    m->api_requests++;
    if (status >= 400)
        m->api_errors++;
    m->api_lat_sum_ns += latency_ns;
    if (latency_ns > m->api_lat_max_ns)
        m->api_lat_max_ns = latency_ns;
    pthread_mutex_unlock(&m->lock);
}

/* ---- one line ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Under m->lock. */
static json_t *api_json(struct metrics *m)
{
    size_t n = m->api_requests < LAT_RING ? (size_t)m->api_requests : LAT_RING;
    uint64_t sorted[LAT_RING];
    memcpy(sorted, m->lat_ring, n * sizeof sorted[0]);
    qsort(sorted, n, sizeof sorted[0], cmp_u64);
    uint64_t p50 = n ? sorted[(n - 1) / 2] : 0, p99 = n ? sorted[(n - 1) * 99 / 100] : 0;
    uint64_t mean = m->api_requests ? m->api_lat_sum_ns / m->api_requests : 0;
    return json_pack("{s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "requests", (json_int_t)m->api_requests, "errors",
                     (json_int_t)m->api_errors, "latency_us", "p50", (json_int_t)(p50 / 1000), "p99",
                     (json_int_t)(p99 / 1000), "max", (json_int_t)(m->api_lat_max_ns / 1000), "mean",
                     (json_int_t)(mean / 1000));
}

static json_t *sbi_json(struct sbi *s)
{
    static const char *const names[SBI_COUNT_MAX] = {
        [SBI_COUNT_BASE] = "base", [SBI_COUNT_TIME] = "time", [SBI_COUNT_IPI] = "ipi",
        [SBI_COUNT_RFENCE] = "rfence", [SBI_COUNT_HSM] = "hsm", [SBI_COUNT_SRST] = "srst",
        [SBI_COUNT_DBCN] = "dbcn", [SBI_COUNT_LEGACY] = "legacy", [SBI_COUNT_UNSUPPORTED] = "unsupported",
    };
    json_t *o = json_object();
    for (unsigned i = 0; o && i < SBI_COUNT_MAX; i++)
        json_object_set_new(o, names[i], json_integer((json_int_t)atomic_load(&s->calls[i])));
    return o;
}

static json_t *device_json(unsigned slot, const struct virt_device *d)
{
    json_t *o = json_pack("{s:I, s:s}", "slot", (json_int_t)slot, "kind", virt_device_kind_name(d->kind));
    if (!o)
        return NULL;
    switch (d->kind) {
    case VIRT_DEV_NET: {
        struct virtio_net_stats s;
        virtio_net_stats(d->dev, &s);
        json_t *c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_frames", (json_int_t)s.rx_frames,
                              "rx_bytes", (json_int_t)s.rx_bytes, "rx_dropped", (json_int_t)s.rx_dropped,
                              "rx_held", (json_int_t)s.rx_held, "tx_frames", (json_int_t)s.tx_frames,
                              "tx_bytes", (json_int_t)s.tx_bytes, "tx_dropped", (json_int_t)s.tx_dropped,
                              "tx_filtered", (json_int_t)s.tx_filtered, "tx_bad", (json_int_t)s.tx_bad);
        json_object_update(o, c);
        json_decref(c);
        break;
    }
    case VIRT_DEV_BLK: {
        struct virtio_blk_stats s;
        virtio_blk_stats(d->dev, &s);
        json_object_set_new(o, "io_engine", json_string(block_file_engine_name(virtio_blk_engine(d->dev))));
        json_t *c = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "read_ops", (json_int_t)s.read_ops,
                              "read_bytes", (json_int_t)s.read_bytes, "write_ops", (json_int_t)s.write_ops,
                              "write_bytes", (json_int_t)s.write_bytes, "flush_ops", (json_int_t)s.flush_ops,
                              "other_ops", (json_int_t)s.other_ops, "errors", (json_int_t)s.errors);
        json_object_update(o, c);
        json_decref(c);
        break;
    }
    case VIRT_DEV_BALLOON: {
        struct virtio_balloon_info bi;
        virtio_balloon_info(d->dev, &bi);
        json_t *c = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)bi.target_pages,
                              "actual_pages", (json_int_t)bi.actual_pages, "inflated_pages",
                              (json_int_t)bi.inflated_pages, "refused_requests", (json_int_t)bi.refused_requests);
        json_object_update(o, c);
        json_decref(c);
        break;
    }
    default:
        break;
    }
    return o;
}

static void vm_json(struct metrics *m, json_t *line)
{
    struct virt *v = vm_board(m->vm);
    const char *state = virt_end_reason(v) != VIRT_RUNNING ? "Ended" : vm_is_paused(m->vm) ? "Paused" : "Running";
    json_t *vmj = json_pack("{s:s, s:I}", "state", state, "uptime_ms",
                            (json_int_t)((now_ns(CLOCK_MONOTONIC) - m->vm_started_ns) / 1000000u));
    if (vmj && m->end_reason[0]) {
        json_object_set_new(vmj, "end_reason", json_string(m->end_reason));
        json_object_set_new(vmj, "exit_status", json_integer(m->exit_status));
    }
    json_object_set_new(line, "vm", vmj);
    json_t *harts = json_array();
    for (unsigned i = 0; harts && i < v->nharts; i++) {
        struct hart_exit_counts x;
        hart_exit_counts(v->harts[i].hart, &x);
        json_array_append_new(harts, json_pack("{s:I, s:I, s:{s:I, s:I, s:I}}", "id", (json_int_t)i, "instret",
                                               (json_int_t)hart_instret(v->harts[i].hart), "exits",
                                               "mmio", (json_int_t)(x.mmio_read + x.mmio_write), "sbi", (json_int_t)x.sbi,
                                               "wfi", (json_int_t)x.wfi));
    }
    json_object_set_new(line, "harts", harts);
    json_object_set_new(line, "sbi", sbi_json(&v->sbi));
    json_t *devs = json_array();
    for (unsigned i = 0; devs && i < v->ndevices; i++)
        json_array_append_new(devs, device_json(i, &v->devices[i]));
    json_object_set_new(line, "devices", devs);
}

/* Resident and peak resident set of this process, bytes. */
static void rss(uint64_t *now, uint64_t *peak)
{
    *now = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long size, res;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &res) == 2)
            *now = (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
    struct rusage ru;
    *peak = getrusage(RUSAGE_SELF, &ru) ? 0 : (uint64_t)ru.ru_maxrss * 1024u;
}

/* Under m->lock. */
static char *line_locked(struct metrics *m, const char *reason)
{
    uint64_t rss_now, rss_peak;
    rss(&rss_now, &rss_peak);
    json_t *line = json_pack("{s:I}", "utc_timestamp_ms", (json_int_t)(now_ns(CLOCK_REALTIME) / 1000000u));
    json_t *own = json_pack("{s:I, s:s, s:o, s:{s:I, s:I, s:I}}", "uptime_ms",
                            (json_int_t)((now_ns(CLOCK_MONOTONIC) - m->created_ns) / 1000000u), "reason", reason,
                            "api", api_json(m), "monitor", "rss_bytes", (json_int_t)rss_now, "max_rss_bytes",
                            (json_int_t)rss_peak, "metrics_lines_dropped", (json_int_t)m->lines_dropped);
    if (!line || !own) {
        json_decref(line);
        json_decref(own);
        return NULL;
    }
    if (m->id[0])
        json_object_set_new(line, "id", json_string(m->id));
    metrics_fc_add(&m->fc, line, m->vm ? vm_board(m->vm) : NULL, m->lines_dropped);
    if (m->vm)
        vm_json(m, own);
    else
        json_object_set_new(own, "vm", json_pack("{s:s}", "state", "Not started"));
    json_object_set_new(line, "minnow", own);
    char *s = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    return s;
}

char *metrics_line(struct metrics *m, const char *reason)
{
    pthread_mutex_lock(&m->lock);
    char *s = line_locked(m, reason);
    pthread_mutex_unlock(&m->lock);
    return s;
}

int metrics_flush(struct metrics *m, const char *reason, struct errmsg *e)
{
    int r = 0;
    pthread_mutex_lock(&m->lock);
    if (m->fd < 0) {
        pthread_mutex_unlock(&m->lock);
        return errmsg_set(e, -ENOENT, "the metrics are not configured (PUT /metrics first)");
    }
    char *s = line_locked(m, reason);
    if (!s) {
        r = errmsg_set(e, -ENOMEM, "out of memory for a metrics line");
    } else {
        size_t n = strlen(s);
        s[n] = '\n';   /* json_dumps' terminator becomes the newline */
        ssize_t w = write(m->fd, s, n + 1);
        int err = w < 0 ? errno : EIO;
        if (w == (ssize_t)(n + 1)) {
            m->lines++;
        } else {
            m->lines_dropped++;
            r = errmsg_set(e, -err, "metrics: writing to the metrics path failed%s",
                           err == EAGAIN ? " (the FIFO's reader is not keeping up)" : "");
        }
        free(s);
    }
    pthread_mutex_unlock(&m->lock);
    return r;
}
