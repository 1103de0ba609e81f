/* An MMDS client for the guest (busybox wget cannot PUT):
 *   mmds_client ADDR token TTL [HEADER]
 *       PUT /latest/api/token with "X-metadata-token-ttl-seconds: TTL" (and
 *       the extra header line HEADER if given); prints "status N", then
 *       the body on its own line
 *   mmds_client ADDR get PATH [TOKEN]
 *       GET PATH (with X-metadata-token: TOKEN); prints "status N", then
 *       the body
 *   mmds_client ADDR bench N PATH [TOKEN]
 *       N GETs of PATH one after another, each on a new connection as wget
 *       makes them; checks each is 200; prints "bench N requests, total US
 *       us, per request US us (min, median, p90, max US)" timed with
 *       CLOCK_MONOTONIC in the guest
 * Each request is HTTP/1.1 with "Connection: close"; the answer is read to
 * the server's close. Static riscv64 binary, put into the initramfs by the
 * MMDS tests. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct in_addr addr;

/* One request; the status (or -1), the body in body (NUL-terminated). */
static int request(const char *req, char *body, size_t cap)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80), .sin_addr = addr };
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof sa)) {
        fprintf(stderr, "mmds_client: connect: %s\n", strerror(errno));
        if (s >= 0)
            close(s);
        return -1;
    }
    size_t n = strlen(req), off = 0;
    while (off < n) {
        ssize_t w = write(s, req + off, n - off);
        if (w <= 0) {
            fprintf(stderr, "mmds_client: write: %s\n", strerror(errno));
            close(s);
            return -1;
        }
        off += (size_t)w;
    }
    static char buf[1 << 20];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(s, buf + len, sizeof buf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        if (len == sizeof buf - 1)
            break;
    }
    close(s);
    buf[len] = 0;
    int status;
    if (sscanf(buf, "HTTP/1.%*c %d", &status) != 1) {
        fprintf(stderr, "mmds_client: not an HTTP answer: %.80s\n", buf);
        return -1;
    }
    char *b = strstr(buf, "\r\n\r\n");
    snprintf(body, cap, "%s", b ? b + 4 : "");
    return status;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4 || inet_pton(AF_INET, argv[1], &addr) != 1) {
        fprintf(stderr, "usage: mmds_client ADDR token TTL [HEADER] | get PATH [TOKEN] | bench N PATH [TOKEN]\n");
        return 2;
    }
    static char req[8192], body[1 << 20];
    const char *cmd = argv[2];
    if (!strcmp(cmd, "token")) {
        snprintf(req, sizeof req, "PUT /latest/api/token HTTP/1.1\r\nHost: %s\r\nX-metadata-token-ttl-seconds: %s\r\n"
                 "%s%sConnection: close\r\n\r\n", argv[1], argv[3], argc > 4 ? argv[4] : "", argc > 4 ? "\r\n" : "");
    } else if (!strcmp(cmd, "get")) {
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n", argv[3], argv[1],
                 argc > 4 ? "X-metadata-token: " : "", argc > 4 ? argv[4] : "", argc > 4 ? "\r\n" : "");
    } else if (!strcmp(cmd, "bench") && argc >= 5) {
        long n = atol(argv[3]);
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n", argv[4], argv[1],
                 argc > 5 ? "X-metadata-token: " : "", argc > 5 ? argv[5] : "", argc > 5 ? "\r\n" : "");
        if (n < 1 || n > 100000) {
            fprintf(stderr, "mmds_client: bench N: from 1 to 100000\n");
            return 2;
        }
        static long long each[100000];
        struct timespec t0, t1, a, b;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++) {
            clock_gettime(CLOCK_MONOTONIC, &a);
            int st = request(req, body, sizeof body);
            clock_gettime(CLOCK_MONOTONIC, &b);
            if (st != 200) {
                fprintf(stderr, "mmds_client: bench request %ld: status %d\n", i, st);
                return 1;
            }
            each[i] = (b.tv_sec - a.tv_sec) * 1000000ll + (b.tv_nsec - a.tv_nsec) / 1000;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long long us = (t1.tv_sec - t0.tv_sec) * 1000000ll + (t1.tv_nsec - t0.tv_nsec) / 1000;
        qsort(each, (size_t)n, sizeof each[0], cmp_ll);
        printf("bench %ld requests, total %lld us, per request %lld us (min %lld, median %lld, p90 %lld, max %lld)\n",
               n, us, us / n, each[0], each[n / 2], each[n * 9 / 10], each[n - 1]);
        return 0;
    } else {
        fprintf(stderr, "mmds_client: unknown command '%s'\n", cmd);
        return 2;
    }
    int st = request(req, body, sizeof body);
    if (st < 0)
        return 1;
    printf("status %d\n%s\n", st, body);
    return 0;
}
