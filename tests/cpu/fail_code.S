/* Reports failure code 42 through HTIF as one 64-bit store. */
    .section .text.start, "ax"
    .globl _start
_start:
    la t0, tohost
    li t1, (42 << 1) | 1
    sd t1, 0(t0)
1:  j 1b
    .data
    .align 6
    .globl tohost
tohost: .dword 0
