/* virtio-net: the vnet header, features, config space, reset and counters
 * (see virtio_net.h).  TX is in vnet_tx.c, RX in vnet_rx.c, the control
 * queue in vnet_ctrl.c. */
#include <string.h>

#include "devices/net/virtio_net.h"
#include "devices/net/vnet_internal.h"

#define B(f) VNET_BIT(VIRTIO_NET_F_##f)

void vnet_hdr_parse(const uint8_t raw[VNET_HDR_LEN], struct vnet_hdr *h)
{
	h->flags = raw[0];
	h->gso_type = raw[1];
	h->hdr_len = vnet_get_le16(raw + 2);
	h->gso_size = vnet_get_le16(raw + 4);
	h->csum_start = vnet_get_le16(raw + 6);
	h->csum_offset = vnet_get_le16(raw + 8);
	h->num_buffers = vnet_get_le16(raw + 10);
}

void vnet_hdr_build(const struct vnet_hdr *h, uint8_t raw[VNET_HDR_LEN])
{
	raw[0] = h->flags;
	raw[1] = h->gso_type;
	vnet_put_le16(raw + 2, h->hdr_len);
	vnet_put_le16(raw + 4, h->gso_size);
	vnet_put_le16(raw + 6, h->csum_start);
	vnet_put_le16(raw + 8, h->csum_offset);
	vnet_put_le16(raw + 10, h->num_buffers);
}

/* Each device feature and what it needs (all of them). */
static const struct {
	unsigned bit;
	uint64_t needs;
} deps[] = {
	{ VIRTIO_NET_F_GUEST_TSO4, B(GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_TSO6, B(GUEST_CSUM) },
	{ VIRTIO_NET_F_GUEST_UFO, B(GUEST_CSUM) },
	{ VIRTIO_NET_F_HOST_TSO4, B(CSUM) },
	{ VIRTIO_NET_F_HOST_TSO6, B(CSUM) },
	{ VIRTIO_NET_F_HOST_UFO, B(CSUM) },
	{ VIRTIO_NET_F_CTRL_RX, B(CTRL_VQ) },
	{ VIRTIO_NET_F_CTRL_VLAN, B(CTRL_VQ) },
	{ VIRTIO_NET_F_CTRL_RX_EXTRA, B(CTRL_RX) | B(CTRL_VQ) },
	{ VIRTIO_NET_F_GUEST_ANNOUNCE, B(CTRL_VQ) },
	{ VIRTIO_NET_F_MQ, B(CTRL_VQ) },
	{ VIRTIO_NET_F_CTRL_MAC_ADDR, B(CTRL_VQ) },
	{ VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, B(CTRL_VQ) },
};

/* ECN needs either TSO (of its direction). */
static bool deps_met(uint64_t f)
{
	for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
		if ((f >> deps[i].bit & 1) && (f & deps[i].needs) != deps[i].needs)
			return false;
	if ((f & B(GUEST_ECN)) && !(f & (B(GUEST_TSO4) | B(GUEST_TSO6))))
		return false;
	if ((f & B(HOST_ECN)) && !(f & (B(HOST_TSO4) | B(HOST_TSO6))))
		return false;
	return true;
}

/* Drops offloads whose dependencies are missing, until none is. */
static uint64_t close_deps(uint64_t f)
{
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(deps) / sizeof(deps[0]); i++)
			if ((f & deps[i].needs) != deps[i].needs)
				f &= ~VNET_BIT(deps[i].bit);
		if (!(f & (B(GUEST_TSO4) | B(GUEST_TSO6))))
			f &= ~B(GUEST_ECN);
		if (!(f & (B(HOST_TSO4) | B(HOST_TSO6))))
			f &= ~B(HOST_ECN);
	}
	return f;
}

static void filter_defaults(struct vnet *n)
{
	n->promisc = false;
	n->allmulti = true;
	n->alluni = n->nomulti = n->nouni = n->nobcast = false;
	n->nuc = n->nmc = 0;
	n->uc_overflow = n->mc_overflow = false;
	memset(n->uc, 0, sizeof(n->uc));
	memset(n->mc, 0, sizeof(n->mc));
	memset(n->vlans, 0, sizeof(n->vlans));
}

void vnet_init_mq(struct vnet *n, const uint8_t mac[6], uint16_t mtu, uint64_t backend_offloads,
		  uint16_t max_pairs)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->perm_mac, mac, 6);
	memcpy(n->mac, mac, 6);
	n->link_up = true;
	n->mtu = mtu >= 68 ? mtu : 0;
	if (max_pairs < 1)
		max_pairs = 1;
	if (max_pairs > VNET_MAX_PAIRS)
		max_pairs = VNET_MAX_PAIRS;
	n->max_pairs = max_pairs;
	uint64_t f = B(MAC) | B(STATUS) | B(CTRL_VQ) | B(CTRL_RX) | B(CTRL_RX_EXTRA) |
		     B(CTRL_VLAN) | B(CTRL_MAC_ADDR) | B(GUEST_ANNOUNCE) | B(MRG_RXBUF);
	if (n->mtu)
		f |= B(MTU);
	if (max_pairs > 1)
		f |= B(MQ);
	f |= backend_offloads & VNET_ALL_OFFLOADS;
	f = close_deps(f);
	if (f & VNET_GUEST_OFFLOADS)
		f |= B(CTRL_GUEST_OFFLOADS);
	n->offered = f;
	vnet_reset(n);
}

void vnet_init(struct vnet *n, const uint8_t mac[6], uint16_t mtu, uint64_t backend_offloads)
{
	vnet_init_mq(n, mac, mtu, backend_offloads, 1);
}

bool vnet_features_ok(const struct vnet *n, uint64_t negotiated)
{
	uint64_t dev = negotiated & 0xffffffull;
	return (dev & ~n->offered) == 0 && deps_met(dev);
}

void vnet_set_features(struct vnet *n, uint64_t negotiated)
{
	n->features = negotiated & n->offered;
	n->guest_offloads = n->features & VNET_GUEST_OFFLOADS;
}

void vnet_reset(struct vnet *n)
{
	n->features = 0;
	memcpy(n->mac, n->perm_mac, 6);
	filter_defaults(n);
	n->guest_offloads = 0;
	n->announce = false;
	n->pairs = 1;
}

bool vnet_announce(struct vnet *n)
{
	if (!VNET_HAS(n, VIRTIO_NET_F_GUEST_ANNOUNCE))
		return false;
	n->announce = true;
	return true;
}

void vnet_config(const struct vnet *n, uint8_t cfg[VNET_CONFIG_SIZE])
{
	uint16_t status = (n->link_up ? VIRTIO_NET_S_LINK_UP : 0) |
			  (n->announce ? VIRTIO_NET_S_ANNOUNCE : 0);
	memcpy(cfg, n->mac, 6);
	vnet_put_le16(cfg + 6, status);
	vnet_put_le16(cfg + 8, n->max_pairs);
	vnet_put_le16(cfg + 10, n->mtu ? n->mtu : 1500);
}

void vnet_get_stats(const struct vnet *n, struct vnet_stats *st)
{
	const uint64_t *src = (const uint64_t *)&n->stats;
	uint64_t *dst = (uint64_t *)st;
	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
