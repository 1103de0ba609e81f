/* The virt board: minnow's RISC-V machine, laid out like QEMU's `virt`
 * (DESIGN.md has the memory map) so stock Linux, OpenSBI and U-Boot run on
 * it. It owns RAM, the bus, the boot ROM, CLINT, PLIC, UART, goldfish RTC,
 * syscon, the device tree and one hart per CPU, and it loads what the guest
 * boots:
 *
 *  - direct kernel boot (no firmware): the kernel (a Linux Image, or an ELF
 *    such as U-Boot's) runs in S-mode from its entry with a0 = hart id and
 *    a1 = the FDT; minnow's SBI (machine/sbi.c) answers its ecalls, and the
 *    board sets up in each hart what M-mode firmware would have (PMP,
 *    delegation, counters, Sstc). Hart 0 starts; the others wait for an
 *    SBI HSM hart_start.
 *  - firmware boot: a firmware image (e.g. OpenSBI's fw_dynamic) is loaded
 *    at the start of RAM and every hart starts in M-mode at the boot ROM,
 *    which jumps to it with a0 = hart id, a1 = the FDT and a2 = a
 *    fw_dynamic_info naming the kernel as the next stage (S-mode).
 *
 * The board does not run threads itself: the vmm layer runs each hart on
 * its own thread with virt_hart_wait_start / vcpu_run, and asks the board
 * how the run ended. Everything that ends a run (poweroff, reboot, a panic
 * on the console, a crashed hart) goes through virt_finish, which records
 * the first reason and stops every hart. */
#ifndef MINNOW_MACHINE_VIRT_H
#define MINNOW_MACHINE_VIRT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"
#include "devices/boot_timer.h"
#include "devices/guest_mem.h"
#include "machine/bus.h"
#include "machine/console_watch.h"
#include "machine/sbi.h"
#include "machine/virt_devices.h"
#include "util/errmsg.h"
#include "util/token_bucket.h"

#define VIRT_RAM_BASE 0x80000000ull
#define VIRT_ROM_BASE 0x1000ull
#define VIRT_ROM_SIZE 0x1000ull
#define VIRT_MAX_HARTS 16u
/* The kernel's 2 MiB-aligned base in firmware boot (OpenSBI keeps the
 * first 2 MiB of RAM). */
#define VIRT_FW_KERNEL_OFFSET 0x200000ull

struct virt_config {
    unsigned nharts;          /* 1..VIRT_MAX_HARTS */
    uint64_t mem_size;        /* bytes, multiple of 4 KiB */
    const char *kernel;       /* Linux Image or RISC-V ELF (required) */
    const char *initrd;       /* NULL: none */
    const char *bootargs;     /* NULL: none */
    const char *firmware;     /* NULL: direct boot with minnow's SBI */
    enum hart_engine engine;  /* what runs the harts */
    /* Paravirtual devices, one virtio-mmio slot each, in this order. */
    const struct virt_device_config *devices;
    unsigned ndevices;
    /* Restoring (a snapshot, or a VM migrating in): nothing is loaded into
     * RAM and kernel, initrd and firmware are not needed; virt_load then
     * sets the state. RAM is mapped privately from the memory file
     * restore_mem (its first mem_size bytes, from restore_mem_fd, which
     * the caller opened and checked, and closes), or is zeroed anonymous
     * memory when it is NULL (the pages arrive over the migration
     * stream). */
    int restore;
    const char *restore_mem;
    int restore_mem_fd;
    /* Console output (UART and SBI console), never NULL. */
    void (*console_out)(void *opaque, const uint8_t *buf, size_t n);
    void *console_opaque;
    /* Non-NULL: the board maps Firecracker's boot timer
     * (devices/boot_timer.h) and calls this, on the writing vCPU's
     * thread, each time the guest signals that it has booted. */
    void (*boot_timer)(void *opaque);
    void *boot_timer_opaque;
};

enum virt_end {
    VIRT_RUNNING,
    VIRT_POWEROFF,        /* syscon 0x5555 or SBI shutdown */
    VIRT_FAIL,            /* syscon (code << 16) | 0x3333, or SBI shutdown with system failure */
    VIRT_REBOOT,          /* syscon 0x7777 or SBI reboot */
    VIRT_PANIC,           /* "Kernel panic - not syncing" on the console */
    VIRT_CRASH,           /* a hart cannot make progress (see end_hart) */
    VIRT_STOPPED,         /* the host asked (Ctrl-A x, a signal) */
    VIRT_MIGRATED,        /* the VM runs on elsewhere now (vmm/migration.h) */
    VIRT_MEM_LOST,        /* the memory file backing RAM changed under the VM (ram_lost) */
};

struct uart;
struct plic;
struct clint;
struct rtc;
struct syscon;
struct virtio_input;

struct virt;

struct virt_hart {
    struct virt *v;
    unsigned id;
    struct hart *hart;
    /* SBI HSM state (enum sbi_hart_state) and where a started hart
     * begins; guarded by virt.lock, waited on with virt.cond. */
    int state;
    uint64_t start_addr, start_arg;
    int restored;             /* started, with its state from a snapshot: run it without a reset */
};

struct virt {
    struct virt_config cfg;
    struct guest_mem ram;
    struct bus bus;
    uint8_t rom[VIRT_ROM_SIZE];
    struct uart *uart;
    struct plic *plic;
    struct clint *clint;
    struct rtc *rtc;
    struct syscon *syscon;
    struct boot_timer boot_timer;  /* mapped only with cfg.boot_timer */
    struct sbi sbi;
    struct console_watch watch;
    unsigned nharts;
    struct virt_hart harts[VIRT_MAX_HARTS];
    struct virt_device devices[VIRT_MAX_DEVICES];
    unsigned ndevices;
    /* The board's keyboard, in its own slot (virt_devices.h). */
    struct virtio_input *keyboard;
    /* What the I/O thread must watch (virt_devices.c fills it). */
    struct virt_io_fd io_fds[VIRT_MAX_IO_FDS];
    unsigned n_io_fds;

    uint64_t kernel_entry, fdt_addr, initrd_start, initrd_end;
    uint8_t fdt[64 * 1024];
    size_t fdt_size;

    /* lock guards the HSM states, end_code and panic_deadline; cond
     * announces HSM changes and the end of the run. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int end;          /* enum virt_end */
    uint32_t end_code;        /* VIRT_FAIL: the guest's code; VIRT_CRASH: the hart */
    uint64_t panic_deadline;  /* CLOCK_MONOTONIC ns; 0: no panic seen */
    pthread_mutex_t console_lock; /* serialises console output and the watch */
    /* Firecracker's serial rate limiter (PUT /serial rate_limiter), under
     * console_lock: what the bucket cannot pay for is dropped, counted in
     * console_dropped. */
    struct token_bucket console_limit;
    _Atomic uint64_t console_dropped;
};

/* Builds the board and loads the kernel, initrd and firmware. Errors name
 * the file or setting that was wrong (missing, not a kernel, does not fit
 * in RAM...). */
int virt_create(struct virt **out, const struct virt_config *cfg, struct errmsg *e);
void virt_destroy(struct virt *v);

/* Writes the FDT the guest gets to `path`. */
int virt_dump_dtb(const struct virt *v, const char *path, struct errmsg *e);

/* On hart i's thread: blocks until the hart is started (at once for the
 * boot hart) or restored. Returns 0 to run it, -1 when the machine has
 * ended. The thread then enters the guest (which a pause may delay) and
 * calls virt_hart_begin before each vcpu_run: the first one after a start
 * resets the hart to its start state (while the VM cannot be paused, so a
 * snapshot never sees a half-reset hart); later ones do nothing. */
int virt_hart_wait_start(struct virt *v, unsigned i);
void virt_hart_begin(struct virt *v, unsigned i);
/* On hart i's thread after its vCPU loop returned VCPU_END_STOP: 1 if the
 * hart only stopped itself (SBI HSM hart_stop) and may be started again. */
int virt_hart_stopped_itself(struct virt *v, unsigned i);

/* Ends the run with `why` (the first caller wins) and stops every hart. */
void virt_finish(struct virt *v, enum virt_end why, uint32_t code);
enum virt_end virt_end_reason(struct virt *v);

/* Blocks until until_ns (CLOCK_MONOTONIC; UINT64_MAX: no limit), an HSM
 * change or the end of the run, whichever is first. */
void virt_wait(struct virt *v, uint64_t until_ns);

/* Guest console output (UART and SBI console): to the host and the panic
 * watch. Any thread. The panic watch sees every byte; the host only what
 * the console limiter lets through. */
void virt_console_write(struct virt *v, const uint8_t *buf, size_t n);

/* Limits the console output to the host as Firecracker's serial
 * rate_limiter does: a write the bucket cannot pay for at once (or larger
 * than the bucket) is dropped, not delayed, so a chatty guest never waits
 * on its console. cfg NULL or size 0: no limit. Any thread. */
void virt_set_console_limit(struct virt *v, const struct token_bucket_config *cfg);
/* Bytes dropped by the console limiter since the board was created. */
uint64_t virt_console_dropped(struct virt *v);

/* Host input for the guest console (fits struct term_ops.input). */
size_t virt_console_input(void *opaque, const uint8_t *buf, size_t n);

/* Time-driven device work (the RTC alarm): the CLOCK_MONOTONIC ns at which
 * virt_poll_timers should run next (UINT64_MAX: nothing armed). */
uint64_t virt_next_timer(struct virt *v);
void virt_poll_timers(struct virt *v);

#endif
