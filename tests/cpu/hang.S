/* A program that spins forever: only the --max-insns watchdog ends it. */
    .section .text.start, "ax"
    .globl _start
_start:
    j _start
