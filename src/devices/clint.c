/* CLINT registers, the 10 MHz platform clock and MTIP evaluation. See
 * clint.h. */
#include "devices/clint.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define MIP_MSIP_BIT (1ull << 3)
#define MIP_MTIP_BIT (1ull << 7)

#define OFF_MTIMECMP 0x4000u
#define OFF_MTIME 0xbff8u

#define NS_PER_TICK (1000000000ull / CLINT_FREQ_HZ)

struct clint_hart {
    uint64_t mtimecmp;
    int msip;
    int mtip;             /* level last pushed */
};

struct clint {
    pthread_mutex_t lock;
    struct clint_ops ops;
    unsigned nharts;
    uint64_t start_ns;    /* CLOCK_MONOTONIC at creation: mtime's origin */
    /* mtime = ticks since start + offset (mod 2^64). Atomic so that the
     * time can be read without the lock: harts read it while holding
     * their own wait lock, and the lock order is clint -> hart. */
    _Atomic uint64_t offset;
    /* While the VM is paused, mtime stands at this value (UINT64_MAX: it
     * runs). */
    _Atomic uint64_t frozen;
    struct clint_hart *hart;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mtime_at(const struct clint *c, uint64_t now_ns)
{
    uint64_t f = atomic_load_explicit(&c->frozen, memory_order_acquire);
    if (f != UINT64_MAX)
        return f;
    return (now_ns - c->start_ns) / NS_PER_TICK + atomic_load_explicit(&c->offset, memory_order_relaxed);
}

static void set_mtip(struct clint *c, unsigned h, uint64_t mtime)
{
    int level = mtime >= c->hart[h].mtimecmp;
    if (level == c->hart[h].mtip)
        return;
    c->hart[h].mtip = level;
    if (c->ops.set_pending)
        c->ops.set_pending(c->ops.opaque, h, MIP_MTIP_BIT, level);
}

static void update_all(struct clint *c)
{
    uint64_t t = mtime_at(c, mono_ns());
    for (unsigned h = 0; h < c->nharts; h++)
        set_mtip(c, h, t);
}

uint64_t clint_time(struct clint *c)
{
    return mtime_at(c, mono_ns());
}

void clint_freeze(struct clint *c)
{
    pthread_mutex_lock(&c->lock);
    if (atomic_load(&c->frozen) == UINT64_MAX) {
        uint64_t t = mtime_at(c, mono_ns());
        atomic_store(&c->frozen, t);
    }
    pthread_mutex_unlock(&c->lock);
}

void clint_thaw(struct clint *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t f = atomic_load(&c->frozen);
    if (f != UINT64_MAX) {
        /* Carry on from where time stood: the pause never happened. */
        atomic_store(&c->offset, f - (mono_ns() - c->start_ns) / NS_PER_TICK);
        atomic_store(&c->frozen, UINT64_MAX);
    }
    pthread_mutex_unlock(&c->lock);
}

uint64_t clint_time_read(void *opaque)
{
    return clint_time(opaque);
}

void clint_update(struct clint *c)
{
    pthread_mutex_lock(&c->lock);
    update_all(c);
    pthread_mutex_unlock(&c->lock);
}

uint64_t clint_next_deadline(struct clint *c, unsigned hart)
{
    if (hart >= c->nharts)
        return UINT64_MAX;
    pthread_mutex_lock(&c->lock);
    uint64_t now = mono_ns();
    uint64_t cmp = c->hart[hart].mtimecmp;
    uint64_t t = mtime_at(c, now);
    uint64_t deadline;
    if (cmp == UINT64_MAX) {
        deadline = UINT64_MAX;   /* the reset value: software means "never" */
    } else if (t >= cmp) {
        deadline = now;
    } else {
        /* mtime reaches cmp at the first tick boundary where ticks since
         * start = (now's ticks) + (cmp - t); computed from the boundary so
         * a sleeper never wakes a fraction of a tick early. */
        uint64_t ticks = (now - c->start_ns) / NS_PER_TICK;
        uint64_t delta = cmp - t;
        if (delta > (UINT64_MAX - c->start_ns) / NS_PER_TICK - ticks)
            deadline = UINT64_MAX;
        else
            deadline = c->start_ns + (ticks + delta) * NS_PER_TICK;
    }
    pthread_mutex_unlock(&c->lock);
    return deadline;
}

/* Merges a 4- or 8-byte write at byte `shift` (0 or 4) into a 64-bit
 * register. */
static uint64_t merge(uint64_t old, uint64_t value, unsigned size, unsigned shift)
{
    if (size == 8)
        return value;
    uint64_t mask = 0xffffffffull << (shift * 8);
    return (old & ~mask) | ((value & 0xffffffffull) << (shift * 8));
}

static int valid_wide(uint64_t offset, unsigned size)
{
    return (size == 4 && !(offset & 3)) || (size == 8 && !(offset & 7));
}

static uint64_t clint_read(void *opaque, uint64_t offset, unsigned size)
{
    struct clint *c = opaque;
    uint64_t v = 0;
    pthread_mutex_lock(&c->lock);
    if (offset < OFF_MTIMECMP) {
        uint64_t h = offset / 4;
        if (size == 4 && !(offset & 3) && h < c->nharts)
            v = (uint64_t)c->hart[h].msip;
    } else if (offset < OFF_MTIME) {
        uint64_t h = (offset - OFF_MTIMECMP) / 8;
        if (valid_wide(offset, size) && h < c->nharts) {
            v = c->hart[h].mtimecmp >> ((offset & 4) * 8);
            if (size == 4)
                v &= 0xffffffffull;
        }
    } else if (offset < OFF_MTIME + 8 && valid_wide(offset, size)) {
        v = mtime_at(c, mono_ns()) >> ((offset & 4) * 8);
        if (size == 4)
            v &= 0xffffffffull;
    }
    pthread_mutex_unlock(&c->lock);
    return v;
}

static void clint_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct clint *c = opaque;
    pthread_mutex_lock(&c->lock);
    if (offset < OFF_MTIMECMP) {
        uint64_t h = offset / 4;
        if (size == 4 && !(offset & 3) && h < c->nharts) {
            int level = value & 1;
            if (level != c->hart[h].msip) {
                c->hart[h].msip = level;
                if (c->ops.set_pending)
                    c->ops.set_pending(c->ops.opaque, (unsigned)h, MIP_MSIP_BIT, level);
            }
        }
    } else if (offset < OFF_MTIME) {
        uint64_t h = (offset - OFF_MTIMECMP) / 8;
        if (valid_wide(offset, size) && h < c->nharts) {
            struct clint_hart *x = &c->hart[h];
            x->mtimecmp = merge(x->mtimecmp, value, size, (unsigned)(offset & 4));
            if (c->ops.mtimecmp_changed)
                c->ops.mtimecmp_changed(c->ops.opaque, (unsigned)h, x->mtimecmp);
            set_mtip(c, (unsigned)h, mtime_at(c, mono_ns()));
        }
    } else if (offset < OFF_MTIME + 8 && valid_wide(offset, size)) {
        uint64_t now = mono_ns();
        uint64_t t = merge(mtime_at(c, now), value, size, (unsigned)(offset & 4));
        atomic_store_explicit(&c->offset, t - (now - c->start_ns) / NS_PER_TICK, memory_order_relaxed);
        update_all(c);
    }
    pthread_mutex_unlock(&c->lock);
}

const struct mmio_ops clint_mmio_ops = {
    .read = clint_read,
    .write = clint_write,
};

int clint_create(struct clint **out, unsigned nharts, const struct clint_ops *ops,
                 struct errmsg *e)
{
    *out = NULL;
    if (nharts < 1 || nharts > CLINT_MAX_HARTS)
        return errmsg_set(e, -EINVAL, "clint: %u harts: expected 1 to %u", nharts, CLINT_MAX_HARTS);
    struct clint *c = calloc(1, sizeof *c);
    if (!c)
        return errmsg_set(e, -ENOMEM, "clint: out of memory");
    c->hart = calloc(nharts, sizeof *c->hart);
    int rc = c->hart ? pthread_mutex_init(&c->lock, NULL) : ENOMEM;
    if (rc) {
        free(c->hart);
        free(c);
        return errmsg_set(e, -rc, "clint: out of memory");
    }
    c->nharts = nharts;
    /* mtimecmp has no architectural reset value; all-ones keeps MTIP low
     * until software programs it, matching the hart's own default. */
    for (unsigned h = 0; h < nharts; h++)
        c->hart[h].mtimecmp = UINT64_MAX;
    if (ops)
        c->ops = *ops;
    atomic_init(&c->frozen, UINT64_MAX);
    c->start_ns = mono_ns();
    *out = c;
    return 0;
}

void clint_destroy(struct clint *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->hart);
    free(c);
}

#define SNAP_VERSION 1u

int clint_save(struct clint *c, struct snap_writer *w)
{
    pthread_mutex_lock(&c->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u32(w, c->nharts);
    snapw_u64(w, mtime_at(c, mono_ns()));
    for (unsigned h = 0; h < c->nharts; h++) {
        snapw_u8(w, (uint8_t)c->hart[h].msip);
        snapw_u64(w, c->hart[h].mtimecmp);
    }
    pthread_mutex_unlock(&c->lock);
    return w->err;
}

int clint_load(struct clint *c, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "clint: state version %u, expected %u", version, SNAP_VERSION);
    uint32_t nharts = snapr_u32(r);
    if (!r->err && nharts != c->nharts)
        return errmsg_set(e, -EINVAL, "clint: state is for %u harts, this CLINT has %u", nharts, c->nharts);
    uint64_t mtime = snapr_u64(r);
    uint8_t msip[CLINT_MAX_HARTS];
    uint64_t cmp[CLINT_MAX_HARTS];
    for (unsigned h = 0; h < c->nharts; h++) {
        msip[h] = snapr_u8(r);
        cmp[h] = snapr_u64(r);
    }
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "clint: state is truncated or malformed (read %zu of %zu bytes)", r->pos, r->len);
    for (unsigned h = 0; h < c->nharts; h++)
        if (msip[h] > 1)
            return errmsg_set(e, -EINVAL, "clint: hart %u: msip %u, expected 0 or 1", h, msip[h]);

    pthread_mutex_lock(&c->lock);
    /* Any 64-bit mtime is one the guest could have written, and the clock
     * wraps like the register does. */
    if (atomic_load(&c->frozen) != UINT64_MAX)
        atomic_store(&c->frozen, mtime);
    else
        atomic_store(&c->offset, mtime - (mono_ns() - c->start_ns) / NS_PER_TICK);
    for (unsigned h = 0; h < c->nharts; h++) {
        c->hart[h].msip = msip[h];
        c->hart[h].mtimecmp = cmp[h]; /* the register; the harts restore their own copy */
        /* Pushed whatever the level: the harts are restored on their own. */
        if (c->ops.set_pending)
            c->ops.set_pending(c->ops.opaque, h, MIP_MSIP_BIT, msip[h]);
    }
    update_all(c);
    pthread_mutex_unlock(&c->lock);
    return 0;
}
