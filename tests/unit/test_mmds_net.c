/* Unit tests for api/mmds_http (the guest's HTTP requests: Firecracker's
 * answers, V2 tokens, malformed and oversized requests) and
 * devices/mmds_net (ARP replies, a TCP exchange from SYN to FIN,
 * retransmission, and hostile frames: bad checksums, fragments, lengths
 * that overrun the frame, random bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/mmds_http.h"
#include "api/mmds_store.h"
#include "devices/mmds_net.h"

static struct mmds_store *store_with(const char *doc)
{
    struct mmds_store *s;
    struct errmsg e = { "" };
    assert_int_equal(mmds_store_create(&s, MMDS_STORE_DEFAULT_LIMIT, &e), 0);
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    assert_non_null(j);
    assert_int_equal(mmds_store_put(s, j, &e), 0);
    json_decref(j);
    return s;
}

/* One request through the handler: its return, the answer as text. */
static long http(struct mmds_store *s, const char *req, uint64_t now, char *out, size_t cap, bool *close)
{
    uint8_t *resp;
    size_t len;
    long r = mmds_http_handle(s, (const uint8_t *)req, strlen(req), now, &resp, &len, close);
    snprintf(out, cap, "%.*s", (int)len, resp ? (const char *)resp : "");
    free(resp);
    return r;
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void test_http_v1(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"n\": 5}}}");
    char out[4096];
    bool close;
    const char *get = "GET /latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(http(s, get, 0, out, sizeof out, &close), (long)strlen(get));
    assert_false(close);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: text/plain\r\n"));
    assert_non_null(strstr(out, "Content-Length: 8\r\n"));
    assert_string_equal(body_of(out), "ami-id\nn");
    /* Absolute form, JSON, HTTP/1.0 closes. */
    http(s, "GET http://169.254.169.254/latest/meta-data/ami-id HTTP/1.0\r\nAccept: application/json\r\n\r\n", 0,
         out, sizeof out, &close);
    assert_true(close);
    assert_non_null(strstr(out, "HTTP/1.0 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Type: application/json\r\n"));
    assert_string_equal(body_of(out), "\"ami-1\"");
    http(s, "GET /latest/meta-data/n HTTP/1.1\r\nConnection: close\r\n\r\n", 0, out, sizeof out, &close);
    assert_true(close);
    assert_non_null(strstr(out, " 501 "));
    http(s, "GET /nope HTTP/1.1\r\n\r\n", 0, out, sizeof out, &close);
    assert_non_null(strstr(out, " 404 "));
    assert_string_equal(body_of(out), "Resource not found: /nope.");
    http(s, "DELETE /latest HTTP/1.1\r\n\r\n", 0, out, sizeof out, &close);
    assert_non_null(strstr(out, " 405 "));
    assert_non_null(strstr(out, "Allow: GET, PUT\r\n"));
    /* V1 takes a GET with a token too. */
    http(s, "GET /latest/meta-data/ami-id HTTP/1.1\r\nX-metadata-token: bogus\r\n\r\n", 0, out, sizeof out, &close);
    assert_string_equal(body_of(out), "ami-1");
    /* Two pipelined requests: the first's length, then the second's. */
    const char *two = "GET /latest HTTP/1.1\r\n\r\nGET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n";
    assert_int_equal(http(s, two, 0, out, sizeof out, &close), 24);
    assert_string_equal(body_of(out), "meta-data/");
    assert_int_equal(http(s, two + 24, 0, out, sizeof out, &close), (long)strlen(two + 24));
    /* Incomplete: wait for more. */
    assert_int_equal(http(s, "GET /latest HTTP/1.1\r\nHost:", 0, out, sizeof out, &close), 0);
    assert_int_equal(http(s, "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 0, out, sizeof out,
                          &close), 0);
    mmds_store_destroy(s);
}

static void test_http_hostile(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{\"a\": \"b\"}");
    char out[4096];
    bool close;
    static const char *const bad[][2] = {
        { "GET /a HTTP/2.0\r\n\r\n", "Unsupported HTTP version." },
        { "GET  /a HTTP/1.1\r\n\r\n", "Invalid URI." },
        { "GET /a\r\n\r\n", "Invalid request line." },
        { "G(T /a HTTP/1.1\r\n\r\n", "Invalid HTTP method." },
        { "GET /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding is not supported." },
        { "GET /a HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "Invalid Content-Length." },
        { "GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "Conflicting Content-Length" },
        { "GET /a HTTP/1.1\r\n folded\r\n\r\n", "Folded header lines" },
        { "GET /a HTTP/1.1\r\n: empty\r\n\r\n", "Invalid header line." },
        { "GET /a HTTP/1.1\r\nNo colon\r\n\r\n", "Invalid header line." },
        { "GET /a HTTP/1.1\r\nBad\x01: x\r\n\r\n", "Invalid character" },
        { "GET /a HTTP/1.1\nHost: x\r\n\r\n", "Invalid character" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        close = false;
        assert_int_equal(http(s, bad[i][0], 0, out, sizeof out, &close), -1);
        if (!strstr(out, " 400 ") || !strstr(out, bad[i][1]) || !close)
            fail_msg("%zu: %s answered %s", i, bad[i][0], out);
    }
    /* Well-formed but without a path: 400, the connection goes on. */
    const char *nopath = "GET http://169.254.169.254 HTTP/1.1\r\n\r\n";
    assert_int_equal(http(s, nopath, 0, out, sizeof out, &close), (long)strlen(nopath));
    assert_string_equal(body_of(out), "Invalid URI.");
    /* A NUL is refused at once, without waiting for the head's end. */
    uint8_t nul[] = { 'G', 'E', 'T', ' ', 0, '/' };
    uint8_t *resp;
    size_t len;
    assert_int_equal(mmds_http_handle(s, nul, sizeof nul, 0, &resp, &len, &close), -1);
    free(resp);
    /* A head that never ends, and a body over the limit. */
    char *big = malloc(MMDS_HTTP_HEAD_MAX + 100);
    memset(big, 'a', MMDS_HTTP_HEAD_MAX + 99);
    memcpy(big, "GET /", 5);
    big[MMDS_HTTP_HEAD_MAX + 99] = 0;
    assert_int_equal(http(s, big, 0, out, sizeof out, &close), -1);
    assert_non_null(strstr(out, "Request head too long."));
    free(big);
    assert_int_equal(http(s, "PUT /latest/api/token HTTP/1.1\r\nContent-Length: 999999\r\n\r\n", 0, out, sizeof out,
                          &close), -1);
    assert_non_null(strstr(out, " 413 "));
    mmds_store_destroy(s);
}

static void test_http_v2(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{\"a\": \"b\"}");
    mmds_store_configure(s, true, false);
    char out[4096], req[512], token[80];
    bool close;
    http(s, "GET /a HTTP/1.1\r\n\r\n", 1000, out, sizeof out, &close);
    assert_non_null(strstr(out, " 401 "));
    assert_non_null(strstr(body_of(out), "No MMDS token provided"));
    http(s, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 1000, out, sizeof out, &close);
    assert_non_null(strstr(body_of(out), "Token time to live value not found"));
    http(s, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: abc\r\n\r\n", 1000, out, sizeof out,
         &close);
    assert_string_equal(body_of(out), "Invalid value. Key:X-metadata-token-ttl-seconds; Value:abc");
    http(s, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n", 1000, out, sizeof out,
         &close);
    assert_non_null(strstr(body_of(out), "Invalid time to live value provided for token: 21601."));
    http(s, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
         1000, out, sizeof out, &close);
    assert_non_null(strstr(out, " 400 "));
    http(s, "PUT /other HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n\r\n", 1000, out, sizeof out, &close);
    assert_non_null(strstr(out, " 404 "));
    http(s, "PUT //latest//api/token HTTP/1.1\r\nx-aws-ec2-metadata-token-ttl-seconds: 5\r\n\r\n", 1000, out,
         sizeof out, &close);
    assert_non_null(strstr(out, " 200 "));
    assert_non_null(strstr(out, "X-aws-ec2-metadata-token-ttl-seconds: 5\r\n"));
    snprintf(token, sizeof token, "%s", body_of(out));
    assert_int_equal(strlen(token), MMDS_STORE_TOKEN_LEN);
    snprintf(req, sizeof req, "GET /a HTTP/1.1\r\nX-metadata-token:  %s \r\n\r\n", token);
    http(s, req, 5999, out, sizeof out, &close);
    assert_string_equal(body_of(out), "b");
    http(s, req, 6000, out, sizeof out, &close);   /* expired */
    assert_non_null(strstr(out, " 401 "));
    assert_string_equal(body_of(out), "MMDS token not valid.");
    mmds_store_destroy(s);
}

/* ---- the network stack ---- */

#define GUEST_IP 0x0a00020fu   /* 10.0.2.15 */
#define MMDS_IP 0xa9fea9feu
static const uint8_t guest_mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };

struct sink {
    uint8_t frames[64][2048];
    size_t lens[64];
    unsigned n;
};

static void sink_emit(void *opaque, const uint8_t *f, size_t len)
{
    struct sink *k = opaque;
    assert_true(len <= sizeof k->frames[0]);
    if (k->n < 64) {
        memcpy(k->frames[k->n], f, len);
        k->lens[k->n++] = len;
    }
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }
static void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, v >> 16); wr16(p + 2, v); }

static uint16_t csum(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += rd16(p + i);
    if (n & 1)
        s += (uint32_t)p[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* A guest TCP segment to the MMDS port 80 from port 40000. */
static size_t tcp_frame(uint8_t *f, uint8_t flags, uint32_t seq, uint32_t ack, const char *data, bool mss)
{
    size_t dl = data ? strlen(data) : 0, thl = mss ? 24 : 20;
    memcpy(f, (const uint8_t[]){ 6, 1, 0x23, 0x45, 0x67, 1 }, 6);
    memcpy(f + 6, guest_mac, 6);
    wr16(f + 12, 0x0800);
    uint8_t *ip = f + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    wr16(ip + 2, (uint32_t)(20 + thl + dl));
    ip[8] = 64;
    ip[9] = 6;
    wr32(ip + 12, GUEST_IP);
    wr32(ip + 16, MMDS_IP);
    wr16(ip + 10, csum(0, ip, 20));
    uint8_t *t = ip + 20;
    memset(t, 0, thl);
    wr16(t, 40000);
    wr16(t + 2, 80);
    wr32(t + 4, seq);
    wr32(t + 8, ack);
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = flags;
    wr16(t + 14, 65535);
    if (mss) {
        t[20] = 2;
        t[21] = 4;
        wr16(t + 22, 1000);
    }
    if (dl)
        memcpy(t + thl, data, dl);
    uint32_t ps = (GUEST_IP >> 16) + (GUEST_IP & 0xffff) + (MMDS_IP >> 16) + (MMDS_IP & 0xffff) + 6 + thl + dl;
    wr16(t + 16, csum(ps, t, thl + dl));
    return 14 + 20 + thl + dl;
}

static void make_net(struct mmds_net **m, struct mmds_store *s, struct sink *k)
{
    struct mmds_net_options o = { .ipv4 = MMDS_IP, .handler = { mmds_http_request, s } };
    struct errmsg e = { "" };
    assert_int_equal(mmds_net_create(m, &o, sink_emit, k, &e), 0);
}

static void test_arp(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{}");
    struct sink k = { 0 };
    struct mmds_net *m;
    make_net(&m, s, &k);
    uint8_t f[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06,
                      0, 1, 0x08, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15,
                      0, 0, 0, 0, 0, 0, 169, 254, 169, 254 };
    assert_true(mmds_net_claims(m, f, sizeof f));
    mmds_net_input(m, f, sizeof f, 0);
    assert_int_equal(k.n, 1);
    const uint8_t *r = k.frames[0];
    assert_int_equal(k.lens[0], 42);
    assert_memory_equal(r, guest_mac, 6);
    assert_memory_equal(r + 6, ((const uint8_t[]){ 6, 1, 0x23, 0x45, 0x67, 1 }), 6);
    assert_int_equal(rd16(r + 20), 2);                  /* reply */
    assert_int_equal(rd32(r + 28), MMDS_IP);            /* sender: the MMDS */
    assert_memory_equal(r + 32, guest_mac, 6);
    assert_int_equal(rd32(r + 38), GUEST_IP);
    /* Not for the MMDS: not claimed. Truncated or not a request: no reply. */
    f[41] = 1;
    assert_false(mmds_net_claims(m, f, sizeof f));
    f[41] = 254;
    assert_false(mmds_net_claims(m, f, 41));
    f[21] = 2;
    mmds_net_input(m, f, sizeof f, 0);
    assert_int_equal(k.n, 1);
    mmds_net_destroy(m);
    mmds_store_destroy(s);
}

static void test_tcp_exchange(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{\"latest\": \"hello\"}");
    struct sink k = { 0 };
    struct mmds_net *m;
    make_net(&m, s, &k);
    uint8_t f[2048];
    size_t n = tcp_frame(f, 0x02, 1000, 0, NULL, true);   /* SYN with MSS 1000 */
    assert_true(mmds_net_claims(m, f, n));
    mmds_net_input(m, f, n, 0);
    assert_int_equal(k.n, 1);
    const uint8_t *t = k.frames[0] + 34;
    assert_int_equal(t[13], 0x12);                      /* SYN|ACK */
    assert_int_equal(rd32(t + 8), 1001);
    assert_int_equal(t[20], 2);                         /* our MSS option */
    uint32_t iss = rd32(t + 4);
    /* The checksums of what we got are right. */
    const uint8_t *ip = k.frames[0] + 14;
    assert_int_equal(csum(0, ip, 20), 0);
    const char *req = "GET /latest HTTP/1.1\r\nConnection: close\r\n\r\n";
    n = tcp_frame(f, 0x18, 1001, iss + 1, req, false);   /* ACK + the request */
    mmds_net_input(m, f, n, 10);
    /* The answer (one segment, with our ACK of the request) and the FIN. */
    assert_int_equal(k.n, 3);
    t = k.frames[1] + 34;
    assert_int_equal(rd32(t + 8), 1001 + strlen(req));
    const char *payload = (const char *)t + 20;
    assert_true(strstr(payload, "HTTP/1.1 200 OK") == payload);
    size_t plen = k.lens[1] - 54;
    assert_memory_equal(payload + plen - 5, "hello", 5);
    assert_int_equal(k.frames[2][34 + 13] & 0x01, 1);   /* FIN */
    /* Nothing acknowledged: at the timeout it all comes again. */
    mmds_net_poll(m, 10 + MMDS_NET_RTO_MS);
    assert_int_equal(k.n, 5);
    assert_int_equal(rd32(k.frames[3] + 34 + 4), iss + 1);
    /* The guest acknowledges all and closes: the connection ends. */
    uint32_t fin_seq = rd32(k.frames[4] + 34 + 4);
    n = tcp_frame(f, 0x11, 1001 + (uint32_t)strlen(req), fin_seq + 1, NULL, false);
    mmds_net_input(m, f, n, 20 + MMDS_NET_RTO_MS);
    assert_int_equal(k.n, 6);                            /* our last ACK */
    assert_int_equal(mmds_net_deadline(m), 0);           /* no connection left */
    /* A segment for it now is answered with a reset. */
    mmds_net_input(m, f, n, 30 + MMDS_NET_RTO_MS);
    assert_int_equal(k.frames[6][34 + 13] & 0x04, 0x04);
    struct mmds_net_stats st;
    mmds_net_stats(m, &st);
    assert_int_equal(st.connections, 1);
    mmds_net_destroy(m);
    mmds_store_destroy(s);
}

static void test_hostile_frames(void **state)
{
    (void)state;
    struct mmds_store *s = store_with("{}");
    struct sink k = { 0 };
    struct mmds_net *m;
    make_net(&m, s, &k);
    uint8_t f[2048];
    size_t n = tcp_frame(f, 0x02, 1000, 0, NULL, true);
    /* Bad TCP checksum, bad IP checksum, a fragment, IHL past the packet,
     * total length past the frame, a data offset past the segment, an
     * option whose length overruns the header, from the MMDS's own address. */
    struct { size_t off; uint8_t val; } edits[] = {
        { 34 + 16, 0x55 }, { 14 + 10, 0x55 }, { 14 + 6, 0x20 }, { 14, 0x4f }, { 14 + 2, 0xff },
        { 34 + 12, 0xf0 }, { 34 + 21, 40 }, { 14 + 12, 169 },
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        uint8_t g[2048];
        memcpy(g, f, n);
        g[edits[i].off] = edits[i].val;
        mmds_net_input(m, g, n, 0);
    }
    /* The overrunning option (kind 2, length 40) has a bad checksum too:
     * whatever passes, nothing may be read past the frame (ASan). */
    assert_true(k.n <= 1);
    /* Every truncation of a good SYN. */
    for (size_t l = 0; l < n; l++)
        mmds_net_input(m, f, l, 0);
    /* Random bytes behind a valid Ethernet/IPv4 start aimed at the MMDS. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        uint8_t g[600];
        size_t len = 14 + (size_t)(i % 586);
        for (size_t b = 0; b < len; b++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            g[b] = (uint8_t)x;
        }
        memcpy(g, f, len < 34 ? len : 34);
        if (i & 1 && len > 34)
            g[14] = (uint8_t)(0x45 + (i % 11));
        k.n = 0;
        if (mmds_net_claims(m, g, len))
            mmds_net_input(m, g, len, (uint64_t)i);
        mmds_net_poll(m, (uint64_t)i);
    }
    /* More SYNs than connections: the table stays bounded, each answered. */
    for (uint32_t p = 0; p < 3 * MMDS_NET_MAX_CONN; p++) {
        n = tcp_frame(f, 0x02, 5000 + p, 0, NULL, false);
        wr16(f + 34, 41000 + p);
        uint32_t ps = (GUEST_IP >> 16) + (GUEST_IP & 0xffff) + (MMDS_IP >> 16) + (MMDS_IP & 0xffff) + 6 + 20;
        wr16(f + 34 + 16, 0);
        wr16(f + 34 + 16, csum(ps, f + 34, 20));
        k.n = 0;
        mmds_net_input(m, f, n, 100000 + p);
        assert_true(k.n >= 1);
    }
    mmds_net_destroy(m);
    mmds_store_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_v1),
        cmocka_unit_test(test_http_hostile),
        cmocka_unit_test(test_http_v2),
        cmocka_unit_test(test_arp),
        cmocka_unit_test(test_tcp_exchange),
        cmocka_unit_test(test_hostile_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
