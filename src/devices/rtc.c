/* The goldfish RTC's registers and alarm. See rtc.h. */
#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

enum {
    REG_TIME_LOW = 0x00,
    REG_TIME_HIGH = 0x04,
    REG_ALARM_LOW = 0x08,
    REG_ALARM_HIGH = 0x0c,
    REG_IRQ_ENABLED = 0x10,
    REG_CLEAR_ALARM = 0x14,
    REG_ALARM_STATUS = 0x18,
    REG_CLEAR_INTERRUPT = 0x1c,
};

struct rtc {
    pthread_mutex_t lock;
    struct irq_line irq;
    uint64_t offset;          /* guest time = host realtime + offset (mod 2^64) */
    uint32_t time_high;       /* latched by the last TIME_LOW read */
    uint64_t alarm;
    int alarm_armed;
    int irq_enabled;
    int irq_pending;
    int irq_level;            /* what we last drove onto the line */
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_locked(const struct rtc *r)
{
    return clock_ns(CLOCK_REALTIME) + r->offset;
}

/* Fires a due alarm and drives the line. */
static void evaluate(struct rtc *r)
{
    if (r->alarm_armed && now_locked(r) >= r->alarm) {
        r->alarm_armed = 0;
        r->irq_pending = 1;
    }
    int level = r->irq_pending && r->irq_enabled;
    if (level != r->irq_level) {
        r->irq_level = level;
        irq_line_set(&r->irq, level);
    }
}

static uint64_t rtc_read(void *opaque, uint64_t offset, unsigned size)
{
    struct rtc *r = opaque;
    if (size != 4 || (offset & 3))
        return 0;
    uint32_t v = 0;
    pthread_mutex_lock(&r->lock);
    switch (offset) {
    case REG_TIME_LOW: {
        /* Latching the high half lets the driver read a consistent
         * 64-bit value with two 32-bit loads. */
        uint64_t t = now_locked(r);
        r->time_high = (uint32_t)(t >> 32);
        v = (uint32_t)t;
        break;
    }
    case REG_TIME_HIGH:
        v = r->time_high;
        break;
    case REG_ALARM_LOW:
        v = (uint32_t)r->alarm;
        break;
    case REG_ALARM_HIGH:
        v = (uint32_t)(r->alarm >> 32);
        break;
    case REG_IRQ_ENABLED:
        v = (uint32_t)r->irq_enabled;
        break;
    case REG_ALARM_STATUS:
        evaluate(r);   /* an overdue alarm is no longer armed */
        v = (uint32_t)r->alarm_armed;
        break;
    default:
        break;
    }
    evaluate(r);
    pthread_mutex_unlock(&r->lock);
    return v;
}

/* Replaces one 32-bit half of the current time, keeping the other. */
static void set_time_half(struct rtc *r, uint32_t value, int high)
{
    uint64_t host = clock_ns(CLOCK_REALTIME);
    uint64_t t = host + r->offset;
    if (high)
        t = (t & 0xffffffffull) | ((uint64_t)value << 32);
    else
        t = (t & ~0xffffffffull) | value;
    r->offset = t - host;
}

static void rtc_write(void *opaque, uint64_t offset, uint64_t value, unsigned size)
{
    struct rtc *r = opaque;
    if (size != 4 || (offset & 3))
        return;
    uint32_t v = (uint32_t)value;
    pthread_mutex_lock(&r->lock);
    switch (offset) {
    case REG_TIME_LOW:
        set_time_half(r, v, 0);
        break;
    case REG_TIME_HIGH:
        set_time_half(r, v, 1);
        break;
    case REG_ALARM_LOW:
        r->alarm = (r->alarm & ~0xffffffffull) | v;
        r->alarm_armed = 1;
        break;
    case REG_ALARM_HIGH:
        r->alarm = (r->alarm & 0xffffffffull) | ((uint64_t)v << 32);
        break;
    case REG_IRQ_ENABLED:
        r->irq_enabled = v & 1;
        break;
    case REG_CLEAR_ALARM:
        r->alarm_armed = 0;
        break;
    case REG_CLEAR_INTERRUPT:
        r->irq_pending = 0;
        break;
    default:
        break;
    }
    evaluate(r);
    pthread_mutex_unlock(&r->lock);
}

const struct mmio_ops rtc_mmio_ops = {
    .read = rtc_read,
    .write = rtc_write,
};

uint64_t rtc_time(struct rtc *r)
{
    pthread_mutex_lock(&r->lock);
    uint64_t t = now_locked(r);
    pthread_mutex_unlock(&r->lock);
    return t;
}

uint64_t rtc_next_deadline(struct rtc *r)
{
    uint64_t d = UINT64_MAX;
    pthread_mutex_lock(&r->lock);
    if (r->alarm_armed) {
        uint64_t mono = clock_ns(CLOCK_MONOTONIC);
        uint64_t t = now_locked(r);
        if (t >= r->alarm)
            d = mono;
        else if (r->alarm - t < UINT64_MAX - mono)
            d = mono + (r->alarm - t);
    }
    pthread_mutex_unlock(&r->lock);
    return d;
}

void rtc_update(struct rtc *r)
{
    pthread_mutex_lock(&r->lock);
    evaluate(r);
    pthread_mutex_unlock(&r->lock);
}

int rtc_create(struct rtc **out, const struct irq_line *irq, struct errmsg *e)
{
    *out = NULL;
    struct rtc *r = calloc(1, sizeof *r);
    if (!r)
        return errmsg_set(e, -ENOMEM, "rtc: out of memory");
    int rc = pthread_mutex_init(&r->lock, NULL);
    if (rc) {
        free(r);
        return errmsg_set(e, -rc, "rtc: cannot create its lock");
    }
    if (irq)
        r->irq = *irq;
    *out = r;
    return 0;
}

void rtc_destroy(struct rtc *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r);
}

#define SNAP_VERSION 1u

int rtc_save(struct rtc *r, struct snap_writer *w)
{
    pthread_mutex_lock(&r->lock);
    snapw_u32(w, SNAP_VERSION);
    snapw_u64(w, r->offset);
    snapw_u32(w, r->time_high);
    snapw_u64(w, r->alarm);
    snapw_u8(w, (uint8_t)r->alarm_armed);
    snapw_u8(w, (uint8_t)r->irq_enabled);
    snapw_u8(w, (uint8_t)r->irq_pending);
    pthread_mutex_unlock(&r->lock);
    return w->err;
}

int rtc_load(struct rtc *r, struct snap_reader *sr, struct errmsg *e)
{
    uint32_t version = snapr_u32(sr);
    if (!sr->err && version != SNAP_VERSION)
        return errmsg_set(e, -EINVAL, "rtc: state version %u, expected %u", version, SNAP_VERSION);
    uint64_t offset = snapr_u64(sr);
    uint32_t time_high = snapr_u32(sr);
    uint64_t alarm = snapr_u64(sr);
    uint8_t armed = snapr_u8(sr), enabled = snapr_u8(sr), pending = snapr_u8(sr);
    if (!snapr_ok(sr))
        return errmsg_set(e, -EINVAL, "rtc: state is truncated or malformed (read %zu of %zu bytes)", sr->pos, sr->len);
    if (armed > 1 || enabled > 1 || pending > 1)
        return errmsg_set(e, -EINVAL, "rtc: alarm armed %u, irq enabled %u, irq pending %u: expected 0 or 1 each",
                          armed, enabled, pending);
    pthread_mutex_lock(&r->lock);
    r->offset = offset;
    r->time_high = time_high;
    r->alarm = alarm;
    r->alarm_armed = armed;
    r->irq_enabled = enabled;
    r->irq_pending = pending;
    /* Neither level, so evaluate drives the line whatever it was: the
     * PLIC is restored on its own. */
    r->irq_level = -1;
    evaluate(r);
    pthread_mutex_unlock(&r->lock);
    return 0;
}
