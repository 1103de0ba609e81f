/* RV64 instruction decoder (see decode.h). Field layouts follow the RISC-V
 * unprivileged spec's base formats (R/I/S/B/U/J/R4) and the compressed
 * formats (CR/CI/CSS/CIW/CL/CS/CA/CB/CJ). */
#include "cpu/decode.h"

#include <string.h>

#define DECODE_NAME_(name) #name,
static const char *const op_names[] = { DECODE_OPS(DECODE_NAME_) };
#undef DECODE_NAME_

const char *decode_op_name(unsigned op)
{
    return op < OP_COUNT_ ? op_names[op] : "?";
}

static inline uint32_t bits(uint32_t v, unsigned hi, unsigned lo)
{
    return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int32_t sext(uint32_t v, unsigned width)
{
    uint32_t m = 1u << (width - 1);
    return (int32_t)((v ^ m) - m);
}

static int32_t imm_i(uint32_t r) { return (int32_t)r >> 20; }
static int32_t imm_s(uint32_t r) { return sext((bits(r, 31, 25) << 5) | bits(r, 11, 7), 12); }
static int32_t imm_b(uint32_t r)
{
    return sext((bits(r, 31, 31) << 12) | (bits(r, 7, 7) << 11) | (bits(r, 30, 25) << 5) |
                (bits(r, 11, 8) << 1), 13);
}
static int32_t imm_u(uint32_t r) { return (int32_t)(r & 0xfffff000u); }
static int32_t imm_j(uint32_t r)
{
    return sext((bits(r, 31, 31) << 20) | (bits(r, 19, 12) << 12) | (bits(r, 20, 20) << 11) |
                (bits(r, 30, 21) << 1), 21);
}

/* Ops whose rd is a floating-point register (not remapped to the sink). */
static int writes_frd(unsigned op)
{
    switch (op) {
    case OP_FLW: case OP_FLD:
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
    case OP_FADD_S: case OP_FSUB_S: case OP_FMUL_S: case OP_FDIV_S: case OP_FSQRT_S:
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S: case OP_FMIN_S: case OP_FMAX_S:
    case OP_FCVT_S_W: case OP_FCVT_S_WU: case OP_FCVT_S_L: case OP_FCVT_S_LU: case OP_FMV_W_X:
    case OP_FADD_D: case OP_FSUB_D: case OP_FMUL_D: case OP_FDIV_D: case OP_FSQRT_D:
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D: case OP_FMIN_D: case OP_FMAX_D:
    case OP_FCVT_S_D: case OP_FCVT_D_S:
    case OP_FCVT_D_W: case OP_FCVT_D_WU: case OP_FCVT_D_L: case OP_FCVT_D_LU: case OP_FMV_D_X:
        return 1;
    default:
        return 0;
    }
}

static unsigned decode_op_imm(uint32_t r, struct insn *d)
{
    unsigned f3 = bits(r, 14, 12), f6 = bits(r, 31, 26), imm12 = bits(r, 31, 20);
    d->imm = imm_i(r);
    switch (f3) {
    case 0: return OP_ADDI;
    case 2: return OP_SLTI;
    case 3: return OP_SLTIU;
    case 4: return OP_XORI;
    case 6: return OP_ORI;
    case 7: return OP_ANDI;
    case 1:
        d->imm = bits(r, 25, 20);
        switch (f6) {
        case 0x00: return OP_SLLI;
        case 0x12: return OP_BCLRI;
        case 0x0a: return OP_BSETI;
        case 0x1a: return OP_BINVI;
        }
        switch (imm12) {
        case 0x600: return OP_CLZ;
        case 0x601: return OP_CTZ;
        case 0x602: return OP_CPOP;
        case 0x604: return OP_SEXT_B;
        case 0x605: return OP_SEXT_H;
        }
        return OP_ILLEGAL;
    case 5:
        d->imm = bits(r, 25, 20);
        if (imm12 == 0x287)
            return OP_ORC_B;
        if (imm12 == 0x6b8)
            return OP_REV8;
        switch (f6) {
        case 0x00: return OP_SRLI;
        case 0x10: return OP_SRAI;
        case 0x18: return OP_RORI;
        case 0x12: return OP_BEXTI;
        }
        return OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op_imm32(uint32_t r, struct insn *d)
{
    unsigned f3 = bits(r, 14, 12), f7 = bits(r, 31, 25), imm12 = bits(r, 31, 20);
    switch (f3) {
    case 0:
        d->imm = imm_i(r);
        return OP_ADDIW;
    case 1:
        d->imm = bits(r, 24, 20);
        if (f7 == 0)
            return OP_SLLIW;
        if (bits(r, 31, 26) == 0x02) {
            d->imm = bits(r, 25, 20);
            return OP_SLLI_UW;
        }
        switch (imm12) {
        case 0x600: return OP_CLZW;
        case 0x601: return OP_CTZW;
        case 0x602: return OP_CPOPW;
        }
        return OP_ILLEGAL;
    case 5:
        d->imm = bits(r, 24, 20);
        switch (f7) {
        case 0x00: return OP_SRLIW;
        case 0x20: return OP_SRAIW;
        case 0x30: return OP_RORIW;
        }
        return OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op(uint32_t r)
{
    unsigned f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    switch (f7) {
    case 0x00: {
        static const uint16_t t[8] = { OP_ADD, OP_SLL, OP_SLT, OP_SLTU, OP_XOR, OP_SRL, OP_OR, OP_AND };
        return t[f3];
    }
    case 0x20:
        switch (f3) {
        case 0: return OP_SUB;
        case 5: return OP_SRA;
        case 4: return OP_XNOR;
        case 6: return OP_ORN;
        case 7: return OP_ANDN;
        }
        return OP_ILLEGAL;
    case 0x01: {
        static const uint16_t t[8] = { OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU, OP_DIV, OP_DIVU, OP_REM, OP_REMU };
        return t[f3];
    }
    case 0x10:
        switch (f3) {
        case 2: return OP_SH1ADD;
        case 4: return OP_SH2ADD;
        case 6: return OP_SH3ADD;
        }
        return OP_ILLEGAL;
    case 0x05:
        switch (f3) {
        case 4: return OP_MIN;
        case 5: return OP_MINU;
        case 6: return OP_MAX;
        case 7: return OP_MAXU;
        }
        return OP_ILLEGAL;
    case 0x30:
        if (f3 == 1) return OP_ROL;
        if (f3 == 5) return OP_ROR;
        return OP_ILLEGAL;
    case 0x24:
        if (f3 == 1) return OP_BCLR;
        if (f3 == 5) return OP_BEXT;
        return OP_ILLEGAL;
    case 0x14:
        return f3 == 1 ? OP_BSET : OP_ILLEGAL;
    case 0x34:
        return f3 == 1 ? OP_BINV : OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_op32(uint32_t r)
{
    unsigned f3 = bits(r, 14, 12), f7 = bits(r, 31, 25);
    switch (f7) {
    case 0x00:
        if (f3 == 0) return OP_ADDW;
        if (f3 == 1) return OP_SLLW;
        if (f3 == 5) return OP_SRLW;
        return OP_ILLEGAL;
    case 0x20:
        if (f3 == 0) return OP_SUBW;
        if (f3 == 5) return OP_SRAW;
        return OP_ILLEGAL;
    case 0x01:
        switch (f3) {
        case 0: return OP_MULW;
        case 4: return OP_DIVW;
        case 5: return OP_DIVUW;
        case 6: return OP_REMW;
        case 7: return OP_REMUW;
        }
        return OP_ILLEGAL;
    case 0x04:
        if (f3 == 0) return OP_ADD_UW;
        if (f3 == 4 && bits(r, 24, 20) == 0) return OP_ZEXT_H;
        return OP_ILLEGAL;
    case 0x10:
        switch (f3) {
        case 2: return OP_SH1ADD_UW;
        case 4: return OP_SH2ADD_UW;
        case 6: return OP_SH3ADD_UW;
        }
        return OP_ILLEGAL;
    case 0x30:
        if (f3 == 1) return OP_ROLW;
        if (f3 == 5) return OP_RORW;
        return OP_ILLEGAL;
    }
    return OP_ILLEGAL;
}

static unsigned decode_amo(uint32_t r)
{
    unsigned f3 = bits(r, 14, 12), f5 = bits(r, 31, 27);
    unsigned base;
    if (f3 == 2)
        base = OP_LR_W;
    else if (f3 == 3)
        base = OP_LR_D;
    else
        return OP_ILLEGAL;
    switch (f5) {
    case 0x02: return bits(r, 24, 20) == 0 ? base : OP_ILLEGAL;
    case 0x03: return base + (OP_SC_W - OP_LR_W);
    case 0x01: return base + (OP_AMOSWAP_W - OP_LR_W);
    case 0x00: return base + (OP_AMOADD_W - OP_LR_W);
    case 0x04: return base + (OP_AMOXOR_W - OP_LR_W);
    case 0x0c: return base + (OP_AMOAND_W - OP_LR_W);
    case 0x08: return base + (OP_AMOOR_W - OP_LR_W);
    case 0x10: return base + (OP_AMOMIN_W - OP_LR_W);
    case 0x14: return base + (OP_AMOMAX_W - OP_LR_W);
    case 0x18: return base + (OP_AMOMINU_W - OP_LR_W);
    case 0x1c: return base + (OP_AMOMAXU_W - OP_LR_W);
    }
    return OP_ILLEGAL;
}

static int rm_ok(unsigned rm)
{
    /* 5 and 6 are reserved in every instruction; 7 (dynamic) is checked
     * against frm at execution. */
    return rm != 5 && rm != 6;
}

static unsigned decode_op_fp(uint32_t r)
{
    unsigned f7 = bits(r, 31, 25), f3 = bits(r, 14, 12), rs2 = bits(r, 24, 20);
    unsigned d = f7 & 1; /* fmt: 0 single, 1 double */
    switch (f7 & ~1u) {
    case 0x00: return rm_ok(f3) ? (d ? OP_FADD_D : OP_FADD_S) : OP_ILLEGAL;
    case 0x04: return rm_ok(f3) ? (d ? OP_FSUB_D : OP_FSUB_S) : OP_ILLEGAL;
    case 0x08: return rm_ok(f3) ? (d ? OP_FMUL_D : OP_FMUL_S) : OP_ILLEGAL;
    case 0x0c: return rm_ok(f3) ? (d ? OP_FDIV_D : OP_FDIV_S) : OP_ILLEGAL;
    case 0x2c: return rs2 == 0 && rm_ok(f3) ? (d ? OP_FSQRT_D : OP_FSQRT_S) : OP_ILLEGAL;
    case 0x10:
        if (f3 > 2) return OP_ILLEGAL;
        return d ? OP_FSGNJ_D + f3 : OP_FSGNJ_S + f3;
    case 0x14:
        if (f3 > 1) return OP_ILLEGAL;
        return d ? OP_FMIN_D + f3 : OP_FMIN_S + f3;
    case 0x20:
        if (!rm_ok(f3)) return OP_ILLEGAL;
        if (!d && rs2 == 1) return OP_FCVT_S_D;
        if (d && rs2 == 0) return OP_FCVT_D_S;
        return OP_ILLEGAL;
    case 0x50:
        if (f3 > 2) return OP_ILLEGAL;
        /* funct3: 0 le, 1 lt, 2 eq */
        if (f3 == 0) return d ? OP_FLE_D : OP_FLE_S;
        if (f3 == 1) return d ? OP_FLT_D : OP_FLT_S;
        return d ? OP_FEQ_D : OP_FEQ_S;
    case 0x60:
        if (rs2 > 3 || !rm_ok(f3)) return OP_ILLEGAL;
        return d ? OP_FCVT_W_D + rs2 : OP_FCVT_W_S + rs2;
    case 0x68:
        if (rs2 > 3 || !rm_ok(f3)) return OP_ILLEGAL;
        return d ? OP_FCVT_D_W + rs2 : OP_FCVT_S_W + rs2;
    case 0x70:
        if (rs2 != 0) return OP_ILLEGAL;
        if (f3 == 0) return d ? OP_FMV_X_D : OP_FMV_X_W;
        if (f3 == 1) return d ? OP_FCLASS_D : OP_FCLASS_S;
        return OP_ILLEGAL;
    case 0x78:
        if (rs2 != 0 || f3 != 0) return OP_ILLEGAL;
        return d ? OP_FMV_D_X : OP_FMV_W_X;
    }
    return OP_ILLEGAL;
}

static void decode32(uint32_t r, struct insn *d)
{
    unsigned f3 = bits(r, 14, 12);
    unsigned op = OP_ILLEGAL;
    d->rd = bits(r, 11, 7);
    d->rs1 = bits(r, 19, 15);
    d->rs2 = bits(r, 24, 20);
    d->rs3 = bits(r, 31, 27);
    d->rm = f3;
    d->len = 4;
    switch (bits(r, 6, 0)) {
    case 0x37: op = OP_LUI; d->imm = imm_u(r); break;
    case 0x17: op = OP_AUIPC; d->imm = imm_u(r); break;
    case 0x6f: op = OP_JAL; d->imm = imm_j(r); break;
    case 0x67:
        if (f3 == 0) { op = OP_JALR; d->imm = imm_i(r); }
        break;
    case 0x63: {
        static const uint16_t t[8] = { OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL, OP_BLT, OP_BGE, OP_BLTU, OP_BGEU };
        op = t[f3];
        d->imm = imm_b(r);
        break;
    }
    case 0x03: {
        static const uint16_t t[8] = { OP_LB, OP_LH, OP_LW, OP_LD, OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL };
        op = t[f3];
        d->imm = imm_i(r);
        break;
    }
    case 0x23: {
        static const uint16_t t[8] = { OP_SB, OP_SH, OP_SW, OP_SD, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL, OP_ILLEGAL };
        op = t[f3];
        d->imm = imm_s(r);
        break;
    }
    case 0x13: op = decode_op_imm(r, d); break;
    case 0x1b: op = decode_op_imm32(r, d); break;
    case 0x33: op = decode_op(r); break;
    case 0x3b: op = decode_op32(r); break;
    case 0x0f:
        if (f3 == 0) {
            op = OP_FENCE; /* also PAUSE and the other fence hints */
        } else if (f3 == 1) {
            op = OP_FENCE_I;
        } else if (f3 == 2 && bits(r, 11, 7) == 0) {
            switch (bits(r, 31, 20)) {
            case 0: op = OP_CBO_INVAL; break;
            case 1: op = OP_CBO_CLEAN; break;
            case 2: op = OP_CBO_FLUSH; break;
            case 4: op = OP_CBO_ZERO; break;
            }
        }
        break;
    case 0x73:
        if (f3 == 0) {
            if (r == 0x00000073) op = OP_ECALL;
            else if (r == 0x00100073) op = OP_EBREAK;
            else if (r == 0x30200073) op = OP_MRET;
            else if (r == 0x10200073) op = OP_SRET;
            else if (r == 0x10500073) op = OP_WFI;
            else if (bits(r, 31, 25) == 0x09 && bits(r, 11, 7) == 0) op = OP_SFENCE_VMA;
        } else if (f3 != 4) {
            static const uint16_t t[8] = { 0, OP_CSRRW, OP_CSRRS, OP_CSRRC, 0, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI };
            op = t[f3];
            d->imm = bits(r, 31, 20);
        }
        break;
    case 0x2f: op = decode_amo(r); break;
    case 0x07:
        d->imm = imm_i(r);
        if (f3 == 2) op = OP_FLW;
        else if (f3 == 3) op = OP_FLD;
        break;
    case 0x27:
        d->imm = imm_s(r);
        if (f3 == 2) op = OP_FSW;
        else if (f3 == 3) op = OP_FSD;
        break;
    case 0x43: case 0x47: case 0x4b: case 0x4f: {
        unsigned fmt = bits(r, 26, 25), k = (bits(r, 6, 0) - 0x43) >> 2;
        if (fmt <= 1 && rm_ok(f3))
            op = (fmt ? OP_FMADD_D : OP_FMADD_S) + k;
        break;
    }
    case 0x53: op = decode_op_fp(r); break;
    }
    d->op = op;
}

/* Compressed register fields name x8..x15. */
static inline uint8_t creg(uint32_t v) { return (uint8_t)(8 + v); }

static void decode16(uint32_t r, struct insn *d)
{
    unsigned f3 = bits(r, 15, 13);
    unsigned op = OP_ILLEGAL;
    unsigned rd = bits(r, 11, 7), rs2 = bits(r, 6, 2);
    int32_t ci = sext((bits(r, 12, 12) << 5) | bits(r, 6, 2), 6);
    d->len = 2;
    d->rm = 7; /* c.fld and friends have no rm; none is needed */
    switch (r & 3) {
    case 0:
        d->rd = d->rs2 = creg(bits(r, 4, 2));
        d->rs1 = creg(bits(r, 9, 7));
        switch (f3) {
        case 0: {
            uint32_t imm = (bits(r, 12, 11) << 4) | (bits(r, 10, 7) << 6) | (bits(r, 6, 6) << 2) | (bits(r, 5, 5) << 3);
            if (imm) {
                op = OP_ADDI;
                d->rs1 = 2;
                d->imm = (int32_t)imm;
            }
            break;
        }
        case 1: case 3: case 5: case 7: {
            static const uint16_t t[8] = { 0, OP_FLD, 0, OP_LD, 0, OP_FSD, 0, OP_SD };
            op = t[f3];
            d->imm = (int32_t)((bits(r, 12, 10) << 3) | (bits(r, 6, 5) << 6));
            break;
        }
        case 2: case 6:
            op = f3 == 2 ? OP_LW : OP_SW;
            d->imm = (int32_t)((bits(r, 12, 10) << 3) | (bits(r, 6, 6) << 2) | (bits(r, 5, 5) << 6));
            break;
        }
        break;
    case 1:
        switch (f3) {
        case 0: op = OP_ADDI; d->rd = d->rs1 = rd; d->imm = ci; break;
        case 1:
            if (rd) { op = OP_ADDIW; d->rd = d->rs1 = rd; d->imm = ci; }
            break;
        case 2: op = OP_ADDI; d->rd = rd; d->rs1 = 0; d->imm = ci; break;
        case 3:
            if (rd == 2) {
                int32_t imm = sext((bits(r, 12, 12) << 9) | (bits(r, 6, 6) << 4) | (bits(r, 5, 5) << 6) |
                                   (bits(r, 4, 3) << 7) | (bits(r, 2, 2) << 5), 10);
                if (imm) { op = OP_ADDI; d->rd = d->rs1 = 2; d->imm = imm; }
            } else if (ci) {
                op = OP_LUI;
                d->rd = rd;
                d->imm = ci * 4096;
            }
            break;
        case 4: {
            uint8_t rr = creg(bits(r, 9, 7));
            d->rd = d->rs1 = rr;
            d->rs2 = creg(bits(r, 4, 2));
            switch (bits(r, 11, 10)) {
            case 0: op = OP_SRLI; d->imm = (int32_t)((bits(r, 12, 12) << 5) | bits(r, 6, 2)); break;
            case 1: op = OP_SRAI; d->imm = (int32_t)((bits(r, 12, 12) << 5) | bits(r, 6, 2)); break;
            case 2: op = OP_ANDI; d->imm = ci; break;
            case 3: {
                static const uint16_t t[8] = { OP_SUB, OP_XOR, OP_OR, OP_AND, OP_SUBW, OP_ADDW, 0, 0 };
                op = t[(bits(r, 12, 12) << 2) | bits(r, 6, 5)];
                break;
            }
            }
            break;
        }
        case 5:
            op = OP_JAL;
            d->rd = 0;
            d->imm = sext((bits(r, 12, 12) << 11) | (bits(r, 11, 11) << 4) | (bits(r, 10, 9) << 8) |
                          (bits(r, 8, 8) << 10) | (bits(r, 7, 7) << 6) | (bits(r, 6, 6) << 7) |
                          (bits(r, 5, 3) << 1) | (bits(r, 2, 2) << 5), 12);
            break;
        case 6: case 7:
            op = f3 == 6 ? OP_BEQ : OP_BNE;
            d->rs1 = creg(bits(r, 9, 7));
            d->rs2 = 0;
            d->imm = sext((bits(r, 12, 12) << 8) | (bits(r, 11, 10) << 3) | (bits(r, 6, 5) << 6) |
                          (bits(r, 4, 3) << 1) | (bits(r, 2, 2) << 5), 9);
            break;
        }
        break;
    case 2:
        switch (f3) {
        case 0:
            op = OP_SLLI;
            d->rd = d->rs1 = rd;
            d->imm = (int32_t)((bits(r, 12, 12) << 5) | bits(r, 6, 2));
            break;
        case 1: case 3:
            if (f3 == 3 && rd == 0) break;
            op = f3 == 1 ? OP_FLD : OP_LD;
            d->rd = rd;
            d->rs1 = 2;
            d->imm = (int32_t)((bits(r, 12, 12) << 5) | (bits(r, 6, 5) << 3) | (bits(r, 4, 2) << 6));
            break;
        case 2:
            if (rd == 0) break;
            op = OP_LW;
            d->rd = rd;
            d->rs1 = 2;
            d->imm = (int32_t)((bits(r, 12, 12) << 5) | (bits(r, 6, 4) << 2) | (bits(r, 3, 2) << 6));
            break;
        case 4:
            if (!bits(r, 12, 12)) {
                if (rs2 == 0) {
                    if (rd) { op = OP_JALR; d->rd = 0; d->rs1 = rd; d->imm = 0; }
                } else {
                    op = OP_ADD; d->rd = rd; d->rs1 = 0; d->rs2 = rs2;
                }
            } else {
                if (rd == 0 && rs2 == 0) {
                    op = OP_EBREAK;
                } else if (rs2 == 0) {
                    op = OP_JALR; d->rd = 1; d->rs1 = rd; d->imm = 0;
                } else {
                    op = OP_ADD; d->rd = rd; d->rs1 = rd; d->rs2 = rs2;
                }
            }
            break;
        case 5: case 7:
            op = f3 == 5 ? OP_FSD : OP_SD;
            d->rs1 = 2;
            d->rs2 = rs2;
            d->imm = (int32_t)((bits(r, 12, 10) << 3) | (bits(r, 9, 7) << 6));
            break;
        case 6:
            op = OP_SW;
            d->rs1 = 2;
            d->rs2 = rs2;
            d->imm = (int32_t)((bits(r, 12, 9) << 2) | (bits(r, 8, 7) << 6));
            break;
        }
        break;
    }
    d->op = op;
}

void decode_insn(uint32_t raw, struct insn *d)
{
    memset(d, 0, sizeof *d);
    if ((raw & 3) == 3) {
        d->raw = raw;
        decode32(raw, d);
    } else {
        raw &= 0xffff;
        d->raw = raw;
        decode16(raw, d);
    }
    if (d->op == OP_ILLEGAL) {
        /* Keep the fields clean so two decodes of the same bits compare equal. */
        uint8_t len = d->len;
        memset(d, 0, sizeof *d);
        d->raw = raw;
        d->len = len;
        return;
    }
    if (d->rd == 0 && !writes_frd(d->op))
        d->rd = DECODE_XZERO_SINK;
}
