/* Checking one HTTP/1.x request head (request line and headers, up to the
 * blank line) before libmicrohttpd sees it. libmicrohttpd answers framing
 * errors itself, with HTML pages, and reads a NUL or other control byte as
 * the end of a string (so "GET /\0junk" is served as GET /); a head that
 * passes this check is one it parses the way we do, and every head that
 * does not gets Firecracker's JSON error from us. */
#ifndef MINNOW_API_API_HTTP_HEAD_H
#define MINNOW_API_API_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#define API_HTTP_HEAD_MAX 8192u

struct api_http_head {
    uint64_t content_length;   /* 0 without a Content-Length header */
};

/* head: len bytes ending with the blank line ("\r\n\r\n"). Returns 0 and
 * fills *out, or the HTTP status to answer (400, 505) with a sentence
 * for fault_message in msg. */
unsigned api_http_head_check(const char *head, size_t len, uint64_t max_body, struct api_http_head *out,
                             char *msg, size_t msg_size);
/* Where the head ends in buf (the offset just past "\r\n\r\n"), or 0 if it
 * has not ended yet. */
size_t api_http_head_end(const char *buf, size_t len);
/* The first byte of buf that may never appear in a head (a control byte
 * other than CR, LF and tab, or DEL), or -1. */
long api_http_head_bad_byte(const char *buf, size_t len);

#endif
