/* virtio-net transmit: one chain from a transmit queue, checked and copied
 * for the backend, or only its header copied and the frame handed on where
 * it is (see vnet_tx_copy and vnet_tx_iov in virtio_net.h).  The header is
 * checked in the copy, never in guest memory. */
#include <errno.h>

#include "devices/net/virtio_net.h"
#include "devices/net/vnet_internal.h"

/* Checks H against N's negotiated features for a frame of FLEN bytes and
 * normalises it; returns false if it is malformed. */
static bool tx_hdr_ok(const struct vnet *n, struct vnet_hdr *h, size_t flen)
{
	h->flags &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return false;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!VNET_HAS(n, VIRTIO_NET_F_CSUM))
			return false;
		if ((size_t)h->csum_start + h->csum_offset + 2 > flen)
			return false;
	} else {
		h->csum_start = h->csum_offset = 0;
	}
	if (h->hdr_len > flen)
		return false;

	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VIRTIO_NET_HDR_GSO_ECN;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (ecn)
			return false;
		h->gso_size = 0;
		h->hdr_len = 0;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (!VNET_HAS(n, VIRTIO_NET_F_HOST_TSO4))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!VNET_HAS(n, VIRTIO_NET_F_HOST_TSO6))
			return false;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		if (!VNET_HAS(n, VIRTIO_NET_F_HOST_UFO) || ecn)
			return false;
		break;
	default:
		return false;
	}
	if (ecn && !VNET_HAS(n, VIRTIO_NET_F_HOST_ECN))
		return false;
	if (type != VIRTIO_NET_HDR_GSO_NONE && (h->gso_size == 0 || h->hdr_len >= flen))
		return false;
	h->num_buffers = 0;
	return true;
}

/* Checks the guest's header for a FLEN-byte frame and rewrites it in
 * place as the backend gets it (what the guest may not set, cleared). */
static bool tx_hdr_take(struct vnet *n, uint8_t hdr[VNET_HDR_LEN], size_t flen)
{
	struct vnet_hdr h;
	vnet_hdr_parse(hdr, &h);
	if (!tx_hdr_ok(n, &h, flen)) {
		VNET_STAT_ADD(n, tx_malformed, 1);
		return false;
	}
	vnet_hdr_build(&h, hdr);
	return true;
}

ssize_t vnet_tx_copy(struct vnet *n, const struct iovec *out, unsigned out_num, uint8_t *buf,
		     size_t cap)
{
	uint64_t total = iov_bytes(out, out_num);

	if (total < VNET_HDR_LEN + VNET_ETH_HLEN) {
		VNET_STAT_ADD(n, tx_malformed, 1);
		return -EINVAL;
	}
	if (total > VNET_HDR_LEN + (uint64_t)VNET_MAX_FRAME || total > cap) {
		VNET_STAT_ADD(n, tx_too_big, 1);
		return -EMSGSIZE;
	}
	size_t len = iov_to_buf(out, out_num, 0, buf, (size_t)total);
	size_t flen = len - VNET_HDR_LEN;
	if (!tx_hdr_take(n, buf, flen))
		return -EINVAL;
	VNET_STAT_ADD(n, tx_frames, 1);
	VNET_STAT_ADD(n, tx_bytes, flen);
	return (ssize_t)len;
}

int vnet_tx_iov(struct vnet *n, const struct iovec *out, unsigned out_num,
		uint8_t hdr[VNET_HDR_LEN], struct iovec *iov, unsigned iov_cap, size_t *len)
{
	uint64_t total = iov_bytes(out, out_num);

	if (total < VNET_HDR_LEN + VNET_ETH_HLEN) {
		VNET_STAT_ADD(n, tx_malformed, 1);
		return -EINVAL;
	}
	if (total > VNET_HDR_LEN + (uint64_t)VNET_MAX_FRAME) {
		VNET_STAT_ADD(n, tx_too_big, 1);
		return -EMSGSIZE;
	}
	/* The frame's segments: OUT without its first 12 bytes. */
	unsigned k = 1;
	size_t skip = VNET_HDR_LEN;
	for (unsigned i = 0; i < out_num; i++) {
		size_t l = out[i].iov_len;
		if (l <= skip) {
			skip -= l;
			continue;
		}
		if (k == iov_cap)
			return -E2BIG;
		iov[k].iov_base = (uint8_t *)out[i].iov_base + skip;
		iov[k].iov_len = l - skip;
		skip = 0;
		k++;
	}
	iov_to_buf(out, out_num, 0, hdr, VNET_HDR_LEN);
	size_t flen = (size_t)total - VNET_HDR_LEN;
	if (!tx_hdr_take(n, hdr, flen))
		return -EINVAL;
	iov[0].iov_base = hdr;
	iov[0].iov_len = VNET_HDR_LEN;
	*len = (size_t)total;
	return (int)k;
}

void vnet_tx_accepted(struct vnet *n, size_t len)
{
	VNET_STAT_ADD(n, tx_frames, 1);
	VNET_STAT_ADD(n, tx_bytes, len - VNET_HDR_LEN);
}
