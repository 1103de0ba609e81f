/* Unit tests for machine/kernel_image: header checks and loading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/kernel_image.h"

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void make_header(uint8_t *h, uint64_t text_offset, uint64_t image_size)
{
    memset(h, 0, KERNEL_IMAGE_HEADER_SIZE);
    put64(h + 8, text_offset);
    put64(h + 16, image_size);
    h[32] = 2; /* version 0.2 */
    memcpy(h + 48, "RISCV\0\0\0", 8);
    memcpy(h + 56, "RSC\x05", 4);
}

static void parses_a_good_header(void **state)
{
    (void)state;
    uint8_t h[128];
    make_header(h, 0x200000, 0x400000);
    struct kernel_image_info info;
    struct errmsg e;
    assert_int_equal(kernel_image_parse(h, sizeof h, "k", &info, &e), 0);
    assert_int_equal(info.text_offset, 0x200000);
    assert_int_equal(info.image_size, 0x400000);
}

static void refuses_bad_magic_and_names_it(void **state)
{
    (void)state;
    uint8_t h[128];
    make_header(h, 0x200000, 0x400000);
    memcpy(h + 56, "ABCD", 4);
    struct kernel_image_info info;
    struct errmsg e;
    assert_true(kernel_image_parse(h, sizeof h, "junk.bin", &info, &e) < 0);
    assert_non_null(strstr(e.text, "junk.bin"));
    assert_non_null(strstr(e.text, "\"ABCD\""));
}

static void refuses_elf_short_and_inconsistent(void **state)
{
    (void)state;
    uint8_t h[128];
    struct kernel_image_info info;
    struct errmsg e;
    make_header(h, 0x200000, 0x400000);
    memcpy(h, "\177ELF", 4);
    assert_true(kernel_image_parse(h, sizeof h, "vmlinux", &info, &e) < 0);
    assert_non_null(strstr(e.text, "ELF"));
    make_header(h, 0x200000, 0x400000);
    assert_true(kernel_image_parse(h, 10, "tiny", &info, &e) < 0);
    assert_non_null(strstr(e.text, "too short"));
    make_header(h, 0x200000, 16); /* image_size smaller than the file */
    assert_true(kernel_image_parse(h, sizeof h, "k", &info, &e) < 0);
    make_header(h, 0x200001, 0x400000);
    assert_true(kernel_image_parse(h, sizeof h, "k", &info, &e) < 0);
}

static char *write_temp(const uint8_t *data, size_t n)
{
    static char path[64];
    strcpy(path, "/tmp/minnow-kimg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
    return path;
}

static void loads_at_text_offset_and_checks_ram(void **state)
{
    (void)state;
    uint8_t img[4096];
    make_header(img, 0x200000, 0x300000);
    for (size_t i = KERNEL_IMAGE_HEADER_SIZE; i < sizeof img; i++)
        img[i] = (uint8_t)i;
    char *path = write_temp(img, sizeof img);
    uint64_t ram_size = 8u << 20;
    uint8_t *ram = calloc(1, ram_size);
    uint64_t entry, end;
    struct errmsg e;
    assert_int_equal(kernel_image_load(path, ram, 0x80000000, ram_size, &entry, &end, &e), 0);
    assert_int_equal(entry, 0x80200000);
    assert_int_equal(end, 0x80500000);
    assert_memory_equal(ram + 0x200000, img, sizeof img);
    /* 2 MiB + 3 MiB needed: 4 MiB of RAM is too small */
    assert_true(kernel_image_load(path, ram, 0x80000000, 4u << 20, &entry, &end, &e) < 0);
    assert_non_null(strstr(e.text, "--mem"));
    unlink(path);
    assert_true(kernel_image_load("/nonexistent/Image", ram, 0x80000000, ram_size, &entry, &end, &e) < 0);
    assert_non_null(strstr(e.text, "/nonexistent/Image"));
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_a_good_header),
        cmocka_unit_test(refuses_bad_magic_and_names_it),
        cmocka_unit_test(refuses_elf_short_and_inconsistent),
        cmocka_unit_test(loads_at_text_offset_and_checks_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
