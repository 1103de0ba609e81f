/* Firecracker's JSON for a VM configuration, read into and written from a
 * struct vm_config. The same readers serve the REST API (one resource per
 * request body) and --config-file (all resources in one document):
 *
 *   { "boot-source":        { "kernel_image_path", "initrd_path", "boot_args",
 *                              "firmware_path" (minnow) },
 *     "machine-config":     { "vcpu_count", "mem_size_mib", "smt", "cpu_template",
 *                              "track_dirty_pages", "huge_pages" },
 *     "drives":             [ { "drive_id", "path_on_host", "is_root_device",
 *                              "is_read_only", "partuuid", "cache_type", "io_engine",
 *                              "rate_limiter", "minnow_serial" (minnow) } ],
 *     "network-interfaces": [ { "iface_id", "host_dev_name", "guest_mac",
 *                              "rx_rate_limiter", "tx_rate_limiter",
 *                              "minnow_user", "minnow_hostfwd" (minnow) } ],
 *     "vsock":              { "guest_cid", "uds_path", "vsock_id" },
 *     "entropy":            { "rate_limiter" },
 *     "balloon":            { "amount_mib", "deflate_on_oom", "stats_polling_interval_s",
 *                              "free_page_hinting", "free_page_reporting" },
 *     "minnow-console2":    { "uds_path" } | { "pty": true }   (minnow),
 *     "logger":             { "log_path", "level", "show_level", "show_log_origin" },
 *     "metrics":            { "metrics_path", "emit_id" },
 *     "mmds-config":        { "version", "network_interfaces", "ipv4_address",
 *                              "imds_compat" } }
 *
 * Unknown top-level keys are ignored, as Firecracker ignores them, and
 * named in vm_config.ignored_keys for a warning; unknown fields inside a
 * section are refused.
 *
 * The logger and metrics sections configure the monitor, not the board:
 * --config-file applies them as PUT /logger and PUT /metrics would (with
 * the same checks); GET /vm/config shows what was applied.
 *
 * minnow's additions: boot-source.firmware_path boots the kernel under
 * that firmware (e.g. OpenSBI's fw_dynamic.bin) instead of minnow's SBI; a
 * network interface with "minnow_user": true (and no host_dev_name) uses
 * user-mode networking (slirp), with "minnow_hostfwd" a list of
 * "[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT" forwards; drives take
 * "minnow_serial" (the GET_ID answer, up to 20 bytes); "minnow-console2" is
 * a second console (hvc0) on a Unix socket or a pty.
 *
 * Fields that cannot apply to a RISC-V software VM are refused with the
 * reason (smt, cpu_template, huge_pages other than "None"/"2M", vhost-user),
 * as are what minnow does not have yet (the entropy device's rate
 * limiter, an MTU, free page hinting/reporting); their "off" values
 * (false, "None", null) are accepted. Rate limiters are Firecracker's
 * {"bandwidth", "ops"} pair of {"size", "one_time_burst", "refill_time"
 * (ms)} token buckets. io_engine "Sync" is minnow's sync engine, "Async" io_uring;
 * without it minnow picks (io_uring when the host has it). */
#ifndef MINNOW_API_VM_CONFIG_JSON_H
#define MINNOW_API_VM_CONFIG_JSON_H

#include <jansson.h>

#include "api/vm_config.h"
#include "util/errmsg.h"

/* One resource each (PUT semantics: the resource is replaced whole). A
 * path id (PUT /drives/{id}) must match the body's id; NULL: none. */
int vm_config_json_boot_source(struct vm_config *c, const json_t *j, struct errmsg *e);
/* patch: only the fields given change (PATCH /machine-config). */
int vm_config_json_machine(struct vm_config *c, const json_t *j, bool patch, struct errmsg *e);
int vm_config_json_drive(struct vm_config *c, const json_t *j, const char *path_id, struct errmsg *e);
int vm_config_json_net(struct vm_config *c, const json_t *j, const char *path_id, struct errmsg *e);
/* PATCH /drives/{id} ("drive_id", "path_on_host", "rate_limiter"):
 * checks the body against drive *index and returns what changes, the
 * limiter buckets in *update and the new backing file in *new_path (NULL:
 * the same), for the caller to apply to the running device and then to
 * the configuration (vm_config_merge_rate_limiter, vm_config_set_drive_path).
 * PATCH /network-interfaces/{id} ("iface_id", "rx_rate_limiter",
 * "tx_rate_limiter"): the limiter buckets given are merged into the
 * configuration of interface *index and returned in *rx / *tx for the
 * running device. */
int vm_config_json_drive_patch(const struct vm_config *c, const json_t *j, const char *path_id, unsigned *index,
                               struct rate_limiter_config *update, const char **new_path, struct errmsg *e);
int vm_config_json_net_patch(struct vm_config *c, const json_t *j, const char *path_id, unsigned *index,
                             struct rate_limiter_config *rx, struct rate_limiter_config *tx, struct errmsg *e);
int vm_config_json_vsock(struct vm_config *c, const json_t *j, struct errmsg *e);
int vm_config_json_entropy(struct vm_config *c, const json_t *j, struct errmsg *e);
int vm_config_json_balloon(struct vm_config *c, const json_t *j, struct errmsg *e);
int vm_config_json_console2(struct vm_config *c, const json_t *j, struct errmsg *e);
/* PUT /mmds/config and the "mmds-config" section: {"version": "V1"|"V2"
 * (default V1), "network_interfaces": [ids of interfaces configured
 * already], "ipv4_address" (default 169.254.169.254, link-local),
 * "imds_compat"}; dump: null when not configured. */
int vm_config_json_mmds(struct vm_config *c, const json_t *j, struct errmsg *e);
json_t *vm_config_json_mmds_dump(const struct vm_config *c);
/* PUT /serial: {"serial_out_path", "rate_limiter"}: the guest console's
 * output goes to that file (created, appended to) instead of the
 * terminal; rate_limiter is one TokenBucket {"size", "one_time_burst",
 * "refill_time"} of bytes (Firecracker's: not a RateLimiter pair). */
int vm_config_json_serial(struct vm_config *c, const json_t *j, struct errmsg *e);
/* PUT /logger and PUT /metrics bodies (Firecracker's Logger and Metrics):
 * checked and read into *out, whose strings point into j (valid while j
 * is). logger: log_path, level ("Error", "Warning", "Info", "Debug",
 * "Trace", "Off", any case; default Info), show_level, show_log_origin;
 * module (only lines from source files under src/ whose path starts with
 * it, e.g. "api" or "devices/virtio_net"). metrics: metrics_path
 * (required), emit_id (minnow: each line carries the instance id);
 * "properties" is refused. */
int vm_config_json_logger_read(const json_t *j, struct vm_config_logger *out, struct errmsg *e);
int vm_config_json_metrics_read(const json_t *j, struct vm_config_metrics *out, struct errmsg *e);

/* A whole document (the --config-file format) into a fresh config; c is
 * initialised here and left empty on error. */
int vm_config_json_load(struct vm_config *c, const char *text, size_t len, struct errmsg *e);
int vm_config_json_load_file(struct vm_config *c, const char *path, struct errmsg *e);

/* The whole document (GET /vm/config), and machine-config alone; NULL
 * only when out of memory. */
json_t *vm_config_json_dump(const struct vm_config *c);
json_t *vm_config_json_machine_dump(const struct vm_config *c);
json_t *vm_config_json_balloon_dump(const struct vm_config *c);

#endif
