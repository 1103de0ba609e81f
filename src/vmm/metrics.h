/* The monitor's metrics (Firecracker's PUT /metrics): one JSON object per
 * line, appended to a file or FIFO when the sink is configured, when the
 * VM starts, every period (60 s) on a small timer thread, on demand
 * (FlushMetrics) and when the run ends. Each line holds:
 *
 *   utc_timestamp_ms, uptime_ms (since metrics_create), reason,
 *   api: requests, errors (4xx/5xx), latency_us {p50, p99, max, mean}
 *        over the last 1024 requests (max over all),
 *   vm: state (Not started, Running, Paused, Ended), uptime_ms since start,
 *   harts: [{id, instret}],
 *   sbi: calls per extension,
 *   devices: [{slot, kind, ...what the device counts}]: blk read_ops,
 *            read_bytes, write_ops, write_bytes, flush_ops, other_ops,
 *            errors (and io_engine); net rx/tx frames and bytes, drops;
 *            balloon target/actual/inflated pages,
 *   monitor: rss_bytes (/proc/self/statm), max_rss_bytes (getrusage),
 *            metrics_lines_dropped (a full FIFO, a failed write),
 *   id when asked for (emit_id).
 *
 * Counters are cumulative since start (Firecracker resets them per flush;
 * cumulative lines are easier to diff and lose nothing to a dropped line).
 * The harts' instruction counts are read while they run, without stopping
 * them: each is a recent value, not a snapshot consistent across harts.
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

/* One API request: its status and how long it took. */
void metrics_record_api(struct metrics *m, unsigned status, uint64_t latency_ns);

/* Writes one line now. reason says why ("FlushMetrics", "start", ...).
 * Fails when no sink is configured or the write failed. */
int metrics_flush(struct metrics *m, const char *reason, struct errmsg *e);

/* The line metrics_flush would write (malloc'd, no newline), or NULL when
 * out of memory. */
char *metrics_line(struct metrics *m, const char *reason);

#endif
