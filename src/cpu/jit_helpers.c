/* The JIT's helpers (see jit_helpers.h): each mirrors an interpreter
 * handler in hart.c, which stays the reference; a change to one is a
 * change to both. */
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

/* ---- CSRs (hart.c: op_CSRRW...) ---- */

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
    uint64_t old = 0;
    int wrote = 1;
    if (o.opc == OP_CSRRW || o.opc == OP_CSRRWI) {
        uint64_t src = o.opc == OP_CSRRW ? h->x[o.rs1] : o.rs1;
        if (o.rd != DECODE_XZERO_SINK && csr_read(h, csr, &old))
            return illegal(h, &o);
        if (csr_write(h, csr, src))
            return illegal(h, &o);
    } else {
        uint64_t src = (o.opc == OP_CSRRS || o.opc == OP_CSRRC) ? h->x[o.rs1] : o.rs1;
        if (csr_read(h, csr, &old))
            return illegal(h, &o);
        wrote = o.rs1 != 0;
        if (wrote) {
            uint64_t base = csr_rmw_base(h, csr, old);
            uint64_t n = (o.opc == OP_CSRRS || o.opc == OP_CSRRSI) ? base | src : base & ~src;
            if (csr_write(h, csr, n))
                return illegal(h, &o);
        }
    }
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

/* ---- atomics (hart.c: ATOMIC_PTR, op_LR_W...) ---- */

int jit_atomic(struct hart *h, uint64_t a, uint64_t b)
{
    struct fields o = unpack(a, b);
    unsigned sz = o.opc >= OP_LR_D ? 8 : 4;
    int is_lr = o.opc == OP_LR_W || o.opc == OP_LR_D;
    uint64_t va = h->x[o.rs1], pa;
    void *p;
    /* A TLB hit has every check of mmu_atomic_ptr done and fails when
     * misaligned (see ATOMIC_PTR). */
    const struct hart_tlb_entry *e = &(is_lr ? h->dt->load : h->dt->store)[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (e->vpage == (va & (~0xfffull | (sz - 1)))) {
        p = (void *)(e->addend + (uintptr_t)va);
        pa = h->mem.base + (uint64_t)((uint8_t *)p - h->mem.host);
    } else if (mmu_atomic_ptr(h, va, sz, is_lr, &p, &pa)) {
        return JIT_H_EXC;
    }
    if (is_lr) {
        uint64_t v = sz == 4 ? __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE)
                             : __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
        h->resv_pa = pa;
        h->resv_val = v;
        h->resv_valid = 1;
        h->x[o.rd] = sz == 4 ? sext32(v) : v;
        return JIT_H_NEXT;
    }
    uint64_t v = h->x[o.rs2];
    if (o.opc == OP_SC_W || o.opc == OP_SC_D) {
        int ok = 0;
        if (h->resv_valid && h->resv_pa == pa) {
            if (sz == 4) {
                uint32_t exp = (uint32_t)h->resv_val;
                ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)v, 0, __ATOMIC_SEQ_CST,
                                                 __ATOMIC_RELAXED);
            } else {
                uint64_t exp = h->resv_val;
                ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, v, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            }
        }
        h->resv_valid = 0;
        h->x[o.rd] = !ok;
    } else if (sz == 4) {
        h->x[o.rd] = sext32(amo32(o.opc, (uint32_t *)p, (uint32_t)v));
    } else {
        h->x[o.rd] = amo64(o.opc, (uint64_t *)p, v);
    }
    /* As AFTER_SLOW_STORE: code overwritten, or a stop asked for. */
    if (h->code_dirty | atomic_load_explicit(&h->stop_requested, memory_order_relaxed))
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
