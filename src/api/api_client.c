/* The API client (see api_client.h). */
#include "api/api_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int api_client_request(const char *sock, const char *method, const char *path, const char *body, int *status,
                       char *reply, size_t cap, struct errmsg *e)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(sock) >= sizeof sa.sun_path)
        return errmsg_set(e, -ENAMETOOLONG, "--api-sock %s: the path is too long", sock);
    strcpy(sa.sun_path, sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        int r = errmsg_set(e, -errno, "--api-sock %s: %s (is a minnow serving it?)", sock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return r;
    }
    char head[512];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n", method, path,
                     body ? "Content-Type: application/json\r\n" : "", blen);
    int r = 0;
    if (n < 0 || (size_t)n >= sizeof head)
        r = errmsg_set(e, -EINVAL, "request line too long");
    else if (send(fd, head, (size_t)n, MSG_NOSIGNAL) != n ||
             (blen && send(fd, body, blen, MSG_NOSIGNAL) != (ssize_t)blen))
        r = errmsg_set(e, -errno, "--api-sock %s: %s", sock, strerror(errno));
    /* The whole reply, up to 64 KiB: the server closes after it. */
    size_t got = 0, max = 64 * 1024;
    char *buf = r ? NULL : malloc(max + 1);
    if (!r && !buf)
        r = errmsg_set(e, -ENOMEM, "out of memory");
    while (!r && got < max) {
        ssize_t k = recv(fd, buf + got, max - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (r) {
        free(buf);
        return r;
    }
    buf[got] = 0;
    const char *sep = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/1.%*d %d", status) != 1 || !sep) {
        free(buf);
        return errmsg_set(e, -EPROTO, "--api-sock %s: not an HTTP answer", sock);
    }
    snprintf(reply, cap, "%s", sep + 4);
    free(buf);
    return 0;
}
