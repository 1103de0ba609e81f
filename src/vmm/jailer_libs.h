/* The shared objects a jailed minnow needs inside its jail. Firecracker's
 * jailer expects a statically linked Firecracker; minnow is linked against
 * Debian's shared libraries, so its jail holds private copies of them (and
 * of the dynamic loader) at their host paths, where the loader in the jail
 * looks (it has no ld.so.cache there).
 *
 * The set is read from the ELF files, never by loading them (no library's
 * code runs in the jailer, which is root): the exec file's program
 * interpreter and DT_NEEDED libraries, those minnow loads on demand
 * (dlopen), and what each of them links, found as the loader finds them:
 * the first file of that name that is an ELF object of this host, in the
 * directories this process's own libraries were found in (the host's
 * layout, as its loader's cache has it), then the usual ones. A library
 * the exec file needs that is nowhere is an error naming it; one loaded on
 * demand that is not there is left out (minnow reports it when it loads
 * it, as it would outside a jail). A statically linked exec file gets no
 * libraries. Every size and offset read from a file is checked. */
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
