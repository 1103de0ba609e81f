/* Two token buckets behind a lock (see rate_limiter.h). */
#include "util/rate_limiter.h"

#include <time.h>

static const struct token_bucket_config unlimited = { 0, 0, 0 };

bool rate_limiter_config_limits(const struct rate_limiter_config *c)
{
    const struct rate_limiter_bucket *b[2] = { &c->bandwidth, &c->ops };
    for (int i = 0; i < 2; i++)
        if (b[i]->present && b[i]->cfg.size && b[i]->cfg.refill_time_ms)
            return true;
    return false;
}

void rate_limiter_init(struct rate_limiter *l, const struct rate_limiter_config *c, uint64_t now_ns)
{
    pthread_mutex_init(&l->lock, NULL);
    token_bucket_init(&l->bandwidth, c && c->bandwidth.present ? &c->bandwidth.cfg : &unlimited, now_ns);
    token_bucket_init(&l->ops, c && c->ops.present ? &c->ops.cfg : &unlimited, now_ns);
}

void rate_limiter_destroy(struct rate_limiter *l)
{
    pthread_mutex_destroy(&l->lock);
}

void rate_limiter_update(struct rate_limiter *l, const struct rate_limiter_config *u, uint64_t now_ns)
{
    pthread_mutex_lock(&l->lock);
    if (u->bandwidth.present)
        token_bucket_init(&l->bandwidth, &u->bandwidth.cfg, now_ns);
    if (u->ops.present)
        token_bucket_init(&l->ops, &u->ops.cfg, now_ns);
    pthread_mutex_unlock(&l->lock);
}

bool rate_limiter_consume(struct rate_limiter *l, uint64_t bytes, uint64_t ops, uint64_t now_ns,
                          uint64_t *wait_ns)
{
    pthread_mutex_lock(&l->lock);
    uint64_t wb = token_bucket_wait(&l->bandwidth, bytes, now_ns);
    uint64_t wo = token_bucket_wait(&l->ops, ops, now_ns);
    bool ok = !wb && !wo;
    if (ok) {
        token_bucket_take(&l->bandwidth, bytes);
        token_bucket_take(&l->ops, ops);
    }
    pthread_mutex_unlock(&l->lock);
    *wait_ns = wb > wo ? wb : wo;
    return ok;
}

uint64_t rate_limiter_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
