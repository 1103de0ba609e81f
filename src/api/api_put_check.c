/* Checks at the PUT (see api_put_check.h). */
#include "api/api_put_check.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "backends/net_tap.h"

/* O_NONBLOCK: a FIFO named as a kernel must not hang the API in open(2). */
static int can_open(const char *what, const char *field, const char *path, int flags, const char *how,
                    struct errmsg *e)
{
    if (!path)
        return 0;
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        return errmsg_set(e, -err, "%s: %s '%s': cannot be opened%s: %s", what, field, path, how, strerror(err));
    }
    close(fd);
    return 0;
}

int api_put_check_boot(const struct vm_config_boot *b, struct errmsg *e)
{
    int r = can_open("boot-source", "kernel_image_path", b->kernel_image_path, O_RDONLY, "", e);
    if (!r)
        r = can_open("boot-source", "initrd_path", b->initrd_path, O_RDONLY, "", e);
    if (!r)
        r = can_open("boot-source", "firmware_path", b->firmware_path, O_RDONLY, "", e);
    return r;
}

int api_put_check_drive(const struct vm_config_drive *d, struct errmsg *e)
{
    return can_open("drives", "path_on_host", d->path_on_host, d->is_read_only ? O_RDONLY : O_RDWR,
                    d->is_read_only ? " for reading" : " for reading and writing (is_read_only is false)", e);
}

int api_put_check_net(const struct vm_config_net *n, struct errmsg *e)
{
    if (n->spec.kind != NET_SPEC_TAP)
        return 0;
    struct net_backend *b;
    struct errmsg why = { "" };
    int r = net_tap_open(&b, n->spec.tap_name, &why);
    if (r)
        return errmsg_set(e, r, "network-interfaces: host_dev_name '%s': %s", n->spec.tap_name, why.text);
    net_backend_close(b);
    return 0;
}
