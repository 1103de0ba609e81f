/* Snapshots through the API and the CLI: Firecracker's PUT
 * /snapshot/create and PUT /snapshot/load bodies, and restoring a VM from
 * a snapshot (the load's work, shared by the API and `minnow restore`).
 *
 * create: {"snapshot_path", "mem_file_path", "snapshot_type": "Full" |
 *   "Diff"}; Firecracker's deprecated "version" is refused (minnow's
 *   format has its own version).
 * load: {"snapshot_path", "mem_backend": {"backend_type": "File",
 *   "backend_path"} or the deprecated "mem_file_path", "resume_vm",
 *   "track_dirty_pages" / "enable_diff_snapshots" (accepted: minnow always
 *   tracks dirty pages), "network_overrides": [{"iface_id",
 *   "host_dev_name"}], "vsock_override": {"uds_path"}}, and minnow's
 *   "engine": "interp" | "jit" (what runs the harts from here on, as in
 *   machine-config; default: the snapshot's). "Uffd" backends are
 *   refused (no userfaultfd page server here). */
#ifndef MINNOW_API_API_SNAPSHOT_H
#define MINNOW_API_API_SNAPSHOT_H

#include <stdbool.h>

#include <jansson.h>

#include "api/mmds_store.h"
#include "api/vm_config.h"
#include "util/errmsg.h"
#include "vmm/vm.h"

struct api_snapshot_load {
    const char *snapshot_path, *mem_path;
    bool resume;
    unsigned n_net;
    struct {
        const char *iface_id, *host_dev_name;
    } net[VIRT_MAX_DEVICES];
    const char *vsock_uds;    /* NULL: the snapshot's */
    int engine;               /* enum hart_engine, -1: the snapshot's */
};

/* Read the bodies; strings point into j. create leaves config_json NULL. */
int api_snapshot_create_read(const json_t *j, struct vm_snapshot_params *out, struct errmsg *e);
int api_snapshot_load_read(const json_t *j, struct api_snapshot_load *out, struct errmsg *e);

/* Reads the state file, fills cfg (initialised here) with the
 * configuration stored in it and the overrides, builds the board into
 * *build and restores the VM into *out, running when p->resume, else
 * paused. The logger and metrics of the snapshotted VM are not taken
 * over: they belong to the process that writes them. The interfaces
 * that the snapshot's mmds-config names answer the metadata service from
 * mmds (its version, address and interfaces are kept, the data is not, as
 * in Firecracker); NULL: none. */
int api_snapshot_restore(const struct api_snapshot_load *p, struct vm_config *cfg, struct vm_build *build,
                         struct mmds_store *mmds, struct vm **out, struct errmsg *e);

#endif
