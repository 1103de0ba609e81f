/* Unit tests for cpu/csr: the mip view of interrupt lines set by other
 * threads, and what csrrs/csrrc modify (mip.SEIP: only the software bit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "cpu/csr.h"
#include "cpu/hart.h"

static struct hart *new_hart(uint8_t **ram)
{
    *ram = aligned_alloc(4096, 1 << 20);
    struct hart_config cfg = { .mem = { .host = *ram, .base = 0x80000000ull, .size = 1 << 20 } };
    struct hart *h;
    assert_int_equal(hart_create(&h, &cfg, NULL), 0);
    return h;
}

static void seip_line_is_read_but_not_latched(void **state)
{
    (void)state;
    uint8_t *ram;
    struct hart *h = new_hart(&ram);
    uint64_t v;
    hart_set_irq(h, MIP_SEIP, 1);            /* the PLIC raises the line */
    assert_int_equal(csr_read(h, CSR_MIP, &v), 0);
    assert_true(v & MIP_SEIP);
    /* csrrs mip, SSIP (what firmware does to pass an IPI on) */
    uint64_t n = csr_rmw_base(h, CSR_MIP, v) | MIP_SSIP;
    assert_int_equal(csr_write(h, CSR_MIP, n), 0);
    hart_set_irq(h, MIP_SEIP, 0);            /* the line drops */
    assert_int_equal(csr_read(h, CSR_MIP, &v), 0);
    assert_false(v & MIP_SEIP);              /* not latched by the write-back */
    assert_true(v & MIP_SSIP);
    /* a plain csrw of SEIP does set the software bit */
    assert_int_equal(csr_write(h, CSR_MIP, MIP_SEIP), 0);
    assert_int_equal(csr_read(h, CSR_MIP, &v), 0);
    assert_true(v & MIP_SEIP);
    assert_int_equal(csr_rmw_base(h, CSR_MIP, v) & MIP_SEIP, MIP_SEIP);
    hart_destroy(h);
    free(ram);
}

static void ipi_posted_ssip_cleared_through_sip(void **state)
{
    (void)state;
    uint8_t *ram;
    struct hart *h = new_hart(&ram);
    uint64_t v;
    assert_int_equal(csr_write(h, CSR_MIDELEG, MIP_SSIP), 0);
    hart_set_irq(h, MIP_SSIP, 1);            /* an SBI IPI from another hart */
    assert_int_equal(csr_read(h, CSR_SIP, &v), 0);
    assert_true(v & MIP_SSIP);
    assert_int_equal(csr_write(h, CSR_SIP, 0), 0);
    assert_int_equal(csr_read(h, CSR_SIP, &v), 0);
    assert_false(v & MIP_SSIP);
    hart_destroy(h);
    free(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seip_line_is_read_but_not_latched),
        cmocka_unit_test(ipi_posted_ssip_cleared_through_sip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
