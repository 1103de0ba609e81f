/* Unit tests for the jailer's parts that need no root: the id and cgroup
 * name rules (vmm/jailer.h, vmm/jailer_cgroup.h), the shared objects of an
 * executable, hostile ELF files included (vmm/jailer_libs.h), and the jail
 * tree: made, undone, refused twice, removed without following symlinks
 * (vmm/jailer_tree.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/jailer.h"
#include "vmm/jailer_cgroup.h"
#include "vmm/jailer_libs.h"
#include "vmm/jailer_tree.h"

static void ids(void **state)
{
    (void)state;
    struct errmsg e;
    char id[80];
    memset(id, 'a', 64);
    id[64] = 0;
    assert_int_equal(jailer_check_id("vm-1-B", &e), 0);
    assert_int_equal(jailer_check_id(id, &e), 0);
    id[64] = 'a';
    id[65] = 0;
    assert_int_equal(jailer_check_id(id, &e), -EINVAL);
    assert_non_null(strstr(e.text, "expected 1 to 64 characters, got 65"));
    static const char *const bad[] = { "", "a_b", "a/b", "..", "a b", "é" };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(jailer_check_id(bad[i], &e), -EINVAL);
    jailer_check_id("a/b", &e);
    assert_string_equal(e.text, "--id 'a/b': only letters, digits and '-' are allowed");
}

static void cgroup_names(void **state)
{
    (void)state;
    struct errmsg e;
    static const char *const good[] = { "pids.max", "memory.max", "cpuset.cpus", "memory.limit_in_bytes",
                                        "cgroup.max.depth", "hugetlb.2MB.max" };
    for (unsigned i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(jailer_cgroup_check(&(struct jailer_setting){ good[i], "1" }, &e), 0);
    static const char *const bad[] = { "pids", ".max", "pids.", "../pids.max", "a/b.c", "cgroup.procs",
                                       "cgroup.threads", "" };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(jailer_cgroup_check(&(struct jailer_setting){ bad[i], "1" }, &e), -EINVAL);
    assert_int_equal(jailer_cgroup_check(&(struct jailer_setting){ "pids.max", "1\n2" }, &e), -EINVAL);
    assert_non_null(strstr(e.text, "newline"));
    static const char *const parents[] = { "minnow", "a/b", "vms/minnow-1" };
    for (unsigned i = 0; i < sizeof parents / sizeof parents[0]; i++)
        assert_int_equal(jailer_cgroup_check_parent(parents[i], &e), 0);
    static const char *const bad_parents[] = { "", "/a", "a/../b", "a//b", "a/", ".", "..", "a/." };
    for (unsigned i = 0; i < sizeof bad_parents / sizeof bad_parents[0]; i++)
        assert_int_not_equal(jailer_cgroup_check_parent(bad_parents[i], &e), 0);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* This test program's own libraries: its loader first, libc among them,
 * and a library loaded on demand with what it links (libmicrohttpd, a
 * build dependency, links GnuTLS); one that is not there is left out. */
static void own_libraries(void **state)
{
    (void)state;
    struct errmsg e = { "" };
    struct jailer_libs l;
    static const char *const on_demand[] = { "libnot-there-at-all.so.7", "libmicrohttpd.so.12", NULL };
    assert_int_equal(jailer_libs_find(&l, "/proc/self/exe", on_demand, &e), 0);
    assert_true(l.n >= 2);
    assert_non_null(strstr(l.paths[0], "ld-linux"));
    int libc = 0, mhd = 0, tls = 0;
    for (unsigned i = 0; i < l.n; i++) {
        assert_int_equal(l.paths[i][0], '/');
        assert_null(strstr(l.paths[i], "not-there"));
        libc += !strcmp(base_name(l.paths[i]), "libc.so.6");
        mhd += !strcmp(base_name(l.paths[i]), "libmicrohttpd.so.12");
        tls += !strcmp(base_name(l.paths[i]), "libgnutls.so.30");
        for (unsigned k = 0; k < i; k++)
            assert_string_not_equal(base_name(l.paths[k]), base_name(l.paths[i]));
    }
    assert_int_equal(libc, 1);
    assert_int_equal(mhd, 1);
    assert_int_equal(tls, 1);
#ifdef __SANITIZE_ADDRESS__
    assert_true(l.needs_proc);
#else
    assert_false(l.needs_proc);
#endif
    jailer_libs_free(&l);
}

/* This program's bytes, to damage. */
static uint8_t *self_image(size_t *size)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *m = malloc((size_t)st.st_size);
    assert_non_null(m);
    assert_int_equal(read(fd, m, (size_t)st.st_size), st.st_size);
    close(fd);
    *size = (size_t)st.st_size;
    return m;
}

static const char *write_file(const uint8_t *m, size_t n)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/minnow-test-jailer-elf-%d", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, m, n), (ssize_t)n);
    close(fd);
    return path;
}

/* The file m made of, checked: the message must hold want. */
static void refused(const uint8_t *m, size_t n, const char *want)
{
    struct errmsg e = { "" };
    struct jailer_libs l;
    const char *path = write_file(m, n);
    assert_int_not_equal(jailer_libs_find(&l, path, NULL, &e), 0);
    unlink(path);
    if (!strstr(e.text, want))
        fail_msg("'%s' does not say '%s'", e.text, want);
}

static Elf64_Dyn *dynamic(uint8_t *m, size_t *n)
{
    Elf64_Ehdr *h = (Elf64_Ehdr *)m;
    Elf64_Phdr *ph = (Elf64_Phdr *)(m + h->e_phoff);
    for (unsigned i = 0; i < h->e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC) {
            *n = ph[i].p_filesz / sizeof(Elf64_Dyn);
            return (Elf64_Dyn *)(m + ph[i].p_offset);
        }
    fail_msg("no PT_DYNAMIC");
    return NULL;
}

static void hostile_elf(void **state)
{
    (void)state;
    size_t size;
    uint8_t *m = self_image(&size);
    refused((const uint8_t *)"#!/bin/sh\n", 10, "is not an ELF executable");
    refused(m, 40, "is not an ELF executable");                 /* shorter than a header */
    refused(m, sizeof(Elf64_Ehdr), "malformed ELF program headers");
    uint8_t *c = malloc(size);
    memcpy(c, m, size);
    c[EI_CLASS] = ELFCLASS32;
    refused(c, size, "not a 64-bit ELF");
    memcpy(c, m, size);
    ((Elf64_Ehdr *)c)->e_phoff = size - 10;
    refused(c, size, "malformed ELF program headers");
    memcpy(c, m, size);
    ((Elf64_Ehdr *)c)->e_phoff += 4;                        /* not aligned */
    refused(c, size, "malformed ELF program headers");
    memcpy(c, m, size);
    ((Elf64_Ehdr *)c)->e_type = ET_REL;
    refused(c, size, "is not an executable");
    /* a DT_NEEDED far outside the string table */
    memcpy(c, m, size);
    size_t n = 0;
    Elf64_Dyn *d = dynamic(c, &n);
    unsigned needed = 0;
    for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++)
        if (d[i].d_tag == DT_NEEDED && !needed++)
            d[i].d_un.d_val = 0x7fffffff;
    assert_true(needed > 0);
    refused(c, size, "malformed ELF DT_NEEDED entry");
    /* a dynamic section that is not aligned */
    memcpy(c, m, size);
    Elf64_Phdr *ph = (Elf64_Phdr *)(c + ((Elf64_Ehdr *)c)->e_phoff);
    for (unsigned i = 0; i < ((Elf64_Ehdr *)c)->e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC)
            ph[i].p_offset += 4;
    refused(c, size, "malformed ELF dynamic section");
    /* a string table outside the file */
    memcpy(c, m, size);
    d = dynamic(c, &n);
    for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++)
        if (d[i].d_tag == DT_STRSZ)
            d[i].d_un.d_val = (uint64_t)size * 4;
    refused(c, size, "malformed ELF dynamic string table");
    /* a library this process does not load */
    memcpy(c, m, size);
    uint8_t *libc = memmem(c, size, "libc.so.6", 10);
    assert_non_null(libc);
    memcpy(libc, "libq.so.6", 10);
    refused(c, size, "needs the library libq.so.6, which is in none of");
    free(c);
    free(m);
}

static char tmp[64];

static int setup_tmp(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/minnow-test-jailer-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
    (void)state;
    return jailer_tree_remove(tmp, NULL);
}

static char *at(const char *rel)
{
    static char p[4][256];
    static unsigned k;
    char *s = p[k++ % 4];
    snprintf(s, 256, "%s/%s", tmp, rel);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void tree_made_and_undone(void **state)
{
    (void)state;
    struct errmsg e = { "" };
    struct jailer_tree t;
    write_text(at("host.txt"), "host file\n");
    assert_int_equal(jailer_tree_create(&t, at("new/base"), "minnow", "vm1", &e), 0);
    assert_string_equal(t.root, at("new/base/minnow/vm1/root"));
    assert_int_equal(jailer_tree_copy(&t, at("host.txt"), "lib/x/copy.txt", 0751, &e), 0);
    assert_int_equal(jailer_tree_link(&t, at("host.txt"), "link.txt", &e), 0);
    assert_int_equal(jailer_tree_mkdir(&t, "proc", 0555, &e), 0);
    assert_int_equal(jailer_tree_write(&t, "minnow.pid", "42\n", &e), 0);
    struct stat a, b, c;
    assert_int_equal(stat(at("new/base/minnow/vm1/root/lib/x/copy.txt"), &a), 0);
    assert_int_equal(stat(at("host.txt"), &b), 0);
    assert_int_equal(stat(at("new/base/minnow/vm1/root/link.txt"), &c), 0);
    assert_int_not_equal(a.st_ino, b.st_ino);          /* a copy */
    assert_int_equal(a.st_mode & 07777, 0751);
    assert_int_equal(c.st_ino, b.st_ino);              /* a link */
    /* a second jail with the id is refused and leaves the first alone */
    struct jailer_tree t2;
    assert_int_equal(jailer_tree_create(&t2, at("new/base"), "minnow", "vm1", &e), -EEXIST);
    assert_non_null(strstr(e.text, "a jail with id 'vm1' exists already"));
    assert_int_equal(access(at("new/base/minnow/vm1/root/minnow.pid"), F_OK), 0);
    /* an existing destination is refused */
    assert_int_not_equal(jailer_tree_link(&t, at("host.txt"), "link.txt", &e), 0);
    jailer_tree_undo(&t);
    assert_int_equal(access(at("new"), F_OK), -1);     /* every directory made is gone */
    assert_int_equal(access(at("host.txt"), F_OK), 0);
}

static void tree_base_not_a_directory(void **state)
{
    (void)state;
    struct errmsg e = { "" };
    struct jailer_tree t;
    write_text(at("file"), "x");
    assert_int_equal(jailer_tree_create(&t, at("file"), "minnow", "vm1", &e), -ENOTDIR);
    assert_non_null(strstr(e.text, "is not a directory"));
    assert_int_equal(jailer_tree_create(&t, at("file/sub"), "minnow", "vm1", &e), -ENOTDIR);
    assert_non_null(strstr(e.text, "is not a directory"));
}

/* What a jailed VM can leave in its root: symlinks to host files and
 * directories, deep trees, unreadable directories. */
static void tree_removed_without_following_symlinks(void **state)
{
    (void)state;
    struct errmsg e = { "" };
    write_text(at("outside.txt"), "keep me\n");
    assert_int_equal(mkdir(at("outside"), 0755), 0);
    write_text(at("outside/inner.txt"), "keep me too\n");
    assert_int_equal(mkdir(at("jail"), 0755), 0);
    assert_int_equal(symlink(at("outside.txt"), at("jail/file-link")), 0);
    assert_int_equal(symlink(at("outside"), at("jail/dir-link")), 0);
    char deep[256] = "";
    for (int i = 0; i < 20; i++) {
        strcat(deep, i ? "/d" : "jail/d");
        assert_int_equal(mkdir(at(deep), 0755), 0);
    }
    assert_int_equal(mkdir(at("jail/closed"), 0755), 0);
    write_text(at("jail/closed/x"), "x");
    chmod(at("jail/closed"), 0);
    int r = jailer_tree_remove(at("jail"), &e);
    if (getuid() != 0) {
        /* only root reads an unreadable directory: let it be read */
        assert_int_not_equal(r, 0);
        chmod(at("jail/closed"), 0755);
        r = jailer_tree_remove(at("jail"), &e);
    }
    assert_int_equal(r, 0);
    assert_int_equal(access(at("jail"), F_OK), -1);
    assert_int_equal(access(at("outside.txt"), F_OK), 0);
    assert_int_equal(access(at("outside/inner.txt"), F_OK), 0);
    /* a symlink itself is not removed as the directory it names */
    assert_int_equal(symlink(at("outside"), at("link")), 0);
    assert_int_equal(jailer_tree_remove(at("link"), &e), -ENOTDIR);
    assert_int_equal(access(at("outside/inner.txt"), F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids),
        cmocka_unit_test(cgroup_names),
        cmocka_unit_test(own_libraries),
        cmocka_unit_test(hostile_elf),
        cmocka_unit_test_setup_teardown(tree_made_and_undone, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(tree_base_not_a_directory, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(tree_removed_without_following_symlinks, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
