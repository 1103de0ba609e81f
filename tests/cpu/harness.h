/* Shared harness of the bare-metal CPU tests (included by every test .S).
 *
 * A test defines `test_main`, which runs in M-mode and ends with
 * `j pass` (or ret, if it kept ra). gp holds the current test number (TEST n); CHECK reg, value jumps
 * to the failure path, which reports gp as the failing code. Results go
 * out two ways at once, so the same ELF runs under minnow and under
 * `qemu-system-riscv64 -machine virt -bios none -kernel`: HTIF tohost
 * (1 = pass, (code << 1) | 1 = fail) and the sifive,test syscon at
 * 0x100000 (0x5555 pass, (code << 16) | 0x3333 fail).
 *
 * The M-mode trap handler records mcause, mepc, mtval, mstatus and a count
 * in trap_info, then resumes at trap_info.resume if a test set it (and in
 * M-mode if trap_info.to_m is set), else after the trapping instruction.
 * Interrupts are recorded and then disabled (mie cleared). The S-mode
 * handler does the same with the S CSRs in strap_info. PMP entry 0 grants
 * all of memory to S and U, as firmware would. */

#define TI_CAUSE 0
#define TI_EPC 8
#define TI_TVAL 16
#define TI_COUNT 24
#define TI_RESUME 32
#define TI_STATUS 40
#define TI_TO_M 48

.macro TEST n
    li gp, \n
.endm

/* Fails the current test unless reg == value (any 64-bit constant). */
.macro CHECK reg, value
    li t6, \value
    beq \reg, t6, .Lok\@
    j fail
.Lok\@:
.endm

/* Fails unless the last M-mode trap had this mcause; clears the record. */
.macro CHECK_TRAP cause
    la t5, trap_info
    ld t4, TI_CAUSE(t5)
    CHECK t4, \cause
    li t4, -1
    sd t4, TI_CAUSE(t5)
.endm

.macro CHECK_STRAP cause
    la t5, strap_info
    ld t4, TI_CAUSE(t5)
    CHECK t4, \cause
    li t4, -1
    sd t4, TI_CAUSE(t5)
.endm

/* The next M-mode trap resumes at label (in M-mode if to_m). */
.macro RESUME_AT label, to_m=0
    la t5, trap_info
    la t4, \label
    sd t4, TI_RESUME(t5)
    li t4, \to_m
    sd t4, TI_TO_M(t5)
.endm

/* Branches to label when running under QEMU 7.2 (its default CPU has the
 * H extension, minnow has not; _start looks). Only for the few checks
 * where QEMU 7.2 departs from the spec; each use says how. Any mode.
 * Clobbers t5. */
.macro IF_QEMU label
    la t5, on_qemu
    ld t5, 0(t5)
    bnez t5, \label
.endm

/* Fails unless the last M-mode trap had this mcause and mtval (a
 * register); clears the record. */
.macro CHECK_TRAP_TVAL cause, reg
    la t5, trap_info
    ld t4, TI_TVAL(t5)
    bne t4, \reg, fail
    CHECK_TRAP \cause
.endm

/* Continues at label in privilege mode (0 U, 1 S) with mstatus.MPP. */
.macro ENTER_MODE mode, label
    li t5, 3 << 11
    csrc mstatus, t5
    li t5, \mode << 11
    csrs mstatus, t5
    la t5, \label
    csrw mepc, t5
    mret
.endm

/* From S or U: back to M-mode at label (through ecall). */
.macro BACK_TO_M label
    RESUME_AT \label, 1
    ecall
.endm

    .section .text.start, "ax"
    .globl _start
_start:
    la t0, trap_entry
    csrw mtvec, t0
    la t0, mstack_top
    csrw mscratch, t0
    la t0, strap_entry
    csrw stvec, t0
    la t0, sstack_top
    csrw sscratch, t0
    li t0, -1
    csrw pmpaddr0, t0
    li t0, 0x1f            /* NAPOT, R W X */
    csrw pmpcfg0, t0
    csrr t0, misa
    srli t0, t0, 7
    andi t0, t0, 1
    la t1, on_qemu
    sd t0, 0(t1)
    la sp, stack_top
    li gp, 0
    call test_main
    j pass

    .globl pass
pass:
    la t0, tohost
    li t1, 1
    sd t1, 0(t0)
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b

    .globl fail
fail:
    la t0, tohost
    slli t1, gp, 1
    ori t1, t1, 1
    sd t1, 0(t0)
    li t0, 0x100000
    slli t1, gp, 16
    li t2, 0x3333
    or t1, t1, t2
    sw t1, 0(t0)
1:  j 1b

/* Prints the NUL-terminated string at a0 on the UART. */
    .globl puts
puts:
    li t0, 0x10000000
1:  lbu t1, 0(a0)
    beqz t1, 2f
3:  lbu t2, 5(t0)
    andi t2, t2, 0x20
    beqz t2, 3b
    sb t1, 0(t0)
    addi a0, a0, 1
    j 1b
2:  ret

    .align 2
trap_entry:
    csrrw sp, mscratch, sp
    addi sp, sp, -32
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd t2, 16(sp)
    la t1, trap_info
    csrr t0, mcause
    sd t0, TI_CAUSE(t1)
    csrr t0, mepc
    sd t0, TI_EPC(t1)
    csrr t0, mtval
    sd t0, TI_TVAL(t1)
    csrr t0, mstatus
    sd t0, TI_STATUS(t1)
    ld t0, TI_COUNT(t1)
    addi t0, t0, 1
    sd t0, TI_COUNT(t1)
    csrr t0, mcause
    bgez t0, 4f
    csrw mie, zero          /* interrupt: record it, silence it */
    j 9f
4:  ld t0, TI_RESUME(t1)
    beqz t0, 5f
    sd zero, TI_RESUME(t1)
    csrw mepc, t0
    ld t0, TI_TO_M(t1)
    beqz t0, 9f
    sd zero, TI_TO_M(t1)
    li t0, 3 << 11
    csrs mstatus, t0
    j 9f
5:  csrr t0, mepc           /* skip the trapping instruction */
    lhu t2, 0(t0)
    andi t2, t2, 3
    addi t0, t0, 2
    li t1, 3
    bne t2, t1, 6f
    addi t0, t0, 2
6:  csrw mepc, t0
9:  ld t0, 0(sp)
    ld t1, 8(sp)
    ld t2, 16(sp)
    addi sp, sp, 32
    csrrw sp, mscratch, sp
    mret

    .align 2
strap_entry:
    csrrw sp, sscratch, sp
    addi sp, sp, -32
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd t2, 16(sp)
    la t1, strap_info
    csrr t0, scause
    sd t0, TI_CAUSE(t1)
    csrr t0, sepc
    sd t0, TI_EPC(t1)
    csrr t0, stval
    sd t0, TI_TVAL(t1)
    csrr t0, sstatus
    sd t0, TI_STATUS(t1)
    ld t0, TI_COUNT(t1)
    addi t0, t0, 1
    sd t0, TI_COUNT(t1)
    csrr t0, scause
    bgez t0, 4f
    csrw sie, zero
    j 9f
4:  ld t0, TI_RESUME(t1)
    beqz t0, 5f
    sd zero, TI_RESUME(t1)
    csrw sepc, t0
    j 9f
5:  csrr t0, sepc
    lhu t2, 0(t0)
    andi t2, t2, 3
    addi t0, t0, 2
    li t1, 3
    bne t2, t1, 6f
    addi t0, t0, 2
6:  csrw sepc, t0
9:  ld t0, 0(sp)
    ld t1, 8(sp)
    ld t2, 16(sp)
    addi sp, sp, 32
    csrrw sp, sscratch, sp
    sret

    .data
    .align 6
    .globl tohost, fromhost
tohost: .dword 0
    .align 6
fromhost: .dword 0
    .align 3
    .globl trap_info, strap_info, on_qemu
trap_info: .dword -1, 0, 0, 0, 0, 0, 0, 0
on_qemu: .dword 0
strap_info: .dword -1, 0, 0, 0, 0, 0, 0, 0

    .bss
    .align 4
    .space 4096
stack_top:
    .space 512
mstack_top:
    .space 512
sstack_top:
