/* The CSR feature of the gdb target description (see gdb_csr.h). */
#include "vmm/gdb_csr.h"

#include <stdio.h>

#include "cpu/hart_debug.h"

static const struct { unsigned csr; const char *name; } names[] = {
    { 0x100, "sstatus" }, { 0x104, "sie" }, { 0x105, "stvec" }, { 0x106, "scounteren" },
    { 0x10a, "senvcfg" }, { 0x140, "sscratch" }, { 0x141, "sepc" }, { 0x142, "scause" },
    { 0x143, "stval" }, { 0x144, "sip" }, { 0x14d, "stimecmp" }, { 0x180, "satp" },
    { 0x300, "mstatus" }, { 0x301, "misa" }, { 0x302, "medeleg" }, { 0x303, "mideleg" },
    { 0x304, "mie" }, { 0x305, "mtvec" }, { 0x306, "mcounteren" }, { 0x30a, "menvcfg" },
    { 0x320, "mcountinhibit" }, { 0x340, "mscratch" }, { 0x341, "mepc" }, { 0x342, "mcause" },
    { 0x343, "mtval" }, { 0x344, "mip" }, { 0x34a, "mtinst" }, { 0x34b, "mtval2" },
    { 0x7a0, "tselect" }, { 0x7a1, "tdata1" }, { 0x7a2, "tdata2" }, { 0x7a3, "tdata3" },
    { 0x7a4, "tinfo" }, { 0x7a5, "tcontrol" }, { 0x7a8, "mcontext" }, { 0x5a8, "scontext" },
    { 0x7b0, "dcsr" }, { 0x7b1, "dpc" }, { 0x7b2, "dscratch0" }, { 0x7b3, "dscratch1" },
    { 0xb00, "mcycle" }, { 0xb02, "minstret" }, { 0xc00, "cycle" }, { 0xc01, "time" },
    { 0xc02, "instret" }, { 0xf11, "mvendorid" }, { 0xf12, "marchid" }, { 0xf13, "mimpid" },
    { 0xf14, "mhartid" }, { 0xf15, "mconfigptr" },
};

const char *gdb_csr_name(unsigned csr, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].csr == csr)
            return names[i].name;
    if (csr >= 0xc03 && csr <= 0xc1f)
        snprintf(buf, size, "hpmcounter%u", csr - 0xc00);
    else if (csr >= 0xb03 && csr <= 0xb1f)
        snprintf(buf, size, "mhpmcounter%u", csr - 0xb00);
    else if (csr >= 0x323 && csr <= 0x33f)
        snprintf(buf, size, "mhpmevent%u", csr - 0x320);
    else if (csr >= 0x3a0 && csr <= 0x3af)
        snprintf(buf, size, "pmpcfg%u", csr - 0x3a0);
    else if (csr >= 0x3b0 && csr <= 0x3ef)
        snprintf(buf, size, "pmpaddr%u", csr - 0x3b0);
    else
        snprintf(buf, size, "csr%03x", csr);
    return buf;
}

size_t gdb_csr_feature(struct hart *h, char *buf, size_t size)
{
    size_t n = 0;
    int w = snprintf(buf, size, "<?xml version=\"1.0\"?>\n<!DOCTYPE feature SYSTEM \"gdb-target.dtd\">\n"
                                "<feature name=\"org.gnu.gdb.riscv.csr\">\n");
    if (w < 0 || (size_t)w >= size)
        return 0;
    n = (size_t)w;
    for (unsigned csr = 0x004; csr < 0x1000; csr++) {
        uint64_t v;
        if (hart_debug_csr_read(h, csr, &v))
            continue;
        char nb[24];
        w = snprintf(buf + n, size - n, "<reg name=\"%s\" bitsize=\"64\" type=\"int\" regnum=\"%u\"/>\n",
                     gdb_csr_name(csr, nb, sizeof nb), GDB_CSR_REGNUM0 + csr);
        if (w < 0 || (size_t)w >= size - n)
            return 0;
        n += (size_t)w;
    }
    w = snprintf(buf + n, size - n, "</feature>\n");
    if (w < 0 || (size_t)w >= size - n)
        return 0;
    return n + (size_t)w;
}
