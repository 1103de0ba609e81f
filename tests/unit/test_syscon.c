/* Unit tests for devices/syscon: each sifive,test command reaches the
 * board's callback; everything else is ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "devices/syscon.h"

struct fixture {
    struct syscon *s;
    int calls;
    enum syscon_request req;
    uint32_t code;
};

static void request(void *opaque, enum syscon_request req, uint32_t code)
{
    struct fixture *f = opaque;
    f->calls++;
    f->req = req;
    f->code = code;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct syscon_ops ops = {.request = request, .opaque = f};
    struct errmsg e;
    assert_int_equal(syscon_create(&f->s, &ops, &e), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    syscon_destroy(f->s);
    free(f);
    return 0;
}

static void commands_are_reported(void **state)
{
    struct fixture *f = *state;
    syscon_mmio_ops.write(f->s, 0, 0x5555, 4);
    assert_int_equal(f->calls, 1);
    assert_int_equal(f->req, SYSCON_POWEROFF);
    assert_int_equal(f->code, 0);
    syscon_mmio_ops.write(f->s, 0, 0x7777, 4);
    assert_int_equal(f->calls, 2);
    assert_int_equal(f->req, SYSCON_REBOOT);
    syscon_mmio_ops.write(f->s, 0, (42u << 16) | 0x3333, 4);
    assert_int_equal(f->calls, 3);
    assert_int_equal(f->req, SYSCON_FAIL);
    assert_int_equal(f->code, 42);
    syscon_mmio_ops.write(f->s, 0, 0xffff3333u, 4);
    assert_int_equal(f->code, 0xffff);
    /* A 16-bit store carries the command too (code 0). */
    syscon_mmio_ops.write(f->s, 0, 0x5555, 2);
    assert_int_equal(f->calls, 5);
    assert_int_equal(f->req, SYSCON_POWEROFF);
}

static void other_writes_are_ignored(void **state)
{
    struct fixture *f = *state;
    syscon_mmio_ops.write(f->s, 0, 0, 4);
    syscon_mmio_ops.write(f->s, 0, 0x1234, 4);
    syscon_mmio_ops.write(f->s, 0, 0x5556, 4);
    syscon_mmio_ops.write(f->s, 0, 0x55, 1);     /* a byte cannot hold a command */
    syscon_mmio_ops.write(f->s, 4, 0x5555, 4);   /* only offset 0 */
    syscon_mmio_ops.write(f->s, 0xffc, 0x7777, 4);
    syscon_mmio_ops.write(f->s, ~0ull, 0x7777, 4);
    assert_int_equal(f->calls, 0);
    assert_int_equal(syscon_mmio_ops.read(f->s, 0, 4), 0);
}

static void no_callback_is_safe(void **state)
{
    (void)state;
    struct syscon *s;
    assert_int_equal(syscon_create(&s, NULL, NULL), 0);
    syscon_mmio_ops.write(s, 0, 0x5555, 4);
    syscon_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(commands_are_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(other_writes_are_ignored, setup, teardown),
        cmocka_unit_test(no_callback_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
