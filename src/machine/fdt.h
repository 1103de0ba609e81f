/* The flattened device tree minnow hands the guest (a1 at boot): the board
 * of DESIGN.md described the way QEMU's virt machine describes itself, so
 * stock Linux, OpenSBI and U-Boot bind their drivers: /cpus with one cpu@N
 * per hart (riscv,isa and riscv,isa-extensions from the list the hart
 * really implements, mmu-type, a riscv,cpu-intc child), /memory, /chosen
 * (bootargs, stdout-path, initrd, rng-seed), and under /soc the CLINT,
 * PLIC, UART, goldfish RTC, sifive,test syscon with its poweroff/reboot
 * nodes and one virtio,mmio node per populated slot (the keyboard's
 * included).
 *
 * Phandles are fixed so the blob is reproducible: FDT_PHANDLE_PLIC,
 * FDT_PHANDLE_TEST, and for hart h cpu 3 + 2h and its intc 4 + 2h. */
#ifndef MINNOW_MACHINE_FDT_H
#define MINNOW_MACHINE_FDT_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define FDT_MAX_HARTS 16u
/* virtio-mmio slots: slot n at FDT_VIRTIO_BASE + n * FDT_VIRTIO_STRIDE
 * (one contiguous run, 0x1000_1000 to 0x1002_1fff), PLIC source
 * fdt_virtio_irq(n). Slots 0-7 are QEMU virt's eight, on sources 1-8, and
 * hold the first eight devices the configuration lists; slot 8 is the
 * board's own virtio keyboard (source 9), so adding it moved none of
 * those; slots 9-32 hold the configuration's devices 8-31, on sources 12
 * up (10 and 11 are the UART's and the RTC's). fdt_virtio_user_slot maps a
 * device's index in the configuration to its slot. */
#define FDT_VIRTIO_SLOTS 33u
#define FDT_VIRTIO_USER_SLOTS 32u
#define FDT_VIRTIO_KEYBOARD_SLOT 8u
#define FDT_VIRTIO_BASE 0x10001000ull
#define FDT_VIRTIO_STRIDE 0x1000ull
#define FDT_VIRTIO_IRQ0 1u
/* The first source of slots 9 up: after the UART's (10) and RTC's (11). */
#define FDT_VIRTIO_HIGH_IRQ0 12u

static inline unsigned fdt_virtio_user_slot(unsigned device)
{
    return device < FDT_VIRTIO_KEYBOARD_SLOT ? device : device + 1;
}

static inline unsigned fdt_virtio_irq(unsigned slot)
{
    return slot <= FDT_VIRTIO_KEYBOARD_SLOT ? FDT_VIRTIO_IRQ0 + slot
                                            : FDT_VIRTIO_HIGH_IRQ0 + (slot - FDT_VIRTIO_KEYBOARD_SLOT - 1);
}

static inline uint64_t fdt_virtio_base(unsigned slot)
{
    return FDT_VIRTIO_BASE + slot * FDT_VIRTIO_STRIDE;
}

#define FDT_PHANDLE_PLIC 1u
#define FDT_PHANDLE_TEST 2u
#define FDT_PHANDLE_CPU(h) (3u + 2u * (h))
#define FDT_PHANDLE_INTC(h) (4u + 2u * (h))

struct fdt_config {
    unsigned nharts;                 /* 1..FDT_MAX_HARTS */
    uint64_t ram_base, ram_size;
    const char *bootargs;            /* NULL: no bootargs property */
    int has_initrd;                  /* initrd in [initrd_start, initrd_end) */
    uint64_t initrd_start, initrd_end;
    /* ISA extension names in lower case, e.g. "i", "m", "a", "f", "d",
     * "c", "zicsr", "zifencei", "sstc". Must include "i". Single letters
     * are put in canonical order; the others keep the order given. */
    const char *const *isa_extensions;
    unsigned n_isa_extensions;
    const char *mmu_type;            /* NULL: "riscv,sv57" */
    uint64_t virtio_slots;           /* bit n set: slot n is populated */
    uint32_t timebase_hz;            /* 0: 10 MHz (the CLINT's) */
    /* Block sizes Linux needs with Zicbom/Zicboz; 0: 64 bytes. Emitted only
     * when the extension is listed. */
    uint32_t cbom_block_size, cboz_block_size;
    const uint8_t *rng_seed;         /* NULL: no /chosen/rng-seed */
    size_t rng_seed_len;
    /* The SBI in front of the kernel offers SRST (minnow's own does):
     * /poweroff is written with status "disabled". Linux registers SBI
     * power-off first and would otherwise fail the syscon-poweroff probe
     * with -EBUSY on every boot. Firmware that reads the tree (OpenSBI)
     * gets the node enabled. */
    int sbi_has_srst;
};

/* Writes the blob into buf[0, bufsize) and its size into *size. Fails with
 * a message naming the bad field (hart count, RAM, initrd, an extension
 * name) or saying the buffer is too small. */
int fdt_build(const struct fdt_config *cfg, void *buf, size_t bufsize, size_t *size,
              struct errmsg *e);

#endif
