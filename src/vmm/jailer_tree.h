/* The jail's directory tree on the host: <base>/<name>/<id>/root and what
 * goes in it (copies, hard links, device nodes, directories), remembering
 * what was made so a failed jail can be taken down again; and the removal
 * of a jail's tree by `minnow jail --cleanup`. Everything inside the root
 * is made relative to a descriptor of it (no path is followed through a
 * symlink), and removal never follows a symlink or crosses a mount. */
#ifndef MINNOW_VMM_JAILER_TREE_H
#define MINNOW_VMM_JAILER_TREE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/errmsg.h"

#define JAILER_TREE_MADE_MAX 32

struct jailer_tree {
    char id_dir[PATH_MAX];          /* <base>/<name>/<id>, absolute */
    char root[PATH_MAX + 8];        /* <id_dir>/root */
    int root_fd;                    /* the root directory, -1 when closed */
    /* Directories above the root made here, outermost first, and
     * whether id_dir is one of them. */
    char *made[JAILER_TREE_MADE_MAX];
    unsigned nmade;
};

/* Makes the root (and every missing directory above it, mode 0755). A
 * root that exists already is refused: it is another jail's, or one not
 * cleaned up. base must be a directory if it exists. */
int jailer_tree_create(struct jailer_tree *t, const char *base, const char *name, const char *id, struct errmsg *e);

/* Inside the root (path relative to it, e.g. "lib/x86_64-linux-gnu/libc.so.6";
 * missing parent directories are made root-owned, mode 0755): */
/* a private copy of the host file src with mode. */
int jailer_tree_copy(struct jailer_tree *t, const char *src, const char *path, mode_t mode, struct errmsg *e);
/* a hard link to the host file src (it keeps its owner and mode). */
int jailer_tree_link(struct jailer_tree *t, const char *src, const char *path, struct errmsg *e);
/* a character device node, owned by uid:gid. */
int jailer_tree_mknod(struct jailer_tree *t, const char *path, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
                      struct errmsg *e);
int jailer_tree_mkdir(struct jailer_tree *t, const char *path, mode_t mode, struct errmsg *e);
/* A file written with text (the pid file), mode 0644. */
int jailer_tree_write(struct jailer_tree *t, const char *path, const char *text, struct errmsg *e);
/* The root's owner (so minnow can make its sockets there). */
int jailer_tree_chown_root(struct jailer_tree *t, uid_t uid, gid_t gid, struct errmsg *e);

/* Removes the root with everything in it, and the directories above it
 * that jailer_tree_create made (a failed jail). */
void jailer_tree_undo(struct jailer_tree *t);
/* Forgets what was made (the jail stands) and closes the root. */
void jailer_tree_close(struct jailer_tree *t);

/* Removes dir and everything under it, neither following symlinks nor
 * crossing into another file system (a mount inside is an error). */
int jailer_tree_remove(const char *dir, struct errmsg *e);

#endif
