/* A 16550A UART, the guest's serial console (QEMU virt: 0x10000000, PLIC
 * source 10, FDT compatible "ns16550a"). Transmitted bytes go to an output
 * callback the board supplies (normally the host terminal); received bytes
 * come in through uart_receive from the board's input thread, with
 * back-pressure instead of loss. The register semantics are the ones
 * Linux's 8250 driver relies on: IIR priorities, THRE interrupt re-armed
 * when ETBEI is enabled with the transmitter empty, DLAB-switched divisor
 * latch, loopback with the modem lines folded back into MSR.
 *
 * Transmission is instantaneous, so THR is always empty (LSR.THRE and TEMT
 * read 1) and the THRE interrupt re-arms right after each THR write.
 *
 * Locking: every entry point takes the UART's mutex. The output callback
 * and the interrupt line are called with it held, so neither may call back
 * into this UART; the lock order is uart -> irq controller -> hart. */
#ifndef MINNOW_DEVICES_UART_H
#define MINNOW_DEVICES_UART_H

#include <stddef.h>
#include <stdint.h>

#include "devices/mmio.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define UART_BASE 0x10000000ull
#define UART_MMIO_SIZE 0x100ull
#define UART_IRQ 10u
/* Input clock advertised in the FDT (clock-frequency); only the guest's
 * baud-rate arithmetic uses it. */
#define UART_CLOCK_HZ 3686400u
/* Receive FIFO depth, as on a real 16550A (the trigger levels 1/4/8/14 in
 * FCR are relative to it). */
#define UART_FIFO_SIZE 16u

struct uart_ops {
    /* Bytes the guest transmitted (one at a time today). Called with the
     * UART lock held: must not call into this UART. May be NULL. */
    void (*out)(void *opaque, const uint8_t *buf, size_t n);
    void *opaque;
};

struct uart;

/* irq: the line to the interrupt controller (PLIC source UART_IRQ on the
 * board); may be NULL for a UART without one. Both structs are copied. */
int uart_create(struct uart **out, const struct uart_ops *ops, const struct irq_line *irq,
                struct errmsg *e);
void uart_destroy(struct uart *u);

/* Offers host input to the guest. Returns how many bytes were accepted
 * (0 when the receive FIFO is full or the UART is in loopback, where the
 * serial input is disconnected); the caller retries the rest later. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n);
/* uart_receive with an opaque pointer: fits struct term_ops.input. */
size_t uart_input(void *opaque, const uint8_t *buf, size_t n);

/* Snapshot: the registers, the interrupt state and the receive FIFO's
 * bytes. load (on a UART just created, before the VM runs) refuses
 * values the register file could never hold, and drives the irq line to
 * the restored level. */
int uart_save(struct uart *u, struct snap_writer *w);
int uart_load(struct uart *u, struct snap_reader *r, struct errmsg *e);

/* Map with opaque = the struct uart, size UART_MMIO_SIZE. */
extern const struct mmio_ops uart_mmio_ops;

#endif
