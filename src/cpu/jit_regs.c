/* Which guest registers live in host registers (see jit_regs.h). */
#include "cpu/jit_regs.h"

#include <stddef.h>

#include "cpu/hart.h"
#include "cpu/jit_chain.h"

#if defined(__x86_64__)

#define XOFF(i) ((int32_t)(offsetof(struct hart, x) + 8u * (i)))

/* The assignment. rbp, r13, r14 are preserved by C calls, r8-r11 are not
 * (the order of the volatile ones is the push order). */
static const struct { uint8_t x; uint8_t host; } pins[] = {
    { 15, X64_R8 },   /* a5 */
    { 14, X64_R9 },   /* a4 */
    { 13, X64_R10 },  /* a3 */
    { 11, X64_R11 },  /* a1 */
    { 10, X64_RBP },  /* a0 */
    { 2, X64_R13 },   /* sp */
    { 8, X64_R14 },   /* s0 */
};
#define NPINS (sizeof pins / sizeof pins[0])
#define NVOLATILE 4u

_Static_assert(JIT_REGS_ALL == (1u << 15 | 1u << 14 | 1u << 13 | 1u << 11 | 1u << 10 | 1u << 2 | 1u << 8),
               "JIT_REGS_ALL is the table's set");

enum x64_reg jit_reg_of(unsigned xi)
{
    for (unsigned i = 0; i < NPINS; i++)
        if (pins[i].x == xi)
            return (enum x64_reg)pins[i].host;
    return JIT_REG_NONE;
}

uint32_t jit_regs_volatile(void)
{
    uint32_t set = 0;
    for (unsigned i = 0; i < NVOLATILE; i++)
        set |= 1u << pins[i].x;
    return set;
}

void jit_regs_store(struct x64_buf *b, uint32_t set)
{
    for (unsigned i = 0; i < NPINS; i++)
        if (set >> pins[i].x & 1)
            x64_store(b, RH, XOFF(pins[i].x), (enum x64_reg)pins[i].host);
}

void jit_regs_load(struct x64_buf *b, uint32_t set)
{
    for (unsigned i = 0; i < NPINS; i++)
        if (set >> pins[i].x & 1)
            x64_load(b, (enum x64_reg)pins[i].host, RH, XOFF(pins[i].x));
}

_Static_assert(NVOLATILE % 2 == 0, "pushes keep the stack 16-byte aligned");

void jit_regs_push_volatile(struct x64_buf *b)
{
    for (unsigned i = 0; i < NVOLATILE; i++)
        x64_push(b, (enum x64_reg)pins[i].host);
}

void jit_regs_pop_volatile(struct x64_buf *b)
{
    for (unsigned i = NVOLATILE; i-- > 0;)
        x64_pop(b, (enum x64_reg)pins[i].host);
}

#endif
