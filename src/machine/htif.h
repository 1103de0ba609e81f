/* HTIF, the host-target interface of riscv-tests style programs: the
 * program writes a 64-bit command to its `tohost` variable in RAM.
 *   device 0, command 0, payload odd: exit; payload >> 1 is the status
 *                                     (0 pass, else the failing test)
 *   device 1, command 1:              print the low byte (console putchar)
 * (device in bits 63:56, command in 55:48.) Commands are acknowledged by
 * clearing tohost and, for the console, writing fromhost if the program
 * has one. The hart reports stores to tohost (hart_mem.watch_lo/hi); a
 * command written as two 32-bit stores, low word first, is handled when
 * the high word lands, and one written only as a low word by htif_poll. */
#ifndef MINNOW_MACHINE_HTIF_H
#define MINNOW_MACHINE_HTIF_H

#include <stddef.h>
#include <stdint.h>

#include "devices/guest_mem.h"

enum htif_state { HTIF_RUNNING, HTIF_EXITED, HTIF_UNSUPPORTED };

struct htif {
    struct guest_mem ram;
    uint64_t tohost, fromhost;
    int has_fromhost;
    int low_pending;
    enum htif_state state;
    uint64_t exit_code;      /* HTIF_EXITED: 0 pass, else the program's code */
    uint64_t bad_command;    /* HTIF_UNSUPPORTED: the command */
    void (*out)(void *opaque, const uint8_t *buf, size_t n);
    void *out_opaque;
};

void htif_init(struct htif *t, const struct guest_mem *ram, uint64_t tohost, int has_fromhost, uint64_t fromhost,
               void (*out)(void *opaque, const uint8_t *buf, size_t n), void *out_opaque);

/* A store of size bytes at physical pa (inside tohost) has landed. Returns
 * 1 when the program asked to exit or sent a command we do not support. */
int htif_store(struct htif *t, uint64_t pa, unsigned size);

/* Handles a command written only as a low 32-bit word. Same return. */
int htif_poll(struct htif *t);

#endif
