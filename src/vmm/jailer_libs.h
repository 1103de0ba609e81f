/* The shared objects a jailed minnow needs inside its jail. Firecracker's
 * jailer expects a statically linked Firecracker; minnow is linked against
 * Debian's shared libraries, so its jail holds private copies of them (and
 * of the dynamic loader) at their host paths, where the loader looks.
 *
 * The set is the one this process's loader resolved: the objects loaded
 * now (the jailer is minnow, linked the same way), after loading the
 * libraries minnow itself loads on demand (dlopen), which brings in what
 * they link. The exec file's own ELF program interpreter and DT_NEEDED
 * entries are read and checked against that set, so an exec file that
 * needs a library this minnow does not load is refused with its name, and
 * a statically linked one gets no libraries at all. */
#ifndef MINNOW_VMM_JAILER_LIBS_H
#define MINNOW_VMM_JAILER_LIBS_H

#include <stdbool.h>

#include "util/errmsg.h"

struct jailer_libs {
    char **paths;       /* absolute host paths, loader first */
    unsigned n;
    /* The exec file links a sanitizer runtime (ASan, TSan, LSan), which
     * reads /proc/self/maps as it starts: the jail mounts its own /proc. */
    bool needs_proc;
};

int jailer_libs_find(struct jailer_libs *l, const char *exec_file, const char *const *on_demand, struct errmsg *e);
void jailer_libs_free(struct jailer_libs *l);

#endif
