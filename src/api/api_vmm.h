/* The REST API's resources and state, without HTTP: a request (method,
 * path, body) in, a status and a JSON body out, with Firecracker's
 * semantics. Before InstanceStart the PUT/PATCH requests fill one
 * struct vm_config (through vm_config_json, as --config-file does);
 * InstanceStart builds and starts the VM from it; after that the pre-boot
 * resources are refused and PATCH /vm pauses and resumes.
 *
 * Routes: GET /, GET /version (firecracker_version: the Firecracker API
 * version minnow implements, api_version.h; minnow_version), PUT /boot-source, GET|PUT|PATCH
 * /machine-config, PUT /drives/{id}, PUT /network-interfaces/{id} (PATCH
 * both after start: rate limiters, see vm_config_json_drive_patch), PUT
 * /vsock, PUT /entropy, GET|PUT|PATCH /balloon, GET|PATCH
 * /balloon/statistics (polled by a thread every stats_polling_interval_s
 * once started), PUT /minnow-console2, PUT
 * /logger, PUT /metrics, PUT /actions (InstanceStart, FlushMetrics),
 * PATCH /vm (Paused | Resumed), GET /vm/config, GET|PUT|PATCH /mmds and
 * PUT /mmds/config (api/api_mmds.h).
 * Success is 200 with a body or 204; every error is 400 with
 * {"fault_message": "..."} naming the resource and field (Firecracker's
 * convention), an unknown path or method included, except an MMDS data
 * store over its limit (413, as in Firecracker). As in Firecracker, a
 * GET with a body is refused (400), trailing slashes on a path are
 * ignored, and PUT /boot-source, /drives/{id} and /network-interfaces/{id}
 * open what they name before accepting it (api_put_check.h).
 *
 * Thread-safe: every request runs under the object's lock. */
#ifndef MINNOW_API_API_VMM_H
#define MINNOW_API_API_VMM_H

#include <stddef.h>

#include "api/api_snapshot.h"
#include "api/mmds_store.h"
#include "api/path_allow.h"
#include "api/vm_config.h"
#include "vmm/migration.h"
#include "util/errmsg.h"
#include "util/log.h"
#include "vmm/metrics.h"
#include "vmm/vm.h"

/* How often the metrics are written once PUT /metrics set their path. */
#define API_VMM_METRICS_PERIOD_MS 60000u

struct api_reply {
    unsigned status;
    char *body;       /* JSON text (malloc'd), NULL for no body */
};

struct api_vmm;

/* id names the instance in GET / (NULL: "minnow"). */
int api_vmm_create(struct api_vmm **out, const char *id, struct errmsg *e);
/* Destroys the VM too (stopping it if it still runs). */
void api_vmm_destroy(struct api_vmm *a);

/* Replaces the configuration (before start); takes ownership of *cfg and
 * leaves it empty. Its logger and metrics sections, if any, are applied
 * as PUT /logger and PUT /metrics would; that can fail (a bad path, the
 * metrics configured already). */
int api_vmm_configure(struct api_vmm *a, struct vm_config *cfg, struct errmsg *e);

/* InstanceStart. *config_error is set when the configuration itself was
 * the problem (as opposed to building or starting the VM). */
int api_vmm_start(struct api_vmm *a, int *config_error, struct errmsg *e);

/* PUT /snapshot/load's work, for `minnow restore` too: only into a fresh
 * instance (nothing configured but the logger and metrics). */
int api_vmm_restore(struct api_vmm *a, const struct api_snapshot_load *p, struct errmsg *e);

/* `minnow --incoming`: receives a migrating VM on listen_fd
 * (vmm/migration.h) from a source that passes t's handshake, whose
 * configuration names only paths inside `allow`, and runs it with engine
 * (enum hart_engine; -1: the source's). -EINTR: stopped by a signal
 * (t->stop_fd). */
int api_vmm_incoming(struct api_vmm *a, int listen_fd, const struct migration_target *t,
                     const struct path_allow *allow, int engine, struct errmsg *e);

/* --boot-timer: the VM InstanceStart builds gets Firecracker's boot timer
 * device (devices/boot_timer.h), and each signal the guest gives through
 * it is logged at Info as "Guest-boot-time = N us N ms, N CPU us N CPU
 * ms", timed from the InstanceStart (wall clock and this process's CPU
 * time), as Firecracker logs it. Call before the start. */
void api_vmm_enable_boot_timer(struct api_vmm *a);

/* An fd that becomes readable once the VM has started (for poll()). */
int api_vmm_started_fd(const struct api_vmm *a);
/* The VM once started, else NULL. */
struct vm *api_vmm_vm(struct api_vmm *a);

/* The logger and metrics PUT /logger and PUT /metrics configure (the CLI's
 * --log-path / --metrics-path too); they live as long as a. */
struct logger *api_vmm_logger(struct api_vmm *a);
struct metrics *api_vmm_metrics(struct api_vmm *a);
/* The MMDS data store (PUT /mmds); the command line sets its limit and
 * initial contents (--mmds-size-limit, --metadata) before serving. */
struct mmds_store *api_vmm_mmds(struct api_vmm *a);

/* One request (logged at Info, or Warning when it failed, and counted in
 * the metrics). body may be NULL when len is 0. The caller frees
 * out->body. */
void api_vmm_handle(struct api_vmm *a, const char *method, const char *path, const char *body, size_t len,
                    struct api_reply *out);

#endif
