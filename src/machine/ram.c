/* Guest RAM allocation (see ram.h). */
#include "machine/ram.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int ram_create(struct guest_mem *ram, uint64_t base, uint64_t size, struct errmsg *e)
{
    memset(ram, 0, sizeof *ram);
    if (size < RAM_MIN_SIZE || size > RAM_MAX_SIZE || (size & 0xfff))
        return errmsg_set(e, -EINVAL,
                          "memory size %" PRIu64 " bytes: expected a multiple of 4 KiB from 1 MiB to 1 TiB",
                          size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return errmsg_set(e, -errno, "cannot map %" PRIu64 " MiB of guest RAM: %s", size >> 20, strerror(errno));
    ram->host = p;
    ram->base = base;
    ram->size = size;
    return 0;
}

void ram_destroy(struct guest_mem *ram)
{
    if (ram->host)
        munmap(ram->host, ram->size);
    ram->host = NULL;
}

int ram_parse_size(const char *text, uint64_t *size, struct errmsg *e)
{
    const char *p = text;
    if (!isdigit((unsigned char)*p))
        goto bad;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (errno)
        goto bad;
    unsigned shift = 0;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        default: goto bad;
        }
        end++;
        if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I') {
            if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
                end++;
            end++;
        }
        if (*end)
            goto bad;
    }
    if (shift && v > (UINT64_MAX >> shift))
        goto bad;
    *size = (uint64_t)v << shift;
    return 0;
bad:
    return errmsg_set(e, -EINVAL, "'%s' is not a size: expected a number of bytes with an optional K, M or G suffix",
                      text);
}
