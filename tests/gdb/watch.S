/* Bare-metal program for gdb's watchpoints: a loop that writes `counter`
 * (1, 2, 3) and reads `limit` each pass, then one read of `shared`
 * (lw) and one write to it (an AMO), then passes (syscon 0x5555) if the
 * values are what it left there. */
    .section .text.start
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li s0, 0
    la s1, counter
    .globl loop
loop:
    addi s0, s0, 1
    .globl at_store, at_load
at_store:
    sw s0, 0(s1)
at_load:
    lw t0, 4(s1)
    blt s0, t0, loop
    la s2, shared
    lw t1, 0(s2)
    li t2, 0x10
    amoadd.w zero, t2, (s2)
    lw t3, 0(s2)
    li t0, 0x100000
    li t4, 0x52
    bne t3, t4, bad
    li t4, 3
    lw t5, 0(s1)
    bne t5, t4, bad
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
bad:
    li t1, (9 << 16) | 0x3333
    sw t1, 0(t0)
    j 1b

    .balign 4
trap:
    j bad

    .data
    .balign 8
    .globl counter, limit, shared
counter: .word 0
limit: .word 3
    .balign 64
shared: .word 0x42
