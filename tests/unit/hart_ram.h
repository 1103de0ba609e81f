/* For the unit tests of the MMU, the TLBs and the debugger's access: a hart
 * over zeroed RAM at RAM_BASE (which the test defines), and a page table
 * entry. Include after cmocka.h. */
#ifndef MINNOW_TESTS_UNIT_HART_RAM_H
#define MINNOW_TESTS_UNIT_HART_RAM_H

#include <stdlib.h>
#include <string.h>

#include "cpu/hart.h"

static inline uint8_t *hart_ram_create(struct hart **h, size_t size)
{
    uint8_t *ram = aligned_alloc(4096, size);
    assert_non_null(ram);
    memset(ram, 0, size);
    struct hart_config cfg = { .mem = { .host = ram, .base = RAM_BASE, .size = size } };
    assert_int_equal(hart_create(h, &cfg, NULL), 0);
    return ram;
}

static inline uint64_t pte(uint64_t pa, uint64_t flags)
{
    return ((pa >> 12) << 10) | flags;
}

#endif
