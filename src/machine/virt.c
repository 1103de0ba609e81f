/* The virt board: devices, memory layout and boot loading (see virt.h).
 * The SBI's board side and the harts' start/stop protocol are in
 * virt_harts.c. */
#include "machine/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/clint.h"
#include "devices/plic.h"
#include "devices/rtc.h"
#include "devices/syscon.h"
#include "devices/uart.h"
#include "machine/elf_image.h"
#include "machine/fdt.h"
#include "machine/kernel_image.h"
#include "machine/ram.h"
#include "machine/ram_fault.h"
#include "machine/virt_harts.h"
#include "util/file_map.h"
#include "util/file_open.h"

/* What the hart implements, for the FDT's riscv,isa strings. "sdtrig"
 * (cpu/trigger.h) is the name Linux's riscv,isa-extensions binding and
 * QEMU's riscv,isa string use for the debug triggers. */
static const char *const isa_extensions[] = {
    "i", "m", "a", "f", "d", "c", "zicbom", "zicboz", "zicntr", "zicsr", "zifencei",
    "zihintpause", "zihpm", "zba", "zbb", "zbs", "sdtrig", "sstc", "svpbmt",
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- boot ROM: the reset vector firmware boot starts from ---- */

static uint64_t rom_read(void *opaque, uint64_t offset, unsigned size)
{
    const struct virt *v = opaque;
    uint64_t val = 0;
    if (offset < VIRT_ROM_SIZE && size <= VIRT_ROM_SIZE - offset)
        memcpy(&val, v->rom + offset, size);
    return val;
}

static void rom_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)opaque, (void)offset, (void)value, (void)size; /* read-only */
}

static const struct mmio_ops rom_ops = { rom_read, rom_write };

/* As on QEMU's virt board: a2 = &fw_dynamic_info, a0 = mhartid,
 * a1 = the FDT, then jump to the firmware. */
static void rom_build(struct virt *v, uint64_t start, uint64_t next_addr)
{
    static const uint32_t code[] = {
        0x00000297, /* auipc t0, 0 */
        0x02828613, /* addi  a2, t0, 40 */
        0xf1402573, /* csrr  a0, mhartid */
        0x0202b583, /* ld    a1, 32(t0) */
        0x0182b283, /* ld    t0, 24(t0) */
        0x00028067, /* jr    t0 */
    };
    const uint64_t data[] = {
        start, v->fdt_addr,
        /* struct fw_dynamic_info (OpenSBI): magic "OSBI", version 2, the
         * next stage's address and mode (1 = S), options, boot hart. */
        0x4942534f, 2, next_addr, 1, 0, 0,
    };
    memset(v->rom, 0, sizeof v->rom);
    memcpy(v->rom, code, sizeof code);
    memcpy(v->rom + 24, data, sizeof data);
}

/* ---- devices' callbacks into the board ---- */

static void plic_pending(void *opaque, unsigned hart, uint64_t mip_bit, int level)
{
    struct virt *v = opaque;
    if (hart < v->nharts && v->harts[hart].hart)
        hart_set_irq(v->harts[hart].hart, mip_bit, level);
}

/* The harts compare mtimecmp themselves (so a sleeping hart wakes on
 * time without the CLINT's help): only MSIP comes through here. */
static void clint_pending(void *opaque, unsigned hart, uint64_t mip_bit, int level)
{
    struct virt *v = opaque;
    if (mip_bit == MIP_MSIP && hart < v->nharts && v->harts[hart].hart)
        hart_set_irq(v->harts[hart].hart, mip_bit, level);
}

static void clint_mtimecmp(void *opaque, unsigned hart, uint64_t value)
{
    struct virt *v = opaque;
    if (hart < v->nharts && v->harts[hart].hart)
        hart_set_mtimecmp(v->harts[hart].hart, value);
}

static void syscon_request(void *opaque, enum syscon_request req, uint32_t code)
{
    struct virt *v = opaque;
    switch (req) {
    case SYSCON_POWEROFF: virt_finish(v, VIRT_POWEROFF, 0); break;
    case SYSCON_FAIL: virt_finish(v, VIRT_FAIL, code); break;
    case SYSCON_REBOOT: virt_finish(v, VIRT_REBOOT, 0); break;
    }
}

void virt_console_write(struct virt *v, const uint8_t *buf, size_t n)
{
    pthread_mutex_lock(&v->console_lock);
    bool pass = !token_bucket_enabled(&v->console_limit) ||
                (n <= v->console_limit.cfg.size && token_bucket_consume(&v->console_limit, n, now_ns(), NULL));
    enum console_event ev = console_watch_feed(&v->watch, buf, n);
    pthread_mutex_unlock(&v->console_lock);
    if (pass)
        v->cfg.console_out(v->cfg.console_opaque, buf, n);
    else
        atomic_fetch_add(&v->console_dropped, n);
    if (ev == CONSOLE_PANIC_START) {
        /* Give the panic report a moment to finish printing. */
        pthread_mutex_lock(&v->lock);
        v->panic_deadline = now_ns() + 2000000000ull;
        pthread_cond_broadcast(&v->cond);
        pthread_mutex_unlock(&v->lock);
    } else if (ev == CONSOLE_PANIC_END) {
        virt_finish(v, VIRT_PANIC, 0);
    }
}

void virt_set_console_limit(struct virt *v, const struct token_bucket_config *cfg)
{
    static const struct token_bucket_config none = { 0 };
    pthread_mutex_lock(&v->console_lock);
    token_bucket_init(&v->console_limit, cfg ? cfg : &none, now_ns());
    pthread_mutex_unlock(&v->console_lock);
}

uint64_t virt_console_dropped(struct virt *v)
{
    return atomic_load(&v->console_dropped);
}

static void uart_out(void *opaque, const uint8_t *buf, size_t n)
{
    virt_console_write(opaque, buf, n);
}

size_t virt_console_input(void *opaque, const uint8_t *buf, size_t n)
{
    struct virt *v = opaque;
    return uart_receive(v->uart, buf, n);
}

/* ---- ending the run ---- */

void virt_finish(struct virt *v, enum virt_end why, uint32_t code)
{
    /* Once RAM is lost whatever else ends the run (a hart crashing or
     * the kernel panicking on the zeros it now reads) is a consequence. */
    if (ram_lost(&v->ram, NULL))
        why = VIRT_MEM_LOST;
    pthread_mutex_lock(&v->lock);
    if (atomic_load(&v->end) == VIRT_RUNNING) {
        v->end_code = code;
        atomic_store(&v->end, why);
    }
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    for (unsigned i = 0; i < v->nharts; i++)
        if (v->harts[i].hart)
            hart_request_stop(v->harts[i].hart);
}

/* On the I/O thread: the memory file backing RAM lost a page. */
static void on_ram_lost(void *opaque)
{
    struct virt *v = opaque;
    if (ram_fault_consume(v->ram.fault))
        virt_finish(v, VIRT_MEM_LOST, 0);
}

enum virt_end virt_end_reason(struct virt *v)
{
    return (enum virt_end)atomic_load(&v->end);
}

uint64_t virt_next_timer(struct virt *v)
{
    uint64_t t = rtc_next_deadline(v->rtc);
    pthread_mutex_lock(&v->lock);
    if (v->panic_deadline && v->panic_deadline < t)
        t = v->panic_deadline;
    pthread_mutex_unlock(&v->lock);
    return t;
}

void virt_poll_timers(struct virt *v)
{
    rtc_update(v->rtc);
    pthread_mutex_lock(&v->lock);
    int panic_due = v->panic_deadline && now_ns() >= v->panic_deadline;
    pthread_mutex_unlock(&v->lock);
    if (panic_due)
        virt_finish(v, VIRT_PANIC, 0);
}

void virt_wait(struct virt *v, uint64_t until_ns)
{
    pthread_mutex_lock(&v->lock);
    if (atomic_load(&v->end) == VIRT_RUNNING) {
        if (until_ns == UINT64_MAX) {
            pthread_cond_wait(&v->cond, &v->lock);
        } else {
            struct timespec ts = { .tv_sec = (time_t)(until_ns / 1000000000ull),
                                   .tv_nsec = (long)(until_ns % 1000000000ull) };
            pthread_cond_timedwait(&v->cond, &v->lock, &ts);
        }
    }
    pthread_mutex_unlock(&v->lock);
}

/* ---- loading ---- */

/* The kernel: a Linux Image (checked by its header) or an ELF executable
 * (U-Boot's, for example). */
static int load_kernel(struct virt *v, uint64_t *end, struct errmsg *e)
{
    const char *path = v->cfg.kernel;
    uint8_t head[4] = { 0 };
    /* Checked here, before the first read: a FIFO would block it. */
    int fd = file_open_kind("kernel", path, O_RDONLY, 0, FILE_OPEN_REG, e);
    if (fd < 0)
        return fd;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n == 4 && !memcmp(head, "\177ELF", 4)) {
        struct elf_image_info info;
        int r = elf_image_load(path, &v->ram, &info, e);
        if (r)
            return r;
        v->kernel_entry = info.entry;
        *end = info.end;
        return 0;
    }
    return kernel_image_load(path, v->ram.host, v->ram.base, v->ram.size, &v->kernel_entry, end, e);
}

static int load_images(struct virt *v, struct errmsg *e)
{
    uint64_t fw_end = v->ram.base, kernel_end;
    if (v->cfg.firmware) {
        struct elf_image_info info;
        int r = elf_image_load(v->cfg.firmware, &v->ram, &info, e);
        if (r)
            return r;
        if (info.entry != v->ram.base)
            return errmsg_set(e, -EINVAL, "firmware %s: entry %#" PRIx64 " is not the start of RAM (%#" PRIx64 ")",
                              v->cfg.firmware, info.entry, v->ram.base);
        fw_end = info.end;
    }
    int r = load_kernel(v, &kernel_end, e);
    if (r)
        return r;
    if (v->cfg.firmware && fw_end > v->kernel_entry)
        return errmsg_set(e, -EINVAL, "firmware %s ends at %#" PRIx64 ", past the kernel's start at %#" PRIx64,
                          v->cfg.firmware, fw_end, v->kernel_entry);

    /* The FDT goes at the top of RAM and the initrd just below it, both
     * page aligned, clear of the kernel. */
    uint64_t ram_end = v->ram.base + v->ram.size;
    v->fdt_addr = (ram_end - sizeof v->fdt) & ~0xfffull;
    uint64_t low = v->fdt_addr;
    if (v->cfg.initrd) {
        struct file_map f;
        if ((r = file_map(&f, "initrd", v->cfg.initrd, e)))
            return r;
        uint64_t len = f.size;
        if (len == 0) {
            file_unmap(&f);
            return errmsg_set(e, -EINVAL, "initrd %s: the file is empty", v->cfg.initrd);
        }
        if (len > low - kernel_end || ((low - len) & ~0xfffull) < kernel_end) {
            file_unmap(&f);
            return errmsg_set(e, -ENOSPC,
                              "initrd %s (%" PRIu64 " KiB) does not fit in RAM beside the kernel: "
                              "give more memory with --mem (now %" PRIu64 " MiB)",
                              v->cfg.initrd, len >> 10, v->ram.size >> 20);
        }
        v->initrd_start = (low - len) & ~0xfffull;
        v->initrd_end = v->initrd_start + len;
        memcpy(v->ram.host + (v->initrd_start - v->ram.base), f.data, len);
        file_unmap(&f);
        low = v->initrd_start;
    }
    if (low < kernel_end)
        return errmsg_set(e, -ENOSPC, "kernel %s does not fit in %" PRIu64 " MiB of RAM with its device tree",
                          v->cfg.kernel, v->ram.size >> 20);
    return 0;
}

static int build_fdt(struct virt *v, struct errmsg *e)
{
    uint8_t seed[32];
    struct fdt_config fc = {
        .nharts = v->nharts,
        .ram_base = v->ram.base,
        .ram_size = v->ram.size,
        .bootargs = v->cfg.bootargs,
        .has_initrd = v->cfg.initrd != NULL,
        .initrd_start = v->initrd_start,
        .initrd_end = v->initrd_end,
        .isa_extensions = isa_extensions,
        .n_isa_extensions = sizeof isa_extensions / sizeof isa_extensions[0],
        .mmu_type = "riscv,sv57",
        .virtio_slots = virt_devices_slots(v),
        .sbi_has_srst = v->cfg.firmware == NULL,
    };
    if (getrandom(seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed) {
        fc.rng_seed = seed;
        fc.rng_seed_len = sizeof seed;
    }
    int r = fdt_build(&fc, v->fdt, sizeof v->fdt, &v->fdt_size, e);
    if (r)
        return r;
    memcpy(v->ram.host + (v->fdt_addr - v->ram.base), v->fdt, v->fdt_size);
    return 0;
}

int virt_dump_dtb(const struct virt *v, const char *path, struct errmsg *e)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return errmsg_set(e, -errno, "--dump-dtb %s: %s", path, strerror(errno));
    size_t w = fwrite(v->fdt, 1, v->fdt_size, f);
    int err = ferror(f);
    if (fclose(f) || w != v->fdt_size || err)
        return errmsg_set(e, -EIO, "--dump-dtb %s: write failed", path);
    return 0;
}

/* ---- creation ---- */

static int map_devices(struct virt *v, struct errmsg *e)
{
    int r;
    struct plic_ops pops = { .set_pending = plic_pending, .opaque = v };
    struct clint_ops cops = { .set_pending = clint_pending, .mtimecmp_changed = clint_mtimecmp, .opaque = v };
    struct syscon_ops sops = { .request = syscon_request, .opaque = v };
    struct uart_ops uops = { .out = uart_out, .opaque = v };
    if ((r = plic_create(&v->plic, v->nharts, &pops, e)) || (r = clint_create(&v->clint, v->nharts, &cops, e)) ||
        (r = syscon_create(&v->syscon, &sops, e)))
        return r;
    struct irq_line uart_irq = { plic_irq_set, v->plic, UART_IRQ };
    struct irq_line rtc_irq = { plic_irq_set, v->plic, RTC_IRQ };
    if ((r = uart_create(&v->uart, &uops, &uart_irq, e)) || (r = rtc_create(&v->rtc, &rtc_irq, e)))
        return r;
    const struct { uint64_t base, size; const struct mmio_ops *ops; void *opaque; const char *name; } map[] = {
        { VIRT_ROM_BASE, VIRT_ROM_SIZE, &rom_ops, v, "boot ROM" },
        { SYSCON_BASE, SYSCON_MMIO_SIZE, &syscon_mmio_ops, v->syscon, "syscon" },
        { RTC_BASE, RTC_MMIO_SIZE, &rtc_mmio_ops, v->rtc, "rtc" },
        { CLINT_BASE, CLINT_MMIO_SIZE, &clint_mmio_ops, v->clint, "clint" },
        { PLIC_BASE, PLIC_MMIO_SIZE, &plic_mmio_ops, v->plic, "plic" },
        { UART_BASE, UART_MMIO_SIZE, &uart_mmio_ops, v->uart, "uart" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if ((r = bus_map(&v->bus, map[i].base, map[i].size, map[i].ops, map[i].opaque, map[i].name, e)))
            return r;
    if (v->cfg.boot_timer) {
        v->boot_timer = (struct boot_timer){ v->cfg.boot_timer, v->cfg.boot_timer_opaque };
        r = bus_map(&v->bus, BOOT_TIMER_BASE, BOOT_TIMER_MMIO_SIZE, &boot_timer_mmio_ops, &v->boot_timer,
                    "boot timer", e);
    }
    return r;
}

int virt_create(struct virt **out, const struct virt_config *cfg, struct errmsg *e)
{
    if (cfg->nharts < 1 || cfg->nharts > VIRT_MAX_HARTS)
        return errmsg_set(e, -EINVAL, "%u harts: the board has 1 to %u", cfg->nharts, VIRT_MAX_HARTS);
    if (!cfg->kernel && !cfg->restore)
        return errmsg_set(e, -EINVAL, "no kernel to boot");
    struct virt *v = calloc(1, sizeof *v);
    if (!v)
        return errmsg_set(e, -ENOMEM, "out of memory for the board");
    v->cfg = *cfg;
    v->nharts = cfg->nharts;
    pthread_mutex_init(&v->lock, NULL);
    pthread_mutex_init(&v->console_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&v->end, VIRT_RUNNING);
    console_watch_init(&v->watch);
    virt_set_console_limit(v, NULL);

    int r;
    if (cfg->restore_mem) {
        /* RAM, the boot ROM and every hart's state come from the snapshot
         * (virt_load); the images were loaded when the guest booted. */
        r = ram_map_file(&v->ram, VIRT_RAM_BASE, cfg->mem_size, cfg->restore_mem_fd, cfg->restore_mem, e);
    } else {
        r = ram_create(&v->ram, VIRT_RAM_BASE, cfg->mem_size, e);
    }
    if (r)
        goto fail;
    bus_init(&v->bus, &v->ram);
    if ((r = map_devices(v, e)) || (r = virt_devices_create(v, e)))
        goto fail;
    if (v->ram.fault) {
        v->io_fds[v->n_io_fds++] = (struct virt_io_fd){ ram_fault_fd(v->ram.fault), on_ram_lost, v };
        if (ram_fault_changed_fd(v->ram.fault) >= 0)
            v->io_fds[v->n_io_fds++] = (struct virt_io_fd){ ram_fault_changed_fd(v->ram.fault), on_ram_lost, v };
    }
    if (!cfg->restore) {
        if ((r = load_images(v, e)) || (r = build_fdt(v, e)))
            goto fail;
        rom_build(v, v->ram.base, v->kernel_entry);
    }
    if ((r = virt_harts_create(v, e)))
        goto fail;
    *out = v;
    return 0;
fail:
    virt_destroy(v);
    return r;
}

void virt_destroy(struct virt *v)
{
    if (!v)
        return;
    virt_harts_destroy(v);
    virt_devices_destroy(v);
    uart_destroy(v->uart);
    rtc_destroy(v->rtc);
    syscon_destroy(v->syscon);
    clint_destroy(v->clint);
    plic_destroy(v->plic);
    ram_destroy(&v->ram);
    pthread_cond_destroy(&v->cond);
    pthread_mutex_destroy(&v->lock);
    pthread_mutex_destroy(&v->console_lock);
    free(v);
}
