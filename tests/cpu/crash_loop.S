/* A malformed program: a handler that returns to the faulting instruction
 * without fixing anything, forever. */
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, vec
    csrw mtvec, t0
    .word 0x0000000b
    .align 2
vec:
    addi t1, t1, 1
    mret
