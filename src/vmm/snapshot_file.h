/* The snapshot state file: what `PUT /snapshot/create` writes to
 * snapshot_path and `PUT /snapshot/load` / `minnow restore` read back.
 *
 *   header (40 bytes, little-endian):
 *     magic "MINNOWSN", u32 format version, u32 flags (SNAPSHOT_DIFF:
 *     the memory file holds only the pages dirtied since the previous
 *     snapshot), u64 guest RAM bytes (the memory file's size), u64 payload
 *     bytes, u32 CRC-32 of the payload, u32 zero
 *   payload: blob (util/snapbuf.h) with the VM's configuration as JSON
 *     (the shape of GET /vm/config), then blob with the machine state
 *     (machine/virt_snapshot.h)
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
    char *config_json;          /* NUL-terminated */
    uint8_t *machine;           /* the machine state blob */
    size_t machine_len;
    void *data;                 /* the whole file, which the above point into */
};

/* Writes the state file atomically (temporary name, fsync, rename). */
int snapshot_file_write(const char *path, uint32_t flags, uint64_t mem_size, const char *config_json,
                        const uint8_t *machine, size_t machine_len, struct errmsg *e);
/* Reads and checks a state file; on success free it with
 * snapshot_file_free. Errors name the path and what is wrong with it. */
int snapshot_file_read(const char *path, struct snapshot_file *out, struct errmsg *e);
void snapshot_file_free(struct snapshot_file *f);

/* Opens a temporary file next to `path` for writing (its name in tmp,
 * which must hold PATH_MAX bytes); snapshot_file_commit syncs, closes and
 * renames it to path, snapshot_file_abort closes and removes it. */
int snapshot_file_create_tmp(const char *path, char *tmp, int *fd, struct errmsg *e);
int snapshot_file_commit(int fd, const char *tmp, const char *path, struct errmsg *e);
void snapshot_file_abort(int fd, const char *tmp);

#endif
