/* Opening a path a user named (kernel, initrd, serial output, drive, log
 * and metrics files) without letting its kind hang the caller: the open is
 * non-blocking (a FIFO with no peer cannot stall it, a device cannot grab
 * a controlling terminal), the descriptor is close-on-exec, and fstat
 * checks the kind before anything reads or writes it. Regular files and
 * block devices get O_NONBLOCK cleared again (it means nothing for them
 * and callers expect complete reads and writes). */
#ifndef MINNOW_UTIL_FILE_OPEN_H
#define MINNOW_UTIL_FILE_OPEN_H

#include <sys/types.h>

#include "util/errmsg.h"

/* The kinds a caller accepts (a mask). */
enum {
    FILE_OPEN_REG = 1u << 0,
    FILE_OPEN_BLK = 1u << 1,
    FILE_OPEN_CHR = 1u << 2,
    FILE_OPEN_FIFO = 1u << 3,   /* kept non-blocking */
};

/* Opens path (flags as open(2): O_RDONLY, O_WRONLY|O_CREAT|O_APPEND ...,
 * mode for O_CREAT) and returns the descriptor, or a negative errno with
 * a message "WHAT 'PATH': ..." saying what it is and what was expected.
 * A FIFO opened for writing with no reader fails with -ENXIO at once. */
int file_open_kind(const char *what, const char *path, int flags, mode_t mode, unsigned kinds, struct errmsg *e);

#endif
