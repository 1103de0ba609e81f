/* The directories a migration target's command line lets an incoming
 * configuration name (--allow-path DIR): a path the source sends (a drive,
 * the serial output, a socket to create) is taken only if, with symlinks
 * resolved, it lies inside one of them. */
#ifndef MINNOW_API_PATH_ALLOW_H
#define MINNOW_API_PATH_ALLOW_H

#include "util/errmsg.h"

#define PATH_ALLOW_MAX 16u

struct path_allow {
    char *dirs[PATH_ALLOW_MAX];   /* canonical, without a trailing '/' (except "/") */
    unsigned n;
};

void path_allow_init(struct path_allow *a);
void path_allow_free(struct path_allow *a);
/* Adds a directory (which must exist). `what` names the option. */
int path_allow_add(struct path_allow *a, const char *what, const char *dir, struct errmsg *e);
/* 0 if path is inside an allowed directory, else -EPERM with a message
 * naming `what` and the path. A path that does not exist yet (a socket
 * to create) is judged by its directory. */
int path_allow_check(const struct path_allow *a, const char *what, const char *path, struct errmsg *e);

#endif
