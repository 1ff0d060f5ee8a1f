/* virtio-net request layer (devices/net/virtio_net.h): the vnet header,
 * config space and features, TX checks with headers split anywhere, the
 * receive filter, RX placement (one chain, mergeable, all or nothing) and
 * every control command, well-formed and malformed.
 *
 * Segments handed to the library are each their own allocation of exactly
 * their length, so under ASan any access outside the iovecs is caught. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/net/virtio_net.h"

#define B(f) VNET_BIT(VIRTIO_NET_F_##f)
static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t OTHER[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

/* --- segments ------------------------------------------------------------- */

#define MAX_SEGS 16
struct segs {
	struct iovec v[MAX_SEGS];
	unsigned n;
};

/* Splits DATA[0..LEN) at the CUTS (ascending, ending with 0 or LEN), each
 * piece its own allocation (an empty piece: no memory at all). */
static void segs_make(struct segs *s, const uint8_t *data, size_t len, const size_t *cuts,
		      unsigned ncuts)
{
	size_t at = 0;
	s->n = 0;
	for (unsigned i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		assert_true(end >= at && end <= len && s->n < MAX_SEGS);
		size_t l = end - at;
		s->v[s->n].iov_base = l ? malloc(l) : NULL;
		if (l)
			memcpy(s->v[s->n].iov_base, data + at, l);
		s->v[s->n].iov_len = l;
		s->n++;
		at = end;
	}
}

static void segs_free(struct segs *s)
{
	for (unsigned i = 0; i < s->n; i++)
		free(s->v[i].iov_base);
	s->n = 0;
}

/* --- a device ------------------------------------------------------------- */

static void dev(struct vnet *n, uint64_t backend, uint64_t negotiated)
{
	vnet_init(n, MAC, 1500, backend);
	vnet_set_features(n, negotiated);
}

static void dev_all(struct vnet *n)
{
	dev(n, VNET_ALL_OFFLOADS, ~0ull);
}

/* A frame to DST of LEN bytes (cut short when LEN < 14), IPv4 ethertype, a byte pattern. */
static void frame_make(uint8_t *f, size_t len, const uint8_t *dst)
{
	uint8_t eth[VNET_ETH_HLEN];
	memcpy(eth, dst, 6);
	memcpy(eth + 6, OTHER, 6);
	eth[12] = 0x08;
	eth[13] = 0x00;
	for (size_t i = 0; i < len; i++)
		f[i] = i < VNET_ETH_HLEN ? eth[i] : (uint8_t)(i * 7 + 3);
}

/* --- header, config, features --------------------------------------------- */

static void test_hdr_round_trip(void **state)
{
	(void)state;
	struct vnet_hdr h = { .flags = 1, .gso_type = 0x81, .hdr_len = 0x1234, .gso_size = 0x5678,
			      .csum_start = 0x9abc, .csum_offset = 0xdef0, .num_buffers = 0x0102 };
	uint8_t raw[VNET_HDR_LEN];
	vnet_hdr_build(&h, raw);
	const uint8_t want[VNET_HDR_LEN] = { 1, 0x81, 0x34, 0x12, 0x78, 0x56, 0xbc, 0x9a, 0xf0, 0xde, 0x02, 0x01 };
	assert_memory_equal(raw, want, VNET_HDR_LEN);
	struct vnet_hdr g;
	vnet_hdr_parse(raw, &g);
	assert_memory_equal(&g, &h, sizeof(h));
}

static void test_config(void **state)
{
	(void)state;
	struct vnet n;
	uint8_t cfg[VNET_CONFIG_SIZE];
	vnet_init_mq(&n, MAC, 9000, 0, 4);
	vnet_config(&n, cfg);
	assert_memory_equal(cfg, MAC, 6);
	assert_int_equal(cfg[6] | cfg[7] << 8, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(cfg[8] | cfg[9] << 8, 4);
	assert_int_equal(cfg[10] | cfg[11] << 8, 9000);
	assert_true(n.offered & B(MQ));
	assert_true(n.offered & B(MTU));
	n.link_up = false;
	vnet_config(&n, cfg);
	assert_int_equal(cfg[6] | cfg[7] << 8, 0);

	/* No MTU: not offered, config shows 1500; one pair: no MQ. */
	vnet_init(&n, MAC, 0, 0);
	vnet_config(&n, cfg);
	assert_false(n.offered & B(MTU));
	assert_false(n.offered & B(MQ));
	assert_int_equal(cfg[8] | cfg[9] << 8, 1);
	assert_int_equal(cfg[10] | cfg[11] << 8, 1500);

	/* Announce: only with GUEST_ANNOUNCE negotiated. */
	assert_false(vnet_announce(&n));
	vnet_set_features(&n, n.offered);
	assert_true(vnet_announce(&n));
	vnet_config(&n, cfg);
	assert_int_equal(cfg[6] | cfg[7] << 8, VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE);
}

static void test_features(void **state)
{
	(void)state;
	struct vnet n;
	uint64_t base = B(MAC) | B(STATUS) | B(CTRL_VQ) | B(CTRL_RX) | B(CTRL_RX_EXTRA) |
			B(CTRL_VLAN) | B(CTRL_MAC_ADDR) | B(GUEST_ANNOUNCE) | B(MRG_RXBUF) | B(MTU);

	/* A stream socket: no offloads at all. */
	vnet_init(&n, MAC, 1500, 0);
	assert_int_equal(n.offered, base);
	assert_false(n.offered & VNET_ALL_OFFLOADS);

	/* A TAP: everything, and CTRL_GUEST_OFFLOADS. */
	vnet_init(&n, MAC, 1500, VNET_ALL_OFFLOADS);
	assert_int_equal(n.offered, base | VNET_ALL_OFFLOADS | B(CTRL_GUEST_OFFLOADS));

	/* Dependencies: TSO without CSUM, ECN without TSO are not offered. */
	vnet_init(&n, MAC, 1500, B(HOST_TSO4) | B(HOST_ECN) | B(GUEST_CSUM) | B(GUEST_ECN));
	assert_int_equal(n.offered & VNET_ALL_OFFLOADS, B(GUEST_CSUM));
	assert_true(n.offered & B(CTRL_GUEST_OFFLOADS));
	/* Bits outside the offloads are ignored. */
	vnet_init(&n, MAC, 1500, B(MQ) | B(CTRL_VQ) | (1ull << 40));
	assert_int_equal(n.offered, base);

	/* set_features keeps only offered bits and enables the guest offloads. */
	vnet_init(&n, MAC, 1500, VNET_ALL_OFFLOADS);
	vnet_set_features(&n, B(GUEST_CSUM) | B(GUEST_TSO4) | B(MQ) | (1ull << 32));
	assert_int_equal(n.features, B(GUEST_CSUM) | B(GUEST_TSO4));
	assert_int_equal(n.guest_offloads, B(GUEST_CSUM) | B(GUEST_TSO4));

	/* features_ok: subset of offered + transport bits, dependencies. */
	assert_true(vnet_features_ok(&n, n.offered | (1ull << 32)));
	assert_true(vnet_features_ok(&n, 0));
	assert_false(vnet_features_ok(&n, B(MQ)));
	assert_false(vnet_features_ok(&n, B(GUEST_TSO4)));
	assert_false(vnet_features_ok(&n, B(CTRL_RX)));
	assert_false(vnet_features_ok(&n, B(CSUM) | B(HOST_ECN)));
	assert_true(vnet_features_ok(&n, B(CSUM) | B(HOST_TSO6) | B(HOST_ECN)));

	/* Reset: features, filter, MAC, offloads back. */
	vnet_set_features(&n, n.offered);
	n.promisc = true;
	n.allmulti = false;
	n.nuc = 3;
	n.vlans[1] = 5;
	n.mac[0] = 0x02;
	n.link_up = false;
	vnet_reset(&n);
	assert_int_equal(n.features, 0);
	assert_int_equal(n.guest_offloads, 0);
	assert_false(n.promisc);
	assert_true(n.allmulti);
	assert_int_equal(n.nuc, 0);
	assert_int_equal(n.vlans[1], 0);
	assert_memory_equal(n.mac, MAC, 6);
	assert_false(n.link_up); /* host state: kept */
}

/* --- TX ------------------------------------------------------------------- */

/* Sends header H + a frame of FLEN bytes split at CUTS; returns vnet_tx_copy's
 * result and checks the copy (the frame untouched, the header rebuilt). */
static ssize_t tx(struct vnet *n, const struct vnet_hdr *h, size_t flen, const size_t *cuts,
		  unsigned ncuts, size_t cap, struct vnet_hdr *got)
{
	size_t len = VNET_HDR_LEN + flen;
	uint8_t *pkt = malloc(len ? len : 1);
	vnet_hdr_build(h, pkt);
	frame_make(pkt + VNET_HDR_LEN, flen, OTHER);
	struct segs s;
	segs_make(&s, pkt, len, cuts, ncuts);
	uint8_t *buf = malloc(cap ? cap : 1);
	ssize_t r = vnet_tx_copy(n, s.v, s.n, buf, cap);
	if (r > 0) {
		assert_int_equal(r, len);
		assert_memory_equal(buf + VNET_HDR_LEN, pkt + VNET_HDR_LEN, flen);
		if (got)
			vnet_hdr_parse(buf, got);
	}
	segs_free(&s);
	free(buf);
	free(pkt);
	return r;
}

static void test_tx_plain_and_split(void **state)
{
	(void)state;
	struct vnet n;
	dev(&n, 0, ~0ull);
	struct vnet_hdr h = { .num_buffers = 7, .gso_size = 99 }, got;
	/* Whole, and the header split at every byte, and the frame split too. */
	assert_int_equal(tx(&n, &h, 60, NULL, 0, VNET_TX_BUF_SIZE, &got), 72);
	assert_int_equal(got.num_buffers, 0);
	assert_int_equal(got.gso_size, 0);
	for (size_t c = 0; c <= VNET_HDR_LEN; c++) {
		size_t cuts[] = { 0, c, c, 20, 40 };
		assert_int_equal(tx(&n, &h, 60, cuts, 5, VNET_TX_BUF_SIZE, NULL), 72);
	}
	size_t one[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
	assert_int_equal(tx(&n, &h, 14, one, 13, VNET_TX_BUF_SIZE, NULL), 26);
	/* DATA_VALID is cleared, unknown flags refused. */
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(tx(&n, &h, 60, NULL, 0, VNET_TX_BUF_SIZE, &got), 72);
	assert_int_equal(got.flags, 0);
	h.flags = 4;
	assert_int_equal(tx(&n, &h, 60, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	struct vnet_stats st;
	vnet_get_stats(&n, &st);
	assert_int_equal(st.tx_frames, 1 + 13 + 1 + 1);
	assert_int_equal(st.tx_malformed, 1);
}

static void test_tx_sizes(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	struct vnet_hdr h = { 0 };
	/* Zero-length and sub-Ethernet frames; a header alone; nothing at all. */
	assert_int_equal(tx(&n, &h, 0, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	assert_int_equal(tx(&n, &h, 13, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	assert_int_equal(tx(&n, &h, 14, NULL, 0, VNET_TX_BUF_SIZE, NULL), 26);
	uint8_t buf[64];
	assert_int_equal(vnet_tx_copy(&n, NULL, 0, buf, sizeof(buf)), -EINVAL);
	/* The biggest frame, one byte more, and a buffer too small. */
	assert_int_equal(tx(&n, &h, VNET_MAX_FRAME, NULL, 0, VNET_TX_BUF_SIZE, NULL),
			 VNET_TX_BUF_SIZE);
	assert_int_equal(tx(&n, &h, VNET_MAX_FRAME + 1, NULL, 0, VNET_TX_BUF_SIZE + 1, NULL),
			 -EMSGSIZE);
	assert_int_equal(tx(&n, &h, 100, NULL, 0, 111, NULL), -EMSGSIZE);
	assert_int_equal(tx(&n, &h, 100, NULL, 0, 112, NULL), 112);
	/* Huge segment lengths saturate, never wrap. */
	struct iovec v[2] = { { buf, SIZE_MAX }, { buf, 20 } };
	assert_int_equal(vnet_tx_copy(&n, v, 2, buf, sizeof(buf)), -EMSGSIZE);
	struct vnet_stats st;
	vnet_get_stats(&n, &st);
	assert_int_equal(st.tx_too_big, 3);
	assert_int_equal(st.tx_malformed, 3);
}

static void test_tx_offloads(void **state)
{
	(void)state;
	struct vnet n;
	struct vnet_hdr got;
	struct vnet_hdr csum = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16 };
	struct vnet_hdr tso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				.hdr_len = 54, .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };

	/* Nothing negotiated (stream backend): no csum, no GSO. */
	dev(&n, 0, ~0ull);
	assert_int_equal(tx(&n, &csum, 100, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	assert_int_equal(tx(&n, &tso, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	/* The backend could, the driver did not take it. */
	dev(&n, VNET_ALL_OFFLOADS, B(CSUM));
	assert_int_equal(tx(&n, &csum, 100, NULL, 0, VNET_TX_BUF_SIZE, &got), 112);
	assert_int_equal(got.csum_start, 34);
	assert_int_equal(tx(&n, &tso, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);

	dev_all(&n);
	assert_int_equal(tx(&n, &tso, 3000, NULL, 0, VNET_TX_BUF_SIZE, &got), 3012);
	assert_memory_equal(&got, &tso, sizeof(got));
	/* csum_start + csum_offset + 2 <= frame length, exactly at the edge. */
	struct vnet_hdr c = csum;
	c.csum_start = 82;
	assert_int_equal(tx(&n, &c, 100, NULL, 0, VNET_TX_BUF_SIZE, NULL), 112);
	c.csum_start = 83;
	assert_int_equal(tx(&n, &c, 100, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	c.csum_start = 0xffff;
	c.csum_offset = 0xffff;
	assert_int_equal(tx(&n, &c, 100, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	/* Without NEEDS_CSUM the offsets are ignored (and zeroed). */
	c.flags = 0;
	assert_int_equal(tx(&n, &c, 100, NULL, 0, VNET_TX_BUF_SIZE, &got), 112);
	assert_int_equal(got.csum_start, 0);
	assert_int_equal(got.csum_offset, 0);
	/* GSO: gso_size 0, hdr_len beyond the frame, unknown type, ECN. */
	struct vnet_hdr t = tso;
	t.gso_size = 0;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t = tso;
	t.hdr_len = 3000;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t.hdr_len = 4000;
	t.gso_type = 0;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t = tso;
	t.gso_type = 2;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), 3012);
	t.gso_type = VIRTIO_NET_HDR_GSO_UDP | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), 3012);
	t.gso_type = VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	/* TSO6 / ECN / UFO each need their own feature. */
	dev(&n, VNET_ALL_OFFLOADS, B(CSUM) | B(HOST_TSO4));
	t = tso;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), 3012);
	t.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	t.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(tx(&n, &t, 3000, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	/* A non-GSO hdr_len beyond the frame is refused; inside it, zeroed. */
	struct vnet_hdr p = { .hdr_len = 101 };
	assert_int_equal(tx(&n, &p, 100, NULL, 0, VNET_TX_BUF_SIZE, NULL), -EINVAL);
	p.hdr_len = 100;
	assert_int_equal(tx(&n, &p, 100, NULL, 0, VNET_TX_BUF_SIZE, &got), 112);
	assert_int_equal(got.hdr_len, 0);
}

/* --- RX filter ------------------------------------------------------------ */

static bool want(const struct vnet *n, const uint8_t *dst)
{
	uint8_t f[64];
	frame_make(f, sizeof(f), dst);
	return vnet_rx_wanted(n, f, sizeof(f));
}

static bool want_vlan(const struct vnet *n, unsigned vid)
{
	uint8_t f[64];
	frame_make(f, sizeof(f), MAC);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = (uint8_t)(vid >> 8);
	f[15] = (uint8_t)vid;
	return vnet_rx_wanted(n, f, sizeof(f));
}

static void test_rx_filter(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	/* Defaults: own MAC, broadcast, all multicast. */
	assert_true(want(&n, MAC));
	assert_false(want(&n, OTHER));
	assert_true(want(&n, BCAST));
	assert_true(want(&n, MCAST));
	uint8_t f[14];
	frame_make(f, 14, MAC);
	assert_true(vnet_rx_wanted(&n, f, 14));
	assert_false(vnet_rx_wanted(&n, f, 13));
	assert_false(vnet_rx_wanted(&n, f, 0));

	n.allmulti = false;
	assert_false(want(&n, MCAST));
	memcpy(n.mc[0], MCAST, 6);
	n.nmc = 1;
	assert_true(want(&n, MCAST));
	n.nmc = 0;
	n.mc_overflow = true;
	assert_true(want(&n, MCAST));
	n.nomulti = true;
	assert_false(want(&n, MCAST));
	assert_true(want(&n, BCAST));
	n.nomulti = false;

	/* Unicast table, overflow, alluni, nouni. */
	memcpy(n.uc[0], OTHER, 6);
	n.nuc = 1;
	assert_true(want(&n, OTHER));
	n.nuc = 0;
	assert_false(want(&n, OTHER));
	n.uc_overflow = true;
	assert_true(want(&n, OTHER));
	n.uc_overflow = false;
	n.alluni = true;
	assert_true(want(&n, OTHER));
	n.nouni = true;
	assert_false(want(&n, OTHER));
	assert_false(want(&n, MAC));
	n.nouni = n.alluni = false;

	n.nobcast = true;
	assert_false(want(&n, BCAST));
	/* Promiscuous: everything, even with NOBCAST / NOUNI / VLANs. */
	n.promisc = true;
	n.nouni = true;
	assert_true(want(&n, BCAST));
	assert_true(want(&n, OTHER));
	assert_true(want_vlan(&n, 5));
}

static void test_rx_filter_vlan(void **state)
{
	(void)state;
	struct vnet n;
	/* Without CTRL_VLAN, tagged frames are not filtered. */
	dev(&n, 0, ~0ull & ~B(CTRL_VLAN));
	assert_true(want_vlan(&n, 5));
	dev(&n, 0, ~0ull);
	assert_false(want_vlan(&n, 5));
	assert_true(want(&n, MAC)); /* untagged: always */
	n.vlans[0] |= 1ull << 5;
	assert_true(want_vlan(&n, 5));
	assert_true(want_vlan(&n, 0x3005)); /* the PCP/DEI bits are not the VID */
	assert_false(want_vlan(&n, 6));
	n.vlans[63] |= 1ull << 63;
	assert_true(want_vlan(&n, 4095));
	/* A tag cut short. */
	uint8_t f[16];
	frame_make(f, 16, MAC);
	f[12] = 0x81;
	f[13] = 0;
	assert_false(vnet_rx_wanted(&n, f, 16));
}

/* --- RX placement ----------------------------------------------------------- */

#define MAX_CHAINS 8
struct fake {
	unsigned nchains;                 /* available */
	struct segs chain[MAX_CHAINS];    /* each chain: its writable segments */
	unsigned popped, unpopped, unpop_calls;
	unsigned nused;
	uint16_t used_head[MAX_CHAINS];
	uint32_t used_len[MAX_CHAINS];
	int fail_at;                      /* pop number that fails with -EIO, or -1 */
};

static int f_next(void *ctx, struct iovec **in, unsigned *in_num, uint16_t *head)
{
	struct fake *f = ctx;
	if ((int)f->popped == f->fail_at)
		return -EIO;
	if (f->popped >= f->nchains)
		return 0;
	*in = f->chain[f->popped].v;
	*in_num = f->chain[f->popped].n;
	*head = (uint16_t)(100 + f->popped);
	f->popped++;
	return 1;
}

static void f_unpop(void *ctx, unsigned k)
{
	struct fake *f = ctx;
	assert_true(k >= 1 && k <= f->popped);
	f->popped -= k;
	f->unpopped += k;
	f->unpop_calls++;
}

static void f_used(void *ctx, uint16_t head, uint32_t len)
{
	struct fake *f = ctx;
	assert_true(f->nused < MAX_CHAINS);
	f->used_head[f->nused] = head;
	f->used_len[f->nused] = len;
	f->nused++;
}

static const struct vnet_rx_ops fops = { f_next, f_unpop, f_used };

/* Chains of SIZES bytes, each split into two segments (the first 5 bytes, or
 * all of it when smaller), filled with 0xee. */
static void fake_make(struct fake *f, const size_t *sizes, unsigned n)
{
	memset(f, 0, sizeof(*f));
	f->fail_at = -1;
	f->nchains = n;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *fill = malloc(sizes[i] ? sizes[i] : 1);
		memset(fill, 0xee, sizes[i]);
		size_t cut = sizes[i] < 5 ? sizes[i] : 5;
		segs_make(&f->chain[i], fill, sizes[i], &cut, 1);
		free(fill);
	}
}

static void fake_free(struct fake *f)
{
	for (unsigned i = 0; i < f->nchains; i++)
		segs_free(&f->chain[i]);
}

/* Chain I's bytes, gathered into OUT; returns how many. */
static size_t chain_bytes(const struct fake *f, unsigned i, uint8_t *out)
{
	size_t at = 0;
	for (unsigned s = 0; s < f->chain[i].n; s++) {
		memcpy(out + at, f->chain[i].v[s].iov_base, f->chain[i].v[s].iov_len);
		at += f->chain[i].v[s].iov_len;
	}
	return at;
}

static uint8_t *pkt_make(size_t flen, const struct vnet_hdr *h)
{
	uint8_t *p = malloc(VNET_HDR_LEN + flen);
	struct vnet_hdr z = { 0 };
	vnet_hdr_build(h ? h : &z, p);
	frame_make(p + VNET_HDR_LEN, flen, MAC);
	return p;
}

static void test_rx_single(void **state)
{
	(void)state;
	struct vnet n;
	dev(&n, VNET_ALL_OFFLOADS, ~0ull & ~B(MRG_RXBUF));
	struct fake f;
	size_t sizes[] = { 1526, 1526 };
	uint8_t *pkt = pkt_make(1514, NULL);
	uint8_t got[2000];

	fake_make(&f, sizes, 2);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 1514, &fops, &f), 1);
	assert_int_equal(f.nused, 1);
	assert_int_equal(f.used_head[0], 100);
	assert_int_equal(f.used_len[0], 1526);
	assert_int_equal(chain_bytes(&f, 0, got), 1526);
	assert_int_equal(got[10] | got[11] << 8, 1); /* num_buffers 1 without MRG_RXBUF */
	assert_memory_equal(got + 12, pkt + 12, 1514);
	/* A smaller packet: used length is what was written. */
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 60, &fops, &f), 1);
	assert_int_equal(f.used_len[1], 72);
	/* Queue empty now: 0, nothing used. */
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 60, &fops, &f), 0);
	assert_int_equal(f.nused, 2);
	assert_int_equal(f.unpop_calls, 0);
	fake_free(&f);

	/* Too small a chain: dropped, the chain given back. */
	size_t small[] = { 1000 };
	fake_make(&f, small, 1);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 1514, &fops, &f), -EMSGSIZE);
	assert_int_equal(f.nused, 0);
	assert_int_equal(f.popped, 0);
	assert_int_equal(f.unpopped, 1);
	/* ... and the next packet, which fits, gets it. */
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 988, &fops, &f), 1);
	assert_int_equal(f.used_len[0], 1000);
	fake_free(&f);
	free(pkt);
	struct vnet_stats st;
	vnet_get_stats(&n, &st);
	assert_int_equal(st.rx_frames, 3);
	assert_int_equal(st.rx_too_big, 1);
	assert_int_equal(st.rx_no_buffers, 1);
}

static void test_rx_mergeable(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	struct fake f;
	size_t sizes[] = { 1000, 1000, 1000, 1000 };
	uint8_t *pkt = pkt_make(2500, NULL);
	uint8_t got[4000], c[1000];

	fake_make(&f, sizes, 4);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), 3);
	assert_int_equal(f.nused, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(f.used_head[i], 100 + i);
	assert_int_equal(f.used_len[0], 1000);
	assert_int_equal(f.used_len[1], 1000);
	assert_int_equal(f.used_len[2], 512);
	size_t at = 0;
	for (unsigned i = 0; i < 3; i++) {
		chain_bytes(&f, i, c);
		memcpy(got + at, c, f.used_len[i]);
		at += f.used_len[i];
	}
	assert_int_equal(got[10] | got[11] << 8, 3);
	assert_memory_equal(got + 12, pkt + 12, 2500);
	fake_free(&f);

	/* Not enough buffers: 0, all popped chains given back, nothing used. */
	size_t two[] = { 1000, 1000 };
	fake_make(&f, two, 2);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), 0);
	assert_int_equal(f.nused, 0);
	assert_int_equal(f.popped, 0);
	assert_int_equal(f.unpopped, 2);
	assert_int_equal(f.unpop_calls, 1);
	/* The guest adds a buffer: the retry delivers. */
	fake_free(&f);
	fake_make(&f, sizes, 3);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), 3);
	fake_free(&f);

	/* A broken queue on the second pop: -EIO, the first given back. */
	fake_make(&f, sizes, 4);
	f.fail_at = 1;
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), -EIO);
	assert_int_equal(f.popped, 0);
	assert_int_equal(f.nused, 0);
	fake_free(&f);

	/* A chain smaller than the header with MRG_RXBUF: -EIO, nothing used. */
	size_t tiny[] = { 1000, 11, 2000 };
	fake_make(&f, tiny, 3);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), -EIO);
	assert_int_equal(f.popped, 0);
	assert_int_equal(f.unpopped, 2);
	assert_int_equal(f.nused, 0);
	fake_free(&f);

	/* Exactly fitting one chain, and exactly the header in a chain. */
	size_t exact[] = { 12 + 2500 };
	fake_make(&f, exact, 1);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), 1);
	assert_int_equal(f.used_len[0], 2512);
	fake_free(&f);
	size_t hdr_only[] = { 12, 2500 };
	fake_make(&f, hdr_only, 2);
	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 2500, &fops, &f), 2);
	assert_int_equal(f.used_len[0], 12);
	assert_int_equal(f.used_len[1], 2500);
	chain_bytes(&f, 0, c);
	assert_int_equal(c[10] | c[11] << 8, 2);
	fake_free(&f);
	free(pkt);
}

static void test_rx_malformed(void **state)
{
	(void)state;
	struct vnet n;
	dev(&n, VNET_ALL_OFFLOADS, ~0ull & ~VNET_GUEST_OFFLOADS);
	struct fake f;
	size_t sizes[] = { 4000 };
	fake_make(&f, sizes, 1);
	uint8_t *pkt = pkt_make(100, NULL);

	assert_int_equal(vnet_rx_place(&n, pkt, 12 + 13, &fops, &f), -EINVAL);
	assert_int_equal(vnet_rx_place(&n, pkt, 11, &fops, &f), -EINVAL);
	/* Not for us. */
	memcpy(pkt + 12, OTHER, 6);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	memcpy(pkt + 12, MAC, 6);
	/* Offloads the guest does not take: NEEDS_CSUM, GSO, bad flags. */
	struct vnet_hdr h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 6 };
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	h = (struct vnet_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000, .hdr_len = 54 };
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	h = (struct vnet_hdr){ .flags = 0x10 };
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	assert_int_equal(f.popped + f.nused + f.unpopped, 0);
	/* DATA_VALID without GUEST_CSUM: cleared, delivered. */
	h = (struct vnet_hdr){ .flags = VIRTIO_NET_HDR_F_DATA_VALID };
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), 1);
	uint8_t got[4000];
	chain_bytes(&f, 0, got);
	assert_int_equal(got[0], 0);
	fake_free(&f);

	/* With the guest offloads: GSO and csum accepted, kept in the header. */
	dev_all(&n);
	fake_make(&f, sizes, 1);
	h = (struct vnet_hdr){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
			       .gso_size = 1000, .hdr_len = 54, .csum_start = 34, .csum_offset = 16 };
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), 1);
	chain_bytes(&f, 0, got);
	struct vnet_hdr g;
	vnet_hdr_parse(got, &g);
	h.num_buffers = 1;
	assert_memory_equal(&g, &h, sizeof(g));
	/* ... unless CTRL_GUEST_OFFLOADS turned TSO4 off. */
	n.guest_offloads &= ~B(GUEST_TSO4);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	/* csum beyond the frame; gso_size 0. */
	h.gso_type = 0;
	h.csum_start = 97;
	vnet_hdr_build(&h, pkt);
	assert_int_equal(vnet_rx_place(&n, pkt, 112, &fops, &f), -EINVAL);
	fake_free(&f);
	free(pkt);
	struct vnet_stats st;
	vnet_get_stats(&n, &st);
	assert_int_equal(st.rx_malformed, 2);
}

/* --- control queue ---------------------------------------------------------- */

/* Runs a command (split after byte CUT when CUT < LEN); returns the ack, or
 * -1 when nothing was written. */
static int ctrl(struct vnet *n, const uint8_t *cmd, size_t len, size_t cut)
{
	struct segs o;
	size_t cuts[] = { cut < len ? cut : len };
	segs_make(&o, cmd, len, cuts, 1);
	uint8_t *ack = malloc(1);
	*ack = 0xee;
	struct iovec in[2] = { { NULL, 0 }, { ack, 1 } };
	uint32_t r = vnet_handle_ctrl(n, o.v, o.n, in, 2);
	int ret = r ? *ack : -1;
	if (!r)
		assert_int_equal(*ack, 0xee);
	else
		assert_int_equal(r, 1);
	free(ack);
	segs_free(&o);
	return ret;
}

#define CTRL(n, ...) ({ const uint8_t c_[] = { __VA_ARGS__ }; ctrl(n, c_, sizeof(c_), 1); })

static void test_ctrl_rx(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	bool *f[] = { &n.promisc, &n.allmulti, &n.alluni, &n.nomulti, &n.nouni, &n.nobcast };
	for (uint8_t cmd = 0; cmd <= 5; cmd++) {
		assert_int_equal(CTRL(&n, 0, cmd, 1), VIRTIO_NET_OK);
		assert_true(*f[cmd]);
		assert_int_equal(CTRL(&n, 0, cmd, 0), VIRTIO_NET_OK);
		assert_false(*f[cmd]);
		assert_int_equal(CTRL(&n, 0, cmd, 7), VIRTIO_NET_OK); /* any non-zero is on */
		assert_true(*f[cmd]);
		/* Short and long data. */
		assert_int_equal(CTRL(&n, 0, cmd), VIRTIO_NET_ERR);
		assert_int_equal(CTRL(&n, 0, cmd, 0, 0), VIRTIO_NET_ERR);
		assert_true(*f[cmd]);
	}
	assert_int_equal(CTRL(&n, 0, 6, 1), VIRTIO_NET_ERR);
	/* Without CTRL_RX_EXTRA only PROMISC and ALLMULTI; without CTRL_RX none. */
	dev(&n, 0, ~0ull & ~B(CTRL_RX_EXTRA));
	assert_int_equal(CTRL(&n, 0, 0, 1), VIRTIO_NET_OK);
	assert_int_equal(CTRL(&n, 0, 1, 1), VIRTIO_NET_OK);
	assert_int_equal(CTRL(&n, 0, 2, 1), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 0, 5, 1), VIRTIO_NET_ERR);
	assert_false(n.nobcast);
	dev(&n, 0, ~0ull & ~B(CTRL_RX) & ~B(CTRL_RX_EXTRA));
	assert_int_equal(CTRL(&n, 0, 0, 1), VIRTIO_NET_ERR);
	assert_false(n.promisc);
}

/* MAC_TABLE_SET with NUC unicast and NMC multicast entries (counts CUC, CMC
 * announced); EXTRA bytes appended. */
static int mac_table_set(struct vnet *n, uint32_t cuc, unsigned nuc, uint32_t cmc, unsigned nmc,
			 unsigned extra, size_t cut)
{
	size_t len = 2 + 4 + nuc * 6 + 4 + nmc * 6 + extra;
	uint8_t *c = calloc(1, len);
	uint8_t *p = c;
	*p++ = 1;
	*p++ = 0;
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(cuc >> (8 * i));
	for (unsigned i = 0; i < nuc; i++, p += 6) {
		memcpy(p, OTHER, 6);
		p[5] = (uint8_t)i;
	}
	for (int i = 0; i < 4; i++)
		*p++ = (uint8_t)(cmc >> (8 * i));
	for (unsigned i = 0; i < nmc; i++, p += 6) {
		memcpy(p, MCAST, 6);
		p[5] = (uint8_t)i;
	}
	int r = ctrl(n, c, len, cut);
	free(c);
	return r;
}

static void test_ctrl_mac(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	n.allmulti = false;
	uint8_t a[6], m[6];
	memcpy(a, OTHER, 6);
	memcpy(m, MCAST, 6);

	assert_int_equal(mac_table_set(&n, 2, 2, 3, 3, 0, 9), VIRTIO_NET_OK);
	assert_int_equal(n.nuc, 2);
	assert_int_equal(n.nmc, 3);
	a[5] = 1;
	assert_memory_equal(n.uc[1], a, 6);
	m[5] = 2;
	assert_memory_equal(n.mc[2], m, 6);
	assert_true(want(&n, a));
	assert_true(want(&n, m));
	m[5] = 3;
	assert_false(want(&n, m));
	/* Empty tables. */
	assert_int_equal(mac_table_set(&n, 0, 0, 0, 0, 0, 3), VIRTIO_NET_OK);
	assert_int_equal(n.nuc + n.nmc, 0);
	assert_false(want(&n, a));
	/* Too many entries: overflow, accept all of that kind. */
	assert_int_equal(mac_table_set(&n, 65, 65, 64, 64, 0, 100), VIRTIO_NET_OK);
	assert_true(n.uc_overflow);
	assert_false(n.mc_overflow);
	assert_int_equal(n.nuc, 0);
	assert_int_equal(n.nmc, 64);
	assert_true(want(&n, OTHER));
	assert_int_equal(mac_table_set(&n, 1, 1, 200, 200, 0, 100), VIRTIO_NET_OK);
	assert_false(n.uc_overflow);
	assert_true(n.mc_overflow);
	assert_int_equal(n.nuc, 1);
	/* Malformed: counts beyond the data, trailing bytes, short: nothing changes. */
	struct vnet before = n;
	assert_int_equal(mac_table_set(&n, 3, 2, 0, 0, 0, 5), VIRTIO_NET_ERR);
	assert_int_equal(mac_table_set(&n, 0xffffffff, 0, 0, 0, 0, 5), VIRTIO_NET_ERR);
	assert_int_equal(mac_table_set(&n, 1, 1, 2, 1, 0, 5), VIRTIO_NET_ERR);
	assert_int_equal(mac_table_set(&n, 1, 1, 1, 1, 1, 5), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 1, 0, 0, 0, 0, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 1, 0, 0, 0), VIRTIO_NET_ERR);
	assert_memory_equal(&before.uc, &n.uc, sizeof(n.uc));
	assert_int_equal(before.nuc, n.nuc);
	assert_int_equal(before.mc_overflow, n.mc_overflow);

	/* ADDR_SET. */
	assert_int_equal(CTRL(&n, 1, 1, 0x02, 1, 2, 3, 4, 5), VIRTIO_NET_OK);
	const uint8_t nm[6] = { 0x02, 1, 2, 3, 4, 5 };
	assert_memory_equal(n.mac, nm, 6);
	uint8_t cfg[VNET_CONFIG_SIZE];
	vnet_config(&n, cfg);
	assert_memory_equal(cfg, nm, 6);
	assert_true(want(&n, nm));
	assert_int_equal(CTRL(&n, 1, 1, 0x03, 1, 2, 3, 4, 5), VIRTIO_NET_ERR); /* multicast */
	assert_int_equal(CTRL(&n, 1, 1, 0x02, 1, 2, 3, 4), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 1, 1, 0x02, 1, 2, 3, 4, 5, 6), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 1, 2), VIRTIO_NET_ERR);
	assert_memory_equal(n.mac, nm, 6);
	vnet_reset(&n);
	assert_memory_equal(n.mac, MAC, 6);
	/* Features. */
	dev(&n, 0, ~0ull & ~B(CTRL_MAC_ADDR) & ~B(CTRL_RX) & ~B(CTRL_RX_EXTRA));
	assert_int_equal(CTRL(&n, 1, 1, 0x02, 1, 2, 3, 4, 5), VIRTIO_NET_ERR);
	assert_int_equal(mac_table_set(&n, 0, 0, 0, 0, 0, 3), VIRTIO_NET_ERR);
}

static void test_ctrl_vlan_announce_mq_offloads(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	/* VLAN. */
	assert_int_equal(CTRL(&n, 2, 0, 5, 0), VIRTIO_NET_OK);
	assert_int_equal(CTRL(&n, 2, 0, 0xff, 0x0f), VIRTIO_NET_OK);
	assert_true(n.vlans[0] & 1u << 5);
	assert_true(n.vlans[63] >> 63);
	assert_true(want_vlan(&n, 5));
	assert_int_equal(CTRL(&n, 2, 1, 5, 0), VIRTIO_NET_OK);
	assert_false(n.vlans[0] & 1u << 5);
	assert_int_equal(CTRL(&n, 2, 0, 0, 0x10), VIRTIO_NET_ERR); /* 4096 */
	assert_int_equal(CTRL(&n, 2, 0, 5), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 2, 0, 5, 0, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 2, 2, 5, 0), VIRTIO_NET_ERR);
	/* ANNOUNCE. */
	assert_true(vnet_announce(&n));
	assert_int_equal(CTRL(&n, 3, 1), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 3, 0, 0), VIRTIO_NET_ERR);
	assert_true(n.announce);
	assert_int_equal(CTRL(&n, 3, 0), VIRTIO_NET_OK);
	assert_false(n.announce);
	/* MQ: not negotiable with one pair. */
	assert_int_equal(CTRL(&n, 4, 0, 1, 0), VIRTIO_NET_ERR);
	vnet_init_mq(&n, MAC, 1500, 0, 4);
	vnet_set_features(&n, ~0ull);
	assert_int_equal(CTRL(&n, 4, 0, 4, 0), VIRTIO_NET_OK);
	assert_int_equal(n.pairs, 4);
	assert_int_equal(CTRL(&n, 4, 0, 1, 0), VIRTIO_NET_OK);
	assert_int_equal(n.pairs, 1);
	assert_int_equal(CTRL(&n, 4, 0, 5, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 4, 0, 0, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 4, 0, 2), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 4, 1, 2, 0), VIRTIO_NET_ERR);
	assert_int_equal(n.pairs, 1);
	/* GUEST_OFFLOADS: no guest offloads with a stream backend. */
	assert_int_equal(CTRL(&n, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_ERR);
	dev_all(&n);
	assert_int_equal(CTRL(&n, 5, 0, 0x02, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_OK);
	assert_int_equal(n.guest_offloads, B(GUEST_CSUM));
	assert_int_equal(CTRL(&n, 5, 0, 0x82, 0x07, 0, 0, 0, 0, 0, 0), VIRTIO_NET_OK);
	assert_int_equal(n.guest_offloads, VNET_GUEST_OFFLOADS);
	assert_int_equal(CTRL(&n, 5, 0, 0x01, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_ERR); /* CSUM: host */
	assert_int_equal(CTRL(&n, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0x80), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 5, 0, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_ERR);
	assert_int_equal(n.guest_offloads, VNET_GUEST_OFFLOADS);
	dev(&n, VNET_ALL_OFFLOADS, B(CTRL_VQ) | B(CTRL_GUEST_OFFLOADS) | B(GUEST_CSUM));
	assert_int_equal(CTRL(&n, 5, 0, 0x82, 0, 0, 0, 0, 0, 0, 0), VIRTIO_NET_ERR); /* TSO4 not negotiated */
	struct vnet_ctrl_result res;
	uint8_t cmd[10] = { 5, 0, 0 }, ack;
	struct iovec o = { cmd, 10 }, i = { &ack, 1 };
	assert_int_equal(vnet_handle_ctrl_res(&n, &o, 1, &i, 1, &res), 1);
	assert_int_equal(res.ack, VIRTIO_NET_OK);
	assert_true(res.offloads_changed);
	assert_int_equal(n.guest_offloads, 0);
	/* Each class refused without its feature. */
	dev(&n, 0, B(CTRL_VQ));
	assert_int_equal(CTRL(&n, 2, 0, 5, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 3, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 4, 0, 1, 0), VIRTIO_NET_ERR);
}

static void test_ctrl_malformed(void **state)
{
	(void)state;
	struct vnet n;
	dev_all(&n);
	/* Unknown class; short commands. */
	assert_int_equal(CTRL(&n, 6, 0), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 0xff, 0, 1), VIRTIO_NET_ERR);
	assert_int_equal(CTRL(&n, 0), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(&n, NULL, 0, 0), VIRTIO_NET_ERR);
	/* No room for the ack: 0, nothing done. */
	uint8_t cmd[3] = { 0, 0, 1 };
	struct iovec o = { cmd, 3 };
	struct iovec in0[2] = { { NULL, 0 }, { NULL, 0 } };
	assert_int_equal(vnet_handle_ctrl(&n, &o, 1, in0, 2), 0);
	assert_int_equal(vnet_handle_ctrl(&n, &o, 1, NULL, 0), 0);
	assert_false(n.promisc);
	/* The ack goes into the first writable byte, the rest untouched. */
	uint8_t a[4] = { 9, 9, 9, 9 };
	struct iovec in1 = { a, 4 };
	assert_int_equal(vnet_handle_ctrl(&n, &o, 1, &in1, 1), 1);
	assert_int_equal(a[0], VIRTIO_NET_OK);
	assert_int_equal(a[1], 9);
	assert_true(n.promisc);
	/* Class and command split across three segments. */
	uint8_t c0 = 0, c1 = 0, c2 = 0;
	struct iovec o3[4] = { { &c0, 1 }, { NULL, 0 }, { &c1, 1 }, { &c2, 1 } };
	assert_int_equal(vnet_handle_ctrl(&n, o3, 4, &in1, 1), 1);
	assert_int_equal(a[0], VIRTIO_NET_OK);
	assert_false(n.promisc);
	struct vnet_stats st;
	vnet_get_stats(&n, &st);
	assert_int_equal(st.ctrl_no_ack, 2);
	assert_int_equal(st.ctrl_err, 4);
	assert_int_equal(st.ctrl_ok, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_round_trip),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_tx_plain_and_split),
		cmocka_unit_test(test_tx_sizes),
		cmocka_unit_test(test_tx_offloads),
		cmocka_unit_test(test_rx_filter),
		cmocka_unit_test(test_rx_filter_vlan),
		cmocka_unit_test(test_rx_single),
		cmocka_unit_test(test_rx_mergeable),
		cmocka_unit_test(test_rx_malformed),
		cmocka_unit_test(test_ctrl_rx),
		cmocka_unit_test(test_ctrl_mac),
		cmocka_unit_test(test_ctrl_vlan_announce_mq_offloads),
		cmocka_unit_test(test_ctrl_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
