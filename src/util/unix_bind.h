/* Binding the Unix sockets minnow creates (API, vsock, console, migration
 * target) so that they are born mode 0600: only minnow's own user may
 * connect, whatever the umask. */
#ifndef MINNOW_UTIL_UNIX_BIND_H
#define MINNOW_UTIL_UNIX_BIND_H

#include <sys/socket.h>

/* bind(2) with the socket file created 0600. 0 or -errno. */
int unix_bind_private(int fd, const struct sockaddr *sa, socklen_t len);

#endif
