/* minnow's command line: `minnow <command> [options]`. */
#include "api/cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_version.h"
#include "api/cli_seccomp.h"
#include "backends/net_helper.h"

static const char usage[] =
    "usage: minnow <command> [options]\n"
    "       minnow --api-sock PATH [--config-file FILE] [--id ID]\n"
    "       minnow --no-api --config-file FILE [--id ID]\n"
    "       minnow --incoming tcp:HOST:PORT|unix:PATH [--api-sock PATH]\n"
    "\n"
    "minnow is a virtual machine monitor for RISC-V guests.\n"
    "\n"
    "commands:\n"
    "  run            boot a guest, or run a bare-metal program (see 'minnow run --help')\n"
    "  restore        run a VM on from a snapshot (see 'minnow restore --help')\n"
    "  snapshot-merge apply a Diff snapshot's memory onto the one before it\n"
    "  pause, resume  pause or resume a minnow serving --api-sock\n"
    "  snapshot       snapshot it (see 'minnow snapshot --help')\n"
    "  migrate        live-migrate it to a 'minnow --incoming' (see 'minnow migrate --help')\n"
    "  inspect        look at its guest: registers, memory, page walks, stack (see 'minnow inspect --help')\n"
    "  gdb            start a gdb stub in it, attach gdb there (see 'minnow gdb --help')\n"
    "  seccomp print  print the built-in seccomp filters (see 'minnow seccomp --help')\n"
    "  jail           run minnow in a jail, as Firecracker's jailer (see 'minnow jail --help')\n"
    "  version        print the version and exit\n"
    "  help           print this text and exit\n"
    "\n"
    "Firecracker's command line: --api-sock serves its REST API on a Unix\n"
    "socket (configure, then PUT /actions InstanceStart); --config-file boots\n"
    "at once from its VM configuration JSON; --no-api serves no API. See\n"
    "'minnow --api-sock --help' for the endpoints and minnow's JSON additions.\n"
    "\n"
    "options:\n"
    "  -h, --help     print this text and exit\n"
    "  --version      print minnow's version and the Firecracker API version it\n"
    "                 implements, and exit\n"
    "  --snapshot-version, --describe-snapshot FILE, --boot-timer,\n"
    "  --http-api-max-payload-size N, ...: Firecracker's (see 'minnow --api-sock --help')\n";

/* An argument naming an inherited descriptor: "/dev/fd/N" or
 * "/proc/self/fd/N" (a shell's <(...) gives those). -1 if it is not one. */
static int named_fd(const char *arg)
{
    const char *p = !strncmp(arg, "/dev/fd/", 8) ? arg + 8 : !strncmp(arg, "/proc/self/fd/", 14) ? arg + 14 : NULL;
    if (!p || !*p)
        return -1;
    char *end;
    long n = strtol(p, &end, 10);
    return *end || n < 3 || n > INT_MAX ? -1 : (int)n;
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Descriptors a parent left open (a listening socket, a file it meant to
 * keep) must not live on in the monitor, or in what it runs: every one
 * above stderr is closed, except those the command line names. */
static void close_inherited_fds(int argc, char **argv)
{
    int keep[32], n = 0;
    for (int i = 1; i < argc && n < (int)(sizeof keep / sizeof keep[0]); i++) {
        int fd = named_fd(argv[i]);
        if (fd >= 0)
            keep[n++] = fd;
    }
    qsort(keep, (size_t)n, sizeof keep[0], cmp_int);
    unsigned from = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned)keep[i] > from)
            close_range(from, (unsigned)keep[i] - 1, 0);
        if ((unsigned)keep[i] + 1 > from)
            from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0u, 0);
}

int cli_main(int argc, char **argv)
{
    /* Not in the usage: minnow starts it itself (backends/net_helper.h),
     * handing it its socket as an fd; it keeps only that one itself. */
    if (argc >= 2 && !strcmp(argv[1], "net-helper"))
        return net_helper_main(argc, argv);
    close_inherited_fds(argc, argv);
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        fputs(usage, stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        fputs(API_VERSION_TEXT, stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "run"))
        return cli_run(argc, argv);
    if (!strcmp(cmd, "restore"))
        return cli_restore(argc, argv);
    if (!strcmp(cmd, "inspect") || !strcmp(cmd, "gdb"))
        return cli_inspect(argc, argv);
    if (!strcmp(cmd, "seccomp") || !strcmp(cmd, "--print-seccomp")) {
        char *pargv[] = { argv[0], "seccomp", "print", NULL };
        return !strcmp(cmd, "seccomp") ? cli_seccomp(argc, argv) : cli_seccomp(3, pargv);
    }
    if (!strcmp(cmd, "jail"))
        return cli_jail(argc, argv);
    if (!strcmp(cmd, "snapshot-merge"))
        return cli_snapshot_merge(argc, argv);
    if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume") || !strcmp(cmd, "snapshot") || !strcmp(cmd, "migrate"))
        return cli_control(argc, argv);
    /* Firecracker's command line takes its options in any order: every
     * other option starts it (and an unknown one is refused there). */
    if (!strncmp(cmd, "--", 2))
        return cli_api(argc, argv);
    fprintf(stderr, "minnow: unknown command '%s' (try 'minnow --help')\n", cmd);
    return CLI_EXIT_USAGE;
}
