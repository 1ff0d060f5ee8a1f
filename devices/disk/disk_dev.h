/* The disk device process: virtio-blk or virtio-scsi over the image
 * library, on the virtio PCI transport. */
#ifndef CELLVM_DEVICES_DISK_DISK_DEV_H
#define CELLVM_DEVICES_DISK_DISK_DEV_H

#include "devices/common/device.h"

extern const struct device_ops disk_device_ops;

/* Fuzzing: set before setup, the device starts no queue threads and the
 * caller serves queues with virtio_pci_serve_queue(disk_device_transport(d), q). */
extern bool disk_inline_queues;
struct virtio_pci *disk_device_transport(struct device *d);

#endif
