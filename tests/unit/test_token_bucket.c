/* Unit tests for util/token_bucket and util/rate_limiter, on a clock the
 * test moves by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/rate_limiter.h"
#include "util/token_bucket.h"

#define MS 1000000ull
#define T0 (1000 * MS)   /* any start time */

static void bucket(struct token_bucket *b, uint64_t size, uint64_t burst, uint64_t refill_ms)
{
    struct token_bucket_config c = { .size = size, .one_time_burst = burst, .refill_time_ms = refill_ms };
    token_bucket_init(b, &c, T0);
}

static void consumes_until_empty(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 1000, 0, 1000);   /* 1 token per ms */
    assert_true(token_bucket_consume(&b, 600, T0, NULL));
    assert_true(token_bucket_consume(&b, 400, T0, NULL));
    uint64_t wait = 0;
    assert_false(token_bucket_consume(&b, 1, T0, &wait));
    assert_int_equal(wait, 1 * MS);
    assert_false(token_bucket_consume(&b, 10, T0, &wait));
    assert_int_equal(wait, 10 * MS);
}

static void refills_over_time_up_to_size(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 1000, 0, 1000);
    assert_true(token_bucket_consume(&b, 1000, T0, NULL));
    assert_false(token_bucket_consume(&b, 501, T0 + 500 * MS, NULL));
    assert_true(token_bucket_consume(&b, 500, T0 + 500 * MS, NULL));
    assert_false(token_bucket_consume(&b, 1, T0 + 500 * MS, NULL));
    /* A long idle time fills the bucket, no more. */
    assert_true(token_bucket_consume(&b, 1000, T0 + 100000 * MS, NULL));
    assert_false(token_bucket_consume(&b, 1, T0 + 100000 * MS, NULL));
}

static void small_steps_add_up(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 3, 0, 1);          /* 3 tokens per ms: one per 333.3 us */
    assert_true(token_bucket_consume(&b, 3, T0, NULL));
    uint64_t t = T0;
    unsigned got = 0;
    for (int i = 0; i < 1000; i++) {   /* 10 ms in 10 us steps */
        t += 10000;
        if (token_bucket_consume(&b, 1, t, NULL))
            got++;
    }
    assert_int_equal(got, 30);
}

static void wait_is_enough(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 7, 0, 3);           /* awkward rate: 7 per 3 ms */
    assert_true(token_bucket_consume(&b, 7, T0, NULL));
    uint64_t t = T0, wait;
    for (int i = 0; i < 50; i++) {
        while (!token_bucket_consume(&b, 5, t, &wait)) {
            assert_true(wait > 0);
            t += wait;
        }
    }
    /* 250 tokens at 7 per 3 ms: no faster than the rate, and waiting
     * exactly what was asked never needed a second try per request. */
    assert_true(t - T0 >= 250ull * 3 * MS / 7);
    assert_true(t - T0 <= 250ull * 3 * MS / 7 + 50 * 1000);
}

static void one_time_burst_first_and_once(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 100, 1000, 100);
    assert_true(token_bucket_consume(&b, 700, T0, NULL));
    /* 300 of the burst left and 100 in the bucket. */
    assert_true(token_bucket_consume(&b, 400, T0, NULL));
    assert_false(token_bucket_consume(&b, 1, T0, NULL));
    /* The burst is not refilled: after a long time only size is there. */
    assert_true(token_bucket_consume(&b, 100, T0 + 100000 * MS, NULL));
    assert_false(token_bucket_consume(&b, 1, T0 + 100000 * MS, NULL));
}

static void larger_than_size_waits_full_then_debt(void **state)
{
    (void)state;
    struct token_bucket b;
    uint64_t wait;
    bucket(&b, 100, 0, 100);      /* 1 token per ms */
    assert_true(token_bucket_consume(&b, 10, T0, NULL));
    /* 250 > size: it needs a full bucket (10 ms away)... */
    assert_false(token_bucket_consume(&b, 250, T0, &wait));
    assert_int_equal(wait, 10 * MS);
    uint64_t t = T0 + 10 * MS;
    assert_true(token_bucket_consume(&b, 250, t, NULL));
    /* ...and leaves a debt of 150: the next token is 151 ms away. */
    assert_false(token_bucket_consume(&b, 1, t, &wait));
    assert_int_equal(wait, 151 * MS);
    assert_false(token_bucket_consume(&b, 1, t + 150 * MS, NULL));
    assert_true(token_bucket_consume(&b, 1, t + 151 * MS, NULL));
    /* Enormous requests cannot overflow anything; they just wait long. */
    bucket(&b, 100, 0, 100);
    assert_true(token_bucket_consume(&b, UINT64_MAX, T0, NULL));
    assert_false(token_bucket_consume(&b, 1, T0 + 1000000 * MS, &wait));
    assert_true(wait > 1000000 * MS);
}

static void zero_size_or_time_limits_nothing(void **state)
{
    (void)state;
    struct token_bucket b;
    bucket(&b, 0, 0, 100);
    assert_false(token_bucket_enabled(&b));
    assert_true(token_bucket_consume(&b, UINT64_MAX, T0, NULL));
    bucket(&b, 100, 0, 0);
    assert_true(token_bucket_consume(&b, 1000, T0, NULL));
    assert_true(token_bucket_consume(&b, 1000, T0, NULL));
}

static void limiter_needs_both_buckets(void **state)
{
    (void)state;
    struct rate_limiter_config c = {
        .bandwidth = { true, { .size = 1000, .refill_time_ms = 1000 } },
        .ops = { true, { .size = 2, .refill_time_ms = 1000 } },
    };
    struct rate_limiter l;
    rate_limiter_init(&l, &c, T0);
    uint64_t wait;
    assert_true(rate_limiter_consume(&l, 100, 1, T0, &wait));
    assert_true(rate_limiter_consume(&l, 100, 1, T0, &wait));
    /* Out of ops (500 ms to the next); the bytes are not taken. */
    assert_false(rate_limiter_consume(&l, 100, 1, T0, &wait));
    assert_int_equal(wait, 500 * MS);
    assert_true(rate_limiter_consume(&l, 800, 1, T0 + 500 * MS, &wait));
    /* Out of bytes now (700 there), not ops (the ops bucket is full again). */
    assert_false(rate_limiter_consume(&l, 800, 1, T0 + 1000 * MS, &wait));
    assert_int_equal(wait, 100 * MS);
    rate_limiter_destroy(&l);
}

static void reconfiguration(void **state)
{
    (void)state;
    struct rate_limiter_config c = {
        .bandwidth = { true, { .size = 100, .refill_time_ms = 1000 } },
        .ops = { true, { .size = 10, .refill_time_ms = 1000 } },
    };
    struct rate_limiter l;
    rate_limiter_init(&l, &c, T0);
    uint64_t wait;
    assert_true(rate_limiter_consume(&l, 100, 1, T0, &wait));
    assert_false(rate_limiter_consume(&l, 100, 1, T0, &wait));
    /* A bigger bandwidth bucket replaces the old one, full; ops stay as
     * they were (9 left). */
    struct rate_limiter_config u = { .bandwidth = { true, { .size = 10000, .one_time_burst = 50,
                                                           .refill_time_ms = 1000 } } };
    rate_limiter_update(&l, &u, T0);
    assert_true(rate_limiter_consume(&l, 10050, 9, T0, &wait));
    assert_false(rate_limiter_consume(&l, 0, 1, T0, &wait));
    /* Size 0 lifts a limit. */
    struct rate_limiter_config off = { .bandwidth = { true, { 0, 0, 0 } }, .ops = { true, { 0, 0, 1000 } } };
    rate_limiter_update(&l, &off, T0);
    for (int i = 0; i < 100; i++)
        assert_true(rate_limiter_consume(&l, 1u << 30, 1, T0, &wait));
    assert_false(rate_limiter_config_limits(&off));
    assert_true(rate_limiter_config_limits(&c));
    rate_limiter_destroy(&l);
    /* No configuration: nothing is limited. */
    rate_limiter_init(&l, NULL, T0);
    assert_true(rate_limiter_consume(&l, UINT64_MAX, UINT64_MAX, T0, &wait));
    rate_limiter_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consumes_until_empty),
        cmocka_unit_test(refills_over_time_up_to_size),
        cmocka_unit_test(small_steps_add_up),
        cmocka_unit_test(wait_is_enough),
        cmocka_unit_test(one_time_burst_first_and_once),
        cmocka_unit_test(larger_than_size_waits_full_then_debt),
        cmocka_unit_test(zero_size_or_time_limits_nothing),
        cmocka_unit_test(limiter_needs_both_buckets),
        cmocka_unit_test(reconfiguration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
