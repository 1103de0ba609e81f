/* The gdb stub's org.gnu.gdb.riscv.csr feature: every CSR the hart
 * implements (found by asking the hart's own CSR code, so CSRs added to
 * the hart appear here without a change), named as gdb names them, at
 * remote register number GDB_CSR_REGNUM0 + the CSR's number. The floating-
 * point CSRs are in the fpu feature and not repeated. */
#ifndef MINNOW_VMM_GDB_CSR_H
#define MINNOW_VMM_GDB_CSR_H

#include <stddef.h>

#include "cpu/hart.h"

#define GDB_CSR_REGNUM0 70u

/* The CSR's name (gdb's, as in the privileged spec), or "csrNNN" in hex
 * for one without a name; into buf. */
const char *gdb_csr_name(unsigned csr, char *buf, size_t size);
/* Writes the feature (a whole XML document, for xi:include) for hart h,
 * which must be held: its CSRs are read. Returns its length, or 0 if it
 * did not fit in size bytes. */
size_t gdb_csr_feature(struct hart *h, char *buf, size_t size);

#endif
