/* Sdtrig debug triggers (cpu/trigger.h): tselect, tinfo, tdata1-3 and
 * tcontrol WARL rules; mcontrol6 execute, load and store address matches
 * (equal, >=, <), chains, the m/s/u mode bits, tcontrol.mte (no trigger
 * fires in M-mode while it is 0; a trap into M-mode clears it into mpte,
 * mret restores it), the breakpoint exception's mcause/mepc/mtval, that
 * the access did not happen, hit0, AMOs and LR/SC, cache-block ops, and
 * an execute trigger in the middle of a straight run of code (decoded
 * blocks must be cut there). minnow only: QEMU 7.2 offers type 2. */
#include "harness.h"

#define T6 (6 << 60)
#define T15 (15 << 60)
#define HIT0 (1 << 22)
#define CHAIN (1 << 11)
#define GE (2 << 7)
#define LT (3 << 7)
#define M (1 << 6)
#define S (1 << 4)
#define U (1 << 3)
#define X 4
#define ST 2
#define LD 1
#define MTE 8
#define MPTE 0x80

/* Arms trigger n: tdata1 = 0, tdata2 = the address in reg, tdata1 = ctl. */
.macro ARM n, reg, ctl
    csrwi tselect, \n
    csrw tdata1, zero
    csrw tdata2, \reg
    li t3, \ctl
    csrw tdata1, t3
.endm

.macro DISARM_ALL
    csrwi tselect, 0
    csrw tdata1, zero
    csrwi tselect, 1
    csrw tdata1, zero
    csrwi tselect, 2
    csrw tdata1, zero
    csrwi tselect, 3
    csrw tdata1, zero
.endm

/* Fails unless the last M-mode trap was a breakpoint at mepc = label
 * with mtval = the register given. */
.macro CHECK_BP label, tvalreg
    la t5, trap_info
    ld t4, TI_EPC(t5)
    la t3, \label
    bne t4, t3, fail
    CHECK_TRAP_TVAL 3, \tvalreg
.endm

    .text
    .globl test_main
test_main:
    addi sp, sp, -16
    sd ra, 0(sp)

    TEST 1                  /* tselect: 4 triggers; other indices are not taken */
    csrwi tselect, 3
    csrr a0, tselect
    CHECK a0, 3
    csrwi tselect, 4
    csrr a0, tselect
    CHECK a0, 3
    li a1, -1
    csrw tselect, a1
    csrr a0, tselect
    CHECK a0, 3
    csrwi tselect, 0
    csrr a0, tselect
    CHECK a0, 0

    TEST 2                  /* tinfo: version 1, types 6 and 15; writes ignored */
    csrr a0, tinfo
    CHECK a0, (1 << 24) | (1 << 6) | (1 << 15)
    csrw tinfo, zero
    csrr a0, tinfo
    CHECK a0, (1 << 24) | (1 << 6) | (1 << 15)

    TEST 3                  /* tdata1 at reset and after unsupported writes: disabled */
    li s0, 0
1:  csrw tselect, s0
    csrr a0, tdata1
    CHECK a0, T15
    csrr a0, tdata2
    CHECK a0, 0
    addi s0, s0, 1
    li t0, 4
    bne s0, t0, 1b
    csrwi tselect, 0
    li a1, (2 << 60) | M | X          /* type 2 (mcontrol): not offered */
    csrw tdata1, a1
    csrr a0, tdata1
    CHECK a0, T15
    csrw tdata1, zero
    csrr a0, tdata1
    CHECK a0, T15
    li a1, -1
    csrw tdata3, a1
    csrr a0, tdata3
    CHECK a0, 0
    csrw tdata2, a1
    csrr a0, tdata2
    CHECK a0, -1

    TEST 4                  /* mcontrol6 WARL: action, select, size, NAPOT, dmode, uncertain read 0 */
    li a1, T6 | (1 << 59) | (1 << 26) | (1 << 21) | (1 << 16) | (1 << 12) | (1 << 7) | M | (1 << 5) | X
    csrw tdata1, a1
    csrr a0, tdata1
    CHECK a0, T6 | M | X
    li a1, T6 | CHAIN | GE | M | S | U | X | ST | LD
    csrw tdata1, a1
    csrr a0, tdata1
    CHECK a0, T6 | CHAIN | GE | M | S | U | X | ST | LD
    li a1, T6 | (8 << 7) | LD                     /* match 8 (not equal): not offered */
    csrw tdata1, a1
    csrr a0, tdata1
    CHECK a0, T6 | LD
    csrw tdata1, zero

    TEST 5                  /* tcontrol: mte and mpte only */
    li a1, -1
    csrw tcontrol, a1
    csrr a0, tcontrol
    CHECK a0, MTE | MPTE
    csrw tcontrol, zero
    csrr a0, tcontrol
    CHECK a0, 0

    TEST 6                  /* execute, M-mode, mte = 0: does not fire */
    la a1, 1f
    ARM 0, a1, T6 | M | X
    li a0, 0
1:  li a0, 1
    CHECK a0, 1
    CHECK_TRAP -1

    TEST 7                  /* execute, M-mode, mte = 1: breakpoint before it runs, mepc = mtval = pc */
    csrwi tcontrol, MTE
    la a1, .Lx7
    csrwi tselect, 0
    csrw tdata2, a1
    li a0, 0
.Lx7:
    li a0, 7                /* the handler skips it */
    CHECK a0, 0
    CHECK_BP .Lx7, a1
    csrr a0, tcontrol
    CHECK a0, MTE | MPTE    /* the trap saved mte = 1 in mpte, mret set mte from it */
    csrr a0, tdata1
    CHECK a0, T6 | HIT0 | M | X
    csrw tdata1, zero

    TEST 9                  /* execute in the middle of straight-line code (a decoded block) */
    la a1, .Lx9
    ARM 1, a1, T6 | M | X
    li a0, 0
    addi a0, a0, 1
    addi a0, a0, 1
.Lx9:
    addi a0, a0, 1
    addi a0, a0, 1
    CHECK a0, 3
    CHECK_BP .Lx9, a1
    la t5, trap_info        /* in a loop: every pass */
    ld s2, TI_COUNT(t5)
    la a1, .Lx9b
    csrw tdata2, a1
    li s0, 0
    li a0, 0
4:  addi a0, a0, 1
.Lx9b:
    addi a0, a0, 100
    addi s0, s0, 1
    li t0, 5
    bne s0, t0, 4b
    CHECK a0, 5
    la t5, trap_info
    ld t4, TI_COUNT(t5)
    sub t4, t4, s2
    CHECK t4, 5
    CHECK_BP .Lx9b, a1
    la a1, .Lx9d            /* a compressed instruction */
    csrw tdata2, a1
    li a0, 0
    .option push
    .option rvc
    c.li a0, 1
.Lx9d:
    c.addi a0, 2
    c.addi a0, 4
    .option pop
    CHECK a0, 5
    CHECK_BP .Lx9d, a1
    csrw tdata1, zero

    TEST 10                 /* load, equal, inside an 8-byte access: fires before it, tval = the address */
    la s1, data
    li t0, 0x1122334455667788
    sd t0, 0(s1)
    addi a1, s1, 4
    ARM 0, a1, T6 | M | LD
    li a0, 0
.Ll10:
    ld a0, 0(s1)
    CHECK a0, 0             /* not loaded */
    CHECK_BP .Ll10, a1
    lw a0, 0(s1)            /* bytes 0-3: no match */
    CHECK a0, 0x55667788
    CHECK_TRAP -1
    li a0, 0
    lbu a0, 4(s1)
    CHECK a0, 0
    CHECK_TRAP 3
    sw zero, 4(s1)          /* a store: a load trigger does not care */
    CHECK_TRAP -1
    ld a0, 0(s1)
    CHECK_TRAP 3
    csrw tdata1, zero
    ld a0, 0(s1)
    CHECK a0, 0x55667788
    CHECK_TRAP -1

    TEST 11                 /* store: fires before it, memory untouched */
    li t0, 0x1122334455667788
    sd t0, 0(s1)
    addi a1, s1, 6
    ARM 2, a1, T6 | M | ST
    li t1, -1
.Ls11:
    sd t1, 0(s1)
    CHECK_BP .Ls11, a1
    ld a0, 0(s1)
    CHECK a0, 0x1122334455667788
    sw t1, 0(s1)            /* bytes 0-3 */
    CHECK_TRAP -1
    sh t1, 6(s1)
    CHECK_TRAP 3
    ld a0, 0(s1)
    CHECK a0, 0x11223344ffffffff
    sd t1, 3(s1)            /* misaligned, covering byte 6: the breakpoint comes first */
    CHECK_TRAP 3
    amoswap.d a0, t1, (s1)  /* an AMO stores */
    CHECK_TRAP 3
    lr.d a0, (s1)           /* LR does not store */
    CHECK_TRAP -1
    sc.d a0, t1, (s1)
    CHECK_TRAP 3
    cbo.zero (s1)           /* a block write */
    CHECK_TRAP 3
    ld a0, 0(s1)
    CHECK a0, 0x11223344ffffffff
    csrw tdata1, zero

    TEST 12                 /* AMO and LR are loads */
    addi a1, s1, 8
    ARM 3, a1, T6 | M | LD
    addi t2, s1, 8
    amoadd.d a0, t1, (t2)
    CHECK_TRAP 3
    lr.d a0, (t2)
    CHECK_TRAP 3
    sd t1, 0(t2)
    CHECK_TRAP -1
    csrw tdata1, zero

    TEST 13                 /* chain: >= data+16 and < data+24 is the range [16, 24) */
    addi a1, s1, 16
    ARM 0, a1, T6 | CHAIN | GE | M | ST
    addi a1, s1, 24
    ARM 1, a1, T6 | LT | M | ST
    sd zero, 8(s1)
    CHECK_TRAP -1
    sd zero, 24(s1)
    CHECK_TRAP -1
    sw zero, 20(s1)
    CHECK_TRAP 3
    sd zero, 13(s1)         /* bytes 13-20: the chain's tval is the lowest byte matched */
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    addi a1, s1, 16
    bne t4, a1, fail
    CHECK_TRAP 3
    csrr a0, tdata1         /* tselect is 1: hit0 set on the chain */
    CHECK a0, T6 | HIT0 | LT | M | ST
    csrwi tselect, 0
    csrr a0, tdata1
    CHECK a0, T6 | HIT0 | CHAIN | GE | M | ST
    csrwi tselect, 1        /* the chain's last trigger off: the first alone never fires */
    csrw tdata1, zero
    sw zero, 20(s1)
    CHECK_TRAP -1
    sw zero, 24(s1)
    CHECK_TRAP -1
    csrwi tselect, 0        /* the first one without chain: alone, >= data+16 */
    li t3, T6 | GE | M | ST
    csrw tdata1, t3
    sd zero, 32(s1)
    CHECK_TRAP 3
    csrw tdata1, zero

    TEST 14                 /* mode bits: a U-only load trigger fires in U, not in S or M */
    addi a1, s1, 32
    ARM 2, a1, T6 | U | LD
    ld a0, 32(s1)
    CHECK_TRAP -1
    ENTER_MODE 1, 7f
7:  ld a0, 32(s1)           /* S-mode */
    BACK_TO_M 8f
8:  CHECK_TRAP 9
    ENTER_MODE 0, 7f
7:  ld a0, 32(s1)           /* U-mode: breakpoint, to M-mode (not delegated) */
    BACK_TO_M 8f
8:  CHECK_TRAP 8          /* the ecall; hit0 tells the breakpoint came */
    csrwi tselect, 2
    csrr a0, tdata1
    CHECK a0, T6 | HIT0 | U | LD
    csrw tdata1, zero
    li a1, T6 | S | X       /* an S-only execute trigger, hit from S-mode */
    csrw tdata1, a1
    la a1, .Lx14
    csrw tdata2, a1
    csrwi tcontrol, 0       /* M-mode would not fire anyway */
    ENTER_MODE 1, .Lx14
.Lx14:
    nop                     /* skipped by the M handler after the breakpoint */
    BACK_TO_M 8f
8:  CHECK_TRAP 9
    csrr a0, tdata1
    CHECK a0, T6 | HIT0 | S | X
    csrw tdata1, zero

    TEST 15                 /* all off: loads, stores and code at the old addresses run */
    DISARM_ALL
    la t0, .Lx9
    li a0, 0
    ld a0, 0(s1)
    sd a0, 16(s1)
    CHECK_TRAP -1

    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .data
    .align 6
data: .space 64
