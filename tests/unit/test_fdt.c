/* Unit tests for machine/fdt: build a blob, then read it back with libfdt's
 * read API and check what Linux would look at. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "machine/fdt.h"

static uint8_t blob[64 * 1024];

static const char *const exts[] = {"zicsr", "c", "i", "m", "zifencei", "a", "f", "d", "sstc",
                                   "zicbom", "svpbmt"};
static const uint8_t seed[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static struct fdt_config base_config(void)
{
    struct fdt_config c = {
        .nharts = 2,
        .ram_base = 0x80000000ull,
        .ram_size = 256ull << 20,
        .bootargs = "console=ttyS0 earlycon",
        .has_initrd = 1,
        .initrd_start = 0x88000000ull,
        .initrd_end = 0x88123456ull,
        .isa_extensions = exts,
        .n_isa_extensions = sizeof exts / sizeof exts[0],
        .mmu_type = "riscv,sv48",
        .virtio_slots = (1u << 0) | (1u << 3),
        .timebase_hz = 10000000,
        .rng_seed = seed,
        .rng_seed_len = sizeof seed,
    };
    return c;
}

static size_t build(const struct fdt_config *c)
{
    size_t size = 0;
    struct errmsg e = {{0}};
    int rc = fdt_build(c, blob, sizeof blob, &size, &e);
    if (rc)
        fail_msg("fdt_build: %s", e.text);
    assert_int_equal(fdt_check_header(blob), 0);
    assert_int_equal(fdt_totalsize(blob), size);
    return size;
}

static int node(const char *path)
{
    int off = fdt_path_offset(blob, path);
    if (off < 0)
        fail_msg("no node %s", path);
    return off;
}

static const char *str(int off, const char *name)
{
    const char *s = fdt_getprop(blob, off, name, NULL);
    if (!s)
        fail_msg("no property %s", name);
    return s;
}

static uint32_t u32(int off, const char *name)
{
    int len;
    const fdt32_t *p = fdt_getprop(blob, off, name, &len);
    assert_non_null(p);
    assert_int_equal(len, 4);
    return fdt32_to_cpu(*p);
}

static uint64_t u64(int off, const char *name)
{
    int len;
    const void *p = fdt_getprop(blob, off, name, &len);
    assert_non_null(p);
    assert_int_equal(len, 8);
    fdt64_t v;   /* properties are only 4-byte aligned in the blob */
    memcpy(&v, p, sizeof v);
    return fdt64_to_cpu(v);
}

static void assert_reg(int off, uint64_t base, uint64_t size)
{
    int len;
    const fdt32_t *p = fdt_getprop(blob, off, "reg", &len);
    assert_non_null(p);
    assert_int_equal(len, 16);   /* #address-cells 2, #size-cells 2 */
    assert_int_equal(((uint64_t)fdt32_to_cpu(p[0]) << 32) | fdt32_to_cpu(p[1]), base);
    assert_int_equal(((uint64_t)fdt32_to_cpu(p[2]) << 32) | fdt32_to_cpu(p[3]), size);
}

static void cpus_describe_each_hart(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    c.nharts = 3;
    build(&c);
    int cpus = node("/cpus");
    assert_int_equal(u32(cpus, "timebase-frequency"), 10000000);
    assert_int_equal(u32(cpus, "#address-cells"), 1);
    assert_int_equal(u32(cpus, "#size-cells"), 0);
    unsigned n = 0;
    int cpu;
    fdt_for_each_subnode(cpu, blob, cpus) {
        if (strncmp(fdt_get_name(blob, cpu, NULL), "cpu@", 4))
            continue;
        assert_string_equal(str(cpu, "device_type"), "cpu");
        assert_int_equal(u32(cpu, "reg"), n);
        assert_string_equal(str(cpu, "status"), "okay");
        assert_string_equal(str(cpu, "compatible"), "riscv");
        assert_string_equal(str(cpu, "riscv,isa"),
                            "rv64imafdc_zicsr_zifencei_sstc_zicbom_svpbmt");
        assert_string_equal(str(cpu, "riscv,isa-base"), "rv64i");
        assert_string_equal(str(cpu, "mmu-type"), "riscv,sv48");
        assert_int_equal(u32(cpu, "riscv,cbom-block-size"), 64);
        assert_null(fdt_getprop(blob, cpu, "riscv,cboz-block-size", NULL));
        const char *want[] = {"i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "sstc",
                              "zicbom", "svpbmt"};
        int count = fdt_stringlist_count(blob, cpu, "riscv,isa-extensions");
        assert_int_equal(count, sizeof want / sizeof want[0]);
        for (int i = 0; i < count; i++)
            assert_string_equal(fdt_stringlist_get(blob, cpu, "riscv,isa-extensions", i, NULL),
                                want[i]);
        int intc = fdt_subnode_offset(blob, cpu, "interrupt-controller");
        assert_true(intc >= 0);
        assert_string_equal(str(intc, "compatible"), "riscv,cpu-intc");
        assert_int_equal(u32(intc, "#interrupt-cells"), 1);
        assert_non_null(fdt_getprop(blob, intc, "interrupt-controller", NULL));
        assert_int_equal(fdt_get_phandle(blob, intc), FDT_PHANDLE_INTC(n));
        assert_int_equal(fdt_get_phandle(blob, cpu), FDT_PHANDLE_CPU(n));
        n++;
    }
    assert_int_equal(n, 3);
    /* cpu-map points at the cpu nodes. */
    int core2 = node("/cpus/cpu-map/cluster0/core2");
    assert_int_equal(fdt_node_offset_by_phandle(blob, u32(core2, "cpu")), node("/cpus/cpu@2"));
}

static void memory_and_chosen(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    build(&c);
    int mem = node("/memory@80000000");
    assert_string_equal(str(mem, "device_type"), "memory");
    assert_reg(mem, 0x80000000ull, 256ull << 20);
    int chosen = node("/chosen");
    assert_string_equal(str(chosen, "bootargs"), "console=ttyS0 earlycon");
    assert_int_equal(u64(chosen, "linux,initrd-start"), 0x88000000ull);
    assert_int_equal(u64(chosen, "linux,initrd-end"), 0x88123456ull);
    int len;
    const void *s = fdt_getprop(blob, chosen, "rng-seed", &len);
    assert_int_equal(len, sizeof seed);
    assert_memory_equal(s, seed, sizeof seed);
    /* stdout-path names the UART node. */
    int uart = node(str(chosen, "stdout-path"));
    assert_string_equal(str(uart, "compatible"), "ns16550a");
    assert_int_equal(node("serial0"), uart);   /* the alias resolves too */
}

static void optional_chosen_props_absent(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    c.has_initrd = 0;
    c.bootargs = NULL;
    c.rng_seed = NULL;
    c.rng_seed_len = 0;
    c.mmu_type = NULL;
    build(&c);
    int chosen = node("/chosen");
    assert_null(fdt_getprop(blob, chosen, "linux,initrd-start", NULL));
    assert_null(fdt_getprop(blob, chosen, "linux,initrd-end", NULL));
    assert_null(fdt_getprop(blob, chosen, "bootargs", NULL));
    assert_null(fdt_getprop(blob, chosen, "rng-seed", NULL));
    assert_non_null(fdt_getprop(blob, chosen, "stdout-path", NULL));
    assert_string_equal(str(node("/cpus/cpu@0"), "mmu-type"), "riscv,sv57");
}

/* Checks interrupts-extended = <&intc(h) a &intc(h) b> for every hart. */
static void assert_hart_irqs(int off, unsigned nharts, uint32_t a, uint32_t b)
{
    int len;
    const fdt32_t *p = fdt_getprop(blob, off, "interrupts-extended", &len);
    assert_non_null(p);
    assert_int_equal(len, (int)(16 * nharts));
    for (unsigned h = 0; h < nharts; h++) {
        for (unsigned k = 0; k < 2; k++) {
            uint32_t ph = fdt32_to_cpu(p[4 * h + 2 * k]);
            int intc = fdt_node_offset_by_phandle(blob, ph);
            assert_true(intc >= 0);
            assert_string_equal(str(intc, "compatible"), "riscv,cpu-intc");
            /* ...and it is hart h's. */
            assert_int_equal(u32(fdt_parent_offset(blob, intc), "reg"), h);
            assert_int_equal(fdt32_to_cpu(p[4 * h + 2 * k + 1]), k ? b : a);
        }
    }
}

static void soc_devices(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    build(&c);
    int soc = node("/soc");
    assert_int_equal(fdt_node_check_compatible(blob, soc, "simple-bus"), 0);
    assert_non_null(fdt_getprop(blob, soc, "ranges", NULL));

    int clint = node("/soc/clint@2000000");
    assert_int_equal(fdt_node_check_compatible(blob, clint, "sifive,clint0"), 0);
    assert_int_equal(fdt_node_check_compatible(blob, clint, "riscv,clint0"), 0);
    assert_reg(clint, 0x2000000, 0x10000);
    assert_hart_irqs(clint, 2, 3, 7);

    int plic = node("/soc/plic@c000000");
    assert_int_equal(fdt_node_check_compatible(blob, plic, "sifive,plic-1.0.0"), 0);
    assert_int_equal(fdt_node_check_compatible(blob, plic, "riscv,plic0"), 0);
    assert_reg(plic, 0xc000000, 0x600000);
    assert_int_equal(u32(plic, "riscv,ndev"), 95);
    assert_int_equal(u32(plic, "#interrupt-cells"), 1);
    assert_int_equal(u32(plic, "#address-cells"), 0);
    assert_non_null(fdt_getprop(blob, plic, "interrupt-controller", NULL));
    assert_hart_irqs(plic, 2, 11, 9);

    int uart = node("/soc/serial@10000000");
    assert_reg(uart, 0x10000000, 0x100);
    assert_int_equal(u32(uart, "clock-frequency"), 3686400);
    assert_int_equal(u32(uart, "interrupts"), 10);
    assert_int_equal(fdt_node_offset_by_phandle(blob, u32(uart, "interrupt-parent")), plic);

    int rtc = node("/soc/rtc@101000");
    assert_string_equal(str(rtc, "compatible"), "google,goldfish-rtc");
    assert_reg(rtc, 0x101000, 0x1000);
    assert_int_equal(u32(rtc, "interrupts"), 11);
    assert_int_equal(fdt_node_offset_by_phandle(blob, u32(rtc, "interrupt-parent")), plic);

    int test = node("/soc/test@100000");
    assert_int_equal(fdt_node_check_compatible(blob, test, "sifive,test0"), 0);
    assert_int_equal(fdt_node_check_compatible(blob, test, "syscon"), 0);
    assert_reg(test, 0x100000, 0x1000);
    int off = node("/poweroff");
    assert_string_equal(str(off, "compatible"), "syscon-poweroff");
    assert_int_equal(fdt_node_offset_by_phandle(blob, u32(off, "regmap")), test);
    assert_int_equal(u32(off, "offset"), 0);
    assert_int_equal(u32(off, "value"), 0x5555);
    int reboot = node("/reboot");
    assert_string_equal(str(reboot, "compatible"), "syscon-reboot");
    assert_int_equal(fdt_node_offset_by_phandle(blob, u32(reboot, "regmap")), test);
    assert_int_equal(u32(reboot, "value"), 0x7777);
    assert_null(fdt_getprop(blob, off, "status", NULL));
    assert_null(fdt_getprop(blob, reboot, "status", NULL));
}

/* Behind an SBI with SRST, Linux powers off through SBI: the syscon
 * power-off node is there but disabled, so no driver probes it. */
static void poweroff_disabled_behind_sbi_srst(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    c.sbi_has_srst = 1;
    build(&c);
    assert_string_equal(str(node("/poweroff"), "status"), "disabled");
    assert_null(fdt_getprop(blob, node("/reboot"), "status", NULL));
}

static void virtio_nodes_only_for_populated_slots(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    build(&c);
    int plic = node("/soc/plic@c000000");
    for (unsigned n = 0; n < FDT_VIRTIO_SLOTS; n++) {
        char path[64];
        snprintf(path, sizeof path, "/soc/virtio_mmio@%x", 0x10001000u + 0x1000u * n);
        int off = fdt_path_offset(blob, path);
        if (n != 0 && n != 3) {
            assert_true(off < 0);
            continue;
        }
        assert_true(off >= 0);
        assert_string_equal(str(off, "compatible"), "virtio,mmio");
        assert_reg(off, 0x10001000ull + 0x1000ull * n, 0x1000);
        assert_int_equal(u32(off, "interrupts"), 1 + n);
        assert_int_equal(fdt_node_offset_by_phandle(blob, u32(off, "interrupt-parent")), plic);
    }
    c.virtio_slots = 0;
    build(&c);
    assert_true(fdt_node_offset_by_compatible(blob, -1, "virtio,mmio") < 0);
}

/* Slots 9 up continue the run of addresses after the keyboard's (slot 8)
 * and take PLIC sources 12 up, round the UART's 10 and the RTC's 11. */
static void virtio_high_slots_skip_uart_and_rtc_sources(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    c.virtio_slots = (1ull << 7) | (1ull << 8) | (1ull << 9) | (1ull << 32);
    build(&c);
    static const struct { unsigned slot; uint64_t base; uint32_t irq; } want[] = {
        { 7, 0x10008000ull, 8 }, { 8, 0x10009000ull, 9 }, { 9, 0x1000a000ull, 12 }, { 32, 0x10021000ull, 35 },
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/soc/virtio_mmio@%llx", (unsigned long long)want[i].base);
        int off = fdt_path_offset(blob, path);
        assert_true(off >= 0);
        assert_reg(off, want[i].base, 0x1000);
        assert_int_equal(u32(off, "interrupts"), want[i].irq);
    }
    assert_int_equal(fdt_virtio_user_slot(7), 7);
    assert_int_equal(fdt_virtio_user_slot(8), 9);
    assert_int_equal(fdt_virtio_user_slot(31), 32);
    assert_int_equal(u32(node("/soc/plic@c000000"), "riscv,ndev") >= 35, 1);
}

static void phandles_are_unique(void **state)
{
    (void)state;
    struct fdt_config c = base_config();
    c.nharts = FDT_MAX_HARTS;
    build(&c);
    uint32_t seen[64];
    unsigned n = 0;
    for (int off = fdt_next_node(blob, -1, NULL); off >= 0; off = fdt_next_node(blob, off, NULL)) {
        uint32_t ph = fdt_get_phandle(blob, off);
        if (!ph)
            continue;
        for (unsigned i = 0; i < n; i++)
            assert_int_not_equal(seen[i], ph);
        assert_true(n < 64);
        seen[n++] = ph;
    }
    assert_int_equal(n, 2 + 2 * FDT_MAX_HARTS);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    struct fdt_config c;
    struct errmsg e;
    size_t size = 1;

    c = base_config();
    c.nharts = 0;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "0 harts"));
    assert_int_equal(size, 0);
    c.nharts = FDT_MAX_HARTS + 1;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "17 harts"));

    c = base_config();
    assert_int_equal(fdt_build(&c, blob, 256, &size, &e), -ENOSPC);
    assert_non_null(strstr(e.text, "256 bytes"));
    assert_int_equal(fdt_build(&c, blob, 0, &size, &e), -ENOSPC);

    c = base_config();
    c.initrd_end = 0x80000000ull + (257ull << 20);
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "initrd"));
    c.initrd_start = 0x90000000ull;
    c.initrd_end = 0x8f000000ull;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);

    c = base_config();
    c.ram_size = 0;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "RAM"));
    c.ram_size = 0x100000000ull;
    c.ram_base = ~0ull - 0xfff;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);

    c = base_config();
    c.virtio_slots = 1ull << FDT_VIRTIO_SLOTS;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);

    const char *no_i[] = {"m", "a"};
    c = base_config();
    c.isa_extensions = no_i;
    c.n_isa_extensions = 2;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "\"i\""));
    const char *bad[] = {"i", "Zicsr"};
    c.isa_extensions = bad;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "Zicsr"));
    const char *dup[] = {"i", "m", "m"};
    c.isa_extensions = dup;
    c.n_isa_extensions = 3;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    assert_non_null(strstr(e.text, "twice"));
    const char *letter[] = {"i", "g"};
    c.isa_extensions = letter;
    c.n_isa_extensions = 2;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    const char *nul[] = {"i", NULL};
    c.isa_extensions = nul;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
    c.n_isa_extensions = 0;
    assert_int_equal(fdt_build(&c, blob, sizeof blob, &size, &e), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpus_describe_each_hart),
        cmocka_unit_test(memory_and_chosen),
        cmocka_unit_test(optional_chosen_props_absent),
        cmocka_unit_test(soc_devices),
        cmocka_unit_test(poweroff_disabled_behind_sbi_srst),
        cmocka_unit_test(virtio_nodes_only_for_populated_slots),
        cmocka_unit_test(virtio_high_slots_skip_uart_and_rtc_sources),
        cmocka_unit_test(phandles_are_unique),
        cmocka_unit_test(bad_configs_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
