/* A program that waits for an interrupt with none enabled. */
    .section .text.start, "ax"
    .globl _start
_start:
    wfi
    j _start
