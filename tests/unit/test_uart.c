/* Unit tests for devices/uart: the 16550A register behaviour Linux's 8250
 * driver depends on, driven through the MMIO ops as a guest would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "devices/uart.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct fixture {
    struct uart *u;
    uint8_t out[256];
    size_t nout;
    int irq;          /* current line level */
    int irq_calls;
};

static void out_cb(void *opaque, const uint8_t *buf, size_t n)
{
    struct fixture *f = opaque;
    for (size_t i = 0; i < n && f->nout < sizeof f->out; i++)
        f->out[f->nout++] = buf[i];
}

static void irq_cb(void *opaque, unsigned source, int level)
{
    struct fixture *f = opaque;
    assert_int_equal(source, UART_IRQ);
    f->irq = level;
    f->irq_calls++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct uart_ops ops = {.out = out_cb, .opaque = f};
    struct irq_line irq = {.set = irq_cb, .opaque = f, .source = UART_IRQ};
    struct errmsg e;
    assert_int_equal(uart_create(&f->u, &ops, &irq, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    uart_destroy(f->u);
    free(f);
    return 0;
}

static uint8_t rd(struct fixture *f, unsigned reg)
{
    return (uint8_t)uart_mmio_ops.read(f->u, reg, 1);
}

static void wr(struct fixture *f, unsigned reg, uint8_t v)
{
    uart_mmio_ops.write(f->u, reg, v, 1);
}

static void tx_reaches_callback(void **state)
{
    struct fixture *f = *state;
    const char *msg = "hello\n";
    for (const char *p = msg; *p; p++) {
        assert_true(rd(f, LSR) & 0x20);   /* THRE: the guest may write */
        wr(f, THR, (uint8_t)*p);
    }
    assert_int_equal(f->nout, strlen(msg));
    assert_memory_equal(f->out, msg, strlen(msg));
    assert_int_equal(rd(f, LSR) & 0x60, 0x60);   /* THRE and TEMT */
}

static void rx_fifo_fills_and_drains(void **state)
{
    struct fixture *f = *state;
    wr(f, FCR, 0x01);   /* FIFO on, trigger 1 */
    assert_false(rd(f, LSR) & 0x01);
    uint8_t in[40];
    for (unsigned i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)('a' + i % 26);
    /* Back-pressure, not loss: only what fits is taken. */
    assert_int_equal(uart_receive(f->u, in, sizeof in), UART_FIFO_SIZE);
    assert_int_equal(uart_receive(f->u, in, 1), 0);
    assert_true(rd(f, LSR) & 0x01);
    assert_false(rd(f, LSR) & 0x02);   /* host input never overruns */
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        assert_int_equal(rd(f, RBR), in[i]);
    assert_false(rd(f, LSR) & 0x01);
    /* Room again: the rest comes in order. */
    assert_int_equal(uart_receive(f->u, in + UART_FIFO_SIZE, 2), 2);
    assert_int_equal(rd(f, RBR), in[UART_FIFO_SIZE]);
    assert_int_equal(rd(f, RBR), in[UART_FIFO_SIZE + 1]);
}

static void fifo_off_holds_one_byte(void **state)
{
    struct fixture *f = *state;
    const uint8_t in[2] = {'x', 'y'};
    assert_int_equal(uart_receive(f->u, in, 2), 1);
    assert_int_equal(rd(f, IIR) & 0xc0, 0);   /* FIFO bits clear */
    wr(f, FCR, 0x01);
    assert_int_equal(rd(f, IIR) & 0xc0, 0xc0);
    assert_false(rd(f, LSR) & 0x01);           /* enabling the FIFO reset it */
    assert_int_equal(uart_receive(f->u, in, 2), 2);
    wr(f, FCR, 0x03);                           /* clear RX */
    assert_false(rd(f, LSR) & 0x01);
}

static void loopback_and_overrun(void **state)
{
    struct fixture *f = *state;
    wr(f, FCR, 0x01);
    wr(f, MCR, 0x10 | 0x0a);   /* LOOP | OUT2 | RTS: Linux's autoconfig probe */
    assert_int_equal(rd(f, MSR) & 0xf0, 0x90);   /* DCD (OUT2) and CTS (RTS) */
    wr(f, MCR, 0x10 | 0x05);   /* LOOP | OUT1 | DTR */
    assert_int_equal(rd(f, MSR) & 0xf0, 0x60);   /* RI (OUT1) and DSR (DTR) */
    /* Host input is disconnected in loopback, and not lost. */
    const uint8_t b = 'h';
    assert_int_equal(uart_receive(f->u, &b, 1), 0);
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        wr(f, THR, (uint8_t)i);
    assert_int_equal(f->nout, 0);              /* nothing reached the host */
    assert_int_equal(rd(f, LSR) & 0x03, 0x01);
    wr(f, THR, 0xee);                          /* one too many */
    uint8_t lsr = rd(f, LSR);
    assert_true(lsr & 0x02);                   /* OE */
    assert_false(rd(f, LSR) & 0x02);           /* cleared by the read */
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        assert_int_equal(rd(f, RBR), i);
    wr(f, MCR, 0x0b);                          /* out of loopback */
    assert_int_equal(rd(f, MSR) & 0xf0, 0xb0); /* the always-there terminal */
    wr(f, THR, 'z');
    assert_int_equal(f->nout, 1);
    assert_int_equal(uart_receive(f->u, &b, 1), 1);
}

static void dlab_divisor_does_not_touch_thr_or_ier(void **state)
{
    struct fixture *f = *state;
    wr(f, IER, 0x05);
    wr(f, LCR, 0x83);          /* DLAB, 8N1 */
    wr(f, DLL, 0x01);
    wr(f, DLM, 0x02);
    assert_int_equal(f->nout, 0);   /* the divisor write was not transmitted */
    assert_int_equal(rd(f, DLL), 0x01);
    assert_int_equal(rd(f, DLM), 0x02);
    const uint8_t b = 'q';
    assert_int_equal(uart_receive(f->u, &b, 1), 1);
    assert_int_equal(rd(f, DLL), 0x01);   /* reading DLL did not pop the byte */
    wr(f, LCR, 0x03);
    assert_int_equal(rd(f, LCR), 0x03);
    assert_int_equal(rd(f, IER), 0x05);
    assert_int_equal(rd(f, RBR), 'q');
    wr(f, THR, 'w');
    assert_int_equal(f->nout, 1);
    assert_int_equal(f->out[0], 'w');
}

static void ier_and_scratch(void **state)
{
    struct fixture *f = *state;
    wr(f, IER, 0xff);
    assert_int_equal(rd(f, IER), 0x0f);   /* autoconfig checks the top nibble reads 0 */
    wr(f, SCR, 0xa5);
    assert_int_equal(rd(f, SCR), 0xa5);
    /* Out-of-range offsets inside the window are harmless. */
    uart_mmio_ops.write(f->u, 0x40, 0xff, 1);
    assert_int_equal(uart_mmio_ops.read(f->u, 0xff, 1), 0);
}

static void thre_interrupt_semantics(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rd(f, IIR) & 0x0f, 0x01);   /* nothing pending */
    assert_int_equal(f->irq, 0);
    /* Enabling ETBEI with THR empty raises THRE... */
    wr(f, IER, 0x02);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
    /* ...reading IIR that reported it clears it... */
    assert_int_equal(f->irq, 0);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
    /* ...and toggling ETBEI re-arms it (Linux's UART_BUG_THRE probe). */
    wr(f, IER, 0x00);
    wr(f, IER, 0x02);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
    /* Rewriting IER with ETBEI already set is not an edge. */
    wr(f, IER, 0x02);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x01);
    /* A THR write re-arms it: the byte left at once. */
    wr(f, THR, 'a');
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x02);
    /* Disabling ETBEI drops the line. */
    wr(f, THR, 'b');
    assert_int_equal(f->irq, 1);
    wr(f, IER, 0x00);
    assert_int_equal(f->irq, 0);
}

static void iir_priorities(void **state)
{
    struct fixture *f = *state;
    wr(f, FCR, 0xc1);   /* FIFO on, trigger 14 */
    wr(f, IER, 0x0f);   /* everything; arms THRE */
    wr(f, MCR, 0x10);   /* loopback, then out: modem lines change */
    wr(f, MCR, 0x00);
    /* Fill past the FIFO to overrun: line status outranks all. */
    for (unsigned i = 0; i < UART_FIFO_SIZE + 1; i++) {
        wr(f, MCR, 0x10);
        wr(f, THR, (uint8_t)i);
    }
    wr(f, MCR, 0x00);
    assert_int_equal(rd(f, IIR), 0xc6);   /* RLS, FIFO bits set */
    assert_int_equal(f->irq, 1);
    (void)rd(f, LSR);                      /* clears OE */
    assert_int_equal(rd(f, IIR), 0xc4);   /* 16 bytes >= trigger 14: RX data */
    for (unsigned i = 0; i < 3; i++)
        (void)rd(f, RBR);
    assert_int_equal(rd(f, IIR), 0xcc);   /* below the trigger: timeout */
    while (rd(f, LSR) & 0x01)
        (void)rd(f, RBR);
    /* RX data hid THRE; it is still armed. */
    assert_int_equal(rd(f, IIR), 0xc2);
    assert_int_equal(rd(f, IIR), 0xc0);   /* THRE acknowledged; modem status next */
    assert_int_equal(f->irq, 1);
    uint8_t msr = rd(f, MSR);
    assert_true(msr & 0x0f);              /* deltas from the loopback switches */
    assert_int_equal(rd(f, MSR) & 0x0f, 0); /* cleared by reading */
    assert_int_equal(rd(f, IIR), 0xc1);
    assert_int_equal(f->irq, 0);
}

static void rx_irq_follows_ier(void **state)
{
    struct fixture *f = *state;
    const uint8_t b = 'k';
    assert_int_equal(uart_receive(f->u, &b, 1), 1);
    assert_int_equal(f->irq, 0);          /* ERBFI off */
    wr(f, IER, 0x01);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, IIR) & 0x0f, 0x04);
    wr(f, IER, 0x00);
    assert_int_equal(f->irq, 0);
    wr(f, IER, 0x01);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, RBR), 'k');
    assert_int_equal(f->irq, 0);
    int calls = f->irq_calls;
    (void)rd(f, LSR);
    assert_int_equal(f->irq_calls, calls);   /* only changes are driven */
}

#define STRESS_BYTES 20000

static void *stress_input(void *arg)
{
    struct fixture *f = arg;
    for (unsigned i = 0; i < STRESS_BYTES; i++) {
        uint8_t b = (uint8_t)(i * 7);
        while (uart_receive(f->u, &b, 1) == 0)
            sched_yield();
    }
    return NULL;
}

static void *stress_output(void *arg)
{
    struct fixture *f = arg;
    for (unsigned i = 0; i < STRESS_BYTES; i++)
        wr(f, THR, 'o');
    return NULL;
}

/* The input thread, a transmitting vCPU and a receiving vCPU at once:
 * every typed byte arrives once and in order, nothing is lost. */
static void threads_lose_nothing(void **state)
{
    struct fixture *f = *state;
    wr(f, FCR, 0x01);
    wr(f, IER, 0x03);
    pthread_t in, out;
    assert_int_equal(pthread_create(&in, NULL, stress_input, f), 0);
    assert_int_equal(pthread_create(&out, NULL, stress_output, f), 0);
    for (unsigned got = 0; got < STRESS_BYTES;) {
        if (rd(f, LSR) & 0x01)
            assert_int_equal(rd(f, RBR), (uint8_t)(got++ * 7));
        else
            sched_yield();
    }
    pthread_join(in, NULL);
    pthread_join(out, NULL);
    assert_false(rd(f, LSR) & 0x03);
    assert_int_equal(f->nout, sizeof f->out);   /* the sink kept the first 256 */
}

/* A UART in a state worth saving: divisor, line settings, FIFO at
 * trigger 8 with 3 bytes in, interrupts enabled, an overrun seen in
 * loopback, modem deltas pending. */
static void busy_state(struct fixture *f)
{
    wr(f, LCR, 0x83);
    wr(f, DLL, 0x12);
    wr(f, DLM, 0x34);
    wr(f, LCR, 0x1b);
    wr(f, FCR, 0x81);
    wr(f, MCR, 0x1f);   /* loopback: fill the FIFO past full for an overrun */
    for (unsigned i = 0; i < UART_FIFO_SIZE + 1; i++)
        wr(f, THR, (uint8_t)i);
    for (unsigned i = 0; i < UART_FIFO_SIZE; i++)
        rd(f, RBR);
    wr(f, MCR, 0x0b);
    assert_int_equal(uart_receive(f->u, (const uint8_t *)"abc", 3), 3);
    wr(f, IER, 0x0f);
    wr(f, SCR, 0x5a);
}

/* Everything a guest can read, in an order that also consumes state
 * (LSR errors, MSR deltas, THRE, the FIFO). */
static void read_all(struct fixture *f, uint8_t out[16])
{
    unsigned k = 0;
    out[k++] = rd(f, IIR);
    out[k++] = rd(f, LSR);
    out[k++] = rd(f, IIR);
    out[k++] = rd(f, MSR);
    out[k++] = rd(f, IER);
    out[k++] = rd(f, LCR);
    out[k++] = rd(f, MCR);
    out[k++] = rd(f, SCR);
    for (unsigned i = 0; i < 3; i++)
        out[k++] = rd(f, RBR);
    out[k++] = rd(f, IIR);
    out[k++] = rd(f, LSR);
    wr(f, LCR, 0x9b);
    out[k++] = rd(f, DLL);
    out[k++] = rd(f, DLM);
    wr(f, LCR, 0x1b);
    out[k++] = (uint8_t)f->irq;
}

static void save(struct fixture *f, struct snap_writer *w)
{
    snapw_init(w);
    assert_int_equal(uart_save(f->u, w), 0);
}

static int load(struct fixture *f, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return uart_load(f->u, &r, e);
}

static void snapshot_roundtrip(void **state)
{
    struct fixture *f = *state;
    busy_state(f);
    assert_int_equal(f->irq, 1);
    struct snap_writer w;
    save(f, &w);
    void *st2;
    setup(&st2);
    struct fixture *g = st2;
    struct errmsg e = {{0}};
    if (load(g, w.buf, w.len, &e) < 0)
        fail_msg("uart_load: %s", e.text);
    /* The line was driven to the restored level. */
    assert_true(g->irq_calls > 0);
    assert_int_equal(g->irq, 1);
    uint8_t a[16], b[16];
    read_all(f, a);
    read_all(g, b);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(b[8], 'a');
    assert_int_equal(b[10], 'c');
    /* It goes on working: input, output. */
    assert_int_equal(uart_receive(g->u, (const uint8_t *)"z", 1), 1);
    assert_int_equal(rd(g, RBR), 'z');
    wr(g, THR, 'q');
    assert_int_equal(g->nout, 1);
    snapw_free(&w);
    teardown(&st2);
}

static void snapshot_refuses_bad_state(void **state)
{
    struct fixture *f = *state;
    busy_state(f);
    struct snap_writer w;
    save(f, &w);
    struct errmsg e;
    /* Every proper prefix is refused, and so is a trailing byte. */
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load(f, w.buf, n, &e), -EINVAL);
    uint8_t buf[64];
    assert_true(w.len < sizeof buf);
    memcpy(buf, w.buf, w.len);
    buf[w.len] = 0;
    assert_int_equal(load(f, buf, w.len + 1, &e), -EINVAL);
    static const struct { size_t off; uint8_t val; const char *msg; } bad[] = {
        {0, 2, "version 2"},
        {4, 0x1f, "IER 0x1f"},
        {6, 0x20, "MCR 0x20"},
        {7, 0x02, "FCR 0x02"},
        {7, 0x00, "3 bytes in the receive FIFO"},   /* FIFO off holds one */
        {11, 0x20, "LSR error bits"},
        {12, 0x10, "MSR delta"},
        {13, 2, "THRE"},
        {14, 17, "17 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(buf, w.buf, w.len);
        buf[bad[i].off] = bad[i].val;
        assert_int_equal(load(f, buf, w.len, &e), -EINVAL);
        if (!strstr(e.text, "uart: ") || !strstr(e.text, bad[i].msg))
            fail_msg("case %zu: message '%s' does not name '%s'", i, e.text, bad[i].msg);
    }
    snapw_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tx_reaches_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(rx_fifo_fills_and_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(fifo_off_holds_one_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(loopback_and_overrun, setup, teardown),
        cmocka_unit_test_setup_teardown(dlab_divisor_does_not_touch_thr_or_ier, setup, teardown),
        cmocka_unit_test_setup_teardown(ier_and_scratch, setup, teardown),
        cmocka_unit_test_setup_teardown(thre_interrupt_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(iir_priorities, setup, teardown),
        cmocka_unit_test_setup_teardown(rx_irq_follows_ier, setup, teardown),
        cmocka_unit_test_setup_teardown(threads_lose_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_refuses_bad_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
