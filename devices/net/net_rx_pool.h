/* Receive chains the device has popped for the backend to read a packet
 * straight into (vnet_rx_direct), kept from one packet to the next within
 * one round of the receive queue, oldest first.  A packet takes chains
 * from the front and completes them; what is left at the end of the round
 * goes back to the queue (vq_unpop), so nothing is held while the queue
 * is unlocked (a reset finds no stale chain).
 *
 * Static functions, for net_dev.c only: a test harness that renames the
 * virtqueue calls around that file (tools/fuzz/net_harness.c) sees these
 * pops and pushes too. */
#ifndef CELLVM_DEVICES_NET_NET_RX_POOL_H
#define CELLVM_DEVICES_NET_NET_RX_POOL_H

#include <errno.h>
#include <stdlib.h>

#include "devices/net/net_io.h"
#include "devices/net/virtio_net.h"
#include "devices/virtio/iov.h"
#include "devices/virtio/virtqueue.h"

/* Enough for a largest packet in Linux's smallest mergeable buffers
 * (1518 bytes: 44 chains). */
#define RX_POOL_MAX 48

struct rx_pool {
	struct vq_req req[RX_POOL_MAX];
	uint64_t cap[RX_POOL_MAX];
	unsigned first, count; /* req[first .. first + count) are kept */
	struct iovec *out;     /* scratch: a receive chain's readable segments */
};

static int rx_pool_init(struct rx_pool *p)
{
	p->first = p->count = 0;
	p->out = calloc(VQ_MAX_SEGS, sizeof(struct iovec));
	if (!p->out)
		return -ENOMEM;
	for (unsigned i = 0; i < RX_POOL_MAX; i++) {
		p->req[i] = (struct vq_req){.out = p->out, .out_cap = VQ_MAX_SEGS,
					    .in = calloc(VQ_MAX_SEGS, sizeof(struct iovec)),
					    .in_cap = VQ_MAX_SEGS};
		if (!p->req[i].in)
			return -ENOMEM;
	}
	return 0;
}

static void rx_pool_free(struct rx_pool *p)
{
	for (unsigned i = 0; i < RX_POOL_MAX; i++) {
		free(p->req[i].in);
		p->req[i].in = NULL;
	}
	free(p->out);
	p->out = NULL;
}

/* Pops chains until the kept ones hold WANT bytes: 1 when they do, 0 when
 * they cannot now (the ring is empty, or the pool full), or vq_pop's
 * error (the queue is broken). */
static int rx_pool_fill(struct rx_pool *p, struct virtqueue *vq, uint64_t want)
{
	uint64_t have = 0;
	for (unsigned i = 0; i < p->count; i++)
		have += p->cap[p->first + i];
	while (have < want) {
		if (p->first + p->count == RX_POOL_MAX) {
			if (p->first == 0)
				return 0;
			/* Slide the kept ones to the front (each keeps its own
			 * iovec array: the structs are swapped, not copied). */
			for (unsigned i = 0; i < p->count; i++) {
				struct vq_req r = p->req[i];
				p->req[i] = p->req[p->first + i];
				p->req[p->first + i] = r;
				p->cap[i] = p->cap[p->first + i];
			}
			p->first = 0;
		}
		unsigned slot = p->first + p->count;
		int rc = vq_pop(vq, &p->req[slot]);
		if (rc <= 0)
			return rc;
		p->cap[slot] = p->req[slot].in_bytes;
		p->count++;
		have += p->cap[slot];
	}
	return 1;
}

/* The kept chains, oldest first, as vnet_rx_direct takes them; their
 * number. */
static unsigned rx_pool_chains(const struct rx_pool *p, struct vnet_rx_chain *c)
{
	for (unsigned i = 0; i < p->count; i++) {
		const struct vq_req *r = &p->req[p->first + i];
		c[i] = (struct vnet_rx_chain){.in = r->in, .in_num = r->in_num,
					      .cap = p->cap[p->first + i]};
	}
	return p->count;
}

/* Completes the K oldest chains with LENS.  vq_push's error, if any. */
static int rx_pool_used(struct rx_pool *p, struct virtqueue *vq, unsigned k, const uint32_t *lens)
{
	for (unsigned i = 0; i < k; i++) {
		int rc = vq_push(vq, p->req[p->first].head, lens[i]);
		p->first++;
		p->count--;
		if (rc < 0)
			return rc;
	}
	if (p->count == 0)
		p->first = 0;
	return 0;
}

/* Gives every kept chain back to the queue: they are the last popped. */
static void rx_pool_release(struct rx_pool *p, struct virtqueue *vq)
{
	if (p->count)
		vq_unpop(vq, p->count);
	p->first = p->count = 0;
}

#endif
