/* `minnow --api-sock PATH [--config-file FILE] [--id ID]` and
 * `minnow --no-api --config-file FILE`: Firecracker's command line. The
 * REST API is served on the socket until the guest's run ends; with
 * --config-file the VM boots from the file at once (and the API serves
 * the running VM). The process then exits as `minnow run` would.
 *
 * Before the VM starts the main thread waits for InstanceStart or a
 * signal (SIGINT and SIGTERM end the process with status 124, SIGHUP with
 * Firecracker's 156); once it has started, it waits for the run's end
 * like vm_run does. */
#include "api/cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/api_http.h"
#include "api/api_mmds.h"
#include "api/api_socket.h"
#include "api/api_version.h"
#include "api/api_vmm.h"
#include "api/boot_discover.h"
#include "api/vm_config_json.h"
#include "api/cli_seccomp.h"
#include "vmm/jailer.h"
#include "vmm/migration.h"
#include "vmm/snapshot_file.h"
#include <inttypes.h>
#include <time.h>

static const char api_usage[] =
    "usage: minnow --api-sock PATH [--config-file FILE] [--id ID] [LOG/METRICS OPTIONS]\n"
    "       minnow --no-api --config-file FILE [--id ID] [LOG/METRICS OPTIONS]\n"
    "       minnow --incoming tcp:HOST:PORT|unix:PATH [--token FILE] [--allow-path DIR]...\n"
    "                     [--incoming-timeout SECONDS] [--engine NAME] [--api-sock PATH] [...]\n"
    "\n"
    "Serves Firecracker's REST API (HTTP/1.1, JSON) on the Unix socket PATH,\n"
    "created with mode 0600 and removed on exit; a stale socket left by a dead\n"
    "process is replaced, one another process serves is refused. Configure the\n"
    "VM with PUT /boot-source, /machine-config, /drives/{id},\n"
    "/network-interfaces/{id}, /vsock, /entropy, /balloon, /serial, /logger,\n"
    "/metrics, /mmds/config (the metadata service the guest reaches at\n"
    "169.254.169.254 on the interfaces it names; PUT|PATCH|GET /mmds hold its\n"
    "data, before and after start),\n"
    "then PUT /actions {\"action_type\": \"InstanceStart\"} (\"FlushMetrics\" writes\n"
    "a metrics line at once); PATCH /vm {\"state\": \"Paused\"|\"Resumed\"}\n"
    "pauses and resumes it; GET /vm/config returns the configuration in the\n"
    "--config-file format. PUT /snapshot/create {\"snapshot_path\",\n"
    "\"mem_file_path\", \"snapshot_type\": \"Full\"|\"Diff\"} snapshots a paused VM;\n"
    "PUT /snapshot/load restores one into a fresh minnow (see 'minnow restore\n"
    "--help'); PUT /migrate {\"destination\": \"tcp:HOST:PORT\"} live-migrates the\n"
    "running VM to a 'minnow --incoming' there, GET /migrate shows how far it\n"
    "got. machine-config \"gdb_socket_path\" (Firecracker's) puts a gdb stub\n"
    "on that Unix socket, the harts waiting at the kernel's entry for gdb;\n"
    "minnow's PUT /gdb {\"socket_path\"|\"tcp_address\"} puts one in a started\n"
    "(or restored) VM, which runs on until gdb attaches ('minnow gdb --help'),\n"
    "and PUT /inspect reads registers, memory and page walks ('minnow inspect\n"
    "--help'). PUT /cpu-config gets a 400: Firecracker's CPU templates do not\n"
    "apply to RISC-V. The guest console is this terminal.\n"
    "\n"
    "options:\n"
    "  --api-sock PATH     the API socket\n"
    "  --config-file FILE  boot at once from FILE (Firecracker's VM configuration\n"
    "                      JSON: boot-source, machine-config, drives,\n"
    "                      network-interfaces, vsock, entropy, balloon, and\n"
    "                      minnow's additions: boot-source.firmware_path,\n"
    "                      \"minnow_user\"/\"minnow_hostfwd\" on a network\n"
    "                      interface, \"minnow_serial\" on a drive, a\n"
    "                      \"minnow-console2\" section)\n"
    "  --no-api            no API socket: boot from --config-file only\n"
    "  --incoming ADDR     wait on ADDR (tcp:HOST:PORT or unix:PATH) for a VM that\n"
    "                      another minnow migrates here (PUT /migrate there, or\n"
    "                      'minnow migrate'), then run it; disks are opened by the\n"
    "                      paths the source used\n"
    "  --token FILE        with --incoming: accept only a source that proves it\n"
    "                      holds the same secret (its token_path or 'minnow\n"
    "                      migrate --token FILE'; challenge-response, the secret\n"
    "                      never crosses the wire); other peers are logged and\n"
    "                      refused, and the target waits on. Without --token\n"
    "                      only a loopback address or unix:PATH is allowed\n"
    "  --allow-path DIR    with --incoming: the source's configuration may name\n"
    "                      drives, sockets and the serial output only inside DIR\n"
    "                      (repeatable; without it, no paths at all)\n"
    "  --incoming-timeout S  give up on a source that sends nothing for S seconds\n"
    "                      (or less than 1 MiB/s beyond that; default 20)\n"
    "  --engine NAME       with --incoming: run the harts with NAME (interp or jit)\n"
    "                      instead of the engine the source used\n"
    "  --id ID             the instance id GET / reports (default \"minnow\")\n"
    "  --log-path PATH     log to PATH (a file, appended to, or a FIFO someone\n"
    "                      reads), as PUT /logger's log_path\n"
    "  --level LEVEL       Error, Warning, Info (default), Debug, Trace or Off\n"
    "  --show-level        put the level in each log line\n"
    "  --show-log-origin   put the source file and line in each log line\n"
    "  --module PATH       log only lines from source files under src/ whose\n"
    "                      path starts with PATH (e.g. api), as PUT /logger's module\n"
    "  --metrics-path PATH write metrics (one JSON object a line) to PATH at\n"
    "                      start, every 60 s, on FlushMetrics and at exit:\n"
    "                      Firecracker's keys (counters since the previous\n"
    "                      line) and minnow's own under \"minnow\" (since start)\n"
    "  --mmds-size-limit BYTES  the MMDS data store's limit (its compact JSON;\n"
    "                      default: --http-api-max-payload-size's, 51200): a PUT\n"
    "                      or PATCH /mmds beyond it gets 413\n"
    "  --metadata FILE     the MMDS data store's initial contents (JSON)\n"
    "  --boot-timer        map Firecracker's boot timer device at 0x40000000: each\n"
    "                      time the guest writes the byte 123 there (busybox:\n"
    "                      devmem 0x40000000 8 123) the log gets \"Guest-boot-time =\n"
    "                      N us N ms, N CPU us N CPU ms\", timed from InstanceStart\n"
    "  --http-api-max-payload-size N  refuse API request bodies over N bytes\n"
    "                      (400 with a fault_message; default 51200, at most 2^30)\n"
    "  --start-time-us US, --start-time-cpu-us US, --parent-cpu-time-us US\n"
    "                      with --api-sock: when the process was started\n"
    "                      (CLOCK_MONOTONIC, us), the CPU time it had then (us),\n"
    "                      and CPU time its parent spent on it (us), as\n"
    "                      Firecracker's jailer passes them: once the API serves,\n"
    "                      the metrics' api_server.process_startup_time_us and\n"
    "                      process_startup_time_cpu_us give the time since\n"
    "  --enable-pci        refused: minnow's devices are virtio-mmio only (no PCI)\n"
    "  --snapshot-version  print the snapshot state file format version minnow\n"
    "                      writes (\"v2\") and exit\n"
    "  --describe-snapshot FILE  print the format version of the state file FILE\n"
    "                      and exit (not a minnow snapshot: an error, status 122)\n"
    "  --version           print minnow's version and the Firecracker API version\n"
    "                      it implements, and exit\n"
    CLI_SECCOMP_USAGE
    "  -h, --help          print this text and exit\n"
    "\n"
    "The exit status is minnow run's (see 'minnow run --help'): 0 when the\n"
    "guest powered off, the guest's failure code, 121-124 for panic, bad\n"
    "command line, monitor error, stopped from the host; but a guest reboot\n"
    "exits with 0, as Firecracker's does (minnow run and minnow restore: 120;\n"
    "the log and the metrics' minnow.vm.end_reason say it was a reboot).\n";

static const char restore_usage[] =
    "usage: minnow restore --snapshot FILE --mem FILE [--paused] [--api-sock PATH]\n"
    "                      [--net-override IFACE=TAP]... [--vsock-override PATH]\n"
    "                      [--engine NAME] [--id ID] [LOG/METRICS OPTIONS]\n"
    "\n"
    "Restores a VM from a snapshot written by PUT /snapshot/create (the state\n"
    "file and its memory file) and runs it on from where it was, as PUT\n"
    "/snapshot/load would: guest RAM is mapped privately from the memory file,\n"
    "so pages load when the guest touches them and VMs restored from one file\n"
    "share the pages none of them wrote. The snapshot's configuration is used\n"
    "(drives by their paths); the guest console is this terminal. A Diff\n"
    "snapshot's memory file holds only the pages that changed: merge it onto\n"
    "the memory file of the snapshot before it with 'minnow snapshot-merge'\n"
    "and restore the Diff state with that file.\n"
    "\n"
    "options:\n"
    "  --snapshot FILE        the state file\n"
    "  --mem FILE             the memory file\n"
    "  --paused               stay paused (resume with PATCH /vm on --api-sock)\n"
    "  --api-sock PATH        serve the REST API on PATH for the restored VM\n"
    "  --net-override IFACE=TAP  give network interface IFACE the host TAP\n"
    "                         device TAP instead of its saved backend\n"
    "  --vsock-override PATH  the vsock device's Unix socket path\n"
    "  --engine NAME          run the harts with NAME (interp or jit) instead of\n"
    "                         the engine the snapshot was taken with\n"
    "  --id, --log-path, --level, --show-level, --show-log-origin,\n"
    "  --metrics-path, --no-seccomp, --seccomp-filter\n"
    "                         as for 'minnow --api-sock' (see its --help)\n"
    "  -h, --help             print this text and exit\n"
    "\n"
    "The exit status is minnow run's (see 'minnow run --help').\n";

struct api_opts {
    const char *api_sock, *config_file, *id, *incoming, *token, *incoming_timeout, *engine;
    const char *allow[PATH_ALLOW_MAX];
    unsigned nallow;
    const char *log_path, *level, *metrics_path, *module;
    const char *mmds_size_limit, *metadata;   /* Firecracker's --mmds-size-limit, --metadata */
    size_t mmds_limit;
    int no_api, show_level, show_origin;
    /* Firecracker's flags */
    int boot_timer;
    const char *max_payload, *start_us, *start_cpu_us, *parent_cpu_us;
    unsigned max_body;
    struct cli_seccomp seccomp;
    /* minnow restore */
    int restore;
    struct api_snapshot_load load;
};

/* --net-override IFACE=TAP */
static int parse_net_override(struct api_opts *o, char *v)
{
    char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || strlen(eq + 1) > NET_SPEC_TAP_NAME_MAX) {
        fprintf(stderr, "minnow: --net-override '%s': expected IFACE=TAP (a TAP name of 1 to %u characters)\n", v,
                NET_SPEC_TAP_NAME_MAX);
        return -1;
    }
    if (o->load.n_net == VIRT_MAX_DEVICES) {
        fprintf(stderr, "minnow: --net-override: at most %u\n", VIRT_MAX_DEVICES);
        return -1;
    }
    *eq = 0;
    o->load.net[o->load.n_net].iface_id = v;
    o->load.net[o->load.n_net].host_dev_name = eq + 1;
    o->load.n_net++;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, struct api_opts *o, int restore)
{
    memset(o, 0, sizeof *o);
    o->restore = restore;
    o->load.resume = true;
    o->load.engine = -1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--api-sock") ? &o->api_sock : !strcmp(a, "--config-file") ? &o->config_file
                          : !restore && !strcmp(a, "--incoming") ? &o->incoming
                          : !restore && !strcmp(a, "--token") ? &o->token
                          : !restore && !strcmp(a, "--incoming-timeout") ? &o->incoming_timeout
                          : !strcmp(a, "--engine") ? &o->engine
                          : !strcmp(a, "--id") ? &o->id : !strcmp(a, "--log-path") ? &o->log_path
                          : !strcmp(a, "--level") ? &o->level : !strcmp(a, "--metrics-path") ? &o->metrics_path
                          : !strcmp(a, "--module") ? &o->module
                          : !restore && !strcmp(a, "--mmds-size-limit") ? &o->mmds_size_limit
                          : !restore && !strcmp(a, "--metadata") ? &o->metadata
                          : !strcmp(a, "--http-api-max-payload-size") ? &o->max_payload
                          : !strcmp(a, "--start-time-us") ? &o->start_us
                          : !strcmp(a, "--start-time-cpu-us") ? &o->start_cpu_us
                          : !strcmp(a, "--parent-cpu-time-us") ? &o->parent_cpu_us : NULL;
        if (restore && !slot)
            slot = !strcmp(a, "--snapshot") ? &o->load.snapshot_path : !strcmp(a, "--mem") ? &o->load.mem_path
                 : !strcmp(a, "--vsock-override") ? &o->load.vsock_uds : NULL;
        int sr = cli_seccomp_option(&o->seccomp, argc, argv, &i);
        if (sr < 0)
            return -1;
        if (sr) {
        } else if (restore && !strcmp(a, "--config-file")) {
            fprintf(stderr, "minnow: restore: --config-file does not apply (the snapshot has its configuration)\n");
            return -1;
        } else if (restore && !strcmp(a, "--paused")) {
            o->load.resume = false;
        } else if (restore && !strcmp(a, "--net-override")) {
            if (i + 1 >= argc || parse_net_override(o, argv[++i]))
                return -1;
        } else if (!restore && !strcmp(a, "--allow-path")) {
            if (i + 1 >= argc || !*argv[i + 1] || o->nallow == PATH_ALLOW_MAX) {
                fprintf(stderr, "minnow: --allow-path needs a directory (at most %u of them)\n", PATH_ALLOW_MAX);
                return -1;
            }
            o->allow[o->nallow++] = argv[++i];
        } else if (!restore && !strcmp(a, "--no-api")) {
            o->no_api = 1;
        } else if (!strcmp(a, "--boot-timer")) {
            o->boot_timer = 1;
        } else if (!strcmp(a, "--enable-pci")) {
            fprintf(stderr, "minnow: --enable-pci: minnow has no PCI: its devices are virtio-mmio (the guest finds "
                    "them in the device tree); leave the flag out\n");
            return -1;
        } else if (!strcmp(a, "--show-level")) {
            o->show_level = 1;
        } else if (!strcmp(a, "--show-log-origin")) {
            o->show_origin = 1;
        } else if (slot) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "minnow: %s needs a value (try 'minnow --help')\n", a);
                return -1;
            }
            *slot = argv[++i];
        } else {
            fprintf(stderr, "minnow: unknown option '%s' (try 'minnow --help')\n", a);
            return -1;
        }
    }
    struct errmsg e = { "" };
    o->max_body = API_HTTP_MAX_BODY;
    if (o->max_payload) {
        uint64_t n;
        if (parse_u64(o->max_payload, &n) || n < 1 || n > API_HTTP_MAX_BODY_LIMIT) {
            fprintf(stderr, "minnow: --http-api-max-payload-size: expected a number of bytes from 1 to %u, got "
                    "'%s'\n", API_HTTP_MAX_BODY_LIMIT, o->max_payload);
            return -1;
        }
        o->max_body = (unsigned)n;
    }
    const char *const times[3][2] = { { "--start-time-us", o->start_us }, { "--start-time-cpu-us", o->start_cpu_us },
                                      { "--parent-cpu-time-us", o->parent_cpu_us } };
    for (int t = 0; t < 3; t++) {
        uint64_t n;
        if (times[t][1] && parse_u64(times[t][1], &n)) {
            fprintf(stderr, "minnow: %s: expected a whole number of microseconds, got '%s'\n", times[t][0],
                    times[t][1]);
            return -1;
        }
    }
    /* Firecracker's rule for instance ids: the jailer's (a UUID passes). */
    if (o->id && jailer_check_id(o->id, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return -1;
    }
    enum log_level lv;
    if (o->level && log_level_parse(o->level, &lv)) {
        fprintf(stderr, "minnow: --level: expected Error, Warning, Info, Debug, Trace or Off, got '%s'\n", o->level);
        return -1;
    }
    enum hart_engine en;
    if (o->engine && hart_engine_parse(o->engine, &en)) {
        fprintf(stderr, "minnow: --engine '%s': expected interp or jit\n", o->engine);
        return -1;
    }
    if (o->engine)
        o->load.engine = (int)en;
    if (o->module && (!*o->module || strlen(o->module) >= LOG_MODULE_MAX)) {
        fprintf(stderr, "minnow: --module: expected a source path under src/ of 1 to %d bytes (e.g. api or "
                "devices/virtio_net), got '%.100s'\n", LOG_MODULE_MAX - 1, o->module);
        return -1;
    }
    /* As in Firecracker: the API's body limit unless given. */
    o->mmds_limit = o->max_body;
    if (o->mmds_size_limit) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(o->mmds_size_limit, &end, 10);
        /* Bounded so a guest's answer (and a PATCH's copy) stays sane. */
        if (errno || *end || o->mmds_size_limit[0] == '-' || v > (64ull << 20)) {
            fprintf(stderr, "minnow: --mmds-size-limit: expected a number of bytes from 0 to %llu, got '%s'\n",
                    64ull << 20, o->mmds_size_limit);
            return -1;
        }
        o->mmds_limit = (size_t)v;
    }
    if (o->incoming && (o->mmds_size_limit || o->metadata)) {
        fprintf(stderr, "minnow: --mmds-size-limit and --metadata do not go with --incoming\n");
        return -1;
    }
    if (!o->log_path && (o->level || o->show_level || o->show_origin || o->module)) {
        fprintf(stderr, "minnow: --level, --show-level, --show-log-origin and --module need --log-path\n");
        return -1;
    }
    if (restore) {
        if (!o->load.snapshot_path || !o->load.mem_path) {
            fprintf(stderr, "minnow: restore needs --snapshot FILE and --mem FILE\n");
            return -1;
        }
        if (!o->api_sock && !o->load.resume) {
            fprintf(stderr, "minnow: restore: --paused needs --api-sock (nothing could resume the VM)\n");
            return -1;
        }
        return 0;
    }
    if (o->no_api && o->api_sock) {
        fprintf(stderr, "minnow: --no-api and --api-sock exclude each other\n");
        return -1;
    }
    if (o->incoming && (o->config_file || o->no_api)) {
        fprintf(stderr, "minnow: --incoming excludes --config-file and --no-api (the VM and its configuration "
                "come from the source)\n");
        return -1;
    }
    if (!o->incoming && (o->token || o->nallow || o->incoming_timeout || o->engine)) {
        fprintf(stderr, "minnow: --token, --allow-path, --incoming-timeout and --engine go with --incoming "
                "(a new VM's engine is machine-config's \"engine\")\n");
        return -1;
    }
    if (o->incoming_timeout) {
        char *end;
        long s = strtol(o->incoming_timeout, &end, 10);
        if (*end || s < 1 || s > 3600) {
            fprintf(stderr, "minnow: --incoming-timeout: expected 1 to 3600 seconds, got '%s'\n", o->incoming_timeout);
            return -1;
        }
    }
    if (o->incoming)
        return 0;
    if (o->no_api && !o->config_file) {
        fprintf(stderr, "minnow: --no-api needs --config-file (there is nothing else to boot from)\n");
        return -1;
    }
    if (!o->no_api && !o->api_sock) {
        fprintf(stderr, "minnow: give --api-sock PATH, or --no-api with --config-file\n");
        return -1;
    }
    return 0;
}

static const char *end_name(enum virt_end end)
{
    switch (end) {
    case VIRT_RUNNING: return "still running";
    case VIRT_POWEROFF: return "the guest powered off";
    case VIRT_FAIL: return "the guest powered off with a failure code";
    case VIRT_REBOOT: return "the guest asked for a reboot";
    case VIRT_PANIC: return "the guest kernel panicked";
    case VIRT_CRASH: return "the guest crashed";
    case VIRT_STOPPED: return "stopped from the host";
    case VIRT_MIGRATED: return "migrated to another minnow";
    case VIRT_MEM_LOST: return "its memory file changed under it";
    }
    return "unknown";
}

/* --log-path and --metrics-path: as PUT /logger and PUT /metrics would. */
static int observe(const struct api_opts *o, struct api_vmm *a, struct errmsg *e)
{
    if (o->log_path) {
        struct log_options lo = { .level = LOG_INFO, .show_level = o->show_level, .show_origin = o->show_origin };
        if (o->level)
            log_level_parse(o->level, &lo.level);
        if (o->module)
            snprintf(lo.module, sizeof lo.module, "%s", o->module);
        struct errmsg why = { "" };
        if (logger_configure(api_vmm_logger(a), o->log_path, &lo, &why))
            return errmsg_set(e, -EINVAL, "--log-path: %s", why.text);
    }
    if (o->metrics_path) {
        struct errmsg why = { "" };
        if (metrics_configure(api_vmm_metrics(a), o->metrics_path, NULL, &why))
            return errmsg_set(e, -EINVAL, "--metrics-path: %s", why.text);
    }
    return 0;
}

/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us, once the
 * API serves: what Firecracker's ProcessTimeReporter puts in its
 * api_server metrics. */
static void report_startup(const struct api_opts *o, struct metrics *m)
{
    struct timespec t;
    uint64_t v, wall = 0, cpu = 0;
    if (!o->start_us && !o->start_cpu_us)
        return;
    if (o->start_us && !parse_u64(o->start_us, &v)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t now = (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
        wall = now > v ? now - v : 0;
    }
    if (o->start_cpu_us && !parse_u64(o->start_cpu_us, &v)) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        uint64_t now = (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u, parent = 0;
        if (o->parent_cpu_us)
            parse_u64(o->parent_cpu_us, &parent);
        cpu = (now > v ? now - v : 0) + parent;
    }
    metrics_set_startup(m, wall, cpu);
}

/* Waits for the VM to start (0) or a signal (-1: its number and si_code
 * in *sig, *code). */
static int wait_for_start(struct api_vmm *a, int sig_fd, int *sig, int *code)
{
    struct pollfd p[2] = { { .fd = api_vmm_started_fd(a), .events = POLLIN }, { .fd = sig_fd, .events = POLLIN } };
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return -1;
        if (p[0].revents)
            return 0;
        if (p[1].revents) {
            struct signalfd_siginfo si = { 0 };
            ssize_t n = read(sig_fd, &si, sizeof si);
            (void)n;
            *sig = (int)si.ssi_signo;
            *code = si.ssi_code;
            return -1;
        }
    }
}

/* SIGHUP ends the process as it ends Firecracker (its signal handler): an
 * error line in the log, signals.sighup in a last metrics line, status
 * 156. SIGINT and SIGTERM, which Firecracker does not intercept, keep
 * minnow's 124. */
static int sighup_exit(struct api_vmm *a, int code)
{
    LOG_ERROR(api_vmm_logger(a), "Shutting down VM after intercepting signal %d, code %d.", SIGHUP, code);
    fprintf(stderr, "minnow: shutting down after intercepting SIGHUP (code %d)\n", code);
    metrics_set_signal(api_vmm_metrics(a), SIGHUP);
    metrics_set_end(api_vmm_metrics(a), "stopped by SIGHUP", CLI_EXIT_FC_SIGHUP);
    if (metrics_configured(api_vmm_metrics(a)))
        metrics_flush(api_vmm_metrics(a), "exit", NULL);
    return CLI_EXIT_FC_SIGHUP;
}

static int serve(const struct api_opts *o, struct vm_config *cfg, int sig_fd)
{
    struct errmsg e = { "" };
    struct api_vmm *a = NULL;
    struct api_http *http = NULL;
    int rc = CLI_EXIT_ERROR, listen_fd = -1;
    if (o->api_sock && (listen_fd = api_socket_listen(o->api_sock, &e)) < 0) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    if (api_vmm_create(&a, o->id, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        if (listen_fd >= 0)
            close(listen_fd);
        goto out;
    }
    if (observe(o, a, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        rc = CLI_EXIT_USAGE;
        if (listen_fd >= 0)
            close(listen_fd);
        goto out;
    }
    LOG_INFO(api_vmm_logger(a), "minnow %s starting%s%s", MINNOW_VERSION, o->api_sock ? ": API on " : "",
             o->api_sock ? o->api_sock : "");
    mmds_store_set_limit(api_vmm_mmds(a), o->mmds_limit);
    if (o->metadata && api_mmds_load_file(api_vmm_mmds(a), o->metadata, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        rc = CLI_EXIT_USAGE;
        if (listen_fd >= 0)
            close(listen_fd);
        goto out;
    }
    if (o->boot_timer)
        api_vmm_enable_boot_timer(a);
    if (api_vmm_configure(a, cfg, &e)) {
        fprintf(stderr, "minnow: %s: %s\n", o->config_file ? o->config_file : "configuration", e.text);
        rc = CLI_EXIT_USAGE;
        if (listen_fd >= 0)
            close(listen_fd);
        goto out;
    }
    if (o->incoming) {
        struct migration_token *token = calloc(1, sizeof *token);
        struct path_allow allow;
        path_allow_init(&allow);
        int r = !token ? errmsg_set(&e, -ENOMEM, "out of memory")
              : o->token ? migration_token_load(token, "--token", o->token, &e) : 0;
        for (unsigned i = 0; !r && i < o->nallow; i++)
            r = path_allow_add(&allow, "--allow-path", o->allow[i], &e);
        int mfd = r ? r : migration_listen(o->incoming, o->token != NULL, &e);
        if (mfd >= 0) {
            if (!o->token)
                fprintf(stderr, "minnow: warning: --incoming without --token: any local process can migrate "
                        "a VM here\n");
            fprintf(stderr, "minnow: waiting on %s for an incoming migration\n", o->incoming);
            LOG_INFO(api_vmm_logger(a), "waiting on %s for an incoming migration%s", o->incoming,
                     o->token ? "" : " (no token)");
        }
        struct migration_target t = { .token = o->token ? token : NULL, .stop_fd = sig_fd,
                                      .idle_s = o->incoming_timeout ? (unsigned)atoi(o->incoming_timeout) : 0 };
        if (mfd >= 0)
            r = api_vmm_incoming(a, mfd, &t, &allow, o->load.engine, &e);
        else
            r = mfd;
        path_allow_free(&allow);
        if (token)
            memset(token, 0, sizeof *token);
        free(token);
        if (r) {
            fprintf(stderr, "minnow: %s\n", e.text);
            if (r == -EINTR) {
                /* Taken here, so it does not kill us once unblocked. */
                struct signalfd_siginfo si;
                ssize_t n = read(sig_fd, &si, sizeof si);
                (void)n;
                rc = CLI_EXIT_STOPPED;
            }
            else if (mfd < 0)
                rc = CLI_EXIT_USAGE;
            if (listen_fd >= 0)
                close(listen_fd);
            goto out;
        }
    } else if (o->restore) {
        if (api_vmm_restore(a, &o->load, &e)) {
            fprintf(stderr, "minnow: %s\n", e.text);
            if (listen_fd >= 0)
                close(listen_fd);
            goto out;
        }
    } else if (o->config_file) {
        int config_error;
        if (api_vmm_start(a, &config_error, &e)) {
            fprintf(stderr, "minnow: %s\n", e.text);
            rc = config_error ? CLI_EXIT_USAGE : CLI_EXIT_ERROR;
            if (listen_fd >= 0)
                close(listen_fd);
            goto out;
        }
    }
    if (listen_fd >= 0 && api_http_start(&http, listen_fd, a, o->max_body, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        goto out;
    }
    if (http)
        report_startup(o, api_vmm_metrics(a));
    int sig = 0, sig_code = 0;
    if (wait_for_start(a, sig_fd, &sig, &sig_code)) {
        if (sig == SIGHUP) {
            rc = sighup_exit(a, sig_code);
            goto out;
        }
        fprintf(stderr, "minnow: stopped before the microVM started\n");
        rc = CLI_EXIT_STOPPED;
        goto out;
    }
    struct vm_result res;
    vm_wait(api_vmm_vm(a), &res);
    if (res.end == VIRT_STOPPED && res.signal == SIGHUP) {
        rc = sighup_exit(a, res.signal_code);
        goto out;
    }
    rc = cli_exit_status(&res);
    /* Firecracker exits with 0 when the guest reboots (its microVMs do
     * not reboot: the VM ends); minnow restore keeps minnow's 120. */
    if (res.end == VIRT_REBOOT && !o->restore)
        rc = CLI_EXIT_OK;
    LOG_INFO(api_vmm_logger(a), "the microVM ended: %s (code %u), exit status %d", end_name(res.end), res.code, rc);
    metrics_set_end(api_vmm_metrics(a), end_name(res.end), rc);
    if (metrics_configured(api_vmm_metrics(a)))
        metrics_flush(api_vmm_metrics(a), "exit", NULL);
out:
    api_http_stop(http);
    api_vmm_destroy(a);
    if (o->api_sock && listen_fd >= 0)
        unlink(o->api_sock);
    return rc;
}

/* Firecracker's flags that print and exit: -1 when none is given, else
 * the exit status. After --help (parse), before anything else. */
static int print_and_exit(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            fputs(API_VERSION_TEXT, stdout);
            return CLI_EXIT_OK;
        }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--snapshot-version")) {
            printf("v%u\n", SNAPSHOT_FORMAT_VERSION);
            return CLI_EXIT_OK;
        }
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--describe-snapshot")) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "minnow: --describe-snapshot needs a snapshot state file\n");
                return CLI_EXIT_USAGE;
            }
            struct errmsg e = { "" };
            uint32_t v;
            if (snapshot_file_version(argv[i + 1], &v, &e)) {
                fprintf(stderr, "minnow: --describe-snapshot: %s\n", e.text);
                return CLI_EXIT_USAGE;
            }
            printf("v%" PRIu32 "\n", v);
            return CLI_EXIT_OK;
        }
    return -1;
}

static int api_main(int argc, char **argv, int restore)
{
    struct api_opts o;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(restore ? restore_usage : api_usage, stdout);
            return CLI_EXIT_OK;
        }
    int r = restore ? -1 : print_and_exit(argc, argv);
    if (r >= 0)
        return r;
    r = parse(argc, argv, &o, restore);
    if (r) {
        if (r > 0)
            fputs(restore ? restore_usage : api_usage, stdout);
        return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    struct errmsg e = { "" };
    struct vm_config cfg;
    vm_config_init(&cfg);
    if (o.config_file && vm_config_json_load_file(&cfg, o.config_file, &e)) {
        fprintf(stderr, "minnow: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    if (cfg.ignored_keys)
        fprintf(stderr, "minnow: warning: config file %s: ignored the unknown top-level key(s) %s\n", o.config_file,
                cfg.ignored_keys);
    /* A root drive and no boot-source: the kernel beside the drive's image. */
    if (o.config_file && boot_discover_config(&cfg, &e) < 0) {
        fprintf(stderr, "minnow: %s: %s\n", o.config_file, e.text);
        vm_config_free(&cfg);
        return CLI_EXIT_USAGE;
    }
    /* Blocked before any thread starts, so every thread inherits it; the
     * signals arrive on sig_fd until the VM's own signal thread takes over. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
    if (sig_fd < 0) {
        fprintf(stderr, "minnow: signalfd: %s\n", strerror(errno));
        r = CLI_EXIT_ERROR;
    } else if (!(r = cli_seccomp_enter(&o.seccomp))) {
        r = serve(&o, &cfg, sig_fd);
        close(sig_fd);
    }
    vm_config_free(&cfg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

int cli_api(int argc, char **argv)
{
    return api_main(argc, argv, 0);
}

int cli_restore(int argc, char **argv)
{
    return api_main(argc - 1, argv + 1, 1);
}
