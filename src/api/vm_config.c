/* The control plane's VM configuration and its conversion to the board's
 * (see vm_config.h). */
#include "api/vm_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "machine/ram.h"

/* strdup that keeps NULL; *ok cleared on allocation failure. */
static char *dup_or_null(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

void vm_config_init(struct vm_config *c)
{
    memset(c, 0, sizeof *c);
    c->machine.vcpu_count = 1;
    c->machine.mem_size = (uint64_t)VM_CONFIG_DEFAULT_MEM_MIB << 20;
    c->machine.engine = HART_ENGINE_DEFAULT;
}

static void boot_free(struct vm_config_boot *b)
{
    free(b->kernel_image_path);
    free(b->initrd_path);
    free(b->boot_args);
    free(b->firmware_path);
    memset(b, 0, sizeof *b);
}

static void drive_free(struct vm_config_drive *d)
{
    free(d->drive_id);
    free(d->path_on_host);
    free(d->partuuid);
    free(d->serial);
    memset(d, 0, sizeof *d);
}

static void vsock_free(struct vm_config_vsock *v)
{
    free(v->uds_path);
    free(v->vsock_id);
    memset(v, 0, sizeof *v);
}

void vm_config_free(struct vm_config *c)
{
    boot_free(&c->boot);
    for (unsigned i = 0; i < c->ndrives; i++)
        drive_free(&c->drives[i]);
    for (unsigned i = 0; i < c->nnets; i++)
        free(c->nets[i].iface_id);
    vsock_free(&c->vsock);
    free(c->console2.uds_path);
    free(c->logger.log_path);
    free(c->metrics.metrics_path);
    free(c->serial_out_path);
    free(c->ignored_keys);
    vm_config_init(c);
}

static int boot_dup(struct vm_config_boot *d, const struct vm_config_boot *s)
{
    bool ok = true;
    d->kernel_image_path = dup_or_null(s->kernel_image_path, &ok);
    d->initrd_path = dup_or_null(s->initrd_path, &ok);
    d->boot_args = dup_or_null(s->boot_args, &ok);
    d->firmware_path = dup_or_null(s->firmware_path, &ok);
    if (!ok)
        boot_free(d);
    return ok ? 0 : -ENOMEM;
}

static int drive_dup(struct vm_config_drive *d, const struct vm_config_drive *s)
{
    bool ok = true;
    *d = *s;
    d->drive_id = dup_or_null(s->drive_id, &ok);
    d->path_on_host = dup_or_null(s->path_on_host, &ok);
    d->partuuid = dup_or_null(s->partuuid, &ok);
    d->serial = dup_or_null(s->serial, &ok);
    if (!ok)
        drive_free(d);
    return ok ? 0 : -ENOMEM;
}

static int vsock_dup(struct vm_config_vsock *d, const struct vm_config_vsock *s)
{
    bool ok = true;
    *d = *s;
    d->uds_path = dup_or_null(s->uds_path, &ok);
    d->vsock_id = dup_or_null(s->vsock_id, &ok);
    if (!ok)
        vsock_free(d);
    return ok ? 0 : -ENOMEM;
}

static int console2_dup(struct vm_config_console2 *d, const struct vm_config_console2 *s)
{
    bool ok = true;
    *d = *s;
    d->uds_path = dup_or_null(s->uds_path, &ok);
    return ok ? 0 : -ENOMEM;
}

static int oom(struct errmsg *e)
{
    return errmsg_set(e, -ENOMEM, "out of memory for the VM configuration");
}

int vm_config_copy(struct vm_config *dst, const struct vm_config *src, struct errmsg *e)
{
    vm_config_init(dst);
    dst->machine = src->machine;
    dst->entropy = src->entropy;
    dst->entropy_rate_limiter = src->entropy_rate_limiter;
    dst->serial_rate_limiter = src->serial_rate_limiter;
    dst->balloon = src->balloon;
    dst->mmds = src->mmds;
    int r = boot_dup(&dst->boot, &src->boot);
    for (unsigned i = 0; !r && i < src->ndrives; i++)
        if (!(r = drive_dup(&dst->drives[i], &src->drives[i])))
            dst->ndrives++;
    for (unsigned i = 0; !r && i < src->nnets; i++) {
        dst->nets[i] = src->nets[i];
        if (!(dst->nets[i].iface_id = strdup(src->nets[i].iface_id)))
            r = -ENOMEM;
        else
            dst->nnets++;
    }
    if (!r)
        r = vsock_dup(&dst->vsock, &src->vsock);
    if (!r)
        r = console2_dup(&dst->console2, &src->console2);
    if (!r) {
        bool ok = true;
        dst->logger = src->logger;
        dst->logger.log_path = dup_or_null(src->logger.log_path, &ok);
        dst->metrics = src->metrics;
        dst->metrics.metrics_path = dup_or_null(src->metrics.metrics_path, &ok);
        dst->serial_out_path = dup_or_null(src->serial_out_path, &ok);
        r = ok ? 0 : -ENOMEM;
    }
    if (r) {
        vm_config_free(dst);
        return oom(e);
    }
    return 0;
}

unsigned vm_config_ndevices(const struct vm_config *c)
{
    return c->ndrives + c->nnets + c->vsock.present + c->entropy + c->balloon.present + c->console2.present;
}

/* Adding one more device (not replacing one) must leave a slot free. */
int vm_config_need_slot(const struct vm_config *c, const char *what, struct errmsg *e)
{
    if (vm_config_ndevices(c) >= VIRT_MAX_DEVICES)
        return errmsg_set(e, -EINVAL, "%s: too many devices: it would be device %u and the board has %u virtio slots",
                          what, vm_config_ndevices(c) + 1, VIRT_MAX_DEVICES);
    return 0;
}

int vm_config_check_id(const char *what, const char *id, struct errmsg *e)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > VM_CONFIG_ID_MAX)
        return errmsg_set(e, -EINVAL, "%s: expected 1 to %u characters, got %zu", what, VM_CONFIG_ID_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return errmsg_set(e, -EINVAL, "%s '%s': only letters, digits and '_' are allowed", what, id);
    }
    return 0;
}

int vm_config_set_boot(struct vm_config *c, const struct vm_config_boot *b, struct errmsg *e)
{
    if (!b->kernel_image_path || !*b->kernel_image_path)
        return errmsg_set(e, -EINVAL, "boot-source: kernel_image_path is required");
    struct vm_config_boot n;
    if (boot_dup(&n, b))
        return oom(e);
    boot_free(&c->boot);
    c->boot = n;
    return 0;
}

int vm_config_set_machine(struct vm_config *c, const struct vm_config_machine *m, struct errmsg *e)
{
    if (m->vcpu_count < 1 || m->vcpu_count > VIRT_MAX_HARTS)
        return errmsg_set(e, -EINVAL, "machine-config: vcpu_count %u is out of range: the board has 1 to %u harts",
                          m->vcpu_count, VIRT_MAX_HARTS);
    if (m->mem_size < RAM_MIN_SIZE || m->mem_size > RAM_MAX_SIZE || (m->mem_size & 0xfff))
        return errmsg_set(e, -EINVAL,
                          "machine-config: mem_size_mib: %llu bytes is out of range: expected 1 to %llu MiB",
                          (unsigned long long)m->mem_size, RAM_MAX_SIZE >> 20);
    if (m->engine != HART_ENGINE_INTERP && m->engine != HART_ENGINE_JIT)
        return errmsg_set(e, -EINVAL, "machine-config: engine %d: expected interp or jit", (int)m->engine);
    c->machine = *m;
    return 0;
}

static int find_drive(const struct vm_config *c, const char *id)
{
    for (unsigned i = 0; i < c->ndrives; i++)
        if (!strcmp(c->drives[i].drive_id, id))
            return (int)i;
    return -1;
}

int vm_config_put_drive(struct vm_config *c, const struct vm_config_drive *d, struct errmsg *e)
{
    int r = vm_config_check_id("drives: drive_id", d->drive_id, e);
    if (r)
        return r;
    if (!d->path_on_host || !*d->path_on_host)
        return errmsg_set(e, -EINVAL, "drives '%s': path_on_host is required", d->drive_id);
    if (d->serial && strlen(d->serial) > 20)
        return errmsg_set(e, -EINVAL, "drives '%s': minnow_serial '%s' is longer than 20 bytes", d->drive_id,
                          d->serial);
    if (d->partuuid && !d->is_root_device)
        return errmsg_set(e, -EINVAL, "drives '%s': partuuid applies only to the root device (is_root_device)",
                          d->drive_id);
    int at = find_drive(c, d->drive_id);
    for (unsigned i = 0; d->is_root_device && i < c->ndrives; i++)
        if ((int)i != at && c->drives[i].is_root_device)
            return errmsg_set(e, -EINVAL, "drives '%s': is_root_device: drive '%s' is already the root device",
                              d->drive_id, c->drives[i].drive_id);
    if (at < 0 && (r = vm_config_need_slot(c, "drives", e)))
        return r;
    struct vm_config_drive n;
    if (drive_dup(&n, d))
        return oom(e);
    if (at >= 0) {
        drive_free(&c->drives[at]);
        c->drives[at] = n;
    } else {
        c->drives[c->ndrives++] = n;
    }
    return 0;
}

int vm_config_put_net(struct vm_config *c, const struct vm_config_net *n, struct errmsg *e)
{
    int r = vm_config_check_id("network-interfaces: iface_id", n->iface_id, e);
    if (r)
        return r;
    int at = -1;
    for (unsigned i = 0; i < c->nnets; i++)
        if (!strcmp(c->nets[i].iface_id, n->iface_id))
            at = (int)i;
    for (unsigned i = 0; i < c->nnets; i++) {
        const struct net_spec *o = &c->nets[i].spec;
        if ((int)i == at)
            continue;
        if (n->spec.kind == NET_SPEC_TAP && o->kind == NET_SPEC_TAP && !strcmp(o->tap_name, n->spec.tap_name))
            return errmsg_set(e, -EINVAL, "network-interfaces '%s': host_dev_name '%s' is already used by '%s'",
                              n->iface_id, n->spec.tap_name, c->nets[i].iface_id);
        if (n->spec.has_mac && o->has_mac && !memcmp(o->mac, n->spec.mac, 6))
            return errmsg_set(e, -EINVAL, "network-interfaces '%s': guest_mac is already used by '%s'",
                              n->iface_id, c->nets[i].iface_id);
    }
    if (at < 0 && (r = vm_config_need_slot(c, "network-interfaces", e)))
        return r;
    char *id = strdup(n->iface_id);
    if (!id)
        return oom(e);
    if (at >= 0) {
        free(c->nets[at].iface_id);
        c->nets[at] = *n;
        c->nets[at].iface_id = id;
    } else {
        c->nets[c->nnets] = *n;
        c->nets[c->nnets++].iface_id = id;
    }
    return 0;
}

int vm_config_set_vsock(struct vm_config *c, const struct vm_config_vsock *v, struct errmsg *e)
{
    if (v->guest_cid < 3 || v->guest_cid > 0xfffffffeull)
        return errmsg_set(e, -EINVAL, "vsock: guest_cid %llu is out of range: expected 3 to 4294967294",
                          (unsigned long long)v->guest_cid);
    if (!v->uds_path || !*v->uds_path)
        return errmsg_set(e, -EINVAL, "vsock: uds_path is required");
    int r;
    if (!c->vsock.present && (r = vm_config_need_slot(c, "vsock", e)))
        return r;
    struct vm_config_vsock n;
    if (vsock_dup(&n, v))
        return oom(e);
    n.present = true;
    vsock_free(&c->vsock);
    c->vsock = n;
    return 0;
}

int vm_config_set_entropy(struct vm_config *c, struct errmsg *e)
{
    int r;
    if (!c->entropy && (r = vm_config_need_slot(c, "entropy", e)))
        return r;
    c->entropy = true;
    return 0;
}

int vm_config_set_balloon(struct vm_config *c, const struct vm_config_balloon *b, struct errmsg *e)
{
    int r;
    /* The device takes pages as a 32-bit count of 4 KiB pages. */
    if (b->amount_mib > UINT32_MAX / 256)
        return errmsg_set(e, -EINVAL, "balloon: amount_mib %u is out of range: at most %u", b->amount_mib,
                          UINT32_MAX / 256);
    if (!c->balloon.present && (r = vm_config_need_slot(c, "balloon", e)))
        return r;
    c->balloon = *b;
    c->balloon.present = true;
    return 0;
}

int vm_config_set_serial(struct vm_config *c, const char *serial_out_path, const struct rate_limiter_bucket *limit,
                         struct errmsg *e)
{
    if (serial_out_path && !*serial_out_path)
        return errmsg_set(e, -EINVAL, "serial: serial_out_path must not be empty");
    bool ok = true;
    char *p = dup_or_null(serial_out_path, &ok);
    if (!ok)
        return oom(e);
    free(c->serial_out_path);
    c->serial_out_path = p;
    c->serial_rate_limiter = *limit;
    return 0;
}

int vm_config_set_console2(struct vm_config *c, const struct vm_config_console2 *k, struct errmsg *e)
{
    int r;
    if (k->pty == (k->uds_path != NULL) || (k->uds_path && !*k->uds_path))
        return errmsg_set(e, -EINVAL, "minnow-console2: expected either uds_path or \"pty\": true");
    if (!c->console2.present && (r = vm_config_need_slot(c, "minnow-console2", e)))
        return r;
    struct vm_config_console2 n;
    if (console2_dup(&n, k))
        return oom(e);
    n.present = true;
    free(c->console2.uds_path);
    c->console2 = n;
    return 0;
}

/* ---- conversion to the board ---- */

static void add_drive(struct vm_build *out, const struct vm_config_drive *d)
{
    struct virt_device_config *v = &out->devices[out->virt.ndevices++];
    memset(v, 0, sizeof *v);
    v->kind = VIRT_DEV_BLK;
    v->blk.path = d->path_on_host;
    v->blk.read_only = d->is_read_only;
    v->blk.serial = d->serial;
    v->blk.engine = d->engine;
}

static int append_arg(char *buf, const char *fmt, const char *a, const char *b, struct errmsg *e)
{
    size_t n = strlen(buf);
    int w = snprintf(buf + n, VM_CONFIG_BOOTARGS_MAX - n, fmt, n ? " " : "", a, b);
    if (w < 0 || (size_t)w >= VM_CONFIG_BOOTARGS_MAX - n)
        return errmsg_set(e, -EINVAL, "boot-source: boot_args: the command line is longer than %u bytes",
                          VM_CONFIG_BOOTARGS_MAX - 1);
    return 0;
}

int vm_config_build(const struct vm_config *c, struct vm_build *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    if (!c->boot.kernel_image_path)
        return errmsg_set(e, -EINVAL, "boot-source: kernel_image_path is not set (PUT /boot-source first)");
    if (c->balloon.present && ((uint64_t)c->balloon.amount_mib << 20) > c->machine.mem_size)
        return errmsg_set(e, -EINVAL, "balloon: amount_mib %u is more than the guest's %llu MiB of memory",
                          c->balloon.amount_mib, (unsigned long long)(c->machine.mem_size >> 20));
    if (vm_config_ndevices(c) > VIRT_MAX_DEVICES)
        return errmsg_set(e, -EINVAL, "too many devices: %u configured and the board has %u virtio slots",
                          vm_config_ndevices(c), VIRT_MAX_DEVICES);
    struct virt_config *v = &out->virt;
    v->nharts = c->machine.vcpu_count;
    v->mem_size = c->machine.mem_size;
    v->engine = c->machine.engine;
    v->kernel = c->boot.kernel_image_path;
    v->initrd = c->boot.initrd_path;
    v->firmware = c->boot.firmware_path;
    v->devices = out->devices;

    const struct vm_config_drive *root = NULL;
    for (unsigned i = 0; i < c->ndrives; i++)
        if (c->drives[i].is_root_device)
            root = &c->drives[i];
    int r = 0;
    if (c->boot.boot_args)
        r = append_arg(out->bootargs, "%s%s%s", c->boot.boot_args, "", e);
    if (!r && root) {
        add_drive(out, root);
        if (root->partuuid)
            r = append_arg(out->bootargs, "%sroot=PARTUUID=%s %s", root->partuuid,
                           root->is_read_only ? "ro" : "rw", e);
        else
            r = append_arg(out->bootargs, "%sroot=/dev/vda%s %s", "", root->is_read_only ? "ro" : "rw", e);
    }
    if (r)
        return r;
    if (c->boot.boot_args || root)
        v->bootargs = out->bootargs;
    for (unsigned i = 0; i < c->ndrives; i++)
        if (&c->drives[i] != root)
            add_drive(out, &c->drives[i]);
    for (unsigned i = 0; i < c->nnets; i++) {
        struct virt_device_config *d = &out->devices[v->ndevices++];
        memset(d, 0, sizeof *d);
        d->kind = VIRT_DEV_NET;
        d->net = c->nets[i].spec;
    }
    if (c->vsock.present) {
        struct virt_device_config *d = &out->devices[v->ndevices++];
        memset(d, 0, sizeof *d);
        d->kind = VIRT_DEV_VSOCK;
        d->vsock.guest_cid = c->vsock.guest_cid;
        d->vsock.uds_path = c->vsock.uds_path;
    }
    if (c->entropy) {
        struct virt_device_config *d = &out->devices[v->ndevices++];
        memset(d, 0, sizeof *d);
        d->kind = VIRT_DEV_RNG;
    }
    if (c->balloon.present) {
        struct virt_device_config *d = &out->devices[v->ndevices++];
        memset(d, 0, sizeof *d);
        d->kind = VIRT_DEV_BALLOON;
        d->balloon.target_pages = c->balloon.amount_mib * 256u;
        d->balloon.deflate_on_oom = c->balloon.deflate_on_oom;
        d->balloon.stats = c->balloon.stats_polling_interval_s > 0;
        d->balloon.free_page_hinting = c->balloon.free_page_hinting;
        d->balloon.free_page_reporting = c->balloon.free_page_reporting;
    }
    if (c->console2.present) {
        struct virt_device_config *d = &out->devices[v->ndevices++];
        memset(d, 0, sizeof *d);
        d->kind = VIRT_DEV_CONSOLE;
        d->console.chardev.kind = c->console2.pty ? CHARDEV_PTY : CHARDEV_SOCKET;
        d->console.chardev.path = c->console2.uds_path;
    }
    return 0;
}

/* ---- rate limiters ---- */

int vm_config_set_drive_path(struct vm_config *c, unsigned i, const char *path, struct errmsg *e)
{
    char *p = strdup(path);
    if (!p)
        return errmsg_set(e, -ENOMEM, "drives: out of memory");
    free(c->drives[i].path_on_host);
    c->drives[i].path_on_host = p;
    return 0;
}

void vm_config_merge_rate_limiter(struct rate_limiter_config *c, const struct rate_limiter_config *u)
{
    if (u->bandwidth.present)
        c->bandwidth = u->bandwidth;
    if (u->ops.present)
        c->ops = u->ops;
}

unsigned vm_config_drive_slot(const struct vm_config *c, unsigned i)
{
    /* The root drive comes first, the others keep their order. */
    if (c->drives[i].is_root_device)
        return 0;
    unsigned slot = 0;
    for (unsigned k = 0; k < c->ndrives; k++)
        if (c->drives[k].is_root_device)
            slot = 1;
    for (unsigned k = 0; k < i; k++)
        if (!c->drives[k].is_root_device)
            slot++;
    return slot;
}

unsigned vm_config_net_slot(const struct vm_config *c, unsigned i)
{
    return c->ndrives + i;
}

void vm_config_apply_rate_limiters(const struct vm_config *c, struct vm *vm)
{
    struct virt *v = vm_board(vm);
    for (unsigned i = 0; i < c->ndrives; i++) {
        unsigned slot = vm_config_drive_slot(c, i);
        if (slot < v->ndevices && v->devices[slot].kind == VIRT_DEV_BLK)
            virtio_blk_set_rate_limiter(v->devices[slot].dev, &c->drives[i].rate_limiter);
    }
    for (unsigned i = 0; i < c->nnets; i++) {
        unsigned slot = vm_config_net_slot(c, i);
        if (slot < v->ndevices && v->devices[slot].kind == VIRT_DEV_NET)
            virtio_net_set_rate_limiters(v->devices[slot].dev, &c->nets[i].rx_rate_limiter,
                                         &c->nets[i].tx_rate_limiter);
    }
    for (unsigned i = 0; i < v->ndevices; i++)
        if (v->devices[i].kind == VIRT_DEV_RNG)
            virtio_rng_set_rate_limiter(v->devices[i].dev, &c->entropy_rate_limiter);
    virt_set_console_limit(v, c->serial_rate_limiter.present ? &c->serial_rate_limiter.cfg : NULL);
}

int vm_config_set_logger(struct vm_config *c, const struct vm_config_logger *l, struct errmsg *e)
{
    bool ok = true;
    const char *path = l->log_path ? l->log_path : c->logger.log_path;
    char *p = dup_or_null(path, &ok);
    if (!ok)
        return oom(e);
    free(c->logger.log_path);
    c->logger = *l;
    c->logger.log_path = p;
    c->logger.present = true;
    return 0;
}

int vm_config_set_metrics(struct vm_config *c, const struct vm_config_metrics *m, struct errmsg *e)
{
    bool ok = true;
    char *p = dup_or_null(m->metrics_path, &ok);
    if (!ok)
        return oom(e);
    free(c->metrics.metrics_path);
    c->metrics = *m;
    c->metrics.metrics_path = p;
    c->metrics.present = true;
    return 0;
}

int vm_config_set_mmds(struct vm_config *c, const struct vm_config_mmds *m, struct errmsg *e)
{
    /* Firecracker's is_link_local_valid: 169.254.0.0/16 without its
     * first and last /24 (RFC 3927 reserves them). */
    uint32_t a = m->ipv4;
    if ((a >> 16) != 0xa9feu || ((a >> 8) & 0xffu) == 0 || ((a >> 8) & 0xffu) == 0xffu)
        return errmsg_set(e, -EINVAL, "mmds-config: ipv4_address %u.%u.%u.%u: The MMDS IPv4 address is not link "
                          "local (expected 169.254.1.0 to 169.254.254.255)", a >> 24, (a >> 16) & 0xffu,
                          (a >> 8) & 0xffu, a & 0xffu);
    if (!m->nifaces)
        return errmsg_set(e, -EINVAL, "mmds-config: network_interfaces: The list of network interface IDs that "
                          "allow forwarding MMDS requests is empty.");
    if (m->nifaces > VIRT_MAX_DEVICES)
        return errmsg_set(e, -EINVAL, "mmds-config: network_interfaces: more than %u", VIRT_MAX_DEVICES);
    for (unsigned i = 0; i < m->nifaces; i++) {
        bool found = false;
        for (unsigned k = 0; k < c->nnets && !found; k++)
            found = !strcmp(c->nets[k].iface_id, m->ifaces[i]);
        if (!found)
            return errmsg_set(e, -EINVAL, "mmds-config: network_interfaces: '%s': The list of network interface "
                              "IDs provided contains at least one ID that does not correspond to any existing "
                              "network interface. (PUT /network-interfaces/%s first)", m->ifaces[i], m->ifaces[i]);
    }
    c->mmds = *m;
    c->mmds.present = true;
    return 0;
}

bool vm_config_net_has_mmds(const struct vm_config *c, unsigned i)
{
    if (!c->mmds.present || i >= c->nnets)
        return false;
    for (unsigned k = 0; k < c->mmds.nifaces; k++)
        if (!strcmp(c->mmds.ifaces[k], c->nets[i].iface_id))
            return true;
    return false;
}
