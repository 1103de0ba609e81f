/* The RV64 instruction decoder: turns the bits of one instruction (32-bit
 * or compressed 16-bit) into a compact struct insn, which the hart turns
 * into the ops of its decoded blocks (see hart.c). Decoding is a pure
 * function of the instruction bits. Compressed instructions are expanded
 * to the operation of their 32-bit equivalent, with len = 2. Covered: RV64IMAFDC, Zicsr, Zifencei, Zba, Zbb,
 * Zbs, Zicbom, Zicboz, Zihintpause (decodes as a fence) and the privileged
 * instructions (mret, sret, wfi, sfence.vma). */
#ifndef MINNOW_CPU_DECODE_H
#define MINNOW_CPU_DECODE_H

#include <stdint.h>

/* Integer destinations x0 are decoded as this register number: the hart's
 * register file has a 33rd slot that absorbs writes, so no handler needs a
 * "rd != 0" test. Floating-point destinations keep their number. */
#define DECODE_XZERO_SINK 32

#define DECODE_OPS(X) \
    X(ILLEGAL) \
    X(LUI) X(AUIPC) X(JAL) X(JALR) \
    X(BEQ) X(BNE) X(BLT) X(BGE) X(BLTU) X(BGEU) \
    X(LB) X(LH) X(LW) X(LD) X(LBU) X(LHU) X(LWU) \
    X(SB) X(SH) X(SW) X(SD) \
    X(ADDI) X(SLTI) X(SLTIU) X(XORI) X(ORI) X(ANDI) X(SLLI) X(SRLI) X(SRAI) \
    X(ADD) X(SUB) X(SLL) X(SLT) X(SLTU) X(XOR) X(SRL) X(SRA) X(OR) X(AND) \
    X(ADDIW) X(SLLIW) X(SRLIW) X(SRAIW) \
    X(ADDW) X(SUBW) X(SLLW) X(SRLW) X(SRAW) \
    X(FENCE) X(FENCE_I) X(ECALL) X(EBREAK) X(MRET) X(SRET) X(WFI) X(SFENCE_VMA) \
    X(CSRRW) X(CSRRS) X(CSRRC) X(CSRRWI) X(CSRRSI) X(CSRRCI) \
    X(MUL) X(MULH) X(MULHSU) X(MULHU) X(DIV) X(DIVU) X(REM) X(REMU) \
    X(MULW) X(DIVW) X(DIVUW) X(REMW) X(REMUW) \
    X(LR_W) X(SC_W) X(AMOSWAP_W) X(AMOADD_W) X(AMOXOR_W) X(AMOAND_W) X(AMOOR_W) \
    X(AMOMIN_W) X(AMOMAX_W) X(AMOMINU_W) X(AMOMAXU_W) \
    X(LR_D) X(SC_D) X(AMOSWAP_D) X(AMOADD_D) X(AMOXOR_D) X(AMOAND_D) X(AMOOR_D) \
    X(AMOMIN_D) X(AMOMAX_D) X(AMOMINU_D) X(AMOMAXU_D) \
    X(SH1ADD) X(SH2ADD) X(SH3ADD) X(ADD_UW) X(SH1ADD_UW) X(SH2ADD_UW) X(SH3ADD_UW) X(SLLI_UW) \
    X(ANDN) X(ORN) X(XNOR) X(CLZ) X(CLZW) X(CTZ) X(CTZW) X(CPOP) X(CPOPW) \
    X(MAX) X(MAXU) X(MIN) X(MINU) X(SEXT_B) X(SEXT_H) X(ZEXT_H) \
    X(ROL) X(ROLW) X(ROR) X(RORI) X(RORIW) X(RORW) X(ORC_B) X(REV8) \
    X(BCLR) X(BCLRI) X(BEXT) X(BEXTI) X(BINV) X(BINVI) X(BSET) X(BSETI) \
    X(CBO_INVAL) X(CBO_CLEAN) X(CBO_FLUSH) X(CBO_ZERO) \
    X(FLW) X(FLD) X(FSW) X(FSD) \
    X(FMADD_S) X(FMSUB_S) X(FNMSUB_S) X(FNMADD_S) \
    X(FMADD_D) X(FMSUB_D) X(FNMSUB_D) X(FNMADD_D) \
    X(FADD_S) X(FSUB_S) X(FMUL_S) X(FDIV_S) X(FSQRT_S) \
    X(FSGNJ_S) X(FSGNJN_S) X(FSGNJX_S) X(FMIN_S) X(FMAX_S) \
    X(FCVT_W_S) X(FCVT_WU_S) X(FCVT_L_S) X(FCVT_LU_S) \
    X(FMV_X_W) X(FEQ_S) X(FLT_S) X(FLE_S) X(FCLASS_S) \
    X(FCVT_S_W) X(FCVT_S_WU) X(FCVT_S_L) X(FCVT_S_LU) X(FMV_W_X) \
    X(FADD_D) X(FSUB_D) X(FMUL_D) X(FDIV_D) X(FSQRT_D) \
    X(FSGNJ_D) X(FSGNJN_D) X(FSGNJX_D) X(FMIN_D) X(FMAX_D) \
    X(FCVT_S_D) X(FCVT_D_S) \
    X(FCVT_W_D) X(FCVT_WU_D) X(FCVT_L_D) X(FCVT_LU_D) \
    X(FMV_X_D) X(FEQ_D) X(FLT_D) X(FLE_D) X(FCLASS_D) \
    X(FCVT_D_W) X(FCVT_D_WU) X(FCVT_D_L) X(FCVT_D_LU) X(FMV_D_X)

#define DECODE_ENUM_(name) OP_##name,
enum decode_op { DECODE_OPS(DECODE_ENUM_) OP_COUNT_ };
#undef DECODE_ENUM_

/* One decoded instruction. imm is the sign-extended immediate (byte offset
 * for branches and jumps, the shift amount for shifts, the CSR number for
 * CSR instructions); rm is the rounding-mode field of FP instructions; raw
 * is the instruction as fetched (16 bits for compressed forms), which is
 * mtval/stval for an illegal instruction. */
struct insn {
    uint16_t op;
    uint8_t rd, rs1, rs2, rs3;
    uint8_t rm;
    uint8_t len;
    int32_t imm;
    uint32_t raw;
};

/* Decodes raw (the low 16 bits are used if they mark a compressed
 * instruction). Never fails: an unknown encoding gives op OP_ILLEGAL. */
void decode_insn(uint32_t raw, struct insn *out);

/* Length in bytes of the instruction whose first 16 bits are lo16. */
static inline unsigned decode_len(uint32_t lo16)
{
    return (lo16 & 3) == 3 ? 4 : 2;
}

/* The operation's name as in the enum ("ADDI", "FMADD_D"...), for reports. */
const char *decode_op_name(unsigned op);

#endif
