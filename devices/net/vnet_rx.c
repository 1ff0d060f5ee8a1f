/* virtio-net receive: the receive filter and the placement of one packet in
 * the guest's receive buffers, all or nothing, or the checks of one the
 * backend wrote there itself (see virtio_net.h). */
#include <errno.h>

#include "devices/net/virtio_net.h"
#include "devices/net/vnet_internal.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static bool in_table(const uint8_t (*t)[6], unsigned nt, const uint8_t *mac)
{
	for (unsigned i = 0; i < nt && i < VNET_MAC_TABLE_MAX; i++)
		if (!memcmp(t[i], mac, 6))
			return true;
	return false;
}

bool vnet_rx_wanted(const struct vnet *n, const uint8_t *frame, size_t len)
{
	if (len < VNET_ETH_HLEN)
		return false;
	if (n->promisc)
		return true;
	if (VNET_HAS(n, VIRTIO_NET_F_CTRL_VLAN) && frame[12] == 0x81 && frame[13] == 0x00) {
		if (len < VNET_ETH_HLEN + 4)
			return false;
		unsigned vid = (unsigned)(frame[14] << 8 | frame[15]) & 0xfff;
		if (!(n->vlans[vid / 64] >> (vid % 64) & 1))
			return false;
	}
	const uint8_t *dst = frame;
	if (!memcmp(dst, bcast, 6))
		return !n->nobcast;
	if (dst[0] & 1) {
		if (n->nomulti)
			return false;
		return n->allmulti || n->mc_overflow || in_table(n->mc, n->nmc, dst);
	}
	if (n->nouni)
		return false;
	return n->alluni || n->uc_overflow || !memcmp(dst, n->mac, 6) ||
	       in_table(n->uc, n->nuc, dst);
}

/* Checks the backend's header H (for a frame of FLEN bytes) against what the
 * guest takes now; clears DATA_VALID the guest cannot take. */
static bool rx_hdr_ok(const struct vnet *n, struct vnet_hdr *h, size_t flen)
{
	uint64_t g = n->guest_offloads;
	bool csum = g & VNET_BIT(VIRTIO_NET_F_GUEST_CSUM);

	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return false;
	if (!csum)
		h->flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!csum || (size_t)h->csum_start + h->csum_offset + 2 > flen)
			return false;
	}
	if (h->hdr_len > flen)
		return false;
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	unsigned need;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !ecn;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		need = VIRTIO_NET_F_GUEST_TSO4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		need = VIRTIO_NET_F_GUEST_TSO6;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (ecn)
			return false;
		need = VIRTIO_NET_F_GUEST_UFO;
		break;
	default:
		return false;
	}
	if (!(g & VNET_BIT(need)))
		return false;
	if (ecn && !(g & VNET_BIT(VIRTIO_NET_F_GUEST_ECN)))
		return false;
	return h->gso_size != 0;
}

/* The bytes to deliver: HDR (12 bytes, ours) then FRAME.  Writes stream
 * bytes [OFF, OFF + LEN) into IN[0..IN_NUM) from its start (which holds at
 * least LEN bytes); records where stream bytes 10 and 11 (num_buffers) went. */
static void write_stream(const struct iovec *in, unsigned in_num, const uint8_t *hdr,
			 const uint8_t *frame, size_t off, size_t len, uint8_t **nb)
{
	for (unsigned i = 0; i < in_num && len; i++) {
		uint8_t *d = in[i].iov_base;
		size_t piece = in[i].iov_len < len ? in[i].iov_len : len;
		size_t o = off, left = piece;
		if (o < VNET_HDR_LEN) {
			size_t h = VNET_HDR_LEN - o < left ? VNET_HDR_LEN - o : left;
			for (size_t j = 0; j < h; j++) {
				d[j] = hdr[o + j];
				if (o + j == 10)
					nb[0] = d + j;
				else if (o + j == 11)
					nb[1] = d + j;
			}
			d += h;
			o += h;
			left -= h;
		}
		if (left)
			memcpy(d, frame + (o - VNET_HDR_LEN), left);
		off += piece;
		len -= piece;
	}
}

static int give_back(const struct vnet_rx_ops *ops, void *ctx, unsigned k, int ret)
{
	if (k)
		ops->unpop(ctx, k);
	return ret;
}

int vnet_rx_place(struct vnet *n, const uint8_t *pkt, size_t len, const struct vnet_rx_ops *ops,
		  void *ctx)
{
	if (len < VNET_HDR_LEN + VNET_ETH_HLEN || len > VNET_HDR_LEN + (size_t)VNET_MAX_FRAME) {
		VNET_STAT_ADD(n, rx_malformed, 1);
		return -EINVAL;
	}
	size_t flen = len - VNET_HDR_LEN;
	const uint8_t *frame = pkt + VNET_HDR_LEN;
	struct vnet_hdr h;
	vnet_hdr_parse(pkt, &h);
	if (!rx_hdr_ok(n, &h, flen)) {
		VNET_STAT_ADD(n, rx_malformed, 1);
		return -EINVAL;
	}
	if (!vnet_rx_wanted(n, frame, flen)) {
		VNET_STAT_ADD(n, rx_filtered, 1);
		return -EINVAL;
	}
	bool mrg = VNET_HAS(n, VIRTIO_NET_F_MRG_RXBUF);
	unsigned max = mrg ? VNET_RX_MAX_CHAINS : 1;
	uint8_t hdr[VNET_HDR_LEN];
	h.num_buffers = 1;
	vnet_hdr_build(&h, hdr);

	uint16_t heads[VNET_RX_MAX_CHAINS];
	uint32_t lens[VNET_RX_MAX_CHAINS];
	uint8_t *nb[2] = { NULL, NULL };
	unsigned k = 0;
	size_t done = 0;
	while (done < len) {
		if (k == max) {
			VNET_STAT_ADD(n, rx_too_big, 1);
			return give_back(ops, ctx, k, -EMSGSIZE);
		}
		struct iovec *in = NULL;
		unsigned in_num = 0;
		uint16_t head = 0;
		int r = ops->next(ctx, &in, &in_num, &head);
		if (r == 0) {
			VNET_STAT_ADD(n, rx_no_buffers, 1);
			return give_back(ops, ctx, k, 0);
		}
		if (r < 0) {
			VNET_STAT_ADD(n, rx_broken, 1);
			return give_back(ops, ctx, k, -EIO);
		}
		k++;
		uint64_t cap = iov_bytes(in, in_num);
		if (!mrg && cap < len) {
			VNET_STAT_ADD(n, rx_too_big, 1);
			return give_back(ops, ctx, k, -EMSGSIZE);
		}
		if (mrg && cap < VNET_HDR_LEN) {
			VNET_STAT_ADD(n, rx_broken, 1);
			return give_back(ops, ctx, k, -EIO);
		}
		size_t piece = cap < len - done ? (size_t)cap : len - done;
		write_stream(in, in_num, hdr, frame, done, piece, nb);
		heads[k - 1] = head;
		lens[k - 1] = (uint32_t)piece;
		done += piece;
	}
	/* Every chain holds >= 12 bytes, so the header is all in the first. */
	*nb[0] = (uint8_t)k;
	*nb[1] = (uint8_t)(k >> 8);
	for (unsigned i = 0; i < k; i++)
		ops->used(ctx, heads[i], lens[i]);
	VNET_STAT_ADD(n, rx_frames, 1);
	VNET_STAT_ADD(n, rx_bytes, flen);
	return (int)k;
}

int vnet_rx_direct(struct vnet *n, const uint8_t hdr[VNET_HDR_LEN], size_t len,
		   const struct vnet_rx_chain *c, unsigned nc, uint32_t *lens)
{
	if (len < VNET_HDR_LEN + VNET_ETH_HLEN || len > VNET_HDR_LEN + (size_t)VNET_MAX_FRAME ||
	    nc == 0) {
		VNET_STAT_ADD(n, rx_malformed, 1);
		return -EINVAL;
	}
	size_t flen = len - VNET_HDR_LEN;
	struct vnet_hdr h;
	vnet_hdr_parse(hdr, &h);
	if (!rx_hdr_ok(n, &h, flen)) {
		VNET_STAT_ADD(n, rx_malformed, 1);
		return -EINVAL;
	}
	/* The frame's Ethernet header and VLAN tag, for the filter. */
	uint8_t eth[VNET_ETH_HLEN + 4];
	size_t got = 0, want = flen < sizeof(eth) ? flen : sizeof(eth);
	for (unsigned i = 0; i < nc && got < want; i++)
		got += iov_to_buf(c[i].in, c[i].in_num, i == 0 ? VNET_HDR_LEN : 0, eth + got,
				  want - got);
	if (got < want || !vnet_rx_wanted(n, eth, flen)) {
		VNET_STAT_ADD(n, rx_filtered, 1);
		return -EINVAL;
	}
	unsigned k = 0;
	for (size_t done = 0; done < len; k++) {
		if (k == nc || (k > 0 && !VNET_HAS(n, VIRTIO_NET_F_MRG_RXBUF))) {
			VNET_STAT_ADD(n, rx_too_big, 1); /* the caller broke its promise */
			return -EINVAL;
		}
		size_t piece = c[k].cap < len - done ? (size_t)c[k].cap : len - done;
		lens[k] = (uint32_t)piece;
		done += piece;
	}
	uint8_t out[VNET_HDR_LEN];
	h.num_buffers = (uint16_t)k;
	vnet_hdr_build(&h, out);
	iov_from_buf(c[0].in, c[0].in_num, 0, out, VNET_HDR_LEN);
	VNET_STAT_ADD(n, rx_frames, 1);
	VNET_STAT_ADD(n, rx_bytes, flen);
	return (int)k;
}
