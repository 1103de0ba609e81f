/* ELF and flat-binary loading for bare-metal programs (see elf_image.h).
 * The file is untrusted input: every offset and size is checked, with sums
 * written so they cannot wrap. */
#include "machine/elf_image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file_open.h"

#ifndef EM_RISCV
#define EM_RISCV 243
#endif

/* [off, off+len) inside a buffer of size total. */
static int in_bounds(uint64_t off, uint64_t len, uint64_t total)
{
    return off <= total && len <= total - off;
}

static void find_symbols(const uint8_t *data, uint64_t len, const Elf64_Ehdr *eh, struct elf_image_info *info)
{
    if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !in_bounds(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), len))
        return;
    const uint8_t *shbase = data + eh->e_shoff;
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        Elf64_Shdr sh;
        memcpy(&sh, shbase + (uint64_t)i * sizeof sh, sizeof sh);
        if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh->e_shnum)
            continue;
        Elf64_Shdr strh;
        memcpy(&strh, shbase + (uint64_t)sh.sh_link * sizeof strh, sizeof strh);
        if (!in_bounds(sh.sh_offset, sh.sh_size, len) || !in_bounds(strh.sh_offset, strh.sh_size, len))
            continue;
        const char *strs = (const char *)data + strh.sh_offset;
        for (uint64_t k = 0; k + sizeof(Elf64_Sym) <= sh.sh_size; k += sizeof(Elf64_Sym)) {
            Elf64_Sym s;
            memcpy(&s, data + sh.sh_offset + k, sizeof s);
            if (s.st_name >= strh.sh_size)
                continue;
            const char *n = strs + s.st_name;
            size_t maxn = strh.sh_size - s.st_name;
            if (strnlen(n, maxn) == maxn)
                continue; /* not terminated inside the table */
            if (!strcmp(n, "tohost")) {
                info->has_tohost = 1;
                info->tohost = s.st_value;
            } else if (!strcmp(n, "fromhost")) {
                info->has_fromhost = 1;
                info->fromhost = s.st_value;
            }
        }
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int elf_image_load_buffer(const char *name, const uint8_t *data, uint64_t len, const struct guest_mem *ram,
                          struct elf_image_info *info, struct errmsg *e)
{
    memset(info, 0, sizeof *info);
    if (len < 4 || memcmp(data, ELFMAG, SELFMAG) != 0) {
        if (!ends_with(name, ".bin"))
            return errmsg_set(e, -ENOEXEC,
                              "%s: not an ELF file (a flat binary must have a name ending in .bin)", name);
        if (len == 0)
            return errmsg_set(e, -ENOEXEC, "%s: the file is empty", name);
        if (len > ram->size)
            return errmsg_set(e, -EFBIG, "%s: %" PRIu64 " bytes do not fit in %" PRIu64 " bytes of RAM", name,
                              len, ram->size);
        memcpy(ram->host, data, len);
        info->entry = ram->base;
        info->end = ram->base + len;
        return 0;
    }
    Elf64_Ehdr eh;
    if (len < sizeof eh)
        return errmsg_set(e, -ENOEXEC, "%s: truncated ELF header", name);
    memcpy(&eh, data, sizeof eh);
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
        return errmsg_set(e, -ENOEXEC, "%s: not a 64-bit little-endian ELF file", name);
    if (eh.e_machine != EM_RISCV)
        return errmsg_set(e, -ENOEXEC, "%s: ELF machine %u is not RISC-V (%u)", name, eh.e_machine, EM_RISCV);
    if (eh.e_type != ET_EXEC)
        return errmsg_set(e, -ENOEXEC, "%s: not an ELF executable (e_type %u)", name, eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || !in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), len))
        return errmsg_set(e, -ENOEXEC, "%s: program headers lie outside the file", name);
    int loaded = 0;
    /* Check everything first, so a bad segment leaves RAM untouched. */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
            if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
                continue;
            if (pass == 0) {
                if (ph.p_filesz > ph.p_memsz)
                    return errmsg_set(e, -ENOEXEC, "%s: segment %u: file size %#" PRIx64 " exceeds memory size %#" PRIx64,
                                      name, i, (uint64_t)ph.p_filesz, (uint64_t)ph.p_memsz);
                if (!in_bounds(ph.p_offset, ph.p_filesz, len))
                    return errmsg_set(e, -ENOEXEC, "%s: segment %u: bytes [%#" PRIx64 ", +%#" PRIx64 ") lie outside the file",
                                      name, i, (uint64_t)ph.p_offset, (uint64_t)ph.p_filesz);
                if (ph.p_paddr < ram->base || !in_bounds(ph.p_paddr - ram->base, ph.p_memsz, ram->size))
                    return errmsg_set(e, -ERANGE,
                                      "%s: segment %u at [%#" PRIx64 ", %#" PRIx64 ") is outside RAM [%#" PRIx64 ", %#" PRIx64 ")",
                                      name, i, (uint64_t)ph.p_paddr, (uint64_t)(ph.p_paddr + ph.p_memsz), ram->base,
                                      ram->base + ram->size);
            } else {
                uint8_t *dst = ram->host + (ph.p_paddr - ram->base);
                memcpy(dst, data + ph.p_offset, ph.p_filesz);
                memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
                if (ph.p_paddr + ph.p_memsz > info->end)
                    info->end = ph.p_paddr + ph.p_memsz;
                loaded++;
            }
        }
    }
    if (!loaded)
        return errmsg_set(e, -ENOEXEC, "%s: the ELF file has no loadable segment", name);
    info->entry = eh.e_entry;
    find_symbols(data, len, &eh, info);
    return 0;
}

int elf_image_load(const char *path, const struct guest_mem *ram, struct elf_image_info *info, struct errmsg *e)
{
    int fd = file_open_kind("ELF image", path, O_RDONLY, 0, FILE_OPEN_REG, e);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return errmsg_set(e, -EINVAL, "%s: not a regular file", path);
    }
    /* A program bigger than RAM plus generous symbol tables cannot load. */
    if ((uint64_t)st.st_size > ram->size + (64ull << 20)) {
        close(fd);
        return errmsg_set(e, -EFBIG, "%s: %lld bytes is larger than guest RAM", path, (long long)st.st_size);
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!buf) {
        close(fd);
        return errmsg_set(e, -ENOMEM, "%s: out of memory reading it", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return errmsg_set(e, -err, "%s: read failed: %s", path, strerror(err));
        }
        got += (size_t)n;
    }
    close(fd);
    int r = elf_image_load_buffer(path, buf, got, ram, info, e);
    free(buf);
    return r;
}
