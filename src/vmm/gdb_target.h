/* What the gdb stub does to a VM's harts: holds them (all-stop: when one
 * stops, all stop), lets them run or steps one, and stops them at
 * breakpoints and watchpoints, without patching guest memory.
 *
 * The vCPU loop runs its hart through gdb_target_run when a debugger
 * target exists. Break- and watchpoints are the hart's debugger-owned
 * triggers (cpu/trigger.h: execute, load and store matches, apart from
 * the guest's own Sdtrig triggers), which the hart's own thread installs
 * in gdb_target_run after they changed; so apart from a step that is
 * hart_run itself, and the hart stops before an instruction at a
 * breakpoint or before an access to a watched address. A step runs one
 * instruction. gdb itself steps RISC-V code by a breakpoint after the
 * instruction and a continue: a hart resumed with a breakpoint just after
 * its instruction runs that one as a step, so one that traps stops at the
 * handler's first instruction, as a hardware step would. A halted hart
 * waits inside gdb_target_run. The stub thread
 * is told of a stop through an fd that becomes readable
 * (gdb_target_event_fd). */
#ifndef MINNOW_VMM_GDB_TARGET_H
#define MINNOW_VMM_GDB_TARGET_H

#include <stdint.h>

#include "cpu/hart.h"
#include "util/errmsg.h"

#include "cpu/trigger.h"

#define GDB_TARGET_MAX_BREAKPOINTS 64
#define GDB_TARGET_MAX_WATCHPOINTS 32

struct gdb_target;

struct gdb_target_config {
    struct hart *const *harts;
    unsigned nharts;
    /* 1: a halt ends the hart's hart_run with HART_EXIT_STOP (the vm's
     * hart threads go round their loop, so a pause that came at the same
     * time is not lost); 0: it ends with HART_EXIT_BUDGET (a bare-metal
     * run, where a stop ends the program). */
    int halt_returns_stop;
    /* Called when the harts are all held (with start_halted: at once)
     * and before they run again (the board stops its clock), or NULL. */
    void (*freeze)(void *opaque);
    void (*thaw)(void *opaque);
    void *opaque;
    /* Held at reset until a debugger lets them go (--gdb-wait). */
    int start_halted;
};

int gdb_target_create(struct gdb_target **out, const struct gdb_target_config *cfg, struct errmsg *e);
void gdb_target_destroy(struct gdb_target *t);

/* The vCPU side: hart_run(h, budget) for hart index i, under the
 * debugger's control. */
enum hart_exit gdb_target_run(struct gdb_target *t, unsigned i, uint64_t budget);

/* The stub side (one thread). */
unsigned gdb_target_nharts(const struct gdb_target *t);
struct hart *gdb_target_hart(const struct gdb_target *t, unsigned i);
/* Holds every hart; returns once none runs. Idempotent. */
void gdb_target_halt(struct gdb_target *t);
/* Lets every hart run (step < 0), or only hart `step` for one
 * instruction; returns at once. The stop comes through the event fd. */
void gdb_target_resume(struct gdb_target *t, int step);
/* Readable while a stop waits to be collected by gdb_target_stopped. */
int gdb_target_event_fd(const struct gdb_target *t);
/* After the event fd fired: waits until every hart is held and returns
 * the index of the hart that stopped (breakpoint or step done). */
unsigned gdb_target_stopped(struct gdb_target *t);
/* Software and hardware breakpoints are the same thing here: -ENOSPC when
 * the set is full; removing one not set is not an error. */
int gdb_target_add_breakpoint(struct gdb_target *t, uint64_t pc);
void gdb_target_remove_breakpoint(struct gdb_target *t, uint64_t pc);
/* Watchpoints on [addr, addr+len) for kinds (TRIGGER_LOAD and/or
 * TRIGGER_STORE): -ENOSPC when the set is full, -EINVAL for len 0 or a
 * range that wraps. Setting one twice and removing one not set do
 * nothing. */
int gdb_target_add_watchpoint(struct gdb_target *t, uint64_t addr, uint64_t len, unsigned kinds);
void gdb_target_remove_watchpoint(struct gdb_target *t, uint64_t addr, uint64_t len, unsigned kinds);
/* Removes every break- and watchpoint. */
void gdb_target_clear_breakpoints(struct gdb_target *t);
/* After gdb_target_stopped: 1 when that stop was a break- or
 * watchpoint's, with what it matched in *hit (the hart stopped before the
 * instruction, which has not executed). */
int gdb_target_stop_hit(struct gdb_target *t, struct trigger_hit *hit);
/* The run has ended: held harts go, and nothing holds them again (the
 * vm's end, before it joins the hart threads), with the status the
 * debugger is told (0-255, as gdb's W packet has it). */
void gdb_target_shutdown(struct gdb_target *t, unsigned exit_code);
/* Whether gdb_target_shutdown was called (the event fd fires then too),
 * and the status it gave. */
int gdb_target_ended(struct gdb_target *t, unsigned *exit_code);

#endif
