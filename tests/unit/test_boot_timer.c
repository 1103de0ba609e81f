/* Unit tests for devices/boot_timer: only a byte store of 123 at offset 0
 * signals (as Firecracker's device), reads give 0; and the board maps it
 * at BOOT_TIMER_BASE only when asked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devices/boot_timer.h"
#include "machine/bus.h"

static void count(void *opaque)
{
    (*(unsigned *)opaque)++;
}

static void test_signal(void **state)
{
    (void)state;
    unsigned n = 0;
    struct boot_timer t = { count, &n };
    const struct mmio_ops *o = &boot_timer_mmio_ops;
    o->write(&t, 0, 123, 1);
    assert_int_equal(n, 1);
    o->write(&t, 0, 123, 1);   /* every signal, as Firecracker logs each */
    assert_int_equal(n, 2);
    o->write(&t, 0, 122, 1);
    o->write(&t, 1, 123, 1);
    o->write(&t, 0, 123, 4);
    o->write(&t, 0, 123, 2);
    o->write(&t, 0xfff, 123, 1);
    assert_int_equal(n, 2);
    assert_int_equal(o->read(&t, 0, 1), 0);
    assert_int_equal(o->read(&t, 0, 8), 0);
    struct boot_timer none = { NULL, NULL };
    o->write(&none, 0, 123, 1);   /* no callback: nothing happens */
}

/* Through a bus, as a hart's store reaches it. */
static void test_on_bus(void **state)
{
    (void)state;
    unsigned n = 0;
    struct boot_timer t = { count, &n };
    struct guest_mem ram = { 0 };
    struct bus b;
    struct errmsg e = { "" };
    bus_init(&b, &ram);
    assert_int_equal(bus_map(&b, BOOT_TIMER_BASE, BOOT_TIMER_MMIO_SIZE, &boot_timer_mmio_ops, &t, "boot timer", &e), 0);
    assert_int_equal(bus_store(&b, BOOT_TIMER_BASE, 1, 123), 0);
    assert_int_equal(n, 1);
    uint64_t v = 1;
    assert_int_equal(bus_load(&b, BOOT_TIMER_BASE + 8, 4, &v), 0);
    assert_int_equal(v, 0);
    /* nothing past the page */
    assert_int_equal(bus_store(&b, BOOT_TIMER_BASE + BOOT_TIMER_MMIO_SIZE, 1, 123), -1);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal),
        cmocka_unit_test(test_on_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
