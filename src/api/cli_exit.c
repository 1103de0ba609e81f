/* How a run ended, as the process exit status (see enum cli_exit) and a
 * line on stderr; shared by `minnow run` and the API server so both end
 * the same way. */
#include "api/cli.h"

#include <inttypes.h>
#include <stdio.h>

int cli_exit_guest_code(uint64_t code, const char *who)
{
    if (code == 0)
        return 1;
    if (code > CLI_EXIT_GUEST_MAX) {
        fprintf(stderr, "minnow: %s's failure code %" PRIu64 " is above %d: exiting with %d\n", who, code,
                CLI_EXIT_GUEST_MAX, CLI_EXIT_GUEST_MAX);
        return CLI_EXIT_GUEST_MAX;
    }
    return (int)code;
}

int cli_exit_status(const struct vm_result *res)
{
    switch (res->end) {
    case VIRT_POWEROFF:
        return CLI_EXIT_OK;
    case VIRT_FAIL:
        fprintf(stderr, "minnow: the guest powered off with failure code %u\n", res->code);
        return cli_exit_guest_code(res->code, "the guest");
    case VIRT_REBOOT:
        fprintf(stderr, "minnow: the guest asked for a reboot\n");
        return CLI_EXIT_REBOOT;
    case VIRT_PANIC:
        fprintf(stderr, "minnow: the guest kernel panicked\n");
        return CLI_EXIT_PANIC;
    case VIRT_CRASH:
        fprintf(stderr, "minnow: the guest crashed: %s", res->report);
        return CLI_EXIT_ERROR;
    case VIRT_STOPPED:
        fprintf(stderr, "minnow: stopped\n");
        return CLI_EXIT_STOPPED;
    case VIRT_MIGRATED:
        fprintf(stderr, "minnow: the VM migrated and runs on at the target\n");
        return CLI_EXIT_OK;
    case VIRT_MEM_LOST:
        fprintf(stderr, "minnow: %s", res->report);
        return CLI_EXIT_ERROR;
    case VIRT_RUNNING:
        break;
    }
    fprintf(stderr, "minnow: the machine stopped for no recorded reason\n");
    return CLI_EXIT_ERROR;
}
