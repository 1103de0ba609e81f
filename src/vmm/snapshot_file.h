/* The snapshot state file: what `PUT /snapshot/create` writes to
 * snapshot_path and `PUT /snapshot/load` / `minnow restore` read back.
 *
 *   header (40 bytes, little-endian):
 *     magic "MINNOWSN", u32 format version, u32 flags (SNAPSHOT_DIFF:
 *     the memory file holds only the pages dirtied since the previous
 *     snapshot), u64 guest RAM bytes (the memory file's size), u64 payload
 *     bytes, u32 CRC-32 of the payload, u32 zero
 *   payload: three blobs (util/snapbuf.h): the VM's configuration as JSON
 *     (the shape of GET /vm/config), the machine state
 *     (machine/virt_snapshot.h), and for a Diff snapshot the bitmap of
 *     the pages its memory file holds (one bit per 4 KiB page; empty for
 *     a Full one), which snapshot-merge uses
 *
 * Reading checks magic, version, sizes and checksum before anything uses
 * the contents, so a truncated, corrupted or foreign file is refused with
 * a message that says which. Writing goes to a temporary name in the same
 * directory, is synced, and renamed: a crash mid-write never leaves a file
 * under the final name. The memory file is written the same way. */
#ifndef MINNOW_VMM_SNAPSHOT_FILE_H
#define MINNOW_VMM_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

#define SNAPSHOT_FORMAT_VERSION 1u
#define SNAPSHOT_DIFF 1u
/* A state file is small (registers and device state); anything larger is
 * not one. */
#define SNAPSHOT_MAX_BYTES (64u << 20)

struct snapshot_file {
    uint32_t flags;
    uint64_t mem_size;
    const char *config_json;    /* NUL-terminated */
    const uint8_t *machine;     /* the machine state blob */
    size_t machine_len;
    const uint64_t *pages;      /* Diff: the bitmap of pages in the memory file */
    size_t pages_words;
    void *data;                 /* read: the allocations the above point into */
};

/* Writes f (data unused) to path atomically (temporary name, fsync,
 * rename). */
int snapshot_file_write(const char *path, const struct snapshot_file *f, struct errmsg *e);
/* Reads and checks a state file; on success free it with
 * snapshot_file_free. Errors name the path and what is wrong with it. */
int snapshot_file_read(const char *path, struct snapshot_file *out, struct errmsg *e);
void snapshot_file_free(struct snapshot_file *f);

/* Copies the pages a Diff snapshot f holds from its memory file diff_mem
 * onto base_mem (the memory file of the snapshot it was taken after), in
 * place: base_mem then restores with f's state. Both must be f->mem_size
 * bytes long. */
int snapshot_file_merge(const struct snapshot_file *f, const char *diff_mem, const char *base_mem,
                        uint64_t *pages_copied, struct errmsg *e);

/* Opens a temporary file next to `path` for writing (its name in tmp,
 * which must hold PATH_MAX bytes); snapshot_file_commit syncs, closes and
 * renames it to path, snapshot_file_abort closes and removes it. */
int snapshot_file_create_tmp(const char *path, char *tmp, int *fd, struct errmsg *e);
int snapshot_file_commit(int fd, const char *tmp, const char *path, struct errmsg *e);
void snapshot_file_abort(int fd, const char *tmp);

#endif
