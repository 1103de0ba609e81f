/* The guest side of bench/io/run: disk and network throughput measured
 * inside the guest, with its own clock (CLOCK_MONOTONIC).
 *   iobench seq DEV MIB        O_DIRECT sequential write of MIB MiB in 1 MiB
 *                              requests (then fdatasync), then read it back
 *   iobench rand DEV MIB SECS  O_DIRECT 4 KiB random reads, then random
 *                              writes, each for SECS seconds, one at a time
 *                              (queue depth 1), over the first MIB MiB
 *   iobench tcpsend IP PORT MIB  connects, sends MIB MiB, waits for the
 *                              peer to close (it has read everything)
 *   iobench tcprecv IP PORT    connects and reads until the peer closes
 * Each prints "iobench NAME VALUE UNIT" lines for the host to parse.
 * Static riscv64 binary, put into the initramfs by bench/io/run. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

/* The system call, not the vDSO: the vDSO reads the time CSR from U-mode,
 * which needs scounteren.TM, and under minnow's built-in SBI nobody sets
 * it (OpenSBI does), so the vDSO would die of SIGILL there. */
static double now(void)
{
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "iobench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *aligned(size_t len)
{
    void *p;
    if (posix_memalign(&p, 4096, len))
        die("posix_memalign");
    memset(p, 0x5a, len);
    return p;
}

static int open_dev(const char *dev)
{
    int fd = open(dev, O_RDWR | O_DIRECT);
    if (fd < 0)
        die(dev);
    return fd;
}

static void seq(const char *dev, long mib)
{
    int fd = open_dev(dev);
    char *buf = aligned(MIB);
    double t = now();
    for (long i = 0; i < mib; i++) {
        buf[0] = (char)i;
        if (pwrite(fd, buf, MIB, (off_t)i * MIB) != MIB)
            die("sequential write");
    }
    if (fdatasync(fd))
        die("fdatasync");
    double dt = now() - t;
    printf("iobench seqwrite %.1f MB/s\n", (double)mib * MIB / dt / 1e6);
    t = now();
    for (long i = 0; i < mib; i++)
        if (pread(fd, buf, MIB, (off_t)i * MIB) != MIB)
            die("sequential read");
    dt = now() - t;
    printf("iobench seqread %.1f MB/s\n", (double)mib * MIB / dt / 1e6);
    close(fd);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void rand_io(const char *dev, long mib, double secs)
{
    int fd = open_dev(dev);
    char *buf = aligned(4096);
    uint64_t blocks = (uint64_t)mib * (MIB / 4096);
    for (int w = 0; w < 2; w++) {
        long n = 0;
        double t = now(), end = t + secs, dt;
        do {
            for (int k = 0; k < 16; k++, n++) {
                off_t off = (off_t)(next_rand() % blocks) * 4096;
                ssize_t r = w ? pwrite(fd, buf, 4096, off) : pread(fd, buf, 4096, off);
                if (r != 4096)
                    die(w ? "random write" : "random read");
            }
            dt = now() - t;
        } while (t + dt < end);
        printf("iobench rand%s %.0f IOPS\n", w ? "write" : "read", n / dt);
    }
    close(fd);
}

static int connect_to(const char *ip, const char *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "iobench: bad address %s\n", ip);
        exit(2);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a))
        die("connect");
    return s;
}

static void tcpsend(const char *ip, const char *port, long mib)
{
    int s = connect_to(ip, port);
    size_t len = 256 * 1024;
    char *buf = aligned(len);
    long long total = (long long)mib * MIB, sent = 0;
    double t = now();
    while (sent < total) {
        ssize_t w = write(s, buf, (size_t)(total - sent < (long long)len ? total - sent : (long long)len));
        if (w <= 0)
            die("send");
        sent += w;
    }
    shutdown(s, SHUT_WR);
    char c;
    if (read(s, &c, 1) < 0)   /* the host closes once it has it all */
        die("waiting for the peer");
    double dt = now() - t;
    printf("iobench tcpsend %.1f MB/s\n", (double)total / dt / 1e6);
    close(s);
}

static void tcprecv(const char *ip, const char *port)
{
    int s = connect_to(ip, port);
    size_t len = 256 * 1024;
    char *buf = aligned(len);
    long long got = 0;
    double t = now();
    for (;;) {
        ssize_t r = read(s, buf, len);
        if (r < 0)
            die("receive");
        if (r == 0)
            break;
        got += r;
    }
    double dt = now() - t;
    printf("iobench tcprecv %.1f MB/s (%lld bytes)\n", (double)got / dt / 1e6, got);
    close(s);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "seq"))
        seq(argv[2], atol(argv[3]));
    else if (argc == 5 && !strcmp(argv[1], "rand"))
        rand_io(argv[2], atol(argv[3]), atof(argv[4]));
    else if (argc == 5 && !strcmp(argv[1], "tcpsend"))
        tcpsend(argv[2], argv[3], atol(argv[4]));
    else if (argc == 4 && !strcmp(argv[1], "tcprecv"))
        tcprecv(argv[2], argv[3]);
    else {
        fprintf(stderr, "usage: iobench seq DEV MIB | rand DEV MIB SECS | tcpsend IP PORT MIB | tcprecv IP PORT\n");
        return 2;
    }
    return 0;
}
