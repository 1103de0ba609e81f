/* Checking an HTTP request head (see api_http_head.h). */
#include "api/api_http_head.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

long api_http_head_bad_byte(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
            return (long)i;
    }
    return -1;
}

size_t api_http_head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* RFC 9110 tchar */
static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static unsigned fail(char *msg, size_t n, unsigned status, const char *text)
{
    snprintf(msg, n, "%s", text);
    return status;
}

unsigned api_http_head_check(const char *head, size_t len, uint64_t max_body, struct api_http_head *out,
                             char *msg, size_t msg_size)
{
    out->content_length = 0;
    long bad = api_http_head_bad_byte(head, len);
    if (bad >= 0) {
        snprintf(msg, msg_size, "the request line or a header contains the control byte 0x%02x (at offset %ld)",
                 (unsigned)(unsigned char)head[bad], bad);
        return 400;
    }
    if (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4))
        return fail(msg, msg_size, 400, "the request head does not end with an empty line");
    /* The request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    const char *end = memchr(head, '\r', len);
    const char *p = head, *sp1 = memchr(p, ' ', (size_t)(end - p));
    if (!sp1 || sp1 == p)
        return fail(msg, msg_size, 400, "malformed request line: expected METHOD PATH HTTP/1.1");
    for (const char *q = p; q < sp1; q++)
        if (!is_tchar(*q))
            return fail(msg, msg_size, 400, "malformed request line: the method is not a token");
    const char *t = sp1 + 1, *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t || *t != '/')
        return fail(msg, msg_size, 400, "malformed request line: expected METHOD PATH HTTP/1.1 with a path "
                    "starting with '/'");
    for (const char *q = t; q < sp2; q++)
        if (*q == '\t' || *q == '\n')
            return fail(msg, msg_size, 400, "malformed request line: whitespace in the path");
    size_t vlen = (size_t)(end - (sp2 + 1));
    if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1')) {
        if (vlen >= 5 && !memcmp(sp2 + 1, "HTTP/", 5))
            return fail(msg, msg_size, 505, "HTTP version not supported: expected HTTP/1.0 or HTTP/1.1");
        return fail(msg, msg_size, 400, "malformed request line: expected METHOD PATH HTTP/1.1");
    }
    if (end[1] != '\n')
        return fail(msg, msg_size, 400, "malformed request line: a CR without LF");
    /* Headers: NAME ":" OWS VALUE CRLF, each checked for what framing needs. */
    bool have_cl = false;
    for (p = end + 2; p < head + len - 2;) {
        const char *e = memchr(p, '\r', (size_t)(head + len - p));
        if (!e || e[1] != '\n')
            return fail(msg, msg_size, 400, "malformed header: a line that does not end with CRLF");
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (!colon || colon == p)
            return fail(msg, msg_size, 400, "malformed header: expected NAME: VALUE");
        for (const char *q = p; q < colon; q++)
            if (!is_tchar(*q))
                return fail(msg, msg_size, 400, "malformed header: the name is not a token (folded or "
                            "with whitespace?)");
        if (memchr(p, '\n', (size_t)(e - p)))
            return fail(msg, msg_size, 400, "malformed header: a bare LF");
        size_t nlen = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        const char *ve = e;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (nlen == 17 && !strncasecmp(p, "Transfer-Encoding", 17))
            return fail(msg, msg_size, 400, "Transfer-Encoding is not supported: send the body with "
                        "Content-Length");
        if (nlen == 14 && !strncasecmp(p, "Content-Length", 14)) {
            uint64_t n = 0;
            if (v == ve || ve - v > 15)
                return fail(msg, msg_size, 400, "malformed header: Content-Length is not a decimal number");
            for (const char *q = v; q < ve; q++) {
                if (*q < '0' || *q > '9')
                    return fail(msg, msg_size, 400, "malformed header: Content-Length is not a decimal number");
                n = n * 10 + (uint64_t)(*q - '0');
            }
            if (have_cl && n != out->content_length)
                return fail(msg, msg_size, 400, "malformed header: two different Content-Length values");
            have_cl = true;
            out->content_length = n;
        }
        p = e + 2;
    }
    if (out->content_length > max_body) {
        /* Firecracker's answer: 400 and this sentence. */
        snprintf(msg, msg_size, "Request payload with size %llu is larger than the limit of %llu allowed by server.",
                 (unsigned long long)out->content_length, (unsigned long long)max_body);
        return 400;
    }
    return 0;
}
