/* The network device process: one virtio-net adapter on the virtio PCI
 * transport, over the backend fd the supervisor opened (a TAP with vnet
 * headers, or a unix stream socket with QEMU's framing).
 *
 * Queues: 0 receive, 1 transmit, 2 control.  All three, and the backend,
 * are served by one thread of the device (not the transport's queue
 * threads): the control queue changes the receive filter, which must not
 * change under a receive (virtio_net.h), and one thread sees both
 * directions' backpressure.  Each wake-up serves a bounded batch of each
 * direction: transmitted frames go to the backend from guest memory
 * (writev) and are completed once per batch (their interrupt left to a
 * receive interrupt of the same moment when there is one); received
 * frames are read straight into the guest's buffers when they hold any
 * packet (else through the device's buffer) and each is published as
 * soon as it is in.  A frame the backend cannot take now (-EAGAIN) goes
 * back to the transmit queue, which waits until the backend is writable;
 * a packet the guest has no buffers for is kept until it adds some:
 * nothing queued is dropped for being early. */
#ifndef CELLVM_DEVICES_NET_NET_DEV_H
#define CELLVM_DEVICES_NET_NET_DEV_H

#include "devices/common/device.h"

extern const struct device_ops net_device_ops;

/* Fuzzing and tests: set before setup, the device starts no thread; the
 * caller runs its rounds with net_device_poll(d, timeout_ms). */
extern bool net_inline;
/* One round of the device's thread: waits up to TIMEOUT_MS (0: not at
 * all) for a kick or the backend, then serves what is due. */
void net_device_poll(struct device *d, int timeout_ms);

#endif
