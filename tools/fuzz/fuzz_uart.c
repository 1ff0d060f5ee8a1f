/* libFuzzer harness: the UART device process's IPC, driven in-process the way
 * the core drives it, through the real device code (device_setup,
 * device_serve_rings, device_handle_control with uart_device_ops).  Nothing is
 * spawned and nothing is sandboxed.
 *
 * One input is one life of the device:
 *
 *   byte 0   setup mode (% 4): 0 a well-formed Setup as devhost builds it,
 *            1 the same with fuzzer-chosen mutations, 2 the well-formed
 *            Setup packed and then byte-patched, 3 raw fuzzer bytes
 *   byte 1   ring geometry: count 1 + (g & 3), entries 2 << ((g >> 2) & 7)
 *   byte 2   backend: kind BACKENDS[b & 7], b & 8 shrinks the device's socket
 *            send buffer, b & 16 seals the FILE output at (b >> 5) * 4 bytes,
 *            or makes the TERMINAL a pty (a real tty: raw mode, restored)
 *   ...      mode 1: u16 mutation flags and their values; mode 2: patches;
 *            mode 3: u16 length and the bytes
 *   then     operations until the input ends (see the OP_* list): accesses
 *            posted through the ring as a vCPU would, raw entries and header
 *            words written as a hostile producer would, backend input and
 *            polling, output drained or the peer closed, time passing,
 *            control messages.
 *
 * Every input releases all it made (device_release, our fds, our mapping).
 *
 * Invariants checked (abort on violation):
 *  - device_setup returns 0 or -1, and -1 leaves a message in d->err;
 *  - device_serve_rings returns -EPROTO (with a message) or a count no larger
 *    than what was posted; with the harness's own fds and only well-formed
 *    traffic since the last serve, the count is exactly what was posted, the
 *    rings are drained, no read is left unanswered, in-range traffic is never
 *    refused and out-of-range traffic always is;
 *  - a read answered through the ring carries the right sequence, status OK
 *    (EFAULT when out of range) and a value that fits the access size;
 *  - a producer that posts after the device set need_wakeup rings the doorbell;
 *  - the device sends only Log messages on the control channel, and they decode;
 *  - poll_fds returns at most what it was given room for, and only open fds;
 *    the backend fds go quiet within a bounded number of rounds (no spin);
 *    with a SOCKET backend whose peer has read everything, an idle device
 *    has nothing left in its TX FIFO;
 *  - the model (peeked through d->priv): FIFO counts <= 16 (<= 1 with the
 *    FIFOs off), indexes < 16, the IRQ level the device reported matches the
 *    model's, both FIFOs empty after a Reset;
 *  - the backend never receives more bytes than the guest wrote to THR;
 *  - a pty given as TERMINAL gets its termios back at device_release.
 *
 * SIGPIPE is ignored, as device_main does in a device process, so a write to
 * a departed peer is the EPIPE the model handles.
 *
 * CELLVM_FUZZ_UART_TRACE=1 prints what each operation did (to triage an input).
 * CELLVM_FUZZ_UART_WRITE_SEEDS=DIR writes the seed corpus (tools/fuzz/corpus/
 * uart) into DIR and exits: the encoder lives here, next to the decoder.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "tools/fuzz/harness_common.h"
#include "tools/fuzz/fuzz_input.h"
#include "devices/common/device.h"
#include "devices/uart/uart16550.h"
#include "devices/uart/uart_dev.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"

#define CHECK FUZZ_CHECK
#define TRACE FUZZ_TRACE
#define MUST FUZZ_MUST

#define UART_BASE 0x3f8
#define UART_PORTS 8
#define MAX_RINGS 4
#define MAX_CLIENTS 4
#define MAX_OPS 2048
#define MAX_RAW_SETUP 2048

enum op {
	OP_WRITE = 0,   /* a: off | size << 3 | ring << 5, then size data bytes */
	OP_READ = 1,    /* a as for OP_WRITE; posted, served, answer checked */
	OP_RAW_ENTRY = 2,
	OP_RAW_WORD = 3,
	OP_SERVE = 4,
	OP_INPUT = 5,   /* len % 48, bytes: into the backend, then OP_POLL */
	OP_POLL = 6,
	OP_DRAIN = 7,   /* read up to 1 + 8 * u8 bytes of output */
	OP_PEER = 8,    /* close / shutdown our end of the backend */
	OP_CONNECT = 9, /* SOCKET_SERVER: a client connects */
	OP_TIME = 10,
	OP_CONTROL = 11,
	OP_RAW_CONTROL = 12,
	OP_SLEEP = 13, /* device sleeps (need_wakeup), a vCPU posts: doorbell? */
	OP_IRQ = 14,
	OP_THR = 15,   /* len % 40, bytes: each one a THR write */
	OP_COUNT = 16,
};

static const Cellvm__Backend__Kind BACKENDS[8] = {
	CELLVM__BACKEND__KIND__SOCKET,        CELLVM__BACKEND__KIND__SOCKET,
	CELLVM__BACKEND__KIND__FILE,          CELLVM__BACKEND__KIND__SOCKET_SERVER,
	CELLVM__BACKEND__KIND__TERMINAL,      CELLVM__BACKEND__KIND__KIND_NONE,
	CELLVM__BACKEND__KIND__SOCKET,        CELLVM__BACKEND__KIND__FILE,
};

static const uint8_t SIZES[4] = {1, 2, 4, 1};

/* The fds a Setup names, by index (what devhost's add_fd order gives). */
enum { FD_IRQ, FD_RINGS, FD_BELL, FD_BACK, FD_BACK2, NFD_STD };

/* Mode-1 mutation flags. */
enum {
	MUT_DEVICE = 1 << 0,
	MUT_INSTANCE = 1 << 1,
	MUT_RANGE = 1 << 2,
	MUT_NRANGES = 1 << 3,
	MUT_NIRQS = 1 << 4,
	MUT_IRQ_FD = 1 << 5,
	MUT_RINGS_FD = 1 << 6,
	MUT_BELL_FD = 1 << 7,
	MUT_GEOMETRY = 1 << 8,
	MUT_NO_RINGS = 1 << 9,
	MUT_NBACKENDS = 1 << 10,
	MUT_BACKEND_FDS = 1 << 11,
	MUT_BACKEND_KIND = 1 << 12,
	MUT_TRAP = 1 << 13,
	MUT_NFDS = 1 << 14,
	MUT_POLL_US = 1 << 15,
};
/* Mutations after which fds may alias (the device may write into the ring
 * memfd through its backend or irq) or not be what their role says (a
 * connected socket as the listening one): only the weak invariants hold. */
#define MUT_FDS (MUT_IRQ_FD | MUT_RINGS_FD | MUT_BELL_FD | MUT_BACKEND_FDS | MUT_NFDS | \
		 MUT_BACKEND_KIND)
#define MUT_BACKEND (MUT_NBACKENDS | MUT_BACKEND_FDS | MUT_BACKEND_KIND | MUT_FDS)

/* ---- a view of uart_dev.c's private state (d->priv) ----
 * The prefix (d, u) is checked at every setup; the rest only when the
 * backend fields match what the harness set up, else it is not used. */
struct mirror_backend {
	Cellvm__Backend__Kind kind;
	int in_fd, out_fd, listen_fd;
	bool eof, warned, tty_raw;
	struct termios saved;
	char desc[128];
};

struct mirror_state {
	struct device *d;
	struct uart16550 u;
	struct mirror_backend b;
	uint64_t retry_at;
};

/* ---- input ---- */




static size_t in_bytes(struct input *in, void *dst, size_t want)
{
	size_t k = want < in->n ? want : in->n;
	if (k)
		memcpy(dst, in->p, k);
	in->p += k;
	in->n -= k;
	return k;
}

/* ---- the harness: the core's side of one device ---- */

struct harness {
	struct device *d;
	int ctl;                     /* our end of the control channel */
	int memfd, bell, irq;        /* our references */
	int host;                    /* our end of the backend socket (or pty master), or -1 */
	bool host_pty;               /* host is a pty master: read/write, not recv/send */
	int pty;                     /* our reference to the pty slave, or -1 */
	struct termios pty_saved;    /* its settings before the device had it */
	int file;                    /* FILE backend: our reference, or -1 */
	struct sockaddr_un srv;      /* SOCKET_SERVER: where it listens */
	socklen_t srv_len;
	int clients[MAX_CLIENTS];    /* SOCKET_SERVER: our ends, oldest first */
	unsigned nclients;
	Cellvm__Backend__Kind kind;
	struct ring_set rs;
	struct ring_producer prod[MAX_RINGS];
	unsigned count, entries;
	uint64_t base;               /* the device's port range */
	bool live;                   /* setup succeeded */
	bool strict;                 /* our own fds, unaliased: strong checks */
	bool clean;                  /* only well-formed traffic since the last serve */
	bool oob;                    /* a well-formed access outside the range posted */
	bool prefix_ok, mirror_ok;   /* d->priv can be peeked (prefix, whole) */
	uint64_t thr_writes;         /* ring entries that write THR: an upper bound */
	uint64_t out_bytes;          /* what reached our end of the backend */
};

static struct mirror_state *mirror(const struct harness *h)
{
	return h->d->priv;
}

static struct ring_hdr *ring(const struct harness *h, unsigned i)
{
	return ring_set_ring(&h->rs, i);
}

static struct ring_entry *ring_slots(const struct harness *h, unsigned i)
{
	return (struct ring_entry *)(ring(h, i) + 1);
}

static uint32_t shared_head(const struct harness *h, unsigned i)
{
	return __atomic_load_n(&ring(h, i)->head, __ATOMIC_ACQUIRE);
}

/* The producer re-reads head after we wrote the ring by hand. */
static void prod_sync(struct harness *h, unsigned i)
{
	ring_producer_init(&h->prod[i], &h->rs, i, 0);
	h->prod[i].spin_ns = 0; /* a full ring fails at once: never sleep */
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int dup_fd(int fd)
{
	int c = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	MUST(c >= 0);
	return c;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	MUST(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

/* ---- checks run after every operation ---- */

static void drain_control(struct harness *h)
{
	for (;;) {
		ControlMsg *m;
		int fds[1];
		size_t nfds;
		char err[200];
		int rc = control_recv(h->ctl, &m, fds, &nfds, 0, err, sizeof(err));
		if (rc == -EAGAIN)
			return;
		CHECK(rc == 0, "the device sent a bad control message: %s", err);
		CHECK(m->msg_case == CELLVM__CONTROL__MSG_LOG, "the device sent %s",
		      control_msg_name(m->msg_case));
		control_free(m);
	}
}

static void check_model(struct harness *h)
{
	if (!h->live || !h->prefix_ok)
		return;
	const struct uart16550 *u = &mirror(h)->u;
	CHECK(u->rx.count <= UART_FIFO_SIZE && u->tx.count <= UART_FIFO_SIZE,
	      "FIFO overflow: rx %u tx %u", u->rx.count, u->tx.count);
	CHECK(u->rx.head < UART_FIFO_SIZE && u->tx.head < UART_FIFO_SIZE,
	      "FIFO index out of range: rx %u tx %u", u->rx.head, u->tx.head);
	if (!(u->fcr & 1))
		CHECK(u->rx.count <= 1 && u->tx.count <= 1,
		      "FIFOs off but rx holds %u, tx %u", u->rx.count, u->tx.count);
	CHECK(h->d->irq_level[0] == u->irq_level, "device irq level %d, model %d",
	      h->d->irq_level[0], u->irq_level);
}

/* ---- serving ---- */

static int serve(struct harness *h)
{
	struct device *d = h->d;
	uint64_t posted = 0, cap = 0;
	for (unsigned i = 0; i < d->rings.count; i++) {
		uint32_t dist = shared_head(h, i) - d->cons[i].tail;
		posted += dist;
		cap += dist < h->entries ? dist : h->entries;
	}
	d->err[0] = 0;
	int n = device_serve_rings(d);
	TRACE("  serve: %d of %llu posted%s%s\n", n, (unsigned long long)posted,
	      n < 0 ? ": " : "", n < 0 ? d->err : "");
	CHECK(n >= 0 || n == -EPROTO, "device_serve_rings returned %d", n);
	for (unsigned i = 0; i < d->rings.count; i++)
		CHECK(d->cons[i].pending_read == 0, "ring %u: read %u left unanswered", i,
		      d->cons[i].pending_read - 1);
	if (n >= 0) {
		CHECK((uint64_t)n <= cap, "served %d entries, at most %llu were posted", n,
		      (unsigned long long)cap);
		if (h->strict) {
			for (unsigned i = 0; i < d->rings.count; i++)
				CHECK(shared_head(h, i) == d->cons[i].tail,
				      "ring %u not drained: head %u tail %u", i, shared_head(h, i),
				      d->cons[i].tail);
			if (h->clean) {
				CHECK((uint64_t)n == posted, "served %d of %llu posted entries", n,
				      (unsigned long long)posted);
				CHECK(!h->oob, "an access outside the range was served");
			}
		}
		h->clean = true;
		h->oob = false;
	} else {
		CHECK(d->err[0], "serve failed without a message");
		CHECK(!(h->strict && h->clean && !h->oob),
		      "well-formed in-range traffic refused: %s", d->err);
	}
	return n;
}

/* Room for one more entry in ring i; serves (the device catching up) if
 * there is none.  false: the device stopped. */
static bool make_room(struct harness *h, unsigned i, bool *stop)
{
	if ((uint32_t)(shared_head(h, i) - h->d->cons[i].tail) < h->entries)
		return true;
	if (serve(h) < 0) {
		*stop = true;
		return false;
	}
	return (uint32_t)(shared_head(h, i) - h->d->cons[i].tail) < h->entries;
}

static void note_access(struct harness *h, unsigned off, unsigned size, bool write)
{
	if (off + size > UART_PORTS)
		h->oob = true;
	else if (write && off == 0)
		h->thr_writes++;
}

static void post_write(struct harness *h, unsigned ri, unsigned off, unsigned size,
		       uint64_t data, bool *stop)
{
	if (!make_room(h, ri, stop))
		return;
	int rc = ring_post_write(&h->prod[ri], RING_PIO, h->base + off, (uint8_t)size, data);
	if (rc == 0)
		note_access(h, off, size, true);
	else
		prod_sync(h, ri); /* our own raw words upset it: start afresh */
}

/* ---- operations ---- */

static void decode_access(const struct harness *h, uint8_t a, unsigned *ri, unsigned *off,
			  unsigned *size)
{
	*off = a & 7;
	*size = SIZES[(a >> 3) & 3];
	*ri = (unsigned)(a >> 5) % h->count;
}

static void op_read(struct harness *h, struct input *in, bool *stop)
{
	unsigned ri, off, size;
	decode_access(h, in_u8(in), &ri, &off, &size);
	if (!make_room(h, ri, stop))
		return;
	/* ring_read would block until answered: post the entry by hand, serve
	 * it in this thread, then look at the answer as ring_read would. */
	struct ring_hdr *r = ring(h, ri);
	uint32_t seq = shared_head(h, ri);
	ring_slots(h, ri)[seq & (h->entries - 1)] = (struct ring_entry){
		.seq = seq,
		.kind = RING_PIO,
		.dir = RING_READ,
		.size = (uint8_t)size,
		.addr = h->base + off,
	};
	__atomic_store_n(&r->head, seq + 1, __ATOMIC_RELEASE);
	prod_sync(h, ri);
	bool was_clean = h->strict && h->clean && !h->oob;
	note_access(h, off, size, false);
	bool oob = off + size > UART_PORTS;
	int n = serve(h);
	uint32_t got = __atomic_load_n(&r->resp_seq, __ATOMIC_ACQUIRE);
	uint32_t status = r->resp_status;
	uint64_t v = r->resp_data;
	TRACE("  read +%u/%u ring %u: seq %u status %u data 0x%llx\n", off, size, ri, got, status,
	      (unsigned long long)v);
	if (n < 0) {
		*stop = true;
		if (was_clean && oob)
			CHECK(got == seq + 1 && status == RING_EFAULT,
			      "out-of-range read answered seq %u status %u (want %u, EFAULT)", got,
			      status, seq + 1);
		return;
	}
	if (!h->strict)
		return;
	CHECK(got == seq + 1, "read %u answered with sequence %u", seq, got);
	CHECK(status == RING_OK, "read %u answered with status %u", seq, status);
	CHECK(size == 8 || v >> (8 * size) == 0, "read of %u bytes at +%u answered 0x%llx", size,
	      off, (unsigned long long)v);
}

static void op_raw_entry(struct harness *h, struct input *in)
{
	unsigned ri = in_u8(in) % h->count;
	uint8_t f = in_u8(in);
	uint32_t head = shared_head(h, ri);
	uint32_t idx = (f & 1) ? head : (uint32_t)in_le(in, 2);
	struct ring_entry e = {0};
	e.seq = (f & 2) ? idx : (uint32_t)in_le(in, 4);
	e.kind = (f & 4) ? RING_PIO : in_u8(in);
	e.dir = in_u8(in);
	if (f & 8)
		e.dir &= 1;
	uint8_t s = in_u8(in);
	e.size = (f & 16) ? (uint8_t[]){1, 2, 4, 8}[s & 3] : s;
	e.addr = (f & 32) ? h->base + (in_u8(in) & 15) : in_le(in, 8);
	e.data = in_le(in, 4);
	if (f & 128) {
		e.data |= in_le(in, 4) << 32;
		e.pad = in_u8(in);
		e.reserved = in_le(in, 8);
	}
	ring_slots(h, ri)[idx & (h->entries - 1)] = e;
	if (e.dir == RING_WRITE && e.kind == RING_PIO && e.addr == h->base)
		h->thr_writes++; /* each entry is taken at most once */
	uint8_t mv = in_u8(in);
	uint32_t nh;
	switch (mv & 3) {
	case 0: nh = head + 1; break;
	case 1: nh = head; break;
	case 2: nh = head + (mv >> 2); break;
	default: nh = (uint32_t)in_le(in, 4); break;
	}
	__atomic_store_n(&ring(h, ri)->head, nh, __ATOMIC_RELEASE);
	prod_sync(h, ri);
	h->clean = false;
}

static void op_raw_word(struct harness *h, struct input *in)
{
	unsigned ri = in_u8(in) % h->count;
	uint8_t w = in_u8(in);
	uint64_t v = in_le(in, 4);
	struct ring_hdr *r = ring(h, ri);
	switch (w % 10) {
	case 0: __atomic_store_n(&r->head, (uint32_t)v, __ATOMIC_RELEASE); break;
	case 1: r->tail = (uint32_t)v; break;
	case 2: r->resp_seq = (uint32_t)v; break;
	case 3: r->resp_waiting = (uint32_t)v; break;
	case 4: r->resp_status = (uint32_t)v; break;
	case 5: r->resp_data = v | in_le(in, 4) << 32; break;
	case 6: r->prod_waiting = (uint32_t)v; break;
	case 7: h->rs.hdr->need_wakeup = (uint32_t)v; break;
	case 8: h->rs.hdr->count = (uint32_t)v; break;
	default: h->rs.hdr->entries = (uint32_t)v; break;
	}
	prod_sync(h, ri);
	h->clean = false;
}

/* Where backend input goes: our end of the socket, or the oldest client. */
static int input_fd(const struct harness *h)
{
	return h->host >= 0 ? h->host : h->nclients ? h->clients[0] : -1;
}

/* One round of wait_events for the backend fds.  woken: something else
 * (doorbell, control) woke the device, so it calls poll_events even when its
 * own fds have nothing.  true if a backend fd was ready. */
static bool poll_round(struct harness *h, bool woken)
{
	struct device *d = h->d;
	struct pollfd p[DEVICE_MAX_POLLFDS];
	memset(p, 0, sizeof(p));
	int nb = d->ops->poll_fds(d, p, DEVICE_MAX_POLLFDS);
	CHECK(nb >= 0 && nb <= DEVICE_MAX_POLLFDS, "poll_fds returned %d", nb);
	for (int i = 0; i < nb; i++)
		CHECK(p[i].fd >= 0 && fcntl(p[i].fd, F_GETFD) >= 0,
		      "poll_fds returned fd %d, which is not open", p[i].fd);
	if (nb == 0)
		return false;
	int n = poll(p, (nfds_t)nb, 0);
	MUST(n >= 0);
	TRACE("  poll: fd %d events 0x%x revents 0x%x\n", p[0].fd, p[0].events, p[0].revents);
	if (n > 0 || woken)
		d->ops->poll_events(d, p, nb);
	return n > 0;
}

/* The device's loop until its backend fds are quiet.  Every ready round
 * moves a byte or a client, so a fd still ready after more rounds than the
 * FIFOs hold bytes means the real device would spin.  (Only with the fds a
 * supervisor gives: a mutated setup can name, say, a regular file as the
 * listening socket, and accept4 then fails for ever.)  Then, with a socket
 * backend whose peer has read everything, output must not be stuck. */
#define IDLE_ROUNDS (2 * UART_FIFO_SIZE + 4)
static void op_poll_idle(struct harness *h)
{
	for (unsigned round = 0; poll_round(h, false);) {
		if (++round < IDLE_ROUNDS)
			continue;
		CHECK(!h->strict, "backend fd still ready after %u rounds: the device spins", round);
		break;
	}
	int queued = 0;
	if (h->strict && h->mirror_ok && h->kind == CELLVM__BACKEND__KIND__SOCKET && h->host >= 0 &&
	    ioctl(h->host, FIONREAD, &queued) == 0 && queued == 0) {
		const struct mirror_state *ms = mirror(h);
		if (ms->b.out_fd >= 0 && !ms->retry_at)
			CHECK(ms->u.tx.count == 0,
			      "the peer has read everything, yet %u bytes stay in the TX FIFO",
			      ms->u.tx.count);
	}
}

static void op_input(struct harness *h, struct input *in)
{
	uint8_t buf[48];
	size_t len = in_bytes(in, buf, in_u8(in) % sizeof(buf));
	int fd = input_fd(h);
	if (fd >= 0 && len && h->host_pty && fd == h->host)
		(void)!write(fd, buf, len);
	else if (fd >= 0 && len)
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	poll_round(h, false);
}

static void drain_fd(struct harness *h, int fd, size_t max)
{
	uint8_t buf[2048];
	while (fd >= 0 && max) {
		size_t want = max < sizeof(buf) ? max : sizeof(buf);
		ssize_t n = h->host_pty && fd == h->host ? read(fd, buf, want)
							  : recv(fd, buf, want, MSG_DONTWAIT);
		if (n <= 0)
			return;
		TRACE("  output: \"%.*s\"\n", (int)n, (const char *)buf);
		h->out_bytes += (uint64_t)n;
		max -= (size_t)n;
	}
}

static void drain_output(struct harness *h, size_t max)
{
	drain_fd(h, h->host, max);
	for (unsigned i = 0; i < h->nclients; i++)
		drain_fd(h, h->clients[i], max);
}

static void op_peer(struct harness *h, struct input *in)
{
	uint8_t a = in_u8(in);
	int fd = input_fd(h);
	if (fd < 0)
		return;
	drain_fd(h, fd, SIZE_MAX);
	switch (a % 4) {
	case 0:
		if (fd == h->host) {
			close_fd(&h->host);
		} else {
			close(h->clients[0]);
			memmove(h->clients, h->clients + 1, --h->nclients * sizeof(int));
		}
		break;
	case 1: shutdown(fd, SHUT_WR); break;
	case 2: shutdown(fd, SHUT_RD); break;
	default: shutdown(fd, SHUT_RDWR); break;
	}
}

static void op_connect(struct harness *h)
{
	/* Only when the accepted fd can be found again to close it. */
	if (h->kind != CELLVM__BACKEND__KIND__SOCKET_SERVER || !h->mirror_ok ||
	    h->nclients >= MAX_CLIENTS)
		return;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	MUST(fd >= 0);
	if (connect(fd, (struct sockaddr *)&h->srv, h->srv_len) < 0) {
		close(fd);
		return;
	}
	h->clients[h->nclients++] = fd;
}

/* Time passes: deadlines that are set are moved into the past (the model
 * reads CLOCK_MONOTONIC, which a fuzzer cannot wait for), then the device
 * ticks as wait_events would. */
static void op_time(struct harness *h, struct input *in)
{
	uint8_t a = in_u8(in);
	struct device *d = h->d;
	struct mirror_state *ms = mirror(h);
	if (h->prefix_ok && (a & 1) && ms->u.rx_deadline)
		ms->u.rx_deadline = 1;
	if (h->mirror_ok && (a & 2) && ms->retry_at)
		ms->retry_at = 1;
	uint64_t dl = d->ops->next_deadline(d);
	TRACE("  deadline %llu\n", (unsigned long long)dl);
	if ((dl && device_now_ns() >= dl) || (a & 4))
		d->ops->tick(d);
}

/* A control message as it arrives: packed, then decoded by control_decode. */
static int deliver_control(struct harness *h, const uint8_t *buf, size_t len, bool *stop)
{
	ControlMsg *m;
	char err[200];
	if (control_decode(buf, len, &m, err, sizeof(err)) < 0) {
		TRACE("  control: %s\n", err);
		*stop = true; /* the real device exits: control channel broken */
		return -1;
	}
	struct device *d = h->d;
	d->err[0] = 0;
	int rc = device_handle_control(d, m);
	TRACE("  control %s: %d %s\n", control_msg_name(m->msg_case), rc, rc < 0 ? d->err : "");
	CHECK(rc >= -1 && rc <= 1, "device_handle_control returned %d", rc);
	if (rc < 0)
		CHECK(d->err[0], "device_handle_control failed without a message");
	if (rc == 0 && m->msg_case == CELLVM__CONTROL__MSG_RESET && h->prefix_ok)
		CHECK(mirror(h)->u.rx.count == 0 && mirror(h)->u.tx.count == 0,
		      "FIFOs not empty after a reset");
	control_free(m);
	if (rc)
		*stop = true;
	return rc;
}

static size_t pack_control(const ControlMsg *m, uint8_t *buf, size_t cap)
{
	size_t len = cellvm__control__get_packed_size(m);
	CHECK(len <= cap, "harness: message of %zu bytes", len);
	cellvm__control__pack(m, buf);
	return len;
}

static void op_control(struct harness *h, struct input *in, bool *stop)
{
	uint8_t a = in_u8(in);
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Reset reset = CELLVM__RESET__INIT;
	Cellvm__Shutdown shutdown_ = CELLVM__SHUTDOWN__INIT;
	Cellvm__Ready ready = CELLVM__READY__INIT;
	Cellvm__Log log = CELLVM__LOG__INIT;
	Cellvm__Error error = CELLVM__ERROR__INIT;
	Cellvm__Setup setup = CELLVM__SETUP__INIT;
	switch (a % 8) {
	case 0: case 1: case 2: case 3:
		m.msg_case = CELLVM__CONTROL__MSG_RESET;
		m.reset = &reset;
		break;
	case 4:
		m.msg_case = CELLVM__CONTROL__MSG_SHUTDOWN;
		m.shutdown = &shutdown_;
		break;
	case 5:
		m.msg_case = CELLVM__CONTROL__MSG_READY;
		m.ready = &ready;
		break;
	case 6:
		log.text = error.text = "from the core";
		if (a & 8) {
			m.msg_case = CELLVM__CONTROL__MSG_LOG;
			m.log = &log;
		} else {
			m.msg_case = CELLVM__CONTROL__MSG_ERROR;
			m.error = &error;
		}
		break;
	default:
		setup.device = "uart";
		m.msg_case = CELLVM__CONTROL__MSG_SETUP;
		m.setup = &setup;
		break;
	}
	uint8_t buf[256];
	size_t len = pack_control(&m, buf, sizeof(buf));
	deliver_control(h, buf, len, stop);
}

static void op_raw_control(struct harness *h, struct input *in, bool *stop)
{
	uint8_t buf[256];
	size_t len = in_bytes(in, buf, in_u8(in));
	deliver_control(h, buf, len, stop);
}

/* The device is going to sleep: need_wakeup set, the rings looked at once
 * more; a vCPU then posts and must ring the doorbell. */
static void op_sleep(struct harness *h, struct input *in, bool *stop)
{
	unsigned ri, off, size;
	decode_access(h, in_u8(in), &ri, &off, &size);
	uint64_t data = in_u8(in), v;
	while (read(h->bell, &v, sizeof(v)) == sizeof(v))
		;
	ring_set_sleep_prepare(&h->d->rings);
	if (serve(h) < 0) {
		*stop = true;
		return;
	}
	if ((uint32_t)(shared_head(h, ri) - h->d->cons[ri].tail) < h->entries) {
		int rc = ring_post_write(&h->prod[ri], RING_PIO, h->base + off, (uint8_t)size, data);
		if (rc == 0) {
			note_access(h, off, size, true);
			if (h->strict)
				CHECK(read(h->bell, &v, sizeof(v)) == sizeof(v),
				      "posted while the device slept, no doorbell");
		} else {
			prod_sync(h, ri);
		}
	}
	ring_set_awake(&h->d->rings);
}

static void op_irq(struct harness *h)
{
	uint64_t v = 0;
	(void)!read(h->irq, &v, sizeof(v));
	TRACE("  irq edges: %llu, level %d\n", (unsigned long long)v, h->d->irq_level[0]);
}

static void op_thr(struct harness *h, struct input *in, bool *stop)
{
	uint8_t buf[40];
	size_t len = in_bytes(in, buf, in_u8(in) % sizeof(buf));
	for (size_t i = 0; i < len && !*stop; i++)
		post_write(h, 0, 0, 1, buf[i], stop);
}

static void run_ops(struct harness *h, struct input *in)
{
	bool stop = false;
	static const char *const names[OP_COUNT] = {
		"write", "read",    "raw-entry", "raw-word", "serve",   "input", "poll", "drain",
		"peer",  "connect", "time",      "control",  "raw-control", "sleep", "irq", "thr",
	};
	for (unsigned k = 0; k < MAX_OPS && in->n && !stop; k++) {
		uint8_t o = in_u8(in), op = o % OP_COUNT;
		TRACE("op %u: %s\n", k, names[op]);
		switch (op) {
		case OP_WRITE: {
			unsigned ri, off, size;
			decode_access(h, in_u8(in), &ri, &off, &size);
			post_write(h, ri, off, size, in_le(in, size), &stop);
			break;
		}
		case OP_READ: op_read(h, in, &stop); break;
		case OP_RAW_ENTRY: op_raw_entry(h, in); break;
		case OP_RAW_WORD: op_raw_word(h, in); break;
		case OP_SERVE: stop = serve(h) < 0; break;
		case OP_INPUT: op_input(h, in); break;
		case OP_POLL:
			if (o & 0x80)
				poll_round(h, true);
			else
				op_poll_idle(h);
			break;
		case OP_DRAIN: drain_output(h, 1 + 8 * (size_t)in_u8(in)); break;
		case OP_PEER: op_peer(h, in); break;
		case OP_CONNECT: op_connect(h); break;
		case OP_TIME: op_time(h, in); break;
		case OP_CONTROL: op_control(h, in, &stop); break;
		case OP_RAW_CONTROL: op_raw_control(h, in, &stop); break;
		case OP_SLEEP: op_sleep(h, in, &stop); break;
		case OP_IRQ: op_irq(h); break;
		default: op_thr(h, in, &stop); break;
		}
		check_model(h);
		drain_control(h);
	}
}

/* ---- setup ---- */

/* A pty for the TERMINAL backend: the device gets the slave, we keep the
 * master and a reference to the slave.  false if ptys are unavailable. */
static bool open_pty(struct harness *h, int fds[NFD_STD])
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (m < 0)
		return false;
	char name[64];
	int s = -1;
	if (grantpt(m) == 0 && unlockpt(m) == 0 && ptsname_r(m, name, sizeof(name)) == 0)
		s = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	/* The tty must not echo our input or expand newlines, or it would make
	 * output of its own; it stays canonical so the device's raw mode and
	 * its restoring are visible. */
	struct termios t;
	if (s < 0 || tcgetattr(s, &t) < 0) {
		close(m);
		if (s >= 0)
			close(s);
		return false;
	}
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE);
	t.c_oflag &= ~(tcflag_t)OPOST;
	MUST(tcsetattr(s, TCSANOW, &t) == 0 && tcgetattr(s, &h->pty_saved) == 0);
	h->host = m;
	h->host_pty = true;
	h->pty = s;
	fds[FD_BACK] = dup_fd(s);
	return true;
}

/* Makes the rings, eventfds and backend; fds[] gets the device's copies
 * (the Setup names them by index). */
static void make_resources(struct harness *h, uint8_t geom, uint8_t back, int fds[NFD_STD])
{
	h->count = 1 + (geom & 3);
	h->entries = 2u << ((geom >> 2) & 7);
	h->kind = BACKENDS[back & 7];

	int ctl[2];
	MUST(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) == 0);
	set_nonblock(ctl[0]); /* a full channel: the device logs to stderr */
	set_nonblock(ctl[1]);
	h->d->control_fd = ctl[0];
	h->ctl = ctl[1];

	h->memfd = ring_set_create(h->count, h->entries);
	CHECK(h->memfd >= 0, "ring_set_create: %s", strerror(-h->memfd));
	h->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	MUST(h->bell >= 0 && h->irq >= 0);
	char err[160];
	CHECK(ring_set_map(&h->rs, h->memfd, h->count, h->entries, h->bell, err, sizeof(err)) == 0,
	      "harness: %s", err);
	for (unsigned i = 0; i < h->count; i++)
		prod_sync(h, i);
	fds[FD_IRQ] = dup_fd(h->irq);
	fds[FD_RINGS] = dup_fd(h->memfd);
	fds[FD_BELL] = dup_fd(h->bell);

	/* Every fd the device may write is non-blocking: a blocking one would
	 * hang the harness, not find a bug. */
	if (h->kind == CELLVM__BACKEND__KIND__FILE) {
		h->file = memfd_create("uart-out", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		MUST(h->file >= 0);
		if (back & 16) { /* a full disk: writes past this size fail */
			MUST(ftruncate(h->file, (off_t)(back >> 5) * 4) == 0);
			MUST(fcntl(h->file, F_ADD_SEALS, F_SEAL_GROW) == 0);
		}
		fds[FD_BACK] = dup_fd(h->file);
	} else if (h->kind == CELLVM__BACKEND__KIND__SOCKET_SERVER) {
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		MUST(l >= 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		/* autobind: an abstract address of the kernel's choosing */
		MUST(bind(l, (struct sockaddr *)&a, sizeof(sa_family_t)) == 0);
		MUST(listen(l, MAX_CLIENTS) == 0);
		h->srv_len = sizeof(h->srv);
		MUST(getsockname(l, (struct sockaddr *)&h->srv, &h->srv_len) == 0);
		fds[FD_BACK] = l;
	} else if (h->kind == CELLVM__BACKEND__KIND__TERMINAL && (back & 16) && open_pty(h, fds)) {
		/* fds[FD_BACK] is the pty slave */
	} else {
		int sv[2];
		MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
		if (back & 8) { /* the kernel's minimum: output backs up soon */
			int one = 1;
			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one));
		}
		h->host = sv[1];
		fds[FD_BACK] = sv[0];
	}
	fds[FD_BACK2] = dup_fd(fds[FD_BACK]);
}

struct setup_msg {
	char device[16], instance[64], trap[16], desc[32];
	Cellvm__AddrRange range;
	Cellvm__AddrRange *rp[10];
	Cellvm__IrqLine irq;
	Cellvm__IrqLine *ip[10];
	Cellvm__Rings rings;
	Cellvm__Backend backend;
	Cellvm__Backend *bp[2];
	Cellvm__Setup s;
	ControlMsg m;
};

/* The Setup devhost's send_setup would send for this harness. */
static void build_setup(struct harness *h, struct setup_msg *sm)
{
	memset(sm, 0, sizeof(*sm));
	snprintf(sm->device, sizeof(sm->device), "uart");
	snprintf(sm->instance, sizeof(sm->instance), "com1");
	snprintf(sm->desc, sizeof(sm->desc), "fuzz");
	cellvm__addr_range__init(&sm->range);
	sm->range.kind = CELLVM__ADDR_RANGE__KIND__PIO;
	sm->range.addr = UART_BASE;
	sm->range.size = UART_PORTS;
	cellvm__irq_line__init(&sm->irq);
	sm->irq.gsi = 4;
	sm->irq.fd = FD_IRQ;
	sm->irq.resample_fd = -1;
	for (int i = 0; i < 10; i++) {
		sm->rp[i] = &sm->range;
		sm->ip[i] = &sm->irq;
	}
	cellvm__rings__init(&sm->rings);
	sm->rings.memfd = FD_RINGS;
	sm->rings.count = h->count;
	sm->rings.entries = h->entries;
	sm->rings.doorbell_fd = FD_BELL;
	cellvm__backend__init(&sm->backend);
	sm->backend.kind = h->kind;
	sm->backend.in_fd = sm->backend.out_fd = -1;
	switch (h->kind) {
	case CELLVM__BACKEND__KIND__FILE: sm->backend.out_fd = FD_BACK; break;
	case CELLVM__BACKEND__KIND__TERMINAL:
		sm->backend.in_fd = FD_BACK;
		sm->backend.out_fd = FD_BACK2;
		break;
	default: sm->backend.in_fd = FD_BACK; break;
	}
	sm->backend.description = sm->desc;
	sm->bp[0] = sm->bp[1] = &sm->backend;
	cellvm__setup__init(&sm->s);
	sm->s.device = sm->device;
	sm->s.instance = sm->instance;
	sm->s.n_ranges = 1;
	sm->s.ranges = sm->rp;
	sm->s.n_irqs = 1;
	sm->s.irqs = sm->ip;
	sm->s.rings = &sm->rings;
	sm->s.n_backends = h->kind == CELLVM__BACKEND__KIND__KIND_NONE ? 0 : 1;
	sm->s.backends = sm->bp;
	sm->s.guest_memory_fd = -1;
	sm->s.test_trap = sm->trap;
	cellvm__control__init(&sm->m);
	sm->m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	sm->m.setup = &sm->s;
}

static void in_string(struct input *in, char *dst, size_t cap, size_t max)
{
	size_t want = in_u8(in) % (max + 1);
	if (want > cap - 1)
		want = cap - 1;
	size_t n = in_bytes(in, dst, want);
	dst[n] = 0;
}

static int32_t in_index(struct input *in)
{
	return (int8_t)in_u8(in) % 8; /* -7..7: our fds are 0..4 */
}

/* Applies the mode-1 mutations; returns the flags. */
static unsigned mutate_setup(struct setup_msg *sm, struct input *in, size_t *nfds)
{
	unsigned f = (unsigned)in_le(in, 2);
	if (f & MUT_DEVICE)
		in_string(in, sm->device, sizeof(sm->device), 8);
	if (f & MUT_INSTANCE)
		in_string(in, sm->instance, sizeof(sm->instance), 48);
	if (f & MUT_RANGE) {
		uint8_t a = in_u8(in);
		sm->range.kind = a % 4;
		sm->range.addr = (a & 4) ? in_le(in, 8) : in_le(in, 2);
		sm->range.size = (a & 8) ? in_le(in, 8) : in_u8(in) % 17;
	}
	if (f & MUT_NRANGES)
		sm->s.n_ranges = in_u8(in) % 10;
	if (f & MUT_NIRQS)
		sm->s.n_irqs = in_u8(in) % 10;
	if (f & MUT_IRQ_FD)
		sm->irq.fd = in_index(in);
	if (f & MUT_RINGS_FD)
		sm->rings.memfd = in_index(in);
	if (f & MUT_BELL_FD)
		sm->rings.doorbell_fd = in_index(in);
	if (f & MUT_GEOMETRY) {
		sm->rings.count = (uint32_t)in_le(in, 1) % 70;
		sm->rings.entries = (uint32_t)in_le(in, 2);
	}
	if (f & MUT_NO_RINGS)
		sm->s.rings = NULL;
	if (f & MUT_NBACKENDS)
		sm->s.n_backends = in_u8(in) % 3;
	if (f & MUT_BACKEND_FDS) {
		sm->backend.in_fd = in_index(in);
		sm->backend.out_fd = in_index(in);
	}
	if (f & MUT_BACKEND_KIND)
		sm->backend.kind = in_u8(in) % 6;
	if (f & MUT_TRAP)
		in_string(in, sm->trap, sizeof(sm->trap), 8);
	if (f & MUT_NFDS)
		*nfds = in_u8(in) % (NFD_STD + 1);
	if (f & MUT_POLL_US)
		sm->rings.poll_us = (uint32_t)in_le(in, 4);
	return f;
}

/* Checks that d->priv looks like the mirror, and whether the backend part
 * matches what the harness gave the device. */
static void check_mirror(struct harness *h, const int fds[NFD_STD], bool backend_known)
{
	struct mirror_state *ms = mirror(h);
	h->prefix_ok = ms && ms->d == h->d;
	if (!h->prefix_ok || !backend_known)
		return;
	int in = -1, out = -1, listen_fd = -1;
	switch (h->kind) {
	case CELLVM__BACKEND__KIND__FILE: out = fds[FD_BACK]; break;
	case CELLVM__BACKEND__KIND__SOCKET_SERVER: listen_fd = fds[FD_BACK]; break;
	case CELLVM__BACKEND__KIND__TERMINAL: in = fds[FD_BACK]; out = fds[FD_BACK2]; break;
	case CELLVM__BACKEND__KIND__KIND_NONE: break;
	default: in = out = fds[FD_BACK]; break;
	}
	h->mirror_ok = ms->b.kind == h->kind && ms->b.in_fd == in && ms->b.out_fd == out &&
		       ms->b.listen_fd == listen_fd && ms->retry_at == 0 &&
		       strcmp(ms->b.desc, h->kind ? "fuzz" : "none") == 0;
	static bool warned;
	if (!h->mirror_ok && !warned) {
		warned = true;
		fprintf(stderr, "fuzz_uart: uart_dev.c's state no longer matches struct "
				"mirror_state: SOCKET_SERVER clients and retry timing are not fuzzed\n");
	}
}

/* Builds, delivers and applies the first message.  true: the device lives. */
static bool do_setup(struct harness *h, struct input *in)
{
	uint8_t mode = in_u8(in) % 4, geom = in_u8(in), back = in_u8(in);
	int fds[NFD_STD];
	make_resources(h, geom, back, fds);

	static struct setup_msg sm;
	build_setup(h, &sm);
	size_t nfds = NFD_STD;
	unsigned muts = 0;
	static uint8_t buf[MAX_RAW_SETUP + 512];
	size_t len = 0;
	switch (mode) {
	case 0:
		len = pack_control(&sm.m, buf, sizeof(buf));
		break;
	case 1:
		muts = mutate_setup(&sm, in, &nfds);
		len = pack_control(&sm.m, buf, sizeof(buf));
		break;
	case 2: {
		len = pack_control(&sm.m, buf, sizeof(buf));
		unsigned k = in_u8(in) % 8;
		for (unsigned i = 0; i < k; i++) {
			size_t pos = (size_t)in_le(in, 2) % (len + 1);
			uint8_t v = in_u8(in);
			if (pos == len)
				len = v % (len + 1); /* truncated */
			else
				buf[pos] = v;
		}
		break;
	}
	default:
		len = in_bytes(in, buf, (size_t)in_le(in, 2) % MAX_RAW_SETUP);
		break;
	}
	h->strict = mode == 0 || (mode == 1 && !(muts & MUT_FDS));

	/* What control_recv does: decode, and on failure close the fds. */
	for (size_t i = nfds; i < NFD_STD; i++)
		close(fds[i]); /* not sent */
	ControlMsg *m;
	char err[200];
	if (control_decode(buf, len, &m, err, sizeof(err)) < 0) {
		TRACE("setup (mode %u): %s\n", mode, err);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		return false;
	}
	struct device *d = h->d;
	int rc = device_setup(d, m, fds, nfds);
	control_free(m);
	TRACE("setup (mode %u, %u rings of %u, backend %d): %s\n", mode, h->count, h->entries,
	      h->kind, rc ? d->err : "ok");
	CHECK(rc == 0 || rc == -1, "device_setup returned %d", rc);
	if (rc < 0) {
		CHECK(d->err[0], "device_setup failed without a message");
		device_release(d); /* what die() does */
		return false;
	}
	CHECK(d->rings.count == h->count && d->nranges == 1, "setup accepted %u rings, %u ranges",
	      d->rings.count, d->nranges);
	h->base = d->ranges[0].base;
	check_mirror(h, fds, mode == 0 || (mode == 1 && !(muts & MUT_BACKEND)));
	return true;
}

static void teardown(struct harness *h)
{
	if (h->live) {
		drain_output(h, SIZE_MAX);
		uint64_t out = h->out_bytes;
		if (h->file >= 0) {
			off_t pos = lseek(h->file, 0, SEEK_CUR);
			MUST(pos >= 0);
			out += (uint64_t)pos;
		}
		TRACE("end: backend got %llu bytes, %llu THR writes\n", (unsigned long long)out,
		      (unsigned long long)h->thr_writes);
		if (h->strict)
			CHECK(out <= h->thr_writes, "backend got %llu bytes, guest wrote THR %llu times",
			      (unsigned long long)out, (unsigned long long)h->thr_writes);
		int accepted = -1;
		if (h->mirror_ok && h->kind == CELLVM__BACKEND__KIND__SOCKET_SERVER)
			accepted = mirror(h)->b.in_fd; /* device_release does not close it */
		device_release(h->d);
		if (accepted >= 0)
			close(accepted);
		drain_control(h);
		struct termios t;
		if (h->pty >= 0 && tcgetattr(h->pty, &t) == 0)
			CHECK(t.c_iflag == h->pty_saved.c_iflag && t.c_oflag == h->pty_saved.c_oflag &&
				      t.c_lflag == h->pty_saved.c_lflag &&
				      t.c_cflag == h->pty_saved.c_cflag,
			      "the terminal was not restored at release");
	}
	close_fd(&h->d->control_fd);
	close_fd(&h->ctl);
	ring_set_unmap(&h->rs);
	close_fd(&h->memfd);
	close_fd(&h->bell);
	close_fd(&h->irq);
	close_fd(&h->host);
	close_fd(&h->pty);
	close_fd(&h->file);
	for (unsigned i = 0; i < h->nclients; i++)
		close(h->clients[i]);
	h->nclients = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct device dev; /* large: off the stack */
	memset(&dev, 0, sizeof(dev));
	dev.ops = &uart_device_ops;
	dev.control_fd = -1;
	snprintf(dev.instance, sizeof(dev.instance), "cellvm-dev-uart");

	struct harness h;
	memset(&h, 0, sizeof(h));
	h.d = &dev;
	h.ctl = h.memfd = h.bell = h.irq = h.host = h.file = h.pty = -1;
	h.clean = true;

	struct input in = {data, size};
	h.live = do_setup(&h, &in);
	drain_control(&h);
	if (h.live) {
		check_model(&h);
		run_ops(&h, &in);
	}
	teardown(&h);
	return 0;
}

/* ---- the seed corpus ---- */




static unsigned size_code(unsigned size)
{
	return size == 2 ? 1 : size == 4 ? 2 : 0;
}

static void s_wr(struct seed *s, unsigned ring_, unsigned off, unsigned size, uint64_t v)
{
	s8(s, OP_WRITE);
	s8(s, off | size_code(size) << 3 | ring_ << 5);
	sle(s, v, size);
}

static void s_w(struct seed *s, unsigned off, uint8_t v)
{
	s_wr(s, 0, off, 1, v);
}

static void s_rd(struct seed *s, unsigned ring_, unsigned off, unsigned size)
{
	s8(s, OP_READ);
	s8(s, off | size_code(size) << 3 | ring_ << 5);
}

static void s_r(struct seed *s, unsigned off)
{
	s_rd(s, 0, off, 1);
}

static void s_bytes(struct seed *s, unsigned op, const char *str)
{
	s8(s, op);
	s8(s, (unsigned)strlen(str));
	for (const char *c = str; *c; c++)
		s8(s, (uint8_t)*c);
}

static void s_op(struct seed *s, unsigned op, int arg)
{
	s8(s, op);
	if (arg >= 0)
		s8(s, (unsigned)arg);
}

/* What Linux's 8250 driver does at probe, startup and set_termios. */
static void s_linux_init(struct seed *s)
{
	/* autoconfig: IER test, scratch, loopback test */
	s_w(s, 1, 0x00); s_r(s, 1);
	s_w(s, 1, 0x0f); s_r(s, 1);
	s_w(s, 1, 0x00);
	s_w(s, 7, 0xa5); s_r(s, 7);
	s_w(s, 4, 0x10); s_r(s, 6);
	s_w(s, 4, 0x1f); s_r(s, 6);
	s_w(s, 4, 0x00);
	s_w(s, 3, 0xbf); s_w(s, 2, 0x10); s_w(s, 3, 0x00);  /* EFR probe */
	s_w(s, 2, 0x01); s_r(s, 2);                          /* FIFO probe */
	s_w(s, 2, 0x00);
	/* startup: clear FIFOs, clear interrupts */
	s_w(s, 2, 0x07); s_w(s, 2, 0x00);
	s_r(s, 5); s_r(s, 0); s_r(s, 2); s_r(s, 6);
	s_w(s, 3, 0x03);
	s_w(s, 4, 0x0b);
	s_w(s, 1, 0x02); s_r(s, 5); s_r(s, 2); s_w(s, 1, 0x00);  /* THRE test */
	/* set_termios: 115200 8N1, FIFO trigger 14 */
	s_w(s, 3, 0x83); s_w(s, 0, 0x01); s_w(s, 1, 0x00); s_w(s, 3, 0x03);
	s_w(s, 2, 0xc7);
	s_w(s, 1, 0x05);
	s_op(s, OP_SERVE, -1);
}

static void s_hdr(struct seed *s, unsigned mode, unsigned geom, unsigned back)
{
	s8(s, mode);
	s8(s, geom);
	s8(s, back);
}

/* Console output, an interrupt, and input read by the IRQ handler. */
static void s_io(struct seed *s)
{
	s_r(s, 5);
	s_bytes(s, OP_THR, "Linux version\r\n");
	s_r(s, 5);
	s_op(s, OP_DRAIN, 255);
	s_op(s, OP_POLL, -1);
	s_bytes(s, OP_INPUT, "root\n");
	s_op(s, OP_IRQ, -1);
	s_r(s, 2); s_r(s, 5);
	for (int i = 0; i < 5; i++) {
		s_r(s, 0);
		s_r(s, 5);
	}
	s_r(s, 2);
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

	/* geometry byte 0x10: one ring of 32 entries; backend byte 0: SOCKET */
	SEED("linux-socket", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_io(&s));
	SEED("linux-file", s_hdr(&s, 0, 0x10, 2); s_linux_init(&s); s_io(&s));
	SEED("linux-file-full", s_hdr(&s, 0, 0x10, 2 | 16 | (1 << 5)); s_linux_init(&s);
	     s_io(&s); s_op(&s, OP_TIME, 3); s_bytes(&s, OP_THR, "more"); s_op(&s, OP_TIME, 3));
	SEED("linux-terminal", s_hdr(&s, 0, 0x10, 4); s_linux_init(&s); s_io(&s));
	SEED("linux-pty", s_hdr(&s, 0, 0x10, 4 | 16); s_linux_init(&s); s_io(&s);
	     s_op(&s, OP_POLL | 0x80, -1); s_op(&s, OP_PEER, 0); s_op(&s, OP_POLL, -1);
	     s_bytes(&s, OP_THR, "after hangup"));
	SEED("linux-none", s_hdr(&s, 0, 0x10, 5); s_linux_init(&s); s_io(&s));
	SEED("linux-server", s_hdr(&s, 0, 0x10, 3); s_op(&s, OP_CONNECT, -1);
	     s_op(&s, OP_POLL, -1); s_linux_init(&s); s_io(&s); s_op(&s, OP_PEER, 0);
	     s_op(&s, OP_POLL, -1); s_op(&s, OP_CONNECT, -1); s_op(&s, OP_POLL, -1); s_io(&s));
	/* RX timeout: trigger 14, three bytes, time passes, IIR says timeout */
	SEED("rx-timeout", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s);
	     s_bytes(&s, OP_INPUT, "abc"); s_r(&s, 2); s_op(&s, OP_TIME, 1); s_r(&s, 2);
	     s_r(&s, 0); s_r(&s, 0); s_r(&s, 0); s_r(&s, 5); s_r(&s, 2));
	/* RX overrun: FIFO fills, OE reported */
	SEED("rx-overrun", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_w(&s, 1, 0x07);
	     s_bytes(&s, OP_INPUT, "0123456789abcdefXYZ"); s_bytes(&s, OP_INPUT, "more");
	     s_r(&s, 5); s_r(&s, 2); s_r(&s, 5));
	/* TX backpressure: tiny send buffer, no draining, then drain and poll */
	SEED("tx-backpressure", s_hdr(&s, 0, 0x10, 8); s_linux_init(&s);
	     for (int i = 0; i < 6; i++) s_bytes(&s, OP_THR, "0123456789abcdef0123456789abcdef");
	     s_op(&s, OP_SERVE, -1); s_r(&s, 5); s_op(&s, OP_DRAIN, 255); s_op(&s, OP_POLL, -1);
	     s_r(&s, 5); s_r(&s, 2));
	/* Loopback: THR goes round to RBR, MSR follows MCR */
	SEED("loopback", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_w(&s, 4, 0x1f);
	     s_bytes(&s, OP_THR, "loop"); s_r(&s, 5); s_r(&s, 0); s_r(&s, 0); s_r(&s, 6);
	     s_w(&s, 4, 0x0b); s_r(&s, 6));
	/* FIFOs off: 16450 mode */
	SEED("fifo-off", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_w(&s, 2, 0x00);
	     s_bytes(&s, OP_INPUT, "xy"); s_r(&s, 5); s_r(&s, 0); s_r(&s, 5);
	     s_bytes(&s, OP_THR, "ab"); s_r(&s, 2));
	/* Peer ends its output (EOF), guest keeps writing */
	SEED("peer-eof", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_bytes(&s, OP_INPUT, "bye");
	     s_op(&s, OP_PEER, 1); s_op(&s, OP_POLL, -1); s_op(&s, OP_POLL, -1);
	     s_r(&s, 0); s_bytes(&s, OP_THR, "still here"); s_op(&s, OP_POLL, -1));
	/* Reset from the core mid-stream, then shutdown */
	SEED("reset-shutdown", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s);
	     s_bytes(&s, OP_INPUT, "abc"); s_bytes(&s, OP_THR, "xyz"); s_op(&s, OP_CONTROL, 0);
	     s_r(&s, 5); s_r(&s, 2); s_linux_init(&s); s_op(&s, OP_CONTROL, 4));
	/* Four vCPUs, wide accesses, ring wrap-around on 2-entry rings */
	SEED("multi-ring", s_hdr(&s, 0, 0x03, 0); s_linux_init(&s);
	     s_wr(&s, 1, 0, 2, 0x4241); s_wr(&s, 2, 4, 4, 0x0b); s_rd(&s, 3, 4, 4);
	     s_rd(&s, 1, 0, 2); s_rd(&s, 2, 2, 2); s_wr(&s, 3, 7, 1, 0x5a); s_rd(&s, 0, 6, 2);
	     s_op(&s, OP_SERVE, -1));
	/* The device sleeps, a vCPU posts: doorbell */
	SEED("doorbell", s_hdr(&s, 0, 0x10, 0); s_linux_init(&s); s_op(&s, OP_SLEEP, 0x00);
	     s8(&s, 'z'); s_op(&s, OP_SLEEP, 0x25); s8(&s, 0); s_r(&s, 5));
	/* Hostile producer: an entry with the wrong sequence */
	SEED("raw-bad-seq", s_hdr(&s, 0, 0x10, 0); s_w(&s, 3, 0x03);
	     s8(&s, OP_RAW_ENTRY); s8(&s, 0); s8(&s, 0x01 | 0x04 | 0x08 | 0x10 | 0x20);
	     sle(&s, 7, 4); s8(&s, 0); s8(&s, 0); s8(&s, 0); sle(&s, 'A', 4); s8(&s, 0);
	     s_op(&s, OP_SERVE, -1));
	/* Hostile producer: a good raw entry, then head far ahead */
	SEED("raw-head", s_hdr(&s, 0, 0x10, 0); s8(&s, OP_RAW_ENTRY); s8(&s, 0);
	     s8(&s, 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20); s8(&s, 0); s8(&s, 0); s8(&s, 0);
	     sle(&s, 'A', 4); s8(&s, 0); s_op(&s, OP_SERVE, -1);
	     s8(&s, OP_RAW_WORD); s8(&s, 0); s8(&s, 0); sle(&s, 1000, 4); s_op(&s, OP_SERVE, -1));
	/* Out of range: a 4-byte read at +6 */
	SEED("oob-read", s_hdr(&s, 0, 0x10, 0); s_r(&s, 5); s_rd(&s, 0, 6, 4));
	/* Unexpected and raw control messages */
	SEED("control-raw", s_hdr(&s, 0, 0x10, 0); s_op(&s, OP_CONTROL, 1);
	     s8(&s, OP_RAW_CONTROL); s8(&s, 2); s8(&s, 0x1a); s8(&s, 0x00);
	     s_op(&s, OP_CONTROL, 5));
	/* Mutated setups: a range at another port; two backends */
	SEED("mut-range", s_hdr(&s, 1, 0x10, 0); sle(&s, MUT_RANGE, 2); s8(&s, 1);
	     sle(&s, 0x2f8, 2); s8(&s, 8); s_linux_init(&s); s_io(&s));
	SEED("mut-backends", s_hdr(&s, 1, 0x10, 0); sle(&s, MUT_NBACKENDS, 2); s8(&s, 2));
	SEED("mut-fds", s_hdr(&s, 1, 0x10, 0); sle(&s, MUT_IRQ_FD | MUT_BACKEND_FDS, 2);
	     s8(&s, FD_BACK); s8(&s, FD_RINGS); s8(&s, FD_RINGS); s_linux_init(&s);
	     s_bytes(&s, OP_THR, "into the rings"); s_op(&s, OP_POLL, -1));
	/* Raw setup bytes: the well-formed Setup itself, and a patched one */
	{
		struct harness h = {.count = 1, .entries = 32, .kind = CELLVM__BACKEND__KIND__SOCKET};
		static struct setup_msg sm;
		uint8_t buf[512];
		build_setup(&h, &sm);
		size_t len = pack_control(&sm.m, buf, sizeof(buf));
		SEED("raw-setup", s_hdr(&s, 3, 0x10, 0); sle(&s, len, 2);
		     for (size_t i = 0; i < len; i++) s8(&s, buf[i]); s_linux_init(&s); s_io(&s));
		SEED("patched-setup", s_hdr(&s, 2, 0x10, 0); s8(&s, 1); sle(&s, len / 2, 2);
		     s8(&s, 0xff); s_linux_init(&s));
	}
#undef SEED
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_uart", "UART", write_seeds);
	signal(SIGPIPE, SIG_IGN); /* as device_main */
	return 0;
}
