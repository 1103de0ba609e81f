/* The MMDS's HTTP answers to the guest (see mmds_http.h). */
#include "api/mmds_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URI_MAX 2048u
#define TOKEN_PATH "/latest/api/token"

/* What one request's head says. */
struct req {
    const char *method, *uri, *path;
    size_t method_len, uri_len, path_len;
    bool http10;
    bool keep_alive, close;       /* Connection: keep-alive / close */
    bool json;                    /* Accept: application/json */
    bool forwarded;               /* X-Forwarded-For */
    const char *token;            /* X-metadata-token / X-aws-ec2-metadata-token */
    size_t token_len;
    bool has_token;
    const char *ttl, *ttl_name;   /* X-metadata-token-ttl-seconds / X-aws-... */
    size_t ttl_len;
    size_t content_length;
};

struct answer {
    unsigned status;
    const char *type;             /* Content-Type */
    char *body;                   /* malloc'd or NULL */
    size_t body_len;
    const char *extra;            /* more header lines ("Name: value\r\n"), or NULL */
    char extra_buf[96];
};

static const char *reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 501: return "Not Implemented";
    default: return "Internal Server Error";
    }
}

static void text(struct answer *a, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void text(struct answer *a, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *b = NULL;
    int n = vasprintf(&b, fmt, ap);
    va_end(ap);
    a->status = n < 0 ? 500 : status;
    a->type = "text/plain";
    a->body = n < 0 ? NULL : b;
    a->body_len = n < 0 ? 0 : (size_t)n;
}

/* The answer's bytes: status line, headers, body. */
static bool render(const struct answer *a, bool http10, bool close, uint8_t **out, size_t *out_len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.%c %u %s\r\nServer: minnow MMDS\r\nConnection: %s\r\nContent-Type: %s\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     http10 ? '0' : '1', a->status, reason(a->status), close ? "close" : "keep-alive",
                     a->type ? a->type : "text/plain", a->extra ? a->extra : "", a->body_len);
    if (n < 0 || (size_t)n >= sizeof head)
        return false;
    uint8_t *b = malloc((size_t)n + a->body_len);
    if (!b)
        return false;
    memcpy(b, head, (size_t)n);
    if (a->body_len)
        memcpy(b + n, a->body, a->body_len);
    *out = b;
    *out_len = (size_t)n + a->body_len;
    return true;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && !strncasecmp(name, want, len);
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether a comma-separated header value lists item (case-insensitive). */
static bool lists(const char *v, size_t len, const char *item)
{
    size_t il = strlen(item), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < len && v[i] != ',' && v[i] != ';')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == il && !strncasecmp(v + s, item, il))
            return true;
        while (i < len && v[i] != ',')
            i++;
    }
    return false;
}

/* Parses the head (head_len bytes, ending in the blank line's CRLF CRLF).
 * false: malformed, *why says how. */
static bool parse_head(const char *h, size_t head_len, struct req *r, const char **why)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < head_len; i++) {
        unsigned char c = (unsigned char)h[i];
        if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f ||
            (c == '\r' && (i + 1 >= head_len || h[i + 1] != '\n')) || (c == '\n' && (!i || h[i - 1] != '\r'))) {
            *why = "Invalid character in the request head.";
            return false;
        }
    }
    const char *end = h + head_len;
    const char *eol = memchr(h, '\r', head_len);
    /* Request line: METHOD SP URI SP HTTP/1.x */
    const char *sp1 = memchr(h, ' ', (size_t)(eol - h));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2) {
        *why = "Invalid request line.";
        return false;
    }
    r->method = h;
    r->method_len = (size_t)(sp1 - h);
    r->uri = sp1 + 1;
    r->uri_len = (size_t)(sp2 - sp1 - 1);
    const char *ver = sp2 + 1;
    size_t ver_len = (size_t)(eol - ver);
    if (!r->method_len || r->method_len > 16) {
        *why = "Invalid HTTP method.";
        return false;
    }
    for (size_t i = 0; i < r->method_len; i++)
        if (!is_tchar((unsigned char)r->method[i])) {
            *why = "Invalid HTTP method.";
            return false;
        }
    if (!r->uri_len || r->uri_len > URI_MAX) {
        *why = "Invalid URI.";
        return false;
    }
    if (ver_len == 8 && !memcmp(ver, "HTTP/1.1", 8))
        r->http10 = false;
    else if (ver_len == 8 && !memcmp(ver, "HTTP/1.0", 8))
        r->http10 = true;
    else {
        *why = "Unsupported HTTP version.";
        return false;
    }
    for (size_t i = 0; i < r->uri_len; i++)
        if ((unsigned char)r->uri[i] <= 0x20 || (unsigned char)r->uri[i] >= 0x7f) {
            *why = "Invalid URI.";
            return false;
        }
    /* The absolute form (a proxy's): the path is what follows the authority. */
    r->path = r->uri;
    r->path_len = r->uri_len;
    if (r->uri_len >= 7 && !strncasecmp(r->uri, "http://", 7)) {
        const char *slash = memchr(r->uri + 7, '/', r->uri_len - 7);
        r->path = slash ? slash : r->uri + r->uri_len;
        r->path_len = (size_t)(r->uri + r->uri_len - r->path);
    }
    bool has_length = false;
    for (const char *line = eol + 2; line < end - 2;) {
        const char *le = memchr(line, '\r', (size_t)(end - line));
        if (line[0] == ' ' || line[0] == '\t') {
            *why = "Folded header lines are not supported.";
            return false;
        }
        const char *colon = memchr(line, ':', (size_t)(le - line));
        if (!colon || colon == line) {
            *why = "Invalid header line.";
            return false;
        }
        size_t nlen = (size_t)(colon - line);
        for (size_t i = 0; i < nlen; i++)
            if (!is_tchar((unsigned char)line[i])) {
                *why = "Invalid header name.";
                return false;
            }
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        size_t vlen = (size_t)(ve - v);
        if (name_is(line, nlen, "content-length")) {
            size_t n = 0;
            if (!vlen || vlen > 9) {
                *why = "Invalid Content-Length.";
                return false;
            }
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] < '0' || v[i] > '9') {
                    *why = "Invalid Content-Length.";
                    return false;
                }
                n = n * 10 + (size_t)(v[i] - '0');
            }
            if (has_length && n != r->content_length) {
                *why = "Conflicting Content-Length headers.";
                return false;
            }
            has_length = true;
            r->content_length = n;
        } else if (name_is(line, nlen, "transfer-encoding")) {
            *why = "Transfer-Encoding is not supported.";
            return false;
        } else if (name_is(line, nlen, "connection")) {
            r->close |= lists(v, vlen, "close");
            r->keep_alive |= lists(v, vlen, "keep-alive");
        } else if (name_is(line, nlen, "accept")) {
            r->json |= lists(v, vlen, "application/json");
        } else if (name_is(line, nlen, "x-forwarded-for")) {
            r->forwarded = true;
        } else if (name_is(line, nlen, "x-metadata-token") || name_is(line, nlen, "x-aws-ec2-metadata-token")) {
            r->token = v;
            r->token_len = vlen;
            r->has_token = true;
        } else if (name_is(line, nlen, "x-metadata-token-ttl-seconds")) {
            r->ttl = v;
            r->ttl_len = vlen;
            r->ttl_name = "X-metadata-token-ttl-seconds";
        } else if (name_is(line, nlen, "x-aws-ec2-metadata-token-ttl-seconds")) {
            r->ttl = v;
            r->ttl_len = vlen;
            r->ttl_name = "X-aws-ec2-metadata-token-ttl-seconds";
        }
        line = le + 2;
    }
    return true;
}

/* Firecracker's sanitize_uri: repeated '/' count as one. */
static bool path_is(const char *p, size_t n, const char *want)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/' && i && p[i - 1] == '/')
            continue;
        if (!want[w] || want[w] != p[i])
            return false;
        w++;
    }
    return !want[w];
}

static void get(struct mmds_store *s, const struct req *r, uint64_t now, struct answer *a)
{
    bool valid = r->has_token && mmds_store_token_valid(s, r->token, r->token_len, now);
    mmds_store_count_get(s, r->has_token, valid);
    if (mmds_store_v2(s)) {
        if (!r->has_token) {
            text(a, 401, "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` header "
                 "to specify the session token.");
            return;
        }
        if (!valid) {
            text(a, 401, "MMDS token not valid.");
            return;
        }
    }
    char *out;
    size_t len;
    bool json;
    switch (mmds_store_lookup(s, r->path, r->path_len, r->json, &out, &len, &json)) {
    case MMDS_LOOKUP_OK:
        a->status = 200;
        a->type = json ? "application/json" : "text/plain";
        a->body = out;
        a->body_len = len;
        return;
    case MMDS_LOOKUP_NOT_FOUND:
        text(a, 404, "Resource not found: %.*s.", (int)r->path_len, r->path);
        return;
    case MMDS_LOOKUP_UNSUPPORTED:
        text(a, 501, "Cannot retrieve value. The value has an unsupported type.");
        return;
    case MMDS_LOOKUP_NOMEM:
        break;
    }
    text(a, 500, "Out of memory.");
}

static void put(struct mmds_store *s, const struct req *r, uint64_t now, struct answer *a)
{
    if (r->forwarded) {
        text(a, 400, "Unsupported header name. Key: X-Forwarded-For");
        return;
    }
    if (!path_is(r->path, r->path_len, TOKEN_PATH)) {
        text(a, 404, "Resource not found: %.*s.", (int)r->path_len, r->path);
        return;
    }
    if (!r->ttl) {
        text(a, 400, "Token time to live value not found. Use `X-metadata-token-ttl-seconds` or "
             "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's lifetime.");
        return;
    }
    unsigned long long ttl = 0;
    bool ok = r->ttl_len > 0 && r->ttl_len <= 10;
    for (size_t i = 0; ok && i < r->ttl_len; i++) {
        ok = r->ttl[i] >= '0' && r->ttl[i] <= '9';
        ttl = ttl * 10 + (unsigned long long)(r->ttl[i] - '0');
    }
    if (!ok || ttl > UINT32_MAX) {
        text(a, 400, "Invalid value. Key:%s; Value:%.*s", r->ttl_name, (int)(r->ttl_len > 64 ? 64 : r->ttl_len),
             r->ttl);
        return;
    }
    char token[MMDS_STORE_TOKEN_LEN + 1];
    if (ttl < MMDS_TOKEN_TTL_MIN || ttl > MMDS_TOKEN_TTL_MAX ||
        mmds_store_token_new(s, (unsigned)ttl, now, token)) {
        text(a, 400, "Invalid time to live value provided for token: %llu. Please provide a value between %u "
             "and %u.", ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
        return;
    }
    text(a, 200, "%s", token);
    memset(token, 0, sizeof token);
    snprintf(a->extra_buf, sizeof a->extra_buf, "%s: %llu\r\n", r->ttl_name, ttl);
    a->extra = a->extra_buf;
}

/* Finds the end of the head: the offset after CRLF CRLF, 0 if not there. */
static size_t head_end(const uint8_t *b, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (b[i] == '\n' && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r')
            return i + 1;
    return 0;
}

long mmds_http_handle(struct mmds_store *s, const uint8_t *buf, size_t len, uint64_t now_ms, uint8_t **resp,
                      size_t *resp_len, bool *close)
{
    *resp = NULL;
    *resp_len = 0;
    *close = false;
    struct answer a = { 0 };
    size_t look = len < MMDS_HTTP_HEAD_MAX ? len : MMDS_HTTP_HEAD_MAX;
    size_t hlen = head_end(buf, look);
    struct req r;
    const char *why = NULL;
    if (!hlen) {
        /* A NUL can never be part of a head: no need to wait for more. */
        if (look < MMDS_HTTP_HEAD_MAX && !memchr(buf, 0, look))
            return 0;
        why = look < MMDS_HTTP_HEAD_MAX ? "Invalid character in the request head." : "Request head too long.";
    } else if (!parse_head((const char *)buf, hlen, &r, &why)) {
        /* why is set */
    } else if (r.content_length > MMDS_HTTP_BODY_MAX) {
        text(&a, 413, "Request payload with size %zu is larger than the limit of %u allowed by server.",
             r.content_length, MMDS_HTTP_BODY_MAX);
        *close = true;
        render(&a, r.http10, true, resp, resp_len);
        free(a.body);
        return -1;
    }
    if (why) {
        text(&a, 400, "%s", why);
        *close = true;
        render(&a, false, true, resp, resp_len);
        free(a.body);
        return -1;
    }
    if (len - hlen < r.content_length)
        return 0;
    if (!r.path_len) {
        text(&a, 400, "Invalid URI.");
    } else if (r.method_len == 3 && !memcmp(r.method, "GET", 3)) {
        get(s, &r, now_ms, &a);
    } else if (r.method_len == 3 && !memcmp(r.method, "PUT", 3)) {
        put(s, &r, now_ms, &a);
    } else {
        text(&a, 405, "Not allowed HTTP method.");
        a.extra = "Allow: GET, PUT\r\n";
    }
    *close = r.close || (r.http10 && !r.keep_alive);
    bool ok = render(&a, r.http10, *close, resp, resp_len);
    free(a.body);
    if (!ok) {
        *close = true;
        return -1;
    }
    return (long)(hlen + r.content_length);
}

long mmds_http_request(void *store, const uint8_t *buf, size_t len, uint8_t **resp, size_t *resp_len, bool *close)
{
    return mmds_http_handle(store, buf, len, mmds_store_now_ms(), resp, resp_len, close);
}
