/* The A extension's instructions (LR, SC, the AMOs) as both engines run
 * them: the interpreter's handlers (hart.c) and the JIT's helper
 * (jit_helpers.c) call amo_exec, so both have the same semantics. */
#ifndef MINNOW_CPU_AMO_H
#define MINNOW_CPU_AMO_H

#include <stdint.h>

#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/mmu.h"

/* The read-modify-write of an AMO on a host pointer, as one atomic step
 * with respect to other harts (a compare-and-swap loop): returns the old
 * value. */

static inline uint64_t amo64(unsigned op, uint64_t *p, uint64_t v)
{
    uint64_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_D: n = v; break;
        case OP_AMOADD_D: n = old + v; break;
        case OP_AMOXOR_D: n = old ^ v; break;
        case OP_AMOAND_D: n = old & v; break;
        case OP_AMOOR_D: n = old | v; break;
        case OP_AMOMIN_D: n = (int64_t)old < (int64_t)v ? old : v; break;
        case OP_AMOMAX_D: n = (int64_t)old > (int64_t)v ? old : v; break;
        case OP_AMOMINU_D: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_D */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

static inline uint32_t amo32(unsigned op, uint32_t *p, uint32_t v)
{
    uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
    do {
        switch (op) {
        case OP_AMOSWAP_W: n = v; break;
        case OP_AMOADD_W: n = old + v; break;
        case OP_AMOXOR_W: n = old ^ v; break;
        case OP_AMOAND_W: n = old & v; break;
        case OP_AMOOR_W: n = old | v; break;
        case OP_AMOMIN_W: n = (int32_t)old < (int32_t)v ? old : v; break;
        case OP_AMOMAX_W: n = (int32_t)old > (int32_t)v ? old : v; break;
        case OP_AMOMINU_W: n = old < v ? old : v; break;
        default: n = old > v ? old : v; break; /* AMOMAXU_W */
        }
    } while (!__atomic_compare_exchange_n(p, &old, n, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    return old;
}

/* LR, SC or an AMO (opc, .W or .D) at va with src = x[rs2]: returns 0
 * with x[rd]'s new value in *rd, or -1 with the exception raised (nothing
 * written). Callers look for overwritten code or a stop request after an
 * SC or AMO, as after any store that may have taken a slow path. */
static inline int amo_exec(struct hart *h, unsigned opc, uint64_t va, uint64_t src, uint64_t *rd)
{
    unsigned sz = opc >= OP_LR_D ? 8 : 4;
    int is_lr = opc == OP_LR_W || opc == OP_LR_D;
    void *p;
    uint64_t pa;
    /* A hit in the load TLB (LR) or the store TLB (SC, AMOs) has all that
     * mmu_atomic_ptr checks done (RAM, PMP, translation; store entries
     * never map decoded code or the watched range) and fails when
     * misaligned. */
    const struct hart_tlb_entry *e = &(is_lr ? h->dt->load : h->dt->store)[(va >> 12) & (HART_TLB_SIZE - 1)];
    if (__builtin_expect(e->vpage == (va & (~0xfffull | (sz - 1))), 1)) {
        p = (void *)(e->addend + (uintptr_t)va);
        pa = h->mem.base + (uint64_t)((uint8_t *)p - h->mem.host);
    } else {
        /* LR is a load, SC a store, an AMO both (cpu/trigger.h). */
        unsigned kinds = is_lr ? TRIGGER_LOAD
                       : opc == OP_SC_W || opc == OP_SC_D ? TRIGGER_STORE : TRIGGER_LOAD | TRIGGER_STORE;
        if (__builtin_expect((h->trig.armed & kinds) != 0, 0) && trigger_data(h, va, sz, kinds))
            return -1;
        if (mmu_atomic_ptr(h, va, sz, is_lr, &p, &pa))
            return -1;
    }
    if (is_lr) {
        uint64_t v = sz == 4 ? __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE)
                             : __atomic_load_n((uint64_t *)p, __ATOMIC_ACQUIRE);
        h->resv_pa = pa;
        h->resv_val = v;
        h->resv_valid = 1;
        *rd = sz == 4 ? (uint64_t)(int64_t)(int32_t)v : v;
        return 0;
    }
    if (opc == OP_SC_W || opc == OP_SC_D) {
        /* The reservation holds if memory still has the value LR saw: a
         * compare-and-swap makes the check and the store one step with
         * respect to other harts. */
        int ok = 0;
        if (h->resv_valid && h->resv_pa == pa) {
            if (sz == 4) {
                uint32_t exp = (uint32_t)h->resv_val;
                ok = __atomic_compare_exchange_n((uint32_t *)p, &exp, (uint32_t)src, 0, __ATOMIC_SEQ_CST,
                                                 __ATOMIC_RELAXED);
            } else {
                uint64_t exp = h->resv_val;
                ok = __atomic_compare_exchange_n((uint64_t *)p, &exp, src, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
            }
        }
        h->resv_valid = 0;
        *rd = !ok;
        return 0;
    }
    *rd = sz == 4 ? (uint64_t)(int64_t)(int32_t)amo32(opc, (uint32_t *)p, (uint32_t)src)
                  : amo64(opc, (uint64_t *)p, src);
    return 0;
}

#endif
