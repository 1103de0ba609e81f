/* Split virtqueue, device side: chain parsing with every check a hostile
 * guest needs, used ring updates and notification suppression. See virtq.h. */
#include "devices/virtq.h"

#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

/* Ring layout (spec 2.7): a descriptor is 16 bytes; avail is flags, idx,
 * ring[size], used_event; used is flags, idx, ring[size] of {id, len},
 * avail_event. All little-endian. */
#define DESC_SIZE 16u
#define AVAIL_RING 4u
#define USED_RING 4u
#define USED_ELEM 8u

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

/* Ring fields are shared with driver threads: they are accessed as C11
 * atomics. virtq_start's alignment checks make every such field naturally
 * aligned, which is what _Atomic uint16_t needs. */
static uint16_t ld16(uint8_t *p, memory_order mo)
{
    return le16toh(atomic_load_explicit((_Atomic uint16_t *)(void *)p, mo));
}

static void st16(uint8_t *p, uint16_t v, memory_order mo)
{
    atomic_store_explicit((_Atomic uint16_t *)(void *)p, htole16(v), mo);
}

static void st32(uint8_t *p, uint32_t v)
{
    atomic_store_explicit((_Atomic uint32_t *)(void *)p, htole32(v), memory_order_relaxed);
}

/* Copies the descriptor once; everything after works on the copy. */
static struct desc load_desc(const uint8_t *table, uint32_t i)
{
    uint8_t raw[DESC_SIZE];
    memcpy(raw, table + (size_t)i * DESC_SIZE, DESC_SIZE);
    struct desc d;
    uint64_t a;
    uint32_t l;
    uint16_t f, n;
    memcpy(&a, raw, 8);
    memcpy(&l, raw + 8, 4);
    memcpy(&f, raw + 12, 2);
    memcpy(&n, raw + 14, 2);
    d.addr = le64toh(a);
    d.len = le32toh(l);
    d.flags = le16toh(f);
    d.next = le16toh(n);
    return d;
}

static void *ring_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align,
                      const char *what, struct errmsg *e, int *rc)
{
    if (gpa & (align - 1)) {
        *rc = errmsg_set(e, -EINVAL, "virtqueue %s address 0x%llx is not %llu-byte aligned",
                         what, (unsigned long long)gpa, (unsigned long long)align);
        return NULL;
    }
    void *p = guest_mem_ptr(mem, gpa, len);
    if (!p)
        *rc = errmsg_set(e, -EINVAL, "virtqueue %s [0x%llx, +0x%llx) is not inside guest RAM",
                         what, (unsigned long long)gpa, (unsigned long long)len);
    return p;
}

int virtq_start(struct virtq *q, const struct guest_mem *mem, uint16_t size,
                uint64_t desc_gpa, uint64_t avail_gpa, uint64_t used_gpa,
                bool event_idx, bool indirect, struct errmsg *e)
{
    int rc = 0;
    memset(q, 0, sizeof *q);
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return errmsg_set(e, -EINVAL, "virtqueue size %u is not a power of two in 1..%u",
                          size, VIRTQ_MAX_SIZE);
    /* The event fields exist whether or not EVENT_IDX is negotiated: the
     * spec sizes both rings with them. */
    uint8_t *d = ring_ptr(mem, desc_gpa, (uint64_t)size * DESC_SIZE, 16, "descriptor table", e, &rc);
    if (!d)
        return rc;
    uint8_t *a = ring_ptr(mem, avail_gpa, AVAIL_RING + 2ull * size + 2, 2, "driver (avail) ring", e, &rc);
    if (!a)
        return rc;
    uint8_t *u = ring_ptr(mem, used_gpa, USED_RING + (uint64_t)USED_ELEM * size + 2, 4,
                          "device (used) ring", e, &rc);
    if (!u)
        return rc;
    q->mem = *mem;
    q->size = size;
    q->event_idx = event_idx;
    q->indirect = indirect;
    q->desc_gpa = desc_gpa;
    q->avail_gpa = avail_gpa;
    q->used_gpa = used_gpa;
    q->desc = d;
    q->avail = a;
    q->used = u;
    /* The driver zeroes the used ring before QueueReady; idx starts at 0 on
     * both sides. We keep our own copies and never trust the ring's. */
    q->last_avail = 0;
    q->used_idx = 0;
    q->checked_used = 0;
    return 0;
}

static uint8_t *avail_event_field(struct virtq *q)
{
    return q->used + USED_RING + (size_t)USED_ELEM * q->size;
}

static uint8_t *used_event_field(struct virtq *q)
{
    return q->avail + AVAIL_RING + 2u * q->size;
}

/* Walks the chain starting at head; see the checks in virtq.h. */
static int walk_chain(struct virtq *q, struct virtq_chain *c, uint16_t head, struct errmsg *e)
{
    const uint8_t *table = q->desc;
    uint32_t table_size = q->size;
    uint32_t i = head;
    uint32_t visited = 0;      /* descriptors visited in the current table */
    bool in_indirect = false;

    for (;;) {
        /* A correct chain visits each descriptor of a table at most once, so
         * more visits than the table has entries means a loop. */
        if (++visited > table_size)
            return errmsg_set(e, -EINVAL, in_indirect
                       ? "indirect descriptor table chain is longer than its %u entries (loop)"
                       : "descriptor chain is longer than the queue size %u (loop)", table_size);
        struct desc d = load_desc(table, i);

        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (!q->indirect)
                return errmsg_set(e, -EINVAL, "descriptor %u is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated", i);
            if (in_indirect)
                return errmsg_set(e, -EINVAL, "indirect descriptor %u inside an indirect table (nesting is forbidden)", i);
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return errmsg_set(e, -EINVAL, "descriptor %u has both INDIRECT and NEXT", i);
            if (d.len == 0 || d.len % DESC_SIZE)
                return errmsg_set(e, -EINVAL, "indirect table length %u is not a non-zero multiple of 16", d.len);
            const uint8_t *t = guest_mem_ptr(&q->mem, d.addr, d.len);
            if (!t)
                return errmsg_set(e, -EINVAL, "indirect table of descriptor %u is not inside guest RAM", i);
            table = t;
            table_size = d.len / DESC_SIZE;
            in_indirect = true;
            i = 0;
            visited = 0;
            continue;
        }

        bool writable = d.flags & VIRTQ_DESC_F_WRITE;
        if (d.len) {
            void *p = guest_mem_ptr(&q->mem, d.addr, d.len);
            if (!p)
                return errmsg_set(e, -EINVAL, "buffer of descriptor %u is not inside guest RAM "
                           "(address outside RAM or length wraps)", i);
            if (!writable && c->n_writable)
                return errmsg_set(e, -EINVAL, "device-readable descriptor %u after a device-writable one", i);
            if (c->n_readable + c->n_writable >= VIRTQ_CHAIN_MAX)
                return errmsg_set(e, -EINVAL, "descriptor chain has more than %u buffers", VIRTQ_CHAIN_MAX);
            struct virtq_seg *s = &c->seg[c->n_readable + c->n_writable];
            s->host = p;
            s->gpa = d.addr;
            s->len = d.len;
            if (writable) {
                c->n_writable++;
                c->writable_len += d.len;
            } else {
                c->n_readable++;
                c->readable_len += d.len;
            }
        } else if (!writable && c->n_writable) {
            return errmsg_set(e, -EINVAL, "device-readable descriptor %u after a device-writable one", i);
        }

        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        if (d.next >= table_size)
            return errmsg_set(e, -EINVAL, "descriptor next index %u is out of range", d.next);
        i = d.next;
    }
}

void virtq_set_indices(struct virtq *q, uint16_t last_avail, uint16_t used_idx, uint16_t checked_used)
{
    q->last_avail = last_avail;
    q->used_idx = used_idx;
    q->checked_used = checked_used;
}

int virtq_chain_at(struct virtq *q, uint16_t head, struct virtq_chain *c, struct errmsg *e)
{
    c->head = head;
    c->n_readable = c->n_writable = 0;
    c->readable_len = c->writable_len = 0;
    if (head >= q->size)
        return errmsg_set(e, -EINVAL, "head descriptor index %u is not below the queue size %u",
                          head, q->size);
    return walk_chain(q, c, head, e);
}

int virtq_pop(struct virtq *q, struct virtq_chain *c, struct errmsg *e)
{
    uint8_t *idx_field = q->avail + 2;
    /* acquire: the ring entries and descriptors the driver wrote before
     * publishing idx are visible once we see the new idx. */
    uint16_t avail_idx = ld16(idx_field, memory_order_acquire);
    if (avail_idx == q->last_avail) {
        if (!q->event_idx)
            return 0;
        /* Ask for a kick when the driver adds the next buffer, then look
         * again: the driver may have added one before it saw avail_event,
         * and it would not kick for it. The seq_cst fence orders our store
         * before our load, pairing with the driver's barrier. */
        st16(avail_event_field(q), q->last_avail, memory_order_relaxed);
        guest_mem_written(&q->mem, q->used_gpa + USED_RING + (uint64_t)USED_ELEM * q->size, 2);
        atomic_thread_fence(memory_order_seq_cst);
        avail_idx = ld16(idx_field, memory_order_acquire);
        if (avail_idx == q->last_avail)
            return 0;
    }
    uint16_t pending = (uint16_t)(avail_idx - q->last_avail);
    if (pending > q->size)
        return errmsg_set(e, -EINVAL, "driver ring index moved by %u entries, more than the queue size %u",
                          pending, q->size);

    uint16_t head = ld16(q->avail + AVAIL_RING + 2u * (q->last_avail % q->size), memory_order_relaxed);
    q->last_avail++;
    int rc = virtq_chain_at(q, head, c, e);
    return rc < 0 ? rc : 1;
}

void virtq_unpop(struct virtq *q)
{
    q->last_avail--;
}

void virtq_push(struct virtq *q, const struct virtq_chain *c, uint32_t written)
{
    if (written > c->writable_len)
        written = (uint32_t)c->writable_len;
    /* Report the bytes written into guest buffers to the dirty-page hook. */
    uint64_t left = written;
    for (unsigned k = 0; k < c->n_writable && left; k++) {
        const struct virtq_seg *s = &c->seg[c->n_readable + k];
        uint64_t n = left < s->len ? left : s->len;
        guest_mem_written(&q->mem, s->gpa, n);
        left -= n;
    }
    uint16_t slot = q->used_idx % q->size;
    uint8_t *elem = q->used + USED_RING + (size_t)USED_ELEM * slot;
    st32(elem, c->head);
    st32(elem + 4, written);
    guest_mem_written(&q->mem, q->used_gpa + USED_RING + (uint64_t)USED_ELEM * slot, USED_ELEM);
    q->used_idx++;
    /* release: the element and the buffer contents are visible to a driver
     * that sees the new idx. */
    st16(q->used + 2, q->used_idx, memory_order_release);
    guest_mem_written(&q->mem, q->used_gpa + 2, 2);
}

bool virtq_need_interrupt(struct virtq *q)
{
    /* Order the used idx store before reading the driver's suppression
     * fields; otherwise we could read a stale used_event and skip an
     * interrupt the driver is waiting for. */
    atomic_thread_fence(memory_order_seq_cst);
    uint16_t old = q->checked_used, now = q->used_idx;
    q->checked_used = now;
    if (old == now)
        return false;
    if (q->event_idx) {
        /* Interrupt iff used_event lies in [old, now): the driver asked to
         * hear about the entry at used_event and it was published since the
         * last check (spec 2.7.10, vring_need_event). */
        uint16_t ev = ld16(used_event_field(q), memory_order_relaxed);
        return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
    }
    return !(ld16(q->avail, memory_order_relaxed) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

static size_t chain_copy(const struct virtq_chain *c, bool writable, uint64_t offset,
                         void *buf, size_t len, bool to_guest)
{
    unsigned first = writable ? c->n_readable : 0;
    unsigned n = writable ? c->n_writable : c->n_readable;
    size_t done = 0;
    for (unsigned k = 0; k < n && done < len; k++) {
        const struct virtq_seg *s = &c->seg[first + k];
        if (offset >= s->len) {
            offset -= s->len;
            continue;
        }
        size_t chunk = s->len - offset;
        if (chunk > len - done)
            chunk = len - done;
        if (to_guest)
            memcpy((uint8_t *)s->host + offset, (const uint8_t *)buf + done, chunk);
        else
            memcpy((uint8_t *)buf + done, (const uint8_t *)s->host + offset, chunk);
        done += chunk;
        offset = 0;
    }
    return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *buf, size_t len)
{
    return chain_copy(c, false, offset, buf, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *buf, size_t len)
{
    return chain_copy(c, true, offset, (void *)buf, len, true);
}

int virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t offset, uint64_t len,
                    struct iovec *iov, int max)
{
    unsigned first = writable ? c->n_readable : 0;
    unsigned n = writable ? c->n_writable : c->n_readable;
    int cnt = 0;
    for (unsigned k = 0; k < n && len; k++) {
        const struct virtq_seg *s = &c->seg[first + k];
        if (offset >= s->len) {
            offset -= s->len;
            continue;
        }
        uint64_t chunk = s->len - offset;
        if (chunk > len)
            chunk = len;
        if (cnt == max)
            return -1;
        iov[cnt].iov_base = (uint8_t *)s->host + offset;
        iov[cnt].iov_len = chunk;
        cnt++;
        len -= chunk;
        offset = 0;
    }
    return len ? -1 : cnt;
}
