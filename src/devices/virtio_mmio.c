/* virtio-mmio version 2 register file, status state machine and the glue
 * between vCPU-thread register accesses and I/O-thread queue work. See
 * virtio_mmio.h for the threading model. */
#include "devices/virtio_mmio.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TRANSPORT_FEATURES \
    (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))

struct mq {
    uint32_t num;
    bool ready;
    uint64_t desc, driver, device;
    struct virtq vq;
};

struct virtio_mmio {
    struct virtio_device dev;
    struct guest_mem mem;
    struct irq_line irq;
    /* What the I/O thread watches: an epoll set of the kick eventfd and a
     * timerfd for queues a device asked to look at again later (throttled
     * by a rate limiter), so a device needs no fd of its own for that. */
    int kick_fd;                /* the epoll set */
    int event_fd;
    int timer_fd;
    uint64_t timer_deadline;    /* I/O thread only: CLOCK_MONOTONIC ns armed, 0: none */
    _Atomic uint32_t deferred;  /* queues to notify when the timer fires */

    pthread_mutex_t lock;       /* everything below */
    pthread_cond_t idle;        /* signalled when busy drops to 0 */
    bool busy;                  /* a queue_notify handler is running */
    uint64_t gen;               /* bumped by reset and by queue (re)setup */
    uint32_t status;
    uint32_t dev_features_sel, drv_features_sel;
    uint64_t driver_features;
    uint32_t queue_sel;
    uint32_t isr;
    int irq_level;
    uint32_t config_generation;
    struct mq q[VIRTIO_MMIO_MAX_QUEUES];
    char error[256];

    _Atomic uint32_t pending;   /* queues notified, not yet handled */
};

static void update_irq(struct virtio_mmio *t)
{
    int level = t->isr != 0;
    if (level != t->irq_level) {
        t->irq_level = level;
        irq_line_set(&t->irq, level);
    }
}

static void set_error(struct virtio_mmio *t, const char *fmt, va_list ap)
{
    vsnprintf(t->error, sizeof t->error, fmt, ap);
}

/* Lock held. */
static void fail_locked(struct virtio_mmio *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_locked(struct virtio_mmio *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(t, fmt, ap);
    va_end(ap);
    if (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return;
    t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    /* spec 2.1.2: once DRIVER_OK is set, NEEDS_RESET comes with a
     * configuration change notification so the driver notices. */
    if (t->status & VIRTIO_STATUS_DRIVER_OK) {
        t->isr |= VIRTIO_INT_CONFIG_CHANGE;
        update_irq(t);
    }
}

void virtio_mmio_fail(struct virtio_mmio *t, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&t->lock);
    fail_locked(t, "%s", buf);
    pthread_mutex_unlock(&t->lock);
}

static void kick(struct virtio_mmio *t, uint32_t queues)
{
    atomic_fetch_or_explicit(&t->pending, queues, memory_order_release);
    uint64_t one = 1;
    /* An eventfd write only fails when the counter would overflow 2^64-2,
     * and then the fd is already readable: the kick is not lost. */
    ssize_t r = write(t->event_fd, &one, sizeof one);
    (void)r;
}

static bool live(const struct virtio_mmio *t)
{
    return (t->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(t->status & (VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* Lock held. */
static void reset_locked(struct virtio_mmio *t)
{
    t->status = 0;
    t->gen++;
    atomic_store(&t->pending, 0);
    atomic_store(&t->deferred, 0);
    /* Let a running handler finish: it sees status 0, pops nothing more and
     * its pushes are dropped by the generation check. */
    while (t->busy)
        pthread_cond_wait(&t->idle, &t->lock);
    t->dev_features_sel = t->drv_features_sel = 0;
    t->driver_features = 0;
    t->queue_sel = 0;
    for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
        memset(&t->q[i], 0, sizeof t->q[i]);
        t->q[i].num = t->dev.queue_max;
    }
    t->isr = 0;
    t->error[0] = 0;
    update_irq(t);
    if (t->dev.ops->reset)
        t->dev.ops->reset(t->dev.opaque);
}

int virtio_mmio_create(struct virtio_mmio **out, const struct virtio_device *dev,
                       const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    if (!dev->ops || !dev->ops->queue_notify || !dev->ops->config_read)
        return errmsg_set(e, -EINVAL, "virtio device %u: missing config_read or queue_notify", dev->device_id);
    if (dev->num_queues == 0 || dev->num_queues > VIRTIO_MMIO_MAX_QUEUES)
        return errmsg_set(e, -EINVAL, "virtio device %u: %u queues, expected 1..%u",
                          dev->device_id, dev->num_queues, VIRTIO_MMIO_MAX_QUEUES);
    if (dev->queue_max == 0 || dev->queue_max > VIRTQ_MAX_SIZE || (dev->queue_max & (dev->queue_max - 1)))
        return errmsg_set(e, -EINVAL, "virtio device %u: queue size %u, expected a power of two up to %u",
                          dev->device_id, dev->queue_max, VIRTQ_MAX_SIZE);
    if (dev->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
        return errmsg_set(e, -EINVAL, "virtio device %u: config space of %u bytes does not fit the slot",
                          dev->device_id, dev->config_size);
    struct virtio_mmio *t = calloc(1, sizeof *t);
    if (!t)
        return errmsg_set(e, -ENOMEM, "virtio device %u: out of memory", dev->device_id);
    t->kick_fd = epoll_create1(EPOLL_CLOEXEC);
    t->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int err = 0;
    if (t->kick_fd < 0 || t->event_fd < 0 || t->timer_fd < 0)
        err = errno;
    for (int i = 0; !err && i < 2; i++) {
        int fd = i ? t->timer_fd : t->event_fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
        if (epoll_ctl(t->kick_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
            err = errno;
    }
    if (err) {
        int fds[3] = { t->kick_fd, t->event_fd, t->timer_fd };
        for (int i = 0; i < 3; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        free(t);
        return errmsg_set(e, -err, "virtio device %u: kick fds: %s", dev->device_id, strerror(err));
    }
    t->dev = *dev;
    t->mem = *mem;
    if (irq)
        t->irq = *irq;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->idle, NULL);
    for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
        t->q[i].num = dev->queue_max;
    *out = t;
    return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
    if (!t)
        return;
    close(t->kick_fd);
    close(t->event_fd);
    close(t->timer_fd);
    pthread_cond_destroy(&t->idle);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int virtio_mmio_kick_fd(const struct virtio_mmio *t)
{
    return t->kick_fd;
}

void virtio_mmio_on_kick(void *transport)
{
    struct virtio_mmio *t = transport;
    uint64_t n;
    while (read(t->event_fd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
    if (read(t->timer_fd, &n, sizeof n) == (ssize_t)sizeof n) {
        t->timer_deadline = 0;
        atomic_fetch_or_explicit(&t->pending, atomic_exchange(&t->deferred, 0), memory_order_release);
    }
    pthread_mutex_lock(&t->lock);
    t->busy = true;
    pthread_mutex_unlock(&t->lock);
    uint32_t pend = atomic_exchange_explicit(&t->pending, 0, memory_order_acquire);
    for (unsigned i = 0; i < t->dev.num_queues; i++)
        if (pend & (1u << i))
            t->dev.ops->queue_notify(t->dev.opaque, i);
    pthread_mutex_lock(&t->lock);
    t->busy = false;
    pthread_cond_broadcast(&t->idle);
    pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_retry(struct virtio_mmio *t, unsigned queue, uint64_t delay_ns)
{
    if (queue >= t->dev.num_queues)
        return;
    atomic_fetch_or(&t->deferred, 1u << queue);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t when = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    when = delay_ns > UINT64_MAX / 2 - when ? UINT64_MAX / 2 : when + (delay_ns ? delay_ns : 1);
    /* One timer for all queues: keep the earlier deadline; a queue woken
     * early just asks again. */
    if (t->timer_deadline && t->timer_deadline <= when)
        return;
    t->timer_deadline = when;
    struct itimerspec its = { .it_value = { (time_t)(when / 1000000000u), (long)(when % 1000000000u) } };
    timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void virtio_mmio_kick_queue(struct virtio_mmio *t, unsigned queue)
{
    if (queue < t->dev.num_queues)
        kick(t, 1u << queue);
}

bool virtio_mmio_chain_current(struct virtio_mmio *t, const struct virtq_chain *c)
{
    pthread_mutex_lock(&t->lock);
    bool ok = c->gen == t->gen && live(t);
    pthread_mutex_unlock(&t->lock);
    return ok;
}

int virtio_mmio_pop(struct virtio_mmio *t, unsigned queue, struct virtq_chain *c)
{
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    if (queue < t->dev.num_queues && live(t) && t->q[queue].ready) {
        struct errmsg e;
        rc = virtq_pop(&t->q[queue].vq, c, &e);
        if (rc < 0)
            fail_locked(t, "queue %u: %s", queue, e.text);
        c->queue = (uint16_t)queue;
        c->gen = t->gen;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void virtio_mmio_unpop(struct virtio_mmio *t, const struct virtq_chain *c)
{
    pthread_mutex_lock(&t->lock);
    if (c->gen == t->gen && c->queue < t->dev.num_queues && t->q[c->queue].ready)
        virtq_unpop(&t->q[c->queue].vq);
    pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_push(struct virtio_mmio *t, const struct virtq_chain *c, uint32_t written)
{
    pthread_mutex_lock(&t->lock);
    if (c->gen == t->gen && c->queue < t->dev.num_queues && t->q[c->queue].ready &&
        !(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
        virtq_push(&t->q[c->queue].vq, c, written);
    pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_notify(struct virtio_mmio *t, unsigned queue)
{
    pthread_mutex_lock(&t->lock);
    if (queue < t->dev.num_queues && live(t) && t->q[queue].ready &&
        virtq_need_interrupt(&t->q[queue].vq)) {
        t->isr |= VIRTIO_INT_USED_BUFFER;
        update_irq(t);
    }
    pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
    pthread_mutex_lock(&t->lock);
    t->config_generation++;
    if (t->status & VIRTIO_STATUS_DRIVER_OK) {
        t->isr |= VIRTIO_INT_CONFIG_CHANGE;
        update_irq(t);
    }
    pthread_mutex_unlock(&t->lock);
}

uint64_t virtio_mmio_driver_features(struct virtio_mmio *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t f = t->driver_features;
    pthread_mutex_unlock(&t->lock);
    return f;
}

uint32_t virtio_mmio_status(struct virtio_mmio *t)
{
    pthread_mutex_lock(&t->lock);
    uint32_t s = t->status;
    pthread_mutex_unlock(&t->lock);
    return s;
}

void virtio_mmio_last_error(struct virtio_mmio *t, char *buf, size_t len)
{
    pthread_mutex_lock(&t->lock);
    snprintf(buf, len, "%s", t->error);
    pthread_mutex_unlock(&t->lock);
}

static uint64_t offered(const struct virtio_mmio *t)
{
    return t->dev.features | TRANSPORT_FEATURES;
}

static struct mq *selected(struct virtio_mmio *t)
{
    return t->queue_sel < t->dev.num_queues ? &t->q[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
    struct mq *q = selected(t);
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
    case VIRTIO_MMIO_VERSION_REG: return VIRTIO_MMIO_VERSION;
    case VIRTIO_MMIO_DEVICE_ID: return t->dev.device_id;
    case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_VENDOR_MINNOW;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return t->dev_features_sel < 2 ? (uint32_t)(offered(t) >> (32 * t->dev_features_sel)) : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? t->dev.queue_max : 0;
    case VIRTIO_MMIO_QUEUE_NUM: return q ? q->num : 0;
    case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
    case VIRTIO_MMIO_INTERRUPT_STATUS: return t->isr;
    case VIRTIO_MMIO_STATUS: return t->status;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: return q ? (uint32_t)q->desc : 0;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: return q ? (uint32_t)(q->desc >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: return q ? (uint32_t)q->driver : 0;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return q ? (uint32_t)(q->driver >> 32) : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: return q ? (uint32_t)q->device : 0;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return q ? (uint32_t)(q->device >> 32) : 0;
    /* No shared memory regions: spec 4.2.2 says a missing region reads as
     * length -1. */
    case VIRTIO_MMIO_SHM_LEN_LOW: case VIRTIO_MMIO_SHM_LEN_HIGH:
    case VIRTIO_MMIO_SHM_BASE_LOW: case VIRTIO_MMIO_SHM_BASE_HIGH:
        return 0xffffffffu;
    case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
    default: return 0;
    }
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
    if (high)
        *v = (*v & 0xffffffffull) | ((uint64_t)val << 32);
    else
        *v = (*v & ~0xffffffffull) | val;
}

static bool features_ok(struct virtio_mmio *t)
{
    uint64_t f = t->driver_features;
    if (!(f & VIRTIO_BIT(VIRTIO_F_VERSION_1))) {
        snprintf(t->error, sizeof t->error,
                 "driver did not accept VIRTIO_F_VERSION_1; minnow has no legacy interface");
        return false;
    }
    if (f & ~offered(t)) {
        snprintf(t->error, sizeof t->error, "driver accepted features 0x%llx that were not offered",
                 (unsigned long long)(f & ~offered(t)));
        return false;
    }
    return true;
}

static void status_write(struct virtio_mmio *t, uint32_t v)
{
    if (v == 0) {
        reset_locked(t);
        return;
    }
    /* Status bits only accumulate until reset (the driver must not clear
     * one, spec 2.1.2); each new bit needs its predecessors, and
     * NEEDS_RESET is the device's to set. */
    uint32_t add = v & ~t->status & 0xffu & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (add & VIRTIO_STATUS_ACKNOWLEDGE)
        t->status |= VIRTIO_STATUS_ACKNOWLEDGE;
    if ((add & VIRTIO_STATUS_DRIVER) && (t->status & VIRTIO_STATUS_ACKNOWLEDGE))
        t->status |= VIRTIO_STATUS_DRIVER;
    /* Refusing FEATURES_OK is how a device says no to a feature set: the
     * driver reads the status back and sees the bit clear (spec 3.1.1). */
    if ((add & VIRTIO_STATUS_FEATURES_OK) && (t->status & VIRTIO_STATUS_DRIVER) && features_ok(t))
        t->status |= VIRTIO_STATUS_FEATURES_OK;
    if ((add & VIRTIO_STATUS_DRIVER_OK) && (t->status & VIRTIO_STATUS_FEATURES_OK)) {
        t->status |= VIRTIO_STATUS_DRIVER_OK;
        /* Buffers made available before DRIVER_OK were not consumed (the
         * device must not, spec 3.1); look at every ready queue now. */
        uint32_t ready = 0;
        for (unsigned i = 0; i < t->dev.num_queues; i++)
            if (t->q[i].ready)
                ready |= 1u << i;
        if (ready && live(t))
            kick(t, ready);
    }
    if (add & VIRTIO_STATUS_FAILED)
        t->status |= VIRTIO_STATUS_FAILED;
}

static void queue_ready_write(struct virtio_mmio *t, struct mq *q, unsigned qi, uint32_t v)
{
    t->gen++;   /* chains popped from the old setup must not be pushed */
    if (!v) {
        q->ready = false;
        return;
    }
    if (q->ready)
        return;
    if (!(t->status & VIRTIO_STATUS_FEATURES_OK)) {
        fail_locked(t, "queue %u enabled before FEATURES_OK", qi);
        return;
    }
    if (q->num > t->dev.queue_max || q->num == 0 || (q->num & (q->num - 1))) {
        fail_locked(t, "queue %u: size %u is not a power of two in 1..%u", qi, q->num, t->dev.queue_max);
        return;
    }
    struct errmsg e;
    bool ev = t->driver_features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
    bool ind = t->driver_features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
    if (virtq_start(&q->vq, &t->mem, (uint16_t)q->num, q->desc, q->driver, q->device, ev, ind, &e) < 0) {
        fail_locked(t, "queue %u: %s", qi, e.text);
        return;
    }
    q->ready = true;
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
    struct mq *q = selected(t);
    /* Queue layout registers are frozen while the queue is enabled (the
     * driver must not change them then, spec 4.2.2.2). */
    bool q_writable = q && !q->ready;
    bool feat_writable = (t->status & VIRTIO_STATUS_DRIVER) && !(t->status & VIRTIO_STATUS_FEATURES_OK);
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->dev_features_sel = v; break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        if (feat_writable && t->drv_features_sel < 2)
            set_half(&t->driver_features, t->drv_features_sel == 1, v);
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->drv_features_sel = v; break;
    case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = v; break;
    case VIRTIO_MMIO_QUEUE_NUM: if (q_writable) q->num = v; break;
    case VIRTIO_MMIO_QUEUE_READY: if (q) queue_ready_write(t, q, t->queue_sel, v); break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        /* Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index.
         * Before DRIVER_OK the device must not consume buffers; DRIVER_OK
         * itself looks at the queues. */
        if (v < t->dev.num_queues && live(t) && t->q[v].ready)
            kick(t, 1u << v);
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        t->isr &= ~v;
        update_irq(t);
        break;
    case VIRTIO_MMIO_STATUS: status_write(t, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW: if (q_writable) set_half(&q->desc, false, v); break;
    case VIRTIO_MMIO_QUEUE_DESC_HIGH: if (q_writable) set_half(&q->desc, true, v); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW: if (q_writable) set_half(&q->driver, false, v); break;
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: if (q_writable) set_half(&q->driver, true, v); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW: if (q_writable) set_half(&q->device, false, v); break;
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: if (q_writable) set_half(&q->device, true, v); break;
    default: break;   /* read-only or unknown: ignored */
    }
}

/* ---- snapshots ---- */

#define SNAP_VERSION 1u
#define KNOWN_STATUS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
                      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)

int virtio_mmio_chain_at(struct virtio_mmio *t, unsigned queue, uint16_t head, struct virtq_chain *c,
                         struct errmsg *e)
{
    int rc;
    pthread_mutex_lock(&t->lock);
    if (queue >= t->dev.num_queues || !t->q[queue].ready) {
        rc = errmsg_set(e, -EINVAL, "queue %u is not enabled", queue);
    } else {
        rc = virtq_chain_at(&t->q[queue].vq, head, c, e);
        c->queue = (uint16_t)queue;
        c->gen = t->gen;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* The reset generation is not saved: it only tells chains popped before a
 * reset from later ones, and a restored transport has popped none. Nor are
 * pending kicks and the retry timer: load kicks every ready queue. */
int virtio_mmio_save(struct virtio_mmio *t, struct snap_writer *w)
{
    /* The device model first: finishing its work pushes chains, which
     * moves the indices saved below. */
    struct snap_writer dw;
    snapw_init(&dw);
    int rc = t->dev.ops->save ? t->dev.ops->save(t->dev.opaque, &dw) : 0;
    if (rc < 0) {
        snapw_free(&dw);
        return rc;
    }
    pthread_mutex_lock(&t->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u32(w, t->dev.device_id);
    snapw_u32(w, t->status);
    snapw_u32(w, t->dev_features_sel);
    snapw_u32(w, t->drv_features_sel);
    snapw_u64(w, t->driver_features);
    snapw_u32(w, t->queue_sel);
    snapw_u32(w, t->isr);
    snapw_u32(w, t->config_generation);
    snapw_blob(w, t->error, strlen(t->error));
    snapw_u32(w, t->dev.num_queues);
    for (unsigned i = 0; i < t->dev.num_queues; i++) {
        const struct mq *q = &t->q[i];
        snapw_u32(w, q->num);
        snapw_u8(w, q->ready);
        snapw_u64(w, q->desc);
        snapw_u64(w, q->driver);
        snapw_u64(w, q->device);
        snapw_u8(w, q->vq.event_idx);
        snapw_u8(w, q->vq.indirect);
        snapw_u16(w, q->vq.last_avail);
        snapw_u16(w, q->vq.used_idx);
        snapw_u16(w, q->vq.checked_used);
    }
    pthread_mutex_unlock(&t->lock);
    snapw_blob(w, dw.buf, dw.len);
    rc = dw.err ? dw.err : w->err;
    snapw_free(&dw);
    return rc;
}

/* Checks one saved queue and, if it was enabled, sets up q->vq on the
 * restored rings. */
static int load_queue(struct virtio_mmio *t, unsigned i, struct mq *q, uint8_t ready, uint8_t ev, uint8_t ind,
                      const uint16_t idx[3], uint32_t status, uint64_t features, struct errmsg *e)
{
    if (ready > 1 || ev > 1 || ind > 1)
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u: ready %u, event_idx %u, indirect %u: expected 0 or 1 each",
                          i, ready, ev, ind);
    if (!ready)
        return 0;
    if (!(status & VIRTIO_STATUS_FEATURES_OK))
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u is enabled but status 0x%x has no FEATURES_OK", i, status);
    if (q->num == 0 || q->num > t->dev.queue_max || (q->num & (q->num - 1)))
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u: size %u is not a power of two up to %u",
                          i, q->num, t->dev.queue_max);
    if (ev != !!(features & VIRTIO_BIT(VIRTIO_F_EVENT_IDX)) || ind != !!(features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)))
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u: event_idx %u / indirect %u disagree with driver features 0x%llx",
                          i, ev, ind, (unsigned long long)features);
    struct errmsg qe;
    if (virtq_start(&q->vq, &t->mem, (uint16_t)q->num, q->desc, q->driver, q->device, ev, ind, &qe) < 0)
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u: %s", i, qe.text);
    /* The device holds the chains between the two indices: at most a
     * queue's worth. */
    uint16_t held = (uint16_t)(idx[0] - idx[1]);
    if (held > q->num)
        return errmsg_set(e, -EINVAL, "virtio-mmio: queue %u: last_avail %u is %u entries past used_idx %u, more than the size %u",
                          i, idx[0], held, idx[1], q->num);
    virtq_set_indices(&q->vq, idx[0], idx[1], idx[2]);
    q->ready = true;
    return 0;
}

int virtio_mmio_load(struct virtio_mmio *t, struct snap_reader *r, struct errmsg *e)
{
    uint32_t version = snapr_u32(r);
    if (!r->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "virtio-mmio: state version %u, expected %u", version, SNAP_VERSION);
    uint32_t id = snapr_u32(r);
    uint32_t status = snapr_u32(r);
    uint32_t dev_sel = snapr_u32(r), drv_sel = snapr_u32(r);
    uint64_t features = snapr_u64(r);
    uint32_t queue_sel = snapr_u32(r), isr = snapr_u32(r), config_gen = snapr_u32(r);
    char error[sizeof t->error] = {0};
    snapr_blob(r, error, sizeof error - 1);
    uint32_t nq = snapr_u32(r);
    if (!r->err && nq != t->dev.num_queues)
        return errmsg_set(e, -EINVAL, "virtio-mmio: state has %u queues, the device has %u", nq, t->dev.num_queues);
    struct mq q[VIRTIO_MMIO_MAX_QUEUES];
    uint8_t ready[VIRTIO_MMIO_MAX_QUEUES], ev[VIRTIO_MMIO_MAX_QUEUES], ind[VIRTIO_MMIO_MAX_QUEUES];
    uint16_t idx[VIRTIO_MMIO_MAX_QUEUES][3];
    memset(q, 0, sizeof q);
    for (unsigned i = 0; i < t->dev.num_queues; i++) {
        q[i].num = snapr_u32(r);
        ready[i] = snapr_u8(r);
        q[i].desc = snapr_u64(r);
        q[i].driver = snapr_u64(r);
        q[i].device = snapr_u64(r);
        ev[i] = snapr_u8(r);
        ind[i] = snapr_u8(r);
        for (unsigned k = 0; k < 3; k++)
            idx[i][k] = snapr_u16(r);
    }
    struct snap_reader dev;
    snapr_sub(r, &dev);
    if (!snapr_ok(r))
        return errmsg_set(e, -EINVAL, "virtio-mmio: state is truncated or malformed (read %zu of %zu bytes)",
                          r->pos, r->len);

    if (id != t->dev.device_id)
        return errmsg_set(e, -EINVAL, "virtio-mmio: state is of device type %u, this slot holds type %u",
                          id, t->dev.device_id);
    /* Each status bit needs its predecessors, as status_write enforces. */
    bool order_ok = (!(status & VIRTIO_STATUS_DRIVER) || (status & VIRTIO_STATUS_ACKNOWLEDGE)) &&
                    (!(status & VIRTIO_STATUS_FEATURES_OK) || (status & VIRTIO_STATUS_DRIVER)) &&
                    (!(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_FEATURES_OK));
    if ((status & ~KNOWN_STATUS) || !order_ok)
        return errmsg_set(e, -EINVAL, "virtio-mmio: status 0x%x is not one the device can reach", status);
    if (features & ~offered(t))
        return errmsg_set(e, -EINVAL, "virtio-mmio: driver features 0x%llx include some not offered (0x%llx)",
                          (unsigned long long)features, (unsigned long long)offered(t));
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(features & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
        return errmsg_set(e, -EINVAL, "virtio-mmio: FEATURES_OK without VIRTIO_F_VERSION_1 in driver features 0x%llx",
                          (unsigned long long)features);
    if (isr & ~(VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE))
        return errmsg_set(e, -EINVAL, "virtio-mmio: interrupt status 0x%x has unknown bits", isr);
    for (unsigned i = 0; i < t->dev.num_queues; i++) {
        int rc = load_queue(t, i, &q[i], ready[i], ev[i], ind[i], idx[i], status, features, e);
        if (rc < 0)
            return rc;
    }
    if (!t->dev.ops->load && dev.len)
        return errmsg_set(e, -EINVAL, "virtio-mmio: %zu bytes of device state for device type %u, which keeps none",
                          dev.len, id);
    /* The message is for logs: keep it printable. */
    for (char *c = error; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';

    pthread_mutex_lock(&t->lock);
    t->gen++;
    t->status = status;
    t->dev_features_sel = dev_sel;
    t->drv_features_sel = drv_sel;
    t->driver_features = features;
    t->queue_sel = queue_sel;
    t->isr = isr;
    t->config_generation = config_gen;
    memcpy(t->error, error, sizeof error);
    uint32_t kick_mask = 0;
    for (unsigned i = 0; i < t->dev.num_queues; i++) {
        t->q[i] = q[i];
        if (q[i].ready)
            kick_mask |= 1u << i;
    }
    /* Drive the line even if the level seems unchanged: the interrupt
     * controller is restored separately and must hear it. */
    t->irq_level = isr != 0;
    irq_line_set(&t->irq, t->irq_level);
    bool is_live = live(t);
    pthread_mutex_unlock(&t->lock);

    if (t->dev.ops->load) {
        int rc = t->dev.ops->load(t->dev.opaque, &dev, e);
        if (rc < 0) {
            /* Leave no half-restored device behind. */
            pthread_mutex_lock(&t->lock);
            reset_locked(t);
            pthread_mutex_unlock(&t->lock);
            return rc;
        }
    }
    if (is_live && kick_mask)
        kick(t, kick_mask);
    return 0;
}

static bool config_access_ok(const struct virtio_mmio *t, uint64_t off, unsigned size)
{
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return false;
    return off < t->dev.config_size && size <= t->dev.config_size - off;
}

static uint64_t vm_read(void *opaque, uint64_t offset, unsigned size)
{
    struct virtio_mmio *t = opaque;
    uint64_t v = 0;
    pthread_mutex_lock(&t->lock);
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint64_t off = offset - VIRTIO_MMIO_CONFIG;
        if (config_access_ok(t, off, size))
            v = t->dev.ops->config_read(t->dev.opaque, (uint32_t)off, size);
    } else if (size == 4 && !(offset & 3)) {
        /* Registers are 32-bit only (spec 4.2.2.2); other accesses read 0. */
        v = reg_read(t, offset);
    }
    pthread_mutex_unlock(&t->lock);
    return v;
}

static void vm_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct virtio_mmio *t = opaque;
    pthread_mutex_lock(&t->lock);
    if (offset >= VIRTIO_MMIO_CONFIG) {
        uint64_t off = offset - VIRTIO_MMIO_CONFIG;
        if (config_access_ok(t, off, size) && t->dev.ops->config_write)
            t->dev.ops->config_write(t->dev.opaque, (uint32_t)off, value, size);
    } else if (size == 4 && !(offset & 3)) {
        reg_write(t, offset, (uint32_t)value);
    }
    pthread_mutex_unlock(&t->lock);
}

const struct mmio_ops virtio_mmio_ops = {
    .read = vm_read,
    .write = vm_write,
};
