/* The jailer: `minnow jail` starts minnow confined the way Firecracker's
 * jailer confines Firecracker (docs/jailer.md there), with its options.
 *
 * It makes <base>/<exec-name>/<id>/root (the jail), copies the minnow
 * binary in (a private copy: no page of it is shared with another VM),
 * with the shared libraries it links and loads (at their host paths, for
 * its dynamic loader), the device nodes it opens (/dev/net/tun, /dev/null,
 * /dev/urandom) and the files the user hard-links in (--file). It puts
 * the process into a cgroup <parent>/<id> (v2, or v1 controllers) with
 * the given limits, applies rlimits, joins a network namespace, enters a
 * new mount namespace whose root is the jail (pivot_root), optionally a
 * new pid namespace (minnow is its init) and a new session (--daemonize),
 * drops to an unprivileged uid/gid with no supplementary groups, no
 * descriptors above stderr and an empty environment, and execs the copy.
 * The paths minnow is given are then paths inside the jail.
 *
 * The jailer stays outside as minnow's parent until the exec has
 * happened: any step that fails, before or inside the jail, is reported
 * with a message naming the input, and what the jailer made is removed
 * again (nothing half made). Then it waits for minnow and exits with its
 * status, passing on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2
 * (--daemonize: it returns at once). The jail and the cgroup outlive the
 * VM: jailer_cleanup removes them once it has exited. */
#ifndef MINNOW_VMM_JAILER_H
#define MINNOW_VMM_JAILER_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "util/errmsg.h"

#define JAILER_ID_MAX 64
#define JAILER_DEFAULT_BASE "/srv/jailer"
#define JAILER_MAX_SETTINGS 32
#define JAILER_MAX_FILES 32
/* Firecracker's jailer bounds no-file to this when no limit is given. */
#define JAILER_DEFAULT_NOFILE 2048

/* --cgroup FILE=VALUE */
struct jailer_setting {
    const char *file, *value;
};

/* --resource-limit NAME=VALUE */
struct jailer_rlimit {
    int resource;        /* RLIMIT_FSIZE or RLIMIT_NOFILE */
    rlim_t value;
};

/* --file HOST[:JAIL] */
struct jailer_file {
    const char *host;    /* a path on the host */
    const char *jail;    /* its path in the jail; NULL: /<basename of host> */
};

struct jailer_config {
    const char *id;
    const char *exec_file;         /* NULL: this process's own executable */
    uid_t uid;
    gid_t gid;
    bool allow_root;               /* uid or gid 0 only with this */
    const char *base_dir;          /* NULL: JAILER_DEFAULT_BASE */
    const char *netns;             /* NULL: stay in this network namespace */
    int cgroup_version;            /* 1 or 2 */
    const char *parent_cgroup;     /* NULL: the exec file's name */
    struct jailer_setting cgroups[JAILER_MAX_SETTINGS];
    unsigned ncgroups;
    struct jailer_rlimit rlimits[2];
    unsigned nrlimits;
    struct jailer_file files[JAILER_MAX_FILES];
    unsigned nfiles;
    bool daemonize, new_pid_ns;
    /* Shared libraries minnow loads with dlopen when it needs them
     * (NULL-terminated): copied into the jail with what they link. */
    const char *const *on_demand_libs;
    char **args;                   /* minnow's own arguments */
    int nargs;
};

/* 0 if id is a jail id: 1 to JAILER_ID_MAX letters, digits and '-'. */
int jailer_check_id(const char *id, struct errmsg *e);

/* Builds the jail and runs minnow in it. Returns 0 with *status the one
 * to exit with (minnow's own, 128 + signal if a signal ended it, 0 once
 * a --daemonize minnow runs), or a negative errno with a message when
 * the jail could not be made (and nothing of it is left). */
int jailer_run(const struct jailer_config *c, int *status, struct errmsg *e);

/* Removes the jail <base>/<exec-name>/<id> and its cgroups, once no
 * process runs in them (refused, naming the pid, while one does). Uses
 * c->id, base_dir, exec_file and parent_cgroup. */
int jailer_cleanup(const struct jailer_config *c, struct errmsg *e);

#endif
