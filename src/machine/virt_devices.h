/* The virt board's paravirtual devices: one virtio-mmio slot each (device
 * i in slot fdt_virtio_user_slot(i): see fdt.h for the slots' addresses and
 * PLIC sources), in the order the configuration lists them, so the first
 * disk is /dev/vda; and in slot FDT_VIRTIO_KEYBOARD_SLOT (between the
 * eighth device and the ninth), always, the board's virtio keyboard,
 * through which the host sends Ctrl+Alt+Del. The board creates them with
 * their host backends and lists the fds their work waits on; the vmm
 * layer runs those on its I/O thread. */
#ifndef MINNOW_MACHINE_VIRT_DEVICES_H
#define MINNOW_MACHINE_VIRT_DEVICES_H

#include <stdint.h>

#include "backends/net_spec.h"
#include "devices/mmds_net.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_vsock.h"
#include "util/errmsg.h"

/* 32: Kata's Firecracker driver alone attaches eight placeholder drives
 * besides the root drive, a network interface and a vsock. */
#define VIRT_MAX_DEVICES 32u
/* Two per device, the keyboard's kick, the memory file's two watches. */
#define VIRT_MAX_IO_FDS (2 * VIRT_MAX_DEVICES + 3)

enum virt_device_kind {
    VIRT_DEV_BLK,
    VIRT_DEV_NET,
    VIRT_DEV_CONSOLE,
    VIRT_DEV_VSOCK,
    VIRT_DEV_RNG,
    VIRT_DEV_BALLOON,
};

struct virt_device_config {
    enum virt_device_kind kind;
    union {
        struct virtio_blk_options blk;
        struct net_spec net;
        struct virtio_console_options console;
        struct virtio_vsock_options vsock;
        struct virtio_balloon_options balloon;
    };
    /* VIRT_DEV_NET: the metadata service on the interface (ipv4 0: none). */
    struct mmds_net_options mmds;
};

/* An fd whose readiness the I/O thread turns into fn(opaque). */
struct virt_io_fd {
    int fd;
    void (*fn)(void *opaque);
    void *opaque;
};

struct virtio_mmio;

struct virt_device {
    enum virt_device_kind kind;
    void *dev;                  /* struct virtio_blk *, struct virtio_net *, ... */
    struct virtio_mmio *mmio;
};

struct virt;

/* Creates cfg's devices and the keyboard on v's bus and PLIC; fills
 * v->devices, v->keyboard and v->io_fds. An error names the device (e.g.
 * "drive 2: ..."). */
int virt_devices_create(struct virt *v, struct errmsg *e);
void virt_devices_destroy(struct virt *v);
/* Bit n set: slot n holds a device, the keyboard's included (for the FDT). */
uint64_t virt_devices_slots(const struct virt *v);
const char *virt_device_kind_name(enum virt_device_kind k);

/* Presses Ctrl+Alt+Del on the keyboard (LEFTCTRL, LEFTALT, DELETE, then
 * their release), as Firecracker's SendCtrlAltDel does on its i8042: a
 * Linux guest with the VT keyboard handler calls ctrl_alt_del(), which
 * reboots or signals init. Any thread. Fails with -EBUSY when earlier
 * keys still wait for the guest's driver to take them. */
int virt_send_ctrl_alt_del(struct virt *v, struct errmsg *e);

#endif
