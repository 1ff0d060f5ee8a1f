/* libFuzzer harness: the network device process (cellvm-dev-net) driven
 * in-process the way the core drives it (dev_harness.h: Setup, BAR writes
 * through a real exit ring, reads through device_access), over a stream
 * backend: one end of a unix socketpair is the device's, the harness plays
 * the peer on the other.  With net_inline the device starts no thread; the
 * harness runs its rounds (net_device_poll) after every operation, as the
 * thread would have woken.
 *
 * One input is one life of the device:
 *   byte 0   MODE_* flags (MTU offered)
 *   then     operations (OP_*) until the input ends: bytes, descriptors and
 *            avail entries in guest RAM, raw BAR and config accesses, the
 *            driver's init with feature choices, TX chains (any header,
 *            split anywhere, writable segments, loops, addresses outside
 *            RAM), RX buffers of any shape, control commands, frames the
 *            peer sends (good, and bad framing), the peer reading, stalling
 *            or closing, device rounds, driver and device resets.
 *
 * Invariants (abort on violation):
 *  - no crash or sanitizer report; setup succeeds; accesses are answered
 *    exactly inside the declared BARs; config space changes only in
 *    writable bits; the device sends only Log messages;
 *  - every chain the device pops lies in guest RAM; a used length never
 *    exceeds the chain's writable bytes (TX and control: the ack), a TX
 *    chain's used length is 0;
 *  - a round writes guest RAM only inside the writable buffers it popped
 *    and the used rings;
 *  - RX: each packet delivered starts with a zeroed header (num_buffers
 *    apart), num_buffers is the chains it took (1 without MRG_RXBUF), and
 *    its frame is one the peer sent, in order (while the harness knows the
 *    buffers are the guest's own and the stream is well framed);
 *  - TX: the peer receives well framed frames of 14..65554 bytes, each one
 *    the guest posted, in order (while the harness knows the buffers were
 *    not rewritten); never more frames than the backend took
 *    (net_io tx_frames) nor more bytes than the device accepted
 *    (tx_bytes); after a final drain with the link up, exactly as many;
 *  - the link is down exactly when the config status says so;
 *  - no fds leak across inputs.
 *
 * CELLVM_FUZZ_NET_TRACE=1 prints what each operation did.
 * CELLVM_FUZZ_NET_WRITE_SEEDS=DIR writes the seed corpus (tools/fuzz/corpus/
 * net) into DIR and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/fuzz/fuzz_input.h"
#include "tools/fuzz/dev_harness.h"
#include "tools/fuzz/net_harness.h"

#define CHECK FUZZ_CHECK
#define MUST FUZZ_MUST
#define TRACE FUZZ_TRACE

#define RAM_SIZE 0x20000u
#define RING_ENTRIES 64
#define MAX_OPS 2048
#define NQ 3
enum { RXQ, TXQ, CTRLQ };

/* Layout: rings, indirect tables, control, TX and RX buffers. */
#define QSIZE 32u
#define QAREA 0x400u
#define INDIR_BASE 0x0c00u /* per queue 0x100: 4 tables of 4 */
#define CTRL_BASE 0x1000u  /* header +0, data +0x100, ack +0x300 */
#define TX_BASE 0x2000u
#define TX_SLOTS 8u
#define TX_SLOT 0x2000u
#define RX_BASE 0x12000u
#define RX_SLOTS 8u
#define RX_SLOT 0x1000u
#define SLOT_DESCS 4u      /* descriptors per slot: slot s uses 4s..4s+3 */

#define FRAME_MAX (65536 + 18)
#define PEER_PENDING_MAX (1u << 20)

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

enum { MODE_MTU = 1 };

enum op {
	OP_RAM,        /* u16 gpa/2, u8 len, bytes */
	OP_DESC,       /* u8 q, u8 slot, u32 addr, u32 len, u16 flags, u16 next */
	OP_AVAIL,      /* u8 q, u16 head */
	OP_BAR_WRITE,  /* u8 a (bar, size, far), u16 off [u32 far], value */
	OP_BAR_READ,   /* u8 a, u16 off [u32 far] */
	OP_CONFIG,     /* u8 reg, u8 size code, u32 value: write, then read back */
	OP_INIT,       /* u8 INIT_* flags, u8 F_* device features */
	OP_TX,         /* u8 TX_* flags, u16 len, u8 fill, u8 split [12 header bytes] [u8 evil] */
	OP_RX,         /* u8 RX_* flags, u16 size, u8 split */
	OP_CTRL,       /* u8 class, u8 cmd, u8 len, bytes, u8 shape */
	OP_PEER_SEND,  /* u8 kind, u16 len, u8 fill */
	OP_PEER_READ,  /* the peer reads what is there */
	OP_PEER_CLOSE, /* the peer closes its end */
	OP_POLL,       /* u8 rounds */
	OP_RESET,      /* the driver writes status 0 */
	OP_DEV_RESET,  /* a Reset control message (a VM reset) */
	OP_KICK,       /* u8 q: a notification through the ring */
	OP_COUNT,
};

enum {
	INIT_EVENT_IDX = 1,
	INIT_INDIRECT = 2,
	INIT_ALL = 4, /* every offered feature */
	INIT_MSIX = 8,
	INIT_ADDR64 = 16,
	INIT_NO_VERSION1 = 32,
};

/* OP_INIT's second byte: device features asked for */
enum {
	F_MRG = 1,
	F_CTRL_VQ = 2,
	F_CTRL_RX = 4,
	F_CTRL_EXTRA = 8, /* RX_EXTRA, VLAN, MAC_ADDR */
	F_ANNOUNCE = 16,
	F_STATUS = 32,
	F_MAC = 64,
	F_MTU = 128,
};

enum {
	TX_SLOT_MASK = 7,
	TX_INDIRECT = 8,
	TX_NO_KICK = 0x10,
	TX_WRITABLE = 0x20, /* a writable segment at the end */
	TX_HDR = 0x40,      /* the 12 header bytes come from the input */
	TX_EVIL = 0x80,     /* a hostile chain (one more byte says how) */
};

enum {
	RX_SLOT_MASK = 7,
	RX_INDIRECT = 8,
	RX_NO_KICK = 0x10,
	RX_READABLE = 0x20, /* a device-readable segment first */
	RX_EVIL = 0x40,     /* an address outside RAM */
};

/* ---- input ---- */




/* ---- state ---- */

/* A frame by its length and hash: what one side put in, in order. */
struct frame_id {
	uint32_t len;
	uint64_t hash;
};

struct fifo {
	struct frame_id *f;
	size_t n, cap, cursor; /* matched up to cursor */
};

struct popped {
	uint32_t gen; /* live while it is the harness's current generation */
	unsigned count; /* pops not yet pushed (a hostile guest may offer a head twice) */
	uint32_t writable;
	unsigned nseg;
	struct iovec seg[8]; /* the first writable segments, for the header */
};

struct net_harness {
	struct dev_harness h;
	struct virtio_pci *vp;
	uint8_t mode;
	uint64_t features;
	int peer;             /* our end of the stream; -1 once closed */
	uint8_t *snap;        /* guest RAM before a round */
	/* what the current round may write: [gpa, gpa+len) */
	struct { uint64_t gpa, len; } allowed[2 * 1024];
	unsigned nallowed;
	bool allowed_overflow;
	uint32_t gen;
	/* RX packet being reassembled from pushes */
	unsigned rx_chains_left, rx_chains;
	size_t rx_got;
	uint8_t *rx_frame;
	bool rx_bad_hdr;
	/* TX and RX: frames each side put in */
	struct fifo tx_sent, rx_sent;
	bool tx_taint, rx_taint;
	bool tx_slot_busy[TX_SLOTS], rx_slot_busy[RX_SLOTS];
	uint16_t tx_slot_head[TX_SLOTS], rx_slot_head[RX_SLOTS];
	/* the peer */
	uint8_t *in_buf;
	size_t in_len;
	uint8_t *out_buf;
	size_t out_len;
	uint64_t peer_frames, peer_bytes;
	bool peer_closed;
};

/* Chains popped and not yet pushed, by head (queues as big as RAM allows). */
#define POP_MAX (RAM_SIZE / 16)
static struct popped pop[NQ][POP_MAX];

static int ctl[2] = {-1, -1};
static int ram_fd = -1;
static uint8_t *ram;
static struct net_harness H;

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void fifo_add(struct fifo *f, const uint8_t *p, size_t len)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		f->f = realloc(f->f, f->cap * sizeof(*f->f));
		MUST(f->f);
	}
	f->f[f->n++] = (struct frame_id){(uint32_t)len, fnv(p, len)};
}

/* Was this frame put in after the last one matched?  Frames may be
 * dropped (malformed, filtered, link down), never reordered or made up. */
static bool fifo_match(struct fifo *f, const uint8_t *p, size_t len)
{
	uint64_t h = fnv(p, len);
	for (size_t i = f->cursor; i < f->n; i++)
		if (f->f[i].len == len && f->f[i].hash == h) {
			f->cursor = i + 1;
			return true;
		}
	return false;
}

static const struct dh_ring *ring(unsigned q)
{
	static struct dh_ring r[NQ];
	for (unsigned i = 0; i < NQ; i++)
		r[i] = (struct dh_ring){.desc = i * QAREA, .avail = i * QAREA + 0x200,
					.used = i * QAREA + 0x248, .size = QSIZE};
	return &r[q % NQ];
}

/* ---- the device's chains, seen through the hooks ---- */

static uint64_t dev_gpa(const void *p)
{
	return (uint64_t)((const uint8_t *)p - H.vp->mem.region[0].host);
}

static void allow(uint64_t gpa, uint64_t len)
{
	if (H.nallowed == sizeof(H.allowed) / sizeof(H.allowed[0])) {
		H.allowed_overflow = true;
		return;
	}
	H.allowed[H.nallowed].gpa = gpa;
	H.allowed[H.nallowed++].len = len;
}

static void hook_popped(void *ctx, unsigned q, const struct vq_req *req)
{
	(void)ctx;
	CHECK(q < NQ && req->head < POP_MAX, "popped head %u on queue %u", req->head, q);
	struct popped *p = &pop[q][req->head];
	uint64_t w = 0;
	const struct iovec *v[2] = {req->out, req->in};
	unsigned n[2] = {req->out_num, req->in_num};
	for (unsigned k = 0; k < 2; k++)
		for (unsigned i = 0; i < n[k]; i++) {
			const uint8_t *b = v[k][i].iov_base, *dram = H.vp->mem.region[0].host;
			CHECK(b >= dram && v[k][i].iov_len <= RAM_SIZE &&
				      b - dram <= (ptrdiff_t)(RAM_SIZE - v[k][i].iov_len),
			      "queue %u: segment %p+%zu outside guest RAM", q, v[k][i].iov_base,
			      v[k][i].iov_len);
		}
	p->nseg = 0;
	for (unsigned i = 0; i < req->in_num; i++) {
		w += req->in[i].iov_len;
		allow(dev_gpa(req->in[i].iov_base), req->in[i].iov_len);
		if (p->nseg < 8)
			p->seg[p->nseg++] = req->in[i];
	}
	CHECK(w == req->in_bytes, "queue %u: in_bytes %llu, segments %llu", q,
	      (unsigned long long)req->in_bytes, (unsigned long long)w);
	if (p->gen != H.gen)
		p->count = 0;
	p->gen = H.gen;
	p->count++;
	p->writable = (uint32_t)w;
}

static void hook_unpopped(void *ctx, unsigned q, unsigned n)
{
	(void)ctx, (void)q, (void)n; /* written buffers stay allowed this round */
}

/* Copies LEN bytes from OFF of chain P's writable segments. */
static size_t chain_read(const struct popped *p, size_t off, uint8_t *dst, size_t len)
{
	size_t got = 0;
	for (unsigned i = 0; i < p->nseg && got < len; i++) {
		size_t l = p->seg[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		size_t k = l - off < len - got ? l - off : len - got;
		memcpy(dst + got, (uint8_t *)p->seg[i].iov_base + off, k);
		got += k;
		off = 0;
	}
	return got;
}

static void rx_delivered(void)
{
	size_t flen = H.rx_got;
	TRACE("  rx packet: %zu bytes in %u chains%s\n", flen, H.rx_chains,
	      H.rx_bad_hdr ? " (chains beyond what the harness tracks)" : "");
	if (H.rx_taint || H.rx_bad_hdr)
		return;
	CHECK(fifo_match(&H.rx_sent, H.rx_frame, flen),
	      "received a %zu-byte frame the peer did not send (or out of order)", flen);
}

static void rx_pushed(uint16_t head, uint32_t len, const struct popped *p)
{
	uint8_t hdr[VNET_HDR_LEN];
	if (!H.rx_chains_left) { /* the first chain of a packet: its header */
		memset(hdr, 0, sizeof(hdr));
		size_t got = chain_read(p, 0, hdr, VNET_HDR_LEN);
		uint16_t nb = (uint16_t)(hdr[10] | hdr[11] << 8);
		/* Chains that share bytes (rx_taint) let a later chain of the
		 * packet overwrite this header: then it says nothing, and the
		 * chain count is only a guess. */
		if (!H.rx_taint) {
			static const uint8_t zero[10];
			bool mrg = H.features >> VIRTIO_NET_F_MRG_RXBUF & 1;
			CHECK(len >= VNET_HDR_LEN, "rx chain used with %u bytes, no header", len);
			CHECK(got == VNET_HDR_LEN, "header not in the chain");
			CHECK(!memcmp(hdr, zero, 10), "rx header not zeroed on a stream backend");
			CHECK(mrg ? nb >= 1 : nb == 1, "num_buffers %u (MRG_RXBUF %d)", nb, mrg);
		}
		if (nb == 0)
			nb = 1;
		H.rx_chains_left = nb;
		H.rx_chains = nb;
		H.rx_got = 0;
		H.rx_bad_hdr = p->nseg == 8;
		size_t k = len > VNET_HDR_LEN ? len - VNET_HDR_LEN : 0;
		if (k > FRAME_MAX)
			k = FRAME_MAX;
		H.rx_got = chain_read(p, VNET_HDR_LEN, H.rx_frame, k);
	} else {
		size_t room = FRAME_MAX - H.rx_got, k = len < room ? len : room;
		H.rx_got += chain_read(p, 0, H.rx_frame + H.rx_got, k);
		H.rx_bad_hdr |= p->nseg == 8;
	}
	(void)head;
	if (--H.rx_chains_left == 0)
		rx_delivered();
}

static void hook_pushed(void *ctx, unsigned q, uint16_t head, uint32_t len)
{
	(void)ctx;
	CHECK(q < NQ && head < POP_MAX, "pushed head %u on queue %u", head, q);
	struct popped *p = &pop[q][head];
	CHECK(p->gen == H.gen && p->count, "queue %u: head %u pushed, not popped", q, head);
	CHECK(len <= p->writable, "queue %u: used length %u, %u writable", q, len, p->writable);
	if (q == TXQ)
		CHECK(len == 0, "tx chain used with length %u", len);
	if (q == RXQ)
		rx_pushed(head, len, p);
	p->count--;
	for (unsigned s = 0; s < TX_SLOTS && q == TXQ; s++)
		if (H.tx_slot_head[s] == head)
			H.tx_slot_busy[s] = false;
	for (unsigned s = 0; s < RX_SLOTS && q == RXQ; s++)
		if (H.rx_slot_head[s] == head)
			H.rx_slot_busy[s] = false;
}

/* ---- the peer ---- */

static void peer_flush(void)
{
	while (H.peer >= 0 && H.out_len) {
		ssize_t k = send(H.peer, H.out_buf, H.out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k <= 0)
			return;
		memmove(H.out_buf, H.out_buf + k, H.out_len - (size_t)k);
		H.out_len -= (size_t)k;
	}
}

/* Reads what the device sent; checks its framing and frames. */
static void peer_read(void)
{
	if (H.peer < 0)
		return;
	for (;;) {
		size_t room = 2 * (4 + FRAME_MAX) - H.in_len;
		ssize_t k = recv(H.peer, H.in_buf + H.in_len, room, MSG_DONTWAIT);
		if (k <= 0)
			break;
		H.in_len += (size_t)k;
		size_t off = 0;
		while (H.in_len - off >= 4) {
			const uint8_t *b = H.in_buf + off;
			uint32_t len = (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
			CHECK(len >= VNET_ETH_HLEN && len <= FRAME_MAX,
			      "the peer got a frame length %u", len);
			if (H.in_len - off - 4 < len)
				break;
			H.peer_frames++;
			H.peer_bytes += len;
			TRACE("  peer got a %u-byte frame\n", len);
			if (!H.tx_taint)
				CHECK(fifo_match(&H.tx_sent, b + 4, len),
				      "the peer got a %u-byte frame the guest did not post (or out of "
				      "order)", len);
			off += 4 + len;
		}
		memmove(H.in_buf, H.in_buf + off, H.in_len - off);
		H.in_len -= off;
	}
}

/* ---- one round of the device, checked ---- */

static bool allowed_at(uint64_t g)
{
	for (unsigned i = 0; i < H.nallowed; i++)
		if (g - H.allowed[i].gpa < H.allowed[i].len)
			return true;
	return false;
}

__attribute__((no_sanitize("coverage"))) static void check_writes(void)
{
	if (!memcmp(H.snap, ram, RAM_SIZE) || H.allowed_overflow)
		return;
	for (uint64_t g = 0; g < RAM_SIZE; g++)
		if (H.snap[g] != ram[g])
			CHECK(allowed_at(g), "a round wrote guest RAM at 0x%llx (0x%02x -> 0x%02x)",
			      (unsigned long long)g, H.snap[g], ram[g]);
}

static void dev_round(void)
{
	if (H.h.stop)
		return;
	memcpy(H.snap, ram, RAM_SIZE);
	H.nallowed = 0;
	H.allowed_overflow = false;
	for (unsigned q = 0; q < NQ; q++) {
		const struct virtqueue *vq = &H.vp->q[q].vq;
		if (vq->ready)
			allow(dev_gpa(vq->used), 6 + 8 * (uint64_t)vq->cfg.size);
	}
	net_device_poll(H.h.d, 0);
	check_writes();
	dh_drain_control(&H.h);
	struct net_io const *io = net_harness_io(H.h.d);
	struct vnet_stats st;
	net_harness_stats(H.h.d, &st);
	CHECK(H.peer_frames <= io->tx_frames, "the peer got %llu frames, the backend took %llu",
	      (unsigned long long)H.peer_frames, (unsigned long long)io->tx_frames);
	CHECK(io->tx_frames <= st.tx_frames, "the backend took %llu frames, the device %llu",
	      (unsigned long long)io->tx_frames, (unsigned long long)st.tx_frames);
	CHECK(H.peer_bytes <= st.tx_bytes, "the peer got %llu bytes, the device took %llu",
	      (unsigned long long)H.peer_bytes, (unsigned long long)st.tx_bytes);
}

static void notified(struct dev_harness *h, unsigned q)
{
	(void)h, (void)q; /* the kick eventfd is set; the next round sees it */
}

/* ---- operations ---- */

static const uint8_t SIZES[4] = {1, 2, 4, 8};

static void decode_bar(struct input *in, unsigned *bar, uint64_t *off, unsigned *size)
{
	uint8_t a = in_u8(in);
	*bar = (a & 7) % 6;
	*size = SIZES[(a >> 3) & 3];
	*off = in_le(in, 2);
	if (a & 0x20)
		*off |= (in_le(in, 4) << 16) & (RING_BAR_OFFSET(~0ull));
}

static void kick(unsigned q)
{
	dh_bar_write(&H.h, DH_BAR_VIRTIO, DH_NOTIFY_OFF + 4 * q, 2, q);
}

static void reset_tracking(void)
{
	H.gen++; /* forget every chain popped */
	memset(H.tx_slot_busy, 0, sizeof(H.tx_slot_busy));
	memset(H.rx_slot_busy, 0, sizeof(H.rx_slot_busy));
	H.rx_chains_left = 0;
}

static void op_init(struct input *in)
{
	uint8_t f = in_u8(in), df = in_u8(in);
	uint64_t want = 1ull << VIRTIO_F_VERSION_1;
	if (f & INIT_EVENT_IDX)
		want |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (f & INIT_INDIRECT)
		want |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	static const struct {
		uint8_t f;
		uint64_t bits;
	} map[] = {
		{F_MRG, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF)},
		{F_CTRL_VQ, VNET_BIT(VIRTIO_NET_F_CTRL_VQ)},
		{F_CTRL_RX, VNET_BIT(VIRTIO_NET_F_CTRL_RX)},
		{F_CTRL_EXTRA, VNET_BIT(VIRTIO_NET_F_CTRL_RX_EXTRA) | VNET_BIT(VIRTIO_NET_F_CTRL_VLAN) |
				       VNET_BIT(VIRTIO_NET_F_CTRL_MAC_ADDR)},
		{F_ANNOUNCE, VNET_BIT(VIRTIO_NET_F_GUEST_ANNOUNCE)},
		{F_STATUS, VNET_BIT(VIRTIO_NET_F_STATUS)},
		{F_MAC, VNET_BIT(VIRTIO_NET_F_MAC)},
		{F_MTU, VNET_BIT(VIRTIO_NET_F_MTU)},
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (df & map[i].f)
			want |= map[i].bits;
	TRACE("init 0x%02x features 0x%02x\n", f, df);
	memset(ram, 0, NQ * QAREA);
	reset_tracking();
	struct dh_ring r[NQ] = {*ring(0), *ring(1), *ring(2)};
	struct dh_init di = {.want = want, .all = f & INIT_ALL, .msix = f & INIT_MSIX,
			     .addr64 = f & INIT_ADDR64, .nq = NQ, .rings = r,
			     .clear = f & INIT_NO_VERSION1 ? 1ull << VIRTIO_F_VERSION_1 : 0};
	uint8_t st = 0;
	H.features = dh_virtio_init(&H.h, &di, &st);
	TRACE("  features 0x%llx, status 0x%x\n", (unsigned long long)H.features, st);
}

/* Builds a TX chain: header + frame in slot s, as SPLIT says. */
static void op_tx(struct input *in)
{
	uint8_t fl = in_u8(in);
	unsigned len = (unsigned)in_le(in, 2) % (TX_SLOT - VNET_HDR_LEN - 64);
	uint8_t fill = in_u8(in), split = in_u8(in);
	unsigned s = fl & TX_SLOT_MASK;
	uint64_t b = TX_BASE + (uint64_t)s * TX_SLOT;
	uint8_t *p = ram + b;
	memset(p, 0, VNET_HDR_LEN);
	if (fl & TX_HDR)
		for (unsigned i = 0; i < VNET_HDR_LEN; i++)
			p[i] = in_u8(in);
	uint8_t *f = p + VNET_HDR_LEN;
	/* to our peer: any destination; from us, an IPv4-ish frame */
	for (unsigned i = 0; i < len; i++)
		f[i] = (uint8_t)(fill + i * 13 + (i >> 8));
	if (len >= 12)
		memcpy(f + 6, MAC, 6);
	uint32_t total = VNET_HDR_LEN + len;
	/* up to 4 readable segments, cut at points from SPLIT */
	struct { uint64_t gpa; uint32_t len; uint16_t flags; } seg[SLOT_DESCS];
	unsigned n = 1 + (split & 3), at = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t k = i + 1 == n ? total - at : (total - at) * ((split >> (2 + 2 * i)) & 3) / 4;
		seg[i].gpa = b + at;
		seg[i].len = k;
		seg[i].flags = 0;
		at += k;
	}
	if ((fl & TX_WRITABLE) && n < SLOT_DESCS) {
		seg[n].gpa = b + total;
		seg[n].len = 64;
		seg[n++].flags = 2;
	}
	uint8_t evil = fl & TX_EVIL ? in_u8(in) : 0;
	bool loop = false;
	if (evil) {
		unsigned i = (evil >> 2) % n;
		switch (evil & 3) {
		case 0: seg[i].gpa = RAM_SIZE - 8 + (evil >> 4); break; /* runs past RAM */
		case 1: seg[i].gpa = 0xfff0000000ull; break;            /* no RAM there */
		case 2: seg[i].flags |= 2; break;                       /* writable early */
		case 3: loop = true; break;
		}
		H.tx_taint |= (evil & 3) == 2; /* the frame is what comes before it */
	}
	if (H.tx_slot_busy[s])
		H.tx_taint = true; /* rewrote a frame the device may not have taken yet */
	fifo_add(&H.tx_sent, f, len);
	unsigned head = s * SLOT_DESCS;
	const struct dh_ring *r = ring(TXQ);
	if (fl & TX_INDIRECT) {
		uint64_t t = INDIR_BASE + 0x100 * TXQ + 0x40 * (s % 4);
		for (unsigned i = 0; i < n; i++) {
			dh_put_le(&H.h, t + 16 * i, seg[i].gpa, 8);
			dh_put_le(&H.h, t + 16 * i + 8, seg[i].len, 4);
			dh_put_le(&H.h, t + 16 * i + 12, (i + 1 < n || loop ? 1 : 0) | seg[i].flags, 2);
			dh_put_le(&H.h, t + 16 * i + 14, i + 1 < n ? i + 1 : 0, 2);
		}
		dh_write_desc(&H.h, r, head, t, 16 * n, 4, 0);
		H.tx_taint = true; /* the tables are shared by slots s and s + 4 */
	} else {
		for (unsigned i = 0; i < n; i++)
			dh_write_desc(&H.h, r, head + i, seg[i].gpa, seg[i].len,
				      (uint16_t)((i + 1 < n || loop ? 1 : 0) | seg[i].flags),
				      (uint16_t)(i + 1 < n ? head + i + 1 : head));
	}
	TRACE("tx slot %u: %u-byte frame in %u segments%s%s evil 0x%02x\n", s, len, n,
	      fl & TX_INDIRECT ? ", indirect" : "", fl & TX_HDR ? ", header from input" : "", evil);
	H.tx_slot_busy[s] = true;
	H.tx_slot_head[s] = (uint16_t)head;
	dh_push_avail(&H.h, r, (uint16_t)head);
	if (!(fl & TX_NO_KICK))
		kick(TXQ);
}

/* An RX buffer of SIZE bytes in slot s, in up to 4 segments. */
static void op_rx(struct input *in)
{
	uint8_t fl = in_u8(in);
	uint32_t size = (uint32_t)in_le(in, 2) % (RX_SLOT + 1);
	uint8_t split = in_u8(in);
	unsigned s = fl & RX_SLOT_MASK, n = 1 + (split & 3), at = 0;
	uint64_t b = RX_BASE + (uint64_t)s * RX_SLOT;
	struct { uint64_t gpa; uint32_t len; uint16_t flags; } seg[SLOT_DESCS];
	for (unsigned i = 0; i < n; i++) {
		uint32_t k = i + 1 == n ? size - at : (size - at) * ((split >> (2 + 2 * i)) & 3) / 4;
		seg[i].gpa = b + at;
		seg[i].len = k;
		seg[i].flags = 2;
		at += k;
	}
	if (fl & RX_READABLE)
		seg[0].flags = 0;
	if (fl & RX_EVIL)
		seg[n - 1].gpa = RAM_SIZE - 4;
	if (H.rx_slot_busy[s])
		H.rx_taint = true; /* two chains share bytes */
	memset(ram + b, 0xa5, RX_SLOT); /* what the device writes shows */
	unsigned head = s * SLOT_DESCS;
	const struct dh_ring *r = ring(RXQ);
	if (fl & RX_INDIRECT) {
		uint64_t t = INDIR_BASE + 0x100 * RXQ + 0x40 * (s % 4);
		for (unsigned i = 0; i < n; i++) {
			dh_put_le(&H.h, t + 16 * i, seg[i].gpa, 8);
			dh_put_le(&H.h, t + 16 * i + 8, seg[i].len, 4);
			dh_put_le(&H.h, t + 16 * i + 12, (i + 1 < n ? 1 : 0) | seg[i].flags, 2);
			dh_put_le(&H.h, t + 16 * i + 14, i + 1, 2);
		}
		dh_write_desc(&H.h, r, head, t, 16 * n, 4, 0);
		H.rx_taint = true; /* the tables are shared by slots s and s + 4 */
	} else {
		for (unsigned i = 0; i < n; i++)
			dh_write_desc(&H.h, r, head + i, seg[i].gpa, seg[i].len,
				      (uint16_t)((i + 1 < n ? 1 : 0) | seg[i].flags),
				      (uint16_t)(head + i + 1));
	}
	TRACE("rx slot %u: %u bytes in %u segments%s\n", s, size, n,
	      fl & RX_INDIRECT ? ", indirect" : "");
	H.rx_slot_busy[s] = true;
	H.rx_slot_head[s] = (uint16_t)head;
	dh_push_avail(&H.h, r, (uint16_t)head);
	if (!(fl & RX_NO_KICK))
		kick(RXQ);
}

/* A control command: class, cmd, data (from the input, or for
 * MAC_TABLE_SET two tables), the ack; SHAPE splits it and sizes the ack. */
static void op_ctrl(struct input *in)
{
	uint8_t cls = in_u8(in), cmd = in_u8(in), dlen = in_u8(in);
	uint8_t data[256];
	for (unsigned i = 0; i < dlen; i++)
		data[i] = in_u8(in);
	uint8_t shape = in_u8(in);
	cls %= 8;
	cmd %= 8;
	if ((shape & 0x80) && cls == VIRTIO_NET_CTRL_MAC && cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET) {
		/* well formed tables: dlen % 8 unicast entries, then multicast */
		unsigned nu = dlen % 5, nm = (dlen >> 3) % 5, k = 0;
		uint8_t d2[8 + 6 * 8];
		d2[k++] = (uint8_t)nu, d2[k++] = 0, d2[k++] = 0, d2[k++] = 0;
		for (unsigned i = 0; i < nu; i++, k += 6)
			memcpy(d2 + k, MAC, 6), d2[k + 5] ^= (uint8_t)(i + 1);
		d2[k++] = (uint8_t)nm, d2[k++] = 0, d2[k++] = 0, d2[k++] = 0;
		for (unsigned i = 0; i < nm; i++, k += 6)
			memcpy(d2 + k, MAC, 6), d2[k] = 1, d2[k + 5] ^= (uint8_t)i;
		memcpy(data, d2, k);
		dlen = (uint8_t)k;
	}
	uint64_t hg = CTRL_BASE, dg = CTRL_BASE + 0x100, ag = CTRL_BASE + 0x300;
	ram[hg] = cls;
	ram[hg + 1] = cmd;
	memcpy(ram + dg, data, dlen);
	ram[ag] = 0xee;
	struct { uint64_t gpa; uint32_t len; uint16_t flags; } seg[4];
	unsigned n = 0;
	if (shape & 1) { /* class and command apart */
		seg[n++] = (typeof(seg[0])){hg, 1, 0};
		seg[n++] = (typeof(seg[0])){hg + 1, 1, 0};
	} else {
		seg[n++] = (typeof(seg[0])){hg, 2, 0};
	}
	if (dlen)
		seg[n++] = (typeof(seg[0])){dg, dlen, 0};
	uint32_t alen = (shape >> 1) & 3; /* 0: no ack room */
	if (alen)
		seg[n++] = (typeof(seg[0])){ag, alen, 2};
	const struct dh_ring *r = ring(CTRLQ);
	for (unsigned i = 0; i < n; i++)
		dh_write_desc(&H.h, r, i, seg[i].gpa, seg[i].len,
			      (uint16_t)((i + 1 < n ? 1 : 0) | seg[i].flags), (uint16_t)(i + 1));
	dh_push_avail(&H.h, r, 0);
	TRACE("ctrl class %u cmd %u, %u data bytes, ack %u\n", cls, cmd, dlen, alen);
	if (!(shape & 0x40))
		kick(CTRLQ);
	dev_round();
	TRACE("  ack 0x%02x\n", ram[ag]);
}

static void peer_queue(const uint8_t *p, size_t n)
{
	if (H.peer < 0 || H.out_len + n > PEER_PENDING_MAX)
		return;
	memcpy(H.out_buf + H.out_len, p, n);
	H.out_len += n;
}

static void op_peer_send(struct input *in)
{
	uint8_t kind = in_u8(in);
	unsigned len = (unsigned)in_le(in, 2);
	uint8_t fill = in_u8(in);
	static uint8_t frame[FRAME_MAX];
	uint32_t wire;
	bool good = true;
	switch (kind % 8) {
	case 0: case 1: case 2:
		len = VNET_ETH_HLEN + len % 4000;
		break;
	case 3: /* big */
		len = VNET_ETH_HLEN + (len * 2u) % (FRAME_MAX - VNET_ETH_HLEN + 1);
		break;
	case 4: /* a zero length: a protocol error */
		H.rx_taint = true;
		wire = 0;
		peer_queue((uint8_t *)&wire, 4);
		TRACE("peer sends a zero length\n");
		peer_flush();
		return;
	case 5: /* a length over the limit */
		wire = __builtin_bswap32(FRAME_MAX + 1 + len);
		peer_queue((uint8_t *)&wire, 4);
		TRACE("peer sends a length of %u\n", FRAME_MAX + 1 + len);
		peer_flush();
		return;
	case 6: /* a cut frame: what follows is read as its rest */
		len = 1 + len % 100;
		wire = __builtin_bswap32(len + 50);
		peer_queue((uint8_t *)&wire, 4);
		memset(frame, fill, len);
		peer_queue(frame, len);
		H.rx_taint = true;
		TRACE("peer sends %u of %u bytes\n", len, len + 50);
		peer_flush();
		return;
	case 7: /* shorter than an Ethernet header */
		len = 1 + len % 13;
		good = false;
		break;
	}
	for (unsigned i = 0; i < len; i++)
		frame[i] = (uint8_t)(fill ^ (i * 7) ^ (i >> 7));
	if (len >= 12) {
		switch ((kind >> 3) % 5) {
		case 0: memcpy(frame, MAC, 6); break;                             /* ours */
		case 1: memset(frame, 0xff, 6); break;                            /* broadcast */
		case 2: frame[0] |= 1; break;                                     /* multicast */
		case 3: memcpy(frame, MAC, 6), frame[5] ^= 1 + (kind >> 6); break; /* another */
		case 4: break;                                                    /* anything */
		}
		memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6);
	}
	if (good)
		fifo_add(&H.rx_sent, frame, len);
	wire = __builtin_bswap32(len);
	peer_queue((uint8_t *)&wire, 4);
	peer_queue(frame, len);
	TRACE("peer sends a %u-byte frame (kind %u)\n", len, kind);
	peer_flush();
}

static void op_config(struct input *in)
{
	unsigned reg = in_u8(in), size = SIZES[in_u8(in) % 3];
	uint32_t val = (uint32_t)in_le(in, 4);
	reg &= ~(size - 1);
	dh_post(&H.h, RING_CONFIG, reg, size, val);
	uint64_t v;
	if (!H.h.stop)
		dh_access_read(&H.h, RING_CONFIG, reg & ~3u, 4, &v);
}

static void run_ops(struct input *in)
{
	for (unsigned n = 0; in->n && !H.h.stop && n < MAX_OPS; n++) {
		uint8_t op = in_u8(in) % OP_COUNT;
		switch (op) {
		case OP_RAM: {
			uint64_t g = in_le(in, 2) * 2 % RAM_SIZE;
			unsigned len = in_u8(in);
			TRACE("ram 0x%llx, %u bytes\n", (unsigned long long)g, len);
			for (unsigned i = 0; i < len; i++)
				dh_put_le(&H.h, g + i, in_u8(in), 1);
			H.tx_taint = H.rx_taint = true;
			break;
		}
		case OP_DESC: {
			unsigned q = in_u8(in) % NQ, slot = in_u8(in);
			uint64_t addr = in_le(in, 4);
			uint32_t len = (uint32_t)in_le(in, 4);
			uint16_t flags = (uint16_t)in_le(in, 2), next = (uint16_t)in_le(in, 2);
			TRACE("desc q%u[%u] 0x%llx+%u flags %u next %u\n", q, slot % QSIZE,
			      (unsigned long long)addr, len, flags, next);
			dh_write_desc(&H.h, ring(q), slot, addr, len, flags, next);
			H.tx_taint = H.rx_taint = true;
			break;
		}
		case OP_AVAIL: {
			unsigned q = in_u8(in) % NQ;
			uint16_t head = (uint16_t)in_le(in, 2);
			TRACE("avail q%u head %u\n", q, head);
			dh_push_avail(&H.h, ring(q), head);
			H.tx_taint = H.rx_taint = true;
			break;
		}
		case OP_BAR_WRITE: {
			unsigned bar, size;
			uint64_t off;
			decode_bar(in, &bar, &off, &size);
			dh_bar_write(&H.h, bar, off, size, in_le(in, size));
			H.tx_taint = H.rx_taint = true; /* rings may move */
			break;
		}
		case OP_BAR_READ: {
			unsigned bar, size;
			uint64_t off;
			decode_bar(in, &bar, &off, &size);
			dh_bar_read(&H.h, bar, off, size);
			break;
		}
		case OP_CONFIG:
			op_config(in);
			break;
		case OP_INIT:
			op_init(in);
			break;
		case OP_TX:
			op_tx(in);
			break;
		case OP_RX:
			op_rx(in);
			break;
		case OP_CTRL:
			op_ctrl(in);
			break;
		case OP_PEER_SEND:
			op_peer_send(in);
			break;
		case OP_PEER_READ:
			TRACE("peer reads\n");
			peer_read();
			break;
		case OP_PEER_CLOSE:
			TRACE("peer closes\n");
			if (H.peer >= 0)
				close(H.peer);
			H.peer = -1;
			H.peer_closed = true;
			break;
		case OP_POLL: {
			unsigned k = in_u8(in) % 8;
			TRACE("poll %u\n", k);
			for (unsigned i = 0; i < k; i++) {
				peer_flush();
				dev_round();
			}
			break;
		}
		case OP_RESET:
			TRACE("reset\n");
			dh_common_w(&H.h, 0x14, 1, 0);
			reset_tracking();
			break;
		case OP_DEV_RESET: {
			TRACE("device reset\n");
			Cellvm__Reset r = CELLVM__RESET__INIT;
			ControlMsg m = CELLVM__CONTROL__INIT;
			m.msg_case = CELLVM__CONTROL__MSG_RESET;
			m.reset = &r;
			CHECK(device_handle_control(H.h.d, &m) == 0, "reset: %s", H.h.d->err);
			reset_tracking();
			break;
		}
		case OP_KICK: {
			unsigned q = in_u8(in) % 4;
			TRACE("kick %u\n", q);
			kick(q);
			break;
		}
		}
		dev_round();
		dh_check_config(&H.h);
	}
}

/* Until nothing moves: the device sends what it holds, the peer reads. */
static void final_drain(void)
{
	uint64_t last = ~0ull;
	for (unsigned i = 0; i < 64 && !H.h.stop; i++) {
		peer_flush();
		dev_round();
		peer_read();
		uint64_t now = H.peer_frames ^ (uint64_t)net_harness_io(H.h.d)->tx_frames << 32;
		if (now == last && i > 4)
			break;
		last = now;
	}
	if (H.h.stop)
		return;
	const struct net_io *io = net_harness_io(H.h.d);
	if (H.peer >= 0 && !net_harness_link_down(H.h.d) && !io->error &&
	    !net_harness_tx_held(H.h.d) && !net_io_tx_pending(io))
		CHECK(H.peer_frames == io->tx_frames,
		      "the backend took %llu frames, the peer got %llu",
		      (unsigned long long)io->tx_frames, (unsigned long long)H.peer_frames);
	uint16_t status = (uint16_t)dh_bar_read(&H.h, DH_BAR_VIRTIO, DH_DEVCFG_OFF + 6, 2);
	if (!H.h.stop)
		CHECK(!(status & VIRTIO_NET_S_LINK_UP) == net_harness_link_down(H.h.d),
		      "config status 0x%x, link %s", status,
		      net_harness_link_down(H.h.d) ? "down" : "up");
}

/* ---- one life ---- */

static void make_once(void)
{
	MUST(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ctl) == 0);
	ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	MUST(ram_fd >= 0);
	MUST(ftruncate(ram_fd, RAM_SIZE) == 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	MUST(ram != MAP_FAILED);
	H.snap = malloc(RAM_SIZE);
	H.rx_frame = malloc(FRAME_MAX);
	H.in_buf = malloc(2 * (4 + FRAME_MAX));
	H.out_buf = malloc(PEER_PENDING_MAX);
	MUST(H.snap && H.rx_frame && H.in_buf && H.out_buf);
}

enum { FD_RINGS, FD_BELL, FD_RAM, FD_NET, NFD };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct device dev;
	struct input in = {data, size};
	if (ram_fd < 0)
		make_once();
	/* keep the buffers, clear the rest */
	uint8_t *snap = H.snap, *rxf = H.rx_frame, *ib = H.in_buf, *ob = H.out_buf;
	struct fifo ts = H.tx_sent, rs = H.rx_sent;
	uint32_t gen = H.gen;
	memset(&H, 0, sizeof(H));
	H.gen = gen + 1;
	H.snap = snap, H.rx_frame = rxf, H.in_buf = ib, H.out_buf = ob;
	H.tx_sent = (struct fifo){.f = ts.f, .cap = ts.cap};
	H.rx_sent = (struct fifo){.f = rs.f, .cap = rs.cap};
	memset(&dev, 0, sizeof(dev));
	dev.ops = &net_device_ops;
	dev.control_fd = ctl[0];
	H.h.d = &dev;
	H.h.ctl = ctl[1];
	H.h.ram = ram;
	H.h.ram_size = RAM_SIZE;
	H.h.notified = notified;
	H.mode = in_u8(&in);
	MUST(ftruncate(ram_fd, 0) == 0 && ftruncate(ram_fd, RAM_SIZE) == 0);

	int fds[NFD], sp[2];
	Cellvm__Rings rings;
	dh_rings(&H.h, RING_ENTRIES, fds, &rings);
	fds[FD_RAM] = fcntl(ram_fd, F_DUPFD_CLOEXEC, 0);
	MUST(fds[FD_RAM] >= 0);
	MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) == 0);
	fds[FD_NET] = sp[0];
	H.peer = sp[1];

	Cellvm__NetAdapter na = CELLVM__NET_ADAPTER__INIT;
	na.fd = FD_NET;
	na.kind = CELLVM__NET_ADAPTER__KIND__STREAM;
	na.mac = (ProtobufCBinaryData){6, (uint8_t *)MAC};
	na.backend = "fuzz peer";
	na.mtu = H.mode & MODE_MTU ? 1500 + (H.mode >> 1) * 8 : 0;
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = "net";
	s.instance = "fuzz";
	s.rings = &rings;
	s.guest_memory_fd = FD_RAM;
	s.guest_memory_size = RAM_SIZE;
	s.net = &na;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;
	net_hooks = (struct net_hooks){hook_popped, hook_unpopped, hook_pushed, NULL};

	int rc = device_setup(&dev, &m, fds, NFD);
	TRACE("setup mtu %u: %s\n", na.mtu, rc ? dev.err : "ok");
	CHECK(rc == 0, "device_setup: %s", dev.err);
	dh_drain_control(&H.h);
	dh_setup_done(&H.h);
	H.vp = net_harness_transport(&dev);

	run_ops(&in);
	final_drain();

	net_harness_release(&dev);
	device_release(&dev);
	dh_drain_control(&H.h);
	dh_release(&H.h);
	if (H.peer >= 0)
		close(H.peer);
	dh_check_fds(512);
	return 0;
}

/* ---- the seed corpus ---- */




static void s_init(struct seed *s, unsigned f, unsigned df)
{
	s8(s, OP_INIT), s8(s, f), s8(s, df);
}

static void s_tx(struct seed *s, unsigned fl, unsigned len, unsigned fill, unsigned split)
{
	s8(s, OP_TX), s8(s, fl), sle(s, len, 2), s8(s, fill), s8(s, split);
}

static void s_rx(struct seed *s, unsigned fl, unsigned size, unsigned split)
{
	s8(s, OP_RX), s8(s, fl), sle(s, size, 2), s8(s, split);
}

static void s_peer(struct seed *s, unsigned kind, unsigned len, unsigned fill)
{
	s8(s, OP_PEER_SEND), s8(s, kind), sle(s, len, 2), s8(s, fill);
}

static void s_ctrl(struct seed *s, unsigned cls, unsigned cmd, const uint8_t *d, unsigned n,
		   unsigned shape)
{
	s8(s, OP_CTRL), s8(s, cls), s8(s, cmd), s8(s, n);
	for (unsigned i = 0; i < n; i++)
		s8(s, d[i]);
	s8(s, shape);
}


static void write_seeds(const char *dir)
{
	struct seed s;
#define SEED(name, ...)                    \
	do {                               \
		memset(&s, 0, sizeof(s)); \
		__VA_ARGS__;               \
		write_seed(dir, name, &s); \
	} while (0)
	static const uint8_t on[1] = {1}, off[1] = {0};
	static const uint8_t vid[2] = {5, 0};
	SEED("tx", s8(&s, 0); s_init(&s, INIT_INDIRECT, F_STATUS | F_MAC); s_tx(&s, 0, 60, 1, 0);
	     s_tx(&s, 1, 1500, 2, 0x55); s_tx(&s, 2 | TX_INDIRECT, 100, 3, 2);
	     s8(&s, OP_PEER_READ));
	SEED("rx", s8(&s, 0); s_init(&s, INIT_EVENT_IDX, F_STATUS | F_MAC);
	     s_rx(&s, 0, 2048, 0); s_rx(&s, 1, 2048, 0x19); s_peer(&s, 0, 60, 7);
	     s_peer(&s, 8, 200, 9); s_peer(&s, 3 << 3, 100, 9); s8(&s, OP_POLL); s8(&s, 2));
	SEED("rx-mrg", s8(&s, 1); s_init(&s, INIT_MSIX, F_MRG | F_STATUS | F_MTU);
	     s_rx(&s, 0, 1000, 0); s_rx(&s, 1, 1000, 1); s_rx(&s, 2, 1000, 0);
	     s_peer(&s, 1, 2500, 3); s_peer(&s, 2, 10, 4));
	SEED("rx-later", s8(&s, 0); s_init(&s, 0, F_MRG); s_peer(&s, 0, 60, 1);
	     s_peer(&s, 0, 61, 2); s8(&s, OP_POLL); s8(&s, 3); s_rx(&s, 0, 4096, 0);
	     s_rx(&s, 1, 4096, 0));
	SEED("ctrl", s8(&s, 0); s_init(&s, INIT_INDIRECT, F_CTRL_VQ | F_CTRL_RX | F_CTRL_EXTRA);
	     s_ctrl(&s, 0, 0, off, 1, 2); s_ctrl(&s, 1, 0, (const uint8_t *)"", 0, 0x82);
	     s_ctrl(&s, 2, 0, vid, 2, 3); s_ctrl(&s, 0, 5, on, 1, 2);
	     s_rx(&s, 0, 2048, 0); s_peer(&s, 3 << 3, 60, 1); s_peer(&s, 0, 60, 2));
	SEED("tx-backpressure", s8(&s, 0); s_init(&s, INIT_EVENT_IDX, 0);
	     for (unsigned i = 0; i < 60; i++) s_tx(&s, i & 7, 8000, i, 0);
	     s8(&s, OP_PEER_READ); s8(&s, OP_POLL); s8(&s, 4); s8(&s, OP_PEER_READ));
	SEED("hostile", s8(&s, 0); s_init(&s, 0, 0); s_tx(&s, TX_HDR, 60, 1, 0);
	     for (int i = 0; i < 12; i++) s8(&s, i == 1 ? 1 : 0);
	     s_tx(&s, 1, 5, 2, 0); s_tx(&s, 2 | TX_EVIL, 60, 3, 1); s8(&s, 1);
	     s8(&s, OP_RESET); s_init(&s, 0, 0); s_tx(&s, 3 | TX_EVIL, 60, 4, 1); s8(&s, 3);
	     s8(&s, OP_DEV_RESET); s_init(&s, 0, 0); s_tx(&s, 4, 60, 5, 0); s8(&s, OP_PEER_READ));
	SEED("peer-bad", s8(&s, 0); s_init(&s, 0, F_STATUS); s_rx(&s, 0, 4096, 0);
	     s_peer(&s, 5, 0, 0); s_peer(&s, 0, 60, 1); s8(&s, OP_POLL); s8(&s, 2));
	SEED("peer-close", s8(&s, 0); s_init(&s, INIT_MSIX, F_STATUS); s_rx(&s, 0, 4096, 0);
	     s_peer(&s, 0, 60, 1); s8(&s, OP_PEER_CLOSE); s8(&s, OP_POLL); s8(&s, 3);
	     s_tx(&s, 0, 60, 1, 0); s8(&s, OP_BAR_READ); s8(&s, 4 | 1 << 3); sle(&s, 0x2006, 2));
#undef SEED
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_net", "NET", write_seeds);
	net_inline = true;
	return 0;
}
