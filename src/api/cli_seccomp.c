/* Seccomp on the command line. See cli_seccomp.h. */
#include "api/cli_seccomp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/cli.h"
#include "backends/net_helper.h"
#include "vmm/sandbox.h"

int cli_seccomp_option(struct cli_seccomp *s, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--no-seccomp")) {
        s->off = 1;
    } else if (!strcmp(a, "--seccomp-filter")) {
        if (*i + 1 >= argc || !*argv[*i + 1]) {
            fprintf(stderr, "minnow: --seccomp-filter needs a file (try 'minnow seccomp print')\n");
            return -1;
        }
        s->filter = argv[++*i];
    } else {
        return 0;
    }
    if (s->off && s->filter) {
        fprintf(stderr, "minnow: --no-seccomp and --seccomp-filter exclude each other\n");
        return -1;
    }
    return 1;
}

int cli_seccomp_enter(struct cli_seccomp *s)
{
    /* The policy lives as long as the process (the filters are loaded by
     * threads that start later): not in the caller's frame. */
    static struct seccomp_policy policy;
    struct errmsg e = { "" };
    if (s->off)  /* only names the thread */
        return sandbox_enter(SANDBOX_VMM, "main", &e);
    if (s->filter && seccomp_json_load(&policy, s->filter, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    if (sandbox_init(s->filter ? &policy : NULL, &e) || sandbox_enter(SANDBOX_VMM, "main", &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    net_helper_set_runner(sandbox_spawner_call);
    return 0;
}

static const char seccomp_usage[] =
    "usage: minnow seccomp print [--seccomp-filter FILE]\n"
    "       minnow seccomp count [--seccomp-filter FILE]\n"
    "\n"
    "print: the built-in seccomp filters (or FILE's, parsed), in Firecracker's\n"
    "seccompiler JSON format, one filter per thread class: vmm (the main\n"
    "thread, the spawner and the signal thread), api (the API server), vcpu\n"
    "(the harts), io (the event loop and device backends), aux (metrics,\n"
    "balloon poller, console reader, migration, gdb stub).\n"
    "count: how many syscalls each filter allows, one 'CLASS N' line each,\n"
    "then 'spawner N': the spawner thread's filter (the union of every class's\n"
    "and what starting the network helper needs), every thread's outer one.\n";

int cli_seccomp(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
        fputs(seccomp_usage, argc < 3 ? stderr : stdout);
        return argc < 3 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    int print = !strcmp(argv[2], "print"), count = !strcmp(argv[2], "count");
    if (!print && !count) {
        fprintf(stderr, "minnow seccomp: unknown command '%s' (print or count)\n", argv[2]);
        return CLI_EXIT_USAGE;
    }
    struct cli_seccomp s = { 0 };
    for (int i = 3; i < argc; i++) {
        int r = cli_seccomp_option(&s, argc, argv, &i);
        if (r <= 0 || s.off) {
            if (!r || s.off)
                fprintf(stderr, "minnow seccomp: unknown option '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    struct errmsg e = { "" };
    struct seccomp_policy loaded;
    const struct seccomp_policy *p = seccomp_builtin();
    if (s.filter) {
        if (seccomp_json_load(&loaded, s.filter, &e)) {
            fprintf(stderr, "minnow: %s\n", e.text);
            return CLI_EXIT_USAGE;
        }
        p = &loaded;
    }
    int rc = CLI_EXIT_OK;
    if (print) {
        char *text = seccomp_json_print(p);
        if (!text || fputs(text, stdout) == EOF) {
            fprintf(stderr, "minnow seccomp print: out of memory or write error\n");
            rc = CLI_EXIT_ERROR;
        }
        free(text);
    } else {
        for (int c = 0; c < SANDBOX_NCLASS; c++)
            printf("%s %u\n", sandbox_class_name((enum sandbox_class)c), seccomp_filter_count(&p->cls[c]));
        struct seccomp_filter sf;
        if (seccomp_spawner_filter(p, &sf)) {
            fprintf(stderr, "minnow seccomp count: out of memory\n");
            rc = CLI_EXIT_ERROR;
        } else {
            printf("spawner %u\n", seccomp_filter_count(&sf));
            free((void *)sf.rules);
        }
    }
    if (s.filter)
        seccomp_policy_free(&loaded);
    return rc;
}
