/* minnow's command line: `minnow <command> [options]`. */
#include "api/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/hart.h"
#include "machine/baremetal.h"
#include "machine/ram.h"
#include "util/errmsg.h"
#include "vmm/vcpu.h"

static const char usage[] =
    "usage: minnow <command> [options]\n"
    "\n"
    "minnow is a virtual machine monitor for RISC-V guests.\n"
    "\n"
    "commands:\n"
    "  run            run a bare-metal program (see 'minnow run --help')\n"
    "  version        print the version and exit\n"
    "  help           print this text and exit\n"
    "\n"
    "options:\n"
    "  -h, --help     print this text and exit\n"
    "  --version      print the version and exit\n";

static const char run_usage[] =
    "usage: minnow run --bios PROGRAM [options]\n"
    "\n"
    "Runs a bare-metal RISC-V program on one hart, in M-mode from the program's\n"
    "entry point, with RAM at 0x80000000. PROGRAM is an RV64 ELF executable\n"
    "(loaded by its PT_LOAD segments) or a flat binary named *.bin (loaded at\n"
    "0x80000000). The program reports through HTIF (a `tohost` symbol: 1 = pass,\n"
    "(code << 1) | 1 = fail, device 1 command 1 = putchar), the sifive,test\n"
    "syscon at 0x100000 (0x5555 pass, (code << 16) | 0x3333 fail) and the UART\n"
    "at 0x10000000 (output).\n"
    "\n"
    "options:\n"
    "  --bios PROGRAM     the program to run (required)\n"
    "  --mem SIZE         guest RAM, e.g. 64M or 1G (default 128M)\n"
    "  --max-insns N      end with a hart report after N instructions\n"
    "                     (default 0: no limit)\n"
    "  --stats            print instructions executed, time and MIPS at exit\n"
    "  -h, --help         print this text and exit\n"
    "\n"
    "exit status:\n"
    "  0  the program passed or powered off\n"
    "  1  the program reported a failure (the code is printed)\n"
    "  2  bad command line\n"
    "  3  monitor error, or the program crashed or hung (the hart state is printed)\n";

static void console_out(void *opaque, const uint8_t *buf, size_t n)
{
    (void)opaque;
    fwrite(buf, 1, n, stdout);
    if (memchr(buf, '\n', n))
        fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Value of option `name` at argv[*i]: "--name=value" or "--name value". */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "minnow run: option %s needs a value (try 'minnow run --help')\n", name);
        return NULL;
    }
    return argv[++*i];
}

static int is_option(const char *a, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(a, name, n) && (a[n] == 0 || a[n] == '=');
}

static void report_hart(const struct hart *h)
{
    char buf[4096];
    hart_dump(h, buf, sizeof buf);
    fputs(buf, stderr);
}

static int cmd_run(int argc, char **argv)
{
    const char *bios = NULL;
    uint64_t mem = 128ull << 20, max_insns = 0;
    int stats = 0;
    struct errmsg e = { "" };
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(run_usage, stdout);
            return CLI_EXIT_OK;
        } else if (is_option(a, "--bios")) {
            if (!(v = option_value(argc, argv, &i, "--bios")))
                return CLI_EXIT_USAGE;
            bios = v;
        } else if (is_option(a, "--mem")) {
            if (!(v = option_value(argc, argv, &i, "--mem")))
                return CLI_EXIT_USAGE;
            if (ram_parse_size(v, &mem, &e)) {
                fprintf(stderr, "minnow run: --mem: %s\n", e.text);
                return CLI_EXIT_USAGE;
            }
            if (mem < RAM_MIN_SIZE || mem > RAM_MAX_SIZE || (mem & 0xfff)) {
                fprintf(stderr, "minnow run: --mem %s: expected a multiple of 4K from 1M to 1024G\n", v);
                return CLI_EXIT_USAGE;
            }
        } else if (is_option(a, "--max-insns")) {
            if (!(v = option_value(argc, argv, &i, "--max-insns")))
                return CLI_EXIT_USAGE;
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 0);
            if (errno || !*v || *end || *v == '-') {
                fprintf(stderr, "minnow run: --max-insns '%s': expected a whole number of instructions\n", v);
                return CLI_EXIT_USAGE;
            }
            max_insns = n;
        } else if (!strcmp(a, "--stats")) {
            stats = 1;
        } else {
            fprintf(stderr, "minnow run: unknown option '%s' (try 'minnow run --help')\n", a);
            return CLI_EXIT_USAGE;
        }
    }
    if (!bios) {
        fprintf(stderr, "minnow run: --bios PROGRAM is required (try 'minnow run --help')\n");
        return CLI_EXIT_USAGE;
    }

    struct baremetal *m;
    struct baremetal_config cfg = { .program = bios, .mem_size = mem, .out = console_out };
    if (baremetal_create(&m, &cfg, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    struct vcpu_opts o = { .max_insns = max_insns, .wfi_deadlock = 1, .poll = baremetal_poll, .opaque = m };
    double t0 = now_s();
    enum vcpu_end end = vcpu_run(m->hart, &o);
    double t1 = now_s();
    fflush(stdout);
    int rc = CLI_EXIT_ERROR;
    switch (end) {
    case VCPU_END_STOP:
        switch (m->status) {
        case BAREMETAL_PASS:
        case BAREMETAL_RESET:
            rc = CLI_EXIT_OK;
            break;
        case BAREMETAL_FAIL:
            fprintf(stderr, "minnow run: %s reported failure: code %" PRIu64 "\n", bios, m->code);
            rc = CLI_EXIT_FAIL;
            break;
        case BAREMETAL_BAD_HTIF:
            fprintf(stderr, "minnow run: %s wrote HTIF command %#" PRIx64 " to tohost, which minnow does not implement\n",
                    bios, m->code);
            report_hart(m->hart);
            break;
        case BAREMETAL_RUNNING:
            fprintf(stderr, "minnow run: the hart stopped unexpectedly\n");
            report_hart(m->hart);
            break;
        }
        break;
    case VCPU_END_CRASH:
        fprintf(stderr, "minnow run: %s crashed: %s\n", bios, hart_crash_reason(m->hart));
        report_hart(m->hart);
        break;
    case VCPU_END_WATCHDOG:
        fprintf(stderr, "minnow run: %s ran --max-insns %" PRIu64 " instructions without finishing\n", bios,
                max_insns);
        report_hart(m->hart);
        break;
    case VCPU_END_DEADLOCK:
        fprintf(stderr, "minnow run: %s waits in wfi for an interrupt that can never come\n", bios);
        report_hart(m->hart);
        break;
    }
    if (stats) {
        uint64_t n = hart_instret(m->hart);
        double dt = t1 - t0;
        fprintf(stderr, "minnow: instructions %" PRIu64 " seconds %.6f mips %.1f\n", n, dt,
                dt > 0 ? (double)n / dt / 1e6 : 0.0);
    }
    baremetal_destroy(m);
    return rc;
}

int cli_main(int argc, char **argv)
{
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
        printf("minnow %s\n", MINNOW_VERSION);
        return CLI_EXIT_OK;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc, argv);
    fprintf(stderr, "minnow: unknown command '%s' (try 'minnow --help')\n", cmd);
    return CLI_EXIT_USAGE;
}
