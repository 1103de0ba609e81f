/* The I/O thread: one thread running an epoll loop that calls a callback
 * when a registered fd becomes readable. Device work (virtqueue processing,
 * host I/O, interrupts) runs here, off the vCPU threads: a vCPU only
 * signals an eventfd ("kick") and goes on running the guest.
 *
 * Typical wiring of a virtio-mmio device:
 *     event_loop_add_fd(loop, virtio_mmio_kick_fd(t), virtio_mmio_on_kick, t, &err);
 *
 * Callbacks run one at a time on the loop thread. Registrations may be
 * added or removed from any thread, also while the loop runs; removal from
 * another thread waits until that callback is not running, so after it
 * returns the caller may free what opaque points to. */
#ifndef MINNOW_VMM_EVENT_LOOP_H
#define MINNOW_VMM_EVENT_LOOP_H

#include "util/errmsg.h"

struct event_loop;
struct event_loop_kick;

typedef void event_loop_fn(void *opaque);

int event_loop_create(struct event_loop **out, struct errmsg *e);
/* Starts the I/O thread. */
int event_loop_start(struct event_loop *l, struct errmsg *e);
/* Stops the thread (after the callback running now, if any) and joins it;
 * then frees everything. Registered fds are not closed: their owners close
 * them. */
void event_loop_destroy(struct event_loop *l);

/* Calls fn(opaque) on the loop thread whenever fd is readable (level-
 * triggered: fn must consume what made it readable). */
int event_loop_add_fd(struct event_loop *l, int fd, event_loop_fn *fn, void *opaque, struct errmsg *e);
int event_loop_remove_fd(struct event_loop *l, int fd, struct errmsg *e);

/* A kick: an eventfd the loop owns. event_loop_kick() from any thread makes
 * fn(opaque) run on the loop thread once soon (kicks coalesce). */
int event_loop_add_kick(struct event_loop *l, event_loop_fn *fn, void *opaque,
                        struct event_loop_kick **out, struct errmsg *e);
void event_loop_kick(struct event_loop_kick *k);
void event_loop_remove_kick(struct event_loop *l, struct event_loop_kick *k);

/* Keeps every callback from running (waits for the one running now) until
 * event_loop_release: while held, another thread may use the devices the
 * callbacks serve as if it were the loop thread (snapshots do). Not from a
 * callback. */
void event_loop_hold(struct event_loop *l);
void event_loop_release(struct event_loop *l);

#endif
