/* What a person reads about a held hart, as text: its registers, a page
 * walk, a hexdump of guest memory, its stack. The gdb stub's monitor
 * commands and the API's /inspect resources (minnow inspect) both print
 * these; the hart must not run meanwhile (gdb holds it, or the VM is
 * held). Memory is read through hart_debug: nothing here changes the
 * guest. */
#ifndef MINNOW_VMM_GUEST_INSPECT_H
#define MINNOW_VMM_GUEST_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cpu/hart.h"

/* Largest mem length shown at once. */
#define GUEST_INSPECT_MEM_MAX 4096u

/* pc, priv, x1-x31 four to a line with their ABI names, then the
 * supervisor and machine trap CSRs, satp, minstret and time. */
void guest_inspect_regs(FILE *f, struct hart *h);
/* satp's mode and root, and each level's PTE (address, value, flags) down
 * to the physical address; -1 (said why) when va is not mapped. */
int guest_inspect_translate(FILE *f, const struct hart *h, uint64_t va);
/* Every mapped range of the hart's address space (satp's page tables),
 * as QEMU's `info mem` shows them: virtual range, physical start, size
 * and permissions (rwxug), neighbouring pages with the same permissions
 * and contiguous physical addresses joined; at most max_lines ranges. */
void guest_inspect_mappings(FILE *f, const struct hart *h, unsigned max_lines);
/* A hexdump (address, 16 bytes, ASCII) of len bytes at addr, virtual
 * through the hart's MMU or physical; -1 when nothing there could be read
 * (unmapped or not RAM), and a note where a shorter dump stops. */
int guest_inspect_mem(FILE *f, const struct hart *h, uint64_t addr, size_t len, int phys);
/* pc, ra, sp, the frame-pointer chain from s0 as far as it stays on the
 * stack, and the raw stack words at sp. */
void guest_inspect_stack(FILE *f, const struct hart *h);
/* A satp mode's name ("bare", "sv39", ...). */
const char *guest_inspect_satp_mode(unsigned mode);

#endif
