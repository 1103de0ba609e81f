/* The monitor's metrics (Firecracker's PUT /metrics): one JSON object per
 * line, appended to a file or FIFO when the sink is configured, when the
 * VM starts, every period (60 s) on a small timer thread, on demand
 * (FlushMetrics) and when the run ends.
 *
 * A line holds Firecracker's keys, with its semantics: counters say what
 * happened since the previous line (see metrics_fc.h for the keys), and
 * under "minnow" what minnow counts beyond them, cumulative since start:
 *
 *   uptime_ms (since metrics_create), reason,
 *   api: requests, errors (4xx/5xx), latency_us {p50, p99, max, mean}
 *        over the last 1024 requests (max over all),
 *   vm: state (Not started, Running, Paused, Ended), uptime_ms since start,
 *        and once the run has ended end_reason and exit_status
 *        (metrics_set_end),
 *   harts: [{id, instret, exits {mmio, sbi, wfi}}],
 *   sbi: calls per extension,
 *   devices: [{slot, kind, ...what the device counts}]: blk read_ops,
 *            read_bytes, write_ops, write_bytes, flush_ops, other_ops,
 *            errors (and io_engine); net rx/tx frames and bytes, drops;
 *            balloon target/actual/inflated pages,
 *   monitor: rss_bytes (/proc/self/statm), max_rss_bytes (getrusage),
 *            metrics_lines_dropped (a full FIFO, a failed write),
 *
 * and "id" when asked for (emit_id).
 * The harts' counts are read while they run, without stopping them: each
 * is a recent value, not a snapshot consistent across harts.
 * Thread-safe. */
#ifndef MINNOW_VMM_METRICS_H
#define MINNOW_VMM_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/errmsg.h"

struct vm;
struct metrics;

/* period_ms: how often the timer writes a line once a sink is set (0: never). */
int metrics_create(struct metrics **out, unsigned period_ms, struct errmsg *e);
/* Stops the timer thread. Detach the VM before destroying it. */
void metrics_destroy(struct metrics *m);

/* Opens path (file created 0600, or a FIFO opened non-blocking: a line the
 * reader has no room for is dropped), writes the first line and starts the
 * timer. Once only: a second call fails, as in Firecracker. id (NULL:
 * none) is written as "id" on every line. */
int metrics_configure(struct metrics *m, const char *path, const char *id, struct errmsg *e);
bool metrics_configured(struct metrics *m);

/* The VM to read (NULL detaches it; returns once no flush uses the old one). */
void metrics_attach_vm(struct metrics *m, struct vm *vm);

/* Firecracker's API request counters (get_api_requests, put_api_requests,
 * patch_api_requests). */
enum metrics_req {
    METRICS_REQ_NONE,
    METRICS_REQ_GET_INSTANCE_INFO, METRICS_REQ_GET_MACHINE_CFG, METRICS_REQ_GET_MMDS, METRICS_REQ_GET_VMM_VERSION,
    METRICS_REQ_PUT_ACTIONS, METRICS_REQ_PUT_BOOT_SOURCE, METRICS_REQ_PUT_DRIVE, METRICS_REQ_PUT_LOGGER,
    METRICS_REQ_PUT_MACHINE_CFG, METRICS_REQ_PUT_CPU_CFG, METRICS_REQ_PUT_METRICS, METRICS_REQ_PUT_NETWORK,
    METRICS_REQ_PUT_MMDS, METRICS_REQ_PUT_VSOCK, METRICS_REQ_PUT_PMEM, METRICS_REQ_PUT_SERIAL,
    METRICS_REQ_PUT_HOTPLUG_MEMORY,
    METRICS_REQ_PATCH_DRIVE, METRICS_REQ_PATCH_NETWORK, METRICS_REQ_PATCH_MACHINE_CFG, METRICS_REQ_PATCH_MMDS,
    METRICS_REQ_PATCH_HOTPLUG_MEMORY,
    METRICS_REQ_COUNT
};

/* Firecracker's latencies_us: the last duration of each. */
enum metrics_lat {
    METRICS_LAT_NONE,
    METRICS_LAT_FULL_CREATE_SNAPSHOT, METRICS_LAT_DIFF_CREATE_SNAPSHOT, METRICS_LAT_LOAD_SNAPSHOT,
    METRICS_LAT_PAUSE_VM, METRICS_LAT_RESUME_VM,
    METRICS_LAT_COUNT
};

/* One API request: what it was (METRICS_REQ_NONE: none of Firecracker's
 * counters), its status and how long it took. */
void metrics_record_api(struct metrics *m, enum metrics_req req, unsigned status, uint64_t latency_ns);

/* The duration of an operation, at the API level (vmm false: the whole
 * request) or the VM's part of it (vmm true). */
void metrics_record_latency(struct metrics *m, enum metrics_lat which, bool vmm, uint64_t us);

/* Firecracker's api_server.process_startup_time_us and _cpu_us. */
void metrics_set_startup(struct metrics *m, uint64_t wall_us, uint64_t cpu_us);

/* Names a device slot of the attached VM after its API id: "block_<id>"
 * or "net_<id>" in Firecracker's keys. Call after metrics_attach_vm. */
void metrics_name_device(struct metrics *m, unsigned slot, const char *prefix, const char *id);

/* How the run ended, for the lines written from now on: why (a phrase)
 * and the process's exit status. */
void metrics_set_end(struct metrics *m, const char *why, int exit_status);

/* Where Firecracker's mmds.rx_no_token and rx_invalid_token come from
 * (the MMDS's data store, which outlives the metrics): counts fills both
 * running totals. */
typedef void metrics_mmds_counts_fn(void *opaque, uint64_t *no_token, uint64_t *invalid_token);
void metrics_set_mmds_source(struct metrics *m, metrics_mmds_counts_fn *counts, void *opaque);

/* The process ends on a signal Firecracker intercepts (only SIGHUP is
 * one minnow handles so): signals.<name> is 1 in the lines from now on. */
void metrics_set_signal(struct metrics *m, int signo);

/* Writes one line now. reason says why ("FlushMetrics", "start", ...).
 * Fails when no sink is configured or the write failed. */
int metrics_flush(struct metrics *m, const char *reason, struct errmsg *e);

/* The line metrics_flush would write (malloc'd, no newline), or NULL when
 * out of memory. */
char *metrics_line(struct metrics *m, const char *reason);

#endif
