/* fence_storm: an S-mode program for minnow's direct boot (--kernel, with
 * minnow's SBI) that keeps every hart inside SBI remote fences. Hart 0
 * starts every other hart that exists (SBI HSM hart_start until it is
 * refused), prints "fence-storm: running", and then every hart asks all
 * harts for a remote sfence.vma (hart_mask_base -1) in a loop, forever:
 * almost always some hart is waiting in a fence for the others when a
 * pause comes. The test that runs it ends the VM. */
#define SBI_EXT_HSM 0x48534d
#define SBI_EXT_RFENCE 0x52464e43
#define SBI_EXT_PUTCHAR 0x1

    .section .text.start
    .globl _start
_start:
    /* a0 = hart id */
    bnez a0, storm
    li s0, 1
start_next:
    mv a0, s0
    la a1, _start
    li a2, 0
    li a6, 0                    /* hart_start */
    li a7, SBI_EXT_HSM
    ecall
    bnez a0, started_all        /* no such hart: all are started */
    addi s0, s0, 1
    j start_next
started_all:
    la s1, banner
print:
    lbu a0, 0(s1)
    beqz a0, storm
    li a7, SBI_EXT_PUTCHAR
    ecall
    addi s1, s1, 1
    j print

storm:
    li a0, 0                    /* hart_mask (ignored with base -1) */
    li a1, -1                   /* hart_mask_base: every hart */
    li a2, 0                    /* start_addr */
    li a3, -1                   /* size: the whole address space */
    li a6, 1                    /* remote_sfence_vma */
    li a7, SBI_EXT_RFENCE
    ecall
    j storm

    .section .rodata
banner:
    .asciz "fence-storm: running\n"
