/* A bare-metal RISC-V program for the virt board: hart 0 prints a greeting
 * on the 16550 UART at 0x10000000 and powers off through the sifive,test
 * syscon at 0x100000; other harts park in wfi. It runs unchanged under
 * `minnow run --bios hello.elf` and `qemu-system-riscv64 -machine virt
 * -bios none -kernel hello.elf`. */
    .section .text.start
    .globl _start
_start:
    csrr    t0, mhartid
    bnez    t0, park
    li      t1, 0x10000000          /* UART THR */
    la      t2, greeting
1:  lbu     t3, 0(t2)
    beqz    t3, 3f
2:  lbu     t4, 5(t1)               /* LSR: wait for THR empty */
    andi    t4, t4, 0x20
    beqz    t4, 2b
    sb      t3, 0(t1)
    addi    t2, t2, 1
    j       1b
3:  li      t1, 0x100000
    li      t3, 0x5555              /* sifive,test: pass / power off */
    sw      t3, 0(t1)
park:
    wfi
    j       park

    .section .rodata
greeting:
    .asciz  "Hello from a RISC-V guest running on minnow.\n"
