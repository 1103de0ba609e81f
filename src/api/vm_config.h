/* A VM's configuration as the control plane sees it, in Firecracker's
 * shape (boot source, machine config, drives and network interfaces by id,
 * one vsock, entropy and balloon device), plus minnow's own additions
 * (firmware path, user-mode networking, a second console). The CLI options,
 * the --config-file JSON and the REST API all fill this one struct through
 * the setters below, and vm_config_build turns it into the board's
 * struct virt_config, so the three front ends cannot drift apart.
 *
 * The struct owns copies of every string. Setters validate what they can
 * without touching the host (ranges, ids, duplicates, the slot count);
 * vm_config_build checks the rest that needs the whole picture (a kernel
 * is set, the balloon fits in RAM). Errors name the resource and field. */
#ifndef MINNOW_API_VM_CONFIG_H
#define MINNOW_API_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/block_file.h"
#include "backends/chardev.h"
#include "backends/net_spec.h"
#include "machine/virt.h"
#include "vmm/vm.h"
#include "util/errmsg.h"
#include "util/log.h"
#include "util/rate_limiter.h"

#define VM_CONFIG_ID_MAX 64u               /* drive_id / iface_id length */
#define VM_CONFIG_DEFAULT_MEM_MIB 128u     /* Firecracker's default */
#define VM_CONFIG_BOOTARGS_MAX 4096u

/* A Unix socket path's room (sun_path). */
#define VM_CONFIG_GDB_PATH_MAX 108u

struct vm_config_boot {
    char *kernel_image_path;   /* NULL: not set */
    char *initrd_path;         /* NULL: none */
    char *boot_args;           /* NULL: none */
    char *firmware_path;       /* minnow: NULL = direct boot under minnow's SBI */
};

struct vm_config_machine {
    unsigned vcpu_count;       /* 1..VIRT_MAX_HARTS */
    uint64_t mem_size;         /* bytes (the JSON says MiB; the CLI allows 4K steps) */
    enum hart_engine engine;   /* minnow: "engine" (interp, jit); interp when not given */
    /* Firecracker's track_dirty_pages: minnow always knows the pages a
     * Diff snapshot needs, so this is only kept and reported. */
    bool track_dirty_pages;
    /* Firecracker's huge_pages "2M": minnow's anonymous guest RAM is
     * always advised to transparent huge pages (MADV_HUGEPAGE), so "2M"
     * only changes what is reported; "None" and "2M" are accepted. */
    bool huge_pages_2m;
    /* Firecracker's gdb_socket_path: a gdb stub on this Unix socket, the
     * harts held at reset until gdb attaches; "": none. */
    char gdb_socket_path[VM_CONFIG_GDB_PATH_MAX];
};

enum vm_config_cache { VM_CONFIG_CACHE_UNSAFE, VM_CONFIG_CACHE_WRITEBACK };

struct vm_config_drive {
    char *drive_id;
    char *path_on_host;
    bool is_root_device;
    bool is_read_only;
    char *partuuid;            /* NULL: root=/dev/vda */
    enum vm_config_cache cache_type;
    enum block_file_engine engine;  /* io_engine; AUTO when not given */
    char *serial;              /* minnow: GET_ID answer, NULL: none */
    struct rate_limiter_config rate_limiter;   /* buckets absent: no limit */
};

struct vm_config_net {
    char *iface_id;
    struct net_spec spec;      /* tap (host_dev_name) or minnow user-mode */
    struct rate_limiter_config rx_rate_limiter, tx_rate_limiter;
};

struct vm_config_vsock {
    bool present;
    uint64_t guest_cid;
    char *uds_path;
    char *vsock_id;            /* Firecracker's deprecated id, kept for round trips */
};

struct vm_config_balloon {
    bool present;
    uint32_t amount_mib;
    bool deflate_on_oom;
    uint32_t stats_polling_interval_s;
    bool free_page_hinting;    /* offer VIRTIO_BALLOON_F_FREE_PAGE_HINT */
    bool free_page_reporting;  /* offer VIRTIO_BALLOON_F_REPORTING */
};

struct vm_config_console2 {
    bool present;
    bool pty;
    char *uds_path;            /* !pty: the socket to listen on */
};

/* Firecracker's logger and metrics sections (PUT /logger, PUT /metrics):
 * not part of the board, applied to the monitor's logger and metrics. */
struct vm_config_logger {
    bool present;
    char *log_path;            /* NULL: keep the current sink */
    enum log_level level;
    bool show_level, show_log_origin;
    char module[LOG_MODULE_MAX]; /* "": no module filter (see util/log.h) */
};

struct vm_config_metrics {
    bool present;
    char *metrics_path;
    bool emit_id;
};

/* Firecracker's mmds-config (PUT /mmds/config): which network interfaces
 * answer the metadata service at ipv4_address, and how. The data store
 * itself is not configuration (api/mmds_store.h). */
enum vm_config_mmds_version { VM_CONFIG_MMDS_V1, VM_CONFIG_MMDS_V2 };
#define VM_CONFIG_MMDS_DEFAULT_IPV4 0xa9fea9feu   /* 169.254.169.254 */

struct vm_config_mmds {
    bool present;
    enum vm_config_mmds_version version;
    char ifaces[VIRT_MAX_DEVICES][VM_CONFIG_ID_MAX + 1];
    unsigned nifaces;
    uint32_t ipv4;             /* host byte order */
    bool imds_compat;
};

struct vm_config {
    struct vm_config_boot boot;
    struct vm_config_machine machine;
    struct vm_config_drive drives[VIRT_MAX_DEVICES];
    unsigned ndrives;
    struct vm_config_net nets[VIRT_MAX_DEVICES];
    unsigned nnets;
    struct vm_config_vsock vsock;
    bool entropy;
    struct rate_limiter_config entropy_rate_limiter;   /* buckets absent: no limit */
    struct vm_config_balloon balloon;
    struct vm_config_console2 console2;
    struct vm_config_logger logger;
    struct vm_config_metrics metrics;
    char *serial_out_path;     /* PUT /serial: guest console output to this file; NULL: the terminal */
    struct rate_limiter_bucket serial_rate_limiter;   /* PUT /serial rate_limiter; absent: no limit */
    struct vm_config_mmds mmds;
    /* The top-level keys of a --config-file document that were ignored
     * (unknown: Firecracker ignores them too), as "'a', 'b'" for a warning;
     * NULL: none. Not copied by vm_config_copy. */
    char *ignored_keys;
};

/* Firecracker's defaults: 1 vCPU, 128 MiB, no devices. */
void vm_config_init(struct vm_config *c);
void vm_config_free(struct vm_config *c);
/* Deep copy (dst is initialised here). */
int vm_config_copy(struct vm_config *dst, const struct vm_config *src, struct errmsg *e);

/* Devices the board would get (each takes one of VIRT_MAX_DEVICES slots). */
unsigned vm_config_ndevices(const struct vm_config *c);
/* 0 while another device fits in the board's virtio slots, else an error
 * naming what (the option or key adding it), the count and the limit. */
int vm_config_need_slot(const struct vm_config *c, const char *what, struct errmsg *e);

/* The setters replace the resource whole (PUT semantics); the strings are
 * copied. A failed setter leaves c unchanged. */
int vm_config_set_boot(struct vm_config *c, const struct vm_config_boot *b, struct errmsg *e);
int vm_config_set_machine(struct vm_config *c, const struct vm_config_machine *m, struct errmsg *e);
/* Adds the drive, or replaces the one with the same drive_id in place. */
int vm_config_put_drive(struct vm_config *c, const struct vm_config_drive *d, struct errmsg *e);
int vm_config_put_net(struct vm_config *c, const struct vm_config_net *n, struct errmsg *e);
int vm_config_set_vsock(struct vm_config *c, const struct vm_config_vsock *v, struct errmsg *e);
int vm_config_set_entropy(struct vm_config *c, struct errmsg *e);
int vm_config_set_balloon(struct vm_config *c, const struct vm_config_balloon *b, struct errmsg *e);
/* PUT /serial (path NULL: back to the terminal). */
int vm_config_set_serial(struct vm_config *c, const char *serial_out_path, const struct rate_limiter_bucket *limit,
                         struct errmsg *e);
int vm_config_set_console2(struct vm_config *c, const struct vm_config_console2 *k, struct errmsg *e);
/* A logger without log_path keeps the log_path c had. */
int vm_config_set_logger(struct vm_config *c, const struct vm_config_logger *l, struct errmsg *e);
int vm_config_set_metrics(struct vm_config *c, const struct vm_config_metrics *m, struct errmsg *e);
/* PUT /mmds/config: every interface named must be configured already, the
 * list is not empty, the address is link-local (169.254.1.0 to
 * 169.254.254.255, Firecracker's rule). */
int vm_config_set_mmds(struct vm_config *c, const struct vm_config_mmds *m, struct errmsg *e);
/* Whether network interface i answers the metadata service. */
bool vm_config_net_has_mmds(const struct vm_config *c, unsigned i);

/* Drive i reads and writes path from now on (a copy). */
int vm_config_set_drive_path(struct vm_config *c, unsigned i, const char *path, struct errmsg *e);

/* Merges a rate limiter update into a configuration (PATCH semantics: the
 * buckets present in u replace those of c). */
void vm_config_merge_rate_limiter(struct rate_limiter_config *c, const struct rate_limiter_config *u);

/* Checks an id: 1..VM_CONFIG_ID_MAX of [A-Za-z0-9_]. `what` names it. */
int vm_config_check_id(const char *what, const char *id, struct errmsg *e);

/* What the board is built from. Points into the vm_config, which must
 * outlive it (and the VM built from it). */
struct vm_build {
    struct virt_config virt;
    struct virt_device_config devices[VIRT_MAX_DEVICES];
    char bootargs[VM_CONFIG_BOOTARGS_MAX];
};

/* Devices take slots in this order: the root drive, the other drives,
 * network interfaces, vsock, entropy, balloon, console2. A root drive
 * appends "root=/dev/vda" (or root=PARTUUID=...) and "ro"/"rw" to the
 * boot arguments, as Firecracker does. */
int vm_config_build(const struct vm_config *c, struct vm_build *out, struct errmsg *e);

/* The board's slot of drive i / network interface i of c, in the order
 * vm_config_build gives them. */
unsigned vm_config_drive_slot(const struct vm_config *c, unsigned i);
unsigned vm_config_net_slot(const struct vm_config *c, unsigned i);

/* Gives the devices of a VM built from c (before vm_start) their rate
 * limiters. */
void vm_config_apply_rate_limiters(const struct vm_config *c, struct vm *vm);

#endif
