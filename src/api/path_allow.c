/* Allowed directories for paths an incoming migration names (see
 * path_allow.h). */
#include "api/path_allow.h"

#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void path_allow_init(struct path_allow *a)
{
    a->n = 0;
}

void path_allow_free(struct path_allow *a)
{
    for (unsigned i = 0; i < a->n; i++)
        free(a->dirs[i]);
    a->n = 0;
}

int path_allow_add(struct path_allow *a, const char *what, const char *dir, struct errmsg *e)
{
    if (a->n == PATH_ALLOW_MAX)
        return errmsg_set(e, -E2BIG, "%s: at most %u directories", what, PATH_ALLOW_MAX);
    char *c = realpath(dir, NULL);
    struct stat st;
    if (!c || stat(c, &st) || !S_ISDIR(st.st_mode)) {
        int err = c ? ENOTDIR : errno;
        free(c);
        return errmsg_set(e, -err, "%s '%s': %s", what, dir, err == ENOTDIR ? "not a directory" : strerror(err));
    }
    a->dirs[a->n++] = c;
    return 0;
}

/* The canonical form of path, or of its directory plus its last name
 * when it does not exist (yet). NULL with errno. */
static char *canonical(const char *path)
{
    char *c = realpath(path, NULL);
    if (c || errno != ENOENT)
        return c;
    char *d1 = strdup(path), *d2 = strdup(path);
    char *out = NULL;
    if (d1 && d2) {
        const char *base = basename(d2);
        char *dir = realpath(dirname(d1), NULL);
        if (dir && strcmp(base, ".") && strcmp(base, "..") && strcmp(base, "/")) {
            size_t n = strlen(dir) + strlen(base) + 2;
            if ((out = malloc(n)))
                snprintf(out, n, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base);
        } else if (!dir) {
            errno = ENOENT;
        }
        free(dir);
    }
    free(d1);
    free(d2);
    return out;
}

static bool inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    if (!strcmp(dir, "/"))
        return true;
    return !strncmp(dir, path, n) && (path[n] == '/' || path[n] == 0);
}

int path_allow_check(const struct path_allow *a, const char *what, const char *path, struct errmsg *e)
{
    if (!path)
        return 0;
    char *c = canonical(path);
    bool ok = false;
    for (unsigned i = 0; c && i < a->n && !ok; i++)
        ok = inside(a->dirs[i], c);
    int r = 0;
    if (!ok) {
        if (!a->n)
            r = errmsg_set(e, -EPERM, "the incoming configuration names %s '%s', and this target allows no "
                           "paths (give --allow-path DIR for the directories its drives and sockets may be in)",
                           what, path);
        else
            r = errmsg_set(e, -EPERM, "the incoming configuration names %s '%s'%s%s%s, outside every --allow-path "
                           "directory of this target; refused", what, path, c && strcmp(c, path) ? " (" : "",
                           c && strcmp(c, path) ? c : "", c && strcmp(c, path) ? ")" : "");
    }
    free(c);
    return r;
}
