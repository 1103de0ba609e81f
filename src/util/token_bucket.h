/* A token bucket with Firecracker's rate limiter semantics: it holds up to
 * `size` tokens and refills at size tokens per refill_time milliseconds,
 * continuously; it starts full, plus a one-time burst of extra tokens that
 * is spent first and never refilled. A bucket with size 0 or refill_time 0
 * limits nothing.
 *
 * A request for more tokens than the bucket can hold would never fit; it
 * is let through once the bucket is full and leaves the bucket in debt by
 * the excess, which the refill pays back before anything else passes. So
 * the long-run rate never exceeds size per refill_time, whatever the
 * request sizes.
 *
 * Time is passed in (nanoseconds of any monotonic clock), so the bucket is
 * a pure calculation and tests can drive it with their own clock. Not
 * thread-safe by itself: see rate_limiter.h. */
#ifndef MINNOW_UTIL_TOKEN_BUCKET_H
#define MINNOW_UTIL_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

/* Firecracker's TokenBucket: {"size", "one_time_burst", "refill_time"}. */
struct token_bucket_config {
    uint64_t size;             /* tokens; 0: unlimited */
    uint64_t one_time_burst;   /* extra tokens at the start, not refilled */
    uint64_t refill_time_ms;   /* time to refill from empty to full; 0: unlimited */
};

/* Largest size, one_time_burst and refill_time accepted (JSON int64). */
#define TOKEN_BUCKET_MAX ((uint64_t)INT64_MAX)

struct token_bucket {
    struct token_bucket_config cfg;
    int64_t budget;          /* tokens now, <= size; negative: debt */
    uint64_t burst;          /* what is left of one_time_burst */
    uint64_t last_ns;        /* time of the last refill */
    uint64_t frac;           /* refill progress below one token, in token*ns/refill_ns units */
};

/* A full bucket with cfg, as of now_ns. */
void token_bucket_init(struct token_bucket *b, const struct token_bucket_config *cfg, uint64_t now_ns);
bool token_bucket_enabled(const struct token_bucket *b);

/* 0 if n tokens can be taken at now_ns, else the nanoseconds until they
 * can (at least 1). Refills the bucket up to now_ns. */
uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns);
/* Takes n tokens; call only after token_bucket_wait said 0 at the same time. */
void token_bucket_take(struct token_bucket *b, uint64_t n);
/* Both at once: true if the n tokens were taken; else *wait_ns (if not
 * NULL) says how long until they could be. */
bool token_bucket_consume(struct token_bucket *b, uint64_t n, uint64_t now_ns, uint64_t *wait_ns);

#endif
