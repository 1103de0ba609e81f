/* Guest program for the devices test net-frag: sends, from a raw packet
 * socket on IFACE, the frame of issue 13 COUNT times: 98 bytes, a lone
 * IPv4 fragment (MF clear, offset 8, no first fragment) from 10.0.2.15 to
 * 10.0.2.2, UDP, its payload 0x41 bytes. Debian 12's libslirp 4.7.0 took
 * it for a whole datagram and stored through its first 8 payload bytes.
 * Usage: ipfrag IFACE COUNT; prints "ipfrag: sent N". */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static uint16_t csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ipfrag IFACE COUNT\n");
        return 2;
    }
    int count = atoi(argv[2]);
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (s < 0) {
        perror("ipfrag: socket");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
        perror("ipfrag: SIOCGIFINDEX");
        return 1;
    }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
        perror("ipfrag: SIOCGIFHWADDR");
        return 1;
    }
    uint8_t f[98];
    memset(f, 0, sizeof f);
    memset(f, 0xff, 6);
    memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
    f[12] = 0x08;
    uint8_t *ip = f + 14;
    ip[0] = 0x45;
    ip[2] = 0;
    ip[3] = 84;             /* total length: 20 + 64 */
    ip[4] = 0x12;
    ip[5] = 0x34;
    ip[6] = 0x00;
    ip[7] = 0x01;           /* MF 0, offset 1 (8 bytes) */
    ip[8] = 64;
    ip[9] = 17;
    inet_pton(AF_INET, "10.0.2.15", ip + 12);
    inet_pton(AF_INET, "10.0.2.2", ip + 16);
    uint16_t c = csum(ip, 20);
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
    memset(ip + 20, 0x41, 64);
    struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = 6};
    memset(to.sll_addr, 0xff, 6);
    int sent = 0;
    for (int i = 0; i < count; i++)
        if (sendto(s, f, sizeof f, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)sizeof f)
            sent++;
    printf("ipfrag: sent %d\n", sent);
    return sent == count ? 0 : 1;
}
