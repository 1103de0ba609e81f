/* Firecracker's VM configuration JSON <-> struct vm_config (see
 * vm_config_json.h). */
#include "api/vm_config_json.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_fields.h"
#include "machine/ram.h"

#define F(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- refused and "off" values ---- */

/* A boolean field minnow only accepts as false. */
static int only_false(const char *what, const json_t *j, const char *name, const char *why, struct errmsg *e)
{
    bool v = false;
    int r = json_fields_bool(what, j, name, false, &v, NULL, e);
    if (!r && v)
        r = errmsg_set(e, -EINVAL, "%s: %s: true is not supported: %s", what, name, why);
    return r;
}

/* A string field minnow only accepts as "None". */
static int only_none(const char *what, const json_t *j, const char *name, const char *why, struct errmsg *e)
{
    const char *v = "None";
    int r = json_fields_string(what, j, name, false, &v, NULL, e);
    if (!r && strcmp(v, "None"))
        r = errmsg_set(e, -EINVAL, "%s: %s: '%s' is not supported (only \"None\"): %s", what, name, v, why);
    return r;
}

/* Firecracker's huge_pages: "None" or "2M". minnow's anonymous guest RAM
 * is advised to transparent huge pages whichever is given (see ram.c). */
static int huge_pages_read(const char *what, const json_t *j, bool *out, struct errmsg *e)
{
    const char *v = NULL;
    int r = json_fields_string(what, j, "huge_pages", false, &v, NULL, e);
    if (r || !v)
        return r;
    if (strcmp(v, "None") && strcmp(v, "2M"))
        return errmsg_set(e, -EINVAL, "%s: huge_pages: expected \"None\" or \"2M\", got '%.100s' (minnow's "
                          "guest RAM uses 2 MiB transparent huge pages, there is no other size)", what, v);
    *out = !strcmp(v, "2M");
    return 0;
}

/* Firecracker's TokenBucket {"size", "one_time_burst", "refill_time"}. */
static int token_bucket_read(const char *what, const json_t *b, struct rate_limiter_bucket *out, struct errmsg *e)
{
    struct token_bucket_config *c = &out->cfg;
    int r = json_fields_check(what, b, F("size", "one_time_burst", "refill_time"), e);
    if (!r)
        r = json_fields_uint(what, b, "size", true, 0, TOKEN_BUCKET_MAX, &c->size, NULL, e);
    if (!r)
        r = json_fields_uint(what, b, "one_time_burst", false, 0, TOKEN_BUCKET_MAX, &c->one_time_burst, NULL, e);
    if (!r)
        r = json_fields_uint(what, b, "refill_time", true, 0, TOKEN_BUCKET_MAX, &c->refill_time_ms, NULL, e);
    out->present = !r;
    return r;
}

/* Firecracker's RateLimiter {"bandwidth", "ops"}, each a TokenBucket
 * {"size", "one_time_burst", "refill_time"}; absent or null: no bucket. */
static int rate_limiter_read(const char *what, const json_t *j, const char *name, struct rate_limiter_config *out,
                             struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    const json_t *v = json_object_get(j, name);
    if (!v || json_is_null(v))
        return 0;
    char sub[160];
    snprintf(sub, sizeof sub, "%s: %s", what, name);
    int r = json_fields_check(sub, v, F("bandwidth", "ops"), e);
    const char *const buckets[2] = { "bandwidth", "ops" };
    struct rate_limiter_bucket *dst[2] = { &out->bandwidth, &out->ops };
    for (int i = 0; !r && i < 2; i++) {
        const json_t *b = json_object_get(v, buckets[i]);
        if (!b || json_is_null(b))
            continue;
        char bw[200];
        snprintf(bw, sizeof bw, "%s: %s", sub, buckets[i]);
        r = token_bucket_read(bw, b, dst[i], e);
    }
    return r;
}

static json_t *token_bucket_dump(const struct token_bucket_config *c)
{
    return json_pack("{s:I, s:I, s:I}", "size", (json_int_t)c->size, "one_time_burst", (json_int_t)c->one_time_burst,
                     "refill_time", (json_int_t)c->refill_time_ms);
}

static json_t *rate_limiter_dump(const struct rate_limiter_config *c)
{
    if (!c->bandwidth.present && !c->ops.present)
        return NULL;
    json_t *o = json_object();
    const char *const names[2] = { "bandwidth", "ops" };
    const struct rate_limiter_bucket *b[2] = { &c->bandwidth, &c->ops };
    for (int i = 0; o && i < 2; i++)
        if (b[i]->present)
            json_object_set_new(o, names[i], token_bucket_dump(&b[i]->cfg));
    return o;
}

static void set_limiter(json_t *o, const char *k, const struct rate_limiter_config *c)
{
    json_t *v = rate_limiter_dump(c);
    if (v)
        json_object_set_new(o, k, v);
}

/* ---- boot-source ---- */

int vm_config_json_boot_source(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *w = "boot-source";
    struct vm_config_boot b = { 0 };
    const char *k = NULL, *i = NULL, *a = NULL, *f = NULL;
    int r = json_fields_check(w, j, F("kernel_image_path", "initrd_path", "boot_args", "firmware_path"), e);
    if (!r)
        r = json_fields_string(w, j, "kernel_image_path", true, &k, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "initrd_path", false, &i, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "boot_args", false, &a, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "firmware_path", false, &f, NULL, e);
    if (r)
        return r;
    if (!*k)
        return errmsg_set(e, -EINVAL, "boot-source: kernel_image_path: expected a file name, got \"\"");
    if ((i && !*i) || (f && !*f))
        return errmsg_set(e, -EINVAL, "boot-source: %s: expected a file name, got \"\"",
                          i && !*i ? "initrd_path" : "firmware_path");
    b.kernel_image_path = (char *)k;
    b.initrd_path = (char *)i;
    b.boot_args = (char *)a;
    b.firmware_path = (char *)f;
    return vm_config_set_boot(c, &b, e);
}

/* ---- machine-config ---- */

int vm_config_json_machine(struct vm_config *c, const json_t *j, bool patch, struct errmsg *e)
{
    const char *w = "machine-config";
    struct vm_config_machine m = c->machine;
    if (!patch)
        m = (struct vm_config_machine){ .vcpu_count = 1, .mem_size = (uint64_t)VM_CONFIG_DEFAULT_MEM_MIB << 20,
                                     .engine = HART_ENGINE_DEFAULT };
    uint64_t n = m.vcpu_count, mib = m.mem_size >> 20;
    bool has_mib = false;
    int r = json_fields_check(w, j, F("vcpu_count", "mem_size_mib", "smt", "cpu_template", "track_dirty_pages",
                                      "huge_pages", "engine", "gdb_socket_path"), e);
    if (!r)
        r = json_fields_uint(w, j, "vcpu_count", !patch, 1, VIRT_MAX_HARTS, &n, NULL, e);
    if (!r)
        r = json_fields_uint(w, j, "mem_size_mib", !patch, 1, RAM_MAX_SIZE >> 20, &mib, &has_mib, e);
    if (!r)
        r = only_false(w, j, "smt", "minnow's harts are single-threaded RISC-V cores", e);
    if (!r)
        r = only_none(w, j, "cpu_template", "CPU templates describe x86 and Arm CPU models; minnow's harts are "
                      "RV64GC and have no templates", e);
    if (!r)
        r = json_fields_bool(w, j, "track_dirty_pages", false, &m.track_dirty_pages, NULL, e);
    if (!r)
        r = huge_pages_read(w, j, &m.huge_pages_2m, e);
    const char *engine = NULL;
    bool has_engine = false;
    if (!r)
        r = json_fields_string(w, j, "engine", false, &engine, &has_engine, e);
    if (!r && has_engine && hart_engine_parse(engine, &m.engine))
        r = errmsg_set(e, -EINVAL, "%s: engine '%s': expected interp or jit", w, engine);
    const char *gdb = NULL;
    bool has_gdb = false;
    if (!r)
        r = json_fields_string(w, j, "gdb_socket_path", false, &gdb, &has_gdb, e);
    if (!r && has_gdb && (!*gdb || strlen(gdb) >= sizeof m.gdb_socket_path))
        r = errmsg_set(e, -EINVAL, "%s: gdb_socket_path: a Unix socket path of 1 to %zu bytes was expected", w,
                       sizeof m.gdb_socket_path - 1);
    if (!r && has_gdb)
        snprintf(m.gdb_socket_path, sizeof m.gdb_socket_path, "%s", gdb);
    if (r)
        return r;
    m.vcpu_count = (unsigned)n;
    if (has_mib || !patch)
        m.mem_size = mib << 20;
    return vm_config_set_machine(c, &m, e);
}

/* ---- drives ---- */

static int path_id_matches(const char *what, const char *field, const char *body_id, const char *path_id,
                           struct errmsg *e)
{
    if (path_id && strcmp(path_id, body_id))
        return errmsg_set(e, -EINVAL, "%s: %s '%s' in the body does not match '%s' in the path", what, field,
                          body_id, path_id);
    return 0;
}

int vm_config_json_drive(struct vm_config *c, const json_t *j, const char *path_id, struct errmsg *e)
{
    const char *w = "drives";
    struct vm_config_drive d = { 0 };
    const char *id = NULL, *path = NULL, *cache = "Unsafe", *engine = NULL;
    int r = json_fields_check(w, j, F("drive_id", "path_on_host", "is_root_device", "is_read_only", "partuuid",
                                      "cache_type", "io_engine", "rate_limiter", "socket", "minnow_serial"), e);
    if (!r)
        r = json_fields_string(w, j, "drive_id", true, &id, NULL, e);
    if (!r)
        r = path_id_matches(w, "drive_id", id, path_id, e);
    if (!r)
        r = json_fields_bool(w, j, "is_root_device", true, &d.is_root_device, NULL, e);
    if (!r && json_object_get(j, "socket") && !json_is_null(json_object_get(j, "socket")))
        r = errmsg_set(e, -EINVAL, "drives: socket: vhost-user block devices are not supported by minnow (its "
                       "devices run in-process); give path_on_host");
    if (!r)
        r = json_fields_string(w, j, "path_on_host", true, &path, NULL, e);
    if (!r)
        r = json_fields_bool(w, j, "is_read_only", false, &d.is_read_only, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "partuuid", false, (const char **)&d.partuuid, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "cache_type", false, &cache, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "io_engine", false, &engine, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "minnow_serial", false, (const char **)&d.serial, NULL, e);
    if (!r)
        r = rate_limiter_read(w, j, "rate_limiter", &d.rate_limiter, e);
    if (r)
        return r;
    if (!strcmp(cache, "Unsafe"))
        d.cache_type = VM_CONFIG_CACHE_UNSAFE;
    else if (!strcmp(cache, "Writeback"))
        d.cache_type = VM_CONFIG_CACHE_WRITEBACK;
    else
        return errmsg_set(e, -EINVAL, "drives: cache_type: expected \"Unsafe\" or \"Writeback\", got '%s'", cache);
    if (!engine)
        d.engine = BLOCK_FILE_ENGINE_AUTO;
    else if (!strcmp(engine, "Sync"))
        d.engine = BLOCK_FILE_ENGINE_SYNC;
    else if (!strcmp(engine, "Async"))
        d.engine = BLOCK_FILE_ENGINE_URING;
    else
        return errmsg_set(e, -EINVAL, "drives: io_engine: expected \"Sync\" or \"Async\", got '%s'", engine);
    d.drive_id = (char *)id;
    d.path_on_host = (char *)path;
    return vm_config_put_drive(c, &d, e);
}

/* ---- network-interfaces ---- */

int vm_config_json_net(struct vm_config *c, const json_t *j, const char *path_id, struct errmsg *e)
{
    const char *w = "network-interfaces";
    const char *id = NULL, *tap = NULL, *mac = NULL;
    bool user = false;
    struct rate_limiter_config rx, tx;
    int r = json_fields_check(w, j, F("iface_id", "host_dev_name", "guest_mac", "rx_rate_limiter",
                                      "tx_rate_limiter", "mtu", "minnow_user", "minnow_hostfwd"), e);
    if (!r)
        r = json_fields_string(w, j, "iface_id", true, &id, NULL, e);
    if (!r)
        r = path_id_matches(w, "iface_id", id, path_id, e);
    if (!r)
        r = json_fields_bool(w, j, "minnow_user", false, &user, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "host_dev_name", !user, &tap, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "guest_mac", false, &mac, NULL, e);
    if (!r)
        r = rate_limiter_read(w, j, "rx_rate_limiter", &rx, e);
    if (!r)
        r = rate_limiter_read(w, j, "tx_rate_limiter", &tx, e);
    uint64_t mtu = 0;
    if (!r)
        r = json_fields_uint(w, j, "mtu", false, NET_SPEC_MTU_MIN, NET_SPEC_MTU_MAX, &mtu, NULL, e);
    if (r)
        return r;
    if (user && tap)
        return errmsg_set(e, -EINVAL, "network-interfaces: host_dev_name and minnow_user: give a TAP device or "
                          "user-mode networking, not both");
    const json_t *fwd = json_object_get(j, "minnow_hostfwd");
    if (fwd && json_is_null(fwd))
        fwd = NULL;
    if (fwd && !user)
        return errmsg_set(e, -EINVAL, "network-interfaces: minnow_hostfwd needs \"minnow_user\": true");
    if (fwd && !json_is_array(fwd))
        return errmsg_set(e, -EINVAL, "network-interfaces: minnow_hostfwd: expected an array of strings, got %s",
                          json_fields_type_name(fwd));
    /* net_spec_parse checks every part; build the CLI's spec text for it. */
    char spec[4096];
    size_t n = (size_t)snprintf(spec, sizeof spec, user ? "user" : "tap=%s", tap);
    for (size_t i = 0; fwd && i < json_array_size(fwd); i++) {
        const json_t *f = json_array_get(fwd, i);
        if (!json_is_string(f))
            return errmsg_set(e, -EINVAL, "network-interfaces: minnow_hostfwd[%zu]: expected a string, got %s", i,
                              json_fields_type_name(f));
        const char *s = json_string_value(f);
        if (strchr(s, ',') || !*s)
            return errmsg_set(e, -EINVAL, "network-interfaces: minnow_hostfwd[%zu]: '%s' is not a forward "
                              "([tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT)", i, s);
        if (n < sizeof spec)
            n += (size_t)snprintf(spec + n, sizeof spec - n, ",hostfwd=%s", s);
    }
    if (mtu && n < sizeof spec)
        n += (size_t)snprintf(spec + n, sizeof spec - n, ",mtu=%u", (unsigned)mtu);
    if (mac) {
        if (strchr(mac, ','))
            return errmsg_set(e, -EINVAL, "network-interfaces: guest_mac '%s' is not a MAC address", mac);
        if (n < sizeof spec)
            n += (size_t)snprintf(spec + n, sizeof spec - n, ",mac=%s", mac);
    }
    if (n >= sizeof spec)
        return errmsg_set(e, -EINVAL, "network-interfaces: the interface's settings are too long");
    struct vm_config_net net = { .iface_id = (char *)id, .rx_rate_limiter = rx, .tx_rate_limiter = tx };
    struct errmsg why = { "" };
    if (net_spec_parse(&net.spec, spec, &why))
        return errmsg_set(e, -EINVAL, "network-interfaces '%s': %s", id, why.text);
    return vm_config_put_net(c, &net, e);
}

/* ---- PATCH of drives and network interfaces ---- */

int vm_config_json_drive_patch(const struct vm_config *c, const json_t *j, const char *path_id, unsigned *index,
                               struct rate_limiter_config *update, const char **new_path, struct errmsg *e)
{
    const char *w = "drives", *id = NULL, *path = NULL;
    int r = json_fields_check(w, j, F("drive_id", "path_on_host", "rate_limiter"), e);
    if (!r)
        r = json_fields_string(w, j, "drive_id", true, &id, NULL, e);
    if (!r)
        r = path_id_matches(w, "drive_id", id, path_id, e);
    if (!r)
        r = json_fields_string(w, j, "path_on_host", false, &path, NULL, e);
    if (!r)
        r = rate_limiter_read(w, j, "rate_limiter", update, e);
    if (r)
        return r;
    for (unsigned i = 0; i < c->ndrives; i++) {
        const struct vm_config_drive *d = &c->drives[i];
        if (strcmp(d->drive_id, id))
            continue;
        if (path && !*path)
            return errmsg_set(e, -EINVAL, "drives '%s': path_on_host: empty", id);
        *new_path = path && strcmp(path, d->path_on_host) ? path : NULL;
        *index = i;
        return 0;
    }
    return errmsg_set(e, -EINVAL, "drives: drive_id: no drive '%s' is configured", id);
}

int vm_config_json_net_patch(struct vm_config *c, const json_t *j, const char *path_id, unsigned *index,
                             struct rate_limiter_config *rx, struct rate_limiter_config *tx, struct errmsg *e)
{
    const char *w = "network-interfaces", *id = NULL;
    int r = json_fields_check(w, j, F("iface_id", "rx_rate_limiter", "tx_rate_limiter"), e);
    if (!r)
        r = json_fields_string(w, j, "iface_id", true, &id, NULL, e);
    if (!r)
        r = path_id_matches(w, "iface_id", id, path_id, e);
    if (!r)
        r = rate_limiter_read(w, j, "rx_rate_limiter", rx, e);
    if (!r)
        r = rate_limiter_read(w, j, "tx_rate_limiter", tx, e);
    if (r)
        return r;
    for (unsigned i = 0; i < c->nnets; i++) {
        struct vm_config_net *n = &c->nets[i];
        if (strcmp(n->iface_id, id))
            continue;
        vm_config_merge_rate_limiter(&n->rx_rate_limiter, rx);
        vm_config_merge_rate_limiter(&n->tx_rate_limiter, tx);
        *index = i;
        return 0;
    }
    return errmsg_set(e, -EINVAL, "network-interfaces: iface_id: no interface '%s' is configured", id);
}

/* ---- vsock, entropy, balloon, console2 ---- */

int vm_config_json_vsock(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *w = "vsock";
    struct vm_config_vsock v = { 0 };
    const char *uds = NULL, *id = NULL;
    int r = json_fields_check(w, j, F("guest_cid", "uds_path", "vsock_id"), e);
    if (!r)
        r = json_fields_uint(w, j, "guest_cid", true, 3, 0xfffffffeull, &v.guest_cid, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "uds_path", true, &uds, NULL, e);
    if (!r)
        r = json_fields_string(w, j, "vsock_id", false, &id, NULL, e);
    if (r)
        return r;
    v.uds_path = (char *)uds;
    v.vsock_id = (char *)id;
    return vm_config_set_vsock(c, &v, e);
}

int vm_config_json_entropy(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    struct rate_limiter_config rl;
    int r = json_fields_check("entropy", j, F("rate_limiter"), e);
    if (!r)
        r = rate_limiter_read("entropy", j, "rate_limiter", &rl, e);
    if (!r)
        r = vm_config_set_entropy(c, e);
    if (!r)
        c->entropy_rate_limiter = rl;
    return r;
}

int vm_config_json_balloon(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *w = "balloon";
    struct vm_config_balloon b = { 0 };
    uint64_t amount = 0, interval = 0;
    int r = json_fields_check(w, j, F("amount_mib", "deflate_on_oom", "stats_polling_interval_s",
                                      "free_page_hinting", "free_page_reporting"), e);
    if (!r)
        r = json_fields_uint(w, j, "amount_mib", true, 0, UINT32_MAX / 256, &amount, NULL, e);
    if (!r)
        r = json_fields_bool(w, j, "deflate_on_oom", true, &b.deflate_on_oom, NULL, e);
    if (!r)
        r = json_fields_uint(w, j, "stats_polling_interval_s", false, 0, UINT32_MAX, &interval, NULL, e);
    if (!r)
        r = json_fields_bool(w, j, "free_page_hinting", false, &b.free_page_hinting, NULL, e);
    if (!r)
        r = json_fields_bool(w, j, "free_page_reporting", false, &b.free_page_reporting, NULL, e);
    if (r)
        return r;
    b.amount_mib = (uint32_t)amount;
    b.stats_polling_interval_s = (uint32_t)interval;
    return vm_config_set_balloon(c, &b, e);
}

int vm_config_json_serial(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *path = NULL;
    struct rate_limiter_bucket limit = { 0 };
    int r = json_fields_check("serial", j, F("serial_out_path", "rate_limiter"), e);
    if (!r)
        r = json_fields_string("serial", j, "serial_out_path", false, &path, NULL, e);
    const json_t *rl = json_object_get(j, "rate_limiter");
    if (!r && rl && !json_is_null(rl))
        r = token_bucket_read("serial: rate_limiter", rl, &limit, e);
    return r ? r : vm_config_set_serial(c, path, &limit, e);
}

int vm_config_json_mmds(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *w = "mmds-config";
    struct vm_config_mmds m = { .version = VM_CONFIG_MMDS_V1, .ipv4 = VM_CONFIG_MMDS_DEFAULT_IPV4 };
    const char *version = NULL, *addr = NULL;
    int r = json_fields_check(w, j, F("version", "network_interfaces", "ipv4_address", "imds_compat"), e);
    if (!r)
        r = json_fields_string(w, j, "version", false, &version, NULL, e);
    if (!r && version) {
        if (!strcmp(version, "V2"))
            m.version = VM_CONFIG_MMDS_V2;
        else if (strcmp(version, "V1"))
            r = errmsg_set(e, -EINVAL, "%s: version: expected \"V1\" or \"V2\", got '%s'", w, version);
    }
    if (!r)
        r = json_fields_string(w, j, "ipv4_address", false, &addr, NULL, e);
    if (!r && addr) {
        struct in_addr in;
        if (inet_pton(AF_INET, addr, &in) != 1)
            r = errmsg_set(e, -EINVAL, "%s: ipv4_address: expected a dotted IPv4 address, got '%s'", w, addr);
        else
            m.ipv4 = ntohl(in.s_addr);
    }
    if (!r)
        r = json_fields_bool(w, j, "imds_compat", false, &m.imds_compat, NULL, e);
    const json_t *ifs = r ? NULL : json_object_get(j, "network_interfaces");
    if (!r && (!ifs || json_is_null(ifs)))
        r = errmsg_set(e, -EINVAL, "%s: network_interfaces: required (a list of network interface ids)", w);
    if (!r && !json_is_array(ifs))
        r = errmsg_set(e, -EINVAL, "%s: network_interfaces: expected a list of strings, got %s", w,
                       json_fields_type_name(ifs));
    if (!r && json_array_size(ifs) > VIRT_MAX_DEVICES)
        r = errmsg_set(e, -EINVAL, "%s: network_interfaces: %zu ids, more than the %u network interfaces a "
                       "microVM can have", w, json_array_size(ifs), VIRT_MAX_DEVICES);
    for (size_t i = 0; !r && i < json_array_size(ifs); i++) {
        const json_t *v = json_array_get(ifs, i);
        const char *id = json_string_value(v);
        if (!json_is_string(v))
            r = errmsg_set(e, -EINVAL, "%s: network_interfaces[%zu]: expected a string, got %s", w, i,
                           json_fields_type_name(v));
        else if (strlen(id) > VM_CONFIG_ID_MAX)
            r = errmsg_set(e, -EINVAL, "%s: network_interfaces[%zu]: longer than %u characters", w, i,
                           VM_CONFIG_ID_MAX);
        else
            snprintf(m.ifaces[m.nifaces++], sizeof m.ifaces[0], "%s", id);
    }
    return r ? r : vm_config_set_mmds(c, &m, e);
}

json_t *vm_config_json_mmds_dump(const struct vm_config *c)
{
    const struct vm_config_mmds *m = &c->mmds;
    if (!m->present)
        return json_null();
    char addr[INET_ADDRSTRLEN];
    struct in_addr in = { htonl(m->ipv4) };
    inet_ntop(AF_INET, &in, addr, sizeof addr);
    json_t *ifs = json_array();
    for (unsigned i = 0; ifs && i < m->nifaces; i++)
        json_array_append_new(ifs, json_string(m->ifaces[i]));
    return json_pack("{s:s, s:o, s:s, s:b}", "version", m->version == VM_CONFIG_MMDS_V2 ? "V2" : "V1",
                     "network_interfaces", ifs, "ipv4_address", addr, "imds_compat", m->imds_compat);
}

int vm_config_json_console2(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    const char *w = "minnow-console2";
    struct vm_config_console2 k = { 0 };
    const char *uds = NULL;
    int r = json_fields_check(w, j, F("uds_path", "pty"), e);
    if (!r)
        r = json_fields_string(w, j, "uds_path", false, &uds, NULL, e);
    if (!r)
        r = json_fields_bool(w, j, "pty", false, &k.pty, NULL, e);
    if (r)
        return r;
    k.uds_path = (char *)uds;
    return vm_config_set_console2(c, &k, e);
}

/* ---- a whole document ---- */

static int each_in_array(struct vm_config *c, const json_t *a, const char *what,
                         int (*put)(struct vm_config *, const json_t *, const char *, struct errmsg *),
                         struct errmsg *e)
{
    if (!json_is_array(a))
        return errmsg_set(e, -EINVAL, "%s: expected an array, got %s", what, json_fields_type_name(a));
    for (size_t i = 0; i < json_array_size(a); i++) {
        struct errmsg why = { "" };
        if (put(c, json_array_get(a, i), NULL, &why))
            return errmsg_set(e, -EINVAL, "%s[%zu]: %s", what, i, why.text);
    }
    return 0;
}

/* ---- logger, metrics ---- */

int vm_config_json_logger_read(const json_t *j, struct vm_config_logger *out, struct errmsg *e)
{
    const char *path = NULL, *level = NULL, *module = NULL;
    bool has_module = false;
    *out = (struct vm_config_logger){ .present = true, .level = LOG_INFO };
    int r = json_fields_check("logger", j, F("log_path", "level", "show_level", "show_log_origin", "module"), e);
    if (!r)
        r = json_fields_string("logger", j, "log_path", false, &path, NULL, e);
    if (!r)
        r = json_fields_string("logger", j, "level", false, &level, NULL, e);
    if (!r)
        r = json_fields_bool("logger", j, "show_level", false, &out->show_level, NULL, e);
    if (!r)
        r = json_fields_bool("logger", j, "show_log_origin", false, &out->show_log_origin, NULL, e);
    if (!r)
        r = json_fields_string("logger", j, "module", false, &module, &has_module, e);
    if (r)
        return r;
    if (has_module) {
        if (!*module || strlen(module) >= sizeof out->module)
            return errmsg_set(e, -EINVAL, "logger: module: expected a source path under src/ of 1 to %zu bytes "
                              "(e.g. \"api\" or \"devices/virtio_net\"), got '%.100s'", sizeof out->module - 1,
                              module);
        if (strstr(module, "::"))
            return errmsg_set(e, -EINVAL, "logger: module: '%.100s' is a Rust module path; minnow's modules are "
                              "source paths under src/ (e.g. \"api/api_vmm\")", module);
        memcpy(out->module, module, strlen(module) + 1);
    }
    if (level && log_level_parse(level, &out->level))
        return errmsg_set(e, -EINVAL, "logger: level: expected \"Error\", \"Warning\", \"Info\", \"Debug\", "
                          "\"Trace\" or \"Off\", got '%.100s'", level);
    if (path && !*path)
        return errmsg_set(e, -EINVAL, "logger: log_path: expected a path, got an empty string");
    out->log_path = (char *)path;
    return 0;
}

int vm_config_json_metrics_read(const json_t *j, struct vm_config_metrics *out, struct errmsg *e)
{
    const char *path = NULL;
    *out = (struct vm_config_metrics){ .present = true };
    int r = json_fields_check("metrics", j, F("metrics_path", "emit_id", "properties"), e);
    if (!r)
        r = json_fields_string("metrics", j, "metrics_path", true, &path, NULL, e);
    if (!r)
        r = json_fields_bool("metrics", j, "emit_id", false, &out->emit_id, NULL, e);
    if (r)
        return r;
    const json_t *props = json_object_get(j, "properties");
    if (props && !json_is_null(props))
        return errmsg_set(e, -EINVAL, "metrics: properties: not supported by minnow; leave the field out");
    if (!*path)
        return errmsg_set(e, -EINVAL, "metrics: metrics_path: expected a path, got an empty string");
    out->metrics_path = (char *)path;
    return 0;
}

static int logger_section(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    struct vm_config_logger l;
    int r = vm_config_json_logger_read(j, &l, e);
    return r ? r : vm_config_set_logger(c, &l, e);
}

static int metrics_section(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    struct vm_config_metrics m;
    int r = vm_config_json_metrics_read(j, &m, e);
    return r ? r : vm_config_set_metrics(c, &m, e);
}

/* Sections minnow does not have yet; null is accepted for each, and an
 * empty list for the lists (Firecracker's own example has "pmem": []). */
static const char *const unsupported_sections[] = { "cpu-config", "pmem", "memory-hotplug",
                                                    NULL };

/* Every top-level key Firecracker's VmmConfig has, and minnow's own. */
static const char *const known_sections[] = { "boot-source", "machine-config", "drives", "network-interfaces",
                                              "vsock", "entropy", "balloon", "minnow-console2", "logger", "metrics",
                                              "mmds-config", "cpu-config", "pmem", "memory-hotplug", "serial",
                                              NULL };

/* Firecracker's parser ignores keys it does not know (a typo'd section
 * then just is not there); minnow ignores them too, but names them in
 * c->ignored_keys so the caller can warn. */
static int note_unknown_sections(struct vm_config *c, const json_t *j, struct errmsg *e)
{
    if (!json_is_object(j))
        return errmsg_set(e, -EINVAL, "the configuration: expected an object, got %s", json_fields_type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        const char *const *k = known_sections;
        while (*k && strcmp(*k, key))
            k++;
        if (*k)
            continue;
        size_t old = c->ignored_keys ? strlen(c->ignored_keys) : 0;
        size_t n = old + strlen(key) + 5;
        if (n > 4096)
            break;   /* enough to warn about */
        char *s = realloc(c->ignored_keys, n);
        if (!s)
            return errmsg_set(e, -ENOMEM, "the configuration: out of memory");
        snprintf(s + old, n - old, "%s'%s'", old ? ", " : "", key);
        c->ignored_keys = s;
    }
    return 0;
}

int vm_config_json_load(struct vm_config *c, const char *text, size_t len, struct errmsg *e)
{
    vm_config_init(c);
    json_t *j = json_fields_parse(text, len, e);
    if (!j)
        return -EINVAL;
    int r = note_unknown_sections(c, j, e);
    for (const char *const *s = unsupported_sections; !r && *s; s++) {
        const json_t *v = json_object_get(j, *s);
        if (v && !json_is_null(v) && !(json_is_array(v) && !json_array_size(v)))
            r = errmsg_set(e, -EINVAL, "%s: not supported by minnow yet (give null or leave it out)", *s);
    }
    const json_t *v;
#define SECTION(name) (!r && (v = json_object_get(j, name)) && !json_is_null(v))
    if (SECTION("boot-source"))
        r = vm_config_json_boot_source(c, v, e);
    if (SECTION("machine-config"))
        r = vm_config_json_machine(c, v, false, e);
    if (SECTION("drives"))
        r = each_in_array(c, v, "drives", vm_config_json_drive, e);
    if (SECTION("network-interfaces"))
        r = each_in_array(c, v, "network-interfaces", vm_config_json_net, e);
    if (SECTION("vsock"))
        r = vm_config_json_vsock(c, v, e);
    if (SECTION("entropy"))
        r = vm_config_json_entropy(c, v, e);
    if (SECTION("balloon"))
        r = vm_config_json_balloon(c, v, e);
    if (SECTION("minnow-console2"))
        r = vm_config_json_console2(c, v, e);
    if (SECTION("serial"))
        r = vm_config_json_serial(c, v, e);
    /* After the interfaces it names. */
    if (SECTION("mmds-config"))
        r = vm_config_json_mmds(c, v, e);
    if (SECTION("logger"))
        r = logger_section(c, v, e);
    if (SECTION("metrics"))
        r = metrics_section(c, v, e);
#undef SECTION
    json_decref(j);
    if (r)
        vm_config_free(c);
    return r;
}

int vm_config_json_load_file(struct vm_config *c, const char *path, struct errmsg *e)
{
    vm_config_init(c);
    FILE *f = fopen(path, "r");
    if (!f)
        return errmsg_set(e, -errno, "config file %s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int r = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (16u << 20)) {
                r = errmsg_set(e, -EFBIG, "config file %s: larger than 16 MiB", path);
                break;
            }
            cap = cap ? cap * 2 : 4096;
            char *n = realloc(buf, cap);
            if (!n) {
                r = errmsg_set(e, -ENOMEM, "config file %s: out of memory", path);
                break;
            }
            buf = n;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                r = errmsg_set(e, -EIO, "config file %s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!r) {
        struct errmsg why = { "" };
        if ((r = vm_config_json_load(c, buf, len, &why)))
            errmsg_set(e, r, "config file %s: %s", path, why.text);
    }
    free(buf);
    return r;
}

/* ---- writing ---- */

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

json_t *vm_config_json_machine_dump(const struct vm_config *c)
{
    /* JSON sizes are in MiB; a CLI size that is not a whole MiB rounds down. */
    json_t *m = json_pack("{s:I, s:I, s:b, s:b, s:s, s:s}", "vcpu_count", (json_int_t)c->machine.vcpu_count,
                          "mem_size_mib", (json_int_t)(c->machine.mem_size >> 20), "smt", 0, "track_dirty_pages",
                          c->machine.track_dirty_pages, "huge_pages", c->machine.huge_pages_2m ? "2M" : "None", "engine", hart_engine_name(c->machine.engine));
    if (m && c->machine.gdb_socket_path[0])
        json_object_set_new(m, "gdb_socket_path", json_string(c->machine.gdb_socket_path));
    return m;
}

json_t *vm_config_json_balloon_dump(const struct vm_config *c)
{
    if (!c->balloon.present)
        return json_null();
    return json_pack("{s:I, s:b, s:I, s:b, s:b}", "amount_mib", (json_int_t)c->balloon.amount_mib,
                     "deflate_on_oom", c->balloon.deflate_on_oom, "stats_polling_interval_s",
                     (json_int_t)c->balloon.stats_polling_interval_s, "free_page_hinting",
                     c->balloon.free_page_hinting, "free_page_reporting", c->balloon.free_page_reporting);
}

static json_t *drive_dump(const struct vm_config_drive *d)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:s}", "drive_id", d->drive_id, "path_on_host", d->path_on_host,
                          "is_root_device", d->is_root_device, "is_read_only", d->is_read_only, "cache_type",
                          d->cache_type == VM_CONFIG_CACHE_WRITEBACK ? "Writeback" : "Unsafe");
    if (!o)
        return NULL;
    set_str(o, "partuuid", d->partuuid);
    if (d->engine != BLOCK_FILE_ENGINE_AUTO)
        set_str(o, "io_engine", d->engine == BLOCK_FILE_ENGINE_SYNC ? "Sync" : "Async");
    set_str(o, "minnow_serial", d->serial);
    set_limiter(o, "rate_limiter", &d->rate_limiter);
    return o;
}

static json_t *net_dump(const struct vm_config_net *n)
{
    json_t *o = json_pack("{s:s}", "iface_id", n->iface_id);
    if (!o)
        return NULL;
    const struct net_spec *s = &n->spec;
    if (s->kind == NET_SPEC_TAP) {
        set_str(o, "host_dev_name", s->tap_name);
    } else {
        json_object_set_new(o, "minnow_user", json_true());
        json_t *a = json_array();
        for (unsigned i = 0; i < s->n_hostfwd; i++) {
            const struct net_hostfwd *f = &s->hostfwd[i];
            char ha[INET_ADDRSTRLEN], ga[INET_ADDRSTRLEN], buf[128];
            inet_ntop(AF_INET, &f->host_addr, ha, sizeof ha);
            inet_ntop(AF_INET, &f->guest_addr, ga, sizeof ga);
            snprintf(buf, sizeof buf, "%s:%s:%u-%s:%u", f->udp ? "udp" : "tcp", ha, f->host_port, ga,
                     f->guest_port);
            json_array_append_new(a, json_string(buf));
        }
        json_object_set_new(o, "minnow_hostfwd", a);
    }
    if (s->has_mac) {
        char mac[18];
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", s->mac[0], s->mac[1], s->mac[2], s->mac[3],
                 s->mac[4], s->mac[5]);
        set_str(o, "guest_mac", mac);
    }
    if (s->mtu)
        json_object_set_new(o, "mtu", json_integer(s->mtu));
    set_limiter(o, "rx_rate_limiter", &n->rx_rate_limiter);
    set_limiter(o, "tx_rate_limiter", &n->tx_rate_limiter);
    return o;
}

json_t *vm_config_json_dump(const struct vm_config *c)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (c->boot.kernel_image_path) {
        json_t *b = json_object();
        set_str(b, "kernel_image_path", c->boot.kernel_image_path);
        set_str(b, "initrd_path", c->boot.initrd_path);
        set_str(b, "boot_args", c->boot.boot_args);
        set_str(b, "firmware_path", c->boot.firmware_path);
        json_object_set_new(o, "boot-source", b);
    }
    json_object_set_new(o, "machine-config", vm_config_json_machine_dump(c));
    json_t *drives = json_array();
    for (unsigned i = 0; i < c->ndrives; i++)
        json_array_append_new(drives, drive_dump(&c->drives[i]));
    json_object_set_new(o, "drives", drives);
    json_t *nets = json_array();
    for (unsigned i = 0; i < c->nnets; i++)
        json_array_append_new(nets, net_dump(&c->nets[i]));
    json_object_set_new(o, "network-interfaces", nets);
    if (c->vsock.present) {
        json_t *v = json_pack("{s:I, s:s}", "guest_cid", (json_int_t)c->vsock.guest_cid, "uds_path",
                              c->vsock.uds_path);
        if (v)
            set_str(v, "vsock_id", c->vsock.vsock_id);
        json_object_set_new(o, "vsock", v);
    }
    if (c->entropy) {
        json_t *en = json_object();
        set_limiter(en, "rate_limiter", &c->entropy_rate_limiter);
        json_object_set_new(o, "entropy", en);
    }
    if (c->balloon.present)
        json_object_set_new(o, "balloon", vm_config_json_balloon_dump(c));
    if (c->serial_out_path || c->serial_rate_limiter.present) {
        json_t *se = json_object();
        set_str(se, "serial_out_path", c->serial_out_path);
        if (c->serial_rate_limiter.present)
            json_object_set_new(se, "rate_limiter", token_bucket_dump(&c->serial_rate_limiter.cfg));
        json_object_set_new(o, "serial", se);
    }
    if (c->console2.present)
        json_object_set_new(o, "minnow-console2", c->console2.pty ? json_pack("{s:b}", "pty", 1)
                                                                  : json_pack("{s:s}", "uds_path", c->console2.uds_path));
    if (c->logger.present) {
        json_t *l = json_pack("{s:s, s:b, s:b}", "level", log_level_name(c->logger.level), "show_level",
                              c->logger.show_level, "show_log_origin", c->logger.show_log_origin);
        if (l)
            set_str(l, "log_path", c->logger.log_path);
        if (l && c->logger.module[0])
            set_str(l, "module", c->logger.module);
        json_object_set_new(o, "logger", l);
    }
    if (c->mmds.present)
        json_object_set_new(o, "mmds-config", vm_config_json_mmds_dump(c));
    if (c->metrics.present)
        json_object_set_new(o, "metrics", json_pack("{s:s, s:b}", "metrics_path", c->metrics.metrics_path,
                                                    "emit_id", c->metrics.emit_id));
    return o;
}
