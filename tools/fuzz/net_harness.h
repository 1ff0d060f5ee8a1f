/* The network device process (devices/net/net_dev.c) built into a harness
 * with a view inside: its transport, counters and backend, the chains its
 * one thread pops and pushes (seen through hooks), and a release of what
 * a device process leaves to exit().  For fuzz_net and test_net_dev; the
 * device itself is unchanged (net_harness.c compiles net_dev.c with
 * vq_pop, vq_unpop and vq_push routed through the hooks). */
#ifndef CELLVM_TOOLS_FUZZ_NET_HARNESS_H
#define CELLVM_TOOLS_FUZZ_NET_HARNESS_H

#include <stdbool.h>

#include "devices/net/net_dev.h"
#include "devices/net/net_io.h"
#include "devices/net/virtio_net.h"
#include "devices/virtio/virtio_pci.h"

struct net_hooks {
	/* A chain the device popped (rc > 0) from queue Q. */
	void (*popped)(void *ctx, unsigned q, const struct vq_req *req);
	/* The device gave back the last N chains popped on Q. */
	void (*unpopped)(void *ctx, unsigned q, unsigned n);
	/* The device pushed chain HEAD of Q as used with LEN bytes written. */
	void (*pushed)(void *ctx, unsigned q, uint16_t head, uint32_t len);
	void *ctx;
};
extern struct net_hooks net_hooks;

struct virtio_pci *net_harness_transport(struct device *d);
void net_harness_stats(struct device *d, struct vnet_stats *st);
const struct net_io *net_harness_io(struct device *d);
bool net_harness_link_down(struct device *d);
/* Bytes of one copied frame the backend said -EAGAIN to, or 1 when it
 * said so to a frame sent from guest memory (its chain back in the queue
 * until POLLOUT); 0: none.  Bytes of one received packet waiting for RX
 * buffers (0: none). */
size_t net_harness_tx_held(struct device *d);
size_t net_harness_rx_held(struct device *d);
/* Frees the model's buffers, closes its backend fd and unmaps its guest
 * RAM (the device's teardown, with net_inline, frees the rest). */
void net_harness_release(struct device *d);

#endif
