/* Builds the guest's device tree with libfdt's sequential-write API. See
 * fdt.h. */
#include "machine/fdt.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "devices/clint.h"
#include "devices/plic.h"
#include "devices/rtc.h"
#include "devices/syscon.h"
#include "devices/uart.h"

/* Canonical order of single-letter extensions in an ISA string (RISC-V
 * unprivileged spec, "ISA Extension Naming Conventions"). */
static const char single_letter_order[] = "imafdqlcbkjtpvh";

#define ISA_STRING_MAX 1024
#define EXT_NAME_MAX 32
#define MIP_IRQ_MSI 3u
#define MIP_IRQ_MTI 7u
#define MIP_IRQ_SEI 9u
#define MIP_IRQ_MEI 11u

/* libfdt calls return 0 or a negative FDT_ERR_*; the first failure ends the
 * build. */
#define TRY(x)                  \
    do {                        \
        int rc_ = (x);          \
        if (rc_ < 0)            \
            return rc_;         \
    } while (0)

struct isa {
    char string[ISA_STRING_MAX];   /* riscv,isa */
    char list[ISA_STRING_MAX];     /* riscv,isa-extensions: NUL-separated */
    size_t list_len;
    int has_cbom, has_cboz;
};

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > EXT_NAME_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int append(char *dst, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + n > cap)
        return -1;
    memcpy(dst + *len, s, n);
    *len += n;
    return 0;
}

/* Orders and validates the extension list into both properties. */
static int build_isa(const struct fdt_config *cfg, struct isa *isa, struct errmsg *e)
{
    memset(isa, 0, sizeof *isa);
    if (!cfg->isa_extensions || !cfg->n_isa_extensions)
        return errmsg_set(e, -EINVAL, "fdt: the ISA extension list is empty: expected at least \"i\"");
    for (unsigned k = 0; k < cfg->n_isa_extensions; k++) {
        const char *x = cfg->isa_extensions[k];
        if (!x || !valid_name(x))
            return errmsg_set(e, -EINVAL,
                              "fdt: ISA extension #%u \"%s\": expected a lower-case name of "
                              "letters and digits, at most %d long",
                              k, x ? x : "(null)", EXT_NAME_MAX);
        if (!x[1] && !strchr(single_letter_order, x[0]))
            return errmsg_set(e, -EINVAL,
                              "fdt: ISA extension \"%s\": not a single-letter extension "
                              "(expected one of %s)", x, single_letter_order);
        for (unsigned j = 0; j < k; j++)
            if (!strcmp(cfg->isa_extensions[j], x))
                return errmsg_set(e, -EINVAL, "fdt: ISA extension \"%s\" is listed twice", x);
        if (!strcmp(x, "zicbom"))
            isa->has_cbom = 1;
        if (!strcmp(x, "zicboz"))
            isa->has_cboz = 1;
    }

    size_t slen = 0;
    append(isa->string, sizeof isa->string, &slen, "rv64", 4);
    int has_i = 0;
    for (const char *l = single_letter_order; *l; l++) {
        for (unsigned k = 0; k < cfg->n_isa_extensions; k++) {
            const char *x = cfg->isa_extensions[k];
            if (x[0] != *l || x[1])
                continue;
            has_i |= *l == 'i';
            if (append(isa->string, sizeof isa->string - 1, &slen, x, 1) ||
                append(isa->list, sizeof isa->list, &isa->list_len, x, 2))
                goto too_long;
        }
    }
    if (!has_i)
        return errmsg_set(e, -EINVAL, "fdt: the ISA extension list lacks \"i\" (the base ISA)");
    for (unsigned k = 0; k < cfg->n_isa_extensions; k++) {
        const char *x = cfg->isa_extensions[k];
        size_t n = strlen(x);
        if (n == 1)
            continue;
        if (append(isa->string, sizeof isa->string - 1, &slen, "_", 1) ||
            append(isa->string, sizeof isa->string - 1, &slen, x, n) ||
            append(isa->list, sizeof isa->list, &isa->list_len, x, n + 1))
            goto too_long;
    }
    isa->string[slen] = 0;
    return 0;
too_long:
    return errmsg_set(e, -EINVAL, "fdt: the ISA extension list is too long (over %d characters)",
                      ISA_STRING_MAX);
}

static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
    fdt64_t reg[2] = {cpu_to_fdt64(base), cpu_to_fdt64(size)};
    return fdt_property(fdt, "reg", reg, sizeof reg);
}

static int prop_cells(void *fdt, const char *name, const uint32_t *cells, unsigned n)
{
    fdt32_t v[4 * FDT_MAX_HARTS];
    for (unsigned i = 0; i < n; i++)
        v[i] = cpu_to_fdt32(cells[i]);
    return fdt_property(fdt, name, v, n * sizeof v[0]);
}

/* interrupts-extended pairs (intc of hart h, irq_a) (intc of hart h, irq_b)
 * for every hart: the CLINT's and the PLIC's outputs. */
static int prop_hart_irqs(void *fdt, unsigned nharts, uint32_t irq_a, uint32_t irq_b)
{
    uint32_t cells[4 * FDT_MAX_HARTS];
    for (unsigned h = 0; h < nharts; h++) {
        cells[4 * h + 0] = FDT_PHANDLE_INTC(h);
        cells[4 * h + 1] = irq_a;
        cells[4 * h + 2] = FDT_PHANDLE_INTC(h);
        cells[4 * h + 3] = irq_b;
    }
    return prop_cells(fdt, "interrupts-extended", cells, 4 * nharts);
}

static int node_at(void *fdt, const char *name, uint64_t addr)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s@%llx", name, (unsigned long long)addr);
    return fdt_begin_node(fdt, buf);
}

static int write_cpus(void *fdt, const struct fdt_config *cfg, const struct isa *isa)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    TRY(fdt_property_u32(fdt, "timebase-frequency",
                         cfg->timebase_hz ? cfg->timebase_hz : (uint32_t)CLINT_FREQ_HZ));
    for (unsigned h = 0; h < cfg->nharts; h++) {
        TRY(node_at(fdt, "cpu", h));
        TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_CPU(h)));
        TRY(fdt_property_string(fdt, "device_type", "cpu"));
        TRY(fdt_property_u32(fdt, "reg", h));
        TRY(fdt_property_string(fdt, "status", "okay"));
        TRY(fdt_property_string(fdt, "compatible", "riscv"));
        TRY(fdt_property_string(fdt, "riscv,isa", isa->string));
        TRY(fdt_property_string(fdt, "riscv,isa-base", "rv64i"));
        TRY(fdt_property(fdt, "riscv,isa-extensions", isa->list, (int)isa->list_len));
        if (isa->has_cbom)
            TRY(fdt_property_u32(fdt, "riscv,cbom-block-size",
                                 cfg->cbom_block_size ? cfg->cbom_block_size : 64));
        if (isa->has_cboz)
            TRY(fdt_property_u32(fdt, "riscv,cboz-block-size",
                                 cfg->cboz_block_size ? cfg->cboz_block_size : 64));
        TRY(fdt_property_string(fdt, "mmu-type", cfg->mmu_type ? cfg->mmu_type : "riscv,sv57"));
        TRY(fdt_begin_node(fdt, "interrupt-controller"));
        TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
        /* Not needed by Linux, but dtc's interrupt_provider check wants it. */
        TRY(fdt_property_u32(fdt, "#address-cells", 0));
        TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
        TRY(fdt_property_string(fdt, "compatible", "riscv,cpu-intc"));
        TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_INTC(h)));
        TRY(fdt_end_node(fdt));
        TRY(fdt_end_node(fdt));
    }
    /* One cluster of single-thread cores: what the harts really are. */
    TRY(fdt_begin_node(fdt, "cpu-map"));
    TRY(fdt_begin_node(fdt, "cluster0"));
    for (unsigned h = 0; h < cfg->nharts; h++) {
        char name[16];
        snprintf(name, sizeof name, "core%u", h);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_u32(fdt, "cpu", FDT_PHANDLE_CPU(h)));
        TRY(fdt_end_node(fdt));
    }
    TRY(fdt_end_node(fdt));
    TRY(fdt_end_node(fdt));
    return fdt_end_node(fdt);
}

static int write_irq_dev(void *fdt, uint32_t irq)
{
    TRY(fdt_property_u32(fdt, "interrupts", irq));
    return fdt_property_u32(fdt, "interrupt-parent", FDT_PHANDLE_PLIC);
}

static int write_soc(void *fdt, const struct fdt_config *cfg)
{
    TRY(fdt_begin_node(fdt, "soc"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property_string(fdt, "compatible", "simple-bus"));
    TRY(fdt_property(fdt, "ranges", NULL, 0));

    TRY(node_at(fdt, "clint", CLINT_BASE));
    TRY(fdt_property(fdt, "compatible", "sifive,clint0\0riscv,clint0",
                     sizeof "sifive,clint0\0riscv,clint0"));
    TRY(prop_reg(fdt, CLINT_BASE, CLINT_MMIO_SIZE));
    TRY(prop_hart_irqs(fdt, cfg->nharts, MIP_IRQ_MSI, MIP_IRQ_MTI));
    TRY(fdt_end_node(fdt));

    /* Context order is 2h = M-mode, 2h+1 = S-mode: the PLIC model's. */
    TRY(node_at(fdt, "plic", PLIC_BASE));
    TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_PLIC));
    TRY(fdt_property(fdt, "compatible", "sifive,plic-1.0.0\0riscv,plic0",
                     sizeof "sifive,plic-1.0.0\0riscv,plic0"));
    TRY(prop_reg(fdt, PLIC_BASE, PLIC_MMIO_SIZE));
    TRY(fdt_property_u32(fdt, "riscv,ndev", PLIC_NDEV));
    TRY(prop_hart_irqs(fdt, cfg->nharts, MIP_IRQ_MEI, MIP_IRQ_SEI));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 1));
    TRY(fdt_property_u32(fdt, "#address-cells", 0));
    TRY(fdt_end_node(fdt));

    TRY(node_at(fdt, "serial", UART_BASE));
    TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
    TRY(prop_reg(fdt, UART_BASE, UART_MMIO_SIZE));
    TRY(fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ));
    TRY(write_irq_dev(fdt, UART_IRQ));
    TRY(fdt_end_node(fdt));

    TRY(node_at(fdt, "rtc", RTC_BASE));
    TRY(fdt_property_string(fdt, "compatible", "google,goldfish-rtc"));
    TRY(prop_reg(fdt, RTC_BASE, RTC_MMIO_SIZE));
    TRY(write_irq_dev(fdt, RTC_IRQ));
    TRY(fdt_end_node(fdt));

    TRY(node_at(fdt, "test", SYSCON_BASE));
    TRY(fdt_property_u32(fdt, "phandle", FDT_PHANDLE_TEST));
    TRY(fdt_property(fdt, "compatible", "sifive,test1\0sifive,test0\0syscon",
                     sizeof "sifive,test1\0sifive,test0\0syscon"));
    TRY(prop_reg(fdt, SYSCON_BASE, SYSCON_MMIO_SIZE));
    TRY(fdt_end_node(fdt));

    for (unsigned n = 0; n < FDT_VIRTIO_SLOTS; n++) {
        if (!(cfg->virtio_slots & (1ull << n)))
            continue;
        uint64_t base = fdt_virtio_base(n);
        TRY(node_at(fdt, "virtio_mmio", base));
        TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
        TRY(prop_reg(fdt, base, FDT_VIRTIO_STRIDE));
        TRY(write_irq_dev(fdt, fdt_virtio_irq(n)));
        TRY(fdt_end_node(fdt));
    }
    return fdt_end_node(fdt);
}

/* The syscon-poweroff and syscon-reboot drivers find their register through
 * regmap; QEMU places these nodes at the root, and so do we. */
static int write_power(void *fdt, const char *name, uint32_t value, int disabled)
{
    TRY(fdt_begin_node(fdt, name));
    char compat[32];
    snprintf(compat, sizeof compat, "syscon-%s", name);
    TRY(fdt_property_string(fdt, "compatible", compat));
    TRY(fdt_property_u32(fdt, "regmap", FDT_PHANDLE_TEST));
    TRY(fdt_property_u32(fdt, "offset", 0));
    TRY(fdt_property_u32(fdt, "value", value));
    if (disabled)
        TRY(fdt_property_string(fdt, "status", "disabled"));
    return fdt_end_node(fdt);
}

static int write_tree(void *fdt, size_t bufsize, const struct fdt_config *cfg,
                      const struct isa *isa)
{
    if (bufsize > INT32_MAX)
        bufsize = INT32_MAX;
    TRY(fdt_create(fdt, (int)bufsize));
    TRY(fdt_finish_reservemap(fdt));
    TRY(fdt_begin_node(fdt, ""));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(fdt_property(fdt, "compatible", "minnow,virt\0riscv-virtio",
                     sizeof "minnow,virt\0riscv-virtio"));
    TRY(fdt_property_string(fdt, "model", "minnow,virt"));

    TRY(fdt_begin_node(fdt, "chosen"));
    if (cfg->bootargs)
        TRY(fdt_property_string(fdt, "bootargs", cfg->bootargs));
    char stdout_path[64];
    snprintf(stdout_path, sizeof stdout_path, "/soc/serial@%llx", (unsigned long long)UART_BASE);
    TRY(fdt_property_string(fdt, "stdout-path", stdout_path));
    if (cfg->has_initrd) {
        TRY(fdt_property_u64(fdt, "linux,initrd-start", cfg->initrd_start));
        TRY(fdt_property_u64(fdt, "linux,initrd-end", cfg->initrd_end));
    }
    if (cfg->rng_seed && cfg->rng_seed_len)
        TRY(fdt_property(fdt, "rng-seed", cfg->rng_seed, (int)cfg->rng_seed_len));
    TRY(fdt_end_node(fdt));

    TRY(fdt_begin_node(fdt, "aliases"));
    TRY(fdt_property_string(fdt, "serial0", stdout_path));
    TRY(fdt_end_node(fdt));

    TRY(node_at(fdt, "memory", cfg->ram_base));
    TRY(fdt_property_string(fdt, "device_type", "memory"));
    TRY(prop_reg(fdt, cfg->ram_base, cfg->ram_size));
    TRY(fdt_end_node(fdt));

    TRY(write_cpus(fdt, cfg, isa));
    TRY(write_power(fdt, "poweroff", SYSCON_VALUE_POWEROFF, cfg->sbi_has_srst));
    TRY(write_power(fdt, "reboot", SYSCON_VALUE_REBOOT, 0));
    TRY(write_soc(fdt, cfg));

    TRY(fdt_end_node(fdt));
    return fdt_finish(fdt);
}

int fdt_build(const struct fdt_config *cfg, void *buf, size_t bufsize, size_t *size,
              struct errmsg *e)
{
    *size = 0;
    if (cfg->nharts < 1 || cfg->nharts > FDT_MAX_HARTS)
        return errmsg_set(e, -EINVAL, "fdt: %u harts: expected 1 to %u", cfg->nharts,
                          FDT_MAX_HARTS);
    if (!cfg->ram_size || cfg->ram_base + cfg->ram_size < cfg->ram_base)
        return errmsg_set(e, -EINVAL, "fdt: RAM of %#llx bytes at %#llx: expected a non-empty "
                          "range inside the address space",
                          (unsigned long long)cfg->ram_size, (unsigned long long)cfg->ram_base);
    if (cfg->has_initrd && (cfg->initrd_start > cfg->initrd_end ||
                            cfg->initrd_start < cfg->ram_base ||
                            cfg->initrd_end - cfg->ram_base > cfg->ram_size))
        return errmsg_set(e, -EINVAL, "fdt: initrd [%#llx, %#llx): expected a range inside RAM "
                          "[%#llx, %#llx)",
                          (unsigned long long)cfg->initrd_start, (unsigned long long)cfg->initrd_end,
                          (unsigned long long)cfg->ram_base,
                          (unsigned long long)(cfg->ram_base + cfg->ram_size));
    if (cfg->virtio_slots >> FDT_VIRTIO_SLOTS)
        return errmsg_set(e, -EINVAL, "fdt: virtio slot mask %#llx: only %u slots exist",
                          (unsigned long long)cfg->virtio_slots, FDT_VIRTIO_SLOTS);
    if (cfg->rng_seed_len > 4096)
        return errmsg_set(e, -EINVAL, "fdt: rng-seed of %zu bytes: expected at most 4096",
                          cfg->rng_seed_len);
    if (cfg->mmu_type && !*cfg->mmu_type)
        return errmsg_set(e, -EINVAL, "fdt: empty mmu-type: expected e.g. \"riscv,sv57\"");
    /* The bootargs length is bounded by the buffer below. */

    struct isa isa;
    int rc = build_isa(cfg, &isa, e);
    if (rc < 0)
        return rc;

    rc = write_tree(buf, bufsize, cfg, &isa);
    if (rc == -FDT_ERR_NOSPACE)
        return errmsg_set(e, -ENOSPC, "fdt: the device tree does not fit in %zu bytes", bufsize);
    if (rc < 0)
        return errmsg_set(e, -EIO, "fdt: libfdt failed: %s", fdt_strerror(rc));
    *size = fdt_totalsize(buf);
    return 0;
}
