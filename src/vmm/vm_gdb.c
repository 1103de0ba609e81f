/* A VM's gdb stub (vm.h: vm_enable_gdb): the target over the board's
 * harts, its clock stopped while gdb holds them, and `k` ending the VM. */
#include "vmm/vm.h"
#include "vmm/vm_impl.h"

#include <errno.h>

#include "devices/clint.h"
#include "vmm/gdb_target.h"
#include "vmm/gdbstub.h"

static void freeze(void *opaque)
{
    struct vm *vm = opaque;
    clint_freeze(vm->board->clint);
}

static void thaw(void *opaque)
{
    struct vm *vm = opaque;
    clint_thaw(vm->board->clint);
}

static void kill_vm(void *opaque)
{
    vm_stop(opaque);
}

int vm_enable_gdb(struct vm *vm, const char *spec, int wait, struct errmsg *e)
{
    if (vm->gdb || vm->running)
        return errmsg_set(e, -EBUSY, "the gdb stub is set up before the VM starts, once");
    for (unsigned i = 0; i < vm->board->nharts; i++)
        vm->gdb_harts[i] = vm->board->harts[i].hart;
    struct gdb_target_config tc = { .harts = vm->gdb_harts, .nharts = vm->board->nharts, .halt_returns_stop = 1,
                                    .freeze = freeze, .thaw = thaw, .opaque = vm, .start_halted = wait };
    int r = gdb_target_create(&vm->gdb, &tc, e);
    if (r)
        return r;
    struct gdbstub_config sc = { .spec = spec, .target = vm->gdb, .kill = kill_vm, .opaque = vm };
    if ((r = gdbstub_start(&vm->stub, &sc, e))) {
        gdb_target_destroy(vm->gdb);
        vm->gdb = NULL;
    }
    return r;
}

void vm_gdb_end(struct vm *vm)
{
    /* The guest's own status where it gave one (syscon failure codes). */
    if (vm->gdb)
        gdb_target_shutdown(vm->gdb, virt_end_reason(vm->board) == VIRT_FAIL ? vm->board->end_code : 0);
}

void vm_gdb_free(struct vm *vm)
{
    gdbstub_stop(vm->stub);
    vm->stub = NULL;
    gdb_target_destroy(vm->gdb);
    vm->gdb = NULL;
}
