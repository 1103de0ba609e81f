/* A vsock test peer for the guest (busybox has no vsock support).
 *   vsock_echo listen PORT N
 *       listens on vsock port PORT, prints "vsock_echo: listening PORT",
 *       serves N connections (each in its own process, so they run at the
 *       same time) by echoing every byte until the peer closes, then exits.
 *   vsock_echo connect CID PORT N BYTES
 *       opens N connections to CID:PORT at once, sends BYTES bytes of a
 *       pattern particular to each connection on all of them interleaved,
 *       reads the echo back and checks it byte for byte. Prints
 *       "vsock_echo: connect ok N BYTES" and exits 0, or names what failed
 *       and exits 1.
 * Static riscv64 binary, put into the initramfs by the devices tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define MAX_CONNS 64

static unsigned long num(const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || !*s || *end) {
        fprintf(stderr, "vsock_echo: '%s' is not a number\n", s);
        exit(2);
    }
    return v;
}

static int echo_until_eof(int fd)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("vsock_echo: read");
            return 1;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                perror("vsock_echo: write");
                return 1;
            }
            off += w;
        }
    }
}

static int do_listen(unsigned port, unsigned n)
{
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) {
        perror("vsock_echo: socket(AF_VSOCK)");
        return 1;
    }
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 16)) {
        perror("vsock_echo: bind/listen");
        return 1;
    }
    printf("vsock_echo: listening %u\n", port);
    fflush(stdout);
    for (unsigned i = 0; i < n; i++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            perror("vsock_echo: accept");
            return 1;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("vsock_echo: fork");
            return 1;
        }
        if (pid == 0) {
            close(s);
            _exit(echo_until_eof(c));
        }
        close(c);
    }
    close(s);
    int bad = 0, st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            bad = 1;
    printf("vsock_echo: served %u%s\n", n, bad ? " with errors" : "");
    return bad;
}

static unsigned char pattern(unsigned conn, size_t i)
{
    return (unsigned char)((i * 131u + conn * 17u + (i >> 9)) & 0xff);
}

struct conn {
    int fd;
    size_t sent, got;
    unsigned char *buf;
};

static int do_connect(unsigned cid, unsigned port, unsigned n, size_t bytes)
{
    static struct conn c[MAX_CONNS];
    for (unsigned k = 0; k < n; k++) {
        c[k].fd = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
        if (c[k].fd < 0 || connect(c[k].fd, (struct sockaddr *)&a, sizeof a)) {
            fprintf(stderr, "vsock_echo: connection %u to %u:%u: %s\n", k, cid, port, strerror(errno));
            return 1;
        }
        /* Non-blocking: a write that waits for credit while the peer waits
         * for us to read its echo would deadlock. */
        fcntl(c[k].fd, F_SETFL, O_NONBLOCK);
        c[k].buf = malloc(16384);
    }
    /* Interleave: a chunk to each connection in turn, reading whatever
     * echo is ready, so all N streams are in flight together. */
    unsigned done = 0;
    while (done < n) {
        struct pollfd p[MAX_CONNS];
        for (unsigned k = 0; k < n; k++) {
            p[k].fd = c[k].got < bytes ? c[k].fd : -1;
            p[k].events = POLLIN | (c[k].sent < bytes ? POLLOUT : 0);
        }
        if (poll(p, n, 30000) <= 0) {
            fprintf(stderr, "vsock_echo: no progress for 30 s\n");
            return 1;
        }
        for (unsigned k = 0; k < n; k++) {
            if (p[k].revents & POLLOUT) {
                size_t len = bytes - c[k].sent < 4096 ? bytes - c[k].sent : 4096;
                for (size_t i = 0; i < len; i++)
                    c[k].buf[i] = pattern(k, c[k].sent + i);
                ssize_t w = write(c[k].fd, c[k].buf, len);
                if (w < 0 && errno != EAGAIN) {
                    fprintf(stderr, "vsock_echo: write on connection %u: %s\n", k, strerror(errno));
                    return 1;
                }
                if (w > 0)
                    c[k].sent += (size_t)w;
                if (c[k].sent == bytes)
                    shutdown(c[k].fd, SHUT_WR);
            }
            if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = read(c[k].fd, c[k].buf, 16384);
                if (r < 0 && errno == EAGAIN)
                    continue;
                if (r <= 0) {
                    fprintf(stderr, "vsock_echo: connection %u ended after %zu of %zu echoed bytes (%s)\n",
                            k, c[k].got, bytes, r < 0 ? strerror(errno) : "EOF");
                    return 1;
                }
                for (ssize_t i = 0; i < r; i++)
                    if (c[k].buf[i] != pattern(k, c[k].got + (size_t)i)) {
                        fprintf(stderr, "vsock_echo: connection %u: wrong byte at %zu\n", k,
                                c[k].got + (size_t)i);
                        return 1;
                    }
                c[k].got += (size_t)r;
                if (c[k].got == bytes)
                    done++;
            }
        }
    }
    /* The peer closes after our SHUT_WR: expect EOF on each. */
    for (unsigned k = 0; k < n; k++) {
        char x;
        fcntl(c[k].fd, F_SETFL, 0);
        if (read(c[k].fd, &x, 1) != 0) {
            fprintf(stderr, "vsock_echo: connection %u: extra data or error after the echo\n", k);
            return 1;
        }
        close(c[k].fd);
    }
    printf("vsock_echo: connect ok %u %zu\n", n, bytes);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 4 && !strcmp(argv[1], "listen"))
        return do_listen((unsigned)num(argv[2]), (unsigned)num(argv[3]));
    if (argc == 6 && !strcmp(argv[1], "connect")) {
        unsigned n = (unsigned)num(argv[4]);
        if (n < 1 || n > MAX_CONNS) {
            fprintf(stderr, "vsock_echo: 1 to %d connections\n", MAX_CONNS);
            return 2;
        }
        return do_connect((unsigned)num(argv[2]), (unsigned)num(argv[3]), n, num(argv[5]));
    }
    fprintf(stderr, "usage: vsock_echo listen PORT N | connect CID PORT N BYTES\n");
    return 2;
}
