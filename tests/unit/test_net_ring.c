/* Unit tests for backends/net_ring: frames go through unchanged and in
 * order across many wraps, a full ring says so and asks to be woken, the
 * wake-up flags are raised and taken once, and a peer that writes
 * impossible indices or lengths breaks the ring instead of making us read
 * or write outside it. The last test runs a producer and a consumer
 * thread that sleep on pipes by the ring's own protocol: a lost wake-up
 * would hang it (and meson's timeout fails it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/net_backend.h"
#include "backends/net_ring.h"

struct pair {
    void *mem;
    struct net_ring p, c;   /* producer and consumer views of one ring */
};

static struct pair *pair_new(void)
{
    struct pair *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->mem = aligned_alloc(4096, NET_RING_AREA);
    assert_non_null(r->mem);
    memset(r->mem, 0, NET_RING_AREA);
    net_ring_attach(&r->p, r->mem);
    net_ring_attach(&r->c, r->mem);
    return r;
}

static void pair_free(struct pair *r)
{
    free(r->mem);
    free(r);
}

static void fill(uint8_t *f, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(seed * 31u + i * 7u);
}

static int put_one(struct pair *r, size_t len, unsigned seed)
{
    static uint8_t f[NET_FRAME_MAX];
    fill(f, len, seed);
    /* two pieces, as the device gathers a frame from a chain */
    struct iovec iov[2] = {{f, len / 3}, {f + len / 3, len - len / 3}};
    return net_ring_put(&r->p, iov, 2, len);
}

static void get_one(struct pair *r, size_t len, unsigned seed)
{
    static uint8_t want[NET_FRAME_MAX], got[NET_FRAME_MAX];
    fill(want, len, seed);
    assert_int_equal(net_ring_get(&r->c, got), (long)len);
    assert_memory_equal(got, want, len);
}

static void test_round_trip_and_wraps(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    uint8_t buf[NET_FRAME_MAX];
    assert_int_equal(net_ring_get(&r->c, buf), 0);
    /* Sizes that make records of every alignment and force wraps at every
     * distance from the end; three in flight at a time. */
    unsigned sent = 0, got = 0;
    for (unsigned i = 0; i < 3000; i++) {
        size_t len = NET_FRAME_MIN + (i * 977u) % 9000u;
        if (i % 500 == 0)
            len = NET_FRAME_MAX;
        assert_int_equal(put_one(r, len, i), 0);
        assert_false(net_ring_publish(&r->p));   /* nobody asked to be woken */
        sent++;
        if (sent - got == 3) {
            for (unsigned k = got; k < sent; k++) {
                size_t l = NET_FRAME_MIN + (k * 977u) % 9000u;
                get_one(r, k % 500 == 0 ? NET_FRAME_MAX : l, k);
            }
            got = sent;
            assert_false(net_ring_consumed(&r->c));
        }
    }
    assert_false(r->p.broken || r->c.broken);
    pair_free(r);
}

static void test_unpublished_is_unseen(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    uint8_t buf[NET_FRAME_MAX];
    assert_int_equal(put_one(r, 60, 1), 0);
    assert_int_equal(net_ring_get(&r->c, buf), 0);
    net_ring_publish(&r->p);
    get_one(r, 60, 1);
    pair_free(r);
}

static void test_bad_lengths_refused(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    uint8_t f[16] = {0};
    struct iovec iov = {f, sizeof f};
    assert_int_equal(net_ring_put(&r->p, &iov, 1, NET_FRAME_MIN - 1), -EINVAL);
    assert_int_equal(net_ring_put(&r->p, &iov, 1, NET_FRAME_MAX + 1), -EINVAL);
    pair_free(r);
}

static void test_full_ring_and_wakeups(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    /* An empty consumer about to sleep raises data_wanted... */
    assert_true(net_ring_wait_data(&r->c));
    unsigned n = 0;
    while (put_one(r, 1514, n) == 0)
        n++;
    assert_true(n > 100);
    assert_int_equal(put_one(r, 1514, n), -EAGAIN);
    /* ...and the first publish takes it, once. */
    assert_true(net_ring_publish(&r->p));
    assert_false(net_ring_publish(&r->p));
    /* The producer, still without room, must sleep; the consumer's next
     * consumed() wakes it, once. */
    assert_true(net_ring_wait_room(&r->p, 1514));
    get_one(r, 1514, 0);
    assert_true(net_ring_consumed(&r->c));
    assert_false(net_ring_consumed(&r->c));
    assert_int_equal(put_one(r, 1514, n), 0);
    net_ring_publish(&r->p);
    /* With frames waiting, neither side is told to sleep. */
    assert_false(net_ring_wait_data(&r->c));
    for (unsigned k = 1; k <= n; k++)
        get_one(r, 1514, k);
    pair_free(r);
}

/* A room check that finds room after all does not leave the flag up. */
static void test_wait_room_with_room(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    assert_false(net_ring_wait_room(&r->p, 1514));
    net_ring_publish(&r->p);
    assert_false(net_ring_consumed(&r->c));
    pair_free(r);
}

/* ---- a hostile peer ---- */

static struct net_ring_ctl *ctl(struct pair *r)
{
    return r->mem;
}

static uint32_t *word(struct pair *r, uint32_t off)
{
    return (uint32_t *)((uint8_t *)r->mem + (NET_RING_AREA - NET_RING_DATA) + off);
}

/* The consumer says it freed more than was ever written. */
static void test_consumer_claims_too_much(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    assert_int_equal(put_one(r, 100, 1), 0);
    net_ring_publish(&r->p);
    atomic_store(&ctl(r)->tail, 1000);
    assert_int_equal(put_one(r, 100, 2), -EPIPE);
    assert_true(r->p.broken);
    atomic_store(&ctl(r)->tail, 0);
    assert_int_equal(put_one(r, 100, 2), -EPIPE);   /* broken for good */
    pair_free(r);
}

static void expect_broken(struct pair *r)
{
    uint8_t buf[NET_FRAME_MAX];
    assert_int_equal(net_ring_get(&r->c, buf), -EPIPE);
    assert_true(r->c.broken);
    assert_int_equal(net_ring_get(&r->c, buf), -EPIPE);
}

/* The producer claims more than the ring holds. */
static void test_producer_claims_too_much(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    atomic_store(&ctl(r)->head, NET_RING_DATA + 8);
    expect_broken(r);
    pair_free(r);
}

/* Lengths out of range, records past the end of the ring or past what was
 * published, and a wrap record with less published than it skips. */
static void test_producer_bad_records(void **state)
{
    (void)state;
    static const struct {
        uint32_t off, len, head;
    } cases[] = {
        {0, NET_FRAME_MIN - 1, 64},
        {0, 0, 64},
        {0, NET_FRAME_MAX + 1, NET_RING_DATA},
        {0, 100, 64},                                   /* record longer than published */
        {NET_RING_DATA - 64, 100, NET_RING_DATA},       /* record across the end */
        {NET_RING_DATA - 64, 0xffffffffu, NET_RING_DATA - 8},   /* wrap with too little published */
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pair *r = pair_new();
        r->c.pos = cases[i].off;   /* as if the consumer had read that far */
        *word(r, cases[i].off) = cases[i].len;
        atomic_store(&ctl(r)->head, cases[i].head);
        expect_broken(r);
        pair_free(r);
    }
}

/* A wrap record with enough published is followed to offset 0. */
static void test_wrap_record_followed(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    r->c.pos = r->p.pos = NET_RING_DATA - 64;   /* as if as much had passed */
    atomic_store(&ctl(r)->tail, NET_RING_DATA - 64);
    assert_int_equal(put_one(r, 100, 9), 0);   /* does not fit in 64: wraps */
    net_ring_publish(&r->p);
    assert_int_equal(*word(r, NET_RING_DATA - 64), 0xffffffffu);
    get_one(r, 100, 9);
    assert_int_equal(r->c.pos, NET_RING_DATA + 8 + 104);
    pair_free(r);
}

/* ---- two threads sleeping by the protocol ---- */

#define FRAMES 200000u

struct side {
    struct pair *r;
    int wake_me[2];     /* a pipe: the other side writes a byte to wake us */
    int wake_peer;      /* the peer's pipe's write end */
};

static void wake(int fd)
{
    char b = 1;
    assert_int_equal(write(fd, &b, 1), 1);
}

static void sleep_on(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, -1), 1);
    char b[64];
    assert_true(read(fd, b, sizeof b) > 0);
}

static void *producer(void *arg)
{
    struct side *s = arg;
    for (unsigned i = 0; i < FRAMES; i++) {
        uint8_t f[64];
        size_t len = NET_FRAME_MIN + i % 50;
        memcpy(f, &i, sizeof i);
        memset(f + sizeof i, (int)(i & 0xff), len - sizeof i);
        struct iovec iov = {f, len};
        int rc;
        while ((rc = net_ring_put(&s->r->p, &iov, 1, len)) == -EAGAIN) {
            if (net_ring_publish(&s->r->p))
                wake(s->wake_peer);
            if (net_ring_wait_room(&s->r->p, len))
                sleep_on(s->wake_me[0]);
        }
        assert_int_equal(rc, 0);
        if (i % 7 == 0 && net_ring_publish(&s->r->p))
            wake(s->wake_peer);
    }
    if (net_ring_publish(&s->r->p))
        wake(s->wake_peer);
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    struct pair *r = pair_new();
    struct side prod = {.r = r}, cons = {.r = r};
    assert_int_equal(pipe(prod.wake_me), 0);
    assert_int_equal(pipe(cons.wake_me), 0);
    prod.wake_peer = cons.wake_me[1];
    cons.wake_peer = prod.wake_me[1];
    net_ring_wait_data(&r->c);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, producer, &prod), 0);
    uint8_t buf[NET_FRAME_MAX];
    for (unsigned i = 0; i < FRAMES;) {
        long n = net_ring_get(&r->c, buf);
        assert_true(n >= 0);
        if (n == 0) {
            if (net_ring_consumed(&r->c))
                wake(cons.wake_peer);
            if (net_ring_wait_data(&r->c))
                sleep_on(cons.wake_me[0]);
            continue;
        }
        unsigned seq;
        memcpy(&seq, buf, sizeof seq);
        assert_int_equal(seq, i);
        assert_int_equal(n, (long)(NET_FRAME_MIN + i % 50));
        assert_int_equal(buf[n - 1], (uint8_t)(i & 0xff));
        if (++i % 5 == 0 && net_ring_consumed(&r->c))
            wake(cons.wake_peer);
    }
    if (net_ring_consumed(&r->c))
        wake(cons.wake_peer);
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < 2; i++) {
        close(prod.wake_me[i]);
        close(cons.wake_me[i]);
    }
    pair_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_and_wraps),
        cmocka_unit_test(test_unpublished_is_unseen),
        cmocka_unit_test(test_bad_lengths_refused),
        cmocka_unit_test(test_full_ring_and_wakeups),
        cmocka_unit_test(test_wait_room_with_room),
        cmocka_unit_test(test_consumer_claims_too_much),
        cmocka_unit_test(test_producer_claims_too_much),
        cmocka_unit_test(test_producer_bad_records),
        cmocka_unit_test(test_wrap_record_followed),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
