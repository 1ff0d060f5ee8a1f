/* The disk device process: virtio-blk or virtio-scsi over the image
 * library, on the virtio PCI transport. */
#ifndef CELLVM_DEVICES_DISK_DISK_DEV_H
#define CELLVM_DEVICES_DISK_DISK_DEV_H

#include "devices/common/device.h"

extern const struct device_ops disk_device_ops;

#endif
