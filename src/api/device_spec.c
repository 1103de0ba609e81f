/* Parsing of the device options (see device_spec.h). */
#include "api/device_spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "machine/ram.h"

/* Splits "k=v" items separated by commas in place. Calls item(key, value)
 * (value NULL for a bare word) and stops at the first error. */
static int each_item(char *spec, int (*item)(void *ctx, const char *key, const char *val, struct errmsg *e),
                     void *ctx, struct errmsg *e)
{
    char *save = NULL;
    for (char *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = 0;
        int r = item(ctx, tok, eq ? eq + 1 : NULL, e);
        if (r)
            return r;
    }
    return 0;
}

static int need_value(const char *opt, const char *key, const char *val, struct errmsg *e)
{
    if (!val || !*val)
        return errmsg_set(e, -EINVAL, "%s: %s= needs a value", opt, key);
    return 0;
}

static int no_value(const char *opt, const char *key, const char *val, struct errmsg *e)
{
    if (val)
        return errmsg_set(e, -EINVAL, "%s: %s takes no value", opt, key);
    return 0;
}

/* ---- --drive ---- */

static int drive_item(void *ctx, const char *key, const char *val, struct errmsg *e)
{
    struct virtio_blk_options *o = ctx;
    if (!strcmp(key, "path")) {
        if (need_value("--drive", key, val, e))
            return -EINVAL;
        o->path = val;
    } else if (!strcmp(key, "ro")) {
        if (no_value("--drive", key, val, e))
            return -EINVAL;
        o->read_only = true;
    } else if (!strcmp(key, "serial")) {
        if (need_value("--drive", key, val, e))
            return -EINVAL;
        if (strlen(val) > 20)
            return errmsg_set(e, -EINVAL, "--drive: serial '%s' is longer than 20 bytes", val);
        o->serial = val;
    } else if (!strcmp(key, "engine")) {
        if (need_value("--drive", key, val, e))
            return -EINVAL;
        struct errmsg why = { "" };
        if (block_file_parse_engine(val, &o->engine, &why))
            return errmsg_set(e, -EINVAL, "--drive: %s", why.text);
    } else {
        return errmsg_set(e, -EINVAL, "--drive: unknown key '%s' (path=, ro, serial=, engine=)", key);
    }
    return 0;
}

int device_spec_drive(char *spec, struct virt_device_config *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_BLK;
    out->blk.engine = BLOCK_FILE_ENGINE_AUTO;
    int r = each_item(spec, drive_item, &out->blk, e);
    if (r)
        return r;
    if (!out->blk.path)
        return errmsg_set(e, -EINVAL, "--drive: path=FILE is required");
    return 0;
}

/* ---- --net ---- */

int device_spec_net(const char *spec, struct virt_device_config *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_NET;
    struct errmsg why = { "" };
    if (net_spec_parse(&out->net, spec, &why))
        return errmsg_set(e, -EINVAL, "--net: %s", why.text);
    return 0;
}

/* ---- --vsock ---- */

static int vsock_item(void *ctx, const char *key, const char *val, struct errmsg *e)
{
    struct virtio_vsock_options *o = ctx;
    if (!strcmp(key, "cid")) {
        if (need_value("--vsock", key, val, e))
            return -EINVAL;
        char *end;
        errno = 0;
        unsigned long long cid = strtoull(val, &end, 0);
        if (errno || *end || *val == '-' || cid < 3 || cid > 0xfffffffeull)
            return errmsg_set(e, -EINVAL, "--vsock: cid '%s': expected a number from 3 to 4294967294", val);
        o->guest_cid = cid;
    } else if (!strcmp(key, "uds")) {
        if (need_value("--vsock", key, val, e))
            return -EINVAL;
        o->uds_path = val;
    } else {
        return errmsg_set(e, -EINVAL, "--vsock: unknown key '%s' (cid=, uds=)", key);
    }
    return 0;
}

int device_spec_vsock(char *spec, struct virt_device_config *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_VSOCK;
    int r = each_item(spec, vsock_item, &out->vsock, e);
    if (r)
        return r;
    if (!out->vsock.guest_cid || !out->vsock.uds_path)
        return errmsg_set(e, -EINVAL, "--vsock: both cid=N and uds=PATH are required");
    return 0;
}

/* ---- --console2, --rng ---- */

int device_spec_console2(const char *spec, struct virt_device_config *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_CONSOLE;
    if (!*spec)
        return errmsg_set(e, -EINVAL, "--console2: expected a socket path or 'pty'");
    if (!strcmp(spec, "pty")) {
        out->console.chardev.kind = CHARDEV_PTY;
    } else {
        out->console.chardev.kind = CHARDEV_SOCKET;
        out->console.chardev.path = spec;
    }
    return 0;
}

int device_spec_rng(struct virt_device_config *out)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_RNG;
    return 0;
}

/* ---- --balloon ---- */

static int balloon_item(void *ctx, const char *key, const char *val, struct errmsg *e)
{
    struct virtio_balloon_options *o = ctx;
    if (!strcmp(key, "target")) {
        uint64_t bytes;
        struct errmsg why = { "" };
        if (need_value("--balloon", key, val, e))
            return -EINVAL;
        if (ram_parse_size(val, &bytes, &why))
            return errmsg_set(e, -EINVAL, "--balloon: target: %s", why.text);
        if (bytes % 4096 || bytes / 4096 > UINT32_MAX)
            return errmsg_set(e, -EINVAL, "--balloon: target %s: expected a multiple of 4K", val);
        o->target_pages = (uint32_t)(bytes / 4096);
    } else if (!strcmp(key, "stats")) {
        if (no_value("--balloon", key, val, e))
            return -EINVAL;
        o->stats = true;
    } else if (!strcmp(key, "deflate-on-oom")) {
        if (no_value("--balloon", key, val, e))
            return -EINVAL;
        o->deflate_on_oom = true;
    } else if (!strcmp(key, "free-page-reporting")) {
        if (no_value("--balloon", key, val, e))
            return -EINVAL;
        o->free_page_reporting = true;
    } else {
        return errmsg_set(e, -EINVAL, "--balloon: unknown key '%s' (target=, stats, deflate-on-oom, "
                          "free-page-reporting)", key);
    }
    return 0;
}

int device_spec_balloon(char *spec, struct virt_device_config *out, struct errmsg *e)
{
    memset(out, 0, sizeof *out);
    out->kind = VIRT_DEV_BALLOON;
    return spec ? each_item(spec, balloon_item, &out->balloon, e) : 0;
}
