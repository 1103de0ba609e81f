/* Unit tests for vmm/guest_inspect and vmm/gdb_monitor on a hart whose
 * memory the test lays out: the frame-pointer chain of the stack report
 * (RISC-V frames: the caller's fp at fp-16, the return address at fp-8),
 * where it stops, the hexdump's layout and where it stops, the page walk
 * report, and the monitor's answers to good and bad commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/csr.h"
#include "cpu/hart.h"
#include "cpu/hart_debug.h"
#include "cpu/mmu.h"
#include "vmm/gdb_monitor.h"
#include "vmm/gdb_target.h"
#include "vmm/guest_inspect.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)

#include "hart_ram.h"

struct fixture {
    uint8_t *ram;
    struct hart *h;
    char *text;
    size_t len;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->ram = hart_ram_create(&f->h, RAM_SIZE);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    hart_destroy(f->h);
    free(f->ram);
    free(f->text);
    free(f);
    return 0;
}

static void put64(struct fixture *f, uint64_t pa, uint64_t v)
{
    memcpy(f->ram + (pa - RAM_BASE), &v, 8);
}

/* Runs call, which writes a report to fp_, into f->text. */
#define REPORT(f, call)                                      \
    do {                                                     \
        free((f)->text);                                     \
        (f)->text = NULL;                                    \
        FILE *fp_ = open_memstream(&(f)->text, &(f)->len);   \
        assert_non_null(fp_);                                \
        call;                                                \
        fclose(fp_);                                         \
    } while (0)

static void stack_follows_the_frame_pointers(void **state)
{
    struct fixture *f = *state;
    /* M-mode, physical: sp at 0x80080000, three frames above it */
    uint64_t sp = RAM_BASE + 0x80000, fp1 = sp + 0x40, fp2 = sp + 0x100, fp3 = sp + 0x180;
    put64(f, fp1 - 8, 0x80001010);
    put64(f, fp1 - 16, fp2);
    put64(f, fp2 - 8, 0x80002020);
    put64(f, fp2 - 16, fp3);
    put64(f, fp3 - 8, 0x80003030);
    put64(f, fp3 - 16, sp - 0x1000); /* below the last frame: the chain ends */
    put64(f, sp, 0x1122334455667788);
    hart_set_reg(f->h, 2, sp);
    hart_set_reg(f->h, 8, fp1);
    hart_set_reg(f->h, 1, 0x80000ff0);
    hart_debug_set_pc(f->h, 0x80000100);
    REPORT(f, guest_inspect_stack(fp_, f->h));
    assert_non_null(strstr(f->text, "pc 0000000080000100  ra 0000000080000ff0  sp 0000000080080000"));
    assert_non_null(strstr(f->text, "  #0  0000000080000100\n"
                                    "  #1  0000000080001010  (frame at 0000000080080040)\n"
                                    "  #2  0000000080002020  (frame at 0000000080080100)\n"
                                    "  #3  0000000080003030  (frame at 0000000080080180)\n"
                                    "stack words at sp:\n"
                                    "  0000000080080000: 1122334455667788\n"));
    assert_null(strstr(f->text, "#4"));
    /* a misaligned fp: no frames, the words still */
    hart_set_reg(f->h, 8, fp1 + 4);
    REPORT(f, guest_inspect_stack(fp_, f->h));
    assert_null(strstr(f->text, "#1"));
    assert_non_null(strstr(f->text, "  0000000080080000: 1122334455667788\n"));
    /* a stack at the end of RAM: the words stop there */
    hart_set_reg(f->h, 2, RAM_BASE + RAM_SIZE - 16);
    REPORT(f, guest_inspect_stack(fp_, f->h));
    assert_non_null(strstr(f->text, "  00000000800ffff8: 0000000000000000\n  0000000080100000: (not mapped)\n"));
}

static void mem_dump_layout(void **state)
{
    struct fixture *f = *state;
    memcpy(f->ram + 0x1000, "RISCV\0\0\0hello, world!\x01\x7f", 23);
    REPORT(f, assert_int_equal(guest_inspect_mem(fp_, f->h, RAM_BASE + 0x1000, 20, 0), 0));
    assert_string_equal(f->text,
        "0000000080001000: 52 49 53 43 56 00 00 00  68 65 6c 6c 6f 2c 20 77  |RISCV...hello, w|\n"
        "0000000080001010: 6f 72 6c 64                                       |orld|\n");
    /* RAM ends: a shorter dump, said so; nothing at all: -1 */
    REPORT(f, assert_int_equal(guest_inspect_mem(fp_, f->h, RAM_BASE + RAM_SIZE - 4, 16, 1), 0));
    assert_non_null(strstr(f->text, "00000000800ffffc: 00 00 00 00 "));
    assert_non_null(strstr(f->text, "(stops at 0x80100000: not RAM)\n"));
    REPORT(f, assert_int_equal(guest_inspect_mem(fp_, f->h, 0x10000000, 16, 1), -1));
    assert_string_equal(f->text, "");
}

static void translate_report(void **state)
{
    struct fixture *f = *state;
    /* Sv39: 0x40000000 -> RAM_BASE + 0x10000 through three levels */
    uint64_t root = RAM_BASE + 0x1000, l1 = RAM_BASE + 0x2000, l0 = RAM_BASE + 0x3000;
    put64(f, root + 8, ((l1 >> 12) << 10) | PTE_V);
    put64(f, l1, ((l0 >> 12) << 10) | PTE_V);
    put64(f, l0, (((RAM_BASE + 0x10000) >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);
    assert_int_equal(hart_debug_csr_write(f->h, CSR_SATP, (8ull << 60) | (root >> 12)), 0);
    f->h->priv = PRIV_S;
    csr_update_priv_ls(f->h);
    REPORT(f, assert_int_equal(guest_inspect_translate(fp_, f->h, 0x40000123), 0));
    assert_string_equal(f->text,
        "satp 8000000000080001: mode sv39, root table 0x80001000, hart in S-mode\n"
        "  level 2: pte at 0x80001008 = 0000000020000801 [-------V] ppn 0x80002\n"
        "  level 1: pte at 0x80002000 = 0000000020000c01 [-------V] ppn 0x80003\n"
        "  level 0: pte at 0x80003000 = 00000000200040c7 [DA---WRV] ppn 0x80010\n"
        "0x40000123 -> physical 0x80010123 (4 KiB page)\n");
    REPORT(f, assert_int_equal(guest_inspect_translate(fp_, f->h, 0x40001000), -1));
    assert_non_null(strstr(f->text, "  level 0: pte at 0x80003008 = 0000000000000000 [--------] ppn 0\n"
                                    "0x40001000 is not mapped: the PTE is not valid (V=0)\n"));
    /* the ranges: the page above, a second page after it joined to it (the
     * next physical page, same permissions), a third not (read-only); the
     * same pages again at the top of the upper half (sign-extended), and a
     * 1 GiB gigapage; a reserved PTE maps nothing */
    put64(f, l0 + 8, (((RAM_BASE + 0x11000) >> 12) << 10) | PTE_V | PTE_R | PTE_W);
    put64(f, l0 + 16, (((RAM_BASE + 0x12000) >> 12) << 10) | PTE_V | PTE_R);
    uint64_t l1_top = RAM_BASE + 0x4000;
    put64(f, root + 8 * 511, ((l1_top >> 12) << 10) | PTE_V);
    put64(f, l1_top + 8 * 511, ((l0 >> 12) << 10) | PTE_V);
    put64(f, root + 8 * 2, (0x80000000ull >> 12 << 10) | PTE_V | PTE_R | PTE_X | PTE_G);
    put64(f, l0 + 8 * 3, 0xdead0000ull << 10 | PTE_V | PTE_W); /* reserved: W without R */
    REPORT(f, guest_inspect_mappings(fp_, f->h, 100));
    assert_string_equal(f->text,
        "satp 8000000000080001: mode sv39, root table 0x80001000\n"
        "0000000040000000-0000000040002000 -> 0000000080010000        8 KiB rw---\n"
        "0000000040002000-0000000040003000 -> 0000000080012000        4 KiB r----\n"
        "0000000080000000-00000000c0000000 -> 0000000080000000  1048576 KiB r-x-g\n"
        "ffffffffffe00000-ffffffffffe02000 -> 0000000080010000        8 KiB rw---\n"
        "ffffffffffe02000-ffffffffffe03000 -> 0000000080012000        4 KiB r----\n");
    REPORT(f, guest_inspect_mappings(fp_, f->h, 2));
    assert_non_null(strstr(f->text, "(more ranges not shown: the first 2 are)\n"));
}

static void monitor_commands(void **state)
{
    struct fixture *f = *state;
    struct gdb_target *t;
    struct hart *harts[1] = { f->h };
    struct gdb_target_config tc = { .harts = harts, .nharts = 1, .start_halted = 1 };
    assert_int_equal(gdb_target_create(&t, &tc, NULL), 0);
    int phys = 0;
    struct gdb_monitor_ctx c = { .t = t, .hart = 0, .phys = &phys };
    static const struct { const char *cmd, *want; } cases[] = {
        { "help", "minnow monitor commands:\n" },
        { "", "minnow monitor commands:\n" },
        { "phys on", "memory accesses are by physical address\n" },
        { "phys", "memory accesses are by physical address\n" },
        { "phys off", "memory accesses are by virtual (the hart's MMU) address\n" },
        { "phys sometimes", "monitor phys: expected on or off, not 'sometimes'\n" },
        { "translate", "monitor translate: expected one virtual address" },
        { "translate 0x80000000 2", "monitor translate: expected one virtual address" },
        { "translate -1", "monitor translate: '-1' is not an address (a number, 0x for hex)\n" },
        { "translate 0x80000000", "no translation (satp is bare): 0x80000000 is physical 0x80000000\n" },
        { "info mem 0x80000004", "0x80000004 is physical 0x80000004\n" },
        { "info mem", "satp 0000000000000000: mode bare, root table 0\nno page tables: addresses are physical\n" },
        { "info mem 1 2", "unknown monitor command 'info mem 1 2'" },
        { "info harts", "* hart 0 (thread 1): pc 0000000000001000 priv 3 satp 0000000000000000 (bare)\n" },
        { "info regs", "pc   0000000000001000   priv M (3)\n" },
        { "info", "unknown monitor command 'info' (monitor help lists the commands)\n" },
        { "reset now", "unknown monitor command 'reset now'" },
        { "a b c d e", "monitor: too many or too long words in 'a b c d e'" },
    };
    hart_debug_set_pc(f->h, 0x1000);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = gdb_monitor_run(&c, cases[i].cmd);
        assert_non_null(out);
        if (!strstr(out, cases[i].want))
            fail_msg("monitor '%s': '%s' does not contain '%s'", cases[i].cmd, out, cases[i].want);
        if (!strcmp(cases[i].cmd, "phys on"))
            assert_int_equal(phys, 1);
        if (!strcmp(cases[i].cmd, "phys off"))
            assert_int_equal(phys, 0);
        free(out);
    }
    gdb_target_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(stack_follows_the_frame_pointers, setup, teardown),
        cmocka_unit_test_setup_teardown(mem_dump_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(translate_report, setup, teardown),
        cmocka_unit_test_setup_teardown(monitor_commands, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
