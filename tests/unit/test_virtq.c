/* Unit tests for devices/virtq: chain parsing against a fake guest RAM,
 * every hostile shape the device must refuse, used ring updates and both
 * notification suppression schemes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtq.h"
#include "virtio_test_driver.h"

struct fx {
    struct tdrv d;
    struct virtq q;
    struct virtq_chain c;
    struct errmsg e;
};

static int setup_q(struct fx *f, uint16_t size, bool event_idx, bool indirect)
{
    f->d.qsize = size;
    f->d.avail_idx = 0;
    memset(tdrv_host(&f->d, AVAIL_GPA), 0, 0x1000);
    memset(tdrv_host(&f->d, USED_GPA), 0, 0x1000);
    return virtq_start(&f->q, &f->d.mem, size, DESC_GPA, AVAIL_GPA, USED_GPA, event_idx, indirect, &f->e);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    assert_int_equal(setup_q(f, 8, false, true), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tdrv_free(&f->d);
    free(f);
    return 0;
}

/* Pops and expects failure with a message containing `what`. */
static void expect_bad(struct fx *f, const char *what)
{
    f->e.text[0] = 0;
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), -EINVAL);
    if (!strstr(f->e.text, what))
        fail_msg("error '%s' does not mention '%s'", f->e.text, what);
}

static void test_start_checks(void **state)
{
    struct fx *f = *state;
    struct virtq q;
    const struct guest_mem *m = &f->d.mem;
    assert_int_equal(virtq_start(&q, m, 0, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 6, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_non_null(strstr(f->e.text, "power of two"));
    assert_int_equal(virtq_start(&q, m, 512, DESC_GPA, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 8, DESC_GPA + 8, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_non_null(strstr(f->e.text, "aligned"));
    assert_int_equal(virtq_start(&q, m, 8, DESC_GPA, AVAIL_GPA + 1, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 8, DESC_GPA, AVAIL_GPA, USED_GPA + 2, 0, 0, &f->e), -EINVAL);
    /* rings that end past RAM, or lie below it */
    assert_int_equal(virtq_start(&q, m, 8, RAM_BASE + RAM_SIZE - 64, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_non_null(strstr(f->e.text, "not inside guest RAM"));
    assert_int_equal(virtq_start(&q, m, 8, DESC_GPA, RAM_BASE + RAM_SIZE - 8, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 8, DESC_GPA, AVAIL_GPA, RAM_BASE + RAM_SIZE - 64, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 8, 0x1000, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 8, 0xfffffffffffff000ull, AVAIL_GPA, USED_GPA, 0, 0, &f->e), -EINVAL);
    assert_int_equal(virtq_start(&q, m, 256, DESC_GPA, AVAIL_GPA, USED_GPA, 1, 1, &f->e), 0);
}

static void test_simple_chain_and_push(void **state)
{
    struct fx *f = *state;
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 0);   /* empty */
    tdrv_desc(&f->d, 3, DATA_GPA, 10, VIRTQ_DESC_F_NEXT, 5);
    tdrv_desc(&f->d, 5, DATA_GPA + 100, 20, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, DATA_GPA + 200, 30, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 3);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    assert_int_equal(f->c.head, 3);
    assert_int_equal(f->c.n_readable, 2);
    assert_int_equal(f->c.n_writable, 1);
    assert_int_equal(f->c.readable_len, 30);
    assert_int_equal(f->c.writable_len, 30);
    assert_ptr_equal(f->c.seg[1].host, tdrv_host(&f->d, DATA_GPA + 100));
    assert_ptr_equal(f->c.seg[2].host, tdrv_host(&f->d, DATA_GPA + 200));
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 0);

    virtq_push(&f->q, &f->c, 1000);   /* clamped to the writable length */
    assert_int_equal(tdrv_used_idx(&f->d), 1);
    uint32_t id, len;
    tdrv_used_elem(&f->d, 0, &id, &len);
    assert_int_equal(id, 3);
    assert_int_equal(len, 30);
    assert_true(virtq_need_interrupt(&f->q));
    assert_false(virtq_need_interrupt(&f->q));   /* nothing new since */
}

static void test_chain_copy_helpers(void **state)
{
    struct fx *f = *state;
    memcpy(tdrv_host(&f->d, DATA_GPA), "hello", 5);
    memcpy(tdrv_host(&f->d, DATA_GPA + 64), "world", 5);
    tdrv_desc(&f->d, 0, DATA_GPA, 5, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, DATA_GPA + 64, 5, VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc(&f->d, 2, DATA_GPA + 128, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    tdrv_desc(&f->d, 3, DATA_GPA + 192, 3, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    char buf[16] = {0};
    assert_int_equal(virtq_chain_read(&f->c, 3, buf, sizeof buf), 7);
    assert_string_equal(buf, "loworld");
    assert_int_equal(virtq_chain_write(&f->c, 1, "abcdefgh", 8), 5);
    assert_memory_equal(tdrv_host(&f->d, DATA_GPA + 128), "\0ab", 3);
    assert_memory_equal(tdrv_host(&f->d, DATA_GPA + 192), "cde", 3);
    struct iovec iov[4];
    assert_int_equal(virtq_chain_iov(&f->c, false, 2, 6, iov, 4), 2);
    assert_ptr_equal(iov[0].iov_base, tdrv_host(&f->d, DATA_GPA + 2));
    assert_int_equal(iov[0].iov_len, 3);
    assert_int_equal(iov[1].iov_len, 3);
    assert_int_equal(virtq_chain_iov(&f->c, true, 0, 7, iov, 4), -1);   /* only 6 writable */
    assert_int_equal(virtq_chain_iov(&f->c, true, 0, 6, iov, 1), -1);   /* needs 2 iovecs */
}

static void test_loop(void **state)
{
    struct fx *f = *state;
    tdrv_desc(&f->d, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "loop");
}

static void test_self_loop_writable(void **state)
{
    struct fx *f = *state;
    tdrv_desc(&f->d, 7, DATA_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 7);
    tdrv_avail(&f->d, 7);
    expect_bad(f, "longer than the queue size");
}

static void test_long_chain_is_loop(void **state)
{
    /* Every descriptor used once is fine: exactly queue size entries. */
    struct fx *f = *state;
    for (unsigned i = 0; i < 8; i++)
        tdrv_desc(&f->d, i, DATA_GPA + 16 * i, 16, i < 7 ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    tdrv_avail(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    assert_int_equal(f->c.n_readable, 8);
    /* One more (back to 0) is a chain longer than the queue. */
    tdrv_desc(&f->d, 7, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "longer than the queue size 8");
}

static void test_index_out_of_range(void **state)
{
    struct fx *f = *state;
    tdrv_avail(&f->d, 8);
    expect_bad(f, "head descriptor index 8");
    tdrv_desc(&f->d, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 9);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "next index 9");
    tdrv_avail(&f->d, 0xffff);
    expect_bad(f, "head descriptor index 65535");
}

static void test_avail_idx_jump(void **state)
{
    struct fx *f = *state;
    atomic_store((_Atomic uint16_t *)tdrv_u16(&f->d, AVAIL_GPA + 2), htole16(9));
    expect_bad(f, "more than the queue size");
}

static void test_outside_ram(void **state)
{
    struct fx *f = *state;
    static const struct { uint64_t addr; uint32_t len; } bad[] = {
        {RAM_BASE - 16, 16},                 /* below RAM */
        {RAM_BASE - 8, 16},                  /* straddles the start */
        {RAM_BASE + RAM_SIZE - 8, 16},       /* straddles the end */
        {RAM_BASE + RAM_SIZE, 1},            /* just past the end */
        {0xfffffffffffffff0ull, 0x20},       /* address + length wraps */
        {RAM_BASE + 16, 0xffffffffu},        /* length past the end */
        {0, 16},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdrv_desc(&f->d, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
        tdrv_desc(&f->d, 1, bad[i].addr, bad[i].len, VIRTQ_DESC_F_WRITE, 0);
        tdrv_avail(&f->d, 0);
        expect_bad(f, "not inside guest RAM");
    }
    /* The last byte of RAM is fine. */
    tdrv_desc(&f->d, 1, RAM_BASE + RAM_SIZE - 1, 1, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    assert_int_equal(f->c.writable_len, 1);
}

static void test_readable_after_writable(void **state)
{
    struct fx *f = *state;
    tdrv_desc(&f->d, 0, DATA_GPA, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, DATA_GPA + 16, 16, 0, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "device-readable descriptor 1 after a device-writable one");
}

static void test_indirect_ok(void **state)
{
    struct fx *f = *state;
    uint64_t table = DATA_GPA + 0x1000;
    tdrv_desc_in(&f->d, table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc_in(&f->d, table, 2, DATA_GPA + 32, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc_in(&f->d, table, 1, DATA_GPA + 200, 1, VIRTQ_DESC_F_WRITE, 0);
    /* a direct descriptor first, then the indirect one; its WRITE flag is
     * ignored (spec 2.7.5.3.2) */
    tdrv_desc(&f->d, 4, DATA_GPA + 512, 8, VIRTQ_DESC_F_NEXT, 6);
    tdrv_desc(&f->d, 6, table, 48, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 4);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    assert_int_equal(f->c.head, 4);
    assert_int_equal(f->c.n_readable, 2);
    assert_int_equal(f->c.readable_len, 24);
    assert_int_equal(f->c.n_writable, 2);
    assert_int_equal(f->c.writable_len, 101);
}

static void test_indirect_bad(void **state)
{
    struct fx *f = *state;
    uint64_t table = DATA_GPA + 0x1000;
    tdrv_desc_in(&f->d, table, 0, DATA_GPA, 16, 0, 0);

    tdrv_desc(&f->d, 0, table, 24, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "multiple of 16");

    tdrv_desc(&f->d, 0, table, 0, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "multiple of 16");

    tdrv_desc(&f->d, 0, table, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "both INDIRECT and NEXT");

    tdrv_desc(&f->d, 0, RAM_BASE + RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "indirect table of descriptor 0 is not inside guest RAM");

    /* nested */
    tdrv_desc_in(&f->d, table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc_in(&f->d, table, 1, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_desc(&f->d, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "nesting");

    /* loop inside the table */
    tdrv_desc_in(&f->d, table, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc_in(&f->d, table, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "longer than its 2 entries");

    /* next beyond the table */
    tdrv_desc_in(&f->d, table, 1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "next index 2");

    /* indirect not negotiated */
    assert_int_equal(setup_q(f, 8, false, false), 0);
    tdrv_desc_in(&f->d, table, 1, DATA_GPA, 16, 0, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "not negotiated");
}

static void test_chain_too_many_buffers(void **state)
{
    /* An indirect table may be longer than the queue; more than
     * VIRTQ_CHAIN_MAX buffers is refused rather than overflowing. */
    struct fx *f = *state;
    uint64_t table = DATA_GPA + 0x4000;
    unsigned n = VIRTQ_CHAIN_MAX + 1;
    for (unsigned i = 0; i < n; i++)
        tdrv_desc_in(&f->d, table, i, DATA_GPA, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    tdrv_desc(&f->d, 0, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, 0);
    expect_bad(f, "more than 256 buffers");
}

static void test_no_interrupt_flag(void **state)
{
    struct fx *f = *state;
    tdrv_desc(&f->d, 0, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    *tdrv_u16(&f->d, AVAIL_GPA) = htole16(VIRTQ_AVAIL_F_NO_INTERRUPT);
    tdrv_avail(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    virtq_push(&f->q, &f->c, 4);
    assert_false(virtq_need_interrupt(&f->q));
    *tdrv_u16(&f->d, AVAIL_GPA) = 0;
    tdrv_avail(&f->d, 0);
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
    virtq_push(&f->q, &f->c, 4);
    assert_true(virtq_need_interrupt(&f->q));
}

static void test_event_idx(void **state)
{
    struct fx *f = *state;
    assert_int_equal(setup_q(f, 8, true, true), 0);
    uint16_t *used_event = tdrv_u16(&f->d, AVAIL_GPA + 4 + 2 * 8);
    uint16_t *avail_event = tdrv_u16(&f->d, USED_GPA + 4 + 8 * 8);
    tdrv_desc(&f->d, 0, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
    /* NO_INTERRUPT is ignored with EVENT_IDX: used_event rules. */
    *tdrv_u16(&f->d, AVAIL_GPA) = htole16(VIRTQ_AVAIL_F_NO_INTERRUPT);
    *used_event = htole16(2);   /* "interrupt me when entry 2 is used" */
    for (int i = 0; i < 4; i++)
        tdrv_avail(&f->d, 0);
    bool irq[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
        virtq_push(&f->q, &f->c, 4);
        irq[i] = virtq_need_interrupt(&f->q);
    }
    assert_false(irq[0]);
    assert_false(irq[1]);
    assert_true(irq[2]);    /* used idx went 2 -> 3: entry 2 published */
    assert_false(irq[3]);
    /* A batch that jumps over used_event still interrupts once. */
    *used_event = htole16(5);
    for (int i = 0; i < 3; i++)
        tdrv_avail(&f->d, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 1);
        virtq_push(&f->q, &f->c, 4);
    }
    assert_true(virtq_need_interrupt(&f->q));
    /* Draining the queue asks for a kick at the next avail entry. */
    assert_int_equal(virtq_pop(&f->q, &f->c, &f->e), 0);
    assert_int_equal(le16toh(*avail_event), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_simple_chain_and_push, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_copy_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_loop_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_chain_is_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readable_after_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indirect_bad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_too_many_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
