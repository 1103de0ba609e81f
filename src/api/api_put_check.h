/* What Firecracker checks at the PUT rather than at InstanceStart: the
 * files a boot source or drive names can be opened (the drive as it will
 * be: read-only or read-write) and a network interface's TAP can be
 * attached. Each takes the request body, already accepted by its
 * vm_config_json reader, and returns 0 or an error naming the resource,
 * the field, the path and why (the errno text). Nothing is kept open: the
 * VM opens them again when it starts. */
#ifndef MINNOW_API_API_PUT_CHECK_H
#define MINNOW_API_API_PUT_CHECK_H

#include "api/vm_config.h"
#include "util/errmsg.h"

/* kernel_image_path, initrd_path and firmware_path of c's boot source. */
int api_put_check_boot(const struct vm_config_boot *b, struct errmsg *e);
/* path_on_host, opened read-only or read-write as is_read_only says. */
int api_put_check_drive(const struct vm_config_drive *d, struct errmsg *e);
/* host_dev_name (a TAP); user-mode networking needs nothing. */
int api_put_check_net(const struct vm_config_net *n, struct errmsg *e);

#endif
