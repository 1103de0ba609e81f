/* The command-line front end: parses argv, drives the lower layers and turns
 * their errors into messages and exit statuses. The only layer that prints
 * errors or decides the process exit status. */
#ifndef MINNOW_API_CLI_H
#define MINNOW_API_CLI_H

#include <stdint.h>

#include "vmm/vm.h"

/* Exit statuses of the minnow process. 1..CLI_EXIT_GUEST_MAX is the
 * guest's own failure code (a syscon (code << 16) | 0x3333 write, which the
 * default guest makes with minnow.cmd's status, or a bare-metal program's
 * HTIF code); the monitor's own outcomes sit above that range. */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* the guest powered off / the program passed */
    CLI_EXIT_GUEST_MAX = 119, /* larger guest codes are reported as this */
    CLI_EXIT_REBOOT = 120,    /* the guest asked for a reboot */
    CLI_EXIT_PANIC = 121,     /* the guest kernel panicked */
    CLI_EXIT_USAGE = 122,     /* bad command line */
    CLI_EXIT_ERROR = 123,     /* monitor error, or a hart crashed or hung (state printed) */
    CLI_EXIT_STOPPED = 124,   /* stopped from the host: Ctrl-A x or a signal */
    CLI_EXIT_FC_SIGHUP = 156, /* Firecracker mode only: SIGHUP, Firecracker's FcExitCode::SIGHUP */
};

int cli_main(int argc, char **argv);

/* `minnow run` (cli_run.c). */
int cli_run(int argc, char **argv);

/* `minnow --api-sock PATH [--config-file FILE]`, `minnow --no-api
 * --config-file FILE` (cli_api.c): argv[1] is the first option. */
int cli_api(int argc, char **argv);
/* `minnow restore --snapshot FILE --mem FILE ...` (cli_api.c). */
int cli_restore(int argc, char **argv);
/* `minnow pause|resume|snapshot|migrate --api-sock PATH` (cli_control.c):
 * argv[1] is the command. */
int cli_control(int argc, char **argv);
/* `minnow inspect|gdb --api-sock PATH ...` (cli_inspect.c): argv[1] is
 * the command. */
int cli_inspect(int argc, char **argv);
/* `minnow jail` (cli_jail.c). */
int cli_jail(int argc, char **argv);
/* `minnow snapshot-merge` (cli_snapshot.c). */
int cli_snapshot_merge(int argc, char **argv);

/* The exit status for how a run ended, with a line on stderr for every
 * outcome but a clean poweroff (cli_exit.c). */
int cli_exit_status(const struct vm_result *res);
/* A guest's failure code as an exit status (0 counts as 1; codes above
 * CLI_EXIT_GUEST_MAX give CLI_EXIT_GUEST_MAX, with a note). */
int cli_exit_guest_code(uint64_t code, const char *who);

#endif
