/* A VM's gdb stub (vm.h: vm_enable_gdb): the target over the board's
 * harts, its clock stopped while gdb holds them, and `k` ending the VM.
 * A stub set up on a started VM is put in place while the harts are held
 * outside the guest (vm_hold): each picks it up as it enters the guest
 * again, so no hart runs half under the debugger's control. */
#include "vmm/vm.h"
#include "vmm/vm_impl.h"

#include <errno.h>
#include <stdio.h>

#include "devices/clint.h"
#include "vmm/gdb_target.h"
#include "vmm/gdbstub.h"

/* gdb holds every hart that is in the guest (they wait inside
 * gdb_target_run, still counted in_guest): a pause, a snapshot or an
 * inspection need not wait for them to leave (vm.c: park_locked). */
static void freeze(void *opaque)
{
    struct vm *vm = opaque;
    clint_freeze(vm->board->clint);
    pthread_mutex_lock(&vm->lock);
    vm->gdb_holding = 1;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
}

/* gdb lets the harts go. If the VM was paused meanwhile (or gdb attached
 * to a paused VM), its clock stays stopped and every hart is asked to
 * stop again (gdb_target_resume forgot the pause's requests): held ones
 * go round the vm's loop to park there, without running an instruction. */
static void thaw(void *opaque)
{
    struct vm *vm = opaque;
    pthread_mutex_lock(&vm->lock);
    int paused = vm->paused;
    vm->gdb_holding = 0;
    pthread_mutex_unlock(&vm->lock);
    if (!paused) {
        clint_thaw(vm->board->clint);
        return;
    }
    for (unsigned i = 0; i < vm->board->nharts; i++)
        hart_request_stop(vm->gdb_harts[i]);
}

static void kill_vm(void *opaque)
{
    vm_stop(opaque);
}

int vm_enable_gdb(struct vm *vm, const char *spec, int wait, struct errmsg *e)
{
    if (vm->gdb)
        return errmsg_set(e, -EBUSY, "a gdb stub already listens on %s (one per VM)", vm->gdb_spec);
    if (vm->running && virt_end_reason(vm->board) != VIRT_RUNNING)
        return errmsg_set(e, -EINVAL, "the VM has ended: there is nothing to debug");
    if (snprintf(vm->gdb_spec, sizeof vm->gdb_spec, "%s", spec) >= (int)sizeof vm->gdb_spec)
        return errmsg_set(e, -EINVAL, "gdb: '%s' is too long", spec);
    struct gdb_target_config tc = { .harts = vm->gdb_harts, .nharts = vm->board->nharts, .halt_returns_stop = 1,
                                    .freeze = freeze, .thaw = thaw, .opaque = vm,
                                    .start_halted = wait && !vm->running };
    struct gdb_target *t;
    int r = gdb_target_create(&t, &tc, e);
    if (r)
        return r;
    /* The harts are held from before a debugger can connect until they
     * run under the target: its halt then finds none running. */
    int running = vm->running;
    if (running)
        vm_hold(vm);
    struct gdbstub_config sc = { .spec = spec, .target = t, .kill = kill_vm, .opaque = vm };
    if (!(r = gdbstub_start(&vm->stub, &sc, e))) {
        pthread_mutex_lock(&vm->lock);
        vm->gdb = t;
        pthread_mutex_unlock(&vm->lock);
    }
    if (running)
        vm_release(vm);
    if (r) {
        if (tc.start_halted)
            thaw(vm); /* gdb_target_create froze it */
        gdb_target_destroy(t);
    }
    return r;
}

void vm_inspect(struct vm *vm, void (*fn)(void *opaque, struct hart *const *harts, unsigned n), void *opaque)
{
    vm_hold(vm);
    fn(opaque, vm->gdb_harts, vm->board->nharts);
    vm_release(vm);
}

const char *vm_gdb_spec(struct vm *vm)
{
    return vm->gdb ? vm->gdb_spec : NULL;
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
