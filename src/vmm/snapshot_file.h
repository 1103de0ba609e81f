/* The snapshot state file: what `PUT /snapshot/create` writes to
 * snapshot_path and `PUT /snapshot/load` / `minnow restore` read back.
 *
 *   header (72 bytes, little-endian):
 *     magic "MINNOWSN", u32 format version, u32 flags (SNAPSHOT_DIFF:
 *     the memory file holds only the pages dirtied since the previous
 *     snapshot), u64 guest RAM bytes, u64 payload bytes, u32 CRC-32 of
 *     the payload, u32 CRC-32 of the header (this field as zero), the
 *     snapshot's id (16 random bytes, also in its memory file's trailer:
 *     vmm/snapshot_mem.h), and for a Diff the id of the snapshot whose
 *     memory it applies onto (zeros: not known)
 *   payload: three blobs (util/snapbuf.h): the VM's configuration as JSON
 *     (the shape of GET /vm/config), the machine state
 *     (machine/virt_snapshot.h), and for a Diff snapshot the bitmap of
 *     the pages its memory file holds (one bit per 4 KiB page; empty for
 *     a Full one), which snapshot-merge uses
 *
 * Reading checks magic, version, sizes and checksums before anything uses
 * the contents, so a truncated, corrupted, foreign or older file is
 * refused with a message that says which. How the pair is written so that
 * a crash leaves the old pair or the new one: vmm/snapshot_commit.h. */
#ifndef MINNOW_VMM_SNAPSHOT_FILE_H
#define MINNOW_VMM_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

/* 2: the snapshot id binding the state file to its memory file. */
#define SNAPSHOT_FORMAT_VERSION 2u
#define SNAPSHOT_DIFF 1u
/* A state file is small (registers and device state); anything larger is
 * not one. */
#define SNAPSHOT_MAX_BYTES (64u << 20)
#define SNAPSHOT_ID_BYTES 16u
/* Room for an id as hex text and its NUL. */
#define SNAPSHOT_ID_TEXT (2 * SNAPSHOT_ID_BYTES + 1)

struct snapshot_file {
    uint32_t flags;
    uint64_t mem_size;
    uint8_t id[SNAPSHOT_ID_BYTES];
    uint8_t parent[SNAPSHOT_ID_BYTES]; /* Diff: the snapshot it follows (zeros: unknown) */
    const char *config_json;    /* NUL-terminated */
    const uint8_t *machine;     /* the machine state blob */
    size_t machine_len;
    const uint64_t *pages;      /* Diff: the bitmap of pages in the memory file */
    size_t pages_words;
    void *data;                 /* read: the allocations the above point into */
};

/* The whole file for f (data unused) in *buf (free it), or a negative
 * errno with a message naming path. */
int snapshot_file_encode(const char *path, const struct snapshot_file *f, uint8_t **buf, size_t *len,
                         struct errmsg *e);
/* Reads and checks a state file; on success free it with
 * snapshot_file_free. Errors name the path and what is wrong with it. */
int snapshot_file_read(const char *path, struct snapshot_file *out, struct errmsg *e);
void snapshot_file_free(struct snapshot_file *f);
/* The format version in the header of the state file at path (any
 * version, for --describe-snapshot: the rest is not checked). Errors name
 * the path: cannot be opened, not a regular file, too short, not a minnow
 * state file (bad magic). */
int snapshot_file_version(const char *path, uint32_t *version, struct errmsg *e);

/* id as lower-case hex (out holds SNAPSHOT_ID_TEXT bytes). */
void snapshot_id_text(const uint8_t id[SNAPSHOT_ID_BYTES], char *out);
int snapshot_id_is_zero(const uint8_t id[SNAPSHOT_ID_BYTES]);

#endif
