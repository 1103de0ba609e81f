/* The JIT's helpers (see jit_helpers.h): each mirrors an interpreter
 * handler in hart.c, which stays the reference; a change to one is a
 * change to both. */
#include "cpu/jit_helpers.h"

#include "cpu/amo.h"
#include "cpu/csr.h"
#include "cpu/fpu.h"
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

/* ---- floating point (hart.c: FS_CHECK, RM, FLAGS, FOP_*) ---- */

int jit_fp(struct hart *h, uint64_t a, uint64_t b)
{
    struct fields o = unpack(a, b);
    uint64_t *f = h->f, *x = h->x;
    if (!(h->mstatus & MSTATUS_FS))
        return illegal(h, &o);
    uint32_t s1 = fpu_unbox32(f[o.rs1]), s2 = fpu_unbox32(f[o.rs2]), s3 = fpu_unbox32(f[o.rs3]);
    uint64_t d1 = f[o.rs1], d2 = f[o.rs2], d3 = f[o.rs3], r1 = x[o.rs1];
    unsigned fl = 0;
    /* What needs no rounding mode: the interpreter's handlers without RM(). */
    switch (o.opc) {
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S: {
        uint32_t s = o.opc == OP_FSGNJ_S ? s2 : o.opc == OP_FSGNJN_S ? ~s2 : s1 ^ s2;
        f[o.rd] = fpu_box32((s1 & 0x7fffffffu) | (s & 0x80000000u));
        h->mstatus |= MSTATUS_FS;
        return JIT_H_NEXT;
    }
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D: {
        uint64_t s = o.opc == OP_FSGNJ_D ? d2 : o.opc == OP_FSGNJN_D ? ~d2 : d1 ^ d2;
        f[o.rd] = (d1 & ~(1ull << 63)) | (s & (1ull << 63));
        h->mstatus |= MSTATUS_FS;
        return JIT_H_NEXT;
    }
    case OP_FMV_X_W: x[o.rd] = sext32(d1); return JIT_H_NEXT;
    case OP_FMV_X_D: x[o.rd] = d1; return JIT_H_NEXT;
    case OP_FMV_W_X: f[o.rd] = fpu_box32((uint32_t)r1); h->mstatus |= MSTATUS_FS; return JIT_H_NEXT;
    case OP_FMV_D_X: f[o.rd] = r1; h->mstatus |= MSTATUS_FS; return JIT_H_NEXT;
    case OP_FCLASS_S: x[o.rd] = fpu_f32_class(s1); return JIT_H_NEXT;
    case OP_FCLASS_D: x[o.rd] = fpu_f64_class(d1); return JIT_H_NEXT;
    case OP_FEQ_S: x[o.rd] = (uint64_t)fpu_f32_eq(s1, s2, &fl); goto xflags;
    case OP_FLT_S: x[o.rd] = (uint64_t)fpu_f32_lt(s1, s2, &fl); goto xflags;
    case OP_FLE_S: x[o.rd] = (uint64_t)fpu_f32_le(s1, s2, &fl); goto xflags;
    case OP_FEQ_D: x[o.rd] = (uint64_t)fpu_f64_eq(d1, d2, &fl); goto xflags;
    case OP_FLT_D: x[o.rd] = (uint64_t)fpu_f64_lt(d1, d2, &fl); goto xflags;
    case OP_FLE_D: x[o.rd] = (uint64_t)fpu_f64_le(d1, d2, &fl); goto xflags;
    }
    int rm = o.rm == 7 ? (int)h->frm : (int)o.rm;
    if (rm > 4)
        return illegal(h, &o);
    switch (o.opc) {
    /* FOP_S: a single-precision result. */
    case OP_FADD_S: f[o.rd] = fpu_box32(fpu_f32_add(s1, s2, rm, &fl)); break;
    case OP_FSUB_S: f[o.rd] = fpu_box32(fpu_f32_sub(s1, s2, rm, &fl)); break;
    case OP_FMUL_S: f[o.rd] = fpu_box32(fpu_f32_mul(s1, s2, rm, &fl)); break;
    case OP_FDIV_S: f[o.rd] = fpu_box32(fpu_f32_div(s1, s2, rm, &fl)); break;
    case OP_FSQRT_S: f[o.rd] = fpu_box32(fpu_f32_sqrt(s1, rm, &fl)); break;
    case OP_FMIN_S: f[o.rd] = fpu_box32(fpu_f32_min(s1, s2, &fl)); break;
    case OP_FMAX_S: f[o.rd] = fpu_box32(fpu_f32_max(s1, s2, &fl)); break;
    case OP_FMADD_S: case OP_FMSUB_S: case OP_FNMSUB_S: case OP_FNMADD_S:
        f[o.rd] = fpu_box32(fpu_f32_fma(s1, s2, s3, (enum fpu_fma_op)(o.opc - OP_FMADD_S), rm, &fl));
        break;
    case OP_FCVT_S_D: f[o.rd] = fpu_box32(fpu_f64_to_f32(d1, rm, &fl)); break;
    case OP_FCVT_S_W: f[o.rd] = fpu_box32(fpu_i32_to_f32((int32_t)r1, rm, &fl)); break;
    case OP_FCVT_S_WU: f[o.rd] = fpu_box32(fpu_u32_to_f32((uint32_t)r1, rm, &fl)); break;
    case OP_FCVT_S_L: f[o.rd] = fpu_box32(fpu_i64_to_f32((int64_t)r1, rm, &fl)); break;
    case OP_FCVT_S_LU: f[o.rd] = fpu_box32(fpu_u64_to_f32(r1, rm, &fl)); break;
    /* FOP_D: a double-precision result. */
    case OP_FADD_D: f[o.rd] = fpu_f64_add(d1, d2, rm, &fl); break;
    case OP_FSUB_D: f[o.rd] = fpu_f64_sub(d1, d2, rm, &fl); break;
    case OP_FMUL_D: f[o.rd] = fpu_f64_mul(d1, d2, rm, &fl); break;
    case OP_FDIV_D: f[o.rd] = fpu_f64_div(d1, d2, rm, &fl); break;
    case OP_FSQRT_D: f[o.rd] = fpu_f64_sqrt(d1, rm, &fl); break;
    case OP_FMIN_D: f[o.rd] = fpu_f64_min(d1, d2, &fl); break;
    case OP_FMAX_D: f[o.rd] = fpu_f64_max(d1, d2, &fl); break;
    case OP_FMADD_D: case OP_FMSUB_D: case OP_FNMSUB_D: case OP_FNMADD_D:
        f[o.rd] = fpu_f64_fma(d1, d2, d3, (enum fpu_fma_op)(o.opc - OP_FMADD_D), rm, &fl);
        break;
    case OP_FCVT_D_S: f[o.rd] = fpu_f32_to_f64(s1, &fl); break;
    case OP_FCVT_D_W: f[o.rd] = fpu_i32_to_f64((int32_t)r1, rm, &fl); break;
    case OP_FCVT_D_WU: f[o.rd] = fpu_u32_to_f64((uint32_t)r1, rm, &fl); break;
    case OP_FCVT_D_L: f[o.rd] = fpu_i64_to_f64((int64_t)r1, rm, &fl); break;
    case OP_FCVT_D_LU: f[o.rd] = fpu_u64_to_f64(r1, rm, &fl); break;
    /* FOP_X: an integer result, FS dirty only through the flags. */
    case OP_FCVT_W_S: x[o.rd] = (uint64_t)(int64_t)fpu_f32_to_i32(s1, rm, &fl); goto xflags;
    case OP_FCVT_WU_S: x[o.rd] = sext32(fpu_f32_to_u32(s1, rm, &fl)); goto xflags;
    case OP_FCVT_L_S: x[o.rd] = (uint64_t)fpu_f32_to_i64(s1, rm, &fl); goto xflags;
    case OP_FCVT_LU_S: x[o.rd] = fpu_f32_to_u64(s1, rm, &fl); goto xflags;
    case OP_FCVT_W_D: x[o.rd] = (uint64_t)(int64_t)fpu_f64_to_i32(d1, rm, &fl); goto xflags;
    case OP_FCVT_WU_D: x[o.rd] = sext32(fpu_f64_to_u32(d1, rm, &fl)); goto xflags;
    case OP_FCVT_L_D: x[o.rd] = (uint64_t)fpu_f64_to_i64(d1, rm, &fl); goto xflags;
    case OP_FCVT_LU_D: x[o.rd] = fpu_f64_to_u64(d1, rm, &fl); goto xflags;
    default:
        return illegal(h, &o); /* not an FP operation: jit.c never sends one */
    }
    h->fflags |= fl;
    h->mstatus |= MSTATUS_FS;
    return JIT_H_NEXT;
xflags:
    if (fl) {
        h->fflags |= fl;
        h->mstatus |= MSTATUS_FS;
    }
    return JIT_H_NEXT;
}
