/* x86-64 instruction encodings for the JIT (see jit_x64.h). Only what
 * cpu/jit.c asks for, each in its plainest form. */
#include "cpu/jit_x64.h"

#include <string.h>

static void e8(struct x64_buf *b, unsigned v)
{
    if (b->p < b->end)
        *b->p++ = (uint8_t)v;
    else
        b->overflow = 1;
}

static void e32(struct x64_buf *b, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        e8(b, (v >> (8 * i)) & 0xff);
}

/* A REX prefix when any part needs one (force: byte registers 4-7). */
static void rex(struct x64_buf *b, int w, unsigned reg, unsigned base, int force)
{
    unsigned v = 0x40 | (w ? 8u : 0u) | ((reg >> 3) << 2) | (base >> 3);
    if (v != 0x40 || force)
        e8(b, v);
}

static void modrm_reg(struct x64_buf *b, unsigned reg, unsigned rm)
{
    e8(b, 0xc0 | ((reg & 7) << 3) | (rm & 7));
}

static void modrm_mem(struct x64_buf *b, unsigned reg, unsigned base, int32_t disp)
{
    unsigned mod = disp == 0 && (base & 7) != 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 2;
    e8(b, (mod << 6) | ((reg & 7) << 3) | (base & 7));
    if ((base & 7) == 4)
        e8(b, 0x24); /* SIB: no index, base rsp/r12 */
    if (mod == 1)
        e8(b, (uint8_t)(int8_t)disp);
    else if (mod == 2)
        e32(b, (uint32_t)disp);
}

void x64_mov_rr(struct x64_buf *b, enum x64_reg dst, enum x64_reg src)
{
    rex(b, 1, src, dst, 0);
    e8(b, 0x89);
    modrm_reg(b, src, dst);
}

void x64_mov_rr32(struct x64_buf *b, enum x64_reg dst, enum x64_reg src)
{
    rex(b, 0, src, dst, 0);
    e8(b, 0x89);
    modrm_reg(b, src, dst);
}

void x64_mov_ri(struct x64_buf *b, enum x64_reg dst, uint64_t imm)
{
    if (imm <= 0xffffffffu) {           /* mov r32, imm32 zero-extends: the shortest */
        rex(b, 0, 0, dst, 0);
        e8(b, 0xb8 + (dst & 7));
        e32(b, (uint32_t)imm);
    } else if ((int64_t)imm == (int32_t)imm) {
        rex(b, 1, 0, dst, 0);
        e8(b, 0xc7);
        modrm_reg(b, 0, dst);
        e32(b, (uint32_t)imm);
    } else {
        rex(b, 1, 0, dst, 0);
        e8(b, 0xb8 + (dst & 7));
        e32(b, (uint32_t)imm);
        e32(b, (uint32_t)(imm >> 32));
    }
}

void x64_load(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp)
{
    rex(b, 1, dst, base, 0);
    e8(b, 0x8b);
    modrm_mem(b, dst, base, disp);
}

void x64_store(struct x64_buf *b, enum x64_reg base, int32_t disp, enum x64_reg src)
{
    rex(b, 1, src, base, 0);
    e8(b, 0x89);
    modrm_mem(b, src, base, disp);
}

void x64_load_zx(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp, unsigned size)
{
    rex(b, size == 8, dst, base, 0);
    if (size == 1 || size == 2) {
        e8(b, 0x0f);
        e8(b, size == 1 ? 0xb6 : 0xb7);
    } else {
        e8(b, 0x8b);
    }
    modrm_mem(b, dst, base, disp);
}

void x64_store_n(struct x64_buf *b, enum x64_reg base, int32_t disp, enum x64_reg src, unsigned size)
{
    if (size == 2)
        e8(b, 0x66);
    rex(b, size == 8, src, base, size == 1 && src >= 4 && src < 8);
    e8(b, size == 1 ? 0x88 : 0x89);
    modrm_mem(b, src, base, disp);
}

void x64_lea(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp)
{
    rex(b, 1, dst, base, 0);
    e8(b, 0x8d);
    modrm_mem(b, dst, base, disp);
}

void x64_alu_rr(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, enum x64_reg src, int w32)
{
    rex(b, !w32, src, dst, 0);
    e8(b, ((unsigned)op << 3) | 1);
    modrm_reg(b, src, dst);
}

void x64_alu_ri(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, int32_t imm, int w32)
{
    rex(b, !w32, 0, dst, 0);
    if (imm >= -128 && imm <= 127) {
        e8(b, 0x83);
        modrm_reg(b, op, dst);
        e8(b, (uint8_t)(int8_t)imm);
    } else {
        e8(b, 0x81);
        modrm_reg(b, op, dst);
        e32(b, (uint32_t)imm);
    }
}

void x64_alu_rm(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, enum x64_reg base, int32_t disp)
{
    rex(b, 1, dst, base, 0);
    e8(b, ((unsigned)op << 3) | 3);
    modrm_mem(b, dst, base, disp);
}

static void alu_mi(struct x64_buf *b, enum x64_alu op, enum x64_reg base, int32_t disp, int32_t imm, int w)
{
    rex(b, w, 0, base, 0);
    int small = imm >= -128 && imm <= 127;
    e8(b, small ? 0x83 : 0x81);
    modrm_mem(b, op, base, disp);
    if (small)
        e8(b, (uint8_t)(int8_t)imm);
    else
        e32(b, (uint32_t)imm);
}

void x64_alu_mi(struct x64_buf *b, enum x64_alu op, enum x64_reg base, int32_t disp, int32_t imm)
{
    alu_mi(b, op, base, disp, imm, 1);
}

void x64_shift_ri(struct x64_buf *b, enum x64_shift op, enum x64_reg dst, unsigned imm, int w32)
{
    rex(b, !w32, 0, dst, 0);
    e8(b, 0xc1);
    modrm_reg(b, op, dst);
    e8(b, imm & (w32 ? 31 : 63));
}

void x64_shift_rcl(struct x64_buf *b, enum x64_shift op, enum x64_reg dst, int w32)
{
    rex(b, !w32, 0, dst, 0);
    e8(b, 0xd3);
    modrm_reg(b, op, dst);
}

void x64_imul_rr(struct x64_buf *b, enum x64_reg dst, enum x64_reg src, int w32)
{
    rex(b, !w32, dst, src, 0);
    e8(b, 0x0f);
    e8(b, 0xaf);
    modrm_reg(b, dst, src);
}

void x64_mul_wide(struct x64_buf *b, enum x64_reg src, int is_signed)
{
    rex(b, 1, 0, src, 0);
    e8(b, 0xf7);
    modrm_reg(b, is_signed ? 5 : 4, src);
}

void x64_not(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 1, 0, r, 0);
    e8(b, 0xf7);
    modrm_reg(b, 2, r);
}

void x64_load_sx(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp, unsigned size)
{
    if (size == 8) {
        x64_load(b, dst, base, disp);
        return;
    }
    rex(b, 1, dst, base, 0);
    if (size == 4) {
        e8(b, 0x63);
    } else {
        e8(b, 0x0f);
        e8(b, size == 1 ? 0xbe : 0xbf);
    }
    modrm_mem(b, dst, base, disp);
}

void x64_movzx8(struct x64_buf *b, enum x64_reg dst, enum x64_reg src)
{
    rex(b, 0, dst, src, src >= 4 && src < 8);
    e8(b, 0x0f);
    e8(b, 0xb6);
    modrm_reg(b, dst, src);
}

void x64_movsx(struct x64_buf *b, enum x64_reg dst, enum x64_reg src, unsigned from_size)
{
    rex(b, 1, dst, src, 0);
    if (from_size == 4) {
        e8(b, 0x63);
    } else {
        e8(b, 0x0f);
        e8(b, from_size == 1 ? 0xbe : 0xbf);
    }
    modrm_reg(b, dst, src);
}

void x64_movzx16(struct x64_buf *b, enum x64_reg dst, enum x64_reg src)
{
    rex(b, 0, dst, src, 0);
    e8(b, 0x0f);
    e8(b, 0xb7);
    modrm_reg(b, dst, src);
}

void x64_bswap(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 1, 0, r, 0);
    e8(b, 0x0f);
    e8(b, 0xc8 + (r & 7));
}

void x64_setcc_zx(struct x64_buf *b, enum x64_cc cc, enum x64_reg dst)
{
    rex(b, 0, 0, dst, dst >= 4);
    e8(b, 0x0f);
    e8(b, 0x90 + cc);
    modrm_reg(b, 0, dst);
    rex(b, 0, dst, dst, dst >= 4);
    e8(b, 0x0f);
    e8(b, 0xb6);
    modrm_reg(b, dst, dst);
}

void x64_cmov(struct x64_buf *b, enum x64_cc cc, enum x64_reg dst, enum x64_reg src)
{
    rex(b, 1, dst, src, 0);
    e8(b, 0x0f);
    e8(b, 0x40 + cc);
    modrm_reg(b, dst, src);
}

void x64_bitop_rr(struct x64_buf *b, enum x64_bitop op, enum x64_reg dst, enum x64_reg bit)
{
    static const uint8_t opc[8] = { [X64_BTS] = 0xab, [X64_BTR] = 0xb3, [X64_BTC] = 0xbb };
    rex(b, 1, bit, dst, 0);
    e8(b, 0x0f);
    e8(b, opc[op]);
    modrm_reg(b, bit, dst);
}

void x64_bitop_ri(struct x64_buf *b, enum x64_bitop op, enum x64_reg dst, unsigned bit)
{
    rex(b, 1, 0, dst, 0);
    e8(b, 0x0f);
    e8(b, 0xba);
    modrm_reg(b, op, dst);
    e8(b, bit & 63);
}

void x64_push(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 0, 0, r, 0);
    e8(b, 0x50 + (r & 7));
}

void x64_pop(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 0, 0, r, 0);
    e8(b, 0x58 + (r & 7));
}

void x64_ret(struct x64_buf *b)
{
    e8(b, 0xc3);
}

void x64_call_r(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 0, 0, r, 0);
    e8(b, 0xff);
    modrm_reg(b, 2, r);
}

void x64_jmp_r(struct x64_buf *b, enum x64_reg r)
{
    rex(b, 0, 0, r, 0);
    e8(b, 0xff);
    modrm_reg(b, 4, r);
}

void x64_jmp_m(struct x64_buf *b, enum x64_reg base, int32_t disp)
{
    rex(b, 0, 0, base, 0);
    e8(b, 0xff);
    modrm_mem(b, 4, base, disp);
}

void x64_test_rr32(struct x64_buf *b, enum x64_reg a, enum x64_reg c)
{
    rex(b, 0, c, a, 0);
    e8(b, 0x85);
    modrm_reg(b, c, a);
}

void x64_test_mi32(struct x64_buf *b, enum x64_reg base, int32_t disp, int32_t imm)
{
    rex(b, 0, 0, base, 0);
    e8(b, 0xf7);
    modrm_mem(b, 0, base, disp);
    e32(b, (uint32_t)imm);
}

void x64_cmp_mi32(struct x64_buf *b, enum x64_reg base, int32_t disp, int32_t imm)
{
    alu_mi(b, X64_CMP, base, disp, imm, 0);
}

void x64_sse_load(struct x64_buf *b, unsigned xmm, enum x64_reg base, int32_t disp, int is64)
{
    e8(b, is64 ? 0xf2 : 0xf3);
    rex(b, 0, xmm, base, 0);
    e8(b, 0x0f);
    e8(b, 0x10);
    modrm_mem(b, xmm, base, disp);
}

void x64_sse_op(struct x64_buf *b, enum x64_sse op, unsigned dst, unsigned src, int is64)
{
    e8(b, is64 ? 0xf2 : 0xf3);
    rex(b, 0, dst, src, 0);
    e8(b, 0x0f);
    e8(b, op);
    modrm_reg(b, dst, src);
}

/* Three-byte VEX: map 0F38, prefix 66, L = 0; W selects binary64. */
void x64_fma231(struct x64_buf *b, enum x64_fma op, unsigned dst, unsigned a, unsigned c, int is64)
{
    e8(b, 0xc4);
    e8(b, (((~dst >> 3) & 1) << 7) | (1u << 6) | (((~c >> 3) & 1) << 5) | 0x02);
    e8(b, (is64 ? 0x80u : 0u) | ((~a & 15) << 3) | 0x01);
    e8(b, op);
    modrm_reg(b, dst, c);
}

void x64_mov_from_xmm(struct x64_buf *b, enum x64_reg dst, unsigned xmm, int is64)
{
    e8(b, 0x66);
    rex(b, is64, xmm, dst, 0);
    e8(b, 0x0f);
    e8(b, 0x7e);
    modrm_reg(b, xmm, dst);
}

size_t x64_jcc(struct x64_buf *b, enum x64_cc cc)
{
    e8(b, 0x0f);
    e8(b, 0x80 + cc);
    size_t at = x64_size(b);
    e32(b, 0);
    return at;
}

size_t x64_jmp(struct x64_buf *b)
{
    e8(b, 0xe9);
    size_t at = x64_size(b);
    e32(b, 0);
    return at;
}

void x64_patch_here(struct x64_buf *b, size_t at)
{
    size_t here = x64_size(b);
    if (b->overflow || at + 4 > here)
        return;
    int32_t rel = (int32_t)(here - (at + 4));
    memcpy(b->start + at, &rel, 4);
}

void x64_jmp_to(struct x64_buf *b, size_t to)
{
    e8(b, 0xe9);
    int32_t rel = (int32_t)((int64_t)to - (int64_t)(x64_size(b) + 4));
    e32(b, (uint32_t)rel);
}

void x64_call_to(struct x64_buf *b, size_t to)
{
    e8(b, 0xe8);
    int32_t rel = (int32_t)((int64_t)to - (int64_t)(x64_size(b) + 4));
    e32(b, (uint32_t)rel);
}

void x64_jcc_to(struct x64_buf *b, enum x64_cc cc, size_t to)
{
    e8(b, 0x0f);
    e8(b, 0x80 + cc);
    int32_t rel = (int32_t)((int64_t)to - (int64_t)(x64_size(b) + 4));
    e32(b, (uint32_t)rel);
}

void x64_data64(struct x64_buf *b, uint64_t v)
{
    e32(b, (uint32_t)v);
    e32(b, (uint32_t)(v >> 32));
}

void x64_repoint(uint8_t *field, const uint8_t *next, const uint8_t *target)
{
    int32_t rel = (int32_t)((intptr_t)target - (intptr_t)next);
    memcpy(field, &rel, 4);
}
