/* The state comparison and the bare-hart pieces the JIT's differential
 * testers share (see hart_compare.h). */
#include "hart_compare.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *hart_compare(const struct hart *a, const struct hart *b, char *buf, size_t len)
{
    for (int i = 0; i < 32; i++)
        if (a->x[i] != b->x[i]) {
            snprintf(buf, len, "x%d: interp %#" PRIx64 " jit %#" PRIx64, i, a->x[i], b->x[i]);
            return buf;
        }
    for (int i = 0; i < 32; i++)
        if (a->f[i] != b->f[i]) {
            snprintf(buf, len, "f%d: interp %#" PRIx64 " jit %#" PRIx64, i, a->f[i], b->f[i]);
            return buf;
        }
#define CMP(field) do { if (a->field != b->field) { \
            snprintf(buf, len, #field ": interp %#" PRIx64 " jit %#" PRIx64, (uint64_t)a->field, \
                     (uint64_t)b->field); \
            return buf; } } while (0)
    CMP(pc); CMP(priv); CMP(instret); CMP(mstatus); CMP(mcause); CMP(mepc); CMP(mtval);
    CMP(scause); CMP(sepc); CMP(stval); CMP(satp); CMP(fflags); CMP(frm); CMP(mscratch);
#undef CMP
    return NULL;
}

const char *hart_compare_insn(const uint8_t *ram, uint64_t base, uint64_t size, uint64_t pc, char *buf,
                              size_t len)
{
    if (pc < base || pc - base >= size) {
        snprintf(buf, len, "outside RAM");
        return buf;
    }
    /* A compressed instruction in the last two bytes of RAM: its 16 bits. */
    uint32_t raw = 0;
    memcpy(&raw, ram + (pc - base), pc - base + 4 <= size ? 4 : 2);
    struct insn in;
    decode_insn(raw, &in);
    if (in.len == 2)
        snprintf(buf, len, "%04x %s (compressed)", raw & 0xffff, decode_op_name(in.op));
    else
        snprintf(buf, len, "%08x %s", raw, decode_op_name(in.op));
    return buf;
}

static int no_load(void *o, uint64_t pa, unsigned size, uint64_t *val)
{
    (void)o, (void)pa, (void)size, (void)val;
    return -1;
}

static int no_store(void *o, uint64_t pa, unsigned size, uint64_t val)
{
    (void)o, (void)pa, (void)size, (void)val;
    return -1;
}

const struct hart_bus hart_compare_no_devices = { .load = no_load, .store = no_store };

uint64_t hart_compare_clock(void *opaque)
{
    return *(const uint64_t *)opaque;
}
