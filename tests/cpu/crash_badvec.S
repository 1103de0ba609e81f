/* A malformed program: an illegal instruction whose trap vector is itself
 * an illegal instruction. */
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, vec
    csrw mtvec, t0
    .word 0x0000000b
    .align 2
vec:
    .word 0x0000000b
