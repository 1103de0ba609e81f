/* The Firecracker half of a metrics line (see metrics_fc.h). */
#include "vmm/metrics_fc.h"

#include <string.h>

#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "machine/virt.h"
#include "vmm/sandbox.h"

enum group { GET, PUT, PATCH };

static const struct {
    enum group group;
    const char *name;
} reqs[METRICS_REQ_COUNT] = {
    [METRICS_REQ_GET_INSTANCE_INFO] = { GET, "instance_info" },
    [METRICS_REQ_GET_MACHINE_CFG] = { GET, "machine_cfg" },
    [METRICS_REQ_GET_MMDS] = { GET, "mmds" },
    [METRICS_REQ_GET_VMM_VERSION] = { GET, "vmm_version" },
    [METRICS_REQ_PUT_ACTIONS] = { PUT, "actions" },
    [METRICS_REQ_PUT_BOOT_SOURCE] = { PUT, "boot_source" },
    [METRICS_REQ_PUT_DRIVE] = { PUT, "drive" },
    [METRICS_REQ_PUT_LOGGER] = { PUT, "logger" },
    [METRICS_REQ_PUT_MACHINE_CFG] = { PUT, "machine_cfg" },
    [METRICS_REQ_PUT_CPU_CFG] = { PUT, "cpu_cfg" },
    [METRICS_REQ_PUT_METRICS] = { PUT, "metrics" },
    [METRICS_REQ_PUT_NETWORK] = { PUT, "network" },
    [METRICS_REQ_PUT_MMDS] = { PUT, "mmds" },
    [METRICS_REQ_PUT_VSOCK] = { PUT, "vsock" },
    [METRICS_REQ_PUT_PMEM] = { PUT, "pmem" },
    [METRICS_REQ_PUT_SERIAL] = { PUT, "serial" },
    [METRICS_REQ_PUT_HOTPLUG_MEMORY] = { PUT, "hotplug_memory" },
    [METRICS_REQ_PATCH_DRIVE] = { PATCH, "drive" },
    [METRICS_REQ_PATCH_NETWORK] = { PATCH, "network" },
    [METRICS_REQ_PATCH_MACHINE_CFG] = { PATCH, "machine_cfg" },
    [METRICS_REQ_PATCH_MMDS] = { PATCH, "mmds" },
    [METRICS_REQ_PATCH_HOTPLUG_MEMORY] = { PATCH, "hotplug_memory" },
};

static const char *const lat_names[METRICS_LAT_COUNT] = {
    [METRICS_LAT_FULL_CREATE_SNAPSHOT] = "full_create_snapshot",
    [METRICS_LAT_DIFF_CREATE_SNAPSHOT] = "diff_create_snapshot",
    [METRICS_LAT_LOAD_SNAPSHOT] = "load_snapshot",
    [METRICS_LAT_PAUSE_VM] = "pause_vm",
    [METRICS_LAT_RESUME_VM] = "resume_vm",
};

/* What happened since the previous line; a counter that went back (a
 * device created anew) counts from zero. */
static uint64_t delta(uint64_t now, uint64_t *prev)
{
    uint64_t d = now >= *prev ? now - *prev : now;
    *prev = now;
    return d;
}

static void set_u64(json_t *o, const char *key, uint64_t v)
{
    json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* The object at line[key], created when absent. */
static json_t *section(json_t *line, const char *key)
{
    json_t *o = json_object_get(line, key);
    if (!o) {
        o = json_object();
        json_object_set_new(line, key, o);
    }
    return o;
}

static void add_u64(json_t *o, const char *key, uint64_t v)
{
    json_t *old = json_object_get(o, key);
    set_u64(o, key, (old ? (uint64_t)json_integer_value(old) : 0) + v);
}

static void requests(struct metrics_fc *f, json_t *line)
{
    static const char *const groups[] = { [GET] = "get_api_requests", [PUT] = "put_api_requests",
                                          [PATCH] = "patch_api_requests" };
    char key[64];
    for (unsigned i = 1; i < METRICS_REQ_COUNT; i++) {
        json_t *o = section(line, groups[reqs[i].group]);
        snprintf(key, sizeof key, "%s_count", reqs[i].name);
        set_u64(o, key, delta(f->req[i][0], &f->req_prev[i][0]));
        if (reqs[i].group != GET) {
            snprintf(key, sizeof key, "%s_fails", reqs[i].name);
            set_u64(o, key, delta(f->req[i][1], &f->req_prev[i][1]));
        }
    }
}

static void latencies(struct metrics_fc *f, json_t *line)
{
    json_t *o = section(line, "latencies_us");
    char key[64];
    for (unsigned i = 1; i < METRICS_LAT_COUNT; i++) {
        set_u64(o, lat_names[i], f->lat_us[i][0]);
        snprintf(key, sizeof key, "vmm_%s", lat_names[i]);
        set_u64(o, key, f->lat_us[i][1]);
    }
}

/* One device's counters under its own key and, summed, under the kind's. */
static void device(json_t *line, const char *name, const char *sum, const char *const keys[], const uint64_t *v,
                   unsigned n)
{
    json_t *own = section(line, name), *all = section(line, sum);
    for (unsigned i = 0; i < n; i++) {
        set_u64(own, keys[i], v[i]);
        add_u64(all, keys[i], v[i]);
    }
}

/* Firecracker's balloon free page metrics (its *_freed are bytes). */
static void balloon(json_t *line, struct virtio_balloon *b, uint64_t *p)
{
    struct virtio_balloon_info in;
    virtio_balloon_info(b, &in);
    json_t *o = section(line, "balloon");
    set_u64(o, "free_page_report_count", delta(in.report_buffers, &p[0]));
    set_u64(o, "free_page_report_freed", delta(in.reported_pages * VIRTIO_BALLOON_PAGE_SIZE, &p[1]));
    set_u64(o, "free_page_report_fails", delta(in.report_refused, &p[2]));
    set_u64(o, "free_page_hint_count", delta(in.hint_buffers, &p[3]));
    set_u64(o, "free_page_hint_freed", delta(in.hinted_pages * VIRTIO_BALLOON_PAGE_SIZE, &p[4]));
    set_u64(o, "free_page_hint_fails", delta(in.hint_refused, &p[5]));
}

static void devices(struct metrics_fc *f, json_t *line, struct virt *v)
{
    static const char *const blk_keys[] = { "read_count", "read_bytes", "write_count", "write_bytes",
                                            "flush_count", "execute_fails" };
    static const char *const net_keys[] = { "rx_packets_count", "rx_bytes_count", "rx_fails",
                                            "tx_packets_count", "tx_bytes_count", "tx_fails",
                                            "tx_malformed_frames", "tx_spoofed_mac_count" };
    uint64_t d[9], mmds = 0;
    for (unsigned i = 0; i < v->ndevices && i < VIRT_MAX_DEVICES; i++) {
        uint64_t *p = f->dev_prev[i].v;
        if (v->devices[i].kind == VIRT_DEV_NET) {
            struct virtio_net_stats s;
            virtio_net_stats(v->devices[i].dev, &s);
            mmds += s.tx_mmds;
        } else if (v->devices[i].kind == VIRT_DEV_RNG) {
            struct virtio_rng_stats s;
            virtio_rng_stats(v->devices[i].dev, &s);
            json_object_set_new(line, "entropy", json_pack("{s:I, s:I}", "entropy_bytes",
                                                           (json_int_t)delta(s.bytes, &p[0]),
                                                           "entropy_rate_limiter_throttled",
                                                           (json_int_t)delta(s.throttled, &p[1])));
        } else if (v->devices[i].kind == VIRT_DEV_BALLOON) {
            balloon(line, v->devices[i].dev, p);
        }
        if (!f->dev_name[i][0])
            continue;
        if (v->devices[i].kind == VIRT_DEV_BLK) {
            struct virtio_blk_stats s;
            virtio_blk_stats(v->devices[i].dev, &s);
            const uint64_t now[] = { s.read_ops, s.read_bytes, s.write_ops, s.write_bytes, s.flush_ops, s.errors };
            for (unsigned k = 0; k < 6; k++)
                d[k] = delta(now[k], &p[k]);
            device(line, f->dev_name[i], "block", blk_keys, d, 6);
        } else if (v->devices[i].kind == VIRT_DEV_NET) {
            struct virtio_net_stats s;
            virtio_net_stats(v->devices[i].dev, &s);
            const uint64_t now[] = { s.rx_frames, s.rx_bytes, s.rx_dropped, s.tx_frames, s.tx_bytes,
                                     s.tx_dropped, s.tx_bad, s.tx_filtered };
            for (unsigned k = 0; k < 8; k++)
                d[k] = delta(now[k], &p[k]);
            device(line, f->dev_name[i], "net", net_keys, d, 8);
        }
    }
    json_t *mo = section(line, "mmds");
    set_u64(mo, "rx_accepted", delta(mmds, &f->mmds_prev));
    if (f->mmds_counts) {
        uint64_t no_token, invalid;
        f->mmds_counts(f->mmds_opaque, &no_token, &invalid);
        set_u64(mo, "rx_no_token", delta(no_token, &f->mmds_token_prev[0]));
        set_u64(mo, "rx_invalid_token", delta(invalid, &f->mmds_token_prev[1]));
    }
}

static void vcpu(struct metrics_fc *f, json_t *line, struct virt *v)
{
    uint64_t rd = 0, wr = 0;
    for (unsigned i = 0; i < v->nharts; i++) {
        struct hart_exit_counts x;
        hart_exit_counts(v->harts[i].hart, &x);
        rd += x.mmio_read;
        wr += x.mmio_write;
    }
    json_t *o = section(line, "vcpu");
    set_u64(o, "exit_mmio_read", delta(rd, &f->mmio_prev[0]));
    set_u64(o, "exit_mmio_write", delta(wr, &f->mmio_prev[1]));
}

void metrics_fc_reset_devices(struct metrics_fc *f)
{
    memset(f->dev_name, 0, sizeof f->dev_name);
    memset(f->dev_prev, 0, sizeof f->dev_prev);
    memset(f->mmio_prev, 0, sizeof f->mmio_prev);
    f->mmds_prev = 0;
    f->uart_dropped_prev = 0;
}

void metrics_fc_add(struct metrics_fc *f, json_t *line, struct virt *v, uint64_t lines_dropped)
{
    json_object_set_new(line, "api_server", json_pack("{s:I, s:I}", "process_startup_time_us",
                                                      (json_int_t)f->startup_us, "process_startup_time_cpu_us",
                                                      (json_int_t)f->startup_cpu_us));
    requests(f, line);
    latencies(f, line);
    if (v) {
        devices(f, line, v);
        vcpu(f, line, v);
        json_object_set_new(line, "uart", json_pack("{s:I}", "rate_limiter_dropped_bytes",
                                                    (json_int_t)delta(virt_console_dropped(v), &f->uart_dropped_prev)));
    }
    json_object_set_new(line, "logger", json_pack("{s:I}", "missed_metrics_count",
                                                  (json_int_t)delta(lines_dropped, &f->dropped_prev)));
    /* A stored value in Firecracker; the first fault ends the process, so
     * a line that gets written shows 0. */
    json_object_set_new(line, "seccomp", json_pack("{s:I}", "num_faults", (json_int_t)sandbox_num_faults()));
    json_object_set_new(line, "signals", json_pack("{s:I}", "sighup", (json_int_t)f->sighup));
}
