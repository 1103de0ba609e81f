/* Guest RAM allocation (see ram.h). */
#include "machine/ram.h"
#include "machine/ram_fault.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

static int check_size(uint64_t size, struct errmsg *e)
{
    if (size < RAM_MIN_SIZE || size > RAM_MAX_SIZE || (size & 0xfff))
        return errmsg_set(e, -EINVAL,
                          "memory size %" PRIu64 " bytes: expected a multiple of 4 KiB from 1 MiB to 1 TiB",
                          size);
    return 0;
}

static int map(struct guest_mem *ram, uint64_t base, uint64_t size, int fd, int all_dirty, struct errmsg *e)
{
    int flags = MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED)
        return errmsg_set(e, -errno, "cannot map %" PRIu64 " MiB of guest RAM: %s", size >> 20, strerror(errno));
    /* Anonymous RAM in transparent huge pages where the host allows it
     * (as QEMU does): a guest's first touches of its memory (a booting
     * kernel's) fault in 2 MiB at a time instead of 4 KiB. Still only what
     * is touched is committed; a host without THP just says no. */
    if (fd < 0)
        madvise(p, size, MADV_HUGEPAGE);
    ram->host = p;
    ram->base = base;
    ram->size = size;
    size_t words = ram_dirty_words(ram);
    ram->dirty = calloc(words, sizeof *ram->dirty);
    ram->written = calloc(words, sizeof *ram->written);
    if (!ram->dirty || !ram->written) {
        ram_destroy(ram);
        return errmsg_set(e, -ENOMEM, "out of memory for the dirty-page bitmaps");
    }
    if (all_dirty)
        for (size_t i = 0; i < words; i++)
            atomic_init(&ram->dirty[i], ~0ull);
    return 0;
}

int ram_create(struct guest_mem *ram, uint64_t base, uint64_t size, struct errmsg *e)
{
    memset(ram, 0, sizeof *ram);
    int r = check_size(size, e);
    return r ? r : map(ram, base, size, -1, 1, e);
}

int ram_map_file(struct guest_mem *ram, uint64_t base, uint64_t size, int fd, const char *path,
                 struct errmsg *e)
{
    memset(ram, 0, sizeof *ram);
    int r = check_size(size, e);
    if (r)
        return r;
    struct stat st;
    if (fstat(fd, &st))
        return errmsg_set(e, -errno, "memory file '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return errmsg_set(e, -EINVAL, "memory file '%s': not a regular file", path);
    if ((uint64_t)st.st_size < size)
        return errmsg_set(e, -EINVAL, "memory file '%s': %lld bytes, but the snapshot's guest has %" PRIu64
                          " bytes of RAM", path, (long long)st.st_size, size);
    if ((r = map(ram, base, size, fd, 0, e)))
        return errmsg_set(e, r, "memory file '%s': cannot map it: %s", path, strerror(-r));
    ram->file_backed = 1;
    if ((r = ram_fault_watch(&ram->fault, ram->host, size, fd, path, e))) {
        ram_destroy(ram);
        return r;
    }
    return 0;
}

void ram_destroy(struct guest_mem *ram)
{
    ram_fault_unwatch(ram->fault);
    ram->fault = NULL;
    if (ram->host)
        munmap(ram->host, ram->size);
    ram->host = NULL;
    free((void *)ram->dirty);
    free((void *)ram->written);
    ram->dirty = ram->written = NULL;
}

const char *ram_lost(const struct guest_mem *ram, uint64_t *offset)
{
    return ram_fault_hit(ram->fault, offset) ? ram_fault_path(ram->fault) : NULL;
}

bool ram_page_is_zero(const struct guest_mem *ram, uint64_t page)
{
    const uint64_t *w = (const uint64_t *)(ram->host + page * 4096);
    uint64_t acc = 0;
    for (unsigned i = 0; i < 4096 / 8; i++)
        acc |= w[i];
    return acc == 0;
}

void ram_populated(const struct guest_mem *ram, uint64_t *out)
{
    uint64_t pages = ram->size / 4096, words = ram_dirty_words(ram);
    memset(out, 0xff, words * sizeof *out);
    if (ram->file_backed)
        return;
    /* Anonymous RAM: a page the host never populated (neither present nor
     * swapped out, /proc/self/pagemap bits 63 and 62) reads as zeros. */
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    uint64_t entries[512];
    for (uint64_t p = 0; p < pages; p += 512) {
        uint64_t n = pages - p < 512 ? pages - p : 512;
        off_t off = (off_t)(((uintptr_t)ram->host / 4096 + p) * 8);
        if (pread(fd, entries, n * 8, off) != (ssize_t)(n * 8))
            break; /* the rest stays "may be non-zero" */
        for (uint64_t i = 0; i < n; i++)
            if (!(entries[i] & (3ull << 62)))
                out[(p + i) / 64] &= ~(1ull << ((p + i) % 64));
    }
    close(fd);
}

void ram_dirty_take(struct guest_mem *ram, uint64_t *out)
{
    for (uint64_t i = 0; i < ram_dirty_words(ram); i++)
        out[i] = atomic_exchange(&ram->dirty[i], 0);
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
