/* A jail's cgroups, as Firecracker's jailer makes them: <parent>/<id> below
 * the root of each hierarchy, the --cgroup FILE=VALUE settings written
 * into it, then the process moved in.
 *
 * cgroup v2: the unified hierarchy (the first cgroup2 mount in
 * /proc/self/mounts). The cgroup is always made (the VM's processes are
 * then listed in its cgroup.procs), and each controller a setting names
 * is enabled in cgroup.subtree_control from the hierarchy's root down.
 * cgroup v1: the hierarchy of each controller a setting names (the
 * controller is the file name up to its first '.'); with no settings no
 * cgroup is made. A new v1 cpuset cgroup first gets its parent's
 * cpuset.cpus and cpuset.mems, which it needs before a process can join.
 *
 * What is made is remembered: jailer_cgroup_undo takes it down again (the
 * cgroups made, controllers enabled in cgroups that were there before). */
#ifndef MINNOW_VMM_JAILER_CGROUP_H
#define MINNOW_VMM_JAILER_CGROUP_H

#include "util/errmsg.h"
#include "vmm/jailer.h"

struct jailer_cgroup;

/* Makes the cgroups and writes the settings. parent is a relative path. */
int jailer_cgroup_create(struct jailer_cgroup **out, int version, const char *parent, const char *id,
                         const struct jailer_setting *s, unsigned n, struct errmsg *e);
/* Moves the calling process into the cgroups (it is done before the
 * process leaves the host's mount namespace: the descriptors it writes
 * were opened by create). */
int jailer_cgroup_enter(struct jailer_cgroup *cg, struct errmsg *e);
/* The jail stands: closes what is held, keeping the cgroups. */
void jailer_cgroup_close(struct jailer_cgroup *cg);
/* The jail failed: removes what create made. */
void jailer_cgroup_undo(struct jailer_cgroup *cg);

/* `minnow jail --cleanup`: removes <parent>/<id> from every cgroup
 * hierarchy mounted that has it, once it holds no process (refused,
 * naming a pid, while one does). *removed: how many were removed. */
int jailer_cgroup_remove(const char *parent, const char *id, unsigned *removed, struct errmsg *e);

/* Checks the syntax of a setting's file name and a --parent-cgroup path. */
int jailer_cgroup_check(const struct jailer_setting *s, struct errmsg *e);
int jailer_cgroup_check_parent(const char *parent, struct errmsg *e);

#endif
