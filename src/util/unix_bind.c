/* Unix sockets born 0600 (see unix_bind.h). */
#include "util/unix_bind.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

/* The umask is process-wide and there is no per-call way to give bind(2)
 * a mode; a chmod after bind would leave a window in which the socket is
 * open to others. So the umask is tightened around the bind, and this
 * process-wide mutex keeps two binds from restoring each other's umask.
 * Files other threads create meanwhile only get a stricter mode. */
static pthread_mutex_t umask_lock = PTHREAD_MUTEX_INITIALIZER;

int unix_bind_private(int fd, const struct sockaddr *sa, socklen_t len)
{
    pthread_mutex_lock(&umask_lock);
    mode_t old = umask(0177);
    int r = bind(fd, sa, len);
    int err = errno;
    umask(old);
    pthread_mutex_unlock(&umask_lock);
    return r ? -err : 0;
}
