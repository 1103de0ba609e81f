/* A network helper gone bad, for test_net_helper_hostile: it speaks the
 * start-up protocol (net_helper_proto.h), then does what $HOSTILE says to
 * the rings it shares with the monitor (net_ring.h) and wakes it:
 *   head    claims far more frames for the guest than the ring holds
 *   length  publishes a record whose length is past NET_FRAME_MAX
 *   tail    claims to have consumed frames the monitor never sent
 *   shrink  tries to shrink the shared memory (the seal must refuse), then
 *           publishes one good 60-byte frame of 0x5a bytes
 * and then waits for the monitor to close the socket. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backends/net_helper_proto.h"
#include "backends/net_ring.h"

int main(int argc, char **argv)
{
    const char *mode = getenv("HOSTILE");
    if (argc != 5 || !mode)
        return 2;
    int sock = atoi(argv[2]), ring_fd = atoi(argv[3]);
    uint8_t *shm = mmap(NULL, 2 * NET_RING_AREA, PROT_READ | PROT_WRITE, MAP_SHARED, ring_fd, 0);
    if (shm == MAP_FAILED)
        return 3;
    struct net_helper_hello hello;
    if (recv(sock, &hello, sizeof hello, 0) != (ssize_t)sizeof hello)
        return 4;
    struct net_helper_ready ready = {.magic = NET_HELPER_MAGIC};
    if (send(sock, &ready, sizeof ready, 0) != (ssize_t)sizeof ready)
        return 5;
    struct net_ring_ctl *tx = (struct net_ring_ctl *)shm, *rx = (struct net_ring_ctl *)(shm + NET_RING_AREA);
    uint8_t *rx_data = shm + NET_RING_AREA + (NET_RING_AREA - NET_RING_DATA);
    if (!strcmp(mode, "head")) {
        atomic_store(&rx->head, 0x7fffffffu);
    } else if (!strcmp(mode, "length")) {
        uint32_t len = 70000;
        memcpy(rx_data, &len, sizeof len);
        atomic_store(&rx->head, 64);
    } else if (!strcmp(mode, "tail")) {
        atomic_store(&tx->tail, 12345678u);
    } else if (!strcmp(mode, "shrink")) {
        if (ftruncate(ring_fd, 0) == 0 || errno != EPERM)
            return 6;   /* the seal must hold */
        uint32_t len = 60;
        memcpy(rx_data, &len, sizeof len);
        memset(rx_data + 8, 0x5a, len);
        atomic_store(&rx->head, 8 + 64);
    } else {
        return 2;
    }
    if (send(sock, "k", 1, 0) != 1)
        return 7;
    char b;
    while (recv(sock, &b, 1, 0) > 0)
        ;
    return 0;
}
