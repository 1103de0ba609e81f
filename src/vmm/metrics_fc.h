/* The Firecracker half of a metrics line: its key names and its per-flush
 * semantics. Firecracker's counters (SharedIncMetric) show what happened
 * since the previous line, so each line here holds deltas too; its stored
 * values (SharedStoreMetric: start-up times, the last pause or snapshot
 * duration, seccomp faults) are written as they are. Only what minnow
 * counts is written; x86- or KVM-only keys (i8042, exit_io_*,
 * kvmclock_ctrl_fails) have no meaning on this board and are left out.
 *
 *   api_server: process_startup_time_us, process_startup_time_cpu_us
 *   get_api_requests, put_api_requests, patch_api_requests: <op>_count
 *     (and <op>_fails for PUT and PATCH: the request got a 4xx or 5xx)
 *   latencies_us: full_create_snapshot, diff_create_snapshot,
 *     load_snapshot, pause_vm, resume_vm (the API request), and the
 *     vmm_ variants (the VM's part of it)
 *   block_<drive_id>, block (their sum): read_count, read_bytes,
 *     write_count, write_bytes, flush_count, execute_fails
 *   net_<iface_id>, net (their sum): rx_packets_count, rx_bytes_count,
 *     rx_fails (frames the guest had no room for), tx_packets_count,
 *     tx_bytes_count, tx_fails (refused by the backend), tx_malformed_frames,
 *     tx_spoofed_mac_count (refused by the frame validator)
 *   mmds: rx_accepted (frames from the guest the metadata service took),
 *     rx_no_token, rx_invalid_token (its GETs without a token / with one
 *     not valid)
 *   entropy: entropy_bytes, entropy_rate_limiter_throttled
 *   balloon: free_page_report_count, free_page_hint_count (buffers the
 *     guest reported / hinted), free_page_report_freed, free_page_hint_freed
 *     (bytes given back to the host), free_page_report_fails,
 *     free_page_hint_fails (chains refused)
 *   uart: rate_limiter_dropped_bytes (console output the serial rate
 *     limiter dropped)
 *   vcpu: exit_mmio_read, exit_mmio_write (all harts)
 *   logger: missed_metrics_count
 *   seccomp: num_faults
 *   signals: sighup (a stored value: 1 once SIGHUP is ending the process)
 *
 * Used by metrics.c only, under its lock. */
#ifndef MINNOW_VMM_METRICS_FC_H
#define MINNOW_VMM_METRICS_FC_H

#include <stdint.h>

#include <jansson.h>

#include "machine/virt_devices.h"
#include "vmm/metrics.h"

#define METRICS_NAME_MAX 80u

struct metrics_dev_prev {
    uint64_t v[9];
};

struct metrics_fc {
    uint64_t startup_us, startup_cpu_us;
    uint64_t req[METRICS_REQ_COUNT][2], req_prev[METRICS_REQ_COUNT][2];   /* [0] count, [1] fails */
    uint64_t lat_us[METRICS_LAT_COUNT][2];                                /* [0] API, [1] vmm */
    char dev_name[VIRT_MAX_DEVICES][METRICS_NAME_MAX];                    /* "": unnamed slot */
    struct metrics_dev_prev dev_prev[VIRT_MAX_DEVICES];
    uint64_t mmio_prev[2];
    uint64_t dropped_prev;
    uint64_t mmds_prev;
    uint64_t uart_dropped_prev;
    metrics_mmds_counts_fn *mmds_counts;   /* NULL: no MMDS store */
    void *mmds_opaque;
    uint64_t mmds_token_prev[2];
    uint64_t sighup;
};

struct virt;

/* Forget the devices' previous values (a new VM is attached). */
void metrics_fc_reset_devices(struct metrics_fc *f);

/* Adds the Firecracker keys to line; v may be NULL (no VM yet). */
void metrics_fc_add(struct metrics_fc *f, json_t *line, struct virt *v, uint64_t lines_dropped);

#endif
