/* The command-line front end: parses argv, drives the lower layers and turns
 * their errors into messages and exit statuses. The only layer that prints
 * errors or decides the process exit status. */
#ifndef MINNOW_API_CLI_H
#define MINNOW_API_CLI_H

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
};

int cli_main(int argc, char **argv);

/* `minnow run` (cli_run.c). */
int cli_run(int argc, char **argv);

#endif
