/* The 16550A UART's register file and interrupt logic. See uart.h. */
#include "devices/uart.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Register offsets (reg-shift 0, one byte each). */
enum {
    REG_RBR_THR_DLL = 0,
    REG_IER_DLM = 1,
    REG_IIR_FCR = 2,
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_ERBFI 0x01   /* received data available */
#define IER_ETBEI 0x02   /* transmitter holding register empty */
#define IER_ELSI 0x04    /* receiver line status */
#define IER_EDSSI 0x08   /* modem status */

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_TRIGGER 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

/* MSR: delta bits in the low nibble, line states in the high one. */
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

struct uart {
    pthread_mutex_t lock;
    struct uart_ops ops;
    struct irq_line irq;

    uint8_t rx[UART_FIFO_SIZE];
    unsigned rx_head, rx_count;

    uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
    uint8_t lsr_errors;   /* sticky OE/PE/FE/BI, cleared by reading LSR */
    uint8_t msr_delta;    /* DCTS/DDSR/TERI/DDCD, cleared by reading MSR */
    uint8_t msr_lines;    /* CTS/DSR/RI/DCD as the guest currently sees them */
    int thre_pending;     /* the THR-empty interrupt is armed */
    int irq_level;        /* what we last drove onto the line */
};

/* The modem inputs: with loopback the outputs are folded back as the
 * 16550A datasheet wires them; otherwise a terminal that is always there
 * (carrier, data set ready, clear to send) so drivers never wait on flow
 * control. */
static uint8_t modem_lines(const struct uart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_DCD | MSR_DSR | MSR_CTS;
    uint8_t l = 0;
    if (u->mcr & MCR_RTS)
        l |= MSR_CTS;
    if (u->mcr & MCR_DTR)
        l |= MSR_DSR;
    if (u->mcr & MCR_OUT1)
        l |= MSR_RI;
    if (u->mcr & MCR_OUT2)
        l |= MSR_DCD;
    return l;
}

static void update_modem(struct uart *u)
{
    uint8_t now = modem_lines(u), was = u->msr_lines;
    uint8_t changed = now ^ was;
    if (changed & MSR_CTS)
        u->msr_delta |= MSR_DCTS;
    if (changed & MSR_DSR)
        u->msr_delta |= MSR_DDSR;
    if ((was & MSR_RI) && !(now & MSR_RI))   /* trailing edge only */
        u->msr_delta |= MSR_TERI;
    if (changed & MSR_DCD)
        u->msr_delta |= MSR_DDCD;
    u->msr_lines = now;
}

static unsigned rx_trigger(const struct uart *u)
{
    static const unsigned levels[4] = {1, 4, 8, 14};
    if (!(u->fcr & FCR_ENABLE))
        return 1;
    return levels[(u->fcr & FCR_TRIGGER) >> 6];
}

/* With the FIFO off the 16550A has a one-byte holding register. */
static unsigned rx_capacity(const struct uart *u)
{
    return (u->fcr & FCR_ENABLE) ? UART_FIFO_SIZE : 1;
}

/* The interrupt IIR reports, by the 16550A's fixed priority. Data below
 * the trigger level is reported as a character timeout straight away: we
 * have no character timing, and Linux treats both the same way. */
static uint8_t pending_source(const struct uart *u)
{
    if ((u->ier & IER_ELSI) && u->lsr_errors)
        return IIR_RLS;
    if ((u->ier & IER_ERBFI) && u->rx_count)
        return u->rx_count >= rx_trigger(u) ? IIR_RDA : IIR_CTI;
    if ((u->ier & IER_ETBEI) && u->thre_pending)
        return IIR_THRE;
    if ((u->ier & IER_EDSSI) && u->msr_delta)
        return IIR_MSI;
    return IIR_NONE;
}

static void update_irq(struct uart *u)
{
    int level = pending_source(u) != IIR_NONE;
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_line_set(&u->irq, level);
    }
}

static void rx_clear(struct uart *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
}

/* Returns 0 when the FIFO is full. */
static int rx_push(struct uart *u, uint8_t byte)
{
    if (u->rx_count >= rx_capacity(u))
        return 0;
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
    u->rx_count++;
    return 1;
}

static uint8_t rx_pop(struct uart *u)
{
    if (!u->rx_count)
        return 0;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
    u->rx_count--;
    return b;
}

static void transmit(struct uart *u, uint8_t byte)
{
    if (u->mcr & MCR_LOOP) {
        /* The guest's own bytes: a full FIFO is a real overrun it caused. */
        if (!rx_push(u, byte))
            u->lsr_errors |= LSR_OE;
    } else if (u->ops.out) {
        u->ops.out(u->ops.opaque, &byte, 1);
    }
    /* Writing THR clears the THRE interrupt; the byte leaves at once, so
     * THR is empty again and the interrupt re-arms. */
    u->thre_pending = 1;
}

static void write_fcr(struct uart *u, uint8_t val)
{
    /* Changing the FIFO enable resets both FIFOs; the other bits only
     * take effect with the enable bit set (16550A datasheet, FCR). */
    if (!(val & FCR_ENABLE)) {
        if (u->fcr & FCR_ENABLE)
            rx_clear(u);
        u->fcr = 0;
        return;
    }
    if (!(u->fcr & FCR_ENABLE) || (val & FCR_CLEAR_RX))
        rx_clear(u);
    u->fcr = val & (FCR_ENABLE | FCR_TRIGGER);
}

static uint64_t uart_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)size;   /* reg-io-width 1: wider accesses read the one register */
    struct uart *u = opaque;
    if (offset >= 8)
        return 0;
    uint8_t v = 0;
    pthread_mutex_lock(&u->lock);
    switch (offset) {
    case REG_RBR_THR_DLL:
        v = (u->lcr & LCR_DLAB) ? u->dll : rx_pop(u);
        break;
    case REG_IER_DLM:
        v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
        break;
    case REG_IIR_FCR: {
        uint8_t src = pending_source(u);
        /* Reading IIR acknowledges a THRE interrupt it reports (and only
         * then: a higher-priority source hides it and it stays armed). */
        if (src == IIR_THRE)
            u->thre_pending = 0;
        v = src | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0);
        break;
    }
    case REG_LCR:
        v = u->lcr;
        break;
    case REG_MCR:
        v = u->mcr;
        break;
    case REG_LSR:
        v = (u->rx_count ? LSR_DR : 0) | u->lsr_errors | LSR_THRE | LSR_TEMT;
        u->lsr_errors = 0;
        break;
    case REG_MSR:
        v = u->msr_lines | u->msr_delta;
        u->msr_delta = 0;
        break;
    case REG_SCR:
        v = u->scr;
        break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

static void uart_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    (void)size;
    struct uart *u = opaque;
    if (offset >= 8)
        return;
    uint8_t v = (uint8_t)value;
    pthread_mutex_lock(&u->lock);
    switch (offset) {
    case REG_RBR_THR_DLL:
        if (u->lcr & LCR_DLAB)
            u->dll = v;
        else
            transmit(u, v);
        break;
    case REG_IER_DLM:
        if (u->lcr & LCR_DLAB) {
            u->dlm = v;
        } else {
            uint8_t old = u->ier;
            u->ier = v & 0x0f;
            /* Enabling ETBEI with THR empty raises THRE: Linux's startup
             * probe (UART_BUG_THRE) and its console write path count on it. */
            if (!(old & IER_ETBEI) && (u->ier & IER_ETBEI))
                u->thre_pending = 1;
        }
        break;
    case REG_IIR_FCR:
        write_fcr(u, v);
        break;
    case REG_LCR:
        u->lcr = v;
        break;
    case REG_MCR:
        u->mcr = v & MCR_MASK;
        update_modem(u);
        break;
    case REG_LSR:
    case REG_MSR:
        break;   /* read-only (factory test registers on real parts) */
    case REG_SCR:
        u->scr = v;
        break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

const struct mmio_ops uart_mmio_ops = {
    .read = uart_read,
    .write = uart_write,
};

int uart_create(struct uart **out, const struct uart_ops *ops, const struct irq_line *irq,
                struct errmsg *e)
{
    *out = NULL;
    struct uart *u = calloc(1, sizeof *u);
    if (!u)
        return errmsg_set(e, -ENOMEM, "uart: out of memory");
    int rc = pthread_mutex_init(&u->lock, NULL);
    if (rc) {
        free(u);
        return errmsg_set(e, -rc, "uart: cannot create its lock");
    }
    if (ops)
        u->ops = *ops;
    if (irq)
        u->irq = *irq;
    u->msr_lines = modem_lines(u);
    *out = u;
    return 0;
}

void uart_destroy(struct uart *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n)
{
    size_t took = 0;
    pthread_mutex_lock(&u->lock);
    /* In loopback the serial input is disconnected: hold the bytes back
     * (the caller retries) rather than drop them. */
    if (!(u->mcr & MCR_LOOP)) {
        while (took < n && rx_push(u, buf[took]))
            took++;
        update_irq(u);
    }
    pthread_mutex_unlock(&u->lock);
    return took;
}

size_t uart_input(void *opaque, const uint8_t *buf, size_t n)
{
    return uart_receive(opaque, buf, n);
}

#define SNAP_VERSION 1u

/* msr_lines is not saved: it always equals modem_lines() of the MCR. The
 * FIFO is saved as its bytes in order, not as the ring's position. */
int uart_save(struct uart *u, struct snap_writer *w)
{
    pthread_mutex_lock(&u->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u8(w, u->ier);
    snapw_u8(w, u->lcr);
    snapw_u8(w, u->mcr);
    snapw_u8(w, u->fcr);
    snapw_u8(w, u->scr);
    snapw_u8(w, u->dll);
    snapw_u8(w, u->dlm);
    snapw_u8(w, u->lsr_errors);
    snapw_u8(w, u->msr_delta);
    snapw_u8(w, (uint8_t)u->thre_pending);
    snapw_u8(w, (uint8_t)u->rx_count);
    for (unsigned i = 0; i < u->rx_count; i++)
        snapw_u8(w, u->rx[(u->rx_head + i) % UART_FIFO_SIZE]);
    pthread_mutex_unlock(&u->lock);
    return w->err;
}

int uart_load(struct uart *u, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "uart: state version %u, expected %u", version, SNAP_VERSION);
    struct uart n = {0};
    n.ier = snapr_u8(r);
    n.lcr = snapr_u8(r);
    n.mcr = snapr_u8(r);
    n.fcr = snapr_u8(r);
    n.scr = snapr_u8(r);
    n.dll = snapr_u8(r);
    n.dlm = snapr_u8(r);
    n.lsr_errors = snapr_u8(r);
    n.msr_delta = snapr_u8(r);
    uint8_t thre = snapr_u8(r);
    uint8_t count = snapr_u8(r);
    if (!r->err && count > rx_capacity(&n))
        return errmsg_set(e, -EINVAL, "uart: %u bytes in the receive FIFO, more than the %u it holds with FCR 0x%02x",
                          count, rx_capacity(&n), n.fcr);
    snapr_bytes(r, n.rx, count);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "uart: state is truncated or malformed (read %zu of %zu bytes)", r->pos, r->len);
    if (n.ier & ~0x0fu)
        return errmsg_set(e, -EINVAL, "uart: IER 0x%02x has bits above the four interrupt enables", n.ier);
    if (n.mcr & ~MCR_MASK)
        return errmsg_set(e, -EINVAL, "uart: MCR 0x%02x has bits outside 0x%02x", n.mcr, MCR_MASK);
    /* write_fcr keeps only the enable and trigger bits, and none at all
     * with the FIFO off. */
    if ((n.fcr & ~(FCR_ENABLE | FCR_TRIGGER)) || (n.fcr && !(n.fcr & FCR_ENABLE)))
        return errmsg_set(e, -EINVAL, "uart: FCR 0x%02x is not a value the FIFO control keeps", n.fcr);
    if (n.lsr_errors & ~LSR_ERRORS)
        return errmsg_set(e, -EINVAL, "uart: LSR error bits 0x%02x include non-error bits", n.lsr_errors);
    if (n.msr_delta & 0xf0u)
        return errmsg_set(e, -EINVAL, "uart: MSR delta bits 0x%02x include line-state bits", n.msr_delta);
    if (thre > 1)
        return errmsg_set(e, -EINVAL, "uart: THRE interrupt pending is %u, expected 0 or 1", thre);

    pthread_mutex_lock(&u->lock);
    u->ier = n.ier;
    u->lcr = n.lcr;
    u->mcr = n.mcr;
    u->fcr = n.fcr;
    u->scr = n.scr;
    u->dll = n.dll;
    u->dlm = n.dlm;
    u->lsr_errors = n.lsr_errors;
    u->msr_delta = n.msr_delta;
    u->msr_lines = modem_lines(u);
    u->thre_pending = thre;
    memcpy(u->rx, n.rx, sizeof u->rx);
    u->rx_head = 0;
    u->rx_count = count;
    /* Drive the line whatever we drove before: the interrupt controller
     * is restored on its own and must hear the level. */
    u->irq_level = pending_source(u) != IIR_NONE;
    irq_line_set(&u->irq, u->irq_level);
    pthread_mutex_unlock(&u->lock);
    return 0;
}
