/* The seccomp options of `minnow run`, `minnow --api-sock`/`--no-api`,
 * `minnow --incoming` and `minnow restore` (Firecracker's --no-seccomp and
 * --seccomp-filter), and `minnow seccomp print`. */
#ifndef MINNOW_API_CLI_SECCOMP_H
#define MINNOW_API_CLI_SECCOMP_H

#include "vmm/seccomp_policy.h"

struct cli_seccomp {
    int off;              /* --no-seccomp */
    const char *filter;   /* --seccomp-filter FILE */
};

#define CLI_SECCOMP_USAGE \
    "  --no-seccomp       run the monitor's threads without seccomp filters\n" \
    "  --seccomp-filter FILE  the filters from FILE (Firecracker's seccompiler\n" \
    "                     JSON: 'minnow seccomp print' prints the built-in ones)\n" \
    "                     instead of the built-in ones; a blocked syscall ends\n" \
    "                     the VM with status 148, naming the thread and syscall\n"

/* argv[*i] is ours: 1 (and *i moved past its value), -1 after an error
 * message, 0 when it is not a seccomp option. */
int cli_seccomp_option(struct cli_seccomp *s, int argc, char **argv, int *i);
/* Loads the filter file and puts the calling (main) thread into the vmm
 * class: 0, or an exit status after a message. Call before any thread. */
int cli_seccomp_enter(struct cli_seccomp *s);
/* `minnow seccomp print` */
int cli_seccomp(int argc, char **argv);

#endif
