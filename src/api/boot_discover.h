/* Booting a distribution's disk image without naming its kernel: when a VM
 * has a root drive but no kernel, the kernel and initrd are the files
 * beside the image that guest/debian writes (IMAGE.kernel, a RISC-V Image,
 * and IMAGE.initrd), and the command line gets console=ttyS0 (the board's
 * UART, where the distribution's getty runs); vm_config_build adds root=.
 * The one seam between the front ends (minnow run, the --config-file of
 * minnow --no-api) and this rule. */
#ifndef MINNOW_API_BOOT_DISCOVER_H
#define MINNOW_API_BOOT_DISCOVER_H

#include <stddef.h>

#include "api/vm_config.h"
#include "util/errmsg.h"

#define BOOT_DISCOVER_KERNEL_SUFFIX ".kernel"
#define BOOT_DISCOVER_INITRD_SUFFIX ".initrd"
#define BOOT_DISCOVER_ARGS "console=ttyS0"

/* Names the files beside `image`: kernel (required) and initrd (NULL'd
 * into "" when absent). Fails naming the missing kernel file. */
int boot_discover_beside(const char *image, char *kernel, char *initrd, size_t len, struct errmsg *e);

/* If c has a root drive and no kernel, sets c's boot source from the files
 * beside the root drive's image (boot_args, when c has none, become
 * BOOT_DISCOVER_ARGS; a firmware path is kept). Returns 1 when it did, 0
 * when there is nothing to do (a kernel is set, or no root drive), or a
 * negative code with the message in e. */
int boot_discover_config(struct vm_config *c, struct errmsg *e);

#endif
