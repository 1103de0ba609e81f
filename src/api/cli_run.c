/* `minnow run`: boots a guest on the virt board (a kernel directly under
 * minnow's SBI, or firmware such as OpenSBI with the kernel as its next
 * stage, or the default guest built by guest/), or runs a bare-metal
 * program on one hart. */
#include "api/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/device_spec.h"
#include "cpu/hart.h"
#include "machine/baremetal.h"
#include "machine/ram.h"
#include "machine/virt.h"
#include "util/errmsg.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static const char run_usage[] =
    "usage: minnow run [--kernel IMAGE] [options]     boot a guest on the virt board\n"
    "       minnow run --bios PROGRAM [options]       run a bare-metal program\n"
    "\n"
    "With no --kernel and no --bios, boots the default guest that guest/build\n"
    "made (its kernel and initramfs, console=ttyS0), which gives a shell.\n"
    "\n"
    "Boot a guest: IMAGE is a RISC-V Linux Image (or an ELF executable such as\n"
    "U-Boot's uboot.elf). Without --bios it starts in S-mode with a0 = hart id\n"
    "and a1 = the device tree, and minnow itself answers its SBI calls. With\n"
    "--bios FIRMWARE (e.g. OpenSBI's fw_dynamic.bin) the firmware runs in M-mode\n"
    "and starts IMAGE in S-mode. Ctrl-A x quits.\n"
    "\n"
    "Run a bare-metal program: --bios PROGRAM without --kernel runs an RV64 ELF\n"
    "(or a flat *.bin at 0x80000000) on one hart in M-mode. It reports through\n"
    "HTIF (a `tohost` symbol: 1 = pass, (code << 1) | 1 = fail, device 1\n"
    "command 1 = putchar), the sifive,test syscon at 0x100000 (0x5555 pass,\n"
    "(code << 16) | 0x3333 fail) and the UART at 0x10000000 (output).\n"
    "\n"
    "options:\n"
    "  --kernel IMAGE     the kernel to boot\n"
    "  --initrd FILE      an initial ramdisk for the kernel\n"
    "  --append TEXT      the kernel command line\n"
    "  --cpus N           harts, 1 to 16 (default 1)\n"
    "  --mem SIZE         guest RAM, e.g. 64M or 1G (default 256M; 128M bare metal)\n"
    "  --bios FILE        firmware to boot the kernel with, or the bare-metal program\n"
    "  --dump-dtb FILE    write the guest's device tree to FILE and exit\n"
    "\n"
    "devices (virtio-mmio, up to 8, one slot each in the order given; the first\n"
    "drive is /dev/vda):\n"
    "  --drive path=FILE[,ro][,serial=TEXT][,engine=auto|uring|sync]\n"
    "                     a raw disk image (repeatable)\n"
    "  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...[,mac=MAC]\n"
    "                     user-mode networking (slirp: DHCP, DNS, NAT; no root)\n"
    "  --net tap=NAME[,mac=MAC]\n"
    "                     an existing host TAP device\n"
    "  --vsock cid=N,uds=PATH\n"
    "                     virtio-vsock; the host connects through the Unix socket\n"
    "                     PATH (\"CONNECT <port>\" as in Firecracker), guest\n"
    "                     connections to host port P go to PATH_P\n"
    "  --console2 PATH|pty\n"
    "                     a second console (hvc0) on a Unix socket or a pty\n"
    "  --rng              virtio-rng, from the host's getrandom()\n"
    "  --balloon[=[target=SIZE][,stats][,deflate-on-oom]]\n"
    "                     virtio-balloon, inflated to SIZE at start\n"
    "  --max-insns N      bare metal: end with a hart report after N instructions\n"
    "  --stats            bare metal: print instructions, time and MIPS at exit\n"
    "  -h, --help         print this text and exit\n"
    "\n"
    "exit status:\n"
    "  0        the guest powered off, or the program passed\n"
    "  1-119    the guest's failure code: a write of (code << 16) | 0x3333 to\n"
    "           the syscon (the default guest hands minnow.cmd's status this\n"
    "           way), or the program's HTIF code; larger codes give 119\n"
    "  120      the guest asked for a reboot\n"
    "  121      the guest kernel panicked\n"
    "  122      bad command line\n"
    "  123      monitor error, or a hart crashed or hung (its state is printed)\n"
    "  124      stopped from the host (Ctrl-A x or a signal)\n";

struct run_opts {
    const char *kernel, *initrd, *append, *bios, *dump_dtb;
    uint64_t mem;        /* 0: the default */
    unsigned cpus;       /* 0: not given */
    uint64_t max_insns;
    int stats;
    struct virt_device_config devices[VIRT_MAX_DEVICES];
    unsigned ndevices;
};

/* Parses one device option into the next slot. */
static int add_device(struct run_opts *o, const char *opt, char *spec)
{
    struct errmsg e = { "" };
    if (o->ndevices == VIRT_MAX_DEVICES) {
        fprintf(stderr, "minnow run: %s: too many devices (the board has %u virtio slots)\n", opt,
                VIRT_MAX_DEVICES);
        return -1;
    }
    struct virt_device_config *d = &o->devices[o->ndevices];
    int r;
    if (!strcmp(opt, "--drive"))
        r = device_spec_drive(spec, d, &e);
    else if (!strcmp(opt, "--net"))
        r = device_spec_net(spec, d, &e);
    else if (!strcmp(opt, "--vsock"))
        r = device_spec_vsock(spec, d, &e);
    else if (!strcmp(opt, "--console2"))
        r = device_spec_console2(spec, d, &e);
    else if (!strcmp(opt, "--rng"))
        r = device_spec_rng(d);
    else
        r = device_spec_balloon(spec, d, &e);
    if (r) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return -1;
    }
    o->ndevices++;
    return 0;
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

static int parse_count(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (errno || !*v || *end || *v == '-' || n > max) {
        fprintf(stderr, "minnow run: %s '%s': expected a whole number%s\n", opt, v,
                max == UINT64_MAX ? "" : " in range");
        return -1;
    }
    *out = n;
    return 0;
}

/* Returns -1 after printing the error, 1 for --help, 0 otherwise. */
static int parse(int argc, char **argv, struct run_opts *o)
{
    struct errmsg e = { "" };
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        const char **str = NULL;
        const char *name = NULL;
        static const char *const string_opts[] = { "--kernel", "--initrd", "--append", "--bios", "--dump-dtb" };
        const char **slots[] = { &o->kernel, &o->initrd, &o->append, &o->bios, &o->dump_dtb };
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        for (size_t k = 0; k < sizeof string_opts / sizeof string_opts[0]; k++)
            if (is_option(a, string_opts[k])) {
                name = string_opts[k];
                str = slots[k];
            }
        if (str) {
            if (!(v = option_value(argc, argv, &i, name)))
                return -1;
            if (!*v && str != &o->append) {
                fprintf(stderr, "minnow run: %s needs a file name\n", name);
                return -1;
            }
            *str = v;
        } else if (is_option(a, "--mem")) {
            if (!(v = option_value(argc, argv, &i, "--mem")))
                return -1;
            if (ram_parse_size(v, &o->mem, &e)) {
                fprintf(stderr, "minnow run: --mem: %s\n", e.text);
                return -1;
            }
            if (o->mem < RAM_MIN_SIZE || o->mem > RAM_MAX_SIZE || (o->mem & 0xfff)) {
                fprintf(stderr, "minnow run: --mem %s: expected a multiple of 4K from 1M to 1024G\n", v);
                return -1;
            }
        } else if (is_option(a, "--cpus")) {
            uint64_t n;
            if (!(v = option_value(argc, argv, &i, "--cpus")))
                return -1;
            if (parse_count("--cpus", v, UINT64_MAX, &n))
                return -1;
            if (n < 1 || n > VIRT_MAX_HARTS) {
                fprintf(stderr, "minnow run: --cpus %s: the board has 1 to %u harts\n", v, VIRT_MAX_HARTS);
                return -1;
            }
            o->cpus = (unsigned)n;
        } else if (is_option(a, "--max-insns")) {
            if (!(v = option_value(argc, argv, &i, "--max-insns")))
                return -1;
            if (parse_count("--max-insns", v, UINT64_MAX, &o->max_insns))
                return -1;
        } else if (!strcmp(a, "--stats")) {
            o->stats = 1;
        } else if (is_option(a, "--drive") || is_option(a, "--net") || is_option(a, "--vsock") ||
                   is_option(a, "--console2")) {
            const char *opt = is_option(a, "--drive") ? "--drive" : is_option(a, "--net") ? "--net"
                            : is_option(a, "--vsock") ? "--vsock" : "--console2";
            if (!(v = option_value(argc, argv, &i, opt)) || add_device(o, opt, (char *)v))
                return -1;
        } else if (!strcmp(a, "--rng")) {
            if (add_device(o, "--rng", NULL))
                return -1;
        } else if (!strcmp(a, "--balloon") || !strncmp(a, "--balloon=", 10)) {
            if (add_device(o, "--balloon", a[9] == '=' ? (char *)a + 10 : NULL))
                return -1;
        } else {
            fprintf(stderr, "minnow run: unknown option '%s' (try 'minnow run --help')\n", a);
            return -1;
        }
    }
    return 0;
}

/* ---- bare metal ---- */

static void stdout_out(void *opaque, const uint8_t *buf, size_t n)
{
    (void)opaque;
    fwrite(buf, 1, n, stdout);
    if (memchr(buf, '\n', n))
        fflush(stdout);
}

static void report_hart(const struct hart *h)
{
    char buf[4096];
    hart_dump(h, buf, sizeof buf);
    fputs(buf, stderr);
}

static int guest_code(uint64_t code, const char *who)
{
    if (code == 0)
        return 1;
    if (code > CLI_EXIT_GUEST_MAX) {
        fprintf(stderr, "minnow run: %s's failure code %" PRIu64 " is above %d: exiting with %d\n", who, code,
                CLI_EXIT_GUEST_MAX, CLI_EXIT_GUEST_MAX);
        return CLI_EXIT_GUEST_MAX;
    }
    return (int)code;
}

static int run_baremetal(const struct run_opts *o)
{
    const char *bios = o->bios;
    const char *board_only = o->initrd ? "--initrd" : o->append ? "--append" : o->cpus ? "--cpus"
                           : o->dump_dtb ? "--dump-dtb" : o->ndevices ? "a device option" : NULL;
    if (board_only) {
        fprintf(stderr, "minnow run: %s needs a kernel to boot (--kernel); a bare-metal --bios program runs alone\n",
                board_only);
        return CLI_EXIT_USAGE;
    }
    struct errmsg e = { "" };
    struct baremetal *m;
    struct baremetal_config cfg = { .program = bios, .mem_size = o->mem ? o->mem : 128ull << 20, .out = stdout_out };
    if (baremetal_create(&m, &cfg, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    struct vcpu_opts vo = { .max_insns = o->max_insns, .wfi_deadlock = 1, .poll = baremetal_poll, .opaque = m };
    double t0 = now_s();
    enum vcpu_end end = vcpu_run(m->hart, &vo);
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
            rc = guest_code(m->code, bios);
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
                o->max_insns);
        report_hart(m->hart);
        break;
    case VCPU_END_DEADLOCK:
        fprintf(stderr, "minnow run: %s waits in wfi for an interrupt that can never come\n", bios);
        report_hart(m->hart);
        break;
    }
    if (o->stats) {
        uint64_t n = hart_instret(m->hart);
        double dt = t1 - t0;
        fprintf(stderr, "minnow: instructions %" PRIu64 " seconds %.6f mips %.1f\n", n, dt,
                dt > 0 ? (double)n / dt / 1e6 : 0.0);
    }
    baremetal_destroy(m);
    return rc;
}

/* ---- the virt board ---- */

/* The default guest's directory, as guest/build names it. */
static int default_guest(char *dir, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && *xdg)
        n = snprintf(dir, len, "%s/minnow/default", xdg);
    else if (home && *home)
        n = snprintf(dir, len, "%s/.cache/minnow/default", home);
    else
        return -1;
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int run_board(const struct run_opts *o)
{
    if (o->max_insns || o->stats) {
        fprintf(stderr, "minnow run: %s applies to bare-metal programs (--bios without --kernel)\n",
                o->max_insns ? "--max-insns" : "--stats");
        return CLI_EXIT_USAGE;
    }
    char dir[4096], kernel[4200], initrd[4200];
    struct virt_config cfg = {
        .nharts = o->cpus ? o->cpus : 1,
        .mem_size = o->mem ? o->mem : 256ull << 20,
        .kernel = o->kernel,
        .initrd = o->initrd,
        .bootargs = o->append,
        .firmware = o->bios,
        .devices = o->devices,
        .ndevices = o->ndevices,
    };
    if (!o->kernel) {
        if (default_guest(dir, sizeof dir)) {
            fprintf(stderr, "minnow run: cannot locate the default guest (no HOME or XDG_CACHE_HOME); give --kernel\n");
            return CLI_EXIT_USAGE;
        }
        snprintf(kernel, sizeof kernel, "%s/Image", dir);
        snprintf(initrd, sizeof initrd, "%s/initramfs.cpio.gz", dir);
        if (access(kernel, R_OK)) {
            fprintf(stderr, "minnow run: the default guest is not built (%s is missing): run guest/build, "
                            "or give --kernel\n", kernel);
            return CLI_EXIT_ERROR;
        }
        cfg.kernel = kernel;
        if (!cfg.initrd)
            cfg.initrd = initrd;
        if (!cfg.bootargs)
            cfg.bootargs = "console=ttyS0";
    }
    struct errmsg e = { "" };
    struct vm_result res;
    if (vm_run(&cfg, o->dump_dtb, &res, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    if (o->dump_dtb)
        return CLI_EXIT_OK;
    switch (res.end) {
    case VIRT_POWEROFF:
        return CLI_EXIT_OK;
    case VIRT_FAIL:
        fprintf(stderr, "minnow: the guest powered off with failure code %u\n", res.code);
        return guest_code(res.code, "the guest");
    case VIRT_REBOOT:
        fprintf(stderr, "minnow: the guest asked for a reboot\n");
        return CLI_EXIT_REBOOT;
    case VIRT_PANIC:
        fprintf(stderr, "minnow: the guest kernel panicked\n");
        return CLI_EXIT_PANIC;
    case VIRT_CRASH:
        fprintf(stderr, "minnow: the guest crashed: %s", res.report);
        return CLI_EXIT_ERROR;
    case VIRT_STOPPED:
        fprintf(stderr, "minnow: stopped\n");
        return CLI_EXIT_STOPPED;
    case VIRT_RUNNING:
        break;
    }
    fprintf(stderr, "minnow: the machine stopped for no recorded reason\n");
    return CLI_EXIT_ERROR;
}

int cli_run(int argc, char **argv)
{
    struct run_opts o;
    int r = parse(argc, argv, &o);
    if (r < 0)
        return CLI_EXIT_USAGE;
    if (r > 0) {
        fputs(run_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (o.bios && !o.kernel)
        return run_baremetal(&o);
    return run_board(&o);
}
