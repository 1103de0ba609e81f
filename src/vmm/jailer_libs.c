/* The shared objects a jailed minnow needs. See jailer_libs.h. */
#include "vmm/jailer_libs.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#endif
#define HOST_DATA (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB)
#define NEEDED_MAX 64

/* What an executable asks of the dynamic loader. */
struct elf_deps {
    char interp[PATH_MAX];      /* "" when statically linked */
    char *needed[NEEDED_MAX];
    unsigned nneeded;
};

static void deps_free(struct elf_deps *d)
{
    for (unsigned i = 0; i < d->nneeded; i++)
        free(d->needed[i]);
    d->nneeded = 0;
}

/* The file offset of a virtual address, through the PT_LOAD segment that
 * holds it; -1 if none does. */
static int64_t vaddr_offset(const Elf64_Phdr *ph, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++)
        if (ph[i].p_type == PT_LOAD && v >= ph[i].p_vaddr && v - ph[i].p_vaddr < ph[i].p_filesz)
            return (int64_t)(v - ph[i].p_vaddr + ph[i].p_offset);
    return -1;
}

static int parse(const char *path, const uint8_t *m, size_t size, struct elf_deps *d, struct errmsg *e)
{
    const Elf64_Ehdr *h = (const Elf64_Ehdr *)m;
    if (size < sizeof *h || memcmp(h->e_ident, ELFMAG, SELFMAG))
        return errmsg_set(e, -ENOEXEC, "--exec-file %s is not an ELF executable", path);
    if (h->e_ident[EI_CLASS] != ELFCLASS64 || h->e_ident[EI_DATA] != HOST_DATA)
        return errmsg_set(e, -ENOEXEC, "--exec-file %s is not a 64-bit ELF file of this host's byte order", path);
#ifdef HOST_MACHINE
    if (h->e_machine != HOST_MACHINE)
        return errmsg_set(e, -ENOEXEC, "--exec-file %s is built for another machine (ELF e_machine %u)", path,
                          (unsigned)h->e_machine);
#endif
    if (h->e_type != ET_EXEC && h->e_type != ET_DYN)
        return errmsg_set(e, -ENOEXEC, "--exec-file %s is not an executable (ELF e_type %u)", path,
                          (unsigned)h->e_type);
    if (h->e_phentsize != sizeof(Elf64_Phdr) || h->e_phoff > size ||
        h->e_phnum > (size - h->e_phoff) / sizeof(Elf64_Phdr))
        return errmsg_set(e, -ENOEXEC, "--exec-file %s: malformed ELF program headers", path);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(m + h->e_phoff);
    unsigned nph = h->e_phnum;
    const Elf64_Dyn *dyn = NULL;
    size_t ndyn = 0;
    for (unsigned i = 0; i < nph; i++) {
        if (ph[i].p_offset > size || ph[i].p_filesz > size - ph[i].p_offset)
            continue;   /* a segment past the end is not ours to read */
        if (ph[i].p_type == PT_INTERP) {
            const char *s = (const char *)m + ph[i].p_offset;
            if (!ph[i].p_filesz || ph[i].p_filesz > sizeof d->interp || s[ph[i].p_filesz - 1] || s[0] != '/')
                return errmsg_set(e, -ENOEXEC, "--exec-file %s: malformed ELF program interpreter", path);
            memcpy(d->interp, s, ph[i].p_filesz);
        } else if (ph[i].p_type == PT_DYNAMIC) {
            dyn = (const Elf64_Dyn *)(m + ph[i].p_offset);
            ndyn = ph[i].p_filesz / sizeof *dyn;
        }
    }
    if (!dyn)
        return 0;
    uint64_t strtab = 0, strsz = 0;
    bool needs = false;
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        if (dyn[i].d_tag == DT_STRTAB)
            strtab = dyn[i].d_un.d_ptr;
        else if (dyn[i].d_tag == DT_STRSZ)
            strsz = dyn[i].d_un.d_val;
        needs |= dyn[i].d_tag == DT_NEEDED;
    }
    if (!needs)
        return 0;
    int64_t off = vaddr_offset(ph, nph, strtab);
    if (off < 0 || (uint64_t)off > size || strsz > size - (uint64_t)off)
        return errmsg_set(e, -ENOEXEC, "--exec-file %s: malformed ELF dynamic string table", path);
    const char *str = (const char *)m + off;
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        if (dyn[i].d_tag != DT_NEEDED)
            continue;
        uint64_t at = dyn[i].d_un.d_val;
        const char *end = at < strsz ? memchr(str + at, 0, strsz - at) : NULL;
        if (!end || end == str + at)
            return errmsg_set(e, -ENOEXEC, "--exec-file %s: malformed ELF DT_NEEDED entry", path);
        if (d->nneeded == NEEDED_MAX)
            return errmsg_set(e, -E2BIG, "--exec-file %s needs more than %u libraries", path, NEEDED_MAX);
        if (!(d->needed[d->nneeded] = strdup(str + at)))
            return errmsg_set(e, -ENOMEM, "out of memory");
        d->nneeded++;
    }
    return 0;
}

static int elf_deps_read(const char *path, struct elf_deps *d, struct errmsg *e)
{
    memset(d, 0, sizeof *d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "--exec-file %s: %s", path, strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        rc = errmsg_set(e, -ENOEXEC, "--exec-file %s is not a regular file", path);
    } else {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = errmsg_set(e, -errno, "--exec-file %s: %s", path, strerror(errno));
        } else {
            rc = parse(path, m, (size_t)st.st_size, d, e);
            munmap(m, (size_t)st.st_size);
        }
    }
    close(fd);
    if (rc)
        deps_free(d);
    return rc;
}

static int add(struct jailer_libs *l, const char *path)
{
    for (unsigned i = 0; i < l->n; i++)
        if (!strcmp(l->paths[i], path))
            return 0;
    char **p = realloc(l->paths, (l->n + 1) * sizeof *p);
    if (!p)
        return -ENOMEM;
    l->paths = p;
    if (!(p[l->n] = strdup(path)))
        return -ENOMEM;
    l->n++;
    return 0;
}

struct loaded {
    struct jailer_libs *l;
    int rc;
};

static int collect(struct dl_phdr_info *info, size_t size, void *opaque)
{
    (void)size;
    struct loaded *c = opaque;
    /* The program itself has no name, the vDSO no path. */
    if (info->dlpi_name && info->dlpi_name[0] == '/' && !c->rc)
        c->rc = add(c->l, info->dlpi_name);
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static bool sanitizer(const char *soname)
{
    static const char *const runtimes[] = { "libasan.so", "libtsan.so", "liblsan.so", "libhwasan.so" };
    for (unsigned i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
        if (!strncmp(soname, runtimes[i], strlen(runtimes[i])))
            return true;
    return false;
}

int jailer_libs_find(struct jailer_libs *l, const char *exec_file, const char *const *on_demand, struct errmsg *e)
{
    memset(l, 0, sizeof *l);
    struct elf_deps d;
    int rc = elf_deps_read(exec_file, &d, e);
    if (rc)
        return rc;
    if (!d.interp[0])
        return 0;   /* statically linked: the binary is all it needs */
    if (access(d.interp, R_OK))
        rc = errmsg_set(e, -errno, "--exec-file %s: its program interpreter %s: %s", exec_file, d.interp,
                        strerror(errno));
    if (!rc && add(l, d.interp))
        rc = errmsg_set(e, -ENOMEM, "out of memory");
    /* A library that is not there is left out: minnow then reports it
     * when it needs it, as it would outside a jail. */
    for (unsigned i = 0; !rc && on_demand && on_demand[i]; i++)
        dlopen(on_demand[i], RTLD_LAZY | RTLD_LOCAL);
    struct loaded c = { l, 0 };
    if (!rc) {
        dl_iterate_phdr(collect, &c);
        if (c.rc)
            rc = errmsg_set(e, -ENOMEM, "out of memory");
    }
    for (unsigned i = 0; !rc && i < d.nneeded; i++) {
        const char *want = d.needed[i];
        l->needs_proc |= sanitizer(want);
        if (strchr(want, '/')) {
            rc = access(want, R_OK) ? errmsg_set(e, -errno, "--exec-file %s needs %s: %s", exec_file, want,
                                                 strerror(errno))
               : add(l, want) ? errmsg_set(e, -ENOMEM, "out of memory") : 0;
            continue;
        }
        bool found = false;
        for (unsigned k = 0; k < l->n && !found; k++)
            found = !strcmp(base_name(l->paths[k]), want);
        if (!found)
            rc = errmsg_set(e, -ENOENT, "--exec-file %s needs the library %s, which this minnow does not load: run "
                                        "the jailer of the same build (or give a statically linked minnow)",
                            exec_file, want);
    }
    deps_free(&d);
    if (rc)
        jailer_libs_free(l);
    return rc;
}

void jailer_libs_free(struct jailer_libs *l)
{
    for (unsigned i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    l->paths = NULL;
    l->n = 0;
}
