/* Unit tests for cpu/decode: known encodings (taken from the GNU
 * assembler's output) decode to the right operation and fields, and
 * reserved encodings decode as illegal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cpu/decode.h"

static struct insn dec(uint32_t raw)
{
    struct insn d;
    decode_insn(raw, &d);
    return d;
}

static void base_integer(void **state)
{
    (void)state;
    struct insn d = dec(0x00008067); /* jalr x0, 0(ra) */
    assert_int_equal(d.op, OP_JALR);
    assert_int_equal(d.rd, DECODE_XZERO_SINK);
    assert_int_equal(d.rs1, 1);
    assert_int_equal(d.imm, 0);
    assert_int_equal(d.len, 4);
    d = dec(0x9e7ff06f); /* jal x0, -0x61a */
    assert_int_equal(d.op, OP_JAL);
    assert_int_equal(d.imm, -0x61a);
    d = dec(0x01f50463); /* beq a0, t6, +8 */
    assert_int_equal(d.op, OP_BEQ);
    assert_int_equal(d.rs1, 10);
    assert_int_equal(d.rs2, 31);
    assert_int_equal(d.imm, 8);
    d = dec(0x0062b023); /* sd t1, 0(t0) */
    assert_int_equal(d.op, OP_SD);
    assert_int_equal(d.rs1, 5);
    assert_int_equal(d.rs2, 6);
    d = dec(0x5553031b); /* addiw t1, t1, 1365 */
    assert_int_equal(d.op, OP_ADDIW);
    assert_int_equal(d.rd, 6);
    assert_int_equal(d.imm, 1365);
    d = dec(0x80000537); /* lui a0, 0x80000 */
    assert_int_equal(d.op, OP_LUI);
    assert_int_equal(d.imm, (int32_t)0x80000000u);
    d = dec(0x02b54633); /* div a2, a0, a1 */
    assert_int_equal(d.op, OP_DIV);
    d = dec(0x0205763b); /* remuw a2, a0, zero */
    assert_int_equal(d.op, OP_REMUW);
}

static void system_and_csr(void **state)
{
    (void)state;
    struct insn d = dec(0x3b029073); /* csrw pmpaddr0, t0 */
    assert_int_equal(d.op, OP_CSRRW);
    assert_int_equal(d.rd, DECODE_XZERO_SINK);
    assert_int_equal(d.rs1, 5);
    assert_int_equal(d.imm, 0x3b0);
    d = dec(0x34416073); /* csrsi mip, 2 */
    assert_int_equal(d.op, OP_CSRRSI);
    assert_int_equal(d.rs1, 2);
    assert_int_equal(d.imm, 0x344);
    assert_int_equal(dec(0x30200073).op, OP_MRET);
    assert_int_equal(dec(0x10200073).op, OP_SRET);
    assert_int_equal(dec(0x10500073).op, OP_WFI);
    assert_int_equal(dec(0x12000073).op, OP_SFENCE_VMA);
    assert_int_equal(dec(0x00000073).op, OP_ECALL);
    assert_int_equal(dec(0x00100073).op, OP_EBREAK);
    assert_int_equal(dec(0x0100000f).op, OP_FENCE);   /* pause */
    assert_int_equal(dec(0x0000100f).op, OP_FENCE_I);
    assert_int_equal(dec(0x0045200f).op, OP_CBO_ZERO);
    assert_int_equal(dec(0x0015200f).op, OP_CBO_CLEAN);
    assert_int_equal(dec(0x00004073).op, OP_ILLEGAL); /* funct3 4 of SYSTEM */
}

static void bitmanip(void **state)
{
    (void)state;
    struct insn d = dec(0x20c5a533); /* sh1add a0, a1, a2 */
    assert_int_equal(d.op, OP_SH1ADD);
    assert_int_equal(d.rd, 10);
    assert_int_equal(d.rs1, 11);
    assert_int_equal(d.rs2, 12);
    assert_int_equal(dec(0x40c5f533).op, OP_ANDN);
    d = dec(0x28351513); /* bseti a0, a0, 3 */
    assert_int_equal(d.op, OP_BSETI);
    assert_int_equal(d.imm, 3);
}

static void compressed(void **state)
{
    (void)state;
    struct insn d = dec(0x52fd); /* c.li t0, -1 */
    assert_int_equal(d.op, OP_ADDI);
    assert_int_equal(d.rd, 5);
    assert_int_equal(d.rs1, 0);
    assert_int_equal(d.imm, -1);
    assert_int_equal(d.len, 2);
    assert_int_equal(d.raw, 0x52fd);
    d = dec(0xa8350000 | 0xa835); /* c.j +0x3c; upper bits are the next insn */
    assert_int_equal(d.op, OP_JAL);
    assert_int_equal(d.rd, DECODE_XZERO_SINK);
    assert_int_equal(d.imm, 0x3c);
    assert_int_equal(d.raw, 0xa835);
    d = dec(0x8d0d); /* c.sub a0, a1 */
    assert_int_equal(d.op, OP_SUB);
    assert_int_equal(d.rd, 10);
    assert_int_equal(d.rs2, 11);
    d = dec(0x157e); /* c.slli a0, 0x3f */
    assert_int_equal(d.op, OP_SLLI);
    assert_int_equal(d.imm, 63);
    d = dec(0x2505); /* c.addiw a0, 1 */
    assert_int_equal(d.op, OP_ADDIW);
    assert_int_equal(d.imm, 1);
    assert_int_equal(dec(0x9002).op, OP_EBREAK);
    assert_int_equal(dec(0x0000).op, OP_ILLEGAL);
    assert_int_equal(dec(0x0000).len, 2);
    assert_int_equal(dec(0x4001).op, OP_ADDI); /* c.li x0: a hint, still executes as a nop */
    assert_int_equal(dec(0x6001).op, OP_ILLEGAL); /* c.lui x0, 0: reserved */
    assert_int_equal(dec(0x8002).op, OP_ILLEGAL); /* c.jr x0: reserved */
}

static void floating_point(void **state)
{
    (void)state;
    struct insn d = dec(0x02b57553); /* fadd.d fa0, fa0, fa1, dyn */
    assert_int_equal(d.op, OP_FADD_D);
    assert_int_equal(d.rd, 10); /* FP destinations are not remapped */
    assert_int_equal(d.rm, 7);
    assert_int_equal(dec(0x02b55553).op, OP_ILLEGAL); /* rm 5 is reserved */
    assert_int_equal(dec(0xe0050553).op, OP_FMV_X_W);   /* fmv.x.w a0, fa0 */
    d = dec(0xe0050553);
    assert_int_equal(d.rd, 10);
    assert_int_equal(dec(0x00053007).op, OP_FLD);       /* fld f0, 0(a0) */
    d = dec(0x2000);                                    /* c.fld f8, 0(s0) */
    assert_int_equal(d.op, OP_FLD);
    assert_int_equal(d.rd, 8);
}

static void every_op_has_a_name(void **state)
{
    (void)state;
    for (unsigned op = 0; op < OP_COUNT_; op++)
        assert_true(strlen(decode_op_name(op)) > 0);
    assert_string_equal(decode_op_name(OP_ADDI), "ADDI");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base_integer),
        cmocka_unit_test(system_and_csr),
        cmocka_unit_test(bitmanip),
        cmocka_unit_test(compressed),
        cmocka_unit_test(floating_point),
        cmocka_unit_test(every_op_has_a_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
