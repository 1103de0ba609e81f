/* The JIT's helpers (see jit_helpers.h). CSR accesses, atomics and FP
 * arithmetic call what the interpreter's handlers call too (csr_insn,
 * amo_exec, the FPU_OPS table), so the engines cannot drift apart; ecall
 * mirrors hart.c's op_ECALL, a change to one is a change to both. */
#include "cpu/jit_helpers.h"

#include "cpu/amo.h"
#include "cpu/csr.h"
#include "cpu/fpu.h"
#include "cpu/fpu_ops.h"
#include "cpu/mmu.h"

struct fields {
    unsigned opc, rd, rs1, rs2, rs3, rm;
    uint32_t raw;
    int32_t imm;
};

static struct fields unpack(uint64_t a, uint64_t b)
{
    return (struct fields){ .opc = a & 0xffff, .rd = (a >> 16) & 0xff, .rs1 = (a >> 24) & 0xff,
                            .rs2 = (a >> 32) & 0xff, .rs3 = (a >> 40) & 0xff, .rm = (a >> 48) & 0xff,
                            .raw = (uint32_t)b, .imm = (int32_t)(uint32_t)(b >> 32) };
}

static uint64_t sext32(uint64_t v) { return (uint64_t)(int64_t)(int32_t)(uint32_t)v; }

static int illegal(struct hart *h, const struct fields *o)
{
    hart_raise(h, CAUSE_ILLEGAL, o->raw);
    return JIT_H_EXC;
}

/* ---- CSRs (csr.c: csr_insn) ---- */

/* CSRs whose writes change nothing the boundary looks at (interrupts,
 * translation, the privilege): after those the unit goes on, after any
 * other write it leaves for the boundary as the interpreter's
 * system_done does. */
static int csr_plain(unsigned csr)
{
    switch (csr) {
    case CSR_FFLAGS: case CSR_FRM: case CSR_FCSR:
    case CSR_SSCRATCH: case CSR_SEPC: case CSR_SCAUSE: case CSR_STVAL: case CSR_STVEC:
    case CSR_MSCRATCH: case CSR_MEPC: case CSR_MCAUSE: case CSR_MTVAL: case CSR_MTVEC:
        return 1;
    }
    return 0;
}

int jit_csr(struct hart *h, uint64_t a, uint64_t b)
{
    struct fields o = unpack(a, b);
    unsigned csr = (unsigned)o.imm;
    uint64_t old;
    int wrote;
    if (csr_insn(h, o.opc, csr, o.rs1, h->x[o.rs1], o.rd == DECODE_XZERO_SINK, &old, &wrote))
        return illegal(h, &o);
    h->x[o.rd] = old;
    /* A minstret write moves the counter's delta, never h->instret, so
     * budgets need no adjustment (csr.c: counter_write). */
    return wrote && !csr_plain(csr) ? JIT_H_BOUNDARY : JIT_H_NEXT;
}

/* ---- ecall (hart.c: op_ECALL) ---- */

int jit_ecall(struct hart *h, uint64_t a, uint64_t b)
{
    (void)a, (void)b;
    if (h->priv == PRIV_S && h->ecall.call) {
        atomic_store_explicit(&h->exits.sbi, atomic_load_explicit(&h->exits.sbi, memory_order_relaxed) + 1,
                              memory_order_relaxed);
        int rc = h->ecall.call(h->ecall.opaque, h);
        if (rc == 0)
            return JIT_H_BOUNDARY;
        if (rc == HART_ECALL_RETRY)
            return JIT_H_AGAIN;
    }
    hart_raise(h, CAUSE_ECALL_U + h->priv, 0);
    return JIT_H_EXC;
}

/* ---- atomics (amo.h: amo_exec) ---- */

int jit_atomic(struct hart *h, uint64_t a, uint64_t b)
{
    struct fields o = unpack(a, b);
    uint64_t v;
    if (amo_exec(h, o.opc, h->x[o.rs1], h->x[o.rs2], &v))
        return JIT_H_EXC;
    h->x[o.rd] = v;
    /* As AFTER_SLOW_STORE after an SC or AMO: code overwritten, or a stop asked for. */
    if (o.opc != OP_LR_W && o.opc != OP_LR_D &&
        (h->code_dirty | atomic_load_explicit(&h->stop_requested, memory_order_relaxed)))
        return JIT_H_BOUNDARY;
    return JIT_H_NEXT;
}

/* ---- floating point (cpu/fpu_ops.h, as hart.c expands it) ---- */

int jit_fp(struct hart *h, uint64_t a, uint64_t b)
{
    struct fields o = unpack(a, b);
    uint64_t *f = h->f, *x = h->x;
    if (!(h->mstatus & MSTATUS_FS))
        return illegal(h, &o);
    int rm = o.rm == 7 ? (int)h->frm : (int)o.rm;
    unsigned fl = 0;
#define S1 fpu_unbox32(f[o.rs1])
#define S2 fpu_unbox32(f[o.rs2])
#define S3 fpu_unbox32(f[o.rs3])
#define D1 f[o.rs1]
#define D2 f[o.rs2]
#define D3 f[o.rs3]
#define R1 x[o.rs1]
#define RM_CHECK() do { if (rm > 4) return illegal(h, &o); } while (0)
#define FOP_S(expr) RM_CHECK(); f[o.rd] = fpu_box32(expr); goto rounded
#define FOP_D(expr) RM_CHECK(); f[o.rd] = (expr); goto rounded
#define FOP_X(expr) RM_CHECK(); x[o.rd] = (expr); goto xflags
#define FOP_XN(expr) x[o.rd] = (expr); goto xflags
#define FOP_SN(expr) f[o.rd] = fpu_box32(expr); goto dirty
#define FOP_DN(expr) f[o.rd] = (expr); goto dirty
#define FPU_CASE(OP, KIND, EXPR) case OP_##OP: { FOP_##KIND(EXPR); }
    switch (o.opc) {
        FPU_OPS(FPU_CASE)
    }
    return illegal(h, &o); /* not an FP operation: jit.c never sends one */
rounded:
    h->fflags |= fl;
dirty:
    h->mstatus |= MSTATUS_FS;
    return JIT_H_NEXT;
xflags:
    if (fl) {
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS;
    }
    return JIT_H_NEXT;
}
