/* Differential tester for the JIT: runs the same guest under the
 * interpreter (the reference) and the JIT in lockstep, with the same
 * sequence of small random budgets (seeded, reproducible), and compares
 * the architectural state after every step: x, f, pc, privilege, instret
 * and the trap CSRs. Any divergence is replayed one instruction at a time
 * from the last step that agreed, and the first instruction after which
 * the engines differ is printed.
 *
 *   jit_diff PROGRAM.elf [SEED]   a bare-metal program (as minnow run --bios)
 *   jit_diff --random SEED [N [CACHE]]
 *                                 N seeded random instruction streams:
 *                                 RV64IM, Zba, Zbb, Zbs, loads and stores
 *                                 (some misaligned, some faulting into a trap
 *                                 handler that skips them, some into the code
 *                                 itself), branches, jal, jalr, CSR accesses
 *                                 (counters, FP CSRs, mstatus.FS, illegal
 *                                 ones), AMOs, LR/SC (failing SCs too), F/D
 *                                 loads, stores and arithmetic (with bad
 *                                 rounding modes and FS off), ecall, counted
 *                                 loops, calls and returns (jal and jalr)
 *                                 into functions on another page that
 *                                 stores rewrite; CACHE: the JIT's code-cache
 *                                 size in bytes (small: many flushes)
 *   jit_diff --random-fp SEED [N [CACHE]]
 *                                 the same, half of the instructions F and
 *                                 D operations (and FP CSR writes) on
 *                                 registers that start as edge values
 *
 * Time is a counter advanced by the steps, not the host clock, so both
 * engines see the same time. Exit status 0: no divergence. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/hart.h"
#include "cpu/jit.h"
#include "hart_compare.h"
#include "machine/baremetal.h"
#include "rv_encode.h"

struct side {
    struct baremetal *m;   /* ELF mode */
    struct hart *h;
    uint8_t *ram;          /* random mode */
    uint64_t ticks;
    int done;
    enum hart_exit last;
};

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void discard_out(void *opaque, const uint8_t *buf, size_t n)
{
    (void)opaque, (void)buf, (void)n;
}

/* ---- random programs ---- */

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (1u << 20)
#define CODE_OFF 0
#define FUNC_OFF 0x8000        /* NFUNC functions of FUNC_INSNS instructions */
#define NFUNC 16
#define FUNC_INSNS 16
#define HANDLER_OFF 0x10000
#define DATA_OFF 0x20800
/* Registers with fixed roles: x22 a pointer into the data area for
 * atomics (moved by the stream, sometimes misaligned), x23 mstatus.FS,
 * x24 scratch for the stores that rewrite functions, x25 the functions'
 * base, x26 code base, x27 loop counters, x28 return addresses, x29 an
 * unmapped address, x30 the data area, x31 the trap handler's. Others are
 * fair game. */
#define R_ATOM 22
#define R_FS 23
#define R_FUNC 25
#define R_CODE 26
#define R_LOOP 27
#define R_LINK 28
#define R_BAD 29
#define R_DATA 30

static unsigned main_len;      /* instructions of the main code */
static int fp_heavy;           /* --random-fp */
static int in_main;            /* generating it (not a function) */

static unsigned rd_any(void) { return 1 + (unsigned)(rnd() % 21); }  /* x1..x21 */
static unsigned rs_any(void) { return (unsigned)(rnd() % 31); }
static unsigned f_any(void) { return (unsigned)(rnd() % 32); }

/* An AMO, LR or SC on x22 (now and then an unmapped address or the code),
 * W or D. An LR is often followed by an SC to the same place. */
static uint32_t pending_sc; /* reset for each program */

static uint32_t random_atomic(void)
{
    static const unsigned f5s[] = { 0x01, 0x00, 0x04, 0x0c, 0x08, 0x10, 0x14, 0x18, 0x1c, 0x02, 0x03 };
    if (pending_sc) {
        uint32_t v = pending_sc;
        pending_sc = 0;
        return v;
    }
    unsigned f5 = f5s[rnd() % (sizeof f5s / sizeof f5s[0])], f3 = 2 + (unsigned)(rnd() % 2);
    unsigned base = rnd() % 16 == 0 ? R_BAD : rnd() % 24 == 0 ? R_CODE : R_ATOM;
    unsigned rs2 = f5 == 0x02 ? 0 : rs_any(), aqrl = (unsigned)(rnd() % 4);
    uint32_t insn = r_type(f5 << 2 | aqrl, rs2, base, f3, rd_any(), 0x2f);
    if (f5 == 0x02 && rnd() % 2)
        pending_sc = r_type(0x03 << 2, rs_any(), base, f3, rd_any(), 0x2f);
    return insn;
}

/* A CSR access: counters, scratch and trap CSRs, the FP CSRs (bad frm
 * values too, fflags cleared often: the JIT's inline FP needs NX set),
 * mstatus.FS on and off, and illegal ones (writes to
 * read-only CSRs, CSRs that do not exist). */
static uint32_t random_csr(void)
{
    static const uint16_t csrs[] = { 0x340, 0x140, 0x141, 0x343, 0x001, 0x002, 0x003, 0xb00, 0xb02,
                                     0xc00, 0xc01, 0xc02, 0x344, 0x304, 0xf11, 0x7c0, 0x300 };
    unsigned csr = csrs[rnd() % (sizeof csrs / sizeof csrs[0])], rd = rnd() % 4 ? rd_any() : 0;
    switch (rnd() % 8) {
    case 0: return i_type(0x300, R_FS, rnd() % 4 ? 2 : 3, rd, 0x73);          /* FS on (csrrs) or off (csrrc) */
    case 1: return i_type(0x002, (unsigned)(rnd() % 8), 5, rd, 0x73);         /* csrrwi frm, 0..7 */
    case 2: if (rnd() % 2) return i_type(0x001, 0, 5, rd, 0x73); break;       /* csrrwi fflags, 0 */
    }
    if (csr == 0x300 || csr == 0x304 || csr == 0x344 || (csr >= 0xc00 && rnd() % 2))
        return i_type((int32_t)csr, 0, 2, rd, 0x73);                          /* csrr: reads only */
    unsigned f3 = 1 + (unsigned)(rnd() % 3) + (rnd() % 2 ? 4 : 0);            /* rw, rs, rc, and the imm forms */
    return i_type((int32_t)csr, f3 >= 4 ? (unsigned)(rnd() % 32) : rs_any(), f3, rd, 0x73);
}

/* Values the FP loads pick half the time, from the start of the data
 * area (stores may overwrite them): the edges where results overflow,
 * underflow, round to the smallest normal or become NaN, for fld and
 * (after them) for flw. Products and squares of the neighbours of 2^-511
 * and 2^511 (2^-63 and 2^63) land on those edges, and (1 - 2^-53) times
 * the smallest normal rounds up to it from below (an underflow). */
static const uint64_t fp_edges64[] = {
    0, 1ull << 63, 1, 0x000fffffffffffffull, 0x0010000000000000ull, 0x0010000000000001ull,
    0x8010000000000000ull, 0x2000000000000000ull, 0x1fffffffffffffffull, 0x1ff6a09e667f3bcdull,
    0x2006a09e667f3bccull, 0x3ff0000000000000ull, 0x3ff0000000000001ull, 0xbff8000000000000ull,
    0x5fe0000000000000ull, 0x5fefffffffffffffull, 0x7fefffffffffffffull, 0x7ff0000000000000ull,
    0xfff0000000000000ull, 0x7ff8000000000000ull, 0x7ff0000000000001ull, 0x3cb0000000000000ull,
    0x400921fb54442d18ull, 0xc00921fb54442d18ull, 0x3fd5555555555555ull, 0x4024000000000000ull,
    0x3fefffffffffffffull, 0xbfefffffffffffffull,
};
static const uint32_t fp_edges32[] = {
    0, 0x80000000u, 1, 0x00800000u, 0x00800001u, 0x1f800000u, 0x1f7fffffu, 0x1fb504f3u, 0x3f800000u,
    0x3f800001u, 0x5f000000u, 0x5f7fffffu, 0x7f7fffffu, 0x7f800000u, 0x7fc00000u, 0x7f800001u,
    0x33800000u, 0x40490fdbu, 0xc0490fdbu, 0x3eaaaaabu, 0x41200000u, 0xbf800000u, 0x3f7fffffu, 0xbf7fffffu,
};
#define N_FP_EDGES64 (sizeof fp_edges64 / sizeof fp_edges64[0])
#define N_FP_EDGES32 (sizeof fp_edges32 / sizeof fp_edges32[0])

/* F and D: loads (of the edge values, or anything), stores, the OP-FP
 * operations with random rounding modes (5 and 6 are illegal, 7 is frm),
 * FMAs. Some encodings are not valid instructions (an illegal-instruction
 * trap). */
static uint32_t random_fp(void)
{
    static const uint8_t f7s[] = { 0x00, 0x04, 0x08, 0x0c, 0x2c, 0x10, 0x14, 0x60, 0x70, 0x50, 0x68, 0x78,
                                   0x20 };
    unsigned k = (unsigned)(rnd() % 16);
    int32_t imm = (int32_t)(rnd() % 4096) - 2048;
    if (k < 5) {
        unsigned base = rnd() % 12 == 0 ? R_BAD : R_DATA, dbl = (unsigned)(rnd() % 2);
        if (rnd() % 2)
            imm = dbl ? (int32_t)(8 * (rnd() % N_FP_EDGES64))
                      : (int32_t)(sizeof fp_edges64 + 4 * (rnd() % N_FP_EDGES32));
        return i_type(imm, base, 2 + dbl, f_any(), 0x07);                                /* flw, fld */
    }
    if (k < 6) {
        unsigned base = rnd() % 12 == 0 ? R_BAD : R_DATA;
        return s_type(imm, f_any(), base, 2 + (unsigned)(rnd() % 2), 0x27);              /* fsw, fsd */
    }
    /* Mostly RNE and dynamic (what the JIT does inline), all eight now and then. */
    unsigned rm = rnd() % 2 ? 0 : rnd() % 3 ? 7 : (unsigned)(rnd() % 8);
    if (k < 8) {
        static const unsigned opcs[] = { 0x43, 0x47, 0x4b, 0x4f };
        return (uint32_t)f_any() << 27 | (uint32_t)(rnd() % 2) << 25 | f_any() << 20 | f_any() << 15 |
               rm << 12 | f_any() << 7 | opcs[rnd() % 4];                               /* fmadd.. */
    }
    unsigned f7 = f7s[rnd() % (sizeof f7s / sizeof f7s[0])] | (unsigned)(rnd() % 2);
    unsigned rs1 = f_any(), rs2 = f_any(), rd = f_any();
    switch (f7 & ~1u) {
    case 0x2c: rs2 = 0; break;                                                           /* fsqrt */
    case 0x10: rm = (unsigned)(rnd() % 3); break;                                        /* fsgnj */
    case 0x14: rm = (unsigned)(rnd() % 2); break;                                        /* fmin/fmax */
    case 0x60: rs2 = (unsigned)(rnd() % 4); rd = rd_any(); break;                        /* fcvt.int.fp */
    case 0x70: rs2 = 0; rm = (unsigned)(rnd() % 2); rd = rd_any(); break;                /* fmv.x, fclass */
    case 0x50: rm = (unsigned)(rnd() % 3); rd = rd_any(); break;                         /* feq, flt, fle */
    case 0x68: rs2 = (unsigned)(rnd() % 4); rs1 = rs_any(); break;                       /* fcvt.fp.int */
    case 0x78: rs2 = 0; rm = 0; rs1 = rs_any(); break;                                   /* fmv.w.x, fmv.d.x */
    case 0x20: rs2 = f7 & 1 ? 0 : 1; break;                                              /* fcvt.s.d, fcvt.d.s */
    }
    return r_type(f7, rs2, rs1, rm, rd, 0x53);
}

static uint32_t random_insn(unsigned i, unsigned n)
{
    static const uint16_t rops[][2] = {
        {0, 0}, {0x20, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0x20, 5}, {0, 6}, {0, 7},
        {1, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}, {1, 6}, {1, 7},
        {0x10, 2}, {0x10, 4}, {0x10, 6}, {0x20, 7}, {0x20, 6}, {0x20, 4}, {5, 6}, {5, 7}, {5, 4}, {5, 5},
        {0x30, 1}, {0x30, 5}, {0x24, 1}, {0x14, 1}, {0x34, 1}, {0x24, 5},
    };
    static const uint16_t wops[][2] = {
        {0, 0}, {0x20, 0}, {0, 1}, {0, 5}, {0x20, 5}, {1, 0}, {1, 4}, {1, 5}, {1, 6}, {1, 7},
        {4, 0}, {0x10, 2}, {0x10, 4}, {0x10, 6}, {0x30, 1}, {0x30, 5},
    };
    if (fp_heavy && rnd() % 2)
        return rnd() % 8 ? random_fp() : random_csr();
    unsigned kind = (unsigned)(rnd() % 125);
    if (kind >= 100) {
        if (kind < 105)
            return random_atomic();
        if (kind < 107)                                                       /* move x22, maybe misaligned */
            return i_type((int32_t)(rnd() % 8 ? 8 * (rnd() % 200) : 4 * (rnd() % 400) + rnd() % 4), R_DATA, 0,
                          R_ATOM, 0x13);
        if (kind < 111)
            return random_csr();
        if (kind < 124)
            return random_fp();
        return 0x00000073; /* ecall */
    }
    unsigned rd = rd_any(), rs1 = rs_any(), rs2 = rs_any();
    int32_t imm = (int32_t)(rnd() % 4096) - 2048;
    unsigned sh = (unsigned)(rnd() % 64), sh5 = sh & 31;
    if (kind < 25) {
        unsigned k = (unsigned)(rnd() % (sizeof rops / sizeof rops[0]));
        return r_type(rops[k][0], rs2, rs1, rops[k][1], rd, 0x33);
    }
    if (kind < 33) {
        unsigned k = (unsigned)(rnd() % (sizeof wops / sizeof wops[0]));
        return r_type(wops[k][0], rs2, rs1, wops[k][1], rd, 0x3b);
    }
    if (kind < 50) {
        static const int32_t unary[] = { 0x600, 0x601, 0x602, 0x604, 0x605 };
        switch (rnd() % 16) {
        case 0: return i_type(0, rs1, 2, rd, 0x13) | ((uint32_t)(rnd() % 2) << 12);          /* slti/sltiu */
        case 1: return i_type((int32_t)sh, rs1, 1, rd, 0x13);                                /* slli */
        case 2: return i_type((int32_t)sh, rs1, 5, rd, 0x13);                                /* srli */
        case 3: return i_type((int32_t)(0x400 | sh), rs1, 5, rd, 0x13);                      /* srai */
        case 4: return i_type(unary[rnd() % 5], rs1, 1, rd, 0x13);                           /* clz.. sext.h */
        case 5: return i_type(rnd() % 2 ? 0x6b8 : 0x287, rs1, 5, rd, 0x13);                  /* rev8, orc.b */
        case 6: return i_type((int32_t)(0x600 | sh), rs1, 5, rd, 0x13);                      /* rori */
        case 7: return i_type((int32_t)((rnd() % 3 == 0 ? 0x480 : rnd() % 2 ? 0x280 : 0x680) | sh), rs1, 1,
                              rd, 0x13);                                                     /* bclri/bseti/binvi */
        case 8: return i_type((int32_t)(0x480 | sh), rs1, 5, rd, 0x13);                      /* bexti */
        case 9: return i_type(imm, rs1, 0, rd, 0x1b);                                        /* addiw */
        case 10: return i_type((int32_t)sh5, rs1, 1, rd, 0x1b);                              /* slliw */
        case 11: return i_type((int32_t)((rnd() % 2 ? 0x400 : 0) | sh5), rs1, 5, rd, 0x1b);  /* srliw/sraiw */
        case 12: return i_type(unary[rnd() % 3], rs1, 1, rd, 0x1b);                          /* clzw.. cpopw */
        case 13: return i_type((int32_t)(0x600 | sh5), rs1, 5, rd, 0x1b);                    /* roriw */
        case 14: return i_type((int32_t)(0x080 | sh), rs1, 1, rd, 0x1b);                     /* slli.uw */
        default: return r_type(4, 0, rs1, 4, rd, 0x3b);                                      /* zext.h */
        }
    }
    if (kind < 60) {
        static const unsigned f3s[] = { 0, 2, 3, 4, 6, 7 };
        return i_type(imm, rs1, f3s[rnd() % 6], rd, 0x13);
    }
    if (kind < 63)
        return (uint32_t)(rnd() & 0xfffff000u) | rd << 7 | (rnd() % 2 ? 0x37u : 0x17u); /* lui, auipc */
    if (kind < 75) {
        /* Loads: mostly the data area, some misaligned, some unmapped. */
        unsigned base = rnd() % 12 == 0 ? R_BAD : R_DATA;
        return i_type(imm, base, (unsigned)(rnd() % 7), rd, 0x03);
    }
    if (kind < 84) {
        unsigned base = rnd() % 12 == 0 ? R_BAD : R_DATA;
        if (rnd() % 40 == 0) {
            /* Into the code: self-modifying code, maybe in this very unit,
             * or into a function, which other code jumps and chains to. */
            base = rnd() % 2 ? R_CODE : R_FUNC;
            imm = (int32_t)(4 * (base == R_CODE ? rnd() % (main_len < 512 ? main_len : 512)
                                                : rnd() % (NFUNC * FUNC_INSNS)));
        }
        return s_type(imm, rs2, base, (unsigned)(rnd() % 4), 0x23);
    }
    if (kind < 94) {
        static const unsigned f3s[] = { 0, 1, 4, 5, 6, 7 };
        unsigned left = n - i;
        int32_t off = 4 * (int32_t)(1 + rnd() % (left < 16 ? left : 16));
        return b_type(off, rs2, rs1, f3s[rnd() % 6]);
    }
    if (kind < 96) {
        unsigned left = n - i;
        return j_type(4 * (int32_t)(1 + rnd() % (left < 16 ? left : 16)), rd_any());
    }
    if (kind < 97 && in_main && i + 1 < (main_len < 512 ? main_len : 512)) {
        /* Forward (as branches and jal are), so execution spreads over
         * the whole stream; loops are the counted ones. */
        unsigned k = i + 1 + (unsigned)(rnd() % ((main_len < 512 ? main_len : 512) - i - 1));
        return i_type((int32_t)(4 * k), R_CODE, 0, rd_any(), 0x67); /* jalr */
    }
    if (kind < 97)
        return 0x0000000f; /* fence */
    if (kind < 99)
        return i_type(0x340, rs_any(), 2, rd, 0x73); /* csrrs rd, mscratch, rs1 */
    return 0x0000000f; /* fence */
}

/* Writes code[i..] with one random instruction or a few that belong
 * together; returns how many. In the main code (in_main), counted
 * loops (x27 counts down; a loop entered in its middle ends at once),
 * calls of the functions, and stores of a valid instruction over one of
 * theirs (code that other code chains to changes under it). */
static unsigned random_piece(uint32_t *code, unsigned i, unsigned n)
{
    unsigned kind = (unsigned)(rnd() % 100), left = n - i;
    if (in_main && kind < 2 && left >= 3) {
        static const unsigned f3s[] = { 0, 2, 3, 4, 6, 7 };
        uint32_t v = i_type((int32_t)(rnd() % 4096) - 2048, rs_any(), f3s[rnd() % 6], rd_any(), 0x13);
        int32_t hi = (int32_t)((v + 0x800) >> 12), lo = (int32_t)(v - ((uint32_t)hi << 12));
        unsigned k = (unsigned)(rnd() % NFUNC) * FUNC_INSNS + (unsigned)(rnd() % (FUNC_INSNS - 1));
        code[i] = (uint32_t)hi << 12 | 24u << 7 | 0x37;                          /* lui x24, hi */
        code[i + 1] = i_type(lo, 24, 0, 24, 0x1b);                               /* addiw x24, x24, lo */
        code[i + 2] = s_type((int32_t)(4 * k), 24, R_FUNC, 2, 0x23);             /* sw x24, 4k(x25) */
        return 3;
    }
    kind = (unsigned)(rnd() % 100);
    if (in_main && kind < 3 && left >= 8) {
        unsigned m = 1 + (unsigned)(rnd() % (left - 3 < 40 ? left - 3 : 40));
        code[i] = i_type(1 + (int32_t)(rnd() % 8), 0, 0, R_LOOP, 0x13);          /* li x27, K */
        for (unsigned k = 1; k <= m; k++)
            code[i + k] = random_insn(i + k, i + m + 1);
        code[i + m + 1] = i_type(-1, R_LOOP, 0, R_LOOP, 0x13);                   /* addi x27, x27, -1 */
        code[i + m + 2] = b_type(-4 * (int32_t)(m + 1), R_LOOP, 0, 4);           /* blt x0, x27, body */
        return m + 3;
    }
    if (in_main && kind < 7) {
        uint32_t f = (uint32_t)(rnd() % NFUNC) * FUNC_INSNS * 4;
        if (rnd() % 2)
            code[i] = j_type((int32_t)(FUNC_OFF + f) - (int32_t)(CODE_OFF + 4 * i), R_LINK); /* jal x28, f */
        else
            code[i] = i_type((int32_t)f, R_FUNC, 0, R_LINK, 0x67);             /* jalr x28, f(x25) */
        return 1;
    }
    code[i] = random_insn(i, n);
    return 1;
}

static int random_side(struct side *s, enum hart_engine eng, uint64_t seed, unsigned n, size_t cache,
                       struct errmsg *e)
{
    memset(s, 0, sizeof *s);
    s->ram = calloc(1, RAM_SIZE);
    if (!s->ram)
        return -1;
    struct hart_config hc = {
        .engine = eng,
        .mem = { .host = s->ram, .base = RAM_BASE, .size = RAM_SIZE },
        .bus = hart_compare_no_devices,
        .clock = { .read = hart_compare_clock, .opaque = &s->ticks, .freq_hz = 10000000 },
        .jit_cache_bytes = cache,
    };
    if (hart_create(&s->h, &hc, e))
        return -1;
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    pending_sc = 0;
    uint32_t *code = (uint32_t *)(s->ram + CODE_OFF);
    main_len = n;
    in_main = 1;
    for (unsigned i = 0; i < n;)
        i += random_piece(code, i, n);
    in_main = 0;
    code[n] = j_type(-4 * (int32_t)n, 0); /* and again */
    uint32_t *fn = (uint32_t *)(s->ram + FUNC_OFF);
    for (unsigned k = 0; k < NFUNC; k++) {
        for (unsigned i = 0; i < FUNC_INSNS - 1;)
            i += random_piece(fn + k * FUNC_INSNS, i, FUNC_INSNS - 1);
        fn[k * FUNC_INSNS + FUNC_INSNS - 1] = i_type(0, R_LINK, 0, 0, 0x67); /* ret (jalr x0, 0(x28)) */
    }
    uint32_t *hd = (uint32_t *)(s->ram + HANDLER_OFF);
    hd[0] = i_type(0x341, 0, 2, 31, 0x73);  /* csrr x31, mepc */
    hd[1] = i_type(4, 31, 0, 31, 0x13);     /* addi x31, x31, 4 */
    hd[2] = i_type(0x341, 31, 1, 0, 0x73);  /* csrw mepc, x31 */
    hd[3] = 0x30200073;                     /* mret */
    for (unsigned i = 0; i < RAM_SIZE - DATA_OFF - 0x800; i += 8) {
        uint64_t v = rnd();
        memcpy(s->ram + DATA_OFF - 0x800 + i, &v, 8);
    }
    memcpy(s->ram + DATA_OFF, fp_edges64, sizeof fp_edges64);
    memcpy(s->ram + DATA_OFF + sizeof fp_edges64, fp_edges32, sizeof fp_edges32);
    hart_reset(s->h, RAM_BASE + CODE_OFF, PRIV_M, 0, 0);
    for (unsigned r = 1; r < 25; r++)
        s->h->x[r] = rnd() % 4 ? rnd() : (uint64_t)(int64_t)(int32_t)(rnd() % 9) - 4;
    for (unsigned r = 0; r < 32; r++) {
        unsigned c = (unsigned)(rnd() % 4);
        s->h->f[r] = c == 0 ? fp_edges64[rnd() % N_FP_EDGES64]
                   : c == 1 ? 0xffffffff00000000ull | fp_edges32[rnd() % N_FP_EDGES32]
                   : c == 2 ? 0xffffffff00000000ull | (uint32_t)rnd() : rnd();
    }
    s->h->x[R_FUNC] = RAM_BASE + FUNC_OFF;
    s->h->x[R_LINK] = RAM_BASE + CODE_OFF;
    s->h->x[R_CODE] = RAM_BASE + CODE_OFF;
    s->h->x[R_BAD] = 0x1000;
    s->h->x[R_DATA] = RAM_BASE + DATA_OFF;
    s->h->x[R_ATOM] = RAM_BASE + DATA_OFF;
    s->h->x[R_FS] = 3u << 13;
    hart_write_csr(s->h, 0x300, 3u << 13); /* mstatus.FS on */
    hart_write_csr(s->h, 0x305, RAM_BASE + HANDLER_OFF); /* mtvec */
    return 0;
}

static int elf_side(struct side *s, enum hart_engine eng, const char *path, struct errmsg *e)
{
    memset(s, 0, sizeof *s);
    struct baremetal_config cfg = { .program = path, .mem_size = 128ull << 20, .out = discard_out,
                                    .engine = eng };
    if (baremetal_create(&s->m, &cfg, e))
        return -1;
    s->h = s->m->hart;
    s->h->clock.read = hart_compare_clock;
    s->h->clock.opaque = &s->ticks;
    return 0;
}

static void free_side(struct side *s)
{
    if (s->m)
        baremetal_destroy(s->m);
    else
        hart_destroy(s->h);
    free(s->ram);
}

/* One step of budget k; returns 1 when the side has finished. */
static int step(struct side *s, uint64_t k)
{
    if (s->done)
        return 1;
    s->ticks += k;
    s->last = hart_run(s->h, k);
    if (s->m)
        baremetal_poll(s->m);
    switch (s->last) {
    case HART_EXIT_BUDGET: return 0;
    case HART_EXIT_WFI: s->ticks += 1000; return 0; /* time passes while it waits */
    default: s->done = 1; return 1;
    }
}

struct run_spec {
    const char *elf;       /* or a random program: */
    uint64_t seed;
    unsigned n;
    size_t cache;          /* the JIT's code-cache size, 0: the default */
    uint64_t max_insns;
};

static int make_pair(const struct run_spec *r, struct side *a, struct side *b)
{
    struct errmsg e = { "" };
    int rc = r->elf ? elf_side(a, HART_ENGINE_INTERP, r->elf, &e) : random_side(a, HART_ENGINE_INTERP, r->seed, r->n, 0, &e);
    if (!rc)
        rc = r->elf ? elf_side(b, HART_ENGINE_JIT, r->elf, &e) : random_side(b, HART_ENGINE_JIT, r->seed, r->n, r->cache, &e);
    if (rc)
        fprintf(stderr, "jit_diff: %s\n", e.text[0] ? e.text : "out of memory");
    return rc;
}

/* Runs the pair; returns the step at which they first differ, -1 when
 * they never do, -2 on setup errors. Steps before `single_from` use the
 * seeded budgets, later ones budget 1 (for the replay). */
static long run_pair(const struct run_spec *r, long single_from, int verbose)
{
    struct side a, b;
    if (make_pair(r, &a, &b))
        return -2;
    uint64_t bseed = r->seed ^ 0x5bd1e995u;
    long result = -1;
    char buf[256];
    for (long i = 0; a.h->instret < r->max_insns; i++) {
        bseed ^= bseed << 13, bseed ^= bseed >> 7, bseed ^= bseed << 17;
        uint64_t k = (single_from >= 0 && i >= single_from) ? 1 : 1 + bseed % 100;
        uint64_t pc = a.h->pc, ir = a.h->instret;
        int da = step(&a, k), db = step(&b, k);
        const char *d = hart_compare(a.h, b.h, buf, sizeof buf);
        if (!d && a.last != b.last)
            d = "the exits of hart_run differ";
        if (d) {
            if (verbose) {
                char ibuf[64];
                hart_compare_insn(a.m ? a.m->ram.host : a.ram, RAM_BASE, a.m ? a.m->ram.size : RAM_SIZE, pc,
                                  ibuf, sizeof ibuf);
                fprintf(stderr, "jit_diff: %s: after the step at pc %#" PRIx64 " (instret %" PRIu64
                        ", budget %" PRIu64 ", first instruction %s): %s\n",
                        r->elf ? r->elf : "random", pc, ir, k, ibuf, d);
            }
            result = i;
            break;
        }
        if (da && db)
            break;
    }
    if (verbose && result < 0) {
        struct jit_stats st;
        jit_get_stats(b.h, &st);
        printf("jit_diff: %s seed %" PRIu64 ": %" PRIu64 " instructions agree (jit: %" PRIu64 " units, %" PRIu64
               " instructions translated, %" PRIu64 " interpreter fallbacks, %" PRIu64 " cache flushes; %" PRIu64
               " returns to C, %" PRIu64 " chained entries, %" PRIu64 " of them jump-cache hits, %" PRIu64
               " chains patched)\n", r->elf ? r->elf : "random", r->seed, a.h->instret, st.units, st.insns,
               st.fallbacks, st.flushes, st.returns, st.chained, st.jcache_hits, st.links);
    }
    free_side(&a);
    free_side(&b);
    return result;
}

static int check(const struct run_spec *r)
{
    long at = run_pair(r, -1, 0);
    if (at == -2)
        return 1;
    if (at == -1)
        return run_pair(r, -1, 1) == -1 ? 0 : 1;
    /* Replay to the last agreeing step, then one instruction at a time. */
    fprintf(stderr, "jit_diff: %s seed %" PRIu64 ": divergence in step %ld; replaying it one instruction at a time\n",
            r->elf ? r->elf : "random", r->seed, at);
    if (run_pair(r, at, 1) == -1)
        fprintf(stderr, "jit_diff: the replay agrees: the divergence needs the step's whole budget "
                "(translated code going on from unit to unit)\n");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "--random") || !strcmp(argv[1], "--random-fp"))) {
        fp_heavy = !strcmp(argv[1], "--random-fp");
        uint64_t seed = strtoull(argv[2], NULL, 0);
        unsigned count = argc >= 4 ? (unsigned)strtoul(argv[3], NULL, 0) : 20;
        size_t cache = argc >= 5 ? (size_t)strtoull(argv[4], NULL, 0) : 0;
        int bad = 0;
        for (unsigned i = 0; i < count && !bad; i++) {
            struct run_spec r = { .seed = seed + i, .n = 64 + (unsigned)((seed + i) * 37 % 1500),
                                  .cache = cache, .max_insns = 200000 };
            bad = check(&r);
        }
        return bad;
    }
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: jit_diff PROGRAM.elf [SEED] | jit_diff --random[-fp] SEED [COUNT [CACHE]]\n");
        return 2;
    }
    struct run_spec r = { .elf = argv[1], .seed = argc == 3 ? strtoull(argv[2], NULL, 0) : 1,
                          .max_insns = 50000000 };
    return check(&r);
}
