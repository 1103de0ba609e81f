/* Checking and loading a RISC-V Linux Image. */
#include "machine/kernel_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file_map.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Printable rendering of a few header bytes for an error message. */
static void show_bytes(char *out, size_t outlen, const uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, p[i] >= 0x20 && p[i] < 0x7f ? "%c" : "\\x%02x", p[i]);
    out[o] = 0;
}

int kernel_image_parse(const uint8_t *buf, size_t len, const char *name,
                       struct kernel_image_info *info, struct errmsg *e)
{
    if (len >= 4 && !memcmp(buf, "\177ELF", 4))
        return errmsg_set(e, -EINVAL, "kernel %s: this is an ELF file (vmlinux?), not a Linux Image; "
                          "pass arch/riscv/boot/Image", name);
    if (len < KERNEL_IMAGE_HEADER_SIZE)
        return errmsg_set(e, -EINVAL, "kernel %s: %zu bytes is too short for a RISC-V Linux Image "
                          "(its header alone is %d bytes)", name, len, KERNEL_IMAGE_HEADER_SIZE);
    if (memcmp(buf + 56, "RSC\x05", 4)) {
        char seen[32];
        show_bytes(seen, sizeof seen, buf + 56, 4);
        return errmsg_set(e, -EINVAL, "kernel %s: not a RISC-V Linux Image (magic at offset 56 is "
                          "\"%s\", expected \"RSC\\x05\")", name, seen);
    }
    info->text_offset = le64(buf + 8);
    info->image_size = le64(buf + 16);
    info->version = le32(buf + 32);
    if (info->image_size < len)
        return errmsg_set(e, -EINVAL, "kernel %s: header says image_size %llu, smaller than the "
                          "file (%zu bytes)", name, (unsigned long long)info->image_size, len);
    if (info->text_offset % 4096)
        return errmsg_set(e, -EINVAL, "kernel %s: text_offset 0x%llx is not page aligned", name,
                          (unsigned long long)info->text_offset);
    return 0;
}

int kernel_image_load(const char *path, uint8_t *ram, uint64_t ram_base, uint64_t ram_size,
                      uint64_t *entry, uint64_t *end, struct errmsg *e)
{
    struct file_map f;
    int rc = file_map(&f, "kernel", path, e);
    if (rc)
        return rc;
    if (f.size > ram_size) {
        rc = errmsg_set(e, -E2BIG, "kernel %s: %zu bytes do not fit in %llu MiB of RAM", path, f.size,
                        (unsigned long long)(ram_size >> 20));
        goto out;
    }
    struct kernel_image_info info;
    if ((rc = kernel_image_parse(f.data, f.size, path, &info, e)))
        goto out;
    /* RAM starts 2 MiB aligned on our board, so the load address is
     * simply base + text_offset. */
    if (info.text_offset > ram_size || info.image_size > ram_size - info.text_offset) {
        rc = errmsg_set(e, -E2BIG, "kernel %s: needs %llu MiB of RAM from offset 0x%llx but the "
                        "guest has %llu MiB; raise --mem", path,
                        (unsigned long long)((info.image_size + (1 << 20) - 1) >> 20),
                        (unsigned long long)info.text_offset, (unsigned long long)(ram_size >> 20));
        goto out;
    }
    memcpy(ram + info.text_offset, f.data, f.size);
    *entry = ram_base + info.text_offset;
    *end = ram_base + info.text_offset + info.image_size;
out:
    file_unmap(&f);
    return rc;
}
