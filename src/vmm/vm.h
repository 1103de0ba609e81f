/* A virt-board VM's lifetime: one host thread per hart (each runs its hart
 * with vcpu_run, sleeping in wfi), the I/O thread for device work, the
 * host terminal wired to the guest console, SIGINT/SIGTERM/SIGHUP turned
 * into an orderly stop (the terminal mode is always restored), and the
 * board's timers (RTC alarm, panic grace period) on the thread that waits.
 *
 *     vm_create -> [vm_dump_dtb] -> vm_start -> [vm_pause/vm_resume]... ->
 *     vm_wait -> vm_destroy           (vm_run does all of it)
 *
 * Pausing parks every hart thread outside the guest and stops the guest's
 * clock, so a paused guest sees no time pass and no instruction retire. */
#ifndef MINNOW_VMM_VM_H
#define MINNOW_VMM_VM_H

#include <stdint.h>

#include "machine/virt.h"
#include "util/errmsg.h"

struct vm_result {
    enum virt_end end;
    uint32_t code;            /* VIRT_FAIL: the guest's failure code */
    char report[4096];        /* VIRT_CRASH: the crashed hart's state */
    int signal, signal_code;  /* VIRT_STOPPED by a signal: its number and si_code; 0: not a signal */
};

struct vm;

/* Builds the board from cfg (console_out is set by the VM). */
int vm_create(struct vm **out, const struct virt_config *cfg, struct errmsg *e);
/* Stops a started VM first (as vm_stop + vm_wait). */
void vm_destroy(struct vm *vm);
struct virt *vm_board(struct vm *vm);
/* Before vm_start (or while paused before the guest first runs): the
 * guest console's output goes to the file at path
 * (created, appended to) instead of the terminal; input still comes from
 * the terminal. */
/* A GDB remote stub on spec ("tcp:HOST:PORT" or "unix:PATH"), once per
 * VM: before vm_start (wait: the harts stay held at reset until a
 * debugger lets them go), or on a started VM, running or paused, which
 * goes on as it was until a debugger attaches. */
int vm_enable_gdb(struct vm *vm, const char *spec, int wait, struct errmsg *e);
/* The spec the stub listens on, or NULL. */
const char *vm_gdb_spec(struct vm *vm);
/* Calls fn with the harts held (vm_hold: parked, or held by a debugger),
 * for a look at their state that must not change it
 * (vmm/guest_inspect.h). */
void vm_inspect(struct vm *vm, void (*fn)(void *opaque, struct hart *const *harts, unsigned n), void *opaque);
int vm_set_console_file(struct vm *vm, const char *path, struct errmsg *e);
/* The drive in device slot puts the file at path in place of its backing
 * file while the VM runs (Firecracker's PATCH /drives path_on_host): it is
 * opened as read_only says (as the drive was), then swapped in with the
 * harts and the I/O thread held, and the guest gets a config-change
 * interrupt for the new capacity (vm_drive.c). */
int vm_drive_swap(struct vm *vm, unsigned slot, const char *path, bool read_only, struct errmsg *e);
int vm_dump_dtb(struct vm *vm, const char *path, struct errmsg *e);

/* Starts the I/O thread, the console, signal handling and the harts, and
 * returns. */
int vm_start(struct vm *vm, struct errmsg *e);
/* Returns once every hart is parked and the guest clock stands still.
 * Pause, resume, snapshots and a migration's own pauses are serialized:
 * each waits for the one under way to finish, and never for long, since
 * every wait a hart can be in (remote fences included) gives way to a
 * pause. */
void vm_pause(struct vm *vm);
/* Lets the guest run again; refused (-EBUSY, with a message) while an
 * outgoing migration is under way, which decides by itself whether the VM
 * runs on here (it failed) or ends (it migrated). */
int vm_resume(struct vm *vm, struct errmsg *e);
/* Whether the VM was paused (vm_pause, or restored and not yet resumed). */
int vm_is_paused(struct vm *vm);
/* Ends the run from the host (the result says VIRT_STOPPED). */
void vm_stop(struct vm *vm);
/* Blocks until the run ends, joins the threads and fills *res. */
void vm_wait(struct vm *vm, struct vm_result *res);

/* Snapshots (vm_snapshot.c). */
struct vm_snapshot_params {
    const char *state_path;   /* the state file (vmm/snapshot_file.h) */
    const char *mem_path;     /* the memory file */
    int diff;                 /* only the pages dirtied since the last snapshot */
    const char *config_json;  /* the configuration to store in the state file */
};
struct vm_snapshot_stats {
    uint64_t ns;              /* wall time it took */
    uint64_t dirty_pages;     /* pages written since the previous snapshot (or boot) */
    uint64_t mem_bytes_written, state_bytes;
};
/* Writes a snapshot of a paused VM, which stays paused. */
int vm_snapshot(struct vm *vm, const struct vm_snapshot_params *p, struct vm_snapshot_stats *st, struct errmsg *e);
/* A VM restored from a snapshot: its RAM is that snapshot's (id, 16
 * bytes), which its next Diff snapshot applies onto. */
void vm_snapshot_set_base(struct vm *vm, const uint8_t id[16]);
/* Builds a VM from cfg (cfg->restore set; restore_mem the memory file)
 * and the machine state of a snapshot (snapshot_file.h), and starts it
 * paused: vm_resume lets it run on. */
int vm_restore(struct vm **out, const struct virt_config *cfg, const uint8_t *state, size_t len,
               struct errmsg *e);
/* The same in two steps, for a VM whose RAM is filled in between (an
 * incoming migration writes it through vm_board(vm)->ram): begin creates
 * the VM paused, finish loads the machine state and starts it (paused);
 * if finish fails, vm_destroy it. */
int vm_restore_begin(struct vm **out, const struct virt_config *cfg, struct errmsg *e);
int vm_restore_finish(struct vm *vm, const uint8_t *state, size_t len, struct errmsg *e);

/* vm_create, optionally vm_dump_dtb (then no run), vm_start, vm_wait,
 * vm_destroy. Returns 0, or a negative code with a message when the VM
 * could not be built or started. */
int vm_run(const struct virt_config *cfg, const char *dump_dtb, struct vm_result *res, struct errmsg *e);

#endif
