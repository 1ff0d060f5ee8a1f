/* net_dev.c with its queue operations seen by the harness (net_harness.h).
 * The macros below rename the device's calls only; the library's
 * virtqueue functions do the work. */
#include "tools/fuzz/net_harness.h"

#include <sys/mman.h>

#include "devices/virtio/virtqueue.h"

struct net_hooks net_hooks;

static int hooked_vq_pop(struct virtqueue *vq, struct vq_req *req)
{
	int rc = vq_pop(vq, req);
	if (rc > 0 && net_hooks.popped)
		net_hooks.popped(net_hooks.ctx, vq->index, req);
	return rc;
}

static int hooked_vq_unpop(struct virtqueue *vq, unsigned n)
{
	int rc = vq_unpop(vq, n);
	if (rc == 0 && net_hooks.unpopped)
		net_hooks.unpopped(net_hooks.ctx, vq->index, n);
	return rc;
}

static int hooked_vq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	if (net_hooks.pushed)
		net_hooks.pushed(net_hooks.ctx, vq->index, head, len);
	return vq_push(vq, head, len);
}

#define vq_pop hooked_vq_pop
#define vq_unpop hooked_vq_unpop
#define vq_push hooked_vq_push
#include "devices/net/net_dev.c"
#undef vq_pop
#undef vq_unpop
#undef vq_push

struct virtio_pci *net_harness_transport(struct device *d)
{
	return &((struct net_dev *)d->priv)->vp;
}

void net_harness_stats(struct device *d, struct vnet_stats *st)
{
	vnet_get_stats(&((struct net_dev *)d->priv)->vnet, st);
}

const struct net_io *net_harness_io(struct device *d)
{
	return &((struct net_dev *)d->priv)->io;
}

bool net_harness_link_down(struct device *d)
{
	return ((struct net_dev *)d->priv)->link_down;
}

size_t net_harness_tx_held(struct device *d)
{
	struct net_dev *nd = d->priv;
	return nd->tx_len ? nd->tx_len : nd->tx_wait_out;
}

size_t net_harness_rx_held(struct device *d)
{
	return ((struct net_dev *)d->priv)->rx_len;
}

void net_harness_release(struct device *d)
{
	struct net_dev *nd = d->priv;
	if (!nd)
		return;
	if (nd->vp.mem.nr)
		munmap(nd->vp.mem.region[0].host, nd->vp.mem.region[0].len);
	nd->vp.mem.nr = 0;
	net_device_ops.teardown(d); /* the rest: buffers, backend (net_inline) */
}
