/* minnow's SBI: decoding, validation and counting of guest hypercalls. The
 * actions themselves are the board's, through struct sbi_ops. */
#include "machine/sbi.h"

#include <string.h>

void sbi_init(struct sbi *sbi, const struct sbi_ops *ops, unsigned nharts)
{
    memset(sbi, 0, sizeof *sbi);
    sbi->ops = *ops;
    sbi->nharts = nharts;
}

static struct sbi_ret ok(uint64_t value) { return (struct sbi_ret){ .error = SBI_SUCCESS, .value = value }; }
static struct sbi_ret err(int64_t e) { return (struct sbi_ret){ .error = e }; }

static uint64_t all_harts(const struct sbi *sbi)
{
    return sbi->nharts >= 64 ? ~0ull : (1ull << sbi->nharts) - 1;
}

/* hart_mask/hart_mask_base as the spec defines them: base -1 means every
 * hart; otherwise bit i of the mask is hart base+i, each of which must exist. */
static int resolve_targets(const struct sbi *sbi, uint64_t mask, uint64_t base, uint64_t *out)
{
    if (base == UINT64_MAX) {
        *out = all_harts(sbi);
        return SBI_SUCCESS;
    }
    uint64_t t = 0;
    for (unsigned i = 0; i < 64 && mask; i++, mask >>= 1) {
        if (!(mask & 1))
            continue;
        if (base >= sbi->nharts || i >= sbi->nharts - base)
            return SBI_ERR_INVALID_PARAM;
        t |= 1ull << (base + i);
    }
    *out = t;
    return SBI_SUCCESS;
}

static int extension_present(uint64_t ext)
{
    switch (ext) {
    case SBI_EXT_BASE: case SBI_EXT_TIME: case SBI_EXT_IPI: case SBI_EXT_RFENCE:
    case SBI_EXT_HSM: case SBI_EXT_SRST: case SBI_EXT_DBCN:
    case SBI_EXT_LEGACY_SET_TIMER: case SBI_EXT_LEGACY_PUTCHAR:
    case SBI_EXT_LEGACY_GETCHAR: case SBI_EXT_LEGACY_SHUTDOWN:
        return 1;
    default:
        return 0;
    }
}

static struct sbi_ret base_call(uint64_t fid, const uint64_t a[6])
{
    switch (fid) {
    case 0: return ok(SBI_SPEC_VERSION);
    case 1: return ok(SBI_IMPL_ID_MINNOW);
    case 2: return ok(1);                       /* implementation version */
    case 3: return ok(extension_present(a[0]));
    case 4: case 5: case 6: return ok(0);       /* mvendorid, marchid, mimpid */
    default: return err(SBI_ERR_NOT_SUPPORTED);
    }
}

static struct sbi_ret rfence_call(struct sbi *sbi, unsigned hart, uint64_t fid, const uint64_t a[6])
{
    static const enum sbi_fence kinds[] = {SBI_FENCE_I, SBI_FENCE_VMA, SBI_FENCE_VMA_ASID};
    if (fid > 2)
        return err(SBI_ERR_NOT_SUPPORTED);      /* the hfence calls need the H extension */
    uint64_t targets;
    int e = resolve_targets(sbi, a[0], a[1], &targets);
    if (e)
        return err(e);
    if (sbi->ops.remote_fence(sbi->ops.opaque, hart, targets, kinds[fid], a[2], a[3], a[4]) == SBI_RETRY)
        return (struct sbi_ret){ .retry = 1 };
    return ok(0);
}

static struct sbi_ret hsm_call(struct sbi *sbi, unsigned hart, uint64_t fid, const uint64_t a[6])
{
    switch (fid) {
    case 0:
        if (a[0] >= sbi->nharts)
            return err(SBI_ERR_INVALID_PARAM);
        return err(sbi->ops.hart_start(sbi->ops.opaque, (unsigned)a[0], a[1], a[2]));
    case 1:
        return err(sbi->ops.hart_stop(sbi->ops.opaque, hart));
    case 2:
        if (a[0] >= sbi->nharts)
            return err(SBI_ERR_INVALID_PARAM);
        return ok(sbi->ops.hart_status(sbi->ops.opaque, (unsigned)a[0]));
    case 3:
        /* Only the default retentive suspend (type 0); non-retentive
         * suspend would need a resume path, which is not offered. */
    {
        uint32_t type = (uint32_t)a[0];
        if (type == 0)
            return err(sbi->ops.hart_suspend(sbi->ops.opaque, hart));
        int reserved = (type < 0x10000000) || (type > 0x80000000 && type < 0x90000000);
        return err(reserved ? SBI_ERR_INVALID_PARAM : SBI_ERR_NOT_SUPPORTED);
    }
    default:
        return err(SBI_ERR_NOT_SUPPORTED);
    }
}

static struct sbi_ret dbcn_call(struct sbi *sbi, uint64_t fid, const uint64_t a[6])
{
    uint8_t byte;
    switch (fid) {
    case 0:
    case 1: {
        uint64_t n = a[0], addr = a[1];
        if (a[2] != 0)                          /* base_addr_hi: nothing lives above 2^64 */
            return err(SBI_ERR_INVALID_PARAM);
        if (n == 0)
            return ok(0);
        uint8_t *p = sbi->ops.guest_ram(sbi->ops.opaque, addr, n);
        if (!p)
            return err(SBI_ERR_INVALID_PARAM);
        return ok(fid == 0 ? sbi->ops.console_write(sbi->ops.opaque, p, n)
                           : sbi->ops.console_read(sbi->ops.opaque, p, n));
    }
    case 2:
        byte = (uint8_t)a[0];
        sbi->ops.console_write(sbi->ops.opaque, &byte, 1);
        return ok(0);
    default:
        return err(SBI_ERR_NOT_SUPPORTED);
    }
}

static struct sbi_ret legacy_call(struct sbi *sbi, unsigned hart, uint64_t ext, const uint64_t a[6])
{
    struct sbi_ret r = { .legacy = 1 };
    uint8_t byte;
    switch (ext) {
    case SBI_EXT_LEGACY_SET_TIMER:
        sbi->ops.set_timer(sbi->ops.opaque, hart, a[0]);
        break;
    case SBI_EXT_LEGACY_PUTCHAR:
        byte = (uint8_t)a[0];
        sbi->ops.console_write(sbi->ops.opaque, &byte, 1);
        break;
    case SBI_EXT_LEGACY_GETCHAR:
        r.error = sbi->ops.console_read(sbi->ops.opaque, &byte, 1) == 1 ? byte : -1;
        break;
    case SBI_EXT_LEGACY_SHUTDOWN:
        sbi->ops.system_reset(sbi->ops.opaque, SBI_RESET_SHUTDOWN, 0);
        break;
    default:
        r.error = SBI_ERR_NOT_SUPPORTED;
        break;
    }
    return r;
}

static enum sbi_counter counter_of(uint64_t ext)
{
    switch (ext) {
    case SBI_EXT_BASE: return SBI_COUNT_BASE;
    case SBI_EXT_TIME: return SBI_COUNT_TIME;
    case SBI_EXT_IPI: return SBI_COUNT_IPI;
    case SBI_EXT_RFENCE: return SBI_COUNT_RFENCE;
    case SBI_EXT_HSM: return SBI_COUNT_HSM;
    case SBI_EXT_SRST: return SBI_COUNT_SRST;
    case SBI_EXT_DBCN: return SBI_COUNT_DBCN;
    default: return ext <= 0xf ? SBI_COUNT_LEGACY : SBI_COUNT_UNSUPPORTED;
    }
}

static struct sbi_ret dispatch(struct sbi *sbi, unsigned hart, uint64_t ext, uint64_t fid, const uint64_t a[6]);

struct sbi_ret sbi_call(struct sbi *sbi, unsigned hart, uint64_t ext, uint64_t fid,
                        const uint64_t a[6])
{
    struct sbi_ret r = dispatch(sbi, hart, ext, fid, a);
    if (!r.retry) /* a retried call is counted once, when it is made */
        atomic_fetch_add_explicit(&sbi->calls[counter_of(ext)], 1, memory_order_relaxed);
    return r;
}

static struct sbi_ret dispatch(struct sbi *sbi, unsigned hart, uint64_t ext, uint64_t fid, const uint64_t a[6])
{
    uint64_t targets;
    int e;
    switch (ext) {
    case SBI_EXT_BASE:
        return base_call(fid, a);
    case SBI_EXT_TIME:
        if (fid != 0)
            return err(SBI_ERR_NOT_SUPPORTED);
        sbi->ops.set_timer(sbi->ops.opaque, hart, a[0]);
        return ok(0);
    case SBI_EXT_IPI:
        if (fid != 0)
            return err(SBI_ERR_NOT_SUPPORTED);
        if ((e = resolve_targets(sbi, a[0], a[1], &targets)))
            return err(e);
        sbi->ops.send_ipi(sbi->ops.opaque, targets);
        return ok(0);
    case SBI_EXT_RFENCE:
        return rfence_call(sbi, hart, fid, a);
    case SBI_EXT_HSM:
        return hsm_call(sbi, hart, fid, a);
    case SBI_EXT_SRST:
        if (fid != 0)
            return err(SBI_ERR_NOT_SUPPORTED);
    {
        uint32_t type = (uint32_t)a[0], reason = (uint32_t)a[1];
        if (type >= 0xf0000000u)
            return err(SBI_ERR_NOT_SUPPORTED);  /* vendor-specific resets */
        if (type > SBI_RESET_WARM || (reason >= 2 && reason < 0xf0000000u))
            return err(SBI_ERR_INVALID_PARAM);
    }
        sbi->ops.system_reset(sbi->ops.opaque, (enum sbi_reset)(uint32_t)a[0], (uint32_t)a[1]);
        return ok(0);
    case SBI_EXT_DBCN:
        return dbcn_call(sbi, fid, a);
    default:
        if (ext <= 0xf)
            return legacy_call(sbi, hart, ext, a);
        return err(SBI_ERR_NOT_SUPPORTED);
    }
}
