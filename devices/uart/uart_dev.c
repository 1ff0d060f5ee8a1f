/* The UART device: the 16550A model, its port range, its IRQ line and one
 * backend (output file, unix socket, listening unix socket, or terminal). */
#include "devices/uart/uart_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "devices/uart/uart16550.h"
#include "sandbox/policies.h"

/* After an output file write fails (disk full), retry this much later. */
#define UART_RETRY_NS 1000000000ull

struct uart_backend {
	Cellvm__Backend__Kind kind;
	int in_fd;     /* bytes for the guest come from here; -1 if none */
	int out_fd;    /* the guest's bytes go here; -1: discarded */
	int listen_fd; /* SOCKET_SERVER: waits for the next client */
	bool eof;      /* input ended for good */
	bool warned;   /* an output failure was logged */
	bool tty_raw;  /* the terminal was put in raw mode: restore it */
	struct termios saved;
	char desc[128];
};

struct uart_state {
	struct device *d;
	struct uart16550 u;
	struct uart_backend b;
	uint64_t retry_at; /* 0, or when to retry the output */
};

static struct uart_state *state(struct device *d)
{
	return d->priv;
}

/* The peer no longer takes output (EPIPE): drop output from now on, but keep
 * reading what it sent before it went, until end of file. */
static void output_gone(struct uart_state *s)
{
	struct uart_backend *b = &s->b;
	b->out_fd = -1;
	device_log(s->d, CELLVM__LOG__LEVEL__WARNING,
		   "%s: peer closed; output is discarded until %s", b->desc,
		   b->kind == CELLVM__BACKEND__KIND__SOCKET_SERVER ? "the next client"
								   : "the VM stops");
}

/* End of input from the peer (or an error reading it). */
static void input_ended(struct uart_state *s)
{
	struct uart_backend *b = &s->b;
	if (b->kind == CELLVM__BACKEND__KIND__SOCKET_SERVER) {
		/* Back to waiting for the next client; meanwhile output is
		 * discarded, as a console nobody watches. */
		close(b->in_fd);
		b->in_fd = b->out_fd = -1;
		device_log(s->d, CELLVM__LOG__LEVEL__INFO, "%s: client disconnected", b->desc);
		return;
	}
	/* Output goes on until a write says the peer is gone: it may have
	 * shut down only its sending side. */
	b->eof = true;
}

static size_t backend_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct uart_state *s = opaque;
	struct uart_backend *b = &s->b;
	if (b->out_fd < 0)
		return len;
	if (s->retry_at)
		return 0;
	ssize_t n;
	do
		n = write(b->out_fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return (size_t)n;
	if (errno == EAGAIN)
		return 0; /* the socket is full: the guest waits on THRE */
	if (errno == EPIPE || errno == ECONNRESET) {
		output_gone(s);
		return len;
	}
	/* A file that cannot take more (disk full, quota): keep the bytes in
	 * the FIFO, so the guest waits, and retry later. */
	if (!b->warned)
		device_log(s->d, CELLVM__LOG__LEVEL__ERROR, "%s: %s; output waits", b->desc,
			   strerror(errno));
	b->warned = true;
	s->retry_at = device_now_ns() + UART_RETRY_NS;
	return 0;
}

static void uart_irq(void *opaque, bool level)
{
	struct uart_state *s = opaque;
	device_set_irq(s->d, 0, level);
}

static int setup_terminal(struct device *d, struct uart_backend *b)
{
	if (!isatty(b->in_fd))
		return 0;
	if (tcgetattr(b->in_fd, &b->saved) < 0) {
		device_fail(d, "terminal: %s", strerror(errno));
		return -1;
	}
	struct termios raw = b->saved;
	cfmakeraw(&raw);
	if (tcsetattr(b->in_fd, TCSANOW, &raw) < 0) {
		device_fail(d, "terminal raw mode: %s", strerror(errno));
		return -1;
	}
	b->tty_raw = true;
	return 0;
}

static int set_nonblock(struct device *d, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		device_fail(d, "fcntl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup_backend(struct device *d, struct uart_backend *b, const Cellvm__Setup *s)
{
	b->in_fd = b->out_fd = b->listen_fd = -1;
	b->kind = CELLVM__BACKEND__KIND__KIND_NONE;
	snprintf(b->desc, sizeof(b->desc), "none");
	if (s->n_backends == 0)
		return 0; /* a port with nothing attached: output discarded */
	if (s->n_backends > 1) {
		device_fail(d, "a uart takes one backend, setup has %zu", s->n_backends);
		return -1;
	}
	const Cellvm__Backend *be = s->backends[0];
	b->kind = be->kind;
	snprintf(b->desc, sizeof(b->desc), "%s", be->description);
	switch (be->kind) {
	case CELLVM__BACKEND__KIND__FILE:
		b->out_fd = device_fd(d, be->out_fd, "the output file");
		return b->out_fd < 0 ? -1 : 0;
	case CELLVM__BACKEND__KIND__SOCKET:
		b->in_fd = b->out_fd = device_fd(d, be->in_fd, "the socket");
		return b->in_fd < 0 ? -1 : set_nonblock(d, b->in_fd);
	case CELLVM__BACKEND__KIND__SOCKET_SERVER:
		b->listen_fd = device_fd(d, be->in_fd, "the listening socket");
		return b->listen_fd < 0 ? -1 : set_nonblock(d, b->listen_fd);
	case CELLVM__BACKEND__KIND__TERMINAL:
		b->in_fd = device_fd(d, be->in_fd, "the terminal input");
		b->out_fd = b->in_fd < 0 ? -1 : device_fd(d, be->out_fd, "the terminal output");
		return b->out_fd < 0 ? -1 : setup_terminal(d, b);
	default:
		device_fail(d, "unknown backend kind %d", be->kind);
		return -1;
	}
}

static int uart_setup(struct device *d, const Cellvm__Setup *s)
{
	static struct uart_state st; /* one port per process */
	memset(&st, 0, sizeof(st));
	st.d = d;
	d->priv = &st;
	if (d->nirqs != 1) {
		device_fail(d, "a uart has one irq line, setup has %u", d->nirqs);
		return -1;
	}
	if (d->nranges != 1 || d->ranges[0].kind != RING_PIO || d->ranges[0].size != 8) {
		device_fail(d, "a uart has one range of 8 ports");
		return -1;
	}
	if (setup_backend(d, &st.b, s) < 0)
		return -1;
	struct uart_io io = {.opaque = &st, .tx = backend_tx, .irq = uart_irq};
	uart_init(&st.u, &io);
	return 0;
}

/* Accesses wider than a byte reach consecutive registers, as on the ISA bus. */
static uint64_t uart_dev_read(struct device *d, const struct exit_access *a)
{
	struct uart_state *s = state(d);
	uint64_t now = device_now_ns(), v = 0;
	unsigned off = (unsigned)(a->addr - d->ranges[0].base);
	for (unsigned i = 0; i < a->size; i++)
		v |= (uint64_t)uart_read(&s->u, off + i, now) << (8 * i);
	return v;
}

static void uart_dev_write(struct device *d, const struct exit_access *a)
{
	struct uart_state *s = state(d);
	uint64_t now = device_now_ns();
	unsigned off = (unsigned)(a->addr - d->ranges[0].base);
	for (unsigned i = 0; i < a->size; i++)
		uart_write(&s->u, off + i, (uint8_t)(a->data >> (8 * i)), now);
}

static void uart_dev_reset(struct device *d)
{
	uart_reset(&state(d)->u);
}

static int uart_poll_fds(struct device *d, struct pollfd *p, int max)
{
	struct uart_state *s = state(d);
	struct uart_backend *b = &s->b;
	int n = 0;
	if (max < 2)
		return 0;
	if (b->kind == CELLVM__BACKEND__KIND__SOCKET_SERVER && b->in_fd < 0) {
		if (b->listen_fd >= 0)
			p[n++] = (struct pollfd){.fd = b->listen_fd, .events = POLLIN};
		return n;
	}
	/* Flow control: read only what the RX FIFO can hold. */
	if (b->in_fd >= 0 && !b->eof && uart_rx_space(&s->u) > 0)
		p[n++] = (struct pollfd){.fd = b->in_fd, .events = POLLIN};
	/* Output waiting for a backend that said EAGAIN. */
	if (b->out_fd >= 0 && uart_tx_pending(&s->u) && !s->retry_at) {
		if (n && p[0].fd == b->out_fd)
			p[0].events |= POLLOUT;
		else
			p[n++] = (struct pollfd){.fd = b->out_fd, .events = POLLOUT};
	}
	return n;
}

static void accept_client(struct uart_state *s)
{
	struct uart_backend *b = &s->b;
	int fd = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
			return;
		/* Anything else would repeat forever on a readable listener. */
		device_log(s->d, CELLVM__LOG__LEVEL__ERROR,
			   "%s: accept: %s; no more clients are taken", b->desc, strerror(errno));
		b->listen_fd = -1;
		return;
	}
	b->in_fd = b->out_fd = fd;
	device_log(s->d, CELLVM__LOG__LEVEL__INFO, "%s: client connected", b->desc);
}

static void uart_receive(struct uart_state *s)
{
	struct uart_backend *b = &s->b;
	size_t space = uart_rx_space(&s->u);
	uint8_t buf[UART_FIFO_SIZE];
	if (space > sizeof(buf))
		space = sizeof(buf);
	if (space == 0)
		return;
	ssize_t n = read(b->in_fd, buf, space);
	if (n > 0) {
		uart_rx_push(&s->u, buf, (size_t)n, device_now_ns());
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (b->kind == CELLVM__BACKEND__KIND__TERMINAL) {
			b->eof = true; /* stdin closed: output still works */
			return;
		}
		input_ended(s);
	}
}

static void uart_poll_events(struct device *d, const struct pollfd *p, int n)
{
	struct uart_state *s = state(d);
	for (int i = 0; i < n; i++) {
		if (!p[i].revents)
			continue;
		if (p[i].fd == s->b.listen_fd) {
			accept_client(s);
			return;
		}
		if (p[i].fd == s->b.in_fd && p[i].revents & (POLLIN | POLLHUP | POLLERR))
			uart_receive(s);
		if (p[i].fd == s->b.out_fd && p[i].revents & (POLLOUT | POLLERR))
			uart_tx_drain(&s->u, device_now_ns());
	}
}

static uint64_t uart_dev_deadline(struct device *d)
{
	struct uart_state *s = state(d);
	uint64_t t = uart_next_deadline(&s->u);
	if (s->retry_at && (!t || s->retry_at < t))
		t = s->retry_at;
	return t;
}

static void uart_dev_tick(struct device *d)
{
	struct uart_state *s = state(d);
	uint64_t now = device_now_ns();
	if (s->retry_at && now >= s->retry_at) {
		s->retry_at = 0;
		uart_tx_drain(&s->u, now);
	}
	uart_tick(&s->u, now);
}

static void uart_teardown(struct device *d)
{
	struct uart_state *s = state(d);
	if (s && s->b.tty_raw) {
		tcsetattr(s->b.in_fd, TCSANOW, &s->b.saved);
		s->b.tty_raw = false;
	}
}

const struct device_ops uart_device_ops = {
	.name = "uart",
	.policy = &sandbox_policy_uart,
	.setup = uart_setup,
	.read = uart_dev_read,
	.write = uart_dev_write,
	.reset = uart_dev_reset,
	.poll_fds = uart_poll_fds,
	.poll_events = uart_poll_events,
	.next_deadline = uart_dev_deadline,
	.tick = uart_dev_tick,
	.teardown = uart_teardown,
};
