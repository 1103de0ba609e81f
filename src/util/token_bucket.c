/* Token bucket arithmetic (see token_bucket.h). Products of a time and a
 * token count can exceed 64 bits (both may be up to 2^63), so they are
 * done in 128 bits. */
#include "util/token_bucket.h"

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

#define NS_PER_MS 1000000u

static u128 refill_ns(const struct token_bucket *b)
{
    return (u128)b->cfg.refill_time_ms * NS_PER_MS;
}

void token_bucket_init(struct token_bucket *b, const struct token_bucket_config *cfg, uint64_t now_ns)
{
    *b = (struct token_bucket){ .cfg = *cfg, .last_ns = now_ns };
    if (cfg->size > TOKEN_BUCKET_MAX)
        b->cfg.size = TOKEN_BUCKET_MAX;
    b->budget = (int64_t)b->cfg.size;
    b->burst = cfg->one_time_burst;
}

bool token_bucket_enabled(const struct token_bucket *b)
{
    return b->cfg.size && b->cfg.refill_time_ms;
}

/* Adds what the time since the last refill earned, up to size. */
static void refill(struct token_bucket *b, uint64_t now_ns)
{
    if (now_ns <= b->last_ns)
        return;
    uint64_t size = b->cfg.size;
    if (b->budget >= (int64_t)size) {
        b->last_ns = now_ns;
        b->frac = 0;
        return;
    }
    /* tokens = elapsed * size / refill_ns, keeping the remainder so that
     * many small steps add up to what one large step would give. */
    u128 acc = (u128)(now_ns - b->last_ns) * size + b->frac;
    u128 rns = refill_ns(b);
    u128 tokens = acc / rns;
    b->frac = (uint64_t)(acc % rns);
    b->last_ns = now_ns;
    u128 room = (u128)((i128)size - b->budget);   /* > 0 here */
    if (tokens >= room) {
        b->budget = (int64_t)size;
        b->frac = 0;
    } else {
        b->budget = (int64_t)((i128)b->budget + (i128)tokens);
    }
}

uint64_t token_bucket_wait(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
    if (!token_bucket_enabled(b) || n <= b->burst)
        return 0;
    n -= b->burst;
    refill(b, now_ns);
    /* More than the bucket holds: it must be full first (see the header). */
    int64_t need = n < b->cfg.size ? (int64_t)n : (int64_t)b->cfg.size;
    if (b->budget >= need)
        return 0;
    u128 missing = (u128)((i128)need - b->budget);
    u128 size = b->cfg.size;
    /* Time for `missing` more tokens, minus the progress already made,
     * rounded up so that waiting that long is always enough. */
    u128 work = missing * refill_ns(b);
    work = work > b->frac ? work - b->frac : 1;
    u128 ns = (work + size - 1) / size;
    if (ns > UINT64_MAX)
        return UINT64_MAX;
    return ns ? (uint64_t)ns : 1;
}

void token_bucket_take(struct token_bucket *b, uint64_t n)
{
    if (!token_bucket_enabled(b))
        return;
    if (n <= b->burst) {
        b->burst -= n;
        return;
    }
    n -= b->burst;
    b->burst = 0;
    /* The debt is bounded so the arithmetic cannot overflow; a request that
     * large already means waiting for centuries. */
    i128 after = (i128)b->budget - (i128)n;
    b->budget = after < -(i128)INT64_MAX ? -INT64_MAX : (int64_t)after;
}

bool token_bucket_consume(struct token_bucket *b, uint64_t n, uint64_t now_ns, uint64_t *wait_ns)
{
    uint64_t w = token_bucket_wait(b, n, now_ns);
    if (wait_ns)
        *wait_ns = w;
    if (w)
        return false;
    token_bucket_take(b, n);
    return true;
}
