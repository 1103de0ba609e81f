/* `minnow snapshot-merge`: applies a Diff snapshot's memory file onto the
 * memory file of the snapshot before it, so the Diff state restores. */
#include "api/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/snapshot_file.h"
#include "vmm/snapshot_mem.h"

static const char merge_usage[] =
    "usage: minnow snapshot-merge --snapshot DIFF_STATE --mem DIFF_MEM --base-mem BASE_MEM\n"
    "\n"
    "A Diff snapshot (PUT /snapshot/create with \"snapshot_type\": \"Diff\") writes\n"
    "only the pages the guest changed since the snapshot before it. This copies\n"
    "those pages (the state file lists them) from DIFF_MEM onto a copy of\n"
    "BASE_MEM, the memory file of that earlier snapshot, and renames the copy\n"
    "over BASE_MEM (VMs running from BASE_MEM keep the old file); then\n"
    "'minnow restore --snapshot DIFF_STATE --mem BASE_MEM' restores the Diff\n"
    "snapshot, and BASE_MEM no longer restores with its own state file.\n"
    "Merge each Diff in the order they were taken (a Diff names the snapshot\n"
    "it follows; another base is refused).\n"
    "\n"
    "options:\n"
    "  --snapshot FILE   the Diff snapshot's state file\n"
    "  --mem FILE        the Diff snapshot's memory file\n"
    "  --base-mem FILE   the memory file to update\n"
    "  -h, --help        print this text and exit\n";

int cli_snapshot_merge(int argc, char **argv)
{
    const char *state = NULL, *mem = NULL, *base = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(merge_usage, stdout);
            return CLI_EXIT_OK;
        }
        const char **slot = !strcmp(a, "--snapshot") ? &state : !strcmp(a, "--mem") ? &mem
                          : !strcmp(a, "--base-mem") ? &base : NULL;
        if (!slot) {
            fprintf(stderr, "minnow: snapshot-merge: unknown option '%s' (try 'minnow snapshot-merge --help')\n", a);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc || !*argv[i + 1]) {
            fprintf(stderr, "minnow: snapshot-merge: %s needs a value\n", a);
            return CLI_EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (!state || !mem || !base) {
        fprintf(stderr, "minnow: snapshot-merge needs --snapshot, --mem and --base-mem\n");
        return CLI_EXIT_USAGE;
    }
    struct errmsg e = { "" };
    struct snapshot_file f;
    uint64_t pages;
    if (snapshot_file_read(state, &f, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    int r = snapshot_mem_merge(&f, state, mem, base, &pages, &e);
    snapshot_file_free(&f);
    if (r) {
        fprintf(stderr, "minnow: snapshot-merge: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    printf("snapshot-merge: %" PRIu64 " pages (%" PRIu64 " KiB) copied onto %s\n", pages, pages * 4, base);
    return CLI_EXIT_OK;
}
