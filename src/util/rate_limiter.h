/* Firecracker's rate limiter: a pair of token buckets, one counting bytes
 * ("bandwidth") and one counting operations ("ops"). A request passes only
 * when both buckets can pay for it, and then pays both; otherwise nothing
 * is taken and the caller learns how long to wait before trying again.
 *
 * Thread-safe: the I/O thread consumes while the API thread may replace a
 * bucket (PATCH); each call takes the limiter's lock briefly. Time is
 * passed in as in token_bucket.h; rate_limiter_now() is the clock devices
 * use. */
#ifndef MINNOW_UTIL_RATE_LIMITER_H
#define MINNOW_UTIL_RATE_LIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/token_bucket.h"

/* A bucket of a configuration or an update: absent, or this config. */
struct rate_limiter_bucket {
    bool present;
    struct token_bucket_config cfg;
};

/* Firecracker's RateLimiter {"bandwidth", "ops"}. As a configuration, an
 * absent bucket limits nothing; as an update (PATCH), an absent bucket is
 * left as it is and a present one replaces it (size 0 lifts the limit). */
struct rate_limiter_config {
    struct rate_limiter_bucket bandwidth, ops;
};

struct rate_limiter {
    pthread_mutex_t lock;
    struct token_bucket bandwidth, ops;
};

/* True if the configuration limits anything. */
bool rate_limiter_config_limits(const struct rate_limiter_config *c);

void rate_limiter_init(struct rate_limiter *l, const struct rate_limiter_config *c, uint64_t now_ns);
void rate_limiter_destroy(struct rate_limiter *l);
/* PATCH: replaces the buckets present in u (full, fresh one_time_burst). */
void rate_limiter_update(struct rate_limiter *l, const struct rate_limiter_config *u, uint64_t now_ns);
/* true: bytes and ops were taken. false: nothing was; *wait_ns is how long
 * until they could be (at least 1). */
bool rate_limiter_consume(struct rate_limiter *l, uint64_t bytes, uint64_t ops, uint64_t now_ns,
                          uint64_t *wait_ns);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t rate_limiter_now(void);

#endif
