/* cellvm-dev-net: the virtio-net adapter (virtio_net.h) on the virtio PCI
 * transport, moving frames between its queues and the backend (net_io.h)
 * on one thread; see net_dev.h for the shape. */
#include "devices/net/net_dev.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/net/net_io.h"
#include "devices/net/net_rx_pool.h"
#include "devices/net/net_stats.h"
#include "devices/net/virtio_net.h"
#include "devices/virtio/virtio_pci.h"
#include "sandbox/policies.h"
#include "sandbox/sandbox.h"

enum { RXQ, TXQ, CTRLQ, NUM_QUEUES };
#define QUEUE_SIZE 256
/* Frames per direction per round: big enough to amortize the interrupt
 * and the used-ring publication, small enough that one direction does not
 * starve the other. */
#define BATCH 64
#define ERRORS_LOGGED 8
/* Interrupt moderation of the transmit queue (virtio_pci_set_irq_gap): at
 * most one "sent" interrupt per TX_IRQ_GAP_US, a receive interrupt
 * counting as one (rx_irq_for_tx).  Nothing in a guest waits on those but
 * the freeing of sent buffers (TCP's small-queue limit, a full ring); in
 * the nested host's net_bench each exit the guest is spared is throughput
 * (docs/benchmarks.md).  Receive interrupts are not held: a reply must not
 * wait.  CELLVM_NET_TX_IRQ_GAP_US / _RX_ override. */
#define TX_IRQ_GAP_US 200
#define IRQ_GAP_MAX_US 100000
/* Iovecs of a frame sent from guest memory: its header, then its segments
 * (Linux uses 1 to 18); a frame in more is copied instead. */
#define TX_IOV_MAX 64

struct net_dev {
	struct device *d;
	struct virtio_pci vp;
	struct virtio_model model;
	struct vnet vnet;
	struct net_io io;
	char backend[128]; /* for messages */
	pthread_t thread;

	/* receive: one packet from the backend that the guest has not taken
	 * yet (rx_len > 0); rx_wait: no buffers (or no driver), wait for a
	 * kick of the receive queue */
	uint8_t *rx_pkt;
	size_t rx_len;
	bool rx_wait;
	struct virtqueue *rxvq; /* between queue_begin and queue_end */
	struct vq_req rx_req;
	/* receiving straight into guest buffers (rx_direct): the chains
	 * popped for it, the header as the backend wrote it, the iovecs */
	struct rx_pool pool;
	uint8_t rx_hdr[VNET_HDR_LEN];
	struct iovec rx_iov[NET_IO_MAX_IOV];

	/* transmit: one copied frame the backend said -EAGAIN to (tx_len >
	 * 0); tx_wait_out: it said -EAGAIN to a frame sent from guest memory,
	 * whose chain went back to the queue, to be sent again on POLLOUT */
	uint8_t *tx_frame;
	size_t tx_len;
	bool tx_wait_out;
	bool tx_kicked;
	/* While the guest keeps sending, its kicks stay off and the queue is
	 * looked at again at tx_poll_at, tx_poll_ns after a round that sent
	 * frames (CELLVM_NET_TX_POLL_US, default 0: off): fewer exits for the
	 * guest, up to tx_poll_ns more latency for its frames meanwhile. */
	uint64_t tx_poll_ns, tx_poll_at;
	uint8_t tx_hdr[VNET_HDR_LEN]; /* the checked header of the frame being sent */
	struct iovec tx_iov[TX_IOV_MAX];
	bool more; /* a batch ended with work left: poll without sleeping */
	bool rx_irq_for_tx; /* a receive interrupt stands in for a transmit one */

	bool link_down; /* the backend is gone: stop polling it */
	bool hup;       /* stream peer hung up: read what is left, then link down */
	bool config_changed; /* the guest must hear of a config change */
	unsigned errors_logged;
	struct iovec *out, *in; /* for the transmit and control queues */

	struct net_stats stats;
	bool stats_log;   /* CELLVM_NET_STATS: log them when idle */
	bool stats_dirty; /* work done since they were last logged */
};

static struct net_dev net;
bool net_inline;

static void log_error(struct net_dev *nd, const char *fmt, const char *what)
{
	if (nd->errors_logged >= ERRORS_LOGGED)
		return;
	nd->errors_logged++;
	device_log(nd->d, CELLVM__LOG__LEVEL__ERROR, fmt, what);
	if (nd->errors_logged == ERRORS_LOGGED)
		device_log(nd->d, CELLVM__LOG__LEVEL__ERROR, "(no more errors are logged)");
}

/* The backend is gone (stream peer closed, TAP detached): the cable is
 * pulled, the guest is told, the VM goes on. */
static void link_lost(struct net_dev *nd, const char *why)
{
	if (nd->link_down)
		return;
	nd->link_down = true;
	nd->more = true; /* a frame waiting for POLLOUT is dropped now */
	device_log(nd->d, CELLVM__LOG__LEVEL__WARNING, "%s: %s; link down", nd->backend, why);
	__atomic_store_n(&nd->vnet.link_up, false, __ATOMIC_RELEASE);
	/* Told once no queue lock is held: the transport takes its own lock
	 * and then queue locks, so taking it under one could deadlock. */
	nd->config_changed = true;
}

/* ---- offloads: what the guest takes, told to the TAP ---- */

static unsigned tun_flags(uint64_t guest_offloads)
{
	static const struct {
		unsigned bit, tun;
	} map[] = {
		{VIRTIO_NET_F_GUEST_CSUM, TUN_F_CSUM}, {VIRTIO_NET_F_GUEST_TSO4, TUN_F_TSO4},
		{VIRTIO_NET_F_GUEST_TSO6, TUN_F_TSO6}, {VIRTIO_NET_F_GUEST_ECN, TUN_F_TSO_ECN},
		{VIRTIO_NET_F_GUEST_UFO, TUN_F_UFO},
	};
	unsigned f = 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (guest_offloads >> map[i].bit & 1)
			f |= map[i].tun;
	return f;
}

static void apply_offloads(struct net_dev *nd)
{
	if (nd->io.kind != NET_IO_TAP)
		return;
	int rc = net_io_tap_set_offload(&nd->io, tun_flags(nd->vnet.guest_offloads));
	if (rc < 0)
		log_error(nd, "TUNSETOFFLOAD: %s", strerror(-rc));
}

/* ---- the model, as the transport calls it (main thread) ---- */

static void net_config_read(void *ctx, uint8_t *cfg)
{
	vnet_config(&((struct net_dev *)ctx)->vnet, cfg);
}

static bool net_set_features(void *ctx, uint64_t features)
{
	struct net_dev *nd = ctx;
	if (!vnet_features_ok(&nd->vnet, features))
		return false;
	vnet_set_features(&nd->vnet, features);
	apply_offloads(nd);
	return true;
}

static void net_reset(void *ctx)
{
	struct net_dev *nd = ctx;
	vnet_reset(&nd->vnet);
	apply_offloads(nd); /* none: no partial checksums for a driver to come */
}

/* The transport's queue threads are not used: every queue is ours. */
static uint32_t net_handle_none(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
				const struct iovec *in, unsigned in_num)
{
	(void)ctx, (void)q, (void)out, (void)out_num, (void)in, (void)in_num;
	return 0;
}

/* ---- receive ---- */

static int rx_next(void *ctx, struct iovec **in, unsigned *in_num, uint16_t *head)
{
	struct net_dev *nd = ctx;
	int rc = vq_pop(nd->rxvq, &nd->rx_req);
	if (rc <= 0)
		return rc;
	*in = nd->rx_req.in;
	*in_num = nd->rx_req.in_num;
	*head = nd->rx_req.head;
	return 1;
}

static void rx_unpop(void *ctx, unsigned n)
{
	vq_unpop(((struct net_dev *)ctx)->rxvq, n);
}

static void rx_used(void *ctx, uint16_t head, uint32_t len)
{
	vq_push(((struct net_dev *)ctx)->rxvq, head, len);
}

static const struct vnet_rx_ops rx_ops = {.next = rx_next, .unpop = rx_unpop, .used = rx_used};

/* Reads the next packet from the backend into rx_pkt: 1, 0 when there is
 * none now (or the backend is gone), -1 when one was lost (go on). */
static int rx_fetch(struct net_dev *nd)
{
	struct iovec iov = {nd->rx_pkt, NET_IO_BUF_MAX};
	ssize_t r = net_io_recv(&nd->io, &iov, 1);
	nd->stats.rx_reads++;
	if (r > 0) {
		nd->rx_len = (size_t)r;
		return 1;
	}
	if (r == -EAGAIN) {
		nd->stats.rx_eagain++;
		return 0;
	}
	if (r == -EMSGSIZE) { /* cannot happen with NET_IO_BUF_MAX; counted anyway */
		log_error(nd, "%s", "a received frame was too big");
		return -1;
	}
	link_lost(nd, r == 0 ? "the peer closed the connection" : strerror((int)-r));
	return 0;
}

/* Reads the next packet from the backend straight into the guest's
 * buffers, when they hold any packet (NET_IO_BUF_MAX bytes) in at most
 * NET_IO_MAX_IOV pieces: 1 when one was read (delivered, or dropped and
 * counted), 0 when there is none now (or the backend is gone), -1 when
 * it cannot be done now (too few buffers, or odd ones): the caller
 * gives the pool back and reads into rx_pkt, placing it with
 * vnet_rx_place, which holds the packet until there is room, or says
 * what is wrong with the buffers. */
static int rx_direct(struct net_dev *nd, struct virtqueue *vq)
{
	bool mrg = nd->vnet.features >> VIRTIO_NET_F_MRG_RXBUF & 1;
	if (rx_pool_fill(&nd->pool, vq, NET_IO_BUF_MAX) <= 0)
		return -1;
	struct vnet_rx_chain c[RX_POOL_MAX];
	unsigned nc = rx_pool_chains(&nd->pool, c), used = 0, k = 0;
	uint64_t room = VNET_HDR_LEN;
	nd->rx_iov[k++] = (struct iovec){nd->rx_hdr, VNET_HDR_LEN};
	/* The header goes to rx_hdr, to be checked there; the frame after
	 * the first chain's first 12 bytes. */
	for (; used < nc && room < NET_IO_BUF_MAX; used++) {
		if (c[used].cap < VNET_HDR_LEN || (used > 0 && !mrg))
			return -1;
		size_t skip = used == 0 ? VNET_HDR_LEN : 0;
		for (unsigned j = 0; j < c[used].in_num; j++) {
			size_t l = c[used].in[j].iov_len;
			if (l <= skip) {
				skip -= l;
				continue;
			}
			if (k == NET_IO_MAX_IOV)
				return -1;
			nd->rx_iov[k++] = (struct iovec){(uint8_t *)c[used].in[j].iov_base + skip,
							 l - skip};
			room += l - skip;
			skip = 0;
		}
	}
	if (room < NET_IO_BUF_MAX)
		return -1;
	ssize_t r = net_io_recv(&nd->io, nd->rx_iov, (int)k);
	nd->stats.rx_reads++;
	if (r == -EAGAIN) {
		nd->stats.rx_eagain++;
		return 0;
	}
	if (r == -EMSGSIZE) { /* cannot happen with NET_IO_BUF_MAX; counted anyway */
		log_error(nd, "%s", "a received frame was too big");
		return 1;
	}
	if (r <= 0) {
		link_lost(nd, r == 0 ? "the peer closed the connection" : strerror((int)-r));
		return 0;
	}
	uint32_t lens[RX_POOL_MAX];
	int got = vnet_rx_direct(&nd->vnet, nd->rx_hdr, (size_t)r, c, used, lens);
	if (got > 0 && rx_pool_used(&nd->pool, vq, (unsigned)got, lens) == 0 &&
	    virtio_pci_queue_flush(&nd->vp, RXQ))
		nd->stats.rx_irqs++;
	return 1;
}

static void rx_round(struct net_dev *nd)
{
	if (nd->link_down && !nd->rx_len)
		return;
	struct virtqueue *vq = virtio_pci_queue_begin(&nd->vp, RXQ);
	if (!vq) { /* no driver: DRIVER_OK and queue enable kick us */
		nd->rx_wait = true;
		return;
	}
	nd->rxvq = vq;
	vq_disable_notify(vq);
	for (unsigned n = 0; n < BATCH; n++) {
		if (!nd->rx_len) {
			int d = rx_direct(nd, vq);
			if (d == 0)
				break;
			if (d > 0) {
				if (vq_is_broken(vq))
					break;
				if (n == BATCH - 1)
					nd->more = true;
				continue;
			}
			rx_pool_release(&nd->pool, vq);
		}
		if (!nd->rx_len) {
			int got = rx_fetch(nd);
			if (got < 0)
				continue;
			if (got == 0)
				break;
		}
		int rc = vnet_rx_place(&nd->vnet, nd->rx_pkt, nd->rx_len, &rx_ops, nd);
		if (rc == 0) {
			/* No room: sleep until the guest adds buffers, unless
			 * it did while we looked. */
			if (vq_enable_notify(vq))
				continue;
			nd->rx_wait = true;
			break;
		}
		nd->rx_len = 0; /* delivered, or dropped and counted */
		/* The guest takes each packet as soon as it is in (unless it
		 * is still polling: EVENT_IDX), so it works on one while we
		 * copy the next. */
		if (rc > 0 && virtio_pci_queue_flush(&nd->vp, RXQ))
			nd->stats.rx_irqs++;
		if (rc == -EIO) {
			if (!vq_is_broken(vq))
				log_error(nd, "receive queue: %s", "a buffer shorter than a vnet header");
			break;
		}
		if (n == BATCH - 1)
			nd->more = true;
	}
	rx_pool_release(&nd->pool, vq);
	nd->rxvq = NULL;
	if (virtio_pci_queue_flush(&nd->vp, RXQ))
		nd->stats.rx_irqs++;
	virtio_pci_queue_end(&nd->vp, RXQ);
}

/* ---- transmit ---- */

/* Hands one frame to the backend.  false when it must wait for POLLOUT
 * (the frame is kept in tx_frame). */
static bool tx_send(struct net_dev *nd, size_t len)
{
	struct iovec iov = {nd->tx_frame, len};
	int rc = net_io_send(&nd->io, &iov, 1);
	nd->stats.tx_writes++;
	if (rc == -EAGAIN) {
		nd->stats.tx_eagain++;
		nd->tx_len = len;
		return false;
	}
	nd->tx_len = 0;
	if (rc == -EPIPE)
		link_lost(nd, "the peer is gone");
	else if (rc < 0 && rc != -EIO) /* EIO: the TAP is down, the kernel dropped it */
		log_error(nd, "sending a frame: %s", strerror(-rc));
	return true;
}

/* Sends the frame of chain REQ from guest memory, its header checked in
 * tx_hdr (or, in too many pieces, copied: tx_send).  false when the caller
 * must stop and wait for POLLOUT; *PUSH: whether to complete the chain now
 * (not when it went back to the queue to be sent again). */
static bool tx_frame_out(struct net_dev *nd, struct virtqueue *vq, const struct vq_req *req,
			 bool *push)
{
	size_t len;
	*push = true;
	int k = vnet_tx_iov(&nd->vnet, req->out, req->out_num, nd->tx_hdr, nd->tx_iov,
			    TX_IOV_MAX, &len);
	if (k == -E2BIG) {
		ssize_t l = vnet_tx_copy(&nd->vnet, req->out, req->out_num, nd->tx_frame,
					 VNET_TX_BUF_SIZE);
		return l < 0 || nd->link_down || tx_send(nd, (size_t)l);
	}
	if (k < 0)
		return true; /* malformed (counted) */
	if (nd->link_down) {
		vnet_tx_accepted(&nd->vnet, len); /* and dropped: nowhere to go */
		return true;
	}
	int rc = net_io_send(&nd->io, nd->tx_iov, k);
	nd->stats.tx_writes++;
	if (rc == -EAGAIN) {
		/* The guest's buffer is still the frame: give the chain back
		 * rather than copy it. */
		nd->stats.tx_eagain++;
		vq_unpop(vq, 1);
		nd->tx_wait_out = true;
		*push = false;
		return false;
	}
	vnet_tx_accepted(&nd->vnet, len);
	if (rc == -EPIPE)
		link_lost(nd, "the peer is gone");
	else if (rc < 0 && rc != -EIO) /* EIO: the TAP is down, the kernel dropped it */
		log_error(nd, "sending a frame: %s", strerror(-rc));
	return true;
}

/* Sends what the guest queued; true when it passed frames from the queue
 * to the backend (whose answer net_device_poll then looks for). */
static bool tx_round(struct net_dev *nd)
{
	uint64_t writes = nd->stats.tx_writes;
	if (nd->tx_len && !tx_send(nd, nd->tx_len))
		return false; /* the backend is full: nothing went out */
	nd->tx_wait_out = false;
	struct virtqueue *vq = virtio_pci_queue_begin(&nd->vp, TXQ);
	if (!vq)
		return nd->stats.tx_writes != writes;
	struct vq_req req = {.out = nd->out, .in = nd->in, .out_cap = VQ_MAX_SEGS,
			     .in_cap = VQ_MAX_SEGS};
	vq_disable_notify(vq);
	unsigned n = 0;
	for (;;) {
		if (n == BATCH) {
			nd->more = true;
			break;
		}
		int rc = vq_pop(vq, &req);
		if (rc == 0 && n > 0 && nd->tx_poll_ns) {
			/* The guest is sending: leave its kicks off (each
			 * one an exit) and look again at tx_poll_at. */
			nd->tx_poll_at = virtio_pci_now_ns() + nd->tx_poll_ns;
			break;
		}
		if (rc == 0 && vq_enable_notify(vq))
			continue;
		if (rc <= 0)
			break;
		n++;
		bool push;
		bool go_on = tx_frame_out(nd, vq, &req, &push);
		if (push && vq_push(vq, req.head, 0) < 0)
			break;
		if (!go_on)
			break;
	}
	if (virtio_pci_queue_flush(&nd->vp, TXQ))
		nd->stats.tx_irqs++;
	virtio_pci_queue_end(&nd->vp, TXQ);
	int rc = net_io_flush(&nd->io);
	if (rc < 0 && rc != -EAGAIN)
		link_lost(nd, "the peer is gone");
	return nd->stats.tx_writes != writes;
}

/* ---- control ---- */

static void ctrl_round(struct net_dev *nd)
{
	struct virtqueue *vq = virtio_pci_queue_begin(&nd->vp, CTRLQ);
	if (!vq)
		return;
	struct vq_req req = {.out = nd->out, .in = nd->in, .out_cap = VQ_MAX_SEGS,
			     .in_cap = VQ_MAX_SEGS};
	for (;;) {
		int rc = vq_pop(vq, &req);
		if (rc == 0 && vq_enable_notify(vq))
			continue;
		if (rc <= 0)
			break;
		struct vnet_ctrl_result res;
		uint32_t len = vnet_handle_ctrl_res(&nd->vnet, req.out, req.out_num, req.in,
						    req.in_num, &res);
		if (vq_push(vq, req.head, len) < 0)
			break;
		if (res.offloads_changed)
			apply_offloads(nd);
	}
	virtio_pci_queue_end(&nd->vp, CTRLQ);
}

/* ---- the thread ---- */

static void log_stats(struct net_dev *nd)
{
	struct vnet_stats v;
	char line[400];
	vnet_get_stats(&nd->vnet, &v);
	net_stats_format(&nd->stats, v.rx_frames, v.rx_bytes, v.tx_frames, v.tx_bytes, line,
			 sizeof(line));
	device_log(nd->d, CELLVM__LOG__LEVEL__INFO, "%s", line);
	nd->stats_dirty = false;
}

static bool drain(int fd)
{
	uint64_t v;
	return read(fd, &v, sizeof(v)) == sizeof(v);
}

void net_device_poll(struct device *d, int timeout_ms)
{
	struct net_dev *nd = d->priv;
	struct pollfd p[NUM_QUEUES + 1];
	for (unsigned q = 0; q < NUM_QUEUES; q++)
		p[q] = (struct pollfd){.fd = virtio_pci_kick_fd(&nd->vp, q), .events = POLLIN};
	short ev = 0;
	if (!nd->rx_len && !nd->rx_wait)
		ev |= POLLIN;
	if (nd->tx_len || nd->tx_wait_out || net_io_tx_pending(&nd->io))
		ev |= POLLOUT;
	p[NUM_QUEUES] = (struct pollfd){.fd = nd->link_down || nd->hup ? -1 : nd->io.fd,
					.events = ev};
	bool more = nd->more;
	nd->more = false;
	int timeout = more ? 0 : timeout_ms;
	/* A held interrupt (virtio_pci_set_irq_gap) cuts the sleep short. */
	uint64_t held = 0;
	for (unsigned q = RXQ; q <= TXQ; q++) {
		uint64_t h = virtio_pci_queue_held_until(&nd->vp, q);
		if (h && (!held || h < held))
			held = h;
	}
	bool stats_due = !held && nd->stats_log && nd->stats_dirty &&
			 (timeout < 0 || timeout > NET_STATS_IDLE_MS);
	if (stats_due)
		timeout = NET_STATS_IDLE_MS;
	int64_t wait_ns = timeout < 0 ? -1 : (int64_t)timeout * 1000000;
	if (nd->tx_poll_at && (!held || nd->tx_poll_at < held))
		held = nd->tx_poll_at; /* the transmit queue's look is due then */
	if (held) {
		uint64_t now = virtio_pci_now_ns();
		int64_t h = held > now ? (int64_t)(held - now) : 0;
		if (wait_ns < 0 || h < wait_ns)
			wait_ns = h;
	}
	struct timespec ts = {wait_ns / 1000000000, wait_ns % 1000000000};
	nd->stats.polls++;
	nd->stats.sleeps += wait_ns != 0;
	int n = ppoll(p, NUM_QUEUES + 1, wait_ns < 0 ? NULL : &ts, NULL);
	uint64_t rx_irqs = nd->stats.rx_irqs;
	if (held) {
		uint64_t now = virtio_pci_now_ns();
		if (nd->tx_poll_at && now >= nd->tx_poll_at) {
			nd->tx_poll_at = 0;
			nd->tx_kicked = true;
		}
		if (virtio_pci_queue_release_held(&nd->vp, RXQ, now))
			nd->stats.rx_irqs++;
		if (virtio_pci_queue_release_held(&nd->vp, TXQ, now))
			nd->stats.tx_irqs++;
	}
	if (n < 0)
		return;
	if (n == 0 && !nd->tx_kicked) {
		if (stats_due)
			log_stats(nd);
		return;
	}
	nd->stats_dirty = true;
	if (p[RXQ].revents && drain(p[RXQ].fd)) {
		nd->stats.rx_kicks++;
		nd->rx_wait = false;
	}
	if (p[TXQ].revents && drain(p[TXQ].fd)) {
		nd->stats.tx_kicks++;
		nd->tx_kicked = true;
	}
	if (p[CTRLQ].revents && drain(p[CTRLQ].fd))
		ctrl_round(nd);
	short be = p[NUM_QUEUES].revents;
	/* A stream peer that hung up may have left frames to read: they are
	 * read as if readable until the end of the stream says link down. */
	if ((be & (POLLHUP | POLLERR)) && nd->io.kind == NET_IO_STREAM)
		nd->hup = true;
	/* Transmit first: its frames were waiting already. */
	bool sent = false;
	if (nd->tx_kicked || more || (be & POLLOUT) || nd->tx_len) {
		nd->tx_kicked = false;
		if (nd->rx_irq_for_tx)
			virtio_pci_queue_hold_irq(&nd->vp, TXQ); /* until after rx_round */
		sent = tx_round(nd);
	}
	/* The backend often answers within our write (a TAP's host TCP sends
	 * its ACK, or more data, while the write runs): look for it now, one
	 * read, rather than after another sleep and wake-up. */
	if (!nd->rx_wait &&
	    (nd->rx_len || (be & POLLIN) || more || sent || (nd->hup && !nd->link_down)))
		rx_round(nd);
	/* Linux's driver frees sent buffers in its receive poll too: a
	 * receive interrupt stands in for a transmit one within TX's gap
	 * (held, and sent at the gap's end only if the guest still wants it). */
	if (nd->rx_irq_for_tx) {
		uint64_t now = virtio_pci_now_ns();
		if (nd->stats.rx_irqs != rx_irqs)
			virtio_pci_queue_irq_served(&nd->vp, TXQ, now);
		if (virtio_pci_queue_release_held(&nd->vp, TXQ, now))
			nd->stats.tx_irqs++;
	}
	if (nd->config_changed) {
		nd->config_changed = false;
		virtio_pci_config_changed(&nd->vp);
	}
}

static void *net_thread(void *arg)
{
	struct device *d = arg;
	for (;;)
		net_device_poll(d, -1);
	return NULL;
}

/* ---- setup ---- */

static int check_mac(struct device *d, const ProtobufCBinaryData *mac)
{
	static const uint8_t zero[6];
	if (mac->len != 6) {
		device_fail(d, "a MAC address has 6 bytes, not %zu", mac->len);
		return -1;
	}
	if ((mac->data[0] & 1) || !memcmp(mac->data, zero, 6)) {
		device_fail(d, "MAC %02x:%02x:%02x:%02x:%02x:%02x is not a unicast address",
			    mac->data[0], mac->data[1], mac->data[2], mac->data[3], mac->data[4],
			    mac->data[5]);
		return -1;
	}
	return 0;
}

/* Interrupt moderation (virtio_pci_set_irq_gap) and the transmit poll:
 * microseconds from environment variable NAME, else DEF.  -1 with
 * device_fail() when it is not a number up to IRQ_GAP_MAX_US. */
static int env_us(struct device *d, const char *name, unsigned def, unsigned *us)
{
	const char *v = getenv(name);
	*us = def;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (!*v || *end || errno || n > IRQ_GAP_MAX_US || v[0] == '-') {
		device_fail(d, "%s=%s: want microseconds, 0 to %u", name, v, IRQ_GAP_MAX_US);
		return -1;
	}
	*us = (unsigned)n;
	return 0;
}

static int net_setup(struct device *d, const Cellvm__Setup *s)
{
	struct net_dev *nd = &net;
	memset(nd, 0, sizeof(*nd));
	nd->d = d;
	d->priv = nd;
	const Cellvm__NetAdapter *na = s->net;
	if (!na) {
		device_fail(d, "no network adapter in the setup");
		return -1;
	}
	if (check_mac(d, &na->mac) < 0)
		return -1;
	if (na->kind != CELLVM__NET_ADAPTER__KIND__TAP &&
	    na->kind != CELLVM__NET_ADAPTER__KIND__STREAM) {
		device_fail(d, "unknown backend kind %d", na->kind);
		return -1;
	}
	if (na->mtu && (na->mtu < 68 || na->mtu > 65535)) {
		device_fail(d, "MTU %u is outside 68..65535", na->mtu);
		return -1;
	}
	nd->io.fd = -1;
	nd->stats_log = getenv("CELLVM_NET_STATS") != NULL;
	/* Copied: the setup message is freed once setup is done. */
	snprintf(nd->backend, sizeof(nd->backend), "%s",
		 na->backend && na->backend[0] ? na->backend : "the backend");
	int fd = device_fd(d, na->fd, "the network backend");
	if (fd < 0)
		return -1;
	int dfd = dup(fd); /* net_io owns it; ours is closed at exit */
	if (dfd < 0 || device_keep_fd(d, dfd) < 0) {
		device_fail(d, "%s: cannot keep its fd", nd->backend);
		return -1;
	}
	enum net_io_kind kind = na->kind == CELLVM__NET_ADAPTER__KIND__TAP ? NET_IO_TAP
									  : NET_IO_STREAM;
	if (net_io_init(&nd->io, dfd, kind, 0) < 0) {
		device_fail(d, "out of memory");
		return -1;
	}
	nd->rx_pkt = malloc(NET_IO_BUF_MAX);
	nd->tx_frame = malloc(VNET_TX_BUF_SIZE);
	nd->out = calloc(VQ_MAX_SEGS, sizeof(struct iovec));
	nd->in = calloc(VQ_MAX_SEGS, sizeof(struct iovec));
	nd->rx_req = (struct vq_req){.out = calloc(VQ_MAX_SEGS, sizeof(struct iovec)),
				     .in = calloc(VQ_MAX_SEGS, sizeof(struct iovec)),
				     .out_cap = VQ_MAX_SEGS, .in_cap = VQ_MAX_SEGS};
	if (!nd->rx_pkt || !nd->tx_frame || !nd->out || !nd->in || !nd->rx_req.out ||
	    !nd->rx_req.in || rx_pool_init(&nd->pool) < 0) {
		device_fail(d, "out of memory");
		return -1;
	}
	vnet_init(&nd->vnet, na->mac.data, (uint16_t)na->mtu,
		  net_io_offload_capable(&nd->io) ? VNET_ALL_OFFLOADS : 0);
	nd->model = (struct virtio_model){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.pci_class = 0x020000, /* network, Ethernet */
		.features = nd->vnet.offered,
		.num_queues = NUM_QUEUES,
		.queue_max = QUEUE_SIZE,
		.unserved = (1u << RXQ) | (1u << TXQ) | (1u << CTRLQ),
		.config_size = VNET_CONFIG_SIZE,
		.config_read = net_config_read,
		.handle = net_handle_none,
		.reset = net_reset,
		.set_features = net_set_features,
	};
	if (virtio_pci_init(&nd->vp, d, s, &nd->model, nd) < 0)
		return -1;
	unsigned tx_gap, rx_gap;
	if (env_us(d, "CELLVM_NET_TX_IRQ_GAP_US", TX_IRQ_GAP_US, &tx_gap) < 0 ||
	    env_us(d, "CELLVM_NET_RX_IRQ_GAP_US", 0, &rx_gap) < 0)
		return -1;
	virtio_pci_set_irq_gap(&nd->vp, TXQ, tx_gap * 1000ull);
	const char *f = getenv("CELLVM_NET_RX_IRQ_FOR_TX");
	if (f && strcmp(f, "0") && strcmp(f, "1")) {
		device_fail(d, "CELLVM_NET_RX_IRQ_FOR_TX=%s: want 0 or 1", f);
		return -1;
	}
	nd->rx_irq_for_tx = tx_gap && !(f && !strcmp(f, "0"));
	unsigned tx_poll;
	if (env_us(d, "CELLVM_NET_TX_POLL_US", 0, &tx_poll) < 0)
		return -1;
	nd->tx_poll_ns = tx_poll * 1000ull;
	virtio_pci_set_irq_gap(&nd->vp, RXQ, rx_gap * 1000ull);
	apply_offloads(nd); /* none until a driver asks */
	/* Started before the sandbox (which forbids clone); it only waits
	 * until the guest's driver is up. */
	if (!net_inline && sandbox_thread_start(&nd->thread, net_thread, d) != 0) {
		device_fail(d, "cannot start the network thread");
		return -1;
	}
	return 0;
}

static uint64_t net_bar_read(struct device *d, unsigned bar, uint64_t off, unsigned size)
{
	return virtio_pci_bar_read(&((struct net_dev *)d->priv)->vp, bar, off, size);
}

static void net_bar_write(struct device *d, unsigned bar, uint64_t off, unsigned size,
			  uint64_t val)
{
	virtio_pci_bar_write(&((struct net_dev *)d->priv)->vp, bar, off, size, val);
}

static void net_device_reset(struct device *d)
{
	if (d->priv)
		virtio_pci_reset(&((struct net_dev *)d->priv)->vp);
}

/* A device process leaves its memory to exit (the thread may be inside
 * it); without the thread (net_inline) everything is given back, so a
 * harness can run many lives in one process. */
static void net_teardown(struct device *d)
{
	struct net_dev *nd = d->priv;
	if (!nd || !net_inline)
		return;
	net_io_free(&nd->io);
	free(nd->rx_pkt);
	free(nd->tx_frame);
	free(nd->out);
	free(nd->in);
	free(nd->rx_req.out);
	free(nd->rx_req.in);
	rx_pool_free(&nd->pool);
	nd->rx_pkt = nd->tx_frame = NULL;
	nd->out = nd->in = nd->rx_req.out = nd->rx_req.in = NULL;
	d->priv = NULL;
}

const struct device_ops net_device_ops = {
	.name = "net",
	.policy = &sandbox_policy_net,
	.setup = net_setup,
	.reset = net_device_reset,
	.teardown = net_teardown,
	.pci = true,
	.bar_read = net_bar_read,
	.bar_write = net_bar_write,
};
