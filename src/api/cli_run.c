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

#include "api/boot_discover.h"
#include "api/device_spec.h"
#include "api/vm_config.h"
#include "api/vm_config_json.h"
#include "cpu/hart.h"
#include "machine/baremetal.h"
#include "machine/ram.h"
#include "machine/virt.h"
#include "util/errmsg.h"
#include "vmm/gdb_target.h"
#include "vmm/gdbstub.h"
#include "api/cli_seccomp.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static const char run_usage[] =
    "usage: minnow run [--kernel IMAGE] [options]     boot a guest on the virt board\n"
    "       minnow run --disk IMAGE [options]         boot a distribution's disk image\n"
    "       minnow run --bios PROGRAM [options]       run a bare-metal program\n"
    "\n"
    "With no --kernel, --disk or --bios, boots the default guest that guest/build\n"
    "made (its kernel and initramfs, console=ttyS0), which gives a shell.\n"
    "--disk IMAGE (or a config file's drive with is_root_device) and no kernel\n"
    "boots the kernel and initrd beside the image (IMAGE.kernel, IMAGE.initrd,\n"
    "as guest/debian makes them) with root=/dev/vda rw console=ttyS0.\n"
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
    "  --engine NAME      what runs the harts: jit (the default: translates\n"
    "                     guest code to x86-64; falls back to the interpreter\n"
    "                     for what it does not translate, and on other hosts)\n"
    "                     or interp (the interpreter)\n"
    "  --config-file FILE boot from a Firecracker VM configuration (JSON, as\n"
    "                     GET /vm/config returns it; see 'minnow --help'); the\n"
    "                     other options override it and add devices\n"
    "\n"
    "devices (virtio-mmio, up to 8, one slot each in the order given; the first\n"
    "drive is /dev/vda):\n"
    "  --drive path=FILE[,ro][,serial=TEXT][,engine=auto|uring|sync]\n"
    "                     a raw disk image (repeatable)\n"
    "  --disk IMAGE       the root disk (/dev/vda, root=/dev/vda rw): a\n"
    "                     distribution's image, e.g. from guest/debian; with no\n"
    "                     --kernel, boots IMAGE.kernel with IMAGE.initrd (if\n"
    "                     there) and, with no --append, console=ttyS0\n"
    "  --net user[,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-[GUESTADDR]:PORT]...[,mac=MAC][,mtu=N]\n"
    "                     user-mode networking (slirp: DHCP, DNS, NAT; no root);\n"
    "                     the guest is offered MTU 65520 unless mtu= says otherwise\n"
    "  --net tap=NAME[,mac=MAC][,mtu=N]\n"
    "                     an existing host TAP device (mtu=: offer the guest that MTU)\n"
    "  --vsock cid=N,uds=PATH\n"
    "                     virtio-vsock; the host connects through the Unix socket\n"
    "                     PATH (\"CONNECT <port>\" as in Firecracker), guest\n"
    "                     connections to host port P go to PATH_P\n"
    "  --console2 PATH|pty\n"
    "                     a second console (hvc1 in the default guest, whose\n"
    "                     hvc0 is the SBI console) on a Unix socket or a pty\n"
    "  --rng              virtio-rng, from the host's getrandom()\n"
    "  --balloon[=[target=SIZE][,stats][,deflate-on-oom][,free-page-reporting]]\n"
    "                     virtio-balloon, inflated to SIZE at start;\n"
    "                     free-page-reporting: memory the guest frees goes\n"
    "                     back to the host (free page hinting needs the API)\n"
    "  --gdb tcp:HOST:PORT|unix:PATH\n"
    "                     a GDB remote stub there (gdb-multiarch: target remote\n"
    "                     HOST:PORT or target remote PATH); the board or the\n"
    "                     bare-metal program; 'kill' in gdb ends the run (124)\n"
    "  --gdb-wait         with --gdb: hold the harts at reset until gdb attaches\n"
    "                     and continues\n"
    "  --gdb-allow-remote with --gdb tcp: listen on an address that is not\n"
    "                     loopback (refused otherwise: the stub has no\n"
    "                     authentication, whoever reaches it owns the guest)\n"
    "  --max-insns N      bare metal: end with a hart report after N instructions\n"
    "  --stats            bare metal: print instructions, time and MIPS at exit\n"
    CLI_SECCOMP_USAGE
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
    "  124      stopped from the host (Ctrl-A x or a signal)\n"
    "  148      a monitor thread made a syscall its seccomp filter does not allow\n";

struct run_opts {
    struct cli_seccomp seccomp;
    const char *kernel, *initrd, *append, *bios, *dump_dtb, *config_file;
    uint64_t mem;        /* 0: not given */
    unsigned cpus;       /* 0: not given */
    int engine;          /* enum hart_engine, -1: not given */
    uint64_t max_insns;
    int stats;
    const char *gdb;     /* --gdb, NULL: none */
    int gdb_wait;
    int gdb_allow_remote;
    unsigned ndevices;   /* device options given */
    /* What the board is built from: --config-file's contents, with the
     * device options added as they come. */
    struct vm_config cfg;
};

/* An id for a device from the command line that no config-file device has. */
static void cli_id(char *buf, size_t len, const char *prefix, unsigned n, const struct vm_config *c, bool drive)
{
    for (;; n++) {
        snprintf(buf, len, "%s%u", prefix, n);
        bool used = false;
        for (unsigned i = 0; drive && i < c->ndrives; i++)
            used |= !strcmp(c->drives[i].drive_id, buf);
        for (unsigned i = 0; !drive && i < c->nnets; i++)
            used |= !strcmp(c->nets[i].iface_id, buf);
        if (!used)
            return;
    }
}

/* A parsed device option into the configuration. */
static int config_device(struct vm_config *c, const char *opt, const struct virt_device_config *d, struct errmsg *e)
{
    char id[32];
    switch (d->kind) {
    case VIRT_DEV_BLK: {
        cli_id(id, sizeof id, "drive", c->ndrives, c, true);
        struct vm_config_drive v = { .drive_id = id, .path_on_host = (char *)d->blk.path,
                                     .is_read_only = d->blk.read_only, .serial = (char *)d->blk.serial,
                                     .engine = d->blk.engine, .cache_type = VM_CONFIG_CACHE_WRITEBACK };
        return vm_config_put_drive(c, &v, e);
    }
    case VIRT_DEV_NET: {
        cli_id(id, sizeof id, "net", c->nnets, c, false);
        struct vm_config_net v = { .iface_id = id, .spec = d->net };
        return vm_config_put_net(c, &v, e);
    }
    case VIRT_DEV_VSOCK: {
        if (c->vsock.present)
            return errmsg_set(e, -EINVAL, "%s: only one vsock device per machine", opt);
        struct vm_config_vsock v = { .guest_cid = d->vsock.guest_cid, .uds_path = (char *)d->vsock.uds_path };
        return vm_config_set_vsock(c, &v, e);
    }
    case VIRT_DEV_RNG:
        if (c->entropy)
            return errmsg_set(e, -EINVAL, "%s: only one entropy device per machine", opt);
        return vm_config_set_entropy(c, e);
    case VIRT_DEV_BALLOON: {
        if (c->balloon.present)
            return errmsg_set(e, -EINVAL, "%s: only one balloon per machine", opt);
        if (d->balloon.target_pages % 256)
            return errmsg_set(e, -EINVAL, "%s: target: expected a whole number of MiB", opt);
        /* The configuration enables statistics by a polling interval. */
        struct vm_config_balloon v = { .amount_mib = d->balloon.target_pages / 256,
                                       .deflate_on_oom = d->balloon.deflate_on_oom,
                                       .stats_polling_interval_s = d->balloon.stats ? 1 : 0,
                                       .free_page_reporting = d->balloon.free_page_reporting };
        return vm_config_set_balloon(c, &v, e);
    }
    case VIRT_DEV_CONSOLE: {
        if (c->console2.present)
            return errmsg_set(e, -EINVAL, "%s: only one second console per machine", opt);
        struct vm_config_console2 v = { .pty = d->console.chardev.kind == CHARDEV_PTY,
                                        .uds_path = (char *)d->console.chardev.path };
        return vm_config_set_console2(c, &v, e);
    }
    }
    return errmsg_set(e, -EINVAL, "%s: unknown device", opt);
}

/* Parses one device option and adds it to the configuration. */
static int add_device(struct run_opts *o, const char *opt, char *spec)
{
    struct errmsg e = { "" };
    struct virt_device_config d;
    int r;
    if (!strcmp(opt, "--drive"))
        r = device_spec_drive(spec, &d, &e);
    else if (!strcmp(opt, "--net"))
        r = device_spec_net(spec, &d, &e);
    else if (!strcmp(opt, "--vsock"))
        r = device_spec_vsock(spec, &d, &e);
    else if (!strcmp(opt, "--console2"))
        r = device_spec_console2(spec, &d, &e);
    else if (!strcmp(opt, "--rng"))
        r = device_spec_rng(&d);
    else
        r = device_spec_balloon(spec, &d, &e);
    if (!r)
        r = vm_config_need_slot(&o->cfg, opt, &e);
    if (!r)
        r = config_device(&o->cfg, opt, &d, &e);
    if (r) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return -1;
    }
    o->ndevices++;
    return 0;
}

/* --disk IMAGE: the root drive. */
static int add_disk(struct run_opts *o, const char *path)
{
    struct errmsg e = { "" };
    char id[32];
    int r = 0;
    if (!*path)
        r = errmsg_set(&e, -EINVAL, "--disk needs a file name");
    else
        r = vm_config_need_slot(&o->cfg, "--disk", &e);
    if (!r) {
        cli_id(id, sizeof id, "rootfs", 0, &o->cfg, true);
        struct vm_config_drive d = { .drive_id = id, .path_on_host = (char *)path, .is_root_device = true,
                                     .cache_type = VM_CONFIG_CACHE_WRITEBACK };
        r = vm_config_put_drive(&o->cfg, &d, &e);
    }
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

/* --config-file comes first whatever its place, so that the other options
 * add to it and override it. Returns -1 after printing the error. */
static int load_config_file(int argc, char **argv, struct run_opts *o)
{
    for (int i = 2; i < argc; i++) {
        if (!is_option(argv[i], "--config-file"))
            continue;
        const char *v = option_value(argc, argv, &i, "--config-file");
        if (!v)
            return -1;
        if (o->config_file) {
            fprintf(stderr, "minnow run: --config-file given twice\n");
            return -1;
        }
        o->config_file = v;
        struct errmsg e = { "" };
        if (vm_config_json_load_file(&o->cfg, v, &e)) {
            fprintf(stderr, "minnow run: %s\n", e.text);
            return -1;
        }
        if (o->cfg.ignored_keys)
            fprintf(stderr, "minnow run: warning: config file %s: ignored the unknown top-level key(s) %s\n", v,
                    o->cfg.ignored_keys);
        /* minnow run has no logger or metrics sink: refuse rather than
         * drop what the file asked for. */
        if (o->cfg.logger.present || o->cfg.metrics.present) {
            fprintf(stderr, "minnow run: %s: the %s section needs the API front end (minnow --no-api "
                    "--config-file FILE); minnow run has no logger or metrics\n", v,
                    o->cfg.logger.present ? "logger" : "metrics");
            return -1;
        }
        if (o->cfg.mmds.present) {
            fprintf(stderr, "minnow run: %s: the mmds-config section needs the API front end (minnow --no-api "
                    "--config-file FILE [--metadata FILE]), which holds the MMDS data store\n", v);
            return -1;
        }
    }
    return 0;
}

/* Returns -1 after printing the error, 1 for --help, 0 otherwise. */
static int parse(int argc, char **argv, struct run_opts *o)
{
    struct errmsg e = { "" };
    memset(o, 0, sizeof *o);
    o->engine = -1;
    vm_config_init(&o->cfg);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    if (load_config_file(argc, argv, o))
        return -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        int sr;
        const char **str = NULL;
        const char *name = NULL;
        static const char *const string_opts[] = { "--kernel", "--initrd", "--append", "--bios", "--dump-dtb" };
        const char **slots[] = { &o->kernel, &o->initrd, &o->append, &o->bios, &o->dump_dtb };
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
        } else if (is_option(a, "--config-file")) {
            option_value(argc, argv, &i, "--config-file"); /* loaded above */
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
        } else if (is_option(a, "--engine")) {
            if (!(v = option_value(argc, argv, &i, "--engine")))
                return -1;
            enum hart_engine en;
            if (hart_engine_parse(v, &en)) {
                fprintf(stderr, "minnow run: --engine '%s': expected interp or jit\n", v);
                return -1;
            }
            o->engine = (int)en;
        } else if (is_option(a, "--max-insns")) {
            if (!(v = option_value(argc, argv, &i, "--max-insns")))
                return -1;
            if (parse_count("--max-insns", v, UINT64_MAX, &o->max_insns))
                return -1;
        } else if (!strcmp(a, "--stats")) {
            o->stats = 1;
        } else if (is_option(a, "--gdb")) {
            if (!(v = option_value(argc, argv, &i, "--gdb")))
                return -1;
            o->gdb = v;
        } else if ((sr = cli_seccomp_option(&o->seccomp, argc, argv, &i))) {
            if (sr < 0)
                return -1;
        } else if (!strcmp(a, "--gdb-wait")) {
            o->gdb_wait = 1;
        } else if (!strcmp(a, "--gdb-allow-remote")) {
            o->gdb_allow_remote = 1;
        } else if (is_option(a, "--drive") || is_option(a, "--net") || is_option(a, "--vsock") ||
                   is_option(a, "--console2")) {
            const char *opt = is_option(a, "--drive") ? "--drive" : is_option(a, "--net") ? "--net"
                            : is_option(a, "--vsock") ? "--vsock" : "--console2";
            if (!(v = option_value(argc, argv, &i, opt)) || add_device(o, opt, (char *)v))
                return -1;
        } else if (is_option(a, "--disk")) {
            if (!(v = option_value(argc, argv, &i, "--disk")) || add_disk(o, v))
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
    if ((o->gdb_wait || o->gdb_allow_remote) && !o->gdb) {
        fprintf(stderr, "minnow run: %s needs --gdb (where the debugger connects)\n",
                o->gdb_wait ? "--gdb-wait" : "--gdb-allow-remote");
        return -1;
    }
    if (o->gdb && gdbstub_check_spec(o->gdb, o->gdb_allow_remote, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return -1;
    }
    return 0;
}

/* ---- bare metal ---- */

struct bm_kill {
    struct hart *hart;
    int killed;
};

static void bm_kill(void *opaque)
{
    struct bm_kill *k = opaque;
    k->killed = 1;
    hart_request_stop(k->hart);
}

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

static int run_baremetal(const struct run_opts *o)
{
    struct cli_seccomp sc = o->seccomp;
    int src = cli_seccomp_enter(&sc);
    if (src)
        return src;
    const char *bios = o->bios;
    const char *board_only = o->initrd ? "--initrd" : o->append ? "--append" : o->cpus ? "--cpus"
                           : o->dump_dtb ? "--dump-dtb" : o->ndevices ? "a device option"
                           : o->config_file ? "--config-file" : NULL;
    if (board_only) {
        fprintf(stderr, "minnow run: %s needs a kernel to boot (--kernel); a bare-metal --bios program runs alone\n",
                board_only);
        return CLI_EXIT_USAGE;
    }
    struct errmsg e = { "" };
    struct baremetal *m;
    struct baremetal_config cfg = { .program = bios, .mem_size = o->mem ? o->mem : 128ull << 20, .out = stdout_out,
                                    .engine = o->engine >= 0 ? (enum hart_engine)o->engine : HART_ENGINE_DEFAULT };
    if (baremetal_create(&m, &cfg, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    struct vcpu_opts vo = { .max_insns = o->max_insns, .wfi_deadlock = 1, .poll = baremetal_poll, .opaque = m };
    struct gdb_target *gt = NULL;
    struct gdbstub *stub = NULL;
    struct bm_kill bk = { m->hart, 0 };
    struct hart *harts[1] = { m->hart };  /* the target's for the whole run */
    if (o->gdb) {
        struct gdb_target_config tc = { .harts = harts, .nharts = 1, .start_halted = o->gdb_wait };
        struct gdbstub_config sc = { .spec = o->gdb, .kill = bm_kill, .opaque = &bk };
        if (gdb_target_create(&gt, &tc, &e) || (sc.target = gt, gdbstub_start(&stub, &sc, &e))) {
            fprintf(stderr, "minnow run: %s\n", e.text);
            gdb_target_destroy(gt);
            baremetal_destroy(m);
            return CLI_EXIT_ERROR;
        }
        vo.gdb = gt;
    }
    double t0 = now_s();
    enum vcpu_end end = vcpu_run(m->hart, &vo);
    double t1 = now_s();
    fflush(stdout);
    if (gt) {
        gdb_target_shutdown(gt, m->status == BAREMETAL_FAIL ? (unsigned)m->code : 0);
        gdbstub_stop(stub);
        gdb_target_destroy(gt);
    }
    int rc = CLI_EXIT_ERROR;
    if (bk.killed) {
        fprintf(stderr, "minnow run: the debugger ended the run (kill)\n");
        baremetal_destroy(m);
        return CLI_EXIT_STOPPED;
    }
    switch (end) {
    case VCPU_END_STOP:
        switch (m->status) {
        case BAREMETAL_PASS:
        case BAREMETAL_RESET:
            rc = CLI_EXIT_OK;
            break;
        case BAREMETAL_FAIL:
            fprintf(stderr, "minnow run: %s reported failure: code %" PRIu64 "\n", bios, m->code);
            rc = cli_exit_guest_code(m->code, bios);
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

/* The command line's boot and machine options over the configuration. */
static int config_boot(struct run_opts *o, char *dir, size_t dirlen, char *kernel, char *initrd, size_t len)
{
    struct errmsg e = { "" };
    /* A root drive with no kernel anywhere: the kernel beside its image. */
    if (!o->kernel && boot_discover_config(&o->cfg, &e) < 0) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    struct vm_config_boot b = o->cfg.boot;
    if (o->kernel)
        b.kernel_image_path = (char *)o->kernel;
    if (o->initrd)
        b.initrd_path = (char *)o->initrd;
    if (o->append)
        b.boot_args = (char *)o->append;
    if (o->bios)
        b.firmware_path = (char *)o->bios;
    if (!b.kernel_image_path) {
        if (default_guest(dir, dirlen)) {
            fprintf(stderr, "minnow run: cannot locate the default guest (no HOME or XDG_CACHE_HOME); give --kernel\n");
            return CLI_EXIT_USAGE;
        }
        snprintf(kernel, len, "%s/Image", dir);
        snprintf(initrd, len, "%s/initramfs.cpio.gz", dir);
        if (access(kernel, R_OK)) {
            fprintf(stderr, "minnow run: the default guest is not built (%s is missing): run guest/build, "
                            "or give --kernel\n", kernel);
            return CLI_EXIT_ERROR;
        }
        b.kernel_image_path = kernel;
        if (!b.initrd_path)
            b.initrd_path = initrd;
        if (!b.boot_args)
            b.boot_args = "console=ttyS0";
    }
    struct vm_config_machine m = o->cfg.machine;
    if (o->cpus)
        m.vcpu_count = o->cpus;
    if (o->engine >= 0)
        m.engine = (enum hart_engine)o->engine;
    if (o->mem)
        m.mem_size = o->mem;
    else if (!o->config_file)
        m.mem_size = 256ull << 20;  /* the command line's default */
    if (vm_config_set_boot(&o->cfg, &b, &e) || vm_config_set_machine(&o->cfg, &m, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static int run_board(struct run_opts *o)
{
    if (o->max_insns || o->stats) {
        fprintf(stderr, "minnow run: %s applies to bare-metal programs (--bios without --kernel)\n",
                o->max_insns ? "--max-insns" : "--stats");
        return CLI_EXIT_USAGE;
    }
    char dir[4096], kernel[4200], initrd[4200];
    int rc = config_boot(o, dir, sizeof dir, kernel, initrd, sizeof kernel);
    if (rc)
        return rc;
    struct errmsg e = { "" };
    struct vm_build build;
    if (vm_config_build(&o->cfg, &build, &e)) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_USAGE;
    }
    /* vm_run, with the rate limiters given to the devices before the
     * guest starts. */
    struct vm_result res = { 0 };
    struct vm *vm;
    if (!o->dump_dtb && (rc = cli_seccomp_enter(&o->seccomp)))
        return rc;
    int r = vm_create(&vm, &build.virt, &e);
    if (!r) {
        vm_config_apply_rate_limiters(&o->cfg, vm);
        if (o->gdb && !o->dump_dtb)
            r = vm_enable_gdb(vm, o->gdb, o->gdb_wait, &e);
        if (r)
            ;
        else if (o->dump_dtb)
            r = vm_dump_dtb(vm, o->dump_dtb, &e);
        else if (!(r = vm_start(vm, &e)))
            vm_wait(vm, &res);
        vm_destroy(vm);
    }
    if (r) {
        fprintf(stderr, "minnow run: %s\n", e.text);
        return CLI_EXIT_ERROR;
    }
    if (o->dump_dtb)
        return CLI_EXIT_OK;
    return cli_exit_status(&res);
}

static bool has_root_drive(const struct vm_config *c)
{
    for (unsigned i = 0; i < c->ndrives; i++)
        if (c->drives[i].is_root_device)
            return true;
    return false;
}

int cli_run(int argc, char **argv)
{
    struct run_opts o;
    int r = parse(argc, argv, &o);
    if (r > 0)
        fputs(run_usage, stdout);
    if (r)
        r = r < 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    else if (o.bios && !o.kernel && !o.cfg.boot.kernel_image_path && !has_root_drive(&o.cfg))
        r = run_baremetal(&o);
    else
        r = run_board(&o);
    vm_config_free(&o.cfg);
    return r;
}
