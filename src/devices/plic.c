/* The PLIC's gateways, priority arbitration and per-context claim/complete.
 * See plic.h. */
#include "devices/plic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NWORDS ((PLIC_NDEV + 1 + 31) / 32)

#define MIP_SEIP_BIT (1ull << 9)
#define MIP_MEIP_BIT (1ull << 11)

#define OFF_PENDING 0x1000u
#define OFF_ENABLE 0x2000u
#define ENABLE_STRIDE 0x80u
#define OFF_CONTEXT 0x200000u
#define CONTEXT_STRIDE 0x1000u

struct plic_context {
    uint32_t enable[NWORDS];
    uint32_t threshold;
    int out;              /* level last pushed through set_pending */
};

struct plic {
    pthread_mutex_t lock;
    struct plic_ops ops;
    unsigned nharts, ncontexts;
    uint32_t priority[PLIC_NDEV + 1];
    uint32_t level[NWORDS];     /* the devices' lines */
    uint32_t pending[NWORDS];
    uint32_t claimed[NWORDS];   /* handed out by a claim, not yet completed */
    struct plic_context *ctx;
};

/* Bits of word w that name real sources: 1..PLIC_NDEV (never 0). */
static uint32_t valid_mask(unsigned w)
{
    uint32_t m = 0;
    for (unsigned b = 0; b < 32; b++) {
        unsigned s = w * 32 + b;
        if (s >= 1 && s <= PLIC_NDEV)
            m |= 1u << b;
    }
    return m;
}

/* The source a claim by context c would get now, or 0. */
static unsigned best_source(const struct plic *p, unsigned c)
{
    const struct plic_context *x = &p->ctx[c];
    unsigned best = 0;
    uint32_t best_prio = x->threshold;   /* must be strictly above it */
    for (unsigned w = 0; w < NWORDS; w++) {
        uint32_t cand = p->pending[w] & x->enable[w];
        while (cand) {
            unsigned b = (unsigned)__builtin_ctz(cand);
            cand &= cand - 1;
            unsigned s = w * 32 + b;
            /* Ascending ids and a strict comparison: ties go to the lowest. */
            if (p->priority[s] > best_prio) {
                best_prio = p->priority[s];
                best = s;
            }
        }
    }
    return best;
}

static void update_outputs(struct plic *p)
{
    for (unsigned c = 0; c < p->ncontexts; c++) {
        int level = best_source(p, c) != 0;
        if (level == p->ctx[c].out)
            continue;
        p->ctx[c].out = level;
        if (p->ops.set_pending)
            p->ops.set_pending(p->ops.opaque, c / 2, (c & 1) ? MIP_SEIP_BIT : MIP_MEIP_BIT, level);
    }
}

static int bit(const uint32_t *words, unsigned s)
{
    return (words[s / 32] >> (s % 32)) & 1;
}

static void set_bit(uint32_t *words, unsigned s, int v)
{
    if (v)
        words[s / 32] |= 1u << (s % 32);
    else
        words[s / 32] &= ~(1u << (s % 32));
}

void plic_set_level(struct plic *p, unsigned source, int level)
{
    if (source < 1 || source > PLIC_NDEV)
        return;
    pthread_mutex_lock(&p->lock);
    set_bit(p->level, source, level != 0);
    /* Level-triggered gateway: a claimed source waits for its complete; a
     * line that drops takes its request back. */
    if (!level)
        set_bit(p->pending, source, 0);
    else if (!bit(p->claimed, source))
        set_bit(p->pending, source, 1);
    update_outputs(p);
    pthread_mutex_unlock(&p->lock);
}

void plic_irq_set(void *opaque, unsigned source, int level)
{
    plic_set_level(opaque, source, level);
}

static uint32_t claim(struct plic *p, unsigned c)
{
    unsigned s = best_source(p, c);
    if (s) {
        set_bit(p->pending, s, 0);
        set_bit(p->claimed, s, 1);
        update_outputs(p);
    }
    return s;
}

static void complete(struct plic *p, unsigned c, uint32_t s)
{
    /* Spec: a completion for a source not enabled for this context (or
     * never claimed) is silently ignored. */
    if (s < 1 || s > PLIC_NDEV || !bit(p->ctx[c].enable, s) || !bit(p->claimed, s))
        return;
    set_bit(p->claimed, s, 0);
    if (bit(p->level, s))
        set_bit(p->pending, s, 1);
    update_outputs(p);
}

/* Decodes an aligned 32-bit register. Returns a pointer to it for plain
 * storage registers, NULL otherwise; *context is set for the per-context
 * window (threshold at +0, claim at +4), else -1. */
static uint32_t *decode(struct plic *p, uint64_t off, long *context, unsigned *reg)
{
    *context = -1;
    if (off < OFF_PENDING) {
        uint64_t s = off / 4;
        return (s >= 1 && s <= PLIC_NDEV) ? &p->priority[s] : NULL;
    }
    if (off < OFF_ENABLE) {
        uint64_t w = (off - OFF_PENDING) / 4;
        return w < NWORDS ? &p->pending[w] : NULL;
    }
    if (off < OFF_CONTEXT) {
        uint64_t c = (off - OFF_ENABLE) / ENABLE_STRIDE;
        uint64_t w = (off % ENABLE_STRIDE) / 4;
        return (c < p->ncontexts && w < NWORDS) ? &p->ctx[c].enable[w] : NULL;
    }
    uint64_t c = (off - OFF_CONTEXT) / CONTEXT_STRIDE;
    if (c < p->ncontexts) {
        *context = (long)c;
        *reg = (unsigned)(off % CONTEXT_STRIDE);
    }
    return NULL;
}

static uint64_t plic_read(void *opaque, uint64_t offset, unsigned size)
{
    struct plic *p = opaque;
    if (size != 4 || (offset & 3) || offset >= PLIC_MMIO_SIZE)
        return 0;
    long c;
    unsigned reg = 0;
    uint32_t v = 0;
    pthread_mutex_lock(&p->lock);
    uint32_t *r = decode(p, offset, &c, &reg);
    if (r)
        v = *r;
    else if (c >= 0 && reg == 0)
        v = p->ctx[c].threshold;
    else if (c >= 0 && reg == 4)
        v = claim(p, (unsigned)c);
    pthread_mutex_unlock(&p->lock);
    return v;
}

static void plic_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct plic *p = opaque;
    if (size != 4 || (offset & 3) || offset >= PLIC_MMIO_SIZE)
        return;
    uint32_t v = (uint32_t)value;
    long c;
    unsigned reg = 0;
    pthread_mutex_lock(&p->lock);
    uint32_t *r = decode(p, offset, &c, &reg);
    if (offset < OFF_PENDING) {
        if (r)
            *r = v & PLIC_MAX_PRIORITY;
    } else if (offset < OFF_ENABLE) {
        /* pending bits are read-only: only gateways and claims move them */
    } else if (r) {
        *r = v & valid_mask((unsigned)((offset % ENABLE_STRIDE) / 4));
    } else if (c >= 0 && reg == 0) {
        p->ctx[c].threshold = v & PLIC_MAX_PRIORITY;
    } else if (c >= 0 && reg == 4) {
        complete(p, (unsigned)c, v);
    }
    update_outputs(p);
    pthread_mutex_unlock(&p->lock);
}

const struct mmio_ops plic_mmio_ops = {
    .read = plic_read,
    .write = plic_write,
};

int plic_create(struct plic **out, unsigned nharts, const struct plic_ops *ops,
                struct errmsg *e)
{
    *out = NULL;
    if (nharts < 1 || nharts > PLIC_MAX_HARTS)
        return errmsg_set(e, -EINVAL, "plic: %u harts: expected 1 to %u", nharts, PLIC_MAX_HARTS);
    struct plic *p = calloc(1, sizeof *p);
    if (!p)
        return errmsg_set(e, -ENOMEM, "plic: out of memory");
    p->nharts = nharts;
    p->ncontexts = 2 * nharts;
    p->ctx = calloc(p->ncontexts, sizeof *p->ctx);
    int rc = p->ctx ? pthread_mutex_init(&p->lock, NULL) : ENOMEM;
    if (rc) {
        free(p->ctx);
        free(p);
        return errmsg_set(e, -rc, "plic: out of memory");
    }
    if (ops)
        p->ops = *ops;
    *out = p;
    return 0;
}

void plic_destroy(struct plic *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p->ctx);
    free(p);
}

#define SNAP_VERSION 1u

int plic_save(struct plic *p, struct snap_writer *w)
{
    pthread_mutex_lock(&p->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u32(w, p->nharts);
    for (unsigned s = 1; s <= PLIC_NDEV; s++)
        snapw_u8(w, (uint8_t)p->priority[s]);
    for (unsigned k = 0; k < NWORDS; k++) {
        snapw_u32(w, p->level[k]);
        snapw_u32(w, p->pending[k]);
        snapw_u32(w, p->claimed[k]);
    }
    for (unsigned c = 0; c < p->ncontexts; c++) {
        for (unsigned k = 0; k < NWORDS; k++)
            snapw_u32(w, p->ctx[c].enable[k]);
        snapw_u8(w, (uint8_t)p->ctx[c].threshold);
    }
    pthread_mutex_unlock(&p->lock);
    return w->err;
}

int plic_load(struct plic *p, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "plic: state version %u, expected %u", version, SNAP_VERSION);
    uint32_t nharts = snapr_u32(r);
    if (!r->err && nharts != p->nharts)
        return errmsg_set(e, -EINVAL, "plic: state is for %u harts, this PLIC has %u", nharts, p->nharts);
    uint32_t priority[PLIC_NDEV + 1] = {0};
    uint32_t level[NWORDS], pending[NWORDS], claimed[NWORDS];
    for (unsigned s = 1; s <= PLIC_NDEV; s++)
        priority[s] = snapr_u8(r);
    for (unsigned k = 0; k < NWORDS; k++) {
        level[k] = snapr_u32(r);
        pending[k] = snapr_u32(r);
        claimed[k] = snapr_u32(r);
    }
    /* Bounded by the PLIC_MAX_HARTS checked at create: no allocation. */
    struct plic_context ctx[2 * PLIC_MAX_HARTS];
    memset(ctx, 0, sizeof ctx);
    for (unsigned c = 0; c < p->ncontexts; c++) {
        for (unsigned k = 0; k < NWORDS; k++)
            ctx[c].enable[k] = snapr_u32(r);
        ctx[c].threshold = snapr_u8(r);
    }
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "plic: state is truncated or malformed (read %zu of %zu bytes)", r->pos, r->len);
    for (unsigned s = 1; s <= PLIC_NDEV; s++)
        if (priority[s] > PLIC_MAX_PRIORITY)
            return errmsg_set(e, -EINVAL, "plic: source %u: priority %u is above %u", s, priority[s], PLIC_MAX_PRIORITY);
    for (unsigned k = 0; k < NWORDS; k++) {
        uint32_t bad = (level[k] | pending[k] | claimed[k]) & ~valid_mask(k);
        if (bad)
            return errmsg_set(e, -EINVAL, "plic: line, pending or claimed bits 0x%08x of word %u name no source", bad, k);
        /* The gateways keep a source pending exactly while its line is
         * high and it is not claimed. */
        if (pending[k] != (level[k] & ~claimed[k]))
            return errmsg_set(e, -EINVAL, "plic: pending bits 0x%08x of word %u disagree with levels 0x%08x and claims 0x%08x",
                              pending[k], k, level[k], claimed[k]);
    }
    for (unsigned c = 0; c < p->ncontexts; c++) {
        if (ctx[c].threshold > PLIC_MAX_PRIORITY)
            return errmsg_set(e, -EINVAL, "plic: context %u: threshold %u is above %u", c, ctx[c].threshold, PLIC_MAX_PRIORITY);
        for (unsigned k = 0; k < NWORDS; k++)
            if (ctx[c].enable[k] & ~valid_mask(k))
                return errmsg_set(e, -EINVAL, "plic: context %u: enable bits 0x%08x of word %u name no source",
                                  c, ctx[c].enable[k], k);
    }

    pthread_mutex_lock(&p->lock);
    memcpy(p->priority, priority, sizeof priority);
    memcpy(p->level, level, sizeof level);
    memcpy(p->pending, pending, sizeof pending);
    memcpy(p->claimed, claimed, sizeof claimed);
    for (unsigned c = 0; c < p->ncontexts; c++) {
        memcpy(p->ctx[c].enable, ctx[c].enable, sizeof ctx[c].enable);
        p->ctx[c].threshold = ctx[c].threshold;
        /* The opposite of the real level, so update_outputs pushes every
         * context: the harts are restored on their own. */
        p->ctx[c].out = best_source(p, c) == 0;
    }
    update_outputs(p);
    pthread_mutex_unlock(&p->lock);
    return 0;
}
