/* struct vm, shared by the files that implement vm.h (vm.c: threads and
 * lifetime; vm_snapshot.c: snapshots and restore). Nothing else includes
 * it. */
#ifndef MINNOW_VMM_VM_IMPL_H
#define MINNOW_VMM_VM_IMPL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "machine/virt.h"
#include "vmm/event_loop.h"

struct term;

struct hart_thread {
    struct vm *vm;
    unsigned id;
    pthread_t thread;
};

struct vm {
    struct virt *board;
    struct event_loop *io;    /* the I/O thread: device work */
    struct term *term;
    int console_fd;           /* vm_set_console_file; -1: the terminal */
    struct hart_thread harts[VIRT_MAX_HARTS];
    unsigned started;         /* hart threads running */
    int running;              /* vm_start succeeded, vm_wait not yet done */
    char crash_report[4096];  /* the first crashed hart's state */

    /* Pause: lock guards paused, in_guest and crash_report; cond
     * announces changes of both counters. paused (the harts are held
     * outside the guest) is user_paused || holds, kept so under ctl,
     * which serializes pause, resume, snapshots and migration: each holds
     * it for the whole of a change, so none sees another half-done. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int paused;
    unsigned in_guest;        /* hart threads inside vcpu_run */
    pthread_mutex_t ctl;
    int user_paused;          /* vm_pause (the API, the CLI, a restore); set under both locks */
    unsigned holds;           /* vm_hold: a migration's own pauses */

    /* The signal thread (sigwait on the set blocked in every thread). */
    pthread_t sig_thread;
    int sig_started;
    sigset_t sigs, old_sigs;
    _Atomic int sig_quit;
    _Atomic int stop_signal, stop_signal_code;   /* the signal that stopped the VM (vm_result) */

    struct migration *mig;    /* the last outgoing migration (migration.c) */
    /* The id of the snapshot RAM was last written to or restored from
     * (zeros: none): a Diff names it as the snapshot it applies onto. */
    uint8_t snapshot_id[16];
    /* The gdb stub (vm_gdb.c), NULL unless vm_enable_gdb; set under lock
     * (the hart threads read it entering the guest). */
    struct gdb_target *gdb;
    struct gdbstub *stub;
    struct hart *gdb_harts[VIRT_MAX_HARTS];   /* the board's, from vm_create on */
    char gdb_spec[128];
    int gdb_holding;          /* under lock: gdb holds the harts (vm_gdb.c) */
};
/* vm_gdb.c: the run ended (held harts go, before they are joined); and
 * the stub's teardown. */
void vm_gdb_end(struct vm *vm);
void vm_gdb_free(struct vm *vm);

/* Waits for an outgoing migration's thread (cutting its connection), and
 * frees it (migration.c). */
void vm_migration_join(struct vm *vm);
void vm_migration_free(struct vm *vm);
/* Whether an outgoing migration is under way; if so, its destination
 * into dest (migration.c). */
bool vm_migration_active(struct vm *vm, char *dest, size_t len);

/* Parks the harts for the holder (a migration taking dirty pages, or its
 * stop-and-copy) whatever the API does meanwhile: a resume does not let
 * them run while a hold is in place. Each vm_hold has its vm_release. */
void vm_hold(struct vm *vm);
void vm_release(struct vm *vm);

#endif
