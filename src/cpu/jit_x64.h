/* The JIT's x86-64 back end: an emitter that knows host encodings and
 * nothing of RISC-V. Instructions are appended to a bounded buffer; a
 * write past its end sets `overflow` instead of writing, so a caller that
 * checks overflow once per unit can never write outside the code cache.
 * Operands are 64-bit unless a function says w32 (then the 32-bit form,
 * which zero-extends its result as x86-64 does). Memory operands are
 * [base + disp32]. A second host (aarch64) gets its own file with the
 * same shape; cpu/jit.c is the only user. */
#ifndef MINNOW_CPU_JIT_X64_H
#define MINNOW_CPU_JIT_X64_H

#include <stddef.h>
#include <stdint.h>

enum x64_reg {
    X64_RAX, X64_RCX, X64_RDX, X64_RBX, X64_RSP, X64_RBP, X64_RSI, X64_RDI,
    X64_R8, X64_R9, X64_R10, X64_R11, X64_R12, X64_R13, X64_R14, X64_R15,
};

/* Two-operand ALU operations (the /digit of the 0x81 group). */
enum x64_alu { X64_ADD = 0, X64_OR = 1, X64_AND = 4, X64_SUB = 5, X64_XOR = 6, X64_CMP = 7 };
/* Shifts and rotates (the /digit of the 0xC1/0xD3 groups). */
enum x64_shift { X64_ROL = 0, X64_ROR = 1, X64_SHL = 4, X64_SHR = 5, X64_SAR = 7 };
/* Condition codes. */
enum x64_cc {
    X64_CC_B = 2, X64_CC_AE = 3, X64_CC_E = 4, X64_CC_NE = 5, X64_CC_BE = 6, X64_CC_A = 7,
    X64_CC_L = 0xc, X64_CC_GE = 0xd, X64_CC_LE = 0xe, X64_CC_G = 0xf,
};
/* Bit tests with the bit number in a register or an immediate. */
enum x64_bitop { X64_BTS = 5, X64_BTR = 6, X64_BTC = 7 };

struct x64_buf {
    uint8_t *start, *p, *end;
    int overflow;
};

static inline size_t x64_size(const struct x64_buf *b)
{
    return (size_t)(b->p - b->start);
}

void x64_mov_rr(struct x64_buf *b, enum x64_reg dst, enum x64_reg src);
void x64_mov_rr32(struct x64_buf *b, enum x64_reg dst, enum x64_reg src); /* zero-extends */
void x64_mov_ri(struct x64_buf *b, enum x64_reg dst, uint64_t imm);
void x64_load(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp);
void x64_store(struct x64_buf *b, enum x64_reg base, int32_t disp, enum x64_reg src);
/* Loads size (1, 2, 4, 8) bytes zero-extended; stores the low size bytes. */
void x64_load_zx(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp, unsigned size);
void x64_load_sx(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp, unsigned size); /* 1, 2, 4, 8 */
void x64_store_n(struct x64_buf *b, enum x64_reg base, int32_t disp, enum x64_reg src, unsigned size);
void x64_lea(struct x64_buf *b, enum x64_reg dst, enum x64_reg base, int32_t disp);
void x64_alu_rr(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, enum x64_reg src, int w32);
void x64_alu_ri(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, int32_t imm, int w32);
void x64_alu_rm(struct x64_buf *b, enum x64_alu op, enum x64_reg dst, enum x64_reg base, int32_t disp);
void x64_alu_mi(struct x64_buf *b, enum x64_alu op, enum x64_reg base, int32_t disp, int32_t imm);
void x64_shift_ri(struct x64_buf *b, enum x64_shift op, enum x64_reg dst, unsigned imm, int w32);
void x64_shift_rcl(struct x64_buf *b, enum x64_shift op, enum x64_reg dst, int w32);
void x64_imul_rr(struct x64_buf *b, enum x64_reg dst, enum x64_reg src, int w32);
/* rdx:rax = rax * src, signed (imul) or unsigned (mul). */
void x64_mul_wide(struct x64_buf *b, enum x64_reg src, int is_signed);
void x64_not(struct x64_buf *b, enum x64_reg r);
void x64_movsx(struct x64_buf *b, enum x64_reg dst, enum x64_reg src, unsigned from_size); /* 1, 2, 4 */
void x64_movzx8(struct x64_buf *b, enum x64_reg dst, enum x64_reg src);
void x64_movzx16(struct x64_buf *b, enum x64_reg dst, enum x64_reg src);
void x64_bswap(struct x64_buf *b, enum x64_reg r);
void x64_setcc_zx(struct x64_buf *b, enum x64_cc cc, enum x64_reg dst); /* dst in rax..rbx */
void x64_cmov(struct x64_buf *b, enum x64_cc cc, enum x64_reg dst, enum x64_reg src);
void x64_bitop_rr(struct x64_buf *b, enum x64_bitop op, enum x64_reg dst, enum x64_reg bit);
void x64_bitop_ri(struct x64_buf *b, enum x64_bitop op, enum x64_reg dst, unsigned bit);
void x64_push(struct x64_buf *b, enum x64_reg r);
void x64_pop(struct x64_buf *b, enum x64_reg r);
void x64_ret(struct x64_buf *b);
void x64_call_r(struct x64_buf *b, enum x64_reg r);
void x64_jmp_r(struct x64_buf *b, enum x64_reg r);
/* jmp qword [base + disp]: to the address held there. */
void x64_jmp_m(struct x64_buf *b, enum x64_reg base, int32_t disp);
void x64_test_rr32(struct x64_buf *b, enum x64_reg a, enum x64_reg c);

/* test dword [base + disp], imm. */
void x64_test_mi32(struct x64_buf *b, enum x64_reg base, int32_t disp, int32_t imm);
/* cmp dword [base + disp], imm. */
void x64_cmp_mi32(struct x64_buf *b, enum x64_reg base, int32_t disp, int32_t imm);

/* Scalar SSE on xmm0..xmm15 (numbered 0..15), binary64 when is64, else
 * binary32. */
enum x64_sse { X64_SQRTS = 0x51, X64_ADDS = 0x58, X64_MULS = 0x59, X64_SUBS = 0x5c, X64_DIVS = 0x5e };
/* movsd/movss xmm, [base + disp] (the rest of xmm cleared). */
void x64_sse_load(struct x64_buf *b, unsigned xmm, enum x64_reg base, int32_t disp, int is64);
/* dst = dst op src (sqrt: dst = sqrt(src)). */
void x64_sse_op(struct x64_buf *b, enum x64_sse op, unsigned dst, unsigned src, int is64);
/* The fused multiply-adds (FMA3, 231 form): dst = a*c + dst, a*c - dst,
 * -(a*c) + dst, -(a*c) - dst. */
enum x64_fma { X64_FMADD = 0xb9, X64_FMSUB = 0xbb, X64_FNMADD = 0xbd, X64_FNMSUB = 0xbf };
void x64_fma231(struct x64_buf *b, enum x64_fma op, unsigned dst, unsigned a, unsigned c, int is64);
/* movq r64, xmm (is64) or movd r32, xmm (zero-extended). */
void x64_mov_from_xmm(struct x64_buf *b, enum x64_reg dst, unsigned xmm, int is64);

/* Forward jumps: emit, then x64_patch once the target is known. The
 * return value is where the rel32 field sits. */
size_t x64_jcc(struct x64_buf *b, enum x64_cc cc);
size_t x64_jmp(struct x64_buf *b);
/* Points the jump whose rel32 is at `at` to the current end. */
void x64_patch_here(struct x64_buf *b, size_t at);
/* A jump to an already emitted position `to` (offset from start). */
void x64_jmp_to(struct x64_buf *b, size_t to);
void x64_jcc_to(struct x64_buf *b, enum x64_cc cc, size_t to);
/* call to an already emitted position. */
void x64_call_to(struct x64_buf *b, size_t to);
/* Eight bytes of data in the code stream (never executed). */
void x64_data64(struct x64_buf *b, uint64_t v);
/* Repoints an emitted jump, in place: field is its rel32 as written
 * through a writable alias of the code, next the address (as executed)
 * of the instruction after it, target where it now goes. Both addresses
 * must lie within 2 GiB of each other (one code cache). */
void x64_repoint(uint8_t *field, const uint8_t *next, const uint8_t *target);

#endif
