/* Guest RAM that a memory file backs can vanish under a running VM: when
 * the file is truncated, touching a page past its new end raises SIGBUS,
 * on whichever thread touched it (a hart, the I/O thread, a snapshot or
 * migration thread). Instead of dying of it, the process maps a page of
 * zeros over the faulting page (so the access completes and the thread
 * runs on), records the fault and signals an eventfd; the board ends the
 * run (VIRT_MEM_LOST) from its I/O thread, and the VM stops with a message
 * naming the memory file.
 *
 * A signal handler belongs to the whole process, so the ranges it must
 * recognise are kept in a process-wide table (a process may hold several
 * VMs); a SIGBUS outside every range goes to the handler that was there
 * before (the default one: the process dies as it would have).
 *
 * A memory file written in place changes, silently, every page a VM
 * mapped from it and has not written itself; nothing minnow does writes
 * one in place (README). Such a write is caught too, by an inotify watch
 * on the file (IN_MODIFY; writes through another process's shared
 * mapping raise no event), and also ends the run. */
#ifndef MINNOW_MACHINE_RAM_FAULT_H
#define MINNOW_MACHINE_RAM_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

struct ram_fault;

/* Watches [start, start+len) (page-aligned), a mapping of fd, the file
 * at `path`. Unwatch it before unmapping it, with every thread that
 * touches it stopped. */
int ram_fault_watch(struct ram_fault **out, void *start, size_t len, int fd, const char *path, struct errmsg *e);
void ram_fault_unwatch(struct ram_fault *f);
/* Readable at the first fault (ram_fault_fd) and when the file is written
 * (ram_fault_changed_fd; -1 when no watch could be set); ram_fault_consume drains both and returns
 * ram_fault_hit. */
int ram_fault_fd(const struct ram_fault *f);
int ram_fault_changed_fd(const struct ram_fault *f);
int ram_fault_consume(struct ram_fault *f);
/* 1 once a fault happened, with the offset in the range of the first, or
 * once the file was written (offset UINT64_MAX). */
int ram_fault_hit(const struct ram_fault *f, uint64_t *offset);
const char *ram_fault_path(const struct ram_fault *f);

#endif
