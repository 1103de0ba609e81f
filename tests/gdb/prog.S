/* Bare-metal program the gdb tests drive: a loop that calls add_one ten
 * times, an ecall and an illegal instruction that trap into `trap`, then a
 * check of the counter (s0) and of a word in memory (`value`). It passes
 * (syscon 0x5555) when both are as the program left them; a debugger that
 * changes s0 makes it fail with code 7, one that changes `value` with 8. */
    .section .text.start
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li s0, 0
    li s1, 10
loop:
    call add_one
    blt s0, s1, loop
    .globl at_ecall
at_ecall:
    ecall
    .globl at_illegal
at_illegal:
    .word 0
    .globl after_traps
after_traps:
    li t0, 0x100000
    li t1, 10
    bne s0, t1, bad_count
    la t2, value
    lw t3, 0(t2)
    li t4, 0x1234
    bne t3, t4, bad_value
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
bad_count:
    li t1, (7 << 16) | 0x3333
    sw t1, 0(t0)
    j 1b
bad_value:
    li t1, (8 << 16) | 0x3333
    sw t1, 0(t0)
    j 1b

    .globl add_one
add_one:
    addi s0, s0, 1
    ret

    /* Skips the trapping instruction (both are 4 bytes). */
    .balign 4
    .globl trap
trap:
    csrr t5, mepc
    addi t5, t5, 4
    csrw mepc, t5
    mret

    .data
    .globl value
value:
    .word 0x1234
