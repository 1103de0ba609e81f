/* Control and status registers of one hart: which CSRs exist, who may
 * access them (privilege, read-only, mcounteren/scounteren, TVM, FS,
 * Sstc's STCE) and their WARL rules. The run loop calls csr_read and
 * csr_write for the CSR instructions; both return 0, or -1 when the access
 * is illegal (the caller raises an illegal-instruction exception). A write
 * applies its side effects itself: TLB flushes for satp, PMP and
 * menvcfg.PBMTE changes, a switch of translation context for mstatus
 * MPRV/MPP/SUM/MXR. */
#ifndef MINNOW_CPU_CSR_H
#define MINNOW_CPU_CSR_H

#include <stdint.h>

#include "cpu/hart.h"

#define CSR_FFLAGS 0x001
#define CSR_FRM 0x002
#define CSR_FCSR 0x003
#define CSR_CYCLE 0xc00
#define CSR_TIME 0xc01
#define CSR_INSTRET 0xc02
#define CSR_SSTATUS 0x100
#define CSR_SIE 0x104
#define CSR_STVEC 0x105
#define CSR_SCOUNTEREN 0x106
#define CSR_SENVCFG 0x10a
#define CSR_SSCRATCH 0x140
#define CSR_SEPC 0x141
#define CSR_SCAUSE 0x142
#define CSR_STVAL 0x143
#define CSR_SIP 0x144
#define CSR_STIMECMP 0x14d
#define CSR_SATP 0x180
#define CSR_MVENDORID 0xf11
#define CSR_MARCHID 0xf12
#define CSR_MIMPID 0xf13
#define CSR_MHARTID 0xf14
#define CSR_MCONFIGPTR 0xf15
#define CSR_MSTATUS 0x300
#define CSR_MISA 0x301
#define CSR_MEDELEG 0x302
#define CSR_MIDELEG 0x303
#define CSR_MIE 0x304
#define CSR_MTVEC 0x305
#define CSR_MCOUNTEREN 0x306
#define CSR_MENVCFG 0x30a
#define CSR_MCOUNTINHIBIT 0x320
#define CSR_MSCRATCH 0x340
#define CSR_MEPC 0x341
#define CSR_MCAUSE 0x342
#define CSR_MTVAL 0x343
#define CSR_MIP 0x344
#define CSR_PMPCFG0 0x3a0
#define CSR_PMPADDR0 0x3b0
#define CSR_MCYCLE 0xb00
#define CSR_MINSTRET 0xb02

/* mstatus fields. */
#define MSTATUS_SIE (1ull << 1)
#define MSTATUS_MIE (1ull << 3)
#define MSTATUS_SPIE (1ull << 5)
#define MSTATUS_MPIE (1ull << 7)
#define MSTATUS_SPP (1ull << 8)
#define MSTATUS_MPP (3ull << 11)
#define MSTATUS_FS (3ull << 13)
#define MSTATUS_MPRV (1ull << 17)
#define MSTATUS_SUM (1ull << 18)
#define MSTATUS_MXR (1ull << 19)
#define MSTATUS_TVM (1ull << 20)
#define MSTATUS_TW (1ull << 21)
#define MSTATUS_TSR (1ull << 22)
#define MSTATUS_UXL (3ull << 32)
#define MSTATUS_SXL (3ull << 34)
#define MSTATUS_SD (1ull << 63)

/* What mcountinhibit holds: every bit but TM (time cannot be inhibited).
 * The HPM bits are kept (OpenSBI sets them all) although those counters
 * read zero anyway; a snapshot restore accepts exactly these. */
#define MCOUNTINHIBIT_WRITABLE 0xfffffffdu

#define MENVCFG_FIOM (1ull << 0)
#define MENVCFG_CBIE (3ull << 4)
#define MENVCFG_CBCFE (1ull << 6)
#define MENVCFG_CBZE (1ull << 7)
#define MENVCFG_PBMTE (1ull << 62)
#define MENVCFG_STCE (1ull << 63)

/* misa: RV64 with A C D F I M S U. */
#define CSR_MISA_VALUE ((2ull << 62) | (1u << 0) | (1u << 2) | (1u << 3) | (1u << 5) | (1u << 8) | \
                        (1u << 12) | (1u << 18) | (1u << 20))

int csr_read(struct hart *h, unsigned csr, uint64_t *val);
int csr_write(struct hart *h, unsigned csr, uint64_t val);
/* The same with the access checked as from privilege priv instead of the
 * hart's own mode (a debugger accesses as M-mode); side effects are as
 * csr_write's, for the hart in its own mode. */
int csr_read_as(struct hart *h, unsigned priv, unsigned csr, uint64_t *val);
int csr_write_as(struct hart *h, unsigned priv, unsigned csr, uint64_t val);
/* What csrrs/csrrc modify, given what csr_read returned: the same value,
 * except mip.SEIP, where a read-modify-write sees only the software-
 * writable bit and not the PLIC's line ORed into reads (else setting
 * another bit would latch a passing external interrupt forever). */
uint64_t csr_rmw_base(const struct hart *h, unsigned csr, uint64_t read);

/* A Zicsr instruction as both engines run it: opc one of OP_CSRRW,
 * OP_CSRRS, OP_CSRRC and their immediate forms, on csr; rs1 is the rs1
 * field (the register, or the immediate of the I forms), xrs1 that
 * register's value; rd_x0: CSRRW/CSRRWI do not read (no read side
 * effects). Returns 0 with the old value in *old and *wrote saying whether
 * the CSR was written (CSRRS/CSRRC with rs1 = 0 only read), or -1: an
 * illegal instruction. */
int csr_insn(struct hart *h, unsigned opc, unsigned csr, unsigned rs1, uint64_t xrs1, int rd_x0, uint64_t *old,
             int *wrote);

/* Recomputes what depends on mstatus and priv: the load/store privilege
 * and the translation context (mmu_select_context). */
void csr_update_priv_ls(struct hart *h);

#endif
