/* Unit tests for util/errmsg. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/errmsg.h"

static void formats_and_returns_code(void **state)
{
    (void)state;
    struct errmsg e;
    assert_int_equal(errmsg_set(&e, -EINVAL, "--cpus %d: expected 1 to %d", 0, 16), -EINVAL);
    assert_string_equal(e.text, "--cpus 0: expected 1 to 16");
}

static void null_message_is_allowed(void **state)
{
    (void)state;
    assert_int_equal(errmsg_set(NULL, -ENOENT, "x"), -ENOENT);
}

static void long_message_is_truncated(void **state)
{
    (void)state;
    struct errmsg e;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    errmsg_set(&e, -1, "%s", big);
    assert_int_equal(strlen(e.text), sizeof e.text - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_and_returns_code),
        cmocka_unit_test(null_message_is_allowed),
        cmocka_unit_test(long_message_is_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
