/* HTIF: console output (device 1, command 1) acknowledged by clearing
 * tohost and setting fromhost, then a pass written as two 32-bit stores,
 * low word first. */
    .section .text.start, "ax"
    .globl _start
_start:
    la s0, tohost
    la s1, fromhost
    la s2, msg
1:  lbu a0, 0(s2)
    beqz a0, 3f
    li t0, (1 << 56) | (1 << 48)
    or t0, t0, a0
    sd t0, 0(s0)
2:  ld t1, 0(s0)            /* wait for the host to take it */
    bnez t1, 2b
    ld t1, 0(s1)
    beqz t1, fail
    sd zero, 0(s1)
    addi s2, s2, 1
    j 1b
3:  li t0, 1
    sw t0, 0(s0)
    sw zero, 4(s0)
1:  j 1b
fail:
    li t0, 3
    sd t0, 0(s0)
    j fail
    .data
msg: .asciz "htif console ok\n"
    .align 6
    .globl tohost, fromhost
tohost: .dword 0
    .align 6
fromhost: .dword 0
