/* The shared objects a jailed minnow needs. See jailer_libs.h. */
#include "vmm/jailer_libs.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
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
#define SEARCH_MAX 32
#define LIBS_MAX 256

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

/* what names the file in messages: "--exec-file" or "the library". */
static int parse(const char *what, const char *path, const uint8_t *m, size_t size, struct elf_deps *d,
                 struct errmsg *e)
{
    const Elf64_Ehdr *h = (const Elf64_Ehdr *)m;
    if (size < sizeof *h || memcmp(h->e_ident, ELFMAG, SELFMAG))
        return errmsg_set(e, -ENOEXEC, "%s %s is not an ELF executable", what, path);
    if (h->e_ident[EI_CLASS] != ELFCLASS64 || h->e_ident[EI_DATA] != HOST_DATA)
        return errmsg_set(e, -ENOEXEC, "%s %s is not a 64-bit ELF file of this host's byte order", what, path);
#ifdef HOST_MACHINE
    if (h->e_machine != HOST_MACHINE)
        return errmsg_set(e, -ENOEXEC, "%s %s is built for another machine (ELF e_machine %u)", what, path,
                          (unsigned)h->e_machine);
#endif
    if (h->e_type != ET_EXEC && h->e_type != ET_DYN)
        return errmsg_set(e, -ENOEXEC, "%s %s is not an executable (ELF e_type %u)", what, path,
                          (unsigned)h->e_type);
    /* (aligned: the headers are read in place) */
    if (h->e_phentsize != sizeof(Elf64_Phdr) || h->e_phoff % 8 || h->e_phoff > size ||
        h->e_phnum > (size - h->e_phoff) / sizeof(Elf64_Phdr))
        return errmsg_set(e, -ENOEXEC, "%s %s: malformed ELF program headers", what, path);
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
                return errmsg_set(e, -ENOEXEC, "%s %s: malformed ELF program interpreter", what, path);
            memcpy(d->interp, s, ph[i].p_filesz);
        } else if (ph[i].p_type == PT_DYNAMIC) {
            if (ph[i].p_offset % 8)
                return errmsg_set(e, -ENOEXEC, "%s %s: malformed ELF dynamic section", what, path);
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
        return errmsg_set(e, -ENOEXEC, "%s %s: malformed ELF dynamic string table", what, path);
    const char *str = (const char *)m + off;
    for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
        if (dyn[i].d_tag != DT_NEEDED)
            continue;
        uint64_t at = dyn[i].d_un.d_val;
        const char *end = at < strsz ? memchr(str + at, 0, strsz - at) : NULL;
        if (!end || end == str + at)
            return errmsg_set(e, -ENOEXEC, "%s %s: malformed ELF DT_NEEDED entry", what, path);
        if (d->nneeded == NEEDED_MAX)
            return errmsg_set(e, -E2BIG, "%s %s needs more than %u libraries", what, path, NEEDED_MAX);
        if (!(d->needed[d->nneeded] = strdup(str + at)))
            return errmsg_set(e, -ENOMEM, "out of memory");
        d->nneeded++;
    }
    return 0;
}

static int elf_deps_read(const char *what, const char *path, struct elf_deps *d, struct errmsg *e)
{
    memset(d, 0, sizeof *d);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errmsg_set(e, -errno, "%s %s: %s", what, path, strerror(errno));
    struct stat st;
    int rc;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        rc = errmsg_set(e, -ENOEXEC, "%s %s is not a regular file", what, path);
    } else {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = errmsg_set(e, -errno, "%s %s: %s", what, path, strerror(errno));
        } else {
            rc = parse(what, path, m, (size_t)st.st_size, d, e);
            munmap(m, (size_t)st.st_size);
        }
    }
    close(fd);
    if (rc)
        deps_free(d);
    return rc;
}

/* The directories libraries are looked for in: those this process's
 * loader found its own in (through its cache, so the host's layout), in
 * that order, then the loader's usual ones. */
struct search {
    char dirs[SEARCH_MAX][PATH_MAX];
    unsigned n;
};

static void search_add(struct search *s, const char *path, size_t len)
{
    if (!len || len >= PATH_MAX || s->n == SEARCH_MAX)
        return;
    for (unsigned i = 0; i < s->n; i++)
        if (strlen(s->dirs[i]) == len && !memcmp(s->dirs[i], path, len))
            return;
    memcpy(s->dirs[s->n], path, len);
    s->dirs[s->n++][len] = 0;
}

static int loaded_dir(struct dl_phdr_info *info, size_t size, void *opaque)
{
    (void)size;
    /* The program itself has no name, the vDSO no path. */
    const char *name = info->dlpi_name;
    if (name && name[0] == '/')
        search_add(opaque, name, (size_t)(strrchr(name, '/') - name));
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

/* The libraries found so far, each with whether it is needed (the exec
 * file's closure) or only wanted (a library loaded on demand, and what it
 * links: one that cannot be found is left out, and minnow reports it when
 * it loads it, as it would outside a jail). */
struct found {
    struct jailer_libs *l;
    bool *needed;
};

static int add(struct found *f, const char *path, bool needed)
{
    struct jailer_libs *l = f->l;
    for (unsigned i = 0; i < l->n; i++)
        if (!strcmp(l->paths[i], path)) {
            f->needed[i] |= needed;
            return 0;
        }
    if (l->n == LIBS_MAX)
        return -EOVERFLOW;
    char **p = realloc(l->paths, (l->n + 1) * sizeof *p);
    if (!p)
        return -ENOMEM;
    l->paths = p;
    bool *n = realloc(f->needed, (l->n + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    f->needed = n;
    if (!(p[l->n] = strdup(path)))
        return -ENOMEM;
    n[l->n++] = needed;
    return 0;
}

/* path, if it is an ELF object of this host: ld.so passes over others. */
static bool host_object(const char *path)
{
    struct elf_deps d;
    if (elf_deps_read("the library", path, &d, NULL))
        return false;
    deps_free(&d);
    return true;
}

/* Adds the library soname (or a path) as the loader would find it: the
 * first file of that name in the search directories that is an ELF
 * object of this host. -ENOENT if there is none. */
static int resolve(struct found *f, const struct search *s, const char *soname, bool needed)
{
    struct jailer_libs *l = f->l;
    for (unsigned i = 0; i < l->n; i++)
        if (!strcmp(base_name(l->paths[i]), base_name(soname))) {
            f->needed[i] |= needed;
            return 0;
        }
    if (strchr(soname, '/'))
        return host_object(soname) ? add(f, soname, needed) : -ENOENT;
    for (unsigned i = 0; i < s->n; i++) {
        char path[2 * PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", s->dirs[i], soname);
        if (host_object(path))
            return add(f, path, needed);
    }
    return -ENOENT;
}

int jailer_libs_find(struct jailer_libs *l, const char *exec_file, const char *const *on_demand, struct errmsg *e)
{
    memset(l, 0, sizeof *l);
    struct elf_deps d;
    int rc = elf_deps_read("--exec-file", exec_file, &d, e);
    if (rc)
        return rc;
    if (!d.interp[0]) {
        deps_free(&d);
        return 0;   /* statically linked: the binary is all it needs */
    }
    struct search *s = calloc(1, sizeof *s);
    struct found f = { l, NULL };
    if (!s) {
        deps_free(&d);
        return errmsg_set(e, -ENOMEM, "out of memory");
    }
    dl_iterate_phdr(loaded_dir, s);
    static const char *const usual[] = { "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
    for (unsigned i = 0; i < sizeof usual / sizeof usual[0]; i++)
        search_add(s, usual[i], strlen(usual[i]));
    if (access(d.interp, R_OK))
        rc = errmsg_set(e, -errno, "--exec-file %s: its program interpreter %s: %s", exec_file, d.interp,
                        strerror(errno));
    else
        rc = add(&f, d.interp, true);
    /* The exec file's libraries, then those minnow loads on demand, then,
     * in the order found, what each of them links. */
    for (unsigned i = 0; !rc && i < d.nneeded; i++) {
        l->needs_proc |= sanitizer(d.needed[i]);
        if ((rc = resolve(&f, s, d.needed[i], true)) == -ENOENT)
            rc = errmsg_set(e, rc, "--exec-file %s needs the library %s, which is in none of %s, %s, ... (where "
                                   "this minnow's libraries are)", exec_file, d.needed[i], s->dirs[0],
                            s->n > 1 ? s->dirs[1] : "");
    }
    for (unsigned i = 0; !rc && on_demand && on_demand[i]; i++)
        if ((rc = resolve(&f, s, on_demand[i], false)) == -ENOENT)
            rc = 0;
    deps_free(&d);
    for (unsigned k = 1; !rc && k < l->n; k++) {   /* [0] is the loader, which links nothing */
        char lib[PATH_MAX];
        snprintf(lib, sizeof lib, "%s", l->paths[k]);   /* add() may move the array */
        bool needed = f.needed[k];
        if ((rc = elf_deps_read("the library", lib, &d, e)))
            break;
        for (unsigned i = 0; !rc && i < d.nneeded; i++)
            if ((rc = resolve(&f, s, d.needed[i], needed)) == -ENOENT)
                rc = needed ? errmsg_set(e, rc, "the library %s (that --exec-file %s needs) needs %s, which is in "
                                                "none of %s, %s, ...", lib, exec_file, d.needed[i], s->dirs[0],
                                         s->n > 1 ? s->dirs[1] : "")
                            : 0;
        deps_free(&d);
    }
    /* add()'s own failures; every other one has its message */
    if (rc == -EOVERFLOW)
        errmsg_set(e, rc, "--exec-file %s: more than %u libraries", exec_file, LIBS_MAX);
    else if (rc == -ENOMEM)
        errmsg_set(e, rc, "out of memory");
    free(f.needed);
    free(s);
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
