/* A malformed program: jumps to address 0 (nothing there) with no trap
 * handler (mtvec 0). minnow must end with a crash report, not hang. */
    .section .text.start, "ax"
    .globl _start
_start:
    li t0, 0x1234
    jr zero
