/* The kernel, initrd and command line of a root disk image that names
 * none of them: the files that guest/debian puts beside the image. */
#include "api/boot_discover.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* A regular file's path: 0, -ENOENT when there is none, another negative
 * code (with the message) when something else is there. */
static int regular_file(const char *path, const char *what, struct errmsg *e)
{
    struct stat st;
    if (stat(path, &st))
        return errno == ENOENT ? -ENOENT : errmsg_set(e, -errno, "%s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errmsg_set(e, -EINVAL, "%s %s: not a regular file", what, path);
    return 0;
}

int boot_discover_beside(const char *image, char *kernel, char *initrd, size_t len, struct errmsg *e)
{
    int n = snprintf(kernel, len, "%s%s", image, BOOT_DISCOVER_KERNEL_SUFFIX);
    int m = snprintf(initrd, len, "%s%s", image, BOOT_DISCOVER_INITRD_SUFFIX);
    if (n < 0 || (size_t)n >= len || m < 0 || (size_t)m >= len)
        return errmsg_set(e, -ENAMETOOLONG, "root drive %s: the path is too long", image);
    int r = regular_file(kernel, "kernel", e);
    if (r == -ENOENT)
        return errmsg_set(e, -ENOENT, "root drive %s has no kernel beside it (%s is missing): give the kernel "
                          "(--kernel, or boot-source.kernel_image_path), or make the image with guest/debian",
                          image, kernel);
    if (r)
        return r;
    r = regular_file(initrd, "initrd", e);
    if (r == -ENOENT)
        initrd[0] = 0;
    else if (r)
        return r;
    return 0;
}

int boot_discover_config(struct vm_config *c, struct errmsg *e)
{
    if (c->boot.kernel_image_path)
        return 0;
    const struct vm_config_drive *root = NULL;
    for (unsigned i = 0; i < c->ndrives; i++)
        if (c->drives[i].is_root_device)
            root = &c->drives[i];
    if (!root)
        return 0;
    char kernel[4200], initrd[4200];
    int r = boot_discover_beside(root->path_on_host, kernel, initrd, sizeof kernel, e);
    if (r)
        return r;
    struct vm_config_boot b = c->boot;
    b.kernel_image_path = kernel;
    b.initrd_path = initrd[0] ? initrd : NULL;
    if (!b.boot_args)
        b.boot_args = BOOT_DISCOVER_ARGS;
    r = vm_config_set_boot(c, &b, e);
    return r ? r : 1;
}
