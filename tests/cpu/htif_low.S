/* HTIF: an exit written only as a low 32-bit word still ends the run. */
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, tohost
    li t1, (7 << 1) | 1
    sw t1, 0(t0)
1:  j 1b
    .data
    .align 6
    .globl tohost
tohost: .dword 0
