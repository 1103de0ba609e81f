/* Unit tests for api/api_http_head: the body limit is Firecracker's 400
 * with its sentence (not 413), at whatever limit the server was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "api/api_http_head.h"

static unsigned check(const char *head, uint64_t max, struct api_http_head *h, char *msg, size_t n)
{
    msg[0] = 0;
    return api_http_head_check(head, strlen(head), max, h, msg, n);
}

static void test_limit(void **state)
{
    (void)state;
    struct api_http_head h;
    char msg[256];
    assert_int_equal(check("PUT /mmds HTTP/1.1\r\nContent-Length: 51200\r\n\r\n", 51200, &h, msg, sizeof msg), 0);
    assert_int_equal(h.content_length, 51200);
    assert_int_equal(check("PUT /mmds HTTP/1.1\r\nContent-Length: 51201\r\n\r\n", 51200, &h, msg, sizeof msg), 400);
    assert_string_equal(msg, "Request payload with size 51201 is larger than the limit of 51200 allowed by server.");
    /* --http-api-max-payload-size 10 */
    assert_int_equal(check("PUT /vm HTTP/1.1\r\nContent-Length: 10\r\n\r\n", 10, &h, msg, sizeof msg), 0);
    assert_int_equal(check("PUT /vm HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 10, &h, msg, sizeof msg), 400);
    assert_string_equal(msg, "Request payload with size 11 is larger than the limit of 10 allowed by server.");
    assert_int_equal(check("GET / HTTP/1.1\r\n\r\n", 10, &h, msg, sizeof msg), 0);
    assert_int_equal(h.content_length, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
