/* Snapshot memory files: guest RAM as it was, byte for byte from offset 0
 * (so a restored VM maps it privately, page-aligned, with no copy), then a
 * 64-byte trailer that binds the file to its state file:
 *
 *   magic "MINNOWMF", u32 format version (SNAPSHOT_FORMAT_VERSION), u32
 *   kind (0: the whole RAM, 1: only a Diff's pages), u64 guest RAM bytes,
 *   the snapshot's id (16 bytes, as in the state file's header), u32
 *   CRC-32 of the bytes before it, zeros to 64 bytes
 *
 * The trailer is written after the RAM and before the file is synced: a
 * memory file with a good trailer was written to its end. */
#ifndef MINNOW_VMM_SNAPSHOT_MEM_H
#define MINNOW_VMM_SNAPSHOT_MEM_H

#include <stdint.h>

#include "util/errmsg.h"
#include "vmm/snapshot_file.h"

#define SNAPSHOT_MEM_TRAILER_BYTES 64u

enum snapshot_mem_kind { SNAPSHOT_MEM_FULL = 0, SNAPSHOT_MEM_DIFF = 1 };

struct snapshot_mem_trailer {
    uint32_t kind;
    uint64_t mem_size;
    uint8_t id[SNAPSHOT_ID_BYTES];
};

/* Writes the trailer at offset t->mem_size of fd (path names it in errors). */
int snapshot_mem_write_trailer(int fd, const char *path, const struct snapshot_mem_trailer *t, struct errmsg *e);
/* Reads fd's trailer: 0, or -EINVAL with a message naming path when the
 * file has none (not a memory file, cut short, or an older minnow's). */
int snapshot_mem_read_trailer(int fd, const char *path, struct snapshot_mem_trailer *t, struct errmsg *e);

/* Opens the memory file that restores state file f (read from
 * state_path): mem_path, if its trailer carries f's id and it holds the
 * whole RAM. If it does not but the memory file a snapshot create wrote
 * for f is still under its temporary name next to mem_path (the create
 * was killed after its commit point, vmm/snapshot_commit.h), that one is
 * renamed onto mem_path (finishing the create) and opened. Returns the
 * fd, or a negative errno with a message naming both files. */
int snapshot_mem_open(const struct snapshot_file *f, const char *state_path, const char *mem_path,
                      struct errmsg *e);

/* Applies the Diff snapshot f (its memory file diff_mem) onto base_mem,
 * the memory file of the snapshot f was taken after: writes a new file
 * (base_mem's pages with diff_mem's over them, f's id in its trailer) and
 * renames it over base_mem, so VMs running from base_mem keep what they
 * have. base_mem then restores with f's state (and no longer with its
 * own). */
int snapshot_mem_merge(const struct snapshot_file *f, const char *state_path, const char *diff_mem,
                       const char *base_mem, uint64_t *pages_copied, struct errmsg *e);

#endif
