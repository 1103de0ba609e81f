/* Writing a snapshot's pair of files so that a crash (kill -9, a full
 * disk, a power cut) at any moment leaves the old pair or the new one
 * under the paths the user gave, never a mix.
 *
 * The state file is the commit point. A create writes the memory file
 * under a temporary name derived from the new snapshot's id
 * ("MEM.tmp-<id>", next to MEM), syncs it and its directory, writes and
 * syncs the state file under "STATE.tmp-<id>", renames that onto STATE
 * (the commit), then renames the memory file onto MEM. Before the commit
 * STATE and MEM are the old pair, untouched. After it, STATE carries the
 * new id: if the last rename did not happen, MEM still carries the old id
 * and the new memory file is "MEM.tmp-<new id>", which a restore
 * (vmm/snapshot_mem.h: snapshot_mem_open) and the next create find by the
 * id and rename onto MEM, finishing the create. Temporary files of a
 * create that did not reach its commit are removed by the next create
 * onto the same paths (only names of exactly that pattern, regular files).
 *
 * Destinations that exist must be regular files: a device node, FIFO,
 * socket (minnow's own API socket among them), directory or symlink at
 * STATE or MEM is refused and left alone. */
#ifndef MINNOW_VMM_SNAPSHOT_COMMIT_H
#define MINNOW_VMM_SNAPSHOT_COMMIT_H

#include <limits.h>
#include <stdint.h>

#include "util/errmsg.h"
#include "vmm/snapshot_file.h"

/* ".tmp-" and an id in hex after a name. */
#define SNAPSHOT_TMP_SUFFIX_LEN (5 + 2 * SNAPSHOT_ID_BYTES)

struct snapshot_commit {
    const char *state_path, *mem_path;
    int state_dir, mem_dir;             /* their directories, O_DIRECTORY */
    char state_name[NAME_MAX + 1], mem_name[NAME_MAX + 1];
    char state_tmp[NAME_MAX + 1], mem_tmp[NAME_MAX + 1];
    int mem_fd;                         /* the new memory file, open for writing */
    int state_tmp_made;
    uint8_t id[SNAPSHOT_ID_BYTES];      /* the new snapshot's */
};

/* Checks both destinations, finishes a create that was killed after its
 * commit point, removes stale temporary files, and opens the new memory
 * file (c->mem_fd, empty: the caller writes guest RAM from offset 0). */
int snapshot_commit_begin(struct snapshot_commit *c, const char *state_path, const char *mem_path,
                          struct errmsg *e);
/* Writes the memory file's trailer (f->mem_size, f->id must be c->id) and
 * the state file f, syncs and commits both as described above. On error
 * before the commit point nothing under the final names has changed and
 * the temporary files are gone. Always releases c. */
int snapshot_commit_finish(struct snapshot_commit *c, const struct snapshot_file *f, uint32_t mem_kind,
                           struct errmsg *e);
/* Drops a create before finish: removes its temporary files. */
void snapshot_commit_abort(struct snapshot_commit *c);

/* Shared with snapshot_mem.c. */
/* Opens path's directory (*dirfd) and copies its last component into
 * name (NAME_MAX + 1 bytes); `what` names the path in errors. */
int snapshot_path_split(const char *path, const char *what, int *dirfd, char *name, struct errmsg *e);
/* Refuses an existing name in dirfd that is not a regular file (not
 * following a symlink). */
int snapshot_dest_check(int dirfd, const char *name, const char *path, const char *what, struct errmsg *e);
/* name + ".tmp-" + id in hex into out (NAME_MAX + 1 bytes). */
int snapshot_tmp_name(const char *name, const uint8_t id[SNAPSHOT_ID_BYTES], char *out, const char *path,
                      struct errmsg *e);
/* Removes the regular files "<name>.tmp-<32 hex digits>" in dirfd, but
 * not `keep` (NULL: none). */
void snapshot_tmp_clean(int dirfd, const char *name, const char *keep);
/* write(2)/pwrite(2) until done: 0 or a negative errno. */
int snapshot_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

#endif
