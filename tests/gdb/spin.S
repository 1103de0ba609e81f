/* Bare-metal program that never ends: a0 counts up, and every 2^16
 * counts it prints "tick" on the UART, so a test sees it run on its
 * own (between two debugger connections) without timing it. */
    .section .text.start
    .globl _start
_start:
    li a0, 0
    li t0, 0x10000000
    li t2, 0xffff
1:  addi a0, a0, 1
    and t1, a0, t2
    bnez t1, 1b
    la t3, msg
2:  lbu t4, 0(t3)
    beqz t4, 1b
    sb t4, 0(t0)
    addi t3, t3, 1
    j 2b
    .section .rodata
msg:
    .asciz "tick\n"
