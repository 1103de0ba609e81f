/* Whole files by mapping (see file_map.h). */
#include "util/file_map.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file_open.h"

static const uint8_t empty[1];

int file_map(struct file_map *m, const char *what, const char *path, struct errmsg *e)
{
    m->data = NULL;
    m->size = 0;
    int fd = file_open_kind(what, path, O_RDONLY, 0, FILE_OPEN_REG, e);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st)) {
        int err = errno;
        close(fd);
        return errmsg_set(e, -err, "%s %s: fstat: %s", what, path, strerror(err));
    }
    if (st.st_size == 0) {
        close(fd);
        m->data = empty;
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED)
        return errmsg_set(e, -err, "%s %s: cannot map its %lld bytes: %s", what, path, (long long)st.st_size,
                          strerror(err));
    m->data = p;
    m->size = (size_t)st.st_size;
    return 0;
}

void file_unmap(struct file_map *m)
{
    if (m->data && m->data != empty)
        munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}
