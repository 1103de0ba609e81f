/* The REST API's resources (see api_vmm.h). */
#include "api/api_vmm.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "api/api_debug.h"
#include "api/api_mmds.h"
#include "api/api_observe.h"
#include "api/api_put_check.h"
#include "api/api_version.h"
#include "api/api_snapshot.h"
#include "vmm/migration.h"
#include "api/json_fields.h"
#include "api/vm_config_json.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "vmm/sandbox.h"

struct api_vmm {
    pthread_mutex_t lock;
    char id[VM_CONFIG_ID_MAX + 1];
    struct vm_config cfg;
    struct vm_build build;    /* what the VM was built from; outlives it */
    struct vm *vm;            /* NULL before InstanceStart */
    bool configured;          /* a resource was PUT (a snapshot may not load then) */
    int started_fd;           /* eventfd, written once at start */
    struct logger *log;       /* PUT /logger */
    struct metrics *metrics;  /* PUT /metrics */
    /* The request being handled: Firecracker's counter and latency for it
     * (handlers whose kind depends on the body set lat). */
    enum metrics_req req;
    enum metrics_lat lat;
    struct mmds_store *mmds;  /* PUT /mmds; the guest reads it through the network interfaces */

    const struct path_allow *incoming_allow;  /* during api_vmm_incoming */
    int incoming_engine;                      /* likewise: enum hart_engine, -1: the source's */

    /* --boot-timer: the boot timer device, and when InstanceStart began
     * (CLOCK_MONOTONIC and the process's CPU time, us). */
    bool boot_timer;
    uint64_t start_us, start_cpu_us;

    /* The balloon statistics poller: a thread that asks the guest for
     * fresh statistics every stats_polling_interval_s seconds, started at
     * InstanceStart when the balloon has statistics. plock/pcond guard
     * the fields below; a PATCH wakes it to poll at once. */
    struct virtio_balloon *balloon;   /* the running device, or NULL */
    pthread_t poller;
    bool poller_started;
    pthread_mutex_t plock;
    pthread_cond_t pcond;
    unsigned poll_interval_s;
    bool poll_now, poll_quit;
};

static uint64_t clock_us(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void mmds_counts(void *store, uint64_t *no_token, uint64_t *invalid_token)
{
    mmds_store_token_counts(store, no_token, invalid_token);
}

int api_vmm_create(struct api_vmm **out, const char *id, struct errmsg *e)
{
    struct api_vmm *a = calloc(1, sizeof *a);
    if (!a)
        return errmsg_set(e, -ENOMEM, "out of memory for the API");
    a->started_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (a->started_fd < 0) {
        int err = errno;
        free(a);
        return errmsg_set(e, -err, "eventfd: %s", strerror(err));
    }
    snprintf(a->id, sizeof a->id, "%s", id ? id : "minnow");
    int r = logger_create(&a->log, a->id, e);
    if (!r && (r = metrics_create(&a->metrics, API_VMM_METRICS_PERIOD_MS, e)))
        logger_destroy(a->log);
    if (!r && (r = mmds_store_create(&a->mmds, MMDS_STORE_DEFAULT_LIMIT, e))) {
        metrics_destroy(a->metrics);
        logger_destroy(a->log);
    }
    if (r) {
        close(a->started_fd);
        free(a);
        return r;
    }
    metrics_set_mmds_source(a->metrics, mmds_counts, a->mmds);
    pthread_mutex_init(&a->lock, NULL);
    pthread_mutex_init(&a->plock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->pcond, &ca);
    pthread_condattr_destroy(&ca);
    vm_config_init(&a->cfg);
    *out = a;
    return 0;
}

void api_vmm_destroy(struct api_vmm *a)
{
    if (!a)
        return;
    if (a->poller_started) {      /* it asks the VM's balloon */
        pthread_mutex_lock(&a->plock);
        a->poll_quit = true;
        pthread_cond_signal(&a->pcond);
        pthread_mutex_unlock(&a->plock);
        pthread_join(a->poller, NULL);
    }
    metrics_destroy(a->metrics);  /* its timer reads the VM */
    vm_destroy(a->vm);
    mmds_store_destroy(a->mmds);   /* the VM's network devices read it */
    logger_destroy(a->log);
    vm_config_free(&a->cfg);
    close(a->started_fd);
    pthread_cond_destroy(&a->pcond);
    pthread_mutex_destroy(&a->plock);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* The store answers as the configuration's mmds-config says. */
static void mmds_sync_locked(struct api_vmm *a)
{
    mmds_store_configure(a->mmds, a->cfg.mmds.present && a->cfg.mmds.version == VM_CONFIG_MMDS_V2,
                         a->cfg.mmds.present && a->cfg.mmds.imds_compat);
}

int api_vmm_configure(struct api_vmm *a, struct vm_config *cfg, struct errmsg *e)
{
    int r = 0;
    pthread_mutex_lock(&a->lock);
    vm_config_free(&a->cfg);
    a->cfg = *cfg;
    vm_config_init(cfg);
    mmds_sync_locked(a);
    if (a->cfg.logger.present)
        r = api_observe_logger(a->log, &a->cfg.logger, e);
    if (!r && a->cfg.ignored_keys)
        LOG_WARN(a->log, "the configuration: ignored the unknown top-level key(s) %s (as Firecracker does)",
                 a->cfg.ignored_keys);
    if (!r && a->cfg.metrics.present)
        r = api_observe_metrics(a->metrics, &a->cfg.metrics, a->id, e);
    pthread_mutex_unlock(&a->lock);
    return r;
}

int api_vmm_started_fd(const struct api_vmm *a)
{
    return a->started_fd;
}

struct vm *api_vmm_vm(struct api_vmm *a)
{
    pthread_mutex_lock(&a->lock);
    struct vm *vm = a->vm;
    pthread_mutex_unlock(&a->lock);
    return vm;
}

static struct virtio_balloon *find_balloon(struct vm *vm)
{
    struct virt *v = vm_board(vm);
    for (unsigned i = 0; i < v->ndevices; i++)
        if (v->devices[i].kind == VIRT_DEV_BALLOON)
            return v->devices[i].dev;
    return NULL;
}

/* Asks for statistics now and then every poll_interval_s. A request the
 * guest cannot take yet (its driver has not queued a buffer, or has not
 * answered the last one) is simply tried again next period. */
static void *balloon_poller(void *p)
{
    struct api_vmm *a = p;
    sandbox_thread_start(SANDBOX_AUX, "balloon");
    pthread_mutex_lock(&a->plock);
    while (!a->poll_quit) {
        a->poll_now = false;
        uint64_t period_ns = (uint64_t)a->poll_interval_s * 1000000000u;
        pthread_mutex_unlock(&a->plock);
        virtio_balloon_request_stats(a->balloon, NULL);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t due = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec + period_ns;
        struct timespec ts = { (time_t)(due / 1000000000u), (long)(due % 1000000000u) };
        pthread_mutex_lock(&a->plock);
        while (!a->poll_quit && !a->poll_now)
            if (pthread_cond_timedwait(&a->pcond, &a->plock, &ts) == ETIMEDOUT)
                break;
    }
    pthread_mutex_unlock(&a->plock);
    return NULL;
}

static void attach_locked(struct api_vmm *a, struct vm *vm);

void api_vmm_enable_boot_timer(struct api_vmm *a)
{
    pthread_mutex_lock(&a->lock);
    a->boot_timer = true;
    pthread_mutex_unlock(&a->lock);
}

/* The guest wrote the boot timer's magic (on its vCPU's thread, without
 * the lock: the start times are set before the VM runs). Firecracker's
 * log line, so the tools that parse it find it. */
static void boot_timer_signal(void *p)
{
    struct api_vmm *a = p;
    uint64_t us = clock_us(CLOCK_MONOTONIC) - a->start_us, cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID) - a->start_cpu_us;
    LOG_INFO(a->log, "Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms", (unsigned long long)us,
             (unsigned long long)(us / 1000), (unsigned long long)cpu, (unsigned long long)(cpu / 1000));
}

/* Under the lock. */
static int start_locked(struct api_vmm *a, int *config_error, struct errmsg *e)
{
    *config_error = 0;
    if (a->vm)
        return errmsg_set(e, -EBUSY, "InstanceStart: the microVM is already started");
    a->start_us = clock_us(CLOCK_MONOTONIC);
    a->start_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
    int r = vm_config_build(&a->cfg, &a->build, e);
    if (r) {
        *config_error = 1;
        return r;
    }
    api_mmds_attach(&a->cfg, &a->build, a->mmds);
    if (a->boot_timer) {
        a->build.virt.boot_timer = boot_timer_signal;
        a->build.virt.boot_timer_opaque = a;
    }
    struct vm *vm;
    if ((r = vm_create(&vm, &a->build.virt, e)))
        return r;
    vm_config_apply_rate_limiters(&a->cfg, vm);
    if (a->cfg.machine.gdb_socket_path[0]) {
        /* As in Firecracker: the harts wait at reset for gdb. */
        char spec[VM_CONFIG_GDB_PATH_MAX + 8];
        struct errmsg why = { "" };
        snprintf(spec, sizeof spec, "unix:%s", a->cfg.machine.gdb_socket_path);
        if ((r = vm_enable_gdb(vm, spec, 1, &why))) {
            vm_destroy(vm);
            *config_error = 1;
            return errmsg_set(e, r, "machine-config: gdb_socket_path: %s", why.text);
        }
        LOG_INFO(a->log, "gdb stub on %s: the harts wait for gdb to attach", a->cfg.machine.gdb_socket_path);
    }
    if ((a->cfg.serial_out_path && (r = vm_set_console_file(vm, a->cfg.serial_out_path, e))) ||
        (r = vm_start(vm, e))) {
        vm_destroy(vm);
        return r;
    }
    attach_locked(a, vm);
    LOG_INFO(a->log, "the microVM started: %u vCPUs, %llu MiB", a->build.virt.nharts,
             (unsigned long long)(a->build.virt.mem_size >> 20));
    return 0;
}

/* Under the lock: the VM (started, or restored) is ours now. */
static void attach_locked(struct api_vmm *a, struct vm *vm)
{
    a->vm = vm;
    metrics_attach_vm(a->metrics, vm);
    for (unsigned i = 0; i < a->cfg.ndrives; i++)
        metrics_name_device(a->metrics, vm_config_drive_slot(&a->cfg, i), "block", a->cfg.drives[i].drive_id);
    for (unsigned i = 0; i < a->cfg.nnets; i++)
        metrics_name_device(a->metrics, vm_config_net_slot(&a->cfg, i), "net", a->cfg.nets[i].iface_id);
    a->balloon = find_balloon(vm);
    if (a->balloon && a->cfg.balloon.stats_polling_interval_s) {
        a->poll_interval_s = a->cfg.balloon.stats_polling_interval_s;
        if (sandbox_thread_create(&a->poller, NULL, balloon_poller, a))
            LOG_WARN(a->log, "balloon: cannot create the statistics thread: no statistics will be polled");
        else
            a->poller_started = true;
    }
    if (metrics_configured(a->metrics))
        metrics_flush(a->metrics, "start", NULL);
    uint64_t one = 1;
    ssize_t w = write(a->started_fd, &one, sizeof one);
    (void)w;
}

int api_vmm_start(struct api_vmm *a, int *config_error, struct errmsg *e)
{
    pthread_mutex_lock(&a->lock);
    int r = start_locked(a, config_error, e);
    pthread_mutex_unlock(&a->lock);
    return r;
}

/* ---- replies ---- */

static void reply_json(struct api_reply *out, unsigned status, json_t *j)
{
    out->status = status;
    out->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (j && !out->body)
        out->status = 500;
}

static void reply_error(struct api_reply *out, unsigned status, const char *msg)
{
    reply_json(out, status, json_pack("{s:s}", "fault_message", msg));
}

/* ---- routes ---- */

typedef int route_fn(struct api_vmm *a, const json_t *body, const char *id, struct api_reply *out,
                     struct errmsg *e);

static int get_info(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)b, (void)id, (void)e;
    const char *state = !a->vm ? "Not started" : vm_is_paused(a->vm) ? "Paused" : "Running";
    reply_json(out, 200, json_pack("{s:s, s:s, s:s, s:s}", "id", a->id, "state", state, "vmm_version",
                                   MINNOW_VERSION, "app_name", "minnow"));
    return 0;
}

static int get_version(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)a, (void)b, (void)id, (void)e;
    /* Firecracker's field holds the Firecracker API version minnow
     * implements (clients decide by it what they may use); minnow's own
     * version beside it. */
    reply_json(out, 200, json_pack("{s:s, s:s}", "firecracker_version", API_FIRECRACKER_VERSION, "minnow_version",
                                   MINNOW_VERSION));
    return 0;
}

/* As in Firecracker, the files and TAPs a PUT names are checked at the
 * PUT: the body is read into a scratch configuration first (so a bad
 * field is reported as such), then what it names is opened
 * (api_put_check.h), and only then does the body replace the resource. */
static int put_boot(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    struct vm_config t;
    vm_config_init(&t);
    int r = vm_config_json_boot_source(&t, b, e);
    if (!r)
        r = api_put_check_boot(&t.boot, e);
    vm_config_free(&t);
    return r ? r : vm_config_json_boot_source(&a->cfg, b, e);
}

static int get_machine(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)b, (void)id, (void)e;
    reply_json(out, 200, vm_config_json_machine_dump(&a->cfg));
    return 0;
}

static int put_machine(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_machine(&a->cfg, b, false, e);
}

static int patch_machine(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                         struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_machine(&a->cfg, b, true, e);
}

/* A PUT /drives or /network-interfaces body, read into a scratch
 * configuration and its file or TAP checked (api_put_check.h) before it
 * goes into the VM's. */
typedef int put_read_fn(struct vm_config *c, const json_t *j, const char *id, struct errmsg *e);
static int put_checked(struct api_vmm *a, const json_t *b, const char *id, put_read_fn *read, bool drive,
                       struct errmsg *e)
{
    struct vm_config t;
    vm_config_init(&t);
    int r = read(&t, b, id, e);
    if (!r)
        r = drive ? api_put_check_drive(&t.drives[0], e) : api_put_check_net(&t.nets[0], e);
    vm_config_free(&t);
    return r ? r : read(&a->cfg, b, id, e);
}

static int put_drive(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)out;
    return put_checked(a, b, id, vm_config_json_drive, true, e);
}

static int put_net(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)out;
    return put_checked(a, b, id, vm_config_json_net, false, e);
}

/* PATCH /drives/{id} and /network-interfaces/{id}: after InstanceStart
 * only (as in Firecracker); the new limits reach the running device. */
static int patch_drive(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)out;
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "drives: PATCH is only supported after starting the microVM (use PUT)");
    unsigned i;
    struct rate_limiter_config u;
    const char *path;
    int r = vm_config_json_drive_patch(&a->cfg, b, id, &i, &u, &path, e);
    if (r)
        return r;
    struct virt *v = vm_board(a->vm);
    unsigned slot = vm_config_drive_slot(&a->cfg, i);
    struct vm_config_drive *d = &a->cfg.drives[i];
    if (path) {
        /* Kata's way of hot-plugging a disk: a placeholder drive at boot,
         * its backing file swapped later; the guest sees the new size. */
        struct errmsg why = { "" };
        if ((r = vm_drive_swap(a->vm, slot, path, d->is_read_only, &why)))
            return errmsg_set(e, r, "drives '%s': path_on_host: %s", id, why.text);
        if ((r = vm_config_set_drive_path(&a->cfg, i, path, e)))
            return r;
        if (slot < VIRT_MAX_DEVICES)
            a->build.devices[slot].blk.path = d->path_on_host;   /* the old string is gone */
        LOG_INFO(a->log, "drive '%s' now reads and writes %s", id, path);
    }
    vm_config_merge_rate_limiter(&d->rate_limiter, &u);
    if (slot < v->ndevices && v->devices[slot].kind == VIRT_DEV_BLK)
        virtio_blk_set_rate_limiter(v->devices[slot].dev, &u);
    return 0;
}

static int patch_net(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)out;
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "network-interfaces: PATCH is only supported after starting the microVM "
                          "(use PUT)");
    unsigned i;
    struct rate_limiter_config rx, tx;
    int r = vm_config_json_net_patch(&a->cfg, b, id, &i, &rx, &tx, e);
    if (r)
        return r;
    struct virt *v = vm_board(a->vm);
    unsigned slot = vm_config_net_slot(&a->cfg, i);
    if (slot < v->ndevices && v->devices[slot].kind == VIRT_DEV_NET)
        virtio_net_set_rate_limiters(v->devices[slot].dev, &rx, &tx);
    return 0;
}

static int put_vsock(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_vsock(&a->cfg, b, e);
}

static int put_entropy(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_entropy(&a->cfg, b, e);
}

/* Firecracker's CPU templates modify what KVM tells an x86 or Arm guest
 * (CPUID leaves, MSRs, KVM capabilities, Arm registers and vCPU features);
 * minnow's harts are RV64GC cores it emulates itself, without KVM, so no
 * such modifier has anything to act on: refused whatever the body. */
static int put_cpu_config(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                          struct errmsg *e)
{
    (void)a, (void)b, (void)id, (void)out;
    return errmsg_set(e, -EINVAL, "cpu-config: CPU templates (CPUID, MSR and KVM capability modifiers, aarch64 "
                      "register and vCPU feature modifiers) do not apply to RISC-V: minnow's harts are RV64GC cores "
                      "it emulates without KVM");
}

static int put_balloon(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_balloon(&a->cfg, b, e);
}

static int get_balloon(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)b, (void)id;
    if (!a->cfg.balloon.present)
        return errmsg_set(e, -ENOENT, "balloon: no balloon device is configured");
    reply_json(out, 200, vm_config_json_balloon_dump(&a->cfg));
    return 0;
}

static int patch_balloon(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                         struct errmsg *e)
{
    (void)id, (void)out;
    uint64_t mib = 0;
    if (!a->cfg.balloon.present)
        return errmsg_set(e, -ENOENT, "balloon: no balloon device is configured");
    const char *const fields[] = { "amount_mib", NULL };
    int r = json_fields_check("balloon", b, fields, e);
    if (!r)
        r = json_fields_uint("balloon", b, "amount_mib", true, 0, UINT32_MAX / 256, &mib, NULL, e);
    if (r)
        return r;
    if ((mib << 20) > a->cfg.machine.mem_size)
        return errmsg_set(e, -EINVAL, "balloon: amount_mib %llu is more than the guest's %llu MiB of memory",
                          (unsigned long long)mib, (unsigned long long)(a->cfg.machine.mem_size >> 20));
    if (a->vm) {
        struct virt *v = vm_board(a->vm);
        for (unsigned i = 0; i < v->ndevices; i++)
            if (v->devices[i].kind == VIRT_DEV_BALLOON) {
                struct errmsg why = { "" };
                if ((r = virtio_balloon_set_target(v->devices[i].dev, (uint32_t)(mib * 256), &why)))
                    return errmsg_set(e, r, "balloon: amount_mib: %s", why.text);
            }
    }
    a->cfg.balloon.amount_mib = (uint32_t)mib;
    return 0;
}

/* GET /balloon/statistics: the target and actual size, and what the
 * guest reported last (Firecracker's BalloonStats; a statistic the guest
 * did not report is left out). */
static int get_balloon_stats(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                             struct errmsg *e)
{
    (void)b, (void)id;
    static const char *const names[VIRTIO_BALLOON_S_NR] = {
        [VIRTIO_BALLOON_S_SWAP_IN] = "swap_in", [VIRTIO_BALLOON_S_SWAP_OUT] = "swap_out",
        [VIRTIO_BALLOON_S_MAJFLT] = "major_faults", [VIRTIO_BALLOON_S_MINFLT] = "minor_faults",
        [VIRTIO_BALLOON_S_MEMFREE] = "free_memory", [VIRTIO_BALLOON_S_MEMTOT] = "total_memory",
        [VIRTIO_BALLOON_S_AVAIL] = "available_memory", [VIRTIO_BALLOON_S_CACHES] = "disk_caches",
        [VIRTIO_BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations", [VIRTIO_BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
    };
    if (!a->cfg.balloon.present)
        return errmsg_set(e, -ENOENT, "balloon: no balloon device is configured");
    if (!a->cfg.balloon.stats_polling_interval_s)
        return errmsg_set(e, -EINVAL, "balloon: statistics: not enabled (the balloon was configured with "
                          "stats_polling_interval_s 0)");
    if (!a->balloon)
        return errmsg_set(e, -EINVAL, "balloon: statistics: the microVM is not started yet");
    struct virtio_balloon_info bi;
    struct virtio_balloon_stats st;
    virtio_balloon_info(a->balloon, &bi);
    virtio_balloon_stats(a->balloon, &st);
    json_t *o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)bi.target_pages, "actual_pages",
                          (json_int_t)bi.actual_pages, "target_mib", (json_int_t)(bi.target_pages / 256u),
                          "actual_mib", (json_int_t)(bi.actual_pages / 256u));
    for (unsigned t = 0; o && t < VIRTIO_BALLOON_S_NR; t++)
        if (st.valid & (1u << t))
            json_object_set_new(o, names[t], json_integer((json_int_t)(st.val[t] > INT64_MAX ? INT64_MAX
                                                                                              : st.val[t])));
    if (!o)
        return errmsg_set(e, -ENOMEM, "balloon: statistics: out of memory");
    reply_json(out, 200, o);
    return 0;
}

/* The running balloon with free page hinting, for the /balloon/hinting routes. */
static struct virtio_balloon *hinting_balloon(struct api_vmm *a, struct errmsg *e)
{
    if (!a->cfg.balloon.present) {
        errmsg_set(e, -ENOENT, "balloon: no balloon device is configured");
        return NULL;
    }
    if (!a->cfg.balloon.free_page_hinting) {
        errmsg_set(e, -EINVAL, "balloon: free page hinting was not enabled when the device was configured "
                   "(PUT /balloon with \"free_page_hinting\": true)");
        return NULL;
    }
    if (!a->balloon) {
        errmsg_set(e, -EINVAL, "balloon: free page hinting: the microVM is not started yet");
        return NULL;
    }
    return a->balloon;
}

/* PATCH /balloon/hinting/start: a new run; the body is optional, and
 * acknowledge_on_stop (default true, as Firecracker's) ends the run with
 * DONE as soon as the guest has sent all it found. */
static int patch_hinting_start(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                               struct errmsg *e)
{
    (void)id, (void)out;
    bool ack = true;
    const char *const fields[] = { "acknowledge_on_stop", NULL };
    int r = 0;
    if (b && !(r = json_fields_check("balloon hinting start", b, fields, e)))
        r = json_fields_bool("balloon hinting start", b, "acknowledge_on_stop", false, &ack, NULL, e);
    if (r)
        return r;
    struct virtio_balloon *bl = hinting_balloon(a, e);
    return bl ? virtio_balloon_hint_start(bl, ack, e) : -EINVAL;
}

/* GET /balloon/hinting/status: {"host_cmd", "guest_cmd"}; guest_cmd is
 * left out until the guest has sent one (the swagger has it an integer). */
static int get_hinting_status(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                              struct errmsg *e)
{
    (void)b, (void)id;
    struct virtio_balloon *bl = hinting_balloon(a, e);
    struct virtio_balloon_hint_status st;
    int r = bl ? virtio_balloon_hint_status(bl, &st, e) : -EINVAL;
    if (r)
        return r;
    json_t *o = json_pack("{s:I}", "host_cmd", (json_int_t)st.host_cmd);
    if (o && st.has_guest_cmd)
        json_object_set_new(o, "guest_cmd", json_integer((json_int_t)st.guest_cmd));
    if (!o)
        return errmsg_set(e, -ENOMEM, "balloon: hinting status: out of memory");
    reply_json(out, 200, o);
    return 0;
}

/* PATCH /balloon/hinting/stop: DONE, the guest may take its pages back.
 * A body, if any, is not read (Firecracker takes none). */
static int patch_hinting_stop(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                              struct errmsg *e)
{
    (void)b, (void)id, (void)out;
    struct virtio_balloon *bl = hinting_balloon(a, e);
    return bl ? virtio_balloon_hint_stop(bl, e) : -EINVAL;
}

/* PATCH /balloon/statistics: a new polling interval, before or after
 * start; after start statistics cannot be turned on or off (the guest
 * negotiated the statistics queue, or did not, when it booted). */
static int patch_balloon_stats(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                               struct errmsg *e)
{
    (void)id, (void)out;
    uint64_t s = 0;
    if (!a->cfg.balloon.present)
        return errmsg_set(e, -ENOENT, "balloon: no balloon device is configured");
    const char *const fields[] = { "stats_polling_interval_s", NULL };
    int r = json_fields_check("balloon statistics", b, fields, e);
    if (!r)
        r = json_fields_uint("balloon statistics", b, "stats_polling_interval_s", true, 0, UINT32_MAX, &s, NULL, e);
    if (r)
        return r;
    bool was_on = a->cfg.balloon.stats_polling_interval_s != 0;
    if (a->vm && was_on != (s != 0))
        return errmsg_set(e, -EINVAL, "balloon statistics: stats_polling_interval_s: statistics cannot be "
                          "turned %s after starting the microVM (got %llu, was %u)", was_on ? "off" : "on",
                          (unsigned long long)s, a->cfg.balloon.stats_polling_interval_s);
    a->cfg.balloon.stats_polling_interval_s = (uint32_t)s;
    if (a->poller_started) {
        pthread_mutex_lock(&a->plock);
        a->poll_interval_s = (unsigned)s;
        a->poll_now = true;
        pthread_cond_signal(&a->pcond);
        pthread_mutex_unlock(&a->plock);
    }
    return 0;
}

static int put_console2(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                        struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_console2(&a->cfg, b, e);
}

static int put_serial(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                      struct errmsg *e)
{
    (void)id, (void)out;
    return vm_config_json_serial(&a->cfg, b, e);
}

static int put_action(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                      struct errmsg *e)
{
    (void)id, (void)out;
    const char *type = NULL;
    const char *const fields[] = { "action_type", NULL };
    int r = json_fields_check("actions", b, fields, e);
    if (!r)
        r = json_fields_string("actions", b, "action_type", true, &type, NULL, e);
    if (r)
        return r;
    if (!strcmp(type, "InstanceStart")) {
        int config_error;
        return start_locked(a, &config_error, e);
    }
    if (!strcmp(type, "FlushMetrics")) {
        if (!a->vm)
            return errmsg_set(e, -EINVAL, "actions: action_type FlushMetrics: the microVM is not started yet "
                              "(as in Firecracker, metrics are flushed only after InstanceStart)");
        struct errmsg why = { "" };
        if ((r = metrics_flush(a->metrics, "FlushMetrics", &why)))
            return errmsg_set(e, r, "actions: action_type FlushMetrics: %s", why.text);
        return 0;
    }
    if (!strcmp(type, "SendCtrlAltDel")) {
        /* As in Firecracker: keys need a running guest to press them on. */
        if (!a->vm)
            return errmsg_set(e, -EINVAL, "actions: action_type SendCtrlAltDel: the microVM is not started yet "
                              "(PUT /actions InstanceStart first)");
        struct virt *v = vm_board(a->vm);
        if (virt_end_reason(v) != VIRT_RUNNING)
            return errmsg_set(e, -EINVAL, "actions: action_type SendCtrlAltDel: the microVM's run has ended");
        struct errmsg why = { "" };
        if ((r = virt_send_ctrl_alt_del(v, &why)))
            return errmsg_set(e, r, "actions: action_type SendCtrlAltDel: %s", why.text);
        LOG_INFO(a->log, "sent Ctrl+Alt+Del to the guest's keyboard");
        return 0;
    }
    return errmsg_set(e, -EINVAL,
                      "actions: action_type: expected \"InstanceStart\", \"FlushMetrics\" or \"SendCtrlAltDel\", "
                      "got '%s'", type);
}

static int patch_vm(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    const char *state = NULL;
    const char *const fields[] = { "state", NULL };
    int r = json_fields_check("vm", b, fields, e);
    if (!r)
        r = json_fields_string("vm", b, "state", true, &state, NULL, e);
    if (r)
        return r;
    bool pause = !strcmp(state, "Paused");
    if (!pause && strcmp(state, "Resumed"))
        return errmsg_set(e, -EINVAL, "vm: state: expected \"Paused\" or \"Resumed\", got '%s'", state);
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "vm: the microVM is not started yet (PUT /actions InstanceStart first)");
    struct errmsg why = { "" };
    a->lat = pause ? METRICS_LAT_PAUSE_VM : METRICS_LAT_RESUME_VM;
    uint64_t t0 = clock_us(CLOCK_MONOTONIC);
    if (pause)
        vm_pause(a->vm);
    else if ((r = vm_resume(a->vm, &why)))
        return errmsg_set(e, r, "vm: state Resumed: %s", why.text);
    metrics_record_latency(a->metrics, a->lat, true, clock_us(CLOCK_MONOTONIC) - t0);
    LOG_INFO(a->log, "the microVM is %s", pause ? "paused" : "resumed");
    return 0;
}

static int put_snapshot_create(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                               struct errmsg *e)
{
    (void)id, (void)out;
    struct vm_snapshot_params p;
    int r = api_snapshot_create_read(b, &p, e);
    if (r)
        return r;
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "snapshot/create: the microVM is not started yet");
    struct migration_progress mp;
    migration_get(a->vm, &mp);
    if (mp.state == MIGRATION_ACTIVE)
        return errmsg_set(e, -EBUSY, "snapshot/create: a migration to %s is under way", mp.destination);
    json_t *cfg = vm_config_json_dump(&a->cfg);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    if (!text)
        return errmsg_set(e, -ENOMEM, "snapshot/create: out of memory");
    p.config_json = text;
    struct vm_snapshot_stats st;
    struct errmsg why = { "" };
    a->lat = p.diff ? METRICS_LAT_DIFF_CREATE_SNAPSHOT : METRICS_LAT_FULL_CREATE_SNAPSHOT;
    uint64_t t0 = clock_us(CLOCK_MONOTONIC);
    r = vm_snapshot(a->vm, &p, &st, &why);
    free(text);
    if (r)
        return errmsg_set(e, r, "snapshot/create: %s", why.text);
    metrics_record_latency(a->metrics, a->lat, true, clock_us(CLOCK_MONOTONIC) - t0);
    LOG_INFO(a->log, "snapshot (%s) written to %s and %s in %.1f ms: %llu dirty pages, %llu bytes of memory, "
             "%llu bytes of state", p.diff ? "Diff" : "Full", p.state_path, p.mem_path, st.ns / 1e6,
             (unsigned long long)st.dirty_pages, (unsigned long long)st.mem_bytes_written,
             (unsigned long long)st.state_bytes);
    return 0;
}

/* Under the lock: cfg (a snapshot's or a migrating VM's) becomes ours;
 * the logger and metrics this process was given stay (swapped, so each
 * string is freed once). */
static void adopt_config_locked(struct api_vmm *a, struct vm_config *cfg)
{
    struct vm_config_logger l = cfg->logger;
    struct vm_config_metrics m = cfg->metrics;
    cfg->logger = a->cfg.logger;
    cfg->metrics = a->cfg.metrics;
    a->cfg.logger = l;
    a->cfg.metrics = m;
    vm_config_free(&a->cfg);
    a->cfg = *cfg;
    mmds_sync_locked(a);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Under the lock: before anything was configured, as in Firecracker. */
static int restore_locked(struct api_vmm *a, const struct api_snapshot_load *p, struct errmsg *e)
{
    if (a->vm)
        return errmsg_set(e, -EINVAL, "snapshot/load: the microVM is already running (load a snapshot into a "
                          "fresh minnow)");
    if (a->configured)
        return errmsg_set(e, -EINVAL, "snapshot/load: the microVM was already configured: a snapshot loads only "
                          "into a fresh minnow, before any other PUT");
    struct vm_config cfg;
    struct vm *vm;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = api_snapshot_restore(p, &cfg, &a->build, a->mmds, &vm, e);
    if (r) {
        vm_config_free(&cfg);
        return r;
    }
    /* The source's gdb socket is not this VM's: PUT /gdb attaches one. */
    cfg.machine.gdb_socket_path[0] = 0;
    adopt_config_locked(a, &cfg);
    attach_locked(a, vm);
    LOG_INFO(a->log, "the microVM was restored from %s in %.2f ms (%s)", p->snapshot_path, ms_since(&t0),
             p->resume ? "running" : "paused");
    return 0;
}

int api_vmm_restore(struct api_vmm *a, const struct api_snapshot_load *p, struct errmsg *e)
{
    pthread_mutex_lock(&a->lock);
    int r = restore_locked(a, p, e);
    pthread_mutex_unlock(&a->lock);
    return r;
}

static int put_snapshot_load(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                             struct errmsg *e)
{
    (void)id, (void)out;
    struct api_snapshot_load p;
    int r = api_snapshot_load_read(b, &p, e);
    if (r)
        return r;
    a->lat = METRICS_LAT_LOAD_SNAPSHOT;
    uint64_t t0 = clock_us(CLOCK_MONOTONIC);
    if (!(r = restore_locked(a, &p, e)))
        metrics_record_latency(a->metrics, a->lat, true, clock_us(CLOCK_MONOTONIC) - t0);
    return r;
}

static int put_migrate(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id, (void)out;
    const char *const fields[] = { "destination", "token_path", NULL };
    const char *dest = NULL, *token = NULL;
    int r = json_fields_check("migrate", b, fields, e);
    if (!r)
        r = json_fields_string("migrate", b, "destination", true, &dest, NULL, e);
    if (!r)
        r = json_fields_string("migrate", b, "token_path", false, &token, NULL, e);
    if (r)
        return r;
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "migrate: the microVM is not started yet");
    json_t *cfg = vm_config_json_dump(&a->cfg);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    json_decref(cfg);
    if (!text)
        return errmsg_set(e, -ENOMEM, "migrate: out of memory");
    r = migration_start(a->vm, dest, token, text, a->log, e);
    free(text);
    return r;
}

static int get_migrate(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)b, (void)id;
    if (!a->vm)
        return errmsg_set(e, -EINVAL, "migrate: the microVM is not started yet");
    struct migration_progress p;
    migration_get(a->vm, &p);
    static const char *const states[] = { "None", "Active", "Completed", "Failed" };
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f}", "state", states[p.state],
                          "destination", p.destination, "round", (json_int_t)p.round,
                          "pages_sent", (json_int_t)p.pages_sent, "bytes_sent", (json_int_t)p.bytes_sent,
                          "last_dirty_pages", (json_int_t)p.last_dirty_pages, "dirty_pages_per_s", p.dirty_rate,
                          "total_ms", p.total_ms, "downtime_ms", p.downtime_ms);
    if (j && p.error[0])
        json_object_set_new(j, "error", json_string(p.error));
    reply_json(out, 200, j);
    return 0;
}

/* Every path of an incoming configuration that the target would open or
 * create must be one its command line allows (the kernel, initrd and
 * firmware are not loaded on arrival; the logger and metrics stay the
 * target's own). */
static int check_incoming_paths(const struct path_allow *allow, const struct vm_config *c, struct errmsg *e)
{
    int r = 0;
    for (unsigned i = 0; !r && i < c->ndrives; i++)
        r = path_allow_check(allow, "the drive path", c->drives[i].path_on_host, e);
    if (!r && c->vsock.present)
        r = path_allow_check(allow, "the vsock socket", c->vsock.uds_path, e);
    if (!r && c->console2.present && !c->console2.pty)
        r = path_allow_check(allow, "the console socket", c->console2.uds_path, e);
    if (!r)
        r = path_allow_check(allow, "the serial output", c->serial_out_path, e);
    for (unsigned i = 0; !r && i < c->nnets; i++)
        if (c->nets[i].spec.kind == NET_SPEC_USER && c->nets[i].spec.n_hostfwd)
            r = errmsg_set(e, -EPERM, "the incoming configuration forwards host ports into the guest "
                           "(network interface %s: minnow_hostfwd); a target does not take that from a stream",
                           c->nets[i].iface_id);
    return r;
}

/* The configuration an incoming migration brings (migration_configure_fn). */
static int incoming_configure(void *opaque, const char *json, uint64_t mem_size, const struct virt_config **out,
                              struct errmsg *e)
{
    struct api_vmm *a = opaque;
    struct vm_config cfg;
    struct errmsg why = { "" };
    int r = vm_config_json_load(&cfg, json, strlen(json), &why);
    if (r)
        return errmsg_set(e, r, "the configuration sent: %s", why.text);
    if (cfg.machine.mem_size != mem_size) {
        vm_config_free(&cfg);
        return errmsg_set(e, -EPROTO, "the configuration sent has %llu bytes of RAM, the stream %llu",
                          (unsigned long long)cfg.machine.mem_size, (unsigned long long)mem_size);
    }
    if ((r = check_incoming_paths(a->incoming_allow, &cfg, e))) {
        vm_config_free(&cfg);
        return r;
    }
    if (a->incoming_engine >= 0)
        cfg.machine.engine = (enum hart_engine)a->incoming_engine;
    cfg.machine.gdb_socket_path[0] = 0; /* the source's: PUT /gdb attaches one here */
    adopt_config_locked(a, &cfg);
    if ((r = vm_config_build(&a->cfg, &a->build, e)))
        return r;
    api_mmds_attach(&a->cfg, &a->build, a->mmds);
    a->build.virt.restore = 1;
    a->build.virt.restore_mem = NULL;
    *out = &a->build.virt;
    return 0;
}

int api_vmm_incoming(struct api_vmm *a, int listen_fd, const struct migration_target *t,
                     const struct path_allow *allow, int engine, struct errmsg *e)
{
    pthread_mutex_lock(&a->lock);
    struct vm *vm;
    a->incoming_allow = allow;
    a->incoming_engine = engine;
    int r = migration_receive(listen_fd, t, incoming_configure, a, a->log, &vm, e);
    a->incoming_allow = NULL;
    /* Still paused: no console output yet. */
    if (!r && a->cfg.serial_out_path && (r = vm_set_console_file(vm, a->cfg.serial_out_path, e)))
        vm_destroy(vm);
    if (!r) {
        vm_config_apply_rate_limiters(&a->cfg, vm);
        vm_resume(vm, NULL); /* a VM that just arrived has no migration of its own */
        attach_locked(a, vm);
        LOG_INFO(a->log, "the microVM migrated in and runs");
    }
    pthread_mutex_unlock(&a->lock);
    return r;
}

static int put_logger(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    struct vm_config_logger l;
    int r = vm_config_json_logger_read(b, &l, e);
    if (!r)
        r = api_observe_logger(a->log, &l, e);
    return r ? r : vm_config_set_logger(&a->cfg, &l, e);
}

static int put_metrics(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id, (void)out;
    struct vm_config_metrics m;
    int r = vm_config_json_metrics_read(b, &m, e);
    if (!r)
        r = api_observe_metrics(a->metrics, &m, a->id, e);
    return r ? r : vm_config_set_metrics(&a->cfg, &m, e);
}

static int put_gdb(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    int r = api_debug_gdb(a->vm, b, e);
    if (!r)
        LOG_INFO(a->log, "gdb stub on %s", vm_gdb_spec(a->vm));
    return r;
}

static int put_inspect(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                       struct errmsg *e)
{
    (void)id;
    json_t *j = NULL;
    int r = api_debug_inspect(a->vm, b, &j, e);
    if (!r)
        reply_json(out, 200, j);
    return r;
}

static int get_vm_config(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                         struct errmsg *e)
{
    (void)b, (void)id, (void)e;
    reply_json(out, 200, vm_config_json_dump(&a->cfg));
    return 0;
}

static int put_mmds(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)id, (void)out;
    return api_mmds_put(a->mmds, b, e);
}

static int patch_mmds(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                      struct errmsg *e)
{
    (void)id, (void)out;
    return api_mmds_patch(a->mmds, b, e);
}

static int get_mmds(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out, struct errmsg *e)
{
    (void)b, (void)id, (void)e;
    reply_json(out, 200, api_mmds_get(a->mmds));
    return 0;
}

static int put_mmds_config(struct api_vmm *a, const json_t *b, const char *id, struct api_reply *out,
                           struct errmsg *e)
{
    (void)id, (void)out;
    return api_mmds_config(&a->cfg, a->mmds, b, e);
}

enum when { ANY, PRE_BOOT };

#define BODY_OPTIONAL 2

struct route {
    const char *method, *path;   /* a path ending in '/' takes an id after it */
    route_fn *fn;
    int body;                    /* needs a JSON body (true), or takes one (BODY_OPTIONAL) */
    enum when when;
    enum metrics_req req;        /* Firecracker's counter for it */
};

static const struct route routes[] = {
    { "GET", "/", get_info, false, ANY, METRICS_REQ_GET_INSTANCE_INFO },
    { "GET", "/version", get_version, false, ANY, METRICS_REQ_GET_VMM_VERSION },
    { "PUT", "/boot-source", put_boot, true, PRE_BOOT, METRICS_REQ_PUT_BOOT_SOURCE },
    { "GET", "/machine-config", get_machine, false, ANY, METRICS_REQ_GET_MACHINE_CFG },
    { "PUT", "/machine-config", put_machine, true, PRE_BOOT, METRICS_REQ_PUT_MACHINE_CFG },
    { "PATCH", "/machine-config", patch_machine, true, PRE_BOOT, METRICS_REQ_PATCH_MACHINE_CFG },
    { "PUT", "/drives/", put_drive, true, PRE_BOOT, METRICS_REQ_PUT_DRIVE },
    { "PUT", "/network-interfaces/", put_net, true, PRE_BOOT, METRICS_REQ_PUT_NETWORK },
    { "PATCH", "/drives/", patch_drive, true, ANY, METRICS_REQ_PATCH_DRIVE },
    { "PATCH", "/network-interfaces/", patch_net, true, ANY, METRICS_REQ_PATCH_NETWORK },
    { "PUT", "/vsock", put_vsock, true, PRE_BOOT, METRICS_REQ_PUT_VSOCK },
    { "PUT", "/cpu-config", put_cpu_config, false, PRE_BOOT, METRICS_REQ_PUT_CPU_CFG },
    { "PUT", "/entropy", put_entropy, true, PRE_BOOT, METRICS_REQ_NONE },
    { "GET", "/balloon", get_balloon, false, ANY, METRICS_REQ_NONE },
    { "PUT", "/balloon", put_balloon, true, PRE_BOOT, METRICS_REQ_NONE },
    { "PATCH", "/balloon", patch_balloon, true, ANY, METRICS_REQ_NONE },
    { "GET", "/balloon/statistics", get_balloon_stats, false, ANY, METRICS_REQ_NONE },
    { "PATCH", "/balloon/statistics", patch_balloon_stats, true, ANY, METRICS_REQ_NONE },
    { "PATCH", "/balloon/hinting/start", patch_hinting_start, BODY_OPTIONAL, ANY, METRICS_REQ_NONE },
    { "GET", "/balloon/hinting/status", get_hinting_status, false, ANY, METRICS_REQ_NONE },
    { "PATCH", "/balloon/hinting/stop", patch_hinting_stop, false, ANY, METRICS_REQ_NONE },
    { "PUT", "/minnow-console2", put_console2, true, PRE_BOOT, METRICS_REQ_NONE },
    { "PUT", "/serial", put_serial, true, PRE_BOOT, METRICS_REQ_PUT_SERIAL },
    { "PUT", "/logger", put_logger, true, PRE_BOOT, METRICS_REQ_PUT_LOGGER },
    { "PUT", "/metrics", put_metrics, true, PRE_BOOT, METRICS_REQ_PUT_METRICS },
    { "PUT", "/actions", put_action, true, ANY, METRICS_REQ_PUT_ACTIONS },
    { "PATCH", "/vm", patch_vm, true, ANY, METRICS_REQ_NONE },
    { "PUT", "/snapshot/create", put_snapshot_create, true, ANY, METRICS_REQ_NONE },
    { "PUT", "/snapshot/load", put_snapshot_load, true, PRE_BOOT, METRICS_REQ_NONE },
    { "PUT", "/migrate", put_migrate, true, ANY, METRICS_REQ_NONE },
    { "GET", "/migrate", get_migrate, false, ANY, METRICS_REQ_NONE },
    { "GET", "/vm/config", get_vm_config, false, ANY, METRICS_REQ_NONE },
    { "PUT", "/gdb", put_gdb, true, ANY, METRICS_REQ_NONE },
    { "PUT", "/inspect", put_inspect, true, ANY, METRICS_REQ_NONE },
    { "PUT", "/mmds", put_mmds, true, ANY, METRICS_REQ_PUT_MMDS },
    { "PATCH", "/mmds", patch_mmds, true, ANY, METRICS_REQ_PATCH_MMDS },
    { "GET", "/mmds", get_mmds, false, ANY, METRICS_REQ_GET_MMDS },
    { "PUT", "/mmds/config", put_mmds_config, true, PRE_BOOT, METRICS_REQ_PUT_MMDS },
};

/* The route's path matches: exactly, or as prefix + a non-empty id. */
static bool path_matches(const char *pattern, const char *path, const char **id)
{
    size_t n = strlen(pattern);
    *id = NULL;
    if (n > 1 && pattern[n - 1] == '/') {
        if (strncmp(path, pattern, n) || !path[n] || strchr(path + n, '/'))
            return false;
        *id = path + n;
        return true;
    }
    return !strcmp(pattern, path);
}

static void handle_locked(struct api_vmm *a, const char *method, const char *full_path, const char *body,
                          size_t len, struct api_reply *out)
{
    char msg[640];
    a->req = METRICS_REQ_NONE;
    a->lat = METRICS_LAT_NONE;
    /* As in Firecracker: a GET never has a body, whatever its path. */
    if (!strcmp(method, "GET") && len) {
        reply_error(out, 400, "GET request cannot have a body.");
        return;
    }
    /* Trailing slashes are accepted, as Firecracker's parser drops them
     * ("/machine-config/", "/drives/rootfs/"). */
    char path[512];
    size_t plen = strlen(full_path);
    while (plen > 1 && full_path[plen - 1] == '/')
        plen--;
    if (plen >= sizeof path) {
        snprintf(msg, sizeof msg, "Invalid request method and/or path: %s %.200s... (a path of %zu bytes)", method,
                 full_path, plen);
        reply_error(out, 400, msg);
        return;
    }
    snprintf(path, sizeof path, "%.*s", (int)plen, full_path);
    const struct route *rt = NULL;
    bool path_known = false;
    const char *id = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !rt; i++) {
        const char *rid;
        if (!path_matches(routes[i].path, path, &rid))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, method)) {
            rt = &routes[i];
            id = rid;
        }
    }
    if (!rt) {
        snprintf(msg, sizeof msg, "Invalid request method and/or path: %s %.200s%s", method, full_path,
                 path_known ? " (the path takes other methods)" : "");
        /* 400, as Firecracker answers an unknown path or method. */
        reply_error(out, 400, msg);
        return;
    }
    a->req = rt->req;
    if (rt->when == PRE_BOOT && a->vm) {
        snprintf(msg, sizeof msg, "%s %.200s: the requested operation is not supported after starting the "
                 "microVM (pre-boot only)", method, full_path);
        reply_error(out, 400, msg);
        return;
    }
    struct errmsg e = { "" };
    json_t *j = NULL;
    if (rt->body == BODY_OPTIONAL && len) {
        if (!(j = json_fields_parse(body, len, &e))) {
            reply_error(out, 400, e.text);
            return;
        }
    } else if (rt->body == true) {
        if (!len) {
            snprintf(msg, sizeof msg, "%s %.200s: the request needs a JSON body", method, full_path);
            reply_error(out, 400, msg);
            return;
        }
        if (!(j = json_fields_parse(body, len, &e))) {
            reply_error(out, 400, e.text);
            return;
        }
    }
    out->status = 204;
    out->body = NULL;
    int r = rt->fn(a, j, id, out, &e);
    json_decref(j);
    if (!r && rt->when == PRE_BOOT && rt->fn != put_logger && rt->fn != put_metrics && rt->fn != put_snapshot_load)
        a->configured = true;
    if (r) {
        free(out->body);
        out->body = NULL;
        /* 413 for a data store over its limit, as Firecracker answers. */
        reply_error(out, r == -ENOMEM ? 500 : r == -EFBIG ? 413 : 400, e.text);
    }
}

void api_vmm_handle(struct api_vmm *a, const char *method, const char *path, const char *body, size_t len,
                    struct api_reply *out)
{
    out->status = 500;
    out->body = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&a->lock);
    handle_locked(a, method, path, body, len, out);
    enum metrics_req req = a->req;
    enum metrics_lat lat = a->lat;
    pthread_mutex_unlock(&a->lock);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
    metrics_record_api(a->metrics, req, out->status, ns);
    if (lat != METRICS_LAT_NONE && out->status < 400)
        metrics_record_latency(a->metrics, lat, false, ns / 1000);
    /* Errors at Warning with the reason, so a quiet log still shows them. */
    if (out->status >= 400)
        LOG_WARN(a->log, "API %s %.200s: %u %s", method, path, out->status, out->body ? out->body : "");
    else
        LOG_INFO(a->log, "API %s %.200s: %u (%llu us)", method, path, out->status,
                 (unsigned long long)(ns / 1000));
}

struct logger *api_vmm_logger(struct api_vmm *a)
{
    return a->log;
}

struct metrics *api_vmm_metrics(struct api_vmm *a)
{
    return a->metrics;
}

struct mmds_store *api_vmm_mmds(struct api_vmm *a)
{
    return a->mmds;
}
