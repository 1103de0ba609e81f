/* virtio-blk (virtio 1.2 section 5.2) on a raw image: read, write, flush
 * (fdatasync), the serial (GET_ID), discard and write-zeroes (fallocate),
 * an optional read-only mode. One request queue, worked on the I/O thread
 * in batches handed to the block_file backend (io_uring or sync).
 *
 * The guest sees a bad request (out-of-range sector, length not a multiple
 * of 512, a header that is not device-readable...) fail alone with
 * VIRTIO_BLK_S_IOERR, an unknown type with VIRTIO_BLK_S_UNSUPP; a chain that
 * breaks the ring rules, or has no byte to put the status in, sets
 * DEVICE_NEEDS_RESET.
 *
 * A rate limiter (bytes and requests) may throttle the queue: a request it
 * refuses is held, nothing more is popped, and the transport's retry timer
 * brings the device back when the tokens are there; the I/O thread never
 * waits. A request larger than the bandwidth bucket waits for a full
 * bucket and then puts it in debt, so huge requests do not beat the rate.
 *
 * Snapshots (the save/load hooks under virtio_mmio_save/load): save first
 * completes a request the limiter holds, so nothing is in flight; the
 * device's own state is then only a version. Limiter tokens are not saved
 * (a restored device starts with full buckets); the config space comes
 * from the image.
 *
 * To put one on the board:
 *     virtio_blk_create(&blk, &opts, &ram, &irq_line_for_slot, &err);
 *     map &virtio_mmio_ops with opaque virtio_blk_mmio(blk), VIRTIO_MMIO_SIZE bytes;
 *     event_loop_add_fd(loop, virtio_mmio_kick_fd(virtio_blk_mmio(blk)),
 *                       virtio_mmio_on_kick, virtio_blk_mmio(blk), &err); */
#ifndef MINNOW_DEVICES_VIRTIO_BLK_H
#define MINNOW_DEVICES_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/block_file.h"
#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"
#include "util/rate_limiter.h"

/* Feature bits (spec 5.2.3) */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status (spec 5.2.6) */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_DWZ_F_UNMAP 1u

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_ID_BYTES 20u

/* Config space offsets (struct virtio_blk_config, spec 5.2.4) */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SIZE_MAX 8
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_DISCARD_ALIGN 44
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56
#define VIRTIO_BLK_CFG_SIZE 60

/* Limits minnow advertises for discard and write-zeroes. */
#define VIRTIO_BLK_MAX_DWZ_SECTORS 0x400000u   /* 2 GiB per segment */
#define VIRTIO_BLK_MAX_DWZ_SEG 16u

#define VIRTIO_BLK_QUEUE_SIZE 256u

struct virtio_blk_options {
    const char *path;                /* raw image: regular file or block device */
    bool read_only;
    const char *serial;              /* GET_ID answer, at most 20 bytes; NULL: empty */
    enum block_file_engine engine;   /* AUTO unless the user chose */
};

/* What the device has done since it was created. An operation counts once
 * its status is written back: OK ones in *_ops and *_bytes (data bytes),
 * failed ones (IOERR or UNSUPP, also a malformed request) in errors. */
struct virtio_blk_stats {
    uint64_t read_ops, read_bytes;
    uint64_t write_ops, write_bytes;
    uint64_t flush_ops;
    uint64_t other_ops;    /* GET_ID, DISCARD, WRITE_ZEROES */
    uint64_t errors;
};

struct virtio_blk;

int virtio_blk_create(struct virtio_blk **out, const struct virtio_blk_options *opts,
                      const struct guest_mem *mem, const struct irq_line *irq, struct errmsg *e);
/* Remove the kick fd from the event loop first. */
void virtio_blk_destroy(struct virtio_blk *b);

/* The transport to map (opaque of virtio_mmio_ops) and to register. */
struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *b);
/* Changes the rate limiter (PATCH semantics, see rate_limiter.h: the
 * buckets present in u replace the current ones). A new device limits
 * nothing. Any thread, also while the guest runs. */
void virtio_blk_set_rate_limiter(struct virtio_blk *b, const struct rate_limiter_config *u);

/* Puts file in place of the device's backing file (Firecracker's PATCH
 * /drives path_on_host): the capacity becomes the new file's and the guest
 * gets a config-change interrupt. The new file must be as writable as the
 * old (the features the driver accepted stay). Only where the I/O thread's
 * callbacks cannot run (event_loop_hold): no request is in flight then.
 * On success the device owns file and *old is the previous one (the
 * caller closes it); on failure nothing changed. */
int virtio_blk_swap_file(struct virtio_blk *b, struct block_file *file, struct block_file **old, struct errmsg *e);

/* Safe from any thread, also while the guest runs. */
void virtio_blk_stats(const struct virtio_blk *b, struct virtio_blk_stats *out);

/* The engine in use (what AUTO chose), for logs. */
enum block_file_engine virtio_blk_engine(const struct virtio_blk *b);

#endif
