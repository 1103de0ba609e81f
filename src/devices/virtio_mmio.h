/* The virtio-mmio transport, version 2 (virtio 1.2 section 4.2), modern
 * only: the register file a driver sees at one 0x1000-byte slot, feature
 * negotiation, the device status state machine, queue setup and the
 * interrupt. The device behind it is a "device model" (struct
 * virtio_device): its ID, feature bits, queue count, config space and a
 * notify handler, so each device type is a small file.
 *
 * Threads: the register file is called from vCPU threads; a QueueNotify
 * write only marks the queue pending and signals an eventfd, so a vCPU
 * never waits for host I/O. The owner registers that eventfd with the I/O
 * thread's event loop (virtio_mmio_kick_fd + virtio_mmio_on_kick), and the
 * device's queue_notify handler then runs there, popping and pushing chains
 * through virtio_mmio_pop/push/notify, which take the transport lock only
 * briefly. The one exception is a device reset (Status = 0): it waits for a
 * running handler to return, as real hardware finishes in-flight DMA before
 * it reports reset, so nothing is written into rings the driver reuses. */
#ifndef MINNOW_DEVICES_VIRTIO_MMIO_H
#define MINNOW_DEVICES_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio.h"
#include "devices/virtq.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define VIRTIO_MMIO_SIZE 0x1000u
#define VIRTIO_MMIO_MAGIC 0x74726976u
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_MAX_QUEUES 8u
#define VIRTIO_MMIO_CONFIG 0x100u

/* Register offsets (spec 4.2.2) */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION_REG 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc

struct virtio_mmio;

/* What a device type implements. All calls but queue_notify, save and
 * load are made with the transport lock held and must not block. */
struct virtio_device_ops {
    /* Read/write `size` (1, 2, 4 or 8) bytes at `offset` of the device
     * config space; the transport has checked offset + size <= config_size.
     * Values are little-endian in config space, returned as numbers. */
    uint64_t (*config_read)(void *opaque, uint32_t offset, unsigned size);
    void (*config_write)(void *opaque, uint32_t offset, uint64_t value, unsigned size); /* may be NULL */
    /* The driver notified `queue`; runs on the I/O thread, without the
     * transport lock. Pop every available chain, do the work, push, notify. */
    void (*queue_notify)(void *opaque, unsigned queue);
    /* The driver reset the device (may be NULL). */
    void (*reset)(void *opaque);
    /* Snapshots (both NULL for a device whose only state is its queues).
     * save runs on the I/O thread with every hart paused; it first
     * finishes (or records) the work in flight, so that nothing writes
     * guest RAM after it returns. load runs on a device just created from
     * the same configuration, before the VM starts, and checks every value
     * it reads (see util/snapbuf.h); the transport's queues are restored
     * by then, so it can take back chains it held (virtio_mmio_chain_at).
     * Both are called without the transport lock: they may pop and push. */
    int (*save)(void *opaque, struct snap_writer *w);
    int (*load)(void *opaque, struct snap_reader *r, struct errmsg *e);
};

struct virtio_device {
    uint32_t device_id;
    /* Device-type feature bits offered; the transport adds VERSION_1,
     * INDIRECT_DESC and EVENT_IDX. */
    uint64_t features;
    unsigned num_queues;          /* 1..VIRTIO_MMIO_MAX_QUEUES */
    uint16_t queue_max;           /* power of two, 1..VIRTQ_MAX_SIZE */
    uint32_t config_size;         /* bytes of config space */
    const struct virtio_device_ops *ops;
    void *opaque;
};

/* The register file to map at the device's slot, with the struct
 * virtio_mmio * as opaque, VIRTIO_MMIO_SIZE bytes long. */
extern const struct mmio_ops virtio_mmio_ops;

/* Makes a transport for dev (copied). mem is where chains may point (copied;
 * the RAM itself must outlive the transport); irq is the line to the
 * interrupt controller (copied). */
int virtio_mmio_create(struct virtio_mmio **out, const struct virtio_device *dev,
                       const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove the kick fd from the event loop first. */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* The fd that becomes readable when the driver notifies a queue (or a
 * retry is due), and the callback (opaque = the transport) to run on the
 * I/O thread then. */
int virtio_mmio_kick_fd(const struct virtio_mmio *t);
void virtio_mmio_on_kick(void *transport);

/* For device models, on the I/O thread. pop: 1 with c filled, 0 when there
 * is nothing (or the device is not live), negative when the driver broke the
 * ring rules: the transport has then set DEVICE_NEEDS_RESET. */
int virtio_mmio_pop(struct virtio_mmio *t, unsigned queue, struct virtq_chain *c);
/* For a device that must wait (a rate limiter is empty): run queue_notify
 * for queue again after delay_ns, without blocking the I/O thread. One
 * timer per transport; the earliest deadline asked for wins. I/O thread
 * only. */
void virtio_mmio_retry(struct virtio_mmio *t, unsigned queue, uint64_t delay_ns);
/* Gives back the chain just popped (the last pop of its queue, nothing
 * pushed since): it stays in the avail ring for a later pop, so a device
 * that waits holds nothing a snapshot would have to save. I/O thread only. */
void virtio_mmio_unpop(struct virtio_mmio *t, const struct virtq_chain *c);
/* Runs queue_notify for queue on the I/O thread soon, as if the driver had
 * notified it (e.g. a limit was lifted). Any thread. */
void virtio_mmio_kick_queue(struct virtio_mmio *t, unsigned queue);
/* A chain popped earlier still belongs to the rings the driver has now
 * (no reset or queue setup since, device live): a device that held it
 * back may still work on it. */
bool virtio_mmio_chain_current(struct virtio_mmio *t, const struct virtq_chain *c);
/* Returns a chain; dropped if the device was reset or the queue re-set up
 * since it was popped. */
void virtio_mmio_push(struct virtio_mmio *t, const struct virtq_chain *c, uint32_t written);
/* Interrupts the driver for queue if its suppression settings allow it. */
void virtio_mmio_notify(struct virtio_mmio *t, unsigned queue);
/* The device cannot go on: sets DEVICE_NEEDS_RESET (and interrupts with a
 * config change once the driver is running), remembers why. */
void virtio_mmio_fail(struct virtio_mmio *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The device's config space changed: new generation, config interrupt. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

/* Snapshot of the transport (registers, status, features, each queue's
 * rings and indices, interrupt status) followed by the device model's
 * save; load restores it on a transport just created for the same device
 * type and refuses values a transport could never have reached. save runs
 * on the I/O thread with the harts paused (the device model's save may
 * finish work first). load runs before the VM starts; it drives the
 * interrupt line to the restored level and, for a live device, kicks
 * every ready queue (a notification pending at save time is not in the
 * state), so the kick fd must be on the event loop by the time the VM
 * runs. A failed load leaves the device as reset (status 0). */
int virtio_mmio_save(struct virtio_mmio *t, struct snap_writer *w);
int virtio_mmio_load(struct virtio_mmio *t, struct snap_reader *r, struct errmsg *e);
/* For a device model's load: chain `head` of queue, walked again from the
 * restored rings (virtq_chain_at), as if just popped. -EINVAL with a
 * message if the queue is not enabled or the chain is not valid. */
int virtio_mmio_chain_at(struct virtio_mmio *t, unsigned queue, uint16_t head, struct virtq_chain *c,
                         struct errmsg *e);

uint64_t virtio_mmio_driver_features(struct virtio_mmio *t);
uint32_t virtio_mmio_status(struct virtio_mmio *t);
/* Why the transport last refused something (NEEDS_RESET, refused
 * FEATURES_OK), for logs and tests; "" if nothing. */
void virtio_mmio_last_error(struct virtio_mmio *t, char *buf, size_t len);

#endif
