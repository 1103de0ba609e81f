/* Traps: ecall from each mode, ebreak, illegal instructions (tval = the
 * instruction bits), mret/sret and the mstatus stack, delegation to S
 * through medeleg, privileged instructions from lower modes, access faults,
 * and vectored mtvec for interrupts. */
#include "harness.h"
    .text
    .globl test_main
test_main:
    TEST 1                  /* ecall from M */
    ecall
    CHECK_TRAP 11
    TEST 2                  /* ebreak: tval is the pc (minnow) or 0 (QEMU) */
1:  ebreak
    CHECK_TRAP 3
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    la t3, 1b
    beqz t4, 2f
    bne t4, t3, fail
2:
    TEST 3                  /* illegal instruction: tval is the instruction */
    .word 0xffffffff
    CHECK_TRAP 2
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    CHECK t4, 0xffffffff
    TEST 4                  /* unknown CSR */
    csrr a0, 0x7ff
    CHECK_TRAP 2
    TEST 5                  /* write to a read-only CSR */
    csrw mvendorid, zero
    CHECK_TRAP 2
    TEST 6                  /* U-mode: ecall cause 8, MPP back to U, MPIE */
    li t0, 1 << 3
    csrs mstatus, t0        /* MIE=1: after mret MPIE=1... */
    ENTER_MODE 0, 1f
1:  BACK_TO_M 2f
2:  CHECK_TRAP 8
    la t5, trap_info
    ld t4, TI_STATUS(t5)
    srli t4, t4, 11
    andi t4, t4, 3
    CHECK t4, 0             /* MPP was U when the trap was taken */
    TEST 7                  /* S-mode ecall, cause 9 */
    ENTER_MODE 1, 1f
1:  BACK_TO_M 2f
2:  CHECK_TRAP 9
    TEST 8                  /* U-mode: privileged instructions and CSRs are illegal */
    ENTER_MODE 0, 1f
1:  csrr a0, mstatus
    csrr a1, sstatus
    wfi
    sret
    mret
    BACK_TO_M 2f
2:  la t5, trap_info
    ld t4, TI_COUNT(t5)
    mv s0, t4
    TEST 9                  /* S-mode: mret illegal, M CSRs illegal, sstatus fine */
    la t5, trap_info
    sd zero, TI_COUNT(t5)
    ENTER_MODE 1, 1f
1:  csrr a0, sstatus
    mret
    csrr a1, mscratch
    BACK_TO_M 2f
2:  la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 3             /* mret, csrr mscratch, ecall */
    TEST 10                 /* delegation: illegal and ebreak from U go to S */
    li t0, (1 << 2) | (1 << 3)
    csrw medeleg, t0
    csrr t1, medeleg
    CHECK t1, (1 << 2) | (1 << 3)
    la t5, trap_info
    sd zero, TI_COUNT(t5)
    ENTER_MODE 0, 1f
1:  .word 0x0000000b      /* custom-0: illegal here */
    ebreak
    BACK_TO_M 2f            /* ecall is not delegated */
2:  la t5, trap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 1
    TEST 11
    csrw medeleg, zero
    la t5, strap_info
    ld t4, TI_COUNT(t5)
    CHECK t4, 2
    ld t4, TI_CAUSE(t5)
    CHECK t4, 3
    ld t4, TI_STATUS(t5)    /* sstatus.SPP = 0: came from U */
    andi t4, t4, 1 << 8
    CHECK t4, 0
    TEST 15                 /* medeleg cannot delegate ecall from M */
    li t0, -1
    csrw medeleg, t0
    csrr t1, medeleg
    csrw medeleg, zero
    li t2, 0xb3ff           /* QEMU also sets bits 10 and 11 */
    and t1, t1, t2
    CHECK t1, 0xb3ff
    TEST 12                 /* access fault on load, store and fetch */
    li a0, 0x200000          /* nothing there on either machine */
    ld a1, 0(a0)
    CHECK_TRAP 5
    sd a1, 0(a0)
    CHECK_TRAP 7
    RESUME_AT 1f
    jr a0
    j fail
1:  CHECK_TRAP 1
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    CHECK t4, 0x200000
    TEST 13                 /* vectored mtvec: interrupts go to base + 4*cause */
    la t0, vectors
    ori t0, t0, 1
    csrw mtvec, t0
    li t0, 1 << 3
    csrw mie, t0
    csrs mstatus, t0        /* MIE */
    csrs mip, 2             /* SSIP is not enabled in mie: nothing */
    li t0, 2
    csrs mie, t0            /* SSIE, not delegated: taken in M at vector 1 */
    nop
    nop
    la t5, vec_hit
    ld t4, 0(t5)
    CHECK t4, 1
    TEST 14                 /* exceptions still go to the base */
    ecall
    la t5, vec_hit
    ld t4, 0(t5)
    CHECK t4, 100
    la t0, trap_entry
    csrw mtvec, t0
    j pass

    .align 6
    .option push
    .option norvc           /* each vector entry is one 4-byte jump */
vectors:
    j vec_exc
    j vec_ssi
    .rept 14
    j fail
    .endr
    .option pop
vec_exc:
    csrw mscratch, t0       /* the harness's stack pointer is lost: done */
    la t0, vec_hit
    li t1, 100
    sd t1, 0(t0)
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    la t0, stack_top        /* restore mscratch for the harness */
    addi t0, t0, 512
    csrw mscratch, t0
    mret
vec_ssi:
    csrc mip, 2
    csrw mie, zero
    la t0, vec_hit
    li t1, 1
    sd t1, 0(t0)
    mret

    .data
    .align 3
vec_hit: .dword 0
