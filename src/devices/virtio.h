/* Constants shared by the virtio transport and the virtio devices, as the
 * virtio 1.2 specification numbers them: device status bits, the transport
 * feature bits minnow offers, interrupt status bits and device IDs. Device-
 * specific constants live with their device. */
#ifndef MINNOW_DEVICES_VIRTIO_H
#define MINNOW_DEVICES_VIRTIO_H

/* Device status (spec 2.1) */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* Reserved (transport) feature bits (spec 6) */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* InterruptStatus bits (spec 4.2.2) */
#define VIRTIO_INT_USED_BUFFER 1u
#define VIRTIO_INT_CONFIG_CHANGE 2u

/* Device IDs (spec 5) */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_ENTROPY 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK 19

/* The vendor ID minnow reports: "mnow" read as a little-endian word. It
 * means nothing to drivers; it only has to be stable. */
#define VIRTIO_VENDOR_MINNOW 0x776f6e6du

#define VIRTIO_BIT(n) (1ull << (n))

#endif
