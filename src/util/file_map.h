/* Reading a whole regular file a user named (kernel, initrd) by mapping
 * it: its bytes come from the page cache, a window of pages per fault,
 * instead of being copied into freshly allocated memory one faulted page
 * at a time. */
#ifndef MINNOW_UTIL_FILE_MAP_H
#define MINNOW_UTIL_FILE_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/errmsg.h"

struct file_map {
    const uint8_t *data;   /* read-only; an empty file has size 0 and data non-NULL */
    size_t size;
};

/* Maps the regular file at path (file_open_kind rules; errors name it as
 * "WHAT PATH: ..."). 0 or a negative errno. Meant for reading a file at
 * once and unmapping it: the file must not shrink meanwhile (that is a
 * SIGBUS, as for any mapping). */
int file_map(struct file_map *m, const char *what, const char *path, struct errmsg *e);
void file_unmap(struct file_map *m);

#endif
