/* Control flow between the JIT's units (see jit_chain.h).
 *
 * Every unit has the same frame, set up by one entry stub and taken down
 * by one epilogue that all units of a code-cache generation share (with
 * the other stubs: jit_chain_stubs, at the start of the cache), so one
 * unit can jump into another and leave through the same code; the guest
 * registers kept in host registers (jit_regs.h) are loaded by the entry
 * stub and stored by the epilogue, never in between. Units are
 * entered from jit_run at the body, and from other units at the chain
 * entry, which first checks that the whole unit fits before the slice
 * limit (in the frame, never past the budget): budgets stay exact and
 * asynchronous events are looked at
 * with the interpreter's latency (jit_run goes to the boundary at the end
 * of every slice). A unit whose instructions include a system instruction
 * (hart_op_is_system) never goes on into another: what follows it must be
 * found again, through the boundary.
 *
 * Direct chains: an exit to a static target in the same guest page as
 * the block (the block's offset in its page plus the target's offset from
 * the block, so it holds under every virtual address the block runs at)
 * is first a jump to a stub that returns to jit_run with the exit's
 * record: the physical address of the block the target must be. jit_run
 * finds the next unit as usual and, when it is that block's, repoints the
 * exit's jump (through the writable mapping) at the unit's chain entry;
 * r12 was already advanced to the target's virtual pc. Such a chain
 * links two blocks of one RAM page, and blocks of a page are only ever
 * dropped together (a store over decoded code, a failed check after a
 * fence, a flush of all decoded code), so a chain can only be followed
 * from a unit whose own block is alive, and then leads to a live one;
 * once a block is dropped nothing reaches its unit (jit_run and the jump
 * cache go through live blocks only). All units die together when the
 * code cache is emptied (a new generation), and so do the chains in them.
 *
 * Indirect jumps (jalr) and exits to other pages look the target up in
 * the interpreter's own jump cache (h->ft->jcache: virtual pc -> block
 * under the current fetch context), so whatever empties it (changes of
 * translation, fences, dropped code, remote fences) covers this lookup
 * too; a hit goes on into the chain entry the entry holds (jit_run puts
 * it there once the block has a unit; emptying the code cache empties
 * the jump caches). A miss returns to jit_run. */
#include "cpu/jit_chain.h"

#include <stddef.h>
#include <string.h>

#include "cpu/jit_regs.h"

#define PC_OFF ((int32_t)offsetof(struct hart, pc))
#define INSTRET_OFF ((int32_t)offsetof(struct hart, instret))
#define FT_OFF ((int32_t)offsetof(struct hart, ft))
#define JCACHE_OFF ((int32_t)offsetof(struct hart_fetch_tlb, jcache))
#define JCACHE_HIT (1 << 16)   /* in the transfer count (see jit_ret) */

_Static_assert(sizeof(struct hart_jcache_entry) == 32 && offsetof(struct hart_jcache_entry, jit) == 16,
               "jump-cache entry layout, scaled below");
_Static_assert(HART_SLICE < (1 << 16), "units entered in one call fit the low 16 bits");

/* The frame: rbx, rbp and r12-r15 saved, then 24 bytes (the limit, the
 * count and 8 bytes so that rsp is 16-byte aligned for calls). */
void jit_chain_stubs(struct x64_buf *b, struct jit_stubs *s)
{
    static const enum x64_reg saved[] = { RH, X64_RBP, RBPC, X64_R13, X64_R14, RINSTRET };
    unsigned nsaved = sizeof saved / sizeof saved[0];
    s->enter = x64_size(b);
    for (unsigned i = 0; i < nsaved; i++)
        x64_push(b, saved[i]);
    x64_alu_ri(b, X64_SUB, X64_RSP, 24, 0);
    x64_mov_rr(b, RH, X64_RDI);
    x64_mov_rr(b, RBPC, X64_RSI);
    x64_store(b, X64_RSP, JIT_FRAME_LIMIT, X64_RDX);
    x64_mov_ri(b, X64_RDX, 0);
    x64_store(b, X64_RSP, JIT_FRAME_COUNT, X64_RDX);
    x64_load(b, RINSTRET, RH, INSTRET_OFF);
    jit_regs_load(b, JIT_REGS_ALL);
    x64_jmp_r(b, X64_RCX);

    s->epilogue = x64_size(b);
    x64_store(b, RH, INSTRET_OFF, RINSTRET);
    jit_regs_store(b, JIT_REGS_ALL);
    x64_load(b, X64_RDX, X64_RSP, JIT_FRAME_COUNT);
    x64_alu_ri(b, X64_ADD, X64_RSP, 24, 0);
    for (unsigned i = nsaved; i-- > 0;)
        x64_pop(b, saved[i]);
    x64_ret(b);

    /* Entered through a chain but does not fit: leave at its start. */
    s->leave = x64_size(b);
    x64_store(b, RH, PC_OFF, RBPC);
    x64_mov_ri(b, X64_RAX, JIT_NEXT);
    x64_jmp_to(b, s->epilogue);

    /* rax = target pc (even): the slot of the current fetch context's
     * jump cache for it, ((pc >> 1) % size) * 32 bytes in; a hit with a
     * chain entry goes on there. */
    s->lookup = x64_size(b);
    x64_load(b, X64_RCX, RH, FT_OFF);
    x64_mov_rr32(b, X64_RDX, X64_RAX);
    x64_alu_ri(b, X64_AND, X64_RDX, (HART_JCACHE_SIZE - 1) << 1, 1);
    x64_shift_ri(b, X64_SHL, X64_RDX, 4, 1);
    x64_alu_rr(b, X64_ADD, X64_RCX, X64_RDX, 0);
    x64_alu_rm(b, X64_CMP, X64_RAX, X64_RCX, JCACHE_OFF);
    size_t miss_pc = x64_jcc(b, X64_CC_NE);
    x64_load(b, X64_RCX, X64_RCX, JCACHE_OFF + 16);
    x64_alu_ri(b, X64_CMP, X64_RCX, 0, 0);
    size_t miss_unit = x64_jcc(b, X64_CC_E);
    x64_mov_rr(b, RBPC, X64_RAX);
    if (s->count)
        x64_alu_mi(b, X64_ADD, X64_RSP, JIT_FRAME_COUNT, JCACHE_HIT);
    x64_jmp_r(b, X64_RCX);

    s->miss = x64_size(b);
    x64_patch_here(b, miss_pc);
    x64_patch_here(b, miss_unit);
    x64_store(b, RH, PC_OFF, X64_RAX);
    x64_mov_ri(b, X64_RAX, JIT_NEXT);
    x64_jmp_to(b, s->epilogue);

    /* rax = an exit's record (r12 already the target's pc). */
    s->link = x64_size(b);
    x64_store(b, RH, PC_OFF, RBPC);
    x64_shift_ri(b, X64_SHL, X64_RAX, 8, 0);   /* | JIT_NEXT, which is 0 */
    x64_jmp_to(b, s->epilogue);

    /* eax = code << 24 | n << 16 | pc_off (see jit_chain_leave). */
    s->exit = x64_size(b);
    x64_movzx16(b, X64_RCX, X64_RAX);
    x64_alu_rr(b, X64_ADD, X64_RCX, RBPC, 0);
    x64_store(b, RH, PC_OFF, X64_RCX);
    x64_mov_rr32(b, X64_RCX, X64_RAX);
    x64_shift_ri(b, X64_SHR, X64_RCX, 16, 1);
    x64_alu_ri(b, X64_AND, X64_RCX, 0xff, 1);
    x64_alu_rr(b, X64_ADD, RINSTRET, X64_RCX, 0);
    x64_shift_ri(b, X64_SHR, X64_RAX, 24, 1);
    x64_jmp_to(b, s->epilogue);
}

_Static_assert(JIT_NEXT == 0, "the link stub returns rec << 8 as it is");

void jit_chain_leave(struct x64_buf *b, const struct jit_frame *f, int32_t pc_off, unsigned n, int code)
{
    if (pc_off >= 0 && pc_off <= 0xffff && n <= 0xff) {
        x64_mov_ri(b, X64_RAX, (uint64_t)code << 24 | (uint64_t)n << 16 | (uint64_t)pc_off);
        x64_jmp_to(b, f->stubs->exit);
        return;
    }
    x64_lea(b, X64_RAX, RBPC, pc_off);
    x64_store(b, RH, PC_OFF, X64_RAX);
    if (n)
        x64_alu_ri(b, X64_ADD, RINSTRET, (int32_t)n, 0);
    x64_mov_ri(b, X64_RAX, (uint64_t)code);
    x64_jmp_to(b, f->stubs->epilogue);
}

void jit_chain_begin(struct x64_buf *b, struct jit_frame *f, unsigned ninsns)
{
    f->centry = x64_size(b);
    x64_lea(b, X64_RAX, RINSTRET, (int32_t)ninsns);
    x64_alu_rm(b, X64_CMP, X64_RAX, X64_RSP, JIT_FRAME_LIMIT);
    x64_jcc_to(b, X64_CC_A, f->stubs->leave);
    if (f->stubs->count)
        x64_alu_mi(b, X64_ADD, X64_RSP, JIT_FRAME_COUNT, 1);
    f->body = x64_size(b);
}

/* A loop back to the unit's own start goes straight to its chain entry;
 * a target in the block's page is a direct chain (see above), whose
 * record (the target block's physical address) sits right after its
 * jump; any other target is looked up. */
void jit_chain_exit(struct x64_buf *b, const struct jit_frame *f, int32_t pc_off, unsigned n)
{
    if (n)
        x64_alu_ri(b, X64_ADD, RINSTRET, (int32_t)n, 0);
    if (f->chain && pc_off == 0) {
        x64_jmp_to(b, f->centry);
        return;
    }
    int64_t in_page = (int64_t)(f->pa & 0xfff) + pc_off;
    if (!f->chain || in_page < 0 || in_page >= 4096) {
        x64_lea(b, X64_RAX, RBPC, pc_off);
        x64_jmp_to(b, f->chain ? f->stubs->lookup : f->stubs->miss);
        return;
    }
    x64_lea(b, RBPC, RBPC, pc_off);
    size_t jump = x64_jmp(b);
    size_t rec = x64_size(b);
    x64_data64(b, (f->pa & ~0xfffull) + (uint64_t)in_page);
    x64_patch_here(b, jump);
    x64_mov_ri(b, X64_RAX, rec);
    x64_jmp_to(b, f->stubs->link);
}

void jit_chain_jump(struct x64_buf *b, const struct jit_frame *f)
{
    x64_jmp_to(b, f->chain ? f->stubs->lookup : f->stubs->miss);
}

int jit_chain_link(uint8_t *rw, const uint8_t *rx, size_t size, uint32_t rec, uint64_t pa,
                   const struct jit_unit *u)
{
    uint64_t want;
    if (rec < 4 || rec > size - 8)
        return 0;
    memcpy(&want, rx + rec, 8);
    if (want != pa)
        return 0;
    x64_repoint(rw + rec - 4, rx + rec, u->centry);
    return 1;
}
