/* The byte format of snapshot state: a growable writer and a bounds-checked
 * reader of little-endian integers and byte strings. Every module that has
 * state to snapshot writes it with snapw_* and reads it back with snapr_*
 * in the same order.
 *
 * Reading never goes past the end: a short or corrupt input makes every
 * later read return 0 and leaves r->err set, so a load function reads all
 * its fields, validates the values it got, and checks snapr_ok() once at
 * the end. Values read from a snapshot file are as hostile as anything the
 * guest writes: a load function checks each one (queue sizes, indices,
 * enum values) before it uses it. */
#ifndef MINNOW_UTIL_SNAPBUF_H
#define MINNOW_UTIL_SNAPBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_writer {
    uint8_t *buf;
    size_t len, cap;
    int err;            /* -ENOMEM once an allocation failed */
};

void snapw_init(struct snap_writer *w);
void snapw_free(struct snap_writer *w);
void snapw_u8(struct snap_writer *w, uint8_t v);
void snapw_u16(struct snap_writer *w, uint16_t v);
void snapw_u32(struct snap_writer *w, uint32_t v);
void snapw_u64(struct snap_writer *w, uint64_t v);
void snapw_bytes(struct snap_writer *w, const void *p, size_t n);
/* A byte string with its u32 length first (read back with snapr_blob). */
void snapw_blob(struct snap_writer *w, const void *p, size_t n);

struct snap_reader {
    const uint8_t *p;
    size_t len, pos;
    bool err;           /* a read went past the end */
};

void snapr_init(struct snap_reader *r, const void *p, size_t len);
uint8_t snapr_u8(struct snap_reader *r);
uint16_t snapr_u16(struct snap_reader *r);
uint32_t snapr_u32(struct snap_reader *r);
uint64_t snapr_u64(struct snap_reader *r);
/* Copies n bytes into out (zeros when they are not there). */
void snapr_bytes(struct snap_reader *r, void *out, size_t n);
/* A snapw_blob: its length must be at most max; returns it, with the
 * bytes in out. Longer or missing: 0 and r->err. */
size_t snapr_blob(struct snap_reader *r, void *out, size_t max);
/* A snapw_blob read in place: sub reads its bytes (no copy). */
void snapr_sub(struct snap_reader *r, struct snap_reader *sub);
/* Every read so far was inside the input, and all of it was read. */
bool snapr_ok(const struct snap_reader *r);

#endif
