/* Opening user-named paths by kind, without blocking (see file_open.h). */
#include "util/file_open.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_name(mode_t m)
{
    return S_ISREG(m) ? "a regular file" : S_ISDIR(m) ? "a directory" : S_ISBLK(m) ? "a block device"
         : S_ISCHR(m) ? "a character device" : S_ISFIFO(m) ? "a FIFO (named pipe)" : S_ISSOCK(m) ? "a socket"
         : "a special file";
}

static const char *expected(unsigned kinds)
{
    switch (kinds) {
    case FILE_OPEN_REG: return "a regular file";
    case FILE_OPEN_REG | FILE_OPEN_BLK: return "a regular file or a block device";
    case FILE_OPEN_REG | FILE_OPEN_CHR: return "a regular file or a character device";
    case FILE_OPEN_REG | FILE_OPEN_FIFO | FILE_OPEN_CHR: return "a regular file, a FIFO or a character device";
    default: return "a regular file";
    }
}

static bool kind_ok(mode_t m, unsigned kinds)
{
    return (S_ISREG(m) && (kinds & FILE_OPEN_REG)) || (S_ISBLK(m) && (kinds & FILE_OPEN_BLK)) ||
           (S_ISCHR(m) && (kinds & FILE_OPEN_CHR)) || (S_ISFIFO(m) && (kinds & FILE_OPEN_FIFO));
}

int file_open_kind(const char *what, const char *path, int flags, mode_t mode, unsigned kinds, struct errmsg *e)
{
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
    if (fd < 0) {
        int err = errno;
        if (err == ENXIO && (kinds & FILE_OPEN_FIFO))
            return errmsg_set(e, -err, "%s '%s' is a FIFO no process is reading", what, path);
        if (err == ENXIO)
            return errmsg_set(e, -err, "%s '%s' is a FIFO (named pipe) or device with nothing behind it; "
                              "expected %s", what, path, expected(kinds));
        return errmsg_set(e, -err, "%s '%s': %s", what, path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st)) {
        int err = errno;
        close(fd);
        return errmsg_set(e, -err, "%s '%s': fstat: %s", what, path, strerror(err));
    }
    if (!kind_ok(st.st_mode, kinds)) {
        close(fd);
        return errmsg_set(e, -EINVAL, "%s '%s' is %s; expected %s", what, path, kind_name(st.st_mode),
                          expected(kinds));
    }
    if ((S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
        int err = errno;
        close(fd);
        return errmsg_set(e, -err, "%s '%s': fcntl: %s", what, path, strerror(err));
    }
    return fd;
}
