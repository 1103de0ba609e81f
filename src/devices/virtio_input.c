/* virtio-input keyboard: the config space answers, the host-side event
 * queue and its delivery into eventq buffers. See virtio_input.h.
 *
 * Locking: in->lock guards the event queue and the config selector. The
 * transport calls config_read/write and reset with its own lock held and
 * they take in->lock inside it; so nothing here holds in->lock while it
 * calls into the transport (pop, push, notify, fail, kick). */
#include "devices/virtio_input.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_VERSION 1u

struct event {
    uint16_t type, code;
    uint32_t value;
};

struct virtio_input {
    struct virtio_mmio *t;

    pthread_mutex_t lock;         /* everything up to the counters */
    uint8_t select, subsel;
    struct event q[VIRTIO_INPUT_PENDING_MAX];
    unsigned head, count;

    _Atomic uint64_t delivered, status_updates;
    struct virtq_chain chain;     /* I/O thread only */
};

_Static_assert(VIRTIO_INPUT_KEY_MAX / 8 + 1 <= VIRTIO_INPUT_CFG_UNION_SIZE, "key bitmap fits the union");
_Static_assert(sizeof VIRTIO_INPUT_NAME - 1 <= VIRTIO_INPUT_CFG_UNION_SIZE, "name fits the union");
_Static_assert(sizeof VIRTIO_INPUT_SERIAL - 1 <= VIRTIO_INPUT_CFG_UNION_SIZE, "serial fits the union");

/* ---- config space ---- */

static void put16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, 2);
}

static uint8_t put_string(uint8_t *u, const char *s)
{
    size_t n = strlen(s);
    memcpy(u, s, n);   /* no NUL: size says how long it is (spec 5.8.4) */
    return (uint8_t)n;
}

/* The union for (select, subsel) into u (zeroed by the caller); returns
 * the size field. A combination the keyboard has nothing for is size 0,
 * as the spec asks (5.8.5.1). */
static uint8_t answer(uint8_t select, uint8_t subsel, uint8_t *u)
{
    switch (select) {
    case VIRTIO_INPUT_CFG_ID_NAME:
        return subsel ? 0 : put_string(u, VIRTIO_INPUT_NAME);
    case VIRTIO_INPUT_CFG_ID_SERIAL:
        return subsel ? 0 : put_string(u, VIRTIO_INPUT_SERIAL);
    case VIRTIO_INPUT_CFG_ID_DEVIDS:
        if (subsel)
            return 0;
        put16(u, VIRTIO_INPUT_BUS_VIRTUAL);
        put16(u + 2, 0);   /* vendor: none registered; it only has to be stable */
        put16(u + 4, VIRTIO_INPUT_PRODUCT);
        put16(u + 6, VIRTIO_INPUT_VERSION);
        return 8;
    case VIRTIO_INPUT_CFG_EV_BITS:
        switch (subsel) {
        case VIRTIO_INPUT_EV_SYN:
            u[0] = 1u << VIRTIO_INPUT_SYN_REPORT;
            return 1;
        case VIRTIO_INPUT_EV_KEY:
            for (unsigned k = 1; k <= VIRTIO_INPUT_KEY_MAX; k++)
                u[k / 8] |= (uint8_t)(1u << (k % 8));
            return VIRTIO_INPUT_KEY_MAX / 8 + 1;
        case VIRTIO_INPUT_EV_LED:
            u[0] = (1u << VIRTIO_INPUT_LEDS) - 1;
            return 1;
        default:
            /* No EV_REP: the host sends each press and release itself,
             * so the guest must not repeat a key on its own. */
            return 0;
        }
    default:
        /* PROP_BITS: no properties; ABS_INFO: no axes; UNSET and the
         * rest: nothing. */
        return 0;
    }
}

static uint64_t in_config_read(void *opaque, uint32_t off, unsigned size)
{
    struct virtio_input *in = opaque;
    uint8_t cfg[VIRTIO_INPUT_CFG_SIZE] = {0};
    pthread_mutex_lock(&in->lock);
    cfg[VIRTIO_INPUT_CFG_SELECT] = in->select;
    cfg[VIRTIO_INPUT_CFG_SUBSEL] = in->subsel;
    pthread_mutex_unlock(&in->lock);
    cfg[VIRTIO_INPUT_CFG_SIZE_FIELD] =
        answer(cfg[VIRTIO_INPUT_CFG_SELECT], cfg[VIRTIO_INPUT_CFG_SUBSEL], cfg + VIRTIO_INPUT_CFG_UNION);
    /* The transport checked off + size <= VIRTIO_INPUT_CFG_SIZE. */
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)cfg[off + i] << (8 * i);
    return v;
}

/* Only select and subsel are the driver's to write; a wider write that
 * covers them sets them from its bytes, the rest is read-only. */
static void in_config_write(void *opaque, uint32_t off, uint64_t value, unsigned size)
{
    struct virtio_input *in = opaque;
    pthread_mutex_lock(&in->lock);
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(value >> (8 * i));
        if (off + i == VIRTIO_INPUT_CFG_SELECT)
            in->select = b;
        else if (off + i == VIRTIO_INPUT_CFG_SUBSEL)
            in->subsel = b;
    }
    pthread_mutex_unlock(&in->lock);
}

/* ---- queues ---- */

/* Fills every eventq buffer the driver has posted with a waiting event,
 * oldest first. I/O thread. */
static void deliver(struct virtio_input *in)
{
    bool pushed = false;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        bool waiting = in->count > 0;
        pthread_mutex_unlock(&in->lock);
        if (!waiting || virtio_mmio_pop(in->t, VIRTIO_INPUT_EVENTQ, &in->chain) <= 0)
            break;
        if (in->chain.writable_len < VIRTIO_INPUT_EVENT_SIZE) {
            virtio_mmio_fail(in->t, "virtio-input: event buffer (head %u) has %llu writable bytes, "
                             "less than one event (%u)", in->chain.head,
                             (unsigned long long)in->chain.writable_len, VIRTIO_INPUT_EVENT_SIZE);
            break;
        }
        /* Only this thread takes events out, so the one seen is still
         * there. */
        pthread_mutex_lock(&in->lock);
        struct event ev = in->q[in->head];
        in->head = (in->head + 1) % VIRTIO_INPUT_PENDING_MAX;
        in->count--;
        pthread_mutex_unlock(&in->lock);
        uint8_t raw[VIRTIO_INPUT_EVENT_SIZE];
        uint16_t type = htole16(ev.type), code = htole16(ev.code);
        uint32_t value = htole32(ev.value);
        memcpy(raw, &type, 2);
        memcpy(raw + 2, &code, 2);
        memcpy(raw + 4, &value, 4);
        virtq_chain_write(&in->chain, 0, raw, sizeof raw);
        virtio_mmio_push(in->t, &in->chain, VIRTIO_INPUT_EVENT_SIZE);
        atomic_fetch_add(&in->delivered, 1);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(in->t, VIRTIO_INPUT_EVENTQ);
}

/* LED updates: nothing on the host shows them, so each is taken and
 * returned. */
static void take_status(struct virtio_input *in)
{
    bool pushed = false;
    while (virtio_mmio_pop(in->t, VIRTIO_INPUT_STATUSQ, &in->chain) > 0) {
        if (in->chain.readable_len < VIRTIO_INPUT_EVENT_SIZE) {
            virtio_mmio_fail(in->t, "virtio-input: status buffer (head %u) has %llu readable bytes, "
                             "less than one event (%u)", in->chain.head,
                             (unsigned long long)in->chain.readable_len, VIRTIO_INPUT_EVENT_SIZE);
            break;
        }
        virtio_mmio_push(in->t, &in->chain, 0);
        atomic_fetch_add(&in->status_updates, 1);
        pushed = true;
    }
    if (pushed)
        virtio_mmio_notify(in->t, VIRTIO_INPUT_STATUSQ);
}

static void in_queue_notify(void *opaque, unsigned queue)
{
    struct virtio_input *in = opaque;
    if (queue == VIRTIO_INPUT_EVENTQ)
        deliver(in);
    else if (queue == VIRTIO_INPUT_STATUSQ)
        take_status(in);
}

/* Transport lock held. The waiting events stay (see virtio_input.h). */
static void in_reset(void *opaque)
{
    struct virtio_input *in = opaque;
    pthread_mutex_lock(&in->lock);
    in->select = in->subsel = 0;
    pthread_mutex_unlock(&in->lock);
}

static void queue_event(struct virtio_input *in, uint16_t type, uint16_t code, uint32_t value)
{
    in->q[(in->head + in->count) % VIRTIO_INPUT_PENDING_MAX] = (struct event){ type, code, value };
    in->count++;
}

int virtio_input_send_keys(struct virtio_input *in, const uint16_t *codes, unsigned n)
{
    if (n == 0 || n > (VIRTIO_INPUT_PENDING_MAX - 2) / 2)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (codes[i] == 0 || codes[i] > VIRTIO_INPUT_KEY_MAX)
            return -EINVAL;
    pthread_mutex_lock(&in->lock);
    if (VIRTIO_INPUT_PENDING_MAX - in->count < 2 * n + 2) {
        pthread_mutex_unlock(&in->lock);
        return -EBUSY;
    }
    for (unsigned i = 0; i < n; i++)
        queue_event(in, VIRTIO_INPUT_EV_KEY, codes[i], 1);
    queue_event(in, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
    for (unsigned i = n; i-- > 0;)
        queue_event(in, VIRTIO_INPUT_EV_KEY, codes[i], 0);
    queue_event(in, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
    pthread_mutex_unlock(&in->lock);
    /* Delivery is the I/O thread's: it alone pops and pushes. */
    virtio_mmio_kick_queue(in->t, VIRTIO_INPUT_EVENTQ);
    return 0;
}

void virtio_input_info(struct virtio_input *in, struct virtio_input_info *out)
{
    pthread_mutex_lock(&in->lock);
    out->pending = in->count;
    pthread_mutex_unlock(&in->lock);
    out->events_delivered = atomic_load(&in->delivered);
    out->status_updates = atomic_load(&in->status_updates);
}

/* ---- snapshots ---- */

int virtio_input_save(struct virtio_input *in, struct snap_writer *w)
{
    pthread_mutex_lock(&in->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u8(w, in->select);
    snapw_u8(w, in->subsel);
    snapw_u32(w, in->count);
    for (unsigned i = 0; i < in->count; i++) {
        const struct event *ev = &in->q[(in->head + i) % VIRTIO_INPUT_PENDING_MAX];
        snapw_u16(w, ev->type);
        snapw_u16(w, ev->code);
        snapw_u32(w, ev->value);
    }
    pthread_mutex_unlock(&in->lock);
    return w->err;
}

/* An event send_keys could have queued: a key press or release of an
 * offered key, or a SYN_REPORT. */
static bool event_ok(const struct event *ev)
{
    if (ev->type == VIRTIO_INPUT_EV_KEY)
        return ev->code >= 1 && ev->code <= VIRTIO_INPUT_KEY_MAX && ev->value <= 1;
    return ev->type == VIRTIO_INPUT_EV_SYN && ev->code == VIRTIO_INPUT_SYN_REPORT && ev->value == 0;
}

int virtio_input_load(struct virtio_input *in, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-input: state version %u, expected %u", version, SNAP_VERSION);
    /* Any select and subsel byte is one a driver could have written. */
    uint8_t select = snapr_u8(r), subsel = snapr_u8(r);
    uint32_t count = snapr_u32(r);
    if (!r->err && count > VIRTIO_INPUT_PENDING_MAX)
        return errmsg_set(e, -EINVAL, "virtio-input: %u waiting events, more than the %u the queue holds",
                          count, VIRTIO_INPUT_PENDING_MAX);
    struct event q[VIRTIO_INPUT_PENDING_MAX];
    for (uint32_t i = 0; i < count && !r->err; i++) {
        q[i].type = snapr_u16(r);
        q[i].code = snapr_u16(r);
        q[i].value = snapr_u32(r);
        if (!r->err && !event_ok(&q[i]))
            return errmsg_set(e, -EINVAL, "virtio-input: waiting event %u (type %u, code %u, value %u) is not "
                              "a key press, key release of a code in 1..%u or SYN_REPORT", i, q[i].type,
                              q[i].code, q[i].value, VIRTIO_INPUT_KEY_MAX);
    }
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-input: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);
    pthread_mutex_lock(&in->lock);
    in->select = select;
    in->subsel = subsel;
    memcpy(in->q, q, count * sizeof q[0]);
    in->head = 0;
    in->count = count;
    pthread_mutex_unlock(&in->lock);
    return 0;
}

static int in_save(void *opaque, struct snap_writer *w)
{
    return virtio_input_save(opaque, w);
}

static int in_load(void *opaque, struct snap_reader *r, struct errmsg *e)
{
    return virtio_input_load(opaque, r, e);
}

/* ---- lifetime ---- */

static const struct virtio_device_ops in_ops = {
    .config_read = in_config_read,
    .config_write = in_config_write,
    .queue_notify = in_queue_notify,
    .reset = in_reset,
    .save = in_save,
    .load = in_load,
};

int virtio_input_create(struct virtio_input **out, const struct guest_mem *mem,
                        const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    struct virtio_input *in = calloc(1, sizeof *in);
    if (!in)
        return errmsg_set(e, -ENOMEM, "virtio-input: out of memory");
    pthread_mutex_init(&in->lock, NULL);
    struct virtio_device dev = {
        .device_id = VIRTIO_ID_INPUT,
        .num_queues = 2,
        .queue_max = VIRTIO_INPUT_QUEUE_SIZE,
        .config_size = VIRTIO_INPUT_CFG_SIZE,
        .ops = &in_ops,
        .opaque = in,
    };
    int rc = virtio_mmio_create(&in->t, &dev, mem, irq, e);
    if (rc < 0) {
        pthread_mutex_destroy(&in->lock);
        free(in);
        return rc;
    }
    *out = in;
    return 0;
}

void virtio_input_destroy(struct virtio_input *in)
{
    if (!in)
        return;
    virtio_mmio_destroy(in->t);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

struct virtio_mmio *virtio_input_mmio(struct virtio_input *in)
{
    return in->t;
}
