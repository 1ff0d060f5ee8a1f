/* The network device process (cellvm-dev-net) in-process, driven through
 * its IPC as the core and a guest driver would (tools/fuzz/dev_harness.h:
 * a Setup, BAR writes through an exit ring, device_access reads), over a
 * stream backend whose peer the test plays on the other end of a
 * socketpair.  net_inline: the test runs the device thread's rounds. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/fuzz/dev_harness.h"
#include "tools/fuzz/net_harness.h"

#define RAM_SIZE 0x40000u
#define QSIZE 64u
#define QAREA 0x800u
enum { RXQ, TXQ, CTRLQ, NQ };
#define CTRL_BASE 0x2000u
#define TX_BASE 0x4000u  /* QSIZE buffers of 0x800 */
#define TX_BUF 0x800u
#define RX_BASE 0x24000u /* QSIZE buffers of 0x700 */
#define RX_BUF 0x700u
#define FRAME_LEN 60

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t OTHER[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};

struct t {
	struct device dev;
	struct dev_harness h;
	int ctl[2];
	int ram_fd;
	int peer;
	uint8_t *ram;
	uint16_t tx_next, rx_next; /* avail entries posted */
	uint64_t features;
};

static struct dh_ring ring(unsigned q)
{
	return (struct dh_ring){.desc = q * QAREA, .avail = q * QAREA + 0x400,
				.used = q * QAREA + 0x500, .size = QSIZE};
}

/* A device over a fresh socketpair; SNDBUF > 0 shrinks the device end's
 * send buffer.  *RC: what its setup returned. */
static struct t *make_rc(int sndbuf, int *rc)
{
	struct t *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
				    t->ctl), 0);
	t->ram_fd = memfd_create("test-ram", MFD_CLOEXEC);
	assert_true(t->ram_fd >= 0);
	assert_int_equal(ftruncate(t->ram_fd, RAM_SIZE), 0);
	t->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, t->ram_fd, 0);
	assert_true(t->ram != MAP_FAILED);
	t->dev.ops = &net_device_ops;
	t->dev.control_fd = t->ctl[0];
	t->h.d = &t->dev;
	t->h.ctl = t->ctl[1];
	t->h.ram = t->ram;
	t->h.ram_size = RAM_SIZE;

	int fds[4], sp[2];
	Cellvm__Rings rings;
	dh_rings(&t->h, 64, fds, &rings);
	fds[2] = fcntl(t->ram_fd, F_DUPFD_CLOEXEC, 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp), 0);
	if (sndbuf)
		assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	fds[3] = sp[0];
	t->peer = sp[1];
	Cellvm__NetAdapter na = CELLVM__NET_ADAPTER__INIT;
	na.fd = 3;
	na.kind = CELLVM__NET_ADAPTER__KIND__STREAM;
	na.mac = (ProtobufCBinaryData){6, (uint8_t *)MAC};
	na.backend = "test peer";
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = "net";
	s.instance = "test";
	s.rings = &rings;
	s.guest_memory_fd = 2;
	s.guest_memory_size = RAM_SIZE;
	s.net = &na;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;
	net_inline = true;
	net_hooks = (struct net_hooks){0};
	*rc = device_setup(&t->dev, &m, fds, 4);
	if (*rc == 0)
		dh_setup_done(&t->h);
	dh_drain_control(&t->h);
	return t;
}

static struct t *make(int sndbuf)
{
	int rc;
	struct t *t = make_rc(sndbuf, &rc);
	assert_int_equal(rc, 0);
	return t;
}

static void destroy(struct t *t)
{
	net_harness_release(&t->dev);
	device_release(&t->dev);
	dh_drain_control(&t->h);
	dh_release(&t->h);
	munmap(t->ram, RAM_SIZE);
	close(t->ram_fd);
	close(t->ctl[0]);
	close(t->ctl[1]);
	if (t->peer >= 0)
		close(t->peer);
	free(t);
}

static void init(struct t *t, uint64_t dev_features, bool msix)
{
	memset(t->ram, 0, NQ * QAREA);
	t->tx_next = t->rx_next = 0;
	struct dh_ring r[NQ] = {ring(0), ring(1), ring(2)};
	struct dh_init in = {.want = 1ull << VIRTIO_F_VERSION_1 | dev_features, .msix = msix,
			     .nq = NQ, .rings = r};
	uint8_t st;
	t->features = dh_virtio_init(&t->h, &in, &st);
	assert_true(st & DH_ST_FEATURES_OK);
	assert_int_equal(t->features, in.want);
}

static void rounds(struct t *t, int n)
{
	for (int i = 0; i < n; i++)
		net_device_poll(&t->dev, 0);
	dh_drain_control(&t->h);
}

static void kick(struct t *t, unsigned q)
{
	dh_bar_write(&t->h, DH_BAR_VIRTIO, DH_NOTIFY_OFF + 4 * q, 2, q);
}

static uint64_t eventfd_count(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* A test frame: to DST, from OTHER, SEQ in its payload. */
static void make_frame(uint8_t *f, size_t len, const uint8_t *dst, unsigned seq)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, OTHER, 6);
	f[12] = 0x08, f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(seq * 31 + i);
	f[14] = (uint8_t)seq, f[15] = (uint8_t)(seq >> 8);
}

/* Kick the transmit queue only when the device asks for it (the used
 * ring's flags; no EVENT_IDX here), as a driver does; else always. */
static bool kick_as_asked;

static uint16_t tx_used_flags(struct t *t)
{
	return __atomic_load_n((uint16_t *)(t->ram + ring(TXQ).used), __ATOMIC_ACQUIRE);
}

/* A TX chain: header HDR (NULL: zeros) + frame, in one descriptor or
 * two (header apart). */
static void post_tx(struct t *t, const uint8_t *hdr, const uint8_t *frame, size_t len, bool split)
{
	struct dh_ring r = ring(TXQ);
	unsigned slot = t->tx_next % QSIZE;
	uint64_t b = TX_BASE + (uint64_t)slot * TX_BUF;
	assert_true(len + 12 <= TX_BUF);
	memset(t->ram + b, 0, 12);
	if (hdr)
		memcpy(t->ram + b, hdr, 12);
	memcpy(t->ram + b + 12, frame, len);
	if (split) {
		slot &= ~1u;
		dh_write_desc(&t->h, &r, slot, b, 12, 1, (uint16_t)(slot + 1));
		dh_write_desc(&t->h, &r, slot + 1, b + 12, (uint32_t)len, 0, 0);
	} else {
		dh_write_desc(&t->h, &r, slot, b, (uint32_t)(12 + len), 0, 0);
	}
	dh_push_avail(&t->h, &r, (uint16_t)slot);
	t->tx_next++;
	if (!kick_as_asked || !(tx_used_flags(t) & VIRTQ_USED_F_NO_NOTIFY))
		kick(t, TXQ);
}

static void post_rx(struct t *t, uint32_t size)
{
	struct dh_ring r = ring(RXQ);
	unsigned slot = t->rx_next % QSIZE;
	uint64_t b = RX_BASE + (uint64_t)slot * RX_BUF;
	memset(t->ram + b, 0xa5, RX_BUF);
	dh_write_desc(&t->h, &r, slot, b, size, 2, 0);
	dh_push_avail(&t->h, &r, (uint16_t)slot);
	t->rx_next++;
	kick(t, RXQ);
}

static uint8_t *rx_buf(struct t *t, uint32_t id)
{
	return t->ram + RX_BASE + (uint64_t)id * RX_BUF;
}

static void peer_send(struct t *t, const uint8_t *frame, uint32_t len)
{
	uint8_t w[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			(uint8_t)len};
	assert_int_equal(send(t->peer, w, 4, MSG_NOSIGNAL), 4);
	assert_int_equal(send(t->peer, frame, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads exactly N bytes from the peer end, running device rounds while
 * they are not there yet.  false if they never come. */
static bool peer_read(struct t *t, uint8_t *buf, size_t n)
{
	size_t got = 0;
	for (int tries = 0; got < n && tries < 2000; tries++) {
		ssize_t k = recv(t->peer, buf + got, n - got, MSG_DONTWAIT);
		if (k > 0) {
			got += (size_t)k;
			continue;
		}
		rounds(t, 1);
		struct pollfd p = {.fd = t->peer, .events = POLLIN};
		poll(&p, 1, 1);
	}
	return got == n;
}

/* One framed frame from the peer end: its length, the frame in BUF. */
static uint32_t peer_frame(struct t *t, uint8_t *buf, size_t cap)
{
	uint8_t w[4];
	assert_true(peer_read(t, w, 4));
	uint32_t len = (uint32_t)w[0] << 24 | w[1] << 16 | w[2] << 8 | w[3];
	assert_true(len <= cap);
	assert_true(peer_read(t, buf, len));
	return len;
}

static bool peer_has_data(struct t *t)
{
	uint8_t b;
	return recv(t->peer, &b, 1, MSG_DONTWAIT | MSG_PEEK) == 1;
}

static uint8_t ctrl(struct t *t, uint8_t cls, uint8_t cmd, const uint8_t *data, uint32_t len)
{
	struct dh_ring r = ring(CTRLQ);
	t->ram[CTRL_BASE] = cls;
	t->ram[CTRL_BASE + 1] = cmd;
	memcpy(t->ram + CTRL_BASE + 0x100, data, len);
	t->ram[CTRL_BASE + 0x200] = 0xee;
	uint16_t used = dh_used_idx(&t->h, &r);
	dh_write_desc(&t->h, &r, 0, CTRL_BASE, 2, 1, 1);
	dh_write_desc(&t->h, &r, 1, CTRL_BASE + 0x100, len, 1, 2);
	dh_write_desc(&t->h, &r, 2, CTRL_BASE + 0x200, 1, 2, 0);
	dh_push_avail(&t->h, &r, 0);
	kick(t, CTRLQ);
	rounds(t, 2);
	assert_int_equal(dh_used_idx(&t->h, &r), (uint16_t)(used + 1));
	return t->ram[CTRL_BASE + 0x200];
}

static uint16_t link_status(struct t *t)
{
	return (uint16_t)dh_bar_read(&t->h, DH_BAR_VIRTIO, DH_DEVCFG_OFF + 6, 2);
}

/* ---- (a) TX ---- */

static void test_tx_frame_reaches_peer(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_STATUS), false);
	uint8_t f[FRAME_LEN], got[256];
	make_frame(f, sizeof(f), OTHER, 1);
	post_tx(t, NULL, f, sizeof(f), false);
	rounds(t, 2);
	assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
	assert_memory_equal(got, f, FRAME_LEN);
	/* the chain came back with used length 0 */
	struct dh_ring r = ring(TXQ);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	uint32_t id, len;
	dh_used_elem(&t->h, &r, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 0);
	/* header apart from the frame: the same on the wire */
	make_frame(f, sizeof(f), OTHER, 2);
	post_tx(t, NULL, f, sizeof(f), true);
	assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
	assert_memory_equal(got, f, FRAME_LEN);
	assert_false(peer_has_data(t));
	destroy(t);
}

/* ---- (b) RX ---- */

static void rx_one(bool msix)
{
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF) | VNET_BIT(VIRTIO_NET_F_STATUS), msix);
	eventfd_count(t->dev.pci.intx_fd);
	eventfd_count(t->dev.pci.msix_fds[RXQ + 1]);
	post_rx(t, 1536);
	rounds(t, 2);
	uint8_t f[FRAME_LEN];
	make_frame(f, sizeof(f), MAC, 7);
	peer_send(t, f, sizeof(f));
	rounds(t, 3);
	struct dh_ring r = ring(RXQ);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	uint32_t id, len;
	dh_used_elem(&t->h, &r, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 12 + FRAME_LEN);
	const uint8_t *b = rx_buf(t, id);
	static const uint8_t zero[10];
	assert_memory_equal(b, zero, 10);
	assert_int_equal(b[10] | b[11] << 8, 1); /* num_buffers */
	assert_memory_equal(b + 12, f, FRAME_LEN);
	assert_int_equal(b[12 + FRAME_LEN], 0xa5); /* nothing past it */
	if (msix) {
		assert_true(eventfd_count(t->dev.pci.msix_fds[RXQ + 1]) >= 1);
	} else {
		assert_true(eventfd_count(t->dev.pci.intx_fd) >= 1);
		assert_int_equal(dh_bar_read(&t->h, DH_BAR_VIRTIO, DH_ISR_OFF, 1) & 1, 1);
	}
	destroy(t);
}

static void test_rx_frame_msix(void **state)
{
	(void)state;
	rx_one(true);
}

static void test_rx_frame_intx(void **state)
{
	(void)state;
	rx_one(false);
}

/* ---- (c) RX backpressure ---- */

static unsigned unpopped;

static void count_unpopped(void *ctx, unsigned q, unsigned n)
{
	(void)ctx;
	if (q == RXQ)
		unpopped += n;
}

/* Enough buffers for any packet (NET_IO_BUF_MAX bytes): the backend
 * writes each one straight into them (the chains popped for that and not
 * used go back at the end of the round: only that path gives any back
 * here).  Packets across several chains, a filtered one that takes none,
 * all in order. */
static void test_rx_direct(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	unpopped = 0;
	net_hooks.unpopped = count_unpopped;
	for (int i = 0; i < 48; i++) /* 48 x 1792 bytes >= 12 + 65554 */
		post_rx(t, RX_BUF);
	static uint8_t small[FRAME_LEN], big[4000], other[FRAME_LEN], last[1780];
	make_frame(small, sizeof(small), MAC, 1);
	make_frame(big, sizeof(big), MAC, 2);
	make_frame(other, sizeof(other), OTHER, 3);
	make_frame(last, sizeof(last), MAC, 4);
	peer_send(t, small, sizeof(small));
	peer_send(t, big, sizeof(big));
	peer_send(t, other, sizeof(other));
	peer_send(t, last, sizeof(last));
	rounds(t, 5);
	struct dh_ring r = ring(RXQ);
	/* small: 1 chain; big: 12 + 4000 = 1792 + 1792 + 428; last: 12 + 1780 = 1792 */
	static const uint32_t want_len[] = {12 + FRAME_LEN, RX_BUF, RX_BUF, 4012 - 2 * RX_BUF, RX_BUF};
	assert_int_equal(dh_used_idx(&t->h, &r), 5);
	uint32_t id[5], len[5];
	for (int i = 0; i < 5; i++) {
		dh_used_elem(&t->h, &r, (uint16_t)i, &id[i], &len[i]);
		assert_int_equal(id[i], i);
		assert_int_equal(len[i], want_len[i]);
	}
	assert_int_equal(rx_buf(t, id[0])[10], 1); /* num_buffers */
	assert_memory_equal(rx_buf(t, id[0]) + 12, small, sizeof(small));
	assert_int_equal(rx_buf(t, id[1])[10], 3);
	assert_int_equal(rx_buf(t, id[1])[11], 0);
	assert_memory_equal(rx_buf(t, id[1]) + 12, big, RX_BUF - 12);
	assert_memory_equal(rx_buf(t, id[2]), big + RX_BUF - 12, RX_BUF);
	assert_memory_equal(rx_buf(t, id[3]), big + 2 * RX_BUF - 12, 4000 - (2 * RX_BUF - 12));
	assert_int_equal(rx_buf(t, id[4])[10], 1);
	assert_memory_equal(rx_buf(t, id[4]) + 12, last, sizeof(last));
	struct vnet_stats st;
	net_harness_stats(&t->dev, &st);
	assert_int_equal(st.rx_frames, 3);
	assert_int_equal(st.rx_filtered, 1);
	assert_int_equal(net_harness_rx_held(&t->dev), 0);
	assert_true(unpopped > 0);
	destroy(t);
}

static void test_rx_backpressure(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF), false);
	enum { N = 5 };
	uint8_t f[N][100];
	for (unsigned i = 0; i < N; i++) {
		make_frame(f[i], sizeof(f[i]), MAC, i);
		peer_send(t, f[i], sizeof(f[i]));
	}
	rounds(t, 10);
	struct dh_ring r = ring(RXQ);
	assert_int_equal(dh_used_idx(&t->h, &r), 0);
	for (unsigned i = 0; i < N; i++)
		post_rx(t, 1536);
	rounds(t, 10);
	assert_int_equal(dh_used_idx(&t->h, &r), N);
	for (unsigned i = 0; i < N; i++) {
		uint32_t id, len;
		dh_used_elem(&t->h, &r, (uint16_t)i, &id, &len);
		assert_int_equal(id, i);
		assert_int_equal(len, 12 + sizeof(f[i]));
		assert_memory_equal(rx_buf(t, id) + 12, f[i], sizeof(f[i]));
	}
	struct vnet_stats st;
	net_harness_stats(&t->dev, &st);
	assert_int_equal(st.rx_frames, N);
	destroy(t);
}

/* ---- (d) TX backpressure ---- */

static void test_tx_backpressure(void **state)
{
	(void)state;
	struct t *t = make(4096);
	init(t, 0, false);
	struct dh_ring r = ring(TXQ);
	enum { LEN = 1500 };
	uint8_t f[LEN], got[LEN + 64];
	unsigned sent = 0;
	/* Post until the backend says -EAGAIN and then some more: the
	 * device must keep the frame it holds and leave the rest queued. */
	int after = -1;
	for (; sent < 2000 && after != 0; sent++) {
		while ((uint16_t)(t->tx_next - dh_used_idx(&t->h, &r)) >= QSIZE - 1 &&
		       after < 0)
			rounds(t, 1);
		if ((uint16_t)(t->tx_next - dh_used_idx(&t->h, &r)) >= QSIZE - 1)
			break;
		make_frame(f, LEN, OTHER, sent);
		post_tx(t, NULL, f, LEN, false);
		rounds(t, 1);
		if (after < 0 && net_harness_tx_held(&t->dev))
			after = 10;
		else if (after > 0)
			after--;
	}
	assert_true(after >= 0); /* backpressure was reached */
	assert_true(net_harness_tx_held(&t->dev) > 0);
	assert_true((uint16_t)(t->tx_next - dh_used_idx(&t->h, &r)) > 0); /* some wait in the ring */
	for (unsigned i = 0; i < sent; i++) {
		make_frame(f, LEN, OTHER, i);
		uint32_t len = peer_frame(t, got, sizeof(got));
		assert_int_equal(len, LEN);
		assert_memory_equal(got, f, LEN);
	}
	rounds(t, 3);
	assert_false(peer_has_data(t));
	assert_int_equal(dh_used_idx(&t->h, &r), sent);
	struct vnet_stats st;
	net_harness_stats(&t->dev, &st);
	assert_int_equal(st.tx_frames, sent);
	destroy(t);
}

/* Transmit interrupts are moderated: the first after a quiet spell comes
 * at once; one within the gap is held, the used ring published at once,
 * and the device's own poll loop sends it when the gap ends, with no
 * other event to wake it. */
static void test_tx_irq_moderated(void **state)
{
	(void)state;
	setenv("CELLVM_NET_TX_IRQ_GAP_US", "100000", 1);
	struct t *t = make(0);
	unsetenv("CELLVM_NET_TX_IRQ_GAP_US");
	init(t, 0, true);
	struct dh_ring r = ring(TXQ);
	int irq = t->dev.pci.msix_fds[TXQ + 1];
	uint8_t f[FRAME_LEN], got[256];
	eventfd_count(irq);
	make_frame(f, sizeof(f), OTHER, 1);
	post_tx(t, NULL, f, sizeof(f), false);
	rounds(t, 2);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	assert_int_equal(eventfd_count(irq), 1);

	make_frame(f, sizeof(f), OTHER, 2);
	post_tx(t, NULL, f, sizeof(f), false);
	rounds(t, 2);
	assert_int_equal(dh_used_idx(&t->h, &r), 2);
	assert_int_equal(eventfd_count(irq), 0); /* held */
	net_device_poll(&t->dev, 5000); /* wakes at the end of the gap */
	assert_int_equal(eventfd_count(irq), 1);
	for (unsigned i = 1; i <= 2; i++) {
		make_frame(f, sizeof(f), OTHER, i);
		assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
		assert_memory_equal(got, f, FRAME_LEN);
	}
	destroy(t);
}

/* The backend's answer to a frame is often ready when the write returns
 * (a TAP: the host's TCP sends its ACK from within it).  The device reads
 * it in the same round, without waiting to be woken for it. */
static void answer_tx(void *ctx, unsigned q, uint16_t head, uint32_t len)
{
	(void)head, (void)len;
	if (q != TXQ)
		return;
	uint8_t f[FRAME_LEN];
	make_frame(f, sizeof(f), MAC, 9);
	peer_send(ctx, f, sizeof(f));
}

static void test_answer_read_in_same_round(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF), true);
	post_rx(t, 1536);
	rounds(t, 2);
	struct dh_ring rx = ring(RXQ), tx = ring(TXQ);
	assert_int_equal(dh_used_idx(&t->h, &rx), 0);
	net_hooks = (struct net_hooks){.pushed = answer_tx, .ctx = t};
	uint8_t f[FRAME_LEN], got[256];
	make_frame(f, sizeof(f), OTHER, 1);
	post_tx(t, NULL, f, sizeof(f), false);
	net_device_poll(&t->dev, 0); /* one round: the kick */
	net_hooks = (struct net_hooks){0};
	assert_int_equal(dh_used_idx(&t->h, &tx), 1);
	assert_int_equal(dh_used_idx(&t->h, &rx), 1);
	uint32_t id, len;
	dh_used_elem(&t->h, &rx, 0, &id, &len);
	assert_int_equal(len, 12 + FRAME_LEN);
	make_frame(f, sizeof(f), MAC, 9);
	assert_memory_equal(rx_buf(t, id) + 12, f, FRAME_LEN);
	make_frame(f, sizeof(f), OTHER, 1);
	assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
	assert_memory_equal(got, f, FRAME_LEN);
	destroy(t);
}

/* ---- (e) receive filter ---- */

/* A receive interrupt stands in for a transmit one (Linux's driver frees
 * sent buffers in its receive poll): with the answer read in the same
 * round, only the receive queue interrupts; the transmit interrupt is held
 * for TX's gap and then sent only if the guest still wants it. */
static void tx_answered(bool guest_done)
{
	setenv("CELLVM_NET_TX_IRQ_GAP_US", "100000", 1);
	struct t *t = make(0);
	unsetenv("CELLVM_NET_TX_IRQ_GAP_US");
	init(t, VNET_BIT(VIRTIO_NET_F_MRG_RXBUF), true);
	post_rx(t, 1536);
	rounds(t, 2);
	struct dh_ring tx = ring(TXQ), rx = ring(RXQ);
	int tx_irq = t->dev.pci.msix_fds[TXQ + 1], rx_irq = t->dev.pci.msix_fds[RXQ + 1];
	eventfd_count(tx_irq);
	eventfd_count(rx_irq);
	net_hooks = (struct net_hooks){.pushed = answer_tx, .ctx = t};
	uint8_t f[FRAME_LEN];
	make_frame(f, sizeof(f), OTHER, 1);
	post_tx(t, NULL, f, sizeof(f), false);
	net_device_poll(&t->dev, 0);
	net_hooks = (struct net_hooks){0};
	assert_int_equal(dh_used_idx(&t->h, &tx), 1);
	assert_int_equal(dh_used_idx(&t->h, &rx), 1);
	assert_int_equal(eventfd_count(rx_irq), 1);
	assert_int_equal(eventfd_count(tx_irq), 0); /* held */
	if (guest_done) /* it took the sent buffer in its receive poll */
		__atomic_store_n((uint16_t *)(t->ram + tx.avail), VIRTQ_AVAIL_F_NO_INTERRUPT,
				 __ATOMIC_RELEASE);
	net_device_poll(&t->dev, 5000); /* wakes at the end of the gap */
	assert_int_equal(eventfd_count(tx_irq), guest_done ? 0 : 1);
	assert_int_equal(virtio_pci_queue_held_until(net_harness_transport(&t->dev), TXQ), 0);
	destroy(t);
}

static void test_rx_irq_for_tx_sent(void **state)
{
	(void)state;
	tx_answered(false);
}

static void test_rx_irq_for_tx_dropped(void **state)
{
	(void)state;
	tx_answered(true);
}

/* CELLVM_NET_TX_POLL_US: after a round that sent frames, the guest is not
 * asked to kick; the device looks at the queue again when the time is up,
 * and asks for kicks again once a look finds nothing. */
static void test_tx_poll(void **state)
{
	(void)state;
	setenv("CELLVM_NET_TX_POLL_US", "20000", 1);
	struct t *t = make(0);
	unsetenv("CELLVM_NET_TX_POLL_US");
	init(t, 0, true);
	kick_as_asked = true;
	struct dh_ring r = ring(TXQ);
	uint8_t f[FRAME_LEN], got[256];
	make_frame(f, sizeof(f), OTHER, 1);
	post_tx(t, NULL, f, sizeof(f), false);
	net_device_poll(&t->dev, 0);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	assert_true(tx_used_flags(t) & VIRTQ_USED_F_NO_NOTIFY);
	make_frame(f, sizeof(f), OTHER, 2);
	post_tx(t, NULL, f, sizeof(f), false); /* no kick */
	net_device_poll(&t->dev, 0);
	assert_int_equal(dh_used_idx(&t->h, &r), 1); /* not yet looked at */
	net_device_poll(&t->dev, 5000); /* wakes when the time is up */
	assert_int_equal(dh_used_idx(&t->h, &r), 2);
	assert_true(tx_used_flags(t) & VIRTQ_USED_F_NO_NOTIFY);
	net_device_poll(&t->dev, 5000); /* nothing more: kicks wanted again */
	assert_false(tx_used_flags(t) & VIRTQ_USED_F_NO_NOTIFY);
	for (unsigned i = 1; i <= 2; i++) {
		make_frame(f, sizeof(f), OTHER, i);
		assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
		assert_memory_equal(got, f, FRAME_LEN);
	}
	kick_as_asked = false;
	destroy(t);
}

/* The moderation settings in the environment: a value that is not one
 * stops the device at setup. */
static void test_bad_irq_settings(void **state)
{
	(void)state;
	static const char *const bad[][2] = {
		{"CELLVM_NET_TX_IRQ_GAP_US", "-1"},  {"CELLVM_NET_TX_IRQ_GAP_US", "100001"},
		{"CELLVM_NET_RX_IRQ_GAP_US", "5ms"}, {"CELLVM_NET_RX_IRQ_FOR_TX", "yes"},
		{"CELLVM_NET_RX_IRQ_FOR_TX", ""},    {"CELLVM_NET_TX_POLL_US", "1e3"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		setenv(bad[i][0], bad[i][1], 1);
		struct t *t = make_rc(0, &rc);
		unsetenv(bad[i][0]);
		assert_int_not_equal(rc, 0);
		destroy(t);
	}
	setenv("CELLVM_NET_RX_IRQ_FOR_TX", "0", 1);
	destroy(make(0));
	unsetenv("CELLVM_NET_RX_IRQ_FOR_TX");
}

static void test_rx_filter(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_CTRL_VQ) | VNET_BIT(VIRTIO_NET_F_CTRL_RX), false);
	static const uint8_t off[1] = {0}, empty[8] = {0};
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, off, 1),
			 VIRTIO_NET_OK);
	assert_int_equal(ctrl(t, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, empty, 8),
			 VIRTIO_NET_OK);
	post_rx(t, 1536);
	post_rx(t, 1536);
	uint8_t other[FRAME_LEN], ours[FRAME_LEN];
	make_frame(other, FRAME_LEN, OTHER, 1);
	make_frame(ours, FRAME_LEN, MAC, 2);
	peer_send(t, other, FRAME_LEN);
	peer_send(t, ours, FRAME_LEN);
	rounds(t, 5);
	struct dh_ring r = ring(RXQ);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	uint32_t id, len;
	dh_used_elem(&t->h, &r, 0, &id, &len);
	assert_int_equal(len, 12 + FRAME_LEN);
	assert_memory_equal(rx_buf(t, id) + 12, ours, FRAME_LEN);
	struct vnet_stats st;
	net_harness_stats(&t->dev, &st);
	assert_int_equal(st.rx_filtered, 1);
	destroy(t);
}

/* ---- (f) hostile TX ---- */

static void test_tx_hostile(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, 0, false);
	uint8_t f[FRAME_LEN], got[256];
	/* GSO on a backend without offloads (none negotiated): dropped */
	uint8_t gso[12] = {1, VIRTIO_NET_HDR_GSO_TCPV4, 34, 0, 0x40, 0x05, 34, 0, 16, 0, 0, 0};
	make_frame(f, FRAME_LEN, OTHER, 1);
	post_tx(t, gso, f, FRAME_LEN, false);
	/* shorter than an Ethernet header: dropped */
	post_tx(t, NULL, f, 10, false);
	/* then a good one: only it reaches the peer */
	make_frame(f, FRAME_LEN, OTHER, 3);
	post_tx(t, NULL, f, FRAME_LEN, false);
	rounds(t, 3);
	assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
	assert_memory_equal(got, f, FRAME_LEN);
	assert_false(peer_has_data(t));
	struct vnet_stats st;
	net_harness_stats(&t->dev, &st);
	assert_int_equal(st.tx_malformed, 2);
	assert_int_equal(st.tx_frames, 1);
	assert_false(dh_status(&t->h) & DH_ST_NEEDS_RESET);

	/* a descriptor outside guest RAM: the queue breaks, the device asks
	 * for a reset */
	struct dh_ring r = ring(TXQ);
	unsigned slot = t->tx_next % QSIZE;
	dh_write_desc(&t->h, &r, slot, RAM_SIZE + 0x1000, 12 + FRAME_LEN, 0, 0);
	dh_push_avail(&t->h, &r, (uint16_t)slot);
	t->tx_next++;
	kick(t, TXQ);
	rounds(t, 3);
	assert_true(dh_status(&t->h) & DH_ST_NEEDS_RESET);
	assert_false(t->h.stop);

	/* reset, init again: traffic flows */
	dh_common_w(&t->h, 0x14, 1, 0);
	assert_int_equal(dh_status(&t->h), 0);
	init(t, 0, false);
	assert_false(dh_status(&t->h) & DH_ST_NEEDS_RESET);
	make_frame(f, FRAME_LEN, OTHER, 4);
	post_tx(t, NULL, f, FRAME_LEN, false);
	assert_int_equal(peer_frame(t, got, sizeof(got)), FRAME_LEN);
	assert_memory_equal(got, f, FRAME_LEN);
	post_rx(t, 1536);
	make_frame(f, FRAME_LEN, MAC, 5);
	peer_send(t, f, FRAME_LEN);
	rounds(t, 3);
	struct dh_ring rr = ring(RXQ);
	assert_int_equal(dh_used_idx(&t->h, &rr), 1);
	assert_memory_equal(rx_buf(t, 0) + 12, f, FRAME_LEN);
	destroy(t);
}

/* ---- (g) peer gone ---- */

static void test_peer_close_link_down(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_STATUS), true);
	assert_true(link_status(t) & VIRTIO_NET_S_LINK_UP);
	uint8_t gen0 = (uint8_t)dh_bar_read(&t->h, DH_BAR_VIRTIO, 0x15, 1);
	post_rx(t, 1536);
	rounds(t, 2);
	eventfd_count(t->dev.pci.msix_fds[0]);
	close(t->peer);
	t->peer = -1;
	rounds(t, 5);
	assert_false(link_status(t) & VIRTIO_NET_S_LINK_UP);
	assert_true(eventfd_count(t->dev.pci.msix_fds[0]) >= 1); /* config vector 0 */
	assert_int_not_equal((uint8_t)dh_bar_read(&t->h, DH_BAR_VIRTIO, 0x15, 1), gen0);
	/* the device goes on: TX chains are still taken back */
	uint8_t f[FRAME_LEN];
	make_frame(f, FRAME_LEN, OTHER, 1);
	post_tx(t, NULL, f, FRAME_LEN, false);
	rounds(t, 2);
	struct dh_ring r = ring(TXQ);
	assert_int_equal(dh_used_idx(&t->h, &r), 1);
	destroy(t);
}

/* The same on INTx: the ISR's config bit. */
static void test_peer_close_intx(void **state)
{
	(void)state;
	struct t *t = make(0);
	init(t, VNET_BIT(VIRTIO_NET_F_STATUS), false);
	eventfd_count(t->dev.pci.intx_fd);
	close(t->peer);
	t->peer = -1;
	rounds(t, 5);
	assert_false(link_status(t) & VIRTIO_NET_S_LINK_UP);
	assert_true(eventfd_count(t->dev.pci.intx_fd) >= 1);
	assert_int_equal(dh_bar_read(&t->h, DH_BAR_VIRTIO, DH_ISR_OFF, 1) & 2, 2);
	destroy(t);
}

int main(void)
{
	fuzz_name = "test_net_dev";
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_frame_reaches_peer),
		cmocka_unit_test(test_rx_frame_msix),
		cmocka_unit_test(test_rx_frame_intx),
		cmocka_unit_test(test_rx_direct),
		cmocka_unit_test(test_rx_backpressure),
		cmocka_unit_test(test_tx_backpressure),
		cmocka_unit_test(test_rx_filter),
		cmocka_unit_test(test_tx_hostile),
		cmocka_unit_test(test_tx_irq_moderated),
		cmocka_unit_test(test_answer_read_in_same_round),
		cmocka_unit_test(test_rx_irq_for_tx_sent),
		cmocka_unit_test(test_rx_irq_for_tx_dropped),
		cmocka_unit_test(test_tx_poll),
		cmocka_unit_test(test_bad_irq_settings),
		cmocka_unit_test(test_peer_close_link_down),
		cmocka_unit_test(test_peer_close_intx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
