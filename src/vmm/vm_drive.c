/* A running drive's backing file swapped (vm.h: vm_drive_swap). */
#include <errno.h>

#include "devices/virtio_blk.h"
#include "vmm/vm.h"
#include "vmm/vm_impl.h"

int vm_drive_swap(struct vm *vm, unsigned slot, const char *path, bool read_only, struct errmsg *e)
{
    struct virt *v = vm->board;
    if (slot >= v->ndevices || v->devices[slot].kind != VIRT_DEV_BLK)
        return errmsg_set(e, -EINVAL, "device slot %u is not a drive", slot);
    char dest[256];
    if (vm_migration_active(vm, dest, sizeof dest))
        return errmsg_set(e, -EBUSY, "a migration to %s is under way: the drives stay as they are until it ends",
                          dest);
    struct virtio_blk *b = v->devices[slot].dev;
    struct block_file *f, *old = NULL;
    int r = block_file_open(&f, path, read_only, virtio_blk_engine(b), e);
    if (r < 0)
        return r;
    /* Neither the harts (config space reads) nor the I/O thread (requests)
     * may see the device while its file changes. */
    vm_hold(vm);
    event_loop_hold(vm->io);
    r = virtio_blk_swap_file(b, f, &old, e);
    event_loop_release(vm->io);
    vm_release(vm);
    block_file_close(r ? f : old);
    return r;
}
