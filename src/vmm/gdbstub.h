/* The GDB remote serial protocol stub: one thread that listens on a TCP
 * or Unix socket (--gdb tcp:HOST:PORT | unix:PATH), takes one debugger
 * at a time and drives the harts through a gdb_target. A client that
 * misbehaves or goes away never stops the VM: its connection ends, the
 * harts run on, and the next connection is taken. */
#ifndef MINNOW_VMM_GDBSTUB_H
#define MINNOW_VMM_GDBSTUB_H

#include "util/errmsg.h"
#include "vmm/gdb_target.h"

struct gdbstub;

/* kill: what the debugger's `k` does (ends the VM), or NULL. */
struct gdbstub_config {
    const char *spec;  /* "tcp:HOST:PORT" or "unix:PATH" */
    struct gdb_target *target;
    void (*kill)(void *opaque);
    void *opaque;
};

/* Binds and listens at once (so a bad address is an error before the VM
 * starts, and a client may connect as soon as this returns), then serves
 * on its own thread. */
int gdbstub_start(struct gdbstub **out, const struct gdbstub_config *cfg, struct errmsg *e);
/* Ends the thread (a connected debugger is told the VM exited) and
 * removes the Unix socket it made. */
void gdbstub_stop(struct gdbstub *s);

/* Checks a --gdb value without binding it; a TCP address that is not
 * loopback is refused (-EPERM) unless allow_remote. */
int gdbstub_check_spec(const char *spec, int allow_remote, struct errmsg *e);

#endif
