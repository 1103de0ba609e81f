/* The gdb stub's `monitor` commands (qRcmd): help, info mem, translate,
 * phys on|off, info harts, info regs. They run while gdb holds the harts
 * and print text (the stub sends it in O packets). */
#ifndef MINNOW_VMM_GDB_MONITOR_H
#define MINNOW_VMM_GDB_MONITOR_H

#include "vmm/gdb_target.h"

struct gdb_monitor_ctx {
    struct gdb_target *t;
    unsigned hart;    /* the current thread's hart */
    int *phys;        /* memory packets by physical address (phys on) */
};

/* Runs cmd; returns its output (malloc'd, NUL-terminated; the caller
 * frees it), or NULL when out of memory. An unknown or malformed command
 * prints what was wrong and where help is. */
char *gdb_monitor_run(const struct gdb_monitor_ctx *c, const char *cmd);

#endif
