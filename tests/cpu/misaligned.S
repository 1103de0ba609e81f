/* Misaligned loads and stores are carried out (no trap) for every size,
 * integer and FP, inside a page and across pages, bare and translated.
 * When the second page of a page-crossing access faults (not mapped, no
 * permission, PMP), nothing is stored on the first page and mtval is the
 * first address on the second page: the portion that faulted, as QEMU
 * reports it (for PMP faults QEMU 7.2 sometimes gives the access's own
 * address instead). When the first page faults, mtval is the access's own
 * address. Misaligned LR raises load
 * address-misaligned (4), misaligned SC and AMOs store/AMO
 * address-misaligned (6), with mtval = the address. */
#include "harness.h"
#define PTE_V 1
#define PTE_R 2
#define PTE_W 4
#define PTE_X 8
#define PTE_A 64
#define PTE_D 128
#define VA 0x40000000

/* pt_l0[index] = leaf for the page at label with flags. Clobbers t0, t1. */
.macro MAP index, label, flags
    la t0, \label
    srli t0, t0, 2
    ori t0, t0, \flags
    la t1, pt_l0
    sd t0, (\index * 8)(t1)
.endm

/* Fills the last 8 bytes of the page at label and the first 8 of the
 * next with 0xee. Clobbers t0-t2. */
.macro POISON label
    la t0, \label
    li t2, 0x1000
    add t0, t0, t2
    li t1, 0xeeeeeeeeeeeeeeee
    sd t1, -8(t0)
    sd t1, 0(t0)
.endm

/* Fails unless the last trap had this mcause and mtval = second (the
 * first address on the access's second page). QEMU 7.2 also reports the
 * access's own address (orig) for PMP faults, depending on what its TLB
 * holds. */
.macro CHECK_CROSS_FAULT cause, orig, second
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    beq t4, \second, .Lok\@
    IF_QEMU .Lqemu\@
    j fail
.Lqemu\@:
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    bne t4, \orig, fail
.Lok\@:
    CHECK_TRAP \cause
.endm

    .text
    .globl test_main
test_main:
    TEST 1                  /* every size at every offset inside a page, M-mode */
    la s0, p0
    li s1, 0x0807060504030201
    li s2, 0                /* offset */
1:  add a0, s0, s2
    sd zero, 0(a0)
    sd zero, 8(a0)
    sd s1, 0(a0)
    ld a1, 0(a0)
    bne a1, s1, fail
    lwu a1, 1(a0)
    CHECK a1, 0x05040302
    lw a1, 4(a0)
    CHECK a1, 0x08070605
    lhu a1, 3(a0)
    CHECK a1, 0x0504
    lh a1, 7(a0)
    CHECK a1, 0x0008
    sw s1, 9(a0)
    ld a1, 8(a0)
    CHECK a1, 0x0000000403020100
    sh s1, 13(a0)
    lhu a1, 13(a0)
    CHECK a1, 0x0201
    addi s2, s2, 1
    li t0, 8
    bne s2, t0, 1b
    CHECK_TRAP -1
    TEST 2                  /* FP, inside a page */
    li t0, 1 << 13
    csrs mstatus, t0
    li t0, 0x400921fb54442d18
    fmv.d.x f1, t0
    fsd f1, 3(s0)
    fld f2, 3(s0)
    fmv.x.d a1, f2
    CHECK a1, 0x400921fb54442d18
    fsw f1, 17(s0)
    flw f3, 17(s0)
    fmv.x.w a1, f3
    CHECK a1, 0x54442d18
    CHECK_TRAP -1
    TEST 3                  /* across two physical pages, bare */
    la s3, p1
    li t0, 0x1122334455667788
    sd t0, -3(s3)
    ld a1, -3(s3)
    CHECK a1, 0x1122334455667788
    lbu a1, 0(s3)
    CHECK a1, 0x55          /* bytes 3-7 landed on the next page */
    lw a1, -2(s3)
    CHECK a1, 0x44556677
    fsd f1, -7(s3)
    fld f2, -7(s3)
    fmv.x.d a1, f2
    CHECK a1, 0x400921fb54442d18
    CHECK_TRAP -1

    TEST 4                  /* misaligned LR, SC and AMOs raise address-misaligned */
    addi s1, s0, 2
    lr.w a0, (s1)
    CHECK_TRAP_TVAL 4, s1
    addi s1, s0, 4
    lr.d a0, (s1)
    CHECK_TRAP_TVAL 4, s1
    /* QEMU 7.2 reports misaligned AMOs as load address-misaligned (4) and
     * lets an SC without a reservation fail without checking alignment. */
    IF_QEMU 1f
    addi s1, s0, 2
    sc.w a0, a1, (s1)
    CHECK_TRAP_TVAL 6, s1
    amoadd.w a0, a1, (s1)
    CHECK_TRAP_TVAL 6, s1
    addi s1, s0, 4
    amoswap.d a0, a1, (s1)
    CHECK_TRAP_TVAL 6, s1
    amomaxu.d a0, a1, (s1)
    CHECK_TRAP_TVAL 6, s1
    lr.d a0, (s0)           /* even with a reservation */
    sc.d a0, a1, (s1)
    CHECK_TRAP_TVAL 6, s1
1:
    TEST 5                  /* a PMP fault on the second page: no partial store */
    li t0, -1
    csrw pmpaddr15, t0
    li t0, 0x1f << 56       /* entry 15: NAPOT all, RWX */
    csrs pmpcfg2, t0
    la t0, p1
    srli t0, t0, 2
    ori t0, t0, 0x1ff
    csrw pmpaddr0, t0
    li t0, 0x18             /* entry 0: NAPOT p1, no access */
    csrw pmpcfg0, t0
    POISON p0
    la s1, p1
    ENTER_MODE 1, 1f
1:  li t2, 0x1122334455667788
    addi s2, s1, -3
    sd t2, -3(s1)
    CHECK_CROSS_FAULT 7, s2, s1
    ld a1, -8(s1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    addi s2, s1, -2
    sw t2, -2(s1)
    CHECK_CROSS_FAULT 7, s2, s1
    ld a1, -8(s1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    addi s2, s1, -3
    ld a1, -3(s1)
    CHECK_CROSS_FAULT 5, s2, s1
    addi s2, s1, -1
    fsd f1, -1(s1)
    CHECK_CROSS_FAULT 7, s2, s1
    ld a1, -8(s1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0

    /* Sv39: root[2] maps 0x80000000 (1 GiB, identity) for code and data;
     * VA+0 -> p0 (RW), VA+1 unmapped, VA+2 -> p2 (R), VA+3 -> p3 (RW),
     * VA+4 -> p4 (RW), VA+5 -> p5 (R). */
    la t1, pt_root
    li t0, (0x80000 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    sd t0, 16(t1)
    la t0, pt_l1
    srli t0, t0, 2
    ori t0, t0, PTE_V
    sd t0, 8(t1)
    la t1, pt_l1
    la t0, pt_l0
    srli t0, t0, 2
    ori t0, t0, PTE_V
    sd t0, 0(t1)
    MAP 0, p0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    MAP 2, p2, PTE_V | PTE_R | PTE_A
    MAP 3, p3, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    MAP 4, p4, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D
    MAP 5, p5, PTE_V | PTE_R | PTE_A
    la t0, pt_root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    POISON p0
    POISON p3
    POISON p4
    li s0, VA
    ENTER_MODE 1, 1f
1:  sfence.vma
    TEST 6                  /* translated, across two mapped pages */
    li s2, VA + 0x4000
    li t2, 0x1122334455667788
    sd t2, -5(s2)
    ld a1, -5(s2)
    CHECK a1, 0x1122334455667788
    la t1, p4
    lhu a1, 0(t1)
    CHECK a1, 0x2233
    fld f2, -5(s2)
    fsd f2, -4(s2)
    lwu a1, 0(s2)
    CHECK a1, 0x11223344
    flw f3, -2(s2)
    fsw f3, -1(s2)
    lhu a1, 0(s2)
    CHECK a1, 0x4455
    CHECK_TRAP -1
    TEST 7                  /* the second page is not mapped */
    li s1, VA + 0x1000
    sd t2, -3(s1)
    CHECK_TRAP_TVAL 15, s1
    la t1, p1
    ld a1, -8(t1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    sh t2, -1(s1)
    CHECK_TRAP_TVAL 15, s1
    fsd f1, -7(s1)
    CHECK_TRAP_TVAL 15, s1
    fsw f1, -2(s1)
    CHECK_TRAP_TVAL 15, s1
    la t1, p1
    ld a1, -8(t1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    lw a1, -2(s1)
    CHECK_TRAP_TVAL 13, s1
    fld f2, -6(s1)
    CHECK_TRAP_TVAL 13, s1
    TEST 8                  /* the first page is not mapped: mtval is the address */
    li s1, VA + 0x1ffd
    ld a1, 0(s1)
    CHECK_TRAP_TVAL 13, s1
    sd a1, 0(s1)
    CHECK_TRAP_TVAL 15, s1
    flw f2, 2(s1)
    addi s1, s1, 2
    CHECK_TRAP_TVAL 13, s1
    TEST 9                  /* the second page is read-only */
    li s1, VA + 0x5000
    sd t2, -4(s1)
    CHECK_TRAP_TVAL 15, s1
    la t1, p5
    ld a1, -8(t1)
    CHECK a1, 0xeeeeeeeeeeeeeeee
    ld a1, -4(s1)           /* loads are fine */
    CHECK a1, 0xeeeeeeeeeeeeeeee
    TEST 10                 /* the first page is read-only */
    li s1, VA + 0x2ffe
    sw t2, 0(s1)
    CHECK_TRAP_TVAL 15, s1
    la t1, p3
    ld a1, 0(t1)
    CHECK a1, 0
    BACK_TO_M 2f
2:  CHECK_TRAP 9
    csrw satp, zero
    j pass

    .bss
    .align 12
p0: .space 4096
p1: .space 4096
p2: .space 4096
p3: .space 4096
p4: .space 4096
p5: .space 4096
pt_root: .space 4096
pt_l1: .space 4096
pt_l0: .space 4096
