/* The command line's device options, parsed into the board's device
 * configurations (pure functions: no file is opened here, so a mistake in
 * the text is reported before anything starts). Grammar:
 *
 *   --drive path=FILE[,ro][,serial=TEXT][,engine=auto|uring|sync]
 *   --net user[,hostfwd=FWD]...[,mac=MAC] | tap=NAME[,mac=MAC]   (net_spec.h)
 *   --vsock cid=N,uds=PATH
 *   --console2 PATH | pty          a Unix socket to listen on, or a pty
 *   --rng
 *   --balloon[=[target=SIZE][,stats][,deflate-on-oom]]
 *
 * Errors name the option, the spec and the part that is wrong. Strings in
 * the result point into the spec text, which must outlive them. */
#ifndef MINNOW_API_DEVICE_SPEC_H
#define MINNOW_API_DEVICE_SPEC_H

#include "machine/virt_devices.h"
#include "util/errmsg.h"

int device_spec_drive(char *spec, struct virt_device_config *out, struct errmsg *e);
int device_spec_net(const char *spec, struct virt_device_config *out, struct errmsg *e);
int device_spec_vsock(char *spec, struct virt_device_config *out, struct errmsg *e);
int device_spec_console2(const char *spec, struct virt_device_config *out, struct errmsg *e);
int device_spec_rng(struct virt_device_config *out);
/* spec may be NULL (plain --balloon). */
int device_spec_balloon(char *spec, struct virt_device_config *out, struct errmsg *e);

#endif
