/* virtio-input as a keyboard (virtio 1.2 section 5.8): how the host types
 * into the guest, as Firecracker does with its i8042 for SendCtrlAltDel.
 * The config space describes a keyboard ("minnow keyboard", bus
 * BUS_VIRTUAL, EV_KEY codes 1..VIRTIO_INPUT_KEY_MAX, EV_SYN, the three
 * lock LEDs, no properties, no axes); eventq (0) carries Linux input
 * events (struct virtio_input_event: le16 type, le16 code, le32 value) to
 * the driver, one per buffer; statusq (1) brings LED updates from the
 * driver, which are taken and returned.
 *
 * The host sends keys with virtio_input_send_keys from any thread: the
 * events wait in a bounded host-side queue until the driver has posted
 * event buffers, and are delivered on the I/O thread. They survive a
 * device reset, as a driver resets the device when it probes and keys
 * typed before then should still arrive.
 *
 * A buffer too short for one event on either queue is a driver bug:
 * the device then needs a reset (virtio_mmio_fail).
 *
 * To put one on the board: virtio_input_create, map &virtio_mmio_ops with
 * opaque virtio_input_mmio(in), register virtio_mmio_kick_fd with
 * virtio_mmio_on_kick on the event loop (see virtio_blk.h). */
#ifndef MINNOW_DEVICES_VIRTIO_INPUT_H
#define MINNOW_DEVICES_VIRTIO_INPUT_H

#include <stdint.h>

#include "devices/guest_mem.h"
#include "devices/mmio.h"
#include "devices/virtio_mmio.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define VIRTIO_ID_INPUT 18

/* Queues (spec 5.8.2) */
#define VIRTIO_INPUT_EVENTQ 0u
#define VIRTIO_INPUT_STATUSQ 1u
#define VIRTIO_INPUT_QUEUE_SIZE 64u

/* Config space (struct virtio_input_config, spec 5.8.4) */
#define VIRTIO_INPUT_CFG_SELECT 0
#define VIRTIO_INPUT_CFG_SUBSEL 1
#define VIRTIO_INPUT_CFG_SIZE_FIELD 2
#define VIRTIO_INPUT_CFG_UNION 8
#define VIRTIO_INPUT_CFG_UNION_SIZE 128u
#define VIRTIO_INPUT_CFG_SIZE 136u

/* Values of select */
#define VIRTIO_INPUT_CFG_UNSET 0x00
#define VIRTIO_INPUT_CFG_ID_NAME 0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL 0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS 0x03
#define VIRTIO_INPUT_CFG_PROP_BITS 0x10
#define VIRTIO_INPUT_CFG_EV_BITS 0x11
#define VIRTIO_INPUT_CFG_ABS_INFO 0x12

/* What the keyboard reports for ID_NAME, ID_SERIAL and ID_DEVIDS. */
#define VIRTIO_INPUT_NAME "minnow keyboard"
#define VIRTIO_INPUT_SERIAL "minnow-keyboard-0"
#define VIRTIO_INPUT_BUS_VIRTUAL 0x06
#define VIRTIO_INPUT_PRODUCT 0x0001
#define VIRTIO_INPUT_VERSION 0x0001

/* Linux input event types and codes (include/uapi/linux/input-event-codes.h),
 * the ones this keyboard uses. */
#define VIRTIO_INPUT_EV_SYN 0x00
#define VIRTIO_INPUT_EV_KEY 0x01
#define VIRTIO_INPUT_EV_LED 0x11
#define VIRTIO_INPUT_SYN_REPORT 0
#define VIRTIO_INPUT_KEY_LEFTCTRL 29
#define VIRTIO_INPUT_KEY_LEFTALT 56
#define VIRTIO_INPUT_KEY_DELETE 111
/* The highest key code offered (KEY_MICMUTE): a full PC keyboard with
 * its multimedia keys. */
#define VIRTIO_INPUT_KEY_MAX 248u
/* LED_NUML, LED_CAPSL, LED_SCROLLL */
#define VIRTIO_INPUT_LEDS 3u

#define VIRTIO_INPUT_EVENT_SIZE 8u
/* Events waiting for driver buffers at most: 31 keys pressed and released
 * at once. */
#define VIRTIO_INPUT_PENDING_MAX 64u

struct virtio_input;

/* What the device has done, for tests and logs. */
struct virtio_input_info {
    unsigned pending;            /* events waiting for driver buffers */
    uint64_t events_delivered;
    uint64_t status_updates;     /* statusq buffers taken (LED changes) */
};

int virtio_input_create(struct virtio_input **out, const struct guest_mem *mem,
                        const struct irq_line *irq, struct errmsg *e);
void virtio_input_destroy(struct virtio_input *in);
struct virtio_mmio *virtio_input_mmio(struct virtio_input *in);

/* Types codes[0..n) as one chord: each key pressed in order, EV_SYN, each
 * released in reverse order, EV_SYN. All or nothing: -EINVAL if n is 0,
 * the chord can never fit the queue, or a code is not a key the keyboard
 * offers (1..VIRTIO_INPUT_KEY_MAX); -EBUSY if the queue has no room for
 * the 2n + 2 events now (the guest is not taking them). Any thread. */
int virtio_input_send_keys(struct virtio_input *in, const uint16_t *codes, unsigned n);

void virtio_input_info(struct virtio_input *in, struct virtio_input_info *out);

/* The device model's snapshot state, what virtio_mmio_save/load reach
 * through the device ops: the waiting events and the config selector.
 * load (on a device just created, before the VM runs) refuses an event
 * this keyboard could not have queued. */
int virtio_input_save(struct virtio_input *in, struct snap_writer *w);
int virtio_input_load(struct virtio_input *in, struct snap_reader *r, struct errmsg *e);

#endif
