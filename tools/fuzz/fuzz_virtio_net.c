/* libFuzzer harness: the virtio-net request layer (devices/net/virtio_net.h)
 * on fuzzer-made segments: TX chains and control commands over a small
 * guarded RAM area, RX placement into fuzzer-sized chains, the RX filter.
 *
 * RAM is one allocation of RAM_SIZE bytes between two guard areas of GUARD
 * bytes (a known pattern); TX and control segments point into it.  RX chain
 * segments are each their own allocation of exactly their length, so ASan
 * catches any write outside them.
 *
 * One input:
 *   byte  0      backend offloads: bit 0 all (a TAP), else none; bit 1: 4 queue pairs
 *   bytes 1..4   le32: the feature bits the driver accepts (& offered)
 *   byte  5      number of operation records (% 33)
 *   then         records of REC bytes
 *   then         RAM content from offset 0 (the rest zero)
 * A record: [0] kind % 5 (TX, CTRL, RX, WANTED, RESET), [1] [2] counts,
 *   [3..7] parameters, [8..23] 8 segments of (u8 offset, u8 length).
 *
 * Invariants (abort on violation):
 *  - TX: the result is -EINVAL, -EMSGSIZE or the out bytes (>= 26, <= cap);
 *    short chains are -EINVAL, chains over the cap -EMSGSIZE; RAM (guards
 *    included) never changes; an accepted copy holds the frame as it was,
 *    and a header allowed by the negotiated features;
 *  - CTRL: returns 0 exactly when no in segment has a byte, else 1 with
 *    OK/ERR in the first byte of the first non-empty in segment, and no
 *    other RAM byte changes; the filter state stays consistent (table sizes,
 *    overflow, pairs, guest offloads within the negotiated ones);
 *  - RX: > 0 means exactly that many chains used, in pop order, none given
 *    back, the lengths add up to the packet, every chain but the last full,
 *    num_buffers right, frame bytes delivered; <= 0 means nothing used and
 *    every popped chain given back; without MRG_RXBUF at most one chain;
 *  - WANTED: frames shorter than 14 are never wanted, promiscuous wants all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fuzz/harness_common.h"
#include "devices/net/virtio_net.h"

#define RAM_SIZE 256
#define GUARD 64
#define GUARD_BYTE 0xa5
#define REC 24
#define MAX_RECS 32
#define MAX_CHAINS 6

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static uint8_t area[GUARD + RAM_SIZE + GUARD];
static uint8_t *const ram = area + GUARD;

#define CHECK(c) FUZZ_CHECK(c, "%s", "")

/* N segments from the records' (offset, length) pairs at P. */
static unsigned ram_segs(const uint8_t *p, unsigned n, struct iovec *v)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned off = p[2 * i] % RAM_SIZE;
		unsigned len = p[2 * i + 1] % (RAM_SIZE - off + 1);
		v[i].iov_base = ram + off;
		v[i].iov_len = len;
	}
	return n;
}

static size_t gather(const struct iovec *v, unsigned n, uint8_t *out)
{
	size_t at = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(out + at, v[i].iov_base, v[i].iov_len);
		at += v[i].iov_len;
	}
	return at;
}

static void check_state(const struct vnet *n)
{
	CHECK(n->nuc <= VNET_MAC_TABLE_MAX && n->nmc <= VNET_MAC_TABLE_MAX);
	CHECK(!n->uc_overflow || n->nuc == 0);
	CHECK(!n->mc_overflow || n->nmc == 0);
	CHECK(n->pairs >= 1 && n->pairs <= n->max_pairs);
	CHECK((n->guest_offloads & ~(n->features & VNET_GUEST_OFFLOADS)) == 0);
	CHECK((n->features & ~n->offered) == 0);
	CHECK(!(n->mac[0] & 1));
}

static void op_tx(struct vnet *n, const uint8_t *r)
{
	struct iovec v[8];
	unsigned nout = ram_segs(r + 8, r[1] % 9, v);
	size_t cap = r[3] * 8u + (r[4] & 7);
	uint8_t before[sizeof(area)], want[8 * RAM_SIZE];
	memcpy(before, area, sizeof(area));
	size_t total = gather(v, nout, want);
	uint8_t *buf = malloc(cap ? cap : 1);

	ssize_t ret = vnet_tx_copy(n, v, nout, buf, cap);
	if (fuzz_trace)
		fprintf(stderr, "TX segs %u bytes %zu cap %zu -> %zd\n", nout, total, cap, ret);
	CHECK(!memcmp(before, area, sizeof(area)));
	if (total < VNET_HDR_LEN + VNET_ETH_HLEN)
		CHECK(ret == -EINVAL);
	else if (total > cap)
		CHECK(ret == -EMSGSIZE);
	else
		CHECK(ret == -EINVAL || ret == (ssize_t)total);
	if (ret > 0) {
		CHECK(!memcmp(buf + VNET_HDR_LEN, want + VNET_HDR_LEN, total - VNET_HDR_LEN));
		struct vnet_hdr h;
		vnet_hdr_parse(buf, &h);
		size_t flen = total - VNET_HDR_LEN;
		CHECK((h.flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0);
		if (h.flags)
			CHECK((n->features & VNET_BIT(VIRTIO_NET_F_CSUM)) &&
			      (size_t)h.csum_start + h.csum_offset + 2 <= flen);
		CHECK(h.hdr_len <= flen && h.num_buffers == 0);
		uint8_t t = h.gso_type & 0x7f;
		unsigned need = t == 1 ? VIRTIO_NET_F_HOST_TSO4 : t == 4 ? VIRTIO_NET_F_HOST_TSO6 :
				t == 3 ? VIRTIO_NET_F_HOST_UFO : 64;
		if (t == 0)
			CHECK(h.gso_type == 0 && h.gso_size == 0);
		else
			CHECK(need < 64 && (n->features >> need & 1) && h.gso_size);
		if (h.gso_type & 0x80)
			CHECK(n->features & VNET_BIT(VIRTIO_NET_F_HOST_ECN));
	}
	free(buf);
}

static void op_ctrl(struct vnet *n, const uint8_t *r)
{
	struct iovec v[8];
	unsigned nout = r[1] % 7, nin = r[2] % 3;
	if (nout + nin > 8)
		nin = 8 - nout;
	ram_segs(r + 8, nout + nin, v);
	/* Sometimes a well-formed command: class, command and data from r[3..7]
	 * written at the first out segment (when it has room). */
	if (nout && (r[3] & 0x80) && v[0].iov_len >= 2) {
		uint8_t *p = v[0].iov_base;
		p[0] = (r[3] & 0x7f) % 7;
		p[1] = r[4] % 3;
	}
	uint8_t before[sizeof(area)];
	memcpy(before, area, sizeof(area));
	uint8_t *ack = NULL;
	for (unsigned i = 0; i < nin && !ack; i++)
		if (v[nout + i].iov_len)
			ack = v[nout + i].iov_base;

	struct vnet_ctrl_result res;
	uint32_t ret = vnet_handle_ctrl_res(n, v, nout, v + nout, nin, &res);
	if (fuzz_trace)
		fprintf(stderr, "CTRL out %u in %u class %d cmd %d -> %u ack %d %s\n", nout, nin,
			res.cls, res.cmd, ret, res.ack, res.why ? res.why : "");
	CHECK(ret == (ack ? 1u : 0u));
	for (size_t i = 0; i < sizeof(area); i++)
		if (area + i != ack)
			CHECK(area[i] == before[i]);
	if (ack)
		CHECK(*ack == res.ack && (*ack == VIRTIO_NET_OK || *ack == VIRTIO_NET_ERR));
	check_state(n);
}

struct fake {
	unsigned nchains, popped, unpopped, nused;
	int fail_at;
	struct iovec seg[MAX_CHAINS][2];
	uint64_t cap[MAX_CHAINS];
	uint16_t head[MAX_CHAINS];
	uint32_t len[MAX_CHAINS];
	bool used_seen, unpop_seen;
};

static int f_next(void *ctx, struct iovec **in, unsigned *in_num, uint16_t *head)
{
	struct fake *f = ctx;
	CHECK(!f->used_seen && !f->unpop_seen);
	if ((int)f->popped == f->fail_at)
		return -EIO;
	if (f->popped >= f->nchains)
		return 0;
	*in = f->seg[f->popped];
	*in_num = 2;
	*head = (uint16_t)f->popped;
	f->popped++;
	return 1;
}

static void f_unpop(void *ctx, unsigned k)
{
	struct fake *f = ctx;
	CHECK(!f->unpop_seen && !f->used_seen && k >= 1 && k == f->popped);
	f->unpop_seen = true;
	f->unpopped = k;
	f->popped = 0;
}

static void f_used(void *ctx, uint16_t head, uint32_t len)
{
	struct fake *f = ctx;
	CHECK(!f->unpop_seen && f->nused < f->popped && head == f->nused);
	f->used_seen = true;
	CHECK(len <= f->cap[head]);
	f->len[f->nused++] = len;
}

static const struct vnet_rx_ops fops = { f_next, f_unpop, f_used };

static void op_rx(struct vnet *n, const uint8_t *r)
{
	/* The packet: a header from RAM and a frame to us (or RAM's), of a
	 * fuzzer-chosen length, up to a little over VNET_MAX_FRAME. */
	size_t flen = (size_t)(r[4] | r[5] << 8) * (r[3] & 3 ? 1 : 2) + (r[3] >> 4);
	size_t len = VNET_HDR_LEN + flen;
	uint8_t *pkt = malloc(len);
	memcpy(pkt, ram, VNET_HDR_LEN);
	for (size_t i = 0; i < flen; i++)
		pkt[VNET_HDR_LEN + i] = ram[(VNET_HDR_LEN + i) % RAM_SIZE] ^ (uint8_t)(i >> 8);
	if ((r[3] & 4) && flen >= 6)
		memcpy(pkt + VNET_HDR_LEN, MAC, 6);

	struct fake f = { .nchains = r[1] % (MAX_CHAINS + 1), .fail_at = (r[2] & 0x80) ? r[2] % 8 : -1 };
	unsigned scale = (r[2] & 3) == 0 ? 1 : (r[2] & 3) == 1 ? 16 : (r[2] & 3) == 2 ? 256 : 1024;
	for (unsigned c = 0; c < MAX_CHAINS; c++) {
		f.cap[c] = 0;
		for (unsigned s = 0; s < 2; s++) {
			size_t l = (size_t)r[8 + 2 * c + s] * scale / (s ? 1 : 16);
			f.seg[c][s].iov_base = l ? malloc(l) : NULL;
			f.seg[c][s].iov_len = l;
			if (l)
				memset(f.seg[c][s].iov_base, 0xee, l);
			f.cap[c] += l;
		}
	}
	bool mrg = n->features & VNET_BIT(VIRTIO_NET_F_MRG_RXBUF);
	int ret = vnet_rx_place(n, pkt, len, &fops, &f);
	if (fuzz_trace)
		fprintf(stderr, "RX len %zu chains %u (scale %u) mrg %d -> %d\n", len, f.nchains,
			scale, mrg, ret);
	CHECK(ret >= -EMSGSIZE && ret <= (int)f.nchains);
	if (ret <= 0) {
		CHECK(ret == 0 || ret == -EINVAL || ret == -EMSGSIZE || ret == -EIO);
		CHECK(f.nused == 0 && f.popped == 0);
	} else {
		CHECK(!mrg ? ret == 1 : true);
		CHECK((unsigned)ret == f.nused && f.popped == f.nused && !f.unpop_seen);
		uint64_t sum = 0;
		for (unsigned i = 0; i < f.nused; i++) {
			sum += f.len[i];
			if (i + 1 < f.nused)
				CHECK(f.len[i] == f.cap[i]);
		}
		CHECK(sum == len);
		/* Gather what was delivered and compare. */
		uint8_t *got = malloc(len);
		size_t at = 0;
		for (unsigned i = 0; i < f.nused; i++) {
			size_t left = f.len[i];
			for (unsigned s = 0; s < 2 && left; s++) {
				size_t l = f.seg[i][s].iov_len < left ? f.seg[i][s].iov_len : left;
				memcpy(got + at, f.seg[i][s].iov_base, l);
				at += l;
				left -= l;
			}
		}
		CHECK(at == len);
		CHECK((got[10] | got[11] << 8) == ret);
		CHECK(!memcmp(got + VNET_HDR_LEN, pkt + VNET_HDR_LEN, flen));
		CHECK(vnet_rx_wanted(n, pkt + VNET_HDR_LEN, flen));
		free(got);
	}
	for (unsigned c = 0; c < MAX_CHAINS; c++)
		for (unsigned s = 0; s < 2; s++)
			free(f.seg[c][s].iov_base);
	free(pkt);
	check_state(n);
}

static void op_wanted(struct vnet *n, const uint8_t *r)
{
	unsigned off = r[3] % RAM_SIZE;
	unsigned len = r[4] % (RAM_SIZE - off + 1);
	uint8_t *fr = malloc(len ? len : 1);
	memcpy(fr, ram + off, len);
	bool w = vnet_rx_wanted(n, fr, len);
	if (len < VNET_ETH_HLEN)
		CHECK(!w);
	else if (n->promisc)
		CHECK(w);
	free(fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 6)
		return 0;
	struct vnet n;
	uint64_t backend = (data[0] & 1) ? VNET_ALL_OFFLOADS : 0;
	vnet_init_mq(&n, MAC, 1500, backend, (data[0] & 2) ? 4 : 1);
	uint64_t feat = (uint64_t)data[1] | (uint64_t)data[2] << 8 | (uint64_t)data[3] << 16 |
			(uint64_t)data[4] << 24;
	vnet_set_features(&n, feat);
	unsigned nrec = data[5] % (MAX_RECS + 1);
	size_t at = 6;
	if (size - at < (size_t)nrec * REC)
		nrec = (unsigned)((size - at) / REC);
	const uint8_t *recs = data + at;
	at += (size_t)nrec * REC;
	memset(area, GUARD_BYTE, sizeof(area));
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + at, size - at < RAM_SIZE ? size - at : RAM_SIZE);
	if (fuzz_trace)
		fprintf(stderr, "features %#llx offered %#llx, %u records\n",
			(unsigned long long)n.features, (unsigned long long)n.offered, nrec);

	for (unsigned i = 0; i < nrec; i++) {
		const uint8_t *r = recs + (size_t)i * REC;
		switch (r[0] % 5) {
		case 0: op_tx(&n, r); break;
		case 1: op_ctrl(&n, r); break;
		case 2: op_rx(&n, r); break;
		case 3: op_wanted(&n, r); break;
		case 4:
			vnet_reset(&n);
			vnet_set_features(&n, feat ^ ((uint64_t)r[1] << 16));
			check_state(&n);
			break;
		}
		for (size_t g = 0; g < GUARD; g++)
			CHECK(area[g] == GUARD_BYTE && area[GUARD + RAM_SIZE + g] == GUARD_BYTE);
	}
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_virtio_net", "VIRTIO_NET", NULL);
	return 0;
}
