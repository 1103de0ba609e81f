/* Snapshot requests and restore (see api_snapshot.h). */
#include "api/api_snapshot.h"
#include "api/api_mmds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/json_fields.h"
#include "api/vm_config_json.h"
#include "vmm/snapshot_file.h"
#include "vmm/snapshot_mem.h"

int api_snapshot_create_read(const json_t *j, struct vm_snapshot_params *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    const char *const fields[] = { "snapshot_path", "mem_file_path", "snapshot_type", "version", NULL };
    const char *type = "Full";
    int r = json_fields_check("snapshot/create", j, fields, e);
    if (!r)
        r = json_fields_string("snapshot/create", j, "snapshot_path", true, &out->state_path, NULL, e);
    if (!r)
        r = json_fields_string("snapshot/create", j, "mem_file_path", true, &out->mem_path, NULL, e);
    if (!r)
        r = json_fields_string("snapshot/create", j, "snapshot_type", false, &type, NULL, e);
    if (r)
        return r;
    if (json_object_get(j, "version"))
        return errmsg_set(e, -EINVAL, "snapshot/create: version: minnow writes its own format version "
                          "(Firecracker's snapshot versions do not apply)");
    if (!*out->state_path || !*out->mem_path)
        return errmsg_set(e, -EINVAL, "snapshot/create: snapshot_path and mem_file_path must not be empty");
    if (!strcmp(out->state_path, out->mem_path))
        return errmsg_set(e, -EINVAL, "snapshot/create: snapshot_path and mem_file_path are the same file '%s'",
                          out->state_path);
    if (!strcmp(type, "Diff"))
        out->diff = 1;
    else if (strcmp(type, "Full"))
        return errmsg_set(e, -EINVAL, "snapshot/create: snapshot_type: expected \"Full\" or \"Diff\", got '%s'",
                          type);
    return 0;
}

static int read_backend(const json_t *j, struct api_snapshot_load *out, struct errmsg *e)
{
    const char *const fields[] = { "backend_type", "backend_path", NULL };
    const char *type = NULL;
    int r = json_fields_check("snapshot/load: mem_backend", j, fields, e);
    if (!r)
        r = json_fields_string("snapshot/load: mem_backend", j, "backend_type", true, &type, NULL, e);
    if (!r)
        r = json_fields_string("snapshot/load: mem_backend", j, "backend_path", true, &out->mem_path, NULL, e);
    if (r)
        return r;
    if (!strcmp(type, "Uffd"))
        return errmsg_set(e, -EINVAL, "snapshot/load: mem_backend: backend_type \"Uffd\": minnow has no "
                          "userfaultfd page server; use \"File\" (pages then load on demand from the file)");
    if (strcmp(type, "File"))
        return errmsg_set(e, -EINVAL, "snapshot/load: mem_backend: backend_type: expected \"File\" or \"Uffd\", "
                          "got '%s'", type);
    return 0;
}

static int read_overrides(const json_t *j, struct api_snapshot_load *out, struct errmsg *e)
{
    const json_t *nets = json_object_get(j, "network_overrides");
    if (nets) {
        if (!json_is_array(nets))
            return errmsg_set(e, -EINVAL, "snapshot/load: network_overrides: expected an array, got %s",
                              json_fields_type_name(nets));
        if (json_array_size(nets) > VIRT_MAX_DEVICES)
            return errmsg_set(e, -EINVAL, "snapshot/load: network_overrides: %zu entries, at most %u",
                              json_array_size(nets), VIRT_MAX_DEVICES);
        const char *const fields[] = { "iface_id", "host_dev_name", NULL };
        for (size_t i = 0; i < json_array_size(nets); i++) {
            const json_t *o = json_array_get(nets, i);
            int r = json_fields_check("snapshot/load: network_overrides", o, fields, e);
            if (!r)
                r = json_fields_string("snapshot/load: network_overrides", o, "iface_id", true,
                                       &out->net[i].iface_id, NULL, e);
            if (!r)
                r = json_fields_string("snapshot/load: network_overrides", o, "host_dev_name", true,
                                       &out->net[i].host_dev_name, NULL, e);
            if (r)
                return r;
            if (strlen(out->net[i].host_dev_name) > NET_SPEC_TAP_NAME_MAX || !*out->net[i].host_dev_name)
                return errmsg_set(e, -EINVAL, "snapshot/load: network_overrides: host_dev_name '%s': expected 1 "
                                  "to %u characters", out->net[i].host_dev_name, NET_SPEC_TAP_NAME_MAX);
            out->n_net++;
        }
    }
    const json_t *vs = json_object_get(j, "vsock_override");
    if (vs) {
        const char *const fields[] = { "uds_path", NULL };
        int r = json_fields_check("snapshot/load: vsock_override", vs, fields, e);
        if (!r)
            r = json_fields_string("snapshot/load: vsock_override", vs, "uds_path", true, &out->vsock_uds, NULL, e);
        if (r)
            return r;
    }
    const char *engine = NULL;
    bool has_engine = false;
    int r = json_fields_string("snapshot/load", j, "engine", false, &engine, &has_engine, e);
    if (r)
        return r;
    enum hart_engine en;
    if (has_engine && hart_engine_parse(engine, &en))
        return errmsg_set(e, -EINVAL, "snapshot/load: engine '%s': expected interp or jit", engine);
    if (has_engine)
        out->engine = (int)en;
    return 0;
}

int api_snapshot_load_read(const json_t *j, struct api_snapshot_load *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->engine = -1;
    const char *const fields[] = { "snapshot_path", "mem_file_path", "mem_backend", "resume_vm",
                                   "track_dirty_pages", "enable_diff_snapshots", "network_overrides",
                                   "vsock_override", "engine", "clock_realtime", NULL };
    bool track = false, realtime = false;
    int r = json_fields_check("snapshot/load", j, fields, e);
    if (!r)
        r = json_fields_string("snapshot/load", j, "snapshot_path", true, &out->snapshot_path, NULL, e);
    if (!r)
        r = json_fields_string("snapshot/load", j, "mem_file_path", false, &out->mem_path, NULL, e);
    if (!r)
        r = json_fields_bool("snapshot/load", j, "resume_vm", false, &out->resume, NULL, e);
    if (!r)
        r = json_fields_bool("snapshot/load", j, "track_dirty_pages", false, &track, NULL, e);
    if (!r)
        r = json_fields_bool("snapshot/load", j, "enable_diff_snapshots", false, &track, NULL, e);
    if (!r)
        r = json_fields_bool("snapshot/load", j, "clock_realtime", false, &realtime, NULL, e);
    if (r)
        return r;
    /* Firecracker's clock_realtime advances the x86 kvmclock by the
     * wall-clock time since the snapshot; a RISC-V guest has no such
     * paravirtual clock (its time is the CLINT's mtime), so only false
     * is accepted. */
    if (realtime)
        return errmsg_set(e, -EINVAL, "snapshot/load: clock_realtime: true is not supported: it advances x86's "
                          "kvmclock, a paravirtual clock that RISC-V guests do not have (leave the field out "
                          "or give false)");
    const json_t *backend = json_object_get(j, "mem_backend");
    if (backend && out->mem_path)
        return errmsg_set(e, -EINVAL, "snapshot/load: give mem_backend or mem_file_path, not both");
    if (!backend && !out->mem_path)
        return errmsg_set(e, -EINVAL, "snapshot/load: mem_backend (or the deprecated mem_file_path) is required");
    if (backend && (r = read_backend(backend, out, e)))
        return r;
    return read_overrides(j, out, e);
}

static int apply_overrides(const struct api_snapshot_load *p, struct vm_config *cfg, struct errmsg *e)
{
    for (unsigned i = 0; i < p->n_net; i++) {
        unsigned k = 0;
        while (k < cfg->nnets && strcmp(cfg->nets[k].iface_id, p->net[i].iface_id))
            k++;
        if (k == cfg->nnets)
            return errmsg_set(e, -EINVAL, "snapshot/load: network_overrides: the snapshot has no network "
                              "interface '%s'", p->net[i].iface_id);
        struct net_spec *s = &cfg->nets[k].spec;
        s->kind = NET_SPEC_TAP;
        snprintf(s->tap_name, sizeof s->tap_name, "%s", p->net[i].host_dev_name);
        s->n_hostfwd = 0;
    }
    if (p->vsock_uds) {
        if (!cfg->vsock.present)
            return errmsg_set(e, -EINVAL, "snapshot/load: vsock_override: the snapshot has no vsock device");
        char *u = strdup(p->vsock_uds);
        if (!u)
            return errmsg_set(e, -ENOMEM, "out of memory");
        free(cfg->vsock.uds_path);
        cfg->vsock.uds_path = u;
    }
    /* Harts keep no engine state in a snapshot: either engine goes on
     * from the saved architectural state. */
    if (p->engine >= 0)
        cfg->machine.engine = (enum hart_engine)p->engine;
    /* The logger and metrics files belong to the process that had them. */
    cfg->logger.present = false;
    cfg->metrics.present = false;
    return 0;
}

int api_snapshot_restore(const struct api_snapshot_load *p, struct vm_config *cfg, struct vm_build *build,
                         struct mmds_store *mmds, struct vm **out, struct errmsg *e)
{
    struct snapshot_file f;
    int r = snapshot_file_read(p->snapshot_path, &f, e);
    if (r) {
        vm_config_init(cfg);
        return r;
    }
    struct errmsg why = { "" };
    if ((r = vm_config_json_load(cfg, f.config_json, strlen(f.config_json), &why))) {
        errmsg_set(e, r, "snapshot '%s': its configuration: %s", p->snapshot_path, why.text);
        goto out;
    }
    if (cfg->machine.mem_size != f.mem_size) {
        r = errmsg_set(e, -EINVAL, "snapshot '%s': its configuration has %llu bytes of RAM but its header %llu",
                       p->snapshot_path, (unsigned long long)cfg->machine.mem_size, (unsigned long long)f.mem_size);
        goto out;
    }
    if ((r = apply_overrides(p, cfg, e)) || (r = vm_config_build(cfg, build, e)))
        goto out;
    if (mmds)
        api_mmds_attach(cfg, build, mmds);
    int mem_fd = snapshot_mem_open(&f, p->snapshot_path, p->mem_path, e);
    if (mem_fd < 0) {
        r = mem_fd;
        goto out;
    }
    build->virt.restore = 1;
    build->virt.restore_mem = p->mem_path;
    build->virt.restore_mem_fd = mem_fd;
    struct vm *vm;
    r = vm_restore_begin(&vm, &build->virt, &why);
    close(mem_fd);
    build->virt.restore_mem_fd = -1;
    if (r) {
        errmsg_set(e, r, "snapshot '%s': %s", p->snapshot_path, why.text);
        goto out;
    }
    vm_snapshot_set_base(vm, f.id);
    if ((cfg->serial_out_path && (r = vm_set_console_file(vm, cfg->serial_out_path, e))) ||
        (r = vm_restore_finish(vm, f.machine, f.machine_len, &why))) {
        if (!cfg->serial_out_path || why.text[0])
            errmsg_set(e, r, "snapshot '%s': %s", p->snapshot_path, why.text);
        vm_destroy(vm);
        goto out;
    }
    vm_config_apply_rate_limiters(cfg, vm);
    if (p->resume)
        vm_resume(vm, NULL); /* a restored VM has no migration under way */
    *out = vm;
out:
    snapshot_file_free(&f);
    return r;
}
