/* `minnow jail`: Firecracker's jailer command line (its docs/jailer.md)
 * over vmm/jailer.h, and `minnow jail --cleanup`. */
#include "api/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_http.h"
#include "util/errmsg.h"
#include "vmm/jailer.h"
#include "vmm/migration_auth.h"

static const char jail_usage[] =
    "usage: minnow jail --id ID --uid UID --gid GID [options] -- MINNOW ARGUMENTS...\n"
    "       minnow jail --cleanup --id ID [--chroot-base-dir DIR] [--exec-file FILE]\n"
    "                   [--parent-cgroup PATH]\n"
    "\n"
    "Runs minnow confined, as Firecracker's jailer runs Firecracker, with its\n"
    "options. As root, it makes the jail DIR/NAME/ID/root (NAME: the exec file's\n"
    "name, 'minnow'), with a private copy of the exec file and of the shared\n"
    "libraries it needs, and the device nodes /dev/net/tun, /dev/null and\n"
    "/dev/urandom; moves the process into the cgroup PARENT/ID; applies the\n"
    "resource limits; joins the network namespace; makes a new mount namespace\n"
    "whose root is the jail (pivot_root); drops to UID:GID with no supplementary\n"
    "groups, no descriptor above stderr and an empty environment; and runs the\n"
    "copy with the arguments after '--', which name paths inside the jail. The\n"
    "jail's pid file NAME.pid in the jail holds minnow's pid. Put the files the\n"
    "VM needs into the jail with --file (or, for the API, link them into\n"
    "DIR/NAME/ID/root before the call names them): the jailed minnow sees no\n"
    "other file, and the files must be readable (a writable drive: writable) by\n"
    "UID or GID. minnow jail waits for minnow, which ends if minnow jail is\n"
    "killed, and exits with its status; a jail that cannot be made is an error\n"
    "(status 123) and leaves nothing behind.\n"
    "\n"
    "options (Firecracker's jailer):\n"
    "  --id ID               the jail's id: 1 to 64 letters, digits and '-'\n"
    "  --exec-file FILE      the minnow binary to copy in (default: this one)\n"
    "  --uid UID, --gid GID  whom minnow runs as (numbers; 0 is refused)\n"
    "  --chroot-base-dir DIR where jails are made (default " JAILER_DEFAULT_BASE ")\n"
    "  --netns PATH          join this network namespace (e.g. /var/run/netns/NAME)\n"
    "  --cgroup-version 1|2  the cgroup hierarchy (default 1, as Firecracker)\n"
    "  --cgroup FILE=VALUE   write VALUE to FILE of the jail's cgroup before\n"
    "                        minnow joins it (e.g. pids.max=64; repeatable)\n"
    "  --parent-cgroup PATH  the cgroup the jail's is made in (default NAME):\n"
    "                        v2: always PATH/ID; v1: PATH/ID in the hierarchy of\n"
    "                        each controller a --cgroup names\n"
    "  --resource-limit fsize=BYTES|no-file=N\n"
    "                        an rlimit (repeatable; no-file is 2048 if not given)\n"
    "  --daemonize           a new session, stdin/out/err on /dev/null, and\n"
    "                        minnow jail returns once minnow runs\n"
    "  --new-pid-ns          minnow runs as the init of a new pid namespace\n"
    "minnow's own options:\n"
    "  --file HOST[:PATH]    hard-link the host file HOST into the jail as PATH\n"
    "                        (default /NAME-OF-HOST; it keeps its owner and mode;\n"
    "                        it must be on the jail's file system; repeatable)\n"
    "  --allow-root          allow --uid 0 or --gid 0\n"
    "  --cleanup             remove the jail and its cgroups once its VM has exited\n"
    "  -h, --help            print this text and exit\n"
    "\n"
    "A minnow built with a sanitizer (ASan) also gets a /proc of its own in the\n"
    "jail (its runtime reads /proc/self/maps); other builds get none. For DNS in\n"
    "user networking, put a resolv.conf into the jail: --file /etc/resolv.conf.\n"
    "\n"
    "example:\n"
    "  minnow jail --id vm1 --uid 65534 --gid 65534 --cgroup-version 2 \\\n"
    "      --cgroup pids.max=64 --file Image --file initramfs.cpio.gz --new-pid-ns \\\n"
    "      -- run --kernel /Image --initrd /initramfs.cpio.gz --net user\n"
    "  minnow jail --cleanup --id vm1\n";

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("minnow jail: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (try 'minnow jail --help')\n", stderr);
    va_end(ap);
    return -1;
}

static int parse_u32(const char *opt, const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || v > max || *s == '-' || *s == '+')
        return bad("%s '%s': expected a number", opt, s);
    *out = v;
    return 0;
}

static int parse_rlimit(struct jailer_config *c, const char *s)
{
    const char *eq = strchr(s, '=');
    size_t n = eq ? (size_t)(eq - s) : 0;
    int res = n == 5 && !strncmp(s, "fsize", 5) ? RLIMIT_FSIZE : n == 7 && !strncmp(s, "no-file", 7) ? RLIMIT_NOFILE
                                                                                                       : -1;
    if (res < 0)
        return bad("--resource-limit '%s': expected fsize=BYTES or no-file=N", s);
    unsigned long long v = 0;
    if (parse_u32("--resource-limit", eq + 1, res == RLIMIT_NOFILE ? 0x7fffffffu : ~0ull - 1, &v))
        return -1;
    for (unsigned i = 0; i < c->nrlimits; i++)
        if (c->rlimits[i].resource == res)
            return bad("--resource-limit %.*s given twice", (int)n, s);
    c->rlimits[c->nrlimits++] = (struct jailer_rlimit){ res, (rlim_t)v };
    return 0;
}

/* argv[1] is "jail". 1: help; -1: bad (printed); 0: parsed. */
static int parse(int argc, char **argv, struct jailer_config *c, bool *cleanup, bool *have_uid, bool *have_gid)
{
    int i;
    for (i = 2; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        /* --opt VALUE or --opt=VALUE */
        char opt[32];
        const char *val = NULL;
        char *eq = strchr(a, '=');
        if (!strncmp(a, "--", 2) && eq && (size_t)(eq - a) < sizeof opt) {
            memcpy(opt, a, (size_t)(eq - a));
            opt[eq - a] = 0;
            val = eq + 1;
        } else {
            snprintf(opt, sizeof opt, "%s", a);
        }
        bool flag = !strcmp(opt, "--daemonize") || !strcmp(opt, "--new-pid-ns") || !strcmp(opt, "--cleanup") ||
                    !strcmp(opt, "--allow-root");
        if (flag) {
            if (val)
                return bad("%s takes no value", opt);
            *(!strcmp(opt, "--daemonize") ? &c->daemonize : !strcmp(opt, "--new-pid-ns") ? &c->new_pid_ns
              : !strcmp(opt, "--cleanup") ? cleanup : &c->allow_root) = true;
            continue;
        }
        static const char *const valued[] = { "--id", "--exec-file", "--uid", "--gid", "--chroot-base-dir",
                                              "--netns", "--cgroup-version", "--cgroup", "--parent-cgroup",
                                              "--resource-limit", "--file" };
        bool known = false;
        for (unsigned k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known |= !strcmp(opt, valued[k]);
        if (!known)
            return bad("unknown option '%s'", a);
        if (!val) {
            if (i + 1 >= argc || !strcmp(argv[i + 1], "--"))
                return bad("%s needs a value", opt);
            val = argv[++i];
        }
        if (!*val)
            return bad("%s needs a value", opt);
        unsigned long long v = 0;
        if (!strcmp(opt, "--id")) {
            c->id = val;
        } else if (!strcmp(opt, "--exec-file")) {
            c->exec_file = val;
        } else if (!strcmp(opt, "--uid") || !strcmp(opt, "--gid")) {
            if (parse_u32(opt, val, 0xfffffffeu, &v))
                return -1;
            if (opt[2] == 'u') {
                c->uid = (uid_t)v;
                *have_uid = true;
            } else {
                c->gid = (gid_t)v;
                *have_gid = true;
            }
        } else if (!strcmp(opt, "--chroot-base-dir")) {
            c->base_dir = val;
        } else if (!strcmp(opt, "--netns")) {
            c->netns = val;
        } else if (!strcmp(opt, "--cgroup-version")) {
            if (strcmp(val, "1") && strcmp(val, "2"))
                return bad("--cgroup-version '%s': expected 1 or 2", val);
            c->cgroup_version = val[0] - '0';
        } else if (!strcmp(opt, "--cgroup")) {
            char *e = strchr(val, '=');
            if (!e || e == val)
                return bad("--cgroup '%s': expected FILE=VALUE, e.g. pids.max=64", val);
            if (c->ncgroups == JAILER_MAX_SETTINGS)
                return bad("--cgroup: at most %d", JAILER_MAX_SETTINGS);
            *e = 0;   /* argv is ours to split */
            c->cgroups[c->ncgroups++] = (struct jailer_setting){ val, e + 1 };
        } else if (!strcmp(opt, "--parent-cgroup")) {
            c->parent_cgroup = val;
        } else if (!strcmp(opt, "--resource-limit")) {
            if (parse_rlimit(c, val))
                return -1;
        } else if (!strcmp(opt, "--file")) {
            if (c->nfiles == JAILER_MAX_FILES)
                return bad("--file: at most %d", JAILER_MAX_FILES);
            /* HOST:/PATH; a host path may hold ':' itself */
            char *sep = strstr(val, ":/");
            for (char *s = sep; s; s = strstr(s + 1, ":/"))
                sep = s;
            if (sep == val)
                return bad("--file '%s': expected HOST[:PATH]", val);
            if (sep)
                *sep = 0;
            c->files[c->nfiles++] = (struct jailer_file){ val, sep ? sep + 1 : NULL };
        }
    }
    if (i < argc) {
        c->args = argv + i + 1;
        c->nargs = argc - i - 1;
    }
    return 0;
}

int cli_jail(int argc, char **argv)
{
    static const char *const on_demand[] = { API_HTTP_LIBRARY, MIGRATION_AUTH_LIBRARY, NULL };
    struct jailer_config c;
    memset(&c, 0, sizeof c);
    c.cgroup_version = 1;
    c.on_demand_libs = on_demand;
    bool cleanup = false, have_uid = false, have_gid = false;
    int r = parse(argc, argv, &c, &cleanup, &have_uid, &have_gid);
    if (r > 0) {
        fputs(jail_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (r < 0)
        return CLI_EXIT_USAGE;
    if (!c.id) {
        bad("--id ID is required");
        return CLI_EXIT_USAGE;
    }
    struct errmsg e = { "" };
    if (cleanup) {
        if (c.nargs || have_uid || have_gid || c.nfiles || c.ncgroups || c.netns || c.daemonize || c.new_pid_ns) {
            bad("--cleanup takes only --id, --chroot-base-dir, --exec-file and --parent-cgroup");
            return CLI_EXIT_USAGE;
        }
        if (jailer_cleanup(&c, &e)) {
            fprintf(stderr, "minnow jail: %s\n", e.text);
            return CLI_EXIT_ERROR;
        }
        return CLI_EXIT_OK;
    }
    if (!have_uid || !have_gid) {
        bad("--uid UID and --gid GID are required");
        return CLI_EXIT_USAGE;
    }
    if (!c.nargs) {
        bad("give minnow's arguments after '--', e.g. -- --api-sock /api.sock");
        return CLI_EXIT_USAGE;
    }
    if (jailer_check_id(c.id, &e)) {
        fprintf(stderr, "minnow jail: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    int status;
    if (jailer_run(&c, &status, &e)) {
        fprintf(stderr, "minnow jail: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    return status;
}
