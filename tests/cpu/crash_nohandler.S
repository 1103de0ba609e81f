/* A malformed program: an illegal instruction and no trap handler at all
 * (mtvec still 0, where nothing is mapped). */
    .section .text.start, "ax"
    .globl _start
_start:
    li t0, 0x77
    .word 0
