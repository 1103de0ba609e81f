/* The bare-metal machine behind `minnow run --bios PROGRAM`: RAM at
 * 0x80000000, one hart starting in M-mode at the program's entry (a0 = 0,
 * a1 = 0), and the ways a test program reports: HTIF through its `tohost`
 * symbol, the sifive,test syscon at 0x100000 (0x5555 pass,
 * (code << 16) | 0x3333 fail, 0x7777 reset) and the 16550 UART transmit
 * register at 0x10000000, the last two as on QEMU's virt board so the same
 * program runs under `qemu-system-riscv64 -machine virt -bios none`. */
#ifndef MINNOW_MACHINE_BAREMETAL_H
#define MINNOW_MACHINE_BAREMETAL_H

#include <stddef.h>
#include <stdint.h>

#include "cpu/hart.h"
#include "devices/guest_mem.h"
#include "machine/bus.h"
#include "machine/htif.h"
#include "util/errmsg.h"

#define BAREMETAL_RAM_BASE 0x80000000ull

enum baremetal_status {
    BAREMETAL_RUNNING,
    BAREMETAL_PASS,       /* tohost 1, syscon 0x5555 */
    BAREMETAL_FAIL,       /* tohost (code << 1) | 1, syscon (code << 16) | 0x3333 */
    BAREMETAL_RESET,      /* syscon 0x7777: no reboot in bare-metal mode, so the run ends */
    BAREMETAL_BAD_HTIF,   /* a tohost command we do not implement */
};

struct baremetal_config {
    const char *program;
    uint64_t mem_size;
    enum hart_engine engine;
    /* Where the program's console output goes. */
    void (*out)(void *opaque, const uint8_t *buf, size_t n);
    void *out_opaque;
};

struct baremetal {
    struct guest_mem ram;
    struct bus bus;
    struct htif htif;
    int has_htif;
    struct hart *hart;
    struct uart *uart;
    struct syscon *syscon;
    enum baremetal_status status;
    uint64_t code;        /* BAREMETAL_FAIL: the program's code; BAD_HTIF: the command */
    uint64_t entry;
    void (*out)(void *opaque, const uint8_t *buf, size_t n);
    void *out_opaque;
};

int baremetal_create(struct baremetal **out, const struct baremetal_config *cfg, struct errmsg *e);
void baremetal_destroy(struct baremetal *m);

/* Call between hart_run slices: finishes HTIF commands written as a
 * single low word. opaque is the struct baremetal. */
void baremetal_poll(void *opaque);

#endif
