/* The goldfish real-time clock (QEMU virt: 0x00101000, PLIC source 11, FDT
 * compatible "google,goldfish-rtc"), as Linux's rtc-goldfish driver uses
 * it: a 64-bit count of nanoseconds since the Unix epoch, taken from the
 * host's CLOCK_REALTIME plus an offset the guest sets by writing the time,
 * and one alarm with an interrupt.
 *
 * Registers (32 bits): 0x00 TIME_LOW (reading it latches TIME_HIGH),
 * 0x04 TIME_HIGH, 0x08 ALARM_LOW (writing it arms the alarm), 0x0c
 * ALARM_HIGH, 0x10 IRQ_ENABLED, 0x14 CLEAR_ALARM, 0x18 ALARM_STATUS (1
 * while armed), 0x1c CLEAR_INTERRUPT. When the time reaches an armed alarm
 * the alarm disarms and the interrupt becomes pending; the line is high
 * while it is pending and enabled.
 *
 * An alarm fires by itself only when someone looks: the board asks
 * rtc_next_deadline and calls rtc_update then (its timer thread); register
 * accesses also re-evaluate. Locking: one mutex, the irq line is driven
 * with it held (lock order rtc -> plic -> hart). */
#ifndef MINNOW_DEVICES_RTC_H
#define MINNOW_DEVICES_RTC_H

#include <stdint.h>

#include "devices/mmio.h"
#include "util/errmsg.h"
#include "util/snapbuf.h"

#define RTC_BASE 0x00101000ull
#define RTC_MMIO_SIZE 0x1000ull
#define RTC_IRQ 11u

struct rtc;

/* irq: the line to the PLIC (source RTC_IRQ on the board); may be NULL. */
int rtc_create(struct rtc **out, const struct irq_line *irq, struct errmsg *e);
void rtc_destroy(struct rtc *r);

/* The guest's wall clock, ns since the epoch. */
uint64_t rtc_time(struct rtc *r);
/* CLOCK_MONOTONIC ns at which the armed alarm fires (now if overdue), or
 * UINT64_MAX when no alarm is armed. */
uint64_t rtc_next_deadline(struct rtc *r);
/* Fires the alarm if it is due. */
void rtc_update(struct rtc *r);

/* Snapshot: the offset the guest set on the host's wall clock (so guest
 * time keeps following the host clock across a restore, with the guest's
 * adjustment), the alarm and the interrupt state. load (on an RTC just
 * created, before the VM runs) drives the irq line to the restored level;
 * an alarm that came due in between fires at once. */
int rtc_save(struct rtc *r, struct snap_writer *w);
int rtc_load(struct rtc *r, struct snap_reader *sr, struct errmsg *e);

/* Map with opaque = the struct rtc, size RTC_MMIO_SIZE. Registers take
 * aligned 32-bit accesses; others read 0 and are ignored. */
extern const struct mmio_ops rtc_mmio_ops;

#endif
