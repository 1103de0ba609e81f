/* Snapshot state encoding (see snapbuf.h). */
#include "util/snapbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void snapw_init(struct snap_writer *w)
{
    memset(w, 0, sizeof *w);
}

void snapw_free(struct snap_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void snapw_bytes(struct snap_writer *w, const void *p, size_t n)
{
    if (w->err || !n)
        return;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len < n) {
            if (cap > SIZE_MAX / 2) {
                w->err = -ENOMEM;
                return;
            }
            cap *= 2;
        }
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            w->err = -ENOMEM;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void put_le(struct snap_writer *w, uint64_t v, unsigned n)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    snapw_bytes(w, b, n);
}

void snapw_u8(struct snap_writer *w, uint8_t v) { put_le(w, v, 1); }
void snapw_u16(struct snap_writer *w, uint16_t v) { put_le(w, v, 2); }
void snapw_u32(struct snap_writer *w, uint32_t v) { put_le(w, v, 4); }
void snapw_u64(struct snap_writer *w, uint64_t v) { put_le(w, v, 8); }

void snapw_blob(struct snap_writer *w, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        w->err = -EOVERFLOW;
        return;
    }
    snapw_u32(w, (uint32_t)n);
    snapw_bytes(w, p, n);
}

void snapr_init(struct snap_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}

void snapr_bytes(struct snap_reader *r, void *out, size_t n)
{
    if (r->err || n > r->len - r->pos) {
        r->err = true;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->pos, n);
    r->pos += n;
}

static uint64_t get_le(struct snap_reader *r, unsigned n)
{
    uint8_t b[8];
    snapr_bytes(r, b, n);
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

uint8_t snapr_u8(struct snap_reader *r) { return (uint8_t)get_le(r, 1); }
uint16_t snapr_u16(struct snap_reader *r) { return (uint16_t)get_le(r, 2); }
uint32_t snapr_u32(struct snap_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t snapr_u64(struct snap_reader *r) { return get_le(r, 8); }

size_t snapr_blob(struct snap_reader *r, void *out, size_t max)
{
    uint32_t n = snapr_u32(r);
    if (r->err || n > max) {
        r->err = true;
        return 0;
    }
    snapr_bytes(r, out, n);
    return r->err ? 0 : n;
}

void snapr_sub(struct snap_reader *r, struct snap_reader *sub)
{
    uint32_t n = snapr_u32(r);
    if (r->err || n > r->len - r->pos) {
        r->err = true;
        snapr_init(sub, r->p, 0);
        sub->err = true;
        return;
    }
    snapr_init(sub, r->p + r->pos, n);
    r->pos += n;
}

bool snapr_ok(const struct snap_reader *r)
{
    return !r->err && r->pos == r->len;
}
