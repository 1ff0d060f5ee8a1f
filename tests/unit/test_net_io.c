/* Network frame I/O (devices/net/net_io.c) and the supervisor's backends
 * (tools/cellvm/net_backend.c).
 *
 * Stream framing over a socketpair: round trips, a peer writing byte by
 * byte, many frames in one write, partial writes under a tiny SO_SNDBUF
 * with the bounded output buffer saying "would block", bad lengths, peers
 * closing at and inside a frame, checksum fill-in.
 *
 * TAP: through a real TAP in a private network namespace, which needs root
 * and /dev/net/tun; without them these tests are reported SKIPPED. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "devices/net/net_io.h"
#include "tools/cellvm/net_backend.h"

#define HDR NET_VNET_HDR_LEN

static int sp[2]; /* sp[0]: the device's end (net_io), sp[1]: the peer */
static struct net_io io;

static int stream_setup(void **st)
{
	(void)st;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	return net_io_init(&io, sp[0], NET_IO_STREAM, 0);
}

static int stream_teardown(void **st)
{
	(void)st;
	net_io_free(&io);
	if (sp[1] >= 0)
		close(sp[1]);
	return 0;
}

/* A frame of LEN bytes (no header): a pattern from SEED. */
static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

static void read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* The peer sends one framed frame of LEN bytes from SEED. */
static void peer_send(size_t len, unsigned seed)
{
	uint8_t *b = malloc(4 + len);
	put_be32(b, (uint32_t)len);
	fill(b + 4, len, seed);
	write_all(sp[1], b, 4 + len);
	free(b);
}

/* Receives one frame through net_io and checks it is LEN bytes from SEED
 * behind a zeroed header. */
static void expect_frame(size_t len, unsigned seed)
{
	static uint8_t buf[NET_IO_BUF_MAX], want[NET_IO_FRAME_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	ssize_t n = net_io_recv(&io, &iov, 1);
	assert_int_equal(n, HDR + len);
	for (int i = 0; i < HDR; i++)
		assert_int_equal(buf[i], 0);
	fill(want, len, seed);
	assert_memory_equal(buf + HDR, want, len);
}

/* Sends a frame of LEN bytes from SEED (after a zero header) through
 * net_io, in two iovecs split at SPLIT. */
static int io_send(size_t len, unsigned seed, size_t split)
{
	static uint8_t buf[NET_IO_BUF_MAX];
	memset(buf, 0, HDR);
	fill(buf + HDR, len, seed);
	struct iovec iov[2] = {{buf, split}, {buf + split, HDR + len - split}};
	return net_io_send(&io, iov, 2);
}

static void peer_expect(size_t len, unsigned seed)
{
	uint8_t l[4];
	read_all(sp[1], l, 4);
	assert_int_equal((uint32_t)l[0] << 24 | l[1] << 16 | l[2] << 8 | l[3], len);
	uint8_t *b = malloc(len), *w = malloc(len);
	read_all(sp[1], b, len);
	fill(w, len, seed);
	assert_memory_equal(b, w, len);
	free(b);
	free(w);
}

static void test_stream_round_trip(void **st)
{
	(void)st;
	uint8_t b[64];
	struct iovec iov = {b, sizeof(b)};
	assert_int_equal(net_io_recv(&io, &iov, 1), -EAGAIN);
	assert_int_equal(io_send(60, 1, 3), 0);
	assert_int_equal(io_send(1514, 2, HDR), 0);
	assert_int_equal(io_send(NET_IO_FRAME_MAX, 3, HDR + 100), 0);
	/* the last may still sit in the buffer: the peer reads as we flush */
	for (unsigned i = 0; i < 3; i++) {
		while (net_io_flush(&io) == -EAGAIN) {
			if (i == 2)
				break;
		}
		if (i == 0)
			peer_expect(60, 1);
		if (i == 1)
			peer_expect(1514, 2);
	}
	/* the peer reads, we flush, until all of the big one is out */
	uint8_t l[4];
	read_all(sp[1], l, 4);
	assert_int_equal(l[1] << 16 | l[2] << 8 | l[3], NET_IO_FRAME_MAX);
	uint8_t *big = malloc(NET_IO_FRAME_MAX), *want = malloc(NET_IO_FRAME_MAX);
	size_t got = 0;
	while (got < NET_IO_FRAME_MAX) {
		int rc = net_io_flush(&io);
		assert_true(rc == 0 || rc == -EAGAIN);
		ssize_t n = recv(sp[1], big + got, NET_IO_FRAME_MAX - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
	}
	fill(want, NET_IO_FRAME_MAX, 3);
	assert_memory_equal(big, want, NET_IO_FRAME_MAX);
	free(big);
	free(want);
	assert_int_equal(net_io_tx_pending(&io), 0);
	assert_int_equal(net_io_poll_events(&io), POLLIN);

	peer_send(60, 7);
	peer_send(NET_IO_FRAME_MAX, 8);
	expect_frame(60, 7);
	expect_frame(NET_IO_FRAME_MAX, 8);
	assert_int_equal(net_io_recv(&io, &iov, 1), -EAGAIN);
	assert_int_equal(io.rx_frames, 2);
	assert_int_equal(io.tx_frames, 3);
}

static void test_stream_peer_byte_by_byte(void **st)
{
	(void)st;
	uint8_t b[2 * (4 + 100)];
	put_be32(b, 100);
	fill(b + 4, 100, 5);
	put_be32(b + 104, 100);
	fill(b + 108, 100, 6);
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	for (size_t i = 0; i < sizeof(b); i++) {
		write_all(sp[1], b + i, 1);
		if (i == 103) {
			expect_frame(100, 5);
		} else if (i == sizeof(b) - 1) {
			expect_frame(100, 6);
		} else {
			assert_int_equal(net_io_recv(&io, &iov, 1), -EAGAIN);
		}
	}
	assert_int_equal(net_io_recv(&io, &iov, 1), -EAGAIN);
}

static void test_stream_many_frames_one_write(void **st)
{
	(void)st;
	size_t lens[] = {14, 1500, 60000, 9000, NET_IO_FRAME_MAX, 64, 2, 1};
	size_t n = sizeof(lens) / sizeof(lens[0]), total = 0;
	for (size_t i = 0; i < n; i++)
		total += 4 + lens[i];
	uint8_t *b = malloc(total), *p = b;
	for (size_t i = 0; i < n; i++) {
		put_be32(p, (uint32_t)lens[i]);
		fill(p + 4, lens[i], (unsigned)i);
		p += 4 + lens[i];
	}
	/* The peer writes from a child, since it is more than the socket
	 * holds; we read as it comes. */
	pid_t pid = fork();
	if (pid == 0) {
		write_all(sp[1], b, total);
		_exit(0);
	}
	for (size_t i = 0; i < n;) {
		static uint8_t buf[NET_IO_BUF_MAX], want[NET_IO_FRAME_MAX];
		struct iovec iov = {buf, sizeof(buf)};
		ssize_t r = net_io_recv(&io, &iov, 1);
		if (r == -EAGAIN) {
			struct pollfd pfd = {sp[0], net_io_poll_events(&io), 0};
			assert_int_equal(poll(&pfd, 1, 5000), 1);
			continue;
		}
		assert_int_equal(r, HDR + lens[i]);
		fill(want, lens[i], (unsigned)i);
		assert_memory_equal(buf + HDR, want, lens[i]);
		i++;
	}
	int ws;
	waitpid(pid, &ws, 0);
	assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	free(b);
}

/* A tiny SO_SNDBUF and a peer that does not read: sends fill the output
 * buffer, then say -EAGAIN (nothing taken) with POLLOUT asked; once the
 * peer reads, every frame arrives whole and in order. */
static void test_stream_backpressure_tiny_sndbuf(void **st)
{
	(void)st;
	net_io_free(&io); /* closed sp[0]: a new pair, with tiny buffers */
	close(sp[1]);
	int sz = 1024;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	assert_int_equal(setsockopt(sp[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)), 0);
	fcntl(sp[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(net_io_init(&io, sp[0], NET_IO_STREAM, 1), -EINVAL);
	assert_int_equal(net_io_init(&io, sp[0], NET_IO_STREAM, NET_IO_TX_BUF_MIN), 0);

	unsigned sent = 0;
	int rc;
	while ((rc = io_send(1500, sent, 5)) == 0)
		sent++;
	assert_int_equal(rc, -EAGAIN);
	assert_true(sent >= 40); /* the buffer holds ~43 of them */
	assert_true(net_io_tx_pending(&io) <= NET_IO_TX_BUF_MIN);
	assert_true(net_io_tx_pending(&io) > 0);
	assert_true(net_io_poll_events(&io) & POLLOUT);
	assert_true(io.tx_eagain >= 1);
	assert_int_equal(io_send(1500, sent, 5), -EAGAIN); /* still nothing taken */

	/* The peer reads frame by frame; we flush and send the rest. */
	unsigned want = 100 + sent, next_read = 0;
	while (next_read < want) {
		if (sent < want) {
			rc = io_send(1500, sent, 5);
			assert_true(rc == 0 || rc == -EAGAIN);
			if (rc == 0)
				sent++;
		}
		rc = net_io_flush(&io);
		assert_true(rc == 0 || rc == -EAGAIN);
		struct pollfd pfd = {sp[1], POLLIN, 0};
		if (poll(&pfd, 1, 0) == 1) {
			peer_expect(1500, next_read);
			next_read++;
		}
	}
	assert_int_equal(net_io_flush(&io), 0);
	assert_int_equal(net_io_tx_pending(&io), 0);
}

/* Frame I's length in the random tests. */
static size_t rand_len(unsigned i)
{
	unsigned r = i * 2654435761u;
	if (i % 50 == 7)
		return NET_IO_FRAME_MAX;
	return 14 + (r >> 8) % 9000;
}

/* Both ways at once, the peer (a child) writing and reading in random
 * chunks with pauses, net_io under a small output buffer and SO_SNDBUF:
 * every frame arrives whole and in order. */
static void test_stream_random_chunks_both_ways(void **st)
{
	(void)st;
	enum { N = 400 };
	int sz = 4096;
	assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* the peer: sends N framed frames in chunks of 1 to 3000 bytes
		 * while reading N frames back in chunks of 1 to 5000 */
		unsigned seed = 1;
		int fd = sp[1];
		fcntl(fd, F_SETFL, O_NONBLOCK);
		static uint8_t out[4 + NET_IO_FRAME_MAX], in[4 + NET_IO_FRAME_MAX], want[NET_IO_FRAME_MAX];
		size_t out_len = 0, out_off = 0, in_have = 0;
		unsigned sent = 0, got = 0;
		while (got < N || sent < N || out_off < out_len) {
			if (out_off == out_len && sent < N) {
				size_t l = rand_len(sent);
				put_be32(out, (uint32_t)l);
				fill(out + 4, l, sent);
				out_len = 4 + l;
				out_off = 0;
				sent++;
			}
			if (out_off < out_len) {
				size_t c = 1 + (size_t)rand_r(&seed) % 3000;
				if (c > out_len - out_off)
					c = out_len - out_off;
				ssize_t n = write(fd, out + out_off, c);
				if (n > 0)
					out_off += (size_t)n;
			}
			size_t c = 1 + (size_t)rand_r(&seed) % 5000;
			size_t need = in_have < 4 ? 4 : 4 + ((size_t)in[1] << 16 | in[2] << 8 | in[3]);
			if (c > need - in_have)
				c = need - in_have;
			ssize_t n = read(fd, in + in_have, c);
			if (n > 0)
				in_have += (size_t)n;
			if (in_have >= 4 && in_have == 4 + ((size_t)in[1] << 16 | in[2] << 8 | in[3])) {
				size_t l = rand_len(got);
				fill(want, l, got + 1000);
				if (in_have != 4 + l || memcmp(in + 4, want, l) != 0)
					_exit(10);
				got++;
				in_have = 0;
			}
			if (rand_r(&seed) % 16 == 0)
				usleep(100);
		}
		_exit(0);
	}
	close(sp[1]);
	sp[1] = -1;
	unsigned sent = 0, got = 0;
	static uint8_t buf[NET_IO_BUF_MAX], want[NET_IO_FRAME_MAX];
	while (got < N || sent < N || net_io_tx_pending(&io)) {
		int rc = net_io_flush(&io);
		assert_true(rc == 0 || rc == -EAGAIN);
		while (sent < N && (rc = io_send(rand_len(sent), sent + 1000, 7)) == 0)
			sent++;
		assert_true(rc == 0 || rc == -EAGAIN);
		struct iovec iov = {buf, sizeof(buf)};
		ssize_t n;
		while ((n = net_io_recv(&io, &iov, 1)) > 0) {
			size_t l = rand_len(got);
			assert_int_equal(n, HDR + l);
			fill(want, l, got);
			assert_memory_equal(buf + HDR, want, l);
			got++;
		}
		assert_int_equal(n, -EAGAIN);
		struct pollfd pfd = {sp[0], net_io_poll_events(&io), 0};
		assert_true(poll(&pfd, 1, 5000) >= 0);
	}
	int ws;
	waitpid(pid, &ws, 0);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
	/* the peer is gone now: a clean end */
	struct iovec iov = {buf, sizeof(buf)};
	assert_int_equal(net_io_recv(&io, &iov, 1), 0);
}

/* The device-side syscalls, checked: a child under a seccomp filter that
 * allows only recvfrom, sendto, poll (and exit) does stream I/O with
 * backpressure; any other syscall would kill it. */
static void test_stream_only_listed_syscalls(void **st)
{
	(void)st;
	int sz = 4096;
	assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
	pid_t pid = fork();
	if (pid == 0) {
		static uint8_t buf[NET_IO_BUF_MAX];
		scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
		int allow[] = {SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(poll), SCMP_SYS(exit_group)};
		for (unsigned i = 0; i < sizeof(allow) / sizeof(allow[0]); i++)
			seccomp_rule_add(f, SCMP_ACT_ALLOW, allow[i], 0);
		if (seccomp_load(f) < 0)
			_exit(20);
		/* 200 frames out under backpressure, then 200 back */
		unsigned sent = 0, got = 0;
		while (sent < 200 || net_io_tx_pending(&io)) {
			int rc = net_io_flush(&io);
			while (sent < 200 && (rc = io_send(1500, sent, 3)) == 0)
				sent++;
			if (rc != 0 && rc != -EAGAIN)
				_exit(21);
			struct pollfd pfd = {sp[0], net_io_poll_events(&io), 0};
			poll(&pfd, 1, 5000);
		}
		while (got < 200) {
			struct iovec iov = {buf, sizeof(buf)};
			ssize_t n = net_io_recv(&io, &iov, 1);
			if (n == -EAGAIN) {
				struct pollfd pfd = {sp[0], POLLIN, 0};
				poll(&pfd, 1, 5000);
				continue;
			}
			if (n != HDR + 1500)
				_exit(22);
			got++;
		}
		_exit(0);
	}
	/* the peer: reads the 200, sends them back */
	for (unsigned i = 0; i < 200; i++)
		peer_expect(1500, i);
	for (unsigned i = 0; i < 200; i++)
		peer_send(1500, i);
	int ws;
	waitpid(pid, &ws, 0);
	if (WIFSIGNALED(ws))
		fail_msg("the child died of signal %d (a syscall not allowed?)", WTERMSIG(ws));
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
}

static void test_stream_bad_lengths(void **st)
{
	(void)st;
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	peer_send(60, 1);
	uint8_t zero[4] = {0, 0, 0, 0};
	write_all(sp[1], zero, 4);
	expect_frame(60, 1); /* the good frame before it still comes */
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO); /* sticky */
	assert_int_equal(io_send(60, 1, HDR), -EPROTO);
}

static void test_stream_too_long(void **st)
{
	(void)st;
	uint8_t buf[64];
	struct iovec iov = {buf, sizeof(buf)};
	uint8_t l[4];
	put_be32(l, NET_IO_FRAME_MAX + 1);
	write_all(sp[1], l, 4);
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
	/* and a huge one */
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
}

static void test_stream_huge_length(void **st)
{
	(void)st;
	uint8_t buf[64];
	struct iovec iov = {buf, sizeof(buf)};
	uint8_t l[4] = {0xff, 0xff, 0xff, 0xff};
	write_all(sp[1], l, 4);
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
}

static void test_stream_frame_too_big_for_iov(void **st)
{
	(void)st;
	uint8_t small[HDR + 100];
	struct iovec iov = {small, sizeof(small)};
	peer_send(101, 1);
	peer_send(100, 2);
	assert_int_equal(net_io_recv(&io, &iov, 1), -EMSGSIZE);
	assert_int_equal(net_io_recv(&io, &iov, 1), HDR + 100);
	uint8_t want[100];
	fill(want, 100, 2);
	assert_memory_equal(small + HDR, want, 100);
}

static void test_stream_peer_closed_at_boundary(void **st)
{
	(void)st;
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	peer_send(70, 3);
	close(sp[1]);
	sp[1] = -1;
	expect_frame(70, 3);
	assert_int_equal(net_io_recv(&io, &iov, 1), 0);
	assert_int_equal(net_io_recv(&io, &iov, 1), 0);
	/* sending to a closed peer: -EPIPE, and no SIGPIPE kills us */
	assert_int_equal(io_send(60, 1, HDR), -EPIPE);
	assert_int_equal(io_send(60, 1, HDR), -EPIPE);
	assert_int_equal(net_io_flush(&io), -EPIPE);
}

static void test_stream_peer_closed_mid_frame(void **st)
{
	(void)st;
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	uint8_t b[4 + 10];
	put_be32(b, 100);
	fill(b + 4, 10, 0);
	write_all(sp[1], b, sizeof(b));
	assert_int_equal(net_io_recv(&io, &iov, 1), -EAGAIN);
	close(sp[1]);
	sp[1] = -1;
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
}

static void test_stream_peer_closed_mid_length(void **st)
{
	(void)st;
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	uint8_t b[2] = {0, 0};
	write_all(sp[1], b, 2);
	close(sp[1]);
	sp[1] = -1;
	assert_int_equal(net_io_recv(&io, &iov, 1), -EPROTO);
}

/* NEEDS_CSUM is done here: a UDP/IPv4 frame whose checksum field holds
 * the pseudo-header sum comes out with the full checksum. */
static void test_stream_fills_checksum(void **st)
{
	(void)st;
	uint8_t f[HDR + 14 + 20 + 8 + 5] = {0};
	uint8_t *eth = f + HDR, *ip = eth + 14, *udp = ip + 20;
	eth[12] = 0x08;
	ip[0] = 0x45;
	ip[9] = 17;
	uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	udp[0] = 0x12, udp[1] = 0x34, udp[2] = 0x00, udp[3] = 0x35;
	udp[5] = 13;
	memcpy(udp + 8, "hello", 5);
	/* pseudo header: src, dst, proto, udp length */
	uint32_t ps = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 13;
	udp[6] = ps >> 8;
	udp[7] = ps & 0xff;
	f[0] = NET_VNET_F_NEEDS_CSUM;
	f[6] = 14 + 20; /* csum_start */
	f[8] = 6;       /* csum_offset */
	struct iovec iov = {f, sizeof(f)};
	assert_int_equal(net_io_send(&io, &iov, 1), 0);
	uint8_t l[4], got[sizeof(f) - HDR];
	read_all(sp[1], l, 4);
	read_all(sp[1], got, sizeof(got));
	/* the sum over pseudo header + UDP with the checksum is 0xffff */
	uint32_t sum = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 13;
	const uint8_t *u = got + 34;
	for (int i = 0; i < 13; i += 2)
		sum += (uint32_t)u[i] << 8 | (i + 1 < 13 ? u[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	assert_int_equal(sum, 0xffff);
	assert_memory_equal(got + 42, "hello", 5);

	/* offsets beyond the frame */
	f[8] = 200;
	assert_int_equal(net_io_send(&io, &iov, 1), -EINVAL);
	/* GSO is not for streams */
	f[0] = 0;
	f[1] = 1; /* VIRTIO_NET_HDR_GSO_TCPV4 */
	assert_int_equal(net_io_send(&io, &iov, 1), -EOPNOTSUPP);
	assert_false(net_io_offload_capable(&io));
	assert_int_equal(net_io_tap_set_offload(&io, TUN_F_CSUM), -EOPNOTSUPP);
	/* nothing of those went out */
	assert_int_equal(net_io_tx_pending(&io), 0);
	assert_int_equal(recv(sp[1], l, 4, MSG_DONTWAIT), -1);
}

static void test_send_sizes(void **st)
{
	(void)st;
	static uint8_t b[NET_IO_BUF_MAX + 1];
	struct iovec iov = {b, HDR + 13};
	assert_int_equal(net_io_send(&io, &iov, 1), -EINVAL);
	iov.iov_len = HDR + 14;
	assert_int_equal(net_io_send(&io, &iov, 1), 0);
	iov.iov_len = NET_IO_BUF_MAX + 1;
	assert_int_equal(net_io_send(&io, &iov, 1), -EINVAL);
	iov.iov_len = NET_IO_BUF_MAX;
	int rc = net_io_send(&io, &iov, 1);
	assert_int_equal(rc, 0);
}

/* --- backends: parsing and errors that need no privileges ---------------- */

static void test_backend_parse(void **st)
{
	(void)st;
	struct net_backend_config c;
	char err[256];
	assert_int_equal(net_backend_parse("tap=tap0", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, NET_BACKEND_TAP);
	assert_string_equal(c.ifname, "tap0");
	assert_int_equal(c.offload, 0);
	assert_int_equal(net_backend_parse("bridge=br0,ifname=vm1,offload=csum+tso4+tso6", &c, err,
					   sizeof(err)), 0);
	assert_int_equal(c.kind, NET_BACKEND_BRIDGE);
	assert_string_equal(c.bridge, "br0");
	assert_string_equal(c.ifname, "vm1");
	assert_int_equal(c.offload, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(net_backend_parse("stream=/tmp/a b,server", &c, err, sizeof(err)), 0);
	assert_int_equal(c.kind, NET_BACKEND_STREAM);
	assert_string_equal(c.path, "/tmp/a b");
	assert_true(c.server);

	const char *bad[][2] = {
		{"tap", "expected tap=NAME"},
		{"tap=", "not an interface name"},
		{"tap=waytoolonginterfacename", "not an interface name"},
		{"vde=x", "unknown kind"},
		{"stream=/x,offload=csum", "unknown option 'offload=csum'"},
		{"tap=t0,server", "unknown option 'server'"},
		{"tap=t0,offload=tso4", "need csum"},
		{"tap=t0,offload=fast", "unknown 'fast'"},
		{"stream=", "1 to"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(net_backend_parse(bad[i][0], &c, err, sizeof(err)), -1);
		if (!strstr(err, bad[i][1]))
			fail_msg("'%s': got '%s', expected '%s'", bad[i][0], err, bad[i][1]);
	}
}

static void test_backend_stream_errors_and_pair(void **st)
{
	(void)st;
	char dir[] = "/tmp/test_net_io.XXXXXX", path[64], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	struct net_backend_config c = {.kind = NET_BACKEND_STREAM};
	snprintf(c.path, sizeof(c.path), "%s", path);
	struct net_backend srv, cli;
	assert_int_equal(net_backend_open(&c, &cli, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "no such socket"));

	c.server = true;
	assert_int_equal(net_backend_open(&c, &srv, err, sizeof(err)), 0);
	assert_int_equal(srv.fd, -1);
	/* a second listener on the same path is refused */
	struct net_backend srv2;
	assert_int_equal(net_backend_open(&c, &srv2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	assert_int_equal(net_backend_accept(&srv, 50, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no peer came"));
	c.server = false;
	assert_int_equal(net_backend_open(&c, &cli, err, sizeof(err)), 0);
	assert_int_equal(net_backend_accept(&srv, 5000, err, sizeof(err)), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), -1); /* the socket file is gone */
	assert_true(fcntl(srv.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(cli.fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(cli.fd, F_GETFD) & FD_CLOEXEC);

	/* two "devices" talk through them */
	struct net_io a, b;
	assert_int_equal(net_io_init(&a, net_backend_dup_fd(&srv), NET_IO_STREAM, 0), 0);
	assert_int_equal(net_io_init(&b, net_backend_dup_fd(&cli), NET_IO_STREAM, 0), 0);
	uint8_t f[HDR + 60] = {0}, g[NET_IO_BUF_MAX];
	fill(f + HDR, 60, 9);
	struct iovec iov = {f, sizeof(f)}, giov = {g, sizeof(g)};
	assert_int_equal(net_io_send(&a, &iov, 1), 0);
	ssize_t n;
	while ((n = net_io_recv(&b, &giov, 1)) == -EAGAIN)
		;
	assert_int_equal(n, sizeof(f));
	assert_memory_equal(g, f, sizeof(f));
	net_io_free(&a);
	net_io_free(&b);
	net_backend_close(&srv);
	net_backend_close(&cli);
	net_backend_close(&cli);

	/* a stale socket file (dead listener) is replaced; a plain file not */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	c.server = true;
	assert_int_equal(net_backend_open(&c, &srv, err, sizeof(err)), 0);
	net_backend_close(&srv);
	assert_int_equal(stat(path, &sb), -1);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(net_backend_open(&c, &srv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a socket"));
	unlink(path);
	rmdir(dir);
}

/* --- TAP: root, /dev/net/tun, and a network namespace of our own --------- */

static bool tap_ok;
static char tap_why[128];

/* Once: a private network namespace, so nothing shows on the host. */
static bool tap_env(void)
{
	static bool tried;
	if (tried)
		return tap_ok;
	tried = true;
	if (geteuid() != 0) {
		snprintf(tap_why, sizeof(tap_why), "not root");
	} else if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		snprintf(tap_why, sizeof(tap_why), "no /dev/net/tun");
	} else if (unshare(CLONE_NEWNET) < 0) {
		snprintf(tap_why, sizeof(tap_why), "unshare(CLONE_NEWNET): %s", strerror(errno));
	} else {
		tap_ok = true;
		/* no IPv6 chatter on the TAPs of this namespace */
		FILE *f = fopen("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w");
		if (f) {
			fputs("1\n", f);
			fclose(f);
		}
	}
	return tap_ok;
}

#define NEED_TAP()                                                                   \
	do {                                                                         \
		if (!tap_env()) {                                                    \
			print_message("SKIPPED: TAP test needs root and /dev/net/tun (%s)\n", \
				      tap_why);                                      \
			skip();                                                      \
		}                                                                    \
	} while (0)

/* A persistent TAP NAME, as "ip tuntap add NAME mode tap" makes. */
static void make_persistent_tap(const char *name, bool persist)
{
	int fd = open("/dev/net/tun", O_RDWR);
	assert_true(fd >= 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, persist ? 1L : 0L), 0);
	close(fd);
}

static void set_up(const char *name)
{
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

static bool is_up(const char *name)
{
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	close(s);
	return rc == 0 && (ifr.ifr_flags & IFF_UP);
}

/* A packet socket on interface NAME: the host's side of the TAP. */
static int packet_socket(const char *name)
{
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	assert_true(s >= 0);
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = (int)if_nametoindex(name)};
	assert_int_equal(bind(s, (struct sockaddr *)&ll, sizeof(ll)), 0);
	return s;
}

static void test_tap_frames(void **st)
{
	(void)st;
	NEED_TAP();
	make_persistent_tap("cvt0", true);
	struct net_backend_config c;
	char err[256];
	assert_int_equal(net_backend_parse("tap=cvt0", &c, err, sizeof(err)), 0);
	struct net_backend b;
	if (net_backend_open(&c, &b, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(b.vnet_hdr);
	assert_false(b.created);
	assert_true(fcntl(b.fd, F_GETFL) & O_NONBLOCK);
	/* only one may hold a single-queue TAP */
	struct net_backend b2;
	assert_int_equal(net_backend_open(&c, &b2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cvt0: busy"));
	set_up("cvt0");
	int ps = packet_socket("cvt0");

	struct net_io t;
	assert_int_equal(net_io_init(&t, net_backend_dup_fd(&b), NET_IO_TAP, 0), 0);
	assert_true(net_io_offload_capable(&t));
	assert_int_equal(net_io_tap_set_offload(&t, TUN_F_CSUM), 0);
	assert_int_equal(net_io_tap_set_offload(&t, 0), 0);
	uint8_t buf[NET_IO_BUF_MAX];
	struct iovec riov = {buf, sizeof(buf)};
	/* drain what the kernel sent on bring-up (IPv6 router solicitations,
	 * if any) */
	while (net_io_recv(&t, &riov, 1) > 0)
		;
	assert_int_equal(net_io_recv(&t, &riov, 1), -EAGAIN);

	/* device -> host: a frame with a zero header, in three pieces */
	uint8_t f[HDR + 100] = {0};
	memset(f + HDR, 0xff, 6); /* broadcast */
	f[HDR + 6] = 0x02;
	f[HDR + 12] = 0x88, f[HDR + 13] = 0xb5; /* local experimental ethertype */
	fill(f + HDR + 14, 86, 4);
	struct iovec siov[3] = {{f, 5}, {f + 5, HDR + 10}, {f + HDR + 15, 85}};
	assert_int_equal(net_io_send(&t, siov, 3), 0);
	uint8_t got[2000];
	struct pollfd pfd = {ps, POLLIN, 0};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(recv(ps, got, sizeof(got), 0), 100);
	assert_memory_equal(got, f + HDR, 100);

	/* host -> device: readv with the header first */
	fill(f + HDR + 14, 86, 5);
	assert_int_equal(send(ps, f + HDR, 100, 0), 100);
	pfd.fd = t.fd;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	uint8_t h[HDR];
	struct iovec r2[2] = {{h, HDR}, {buf, sizeof(buf)}};
	ssize_t n;
	while ((n = net_io_recv(&t, r2, 2)) > 0 &&
	       !(n == HDR + 100 && buf[12] == 0x88 && buf[13] == 0xb5))
		; /* skip kernel chatter */
	assert_int_equal(n, HDR + 100);
	assert_memory_equal(buf, f + HDR, 100);
	assert_int_equal(h[1], NET_VNET_GSO_NONE);

	/* a buffer too small for the frame */
	assert_int_equal(send(ps, f + HDR, 100, 0), 100);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	uint8_t tiny[HDR + 20];
	struct iovec tiov = {tiny, sizeof(tiny)};
	n = net_io_recv(&t, &tiov, 1);
	assert_int_equal(n, -EMSGSIZE);
	/* one that just fits is whole */
	assert_int_equal(send(ps, f + HDR, 100, 0), 100);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	uint8_t exact[HDR + 100];
	struct iovec eiov = {exact, sizeof(exact)};
	assert_int_equal(net_io_recv(&t, &eiov, 1), HDR + 100);
	assert_memory_equal(exact + HDR, f + HDR, 100);

	close(ps);
	net_io_free(&t);
	net_backend_close(&b);
	/* tap= leaves an existing TAP as it was */
	assert_true(if_nametoindex("cvt0") > 0);
	make_persistent_tap("cvt0", false);
	assert_int_equal(if_nametoindex("cvt0"), 0);
}

static void test_tap_errors(void **st)
{
	(void)st;
	NEED_TAP();
	struct net_backend_config c;
	struct net_backend b;
	char err[256];
	assert_int_equal(net_backend_parse("tap=nosuch0", &c, err, sizeof(err)), 0);
	assert_int_equal(net_backend_open(&c, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nosuch0: no such interface"));
	assert_int_equal(if_nametoindex("nosuch0"), 0); /* not made */
	assert_int_equal(net_backend_parse("tap=lo", &c, err, sizeof(err)), 0);
	assert_int_equal(net_backend_open(&c, &b, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lo: not a TAP"));
	assert_int_equal(net_backend_parse("bridge=nobr0", &c, err, sizeof(err)), 0);
	assert_int_equal(net_backend_open(&c, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "bridge nobr0: no such bridge");
	assert_int_equal(net_backend_parse("bridge=lo", &c, err, sizeof(err)), 0);
	assert_int_equal(net_backend_open(&c, &b, err, sizeof(err)), -1);
	assert_string_equal(err, "bridge lo: not a bridge");
	/* the TAP made for it was removed */
	assert_int_equal(if_nametoindex("cvtap0"), 0);

	/* without CAP_NET_ADMIN (a child that gave up root) */
	make_persistent_tap("cvt1", true);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		chmod("/dev/net/tun", 0666); /* fails as nobody: check below */
		struct net_backend_config cc;
		struct net_backend bb;
		char e[256];
		net_backend_parse("tap=cvt1", &cc, e, sizeof(e));
		if (net_backend_open(&cc, &bb, e, sizeof(e)) == 0)
			_exit(3);
		fprintf(stderr, "as nobody: %s\n", e);
		_exit(strstr(e, "permission denied") ? 0 : 4);
	}
	int ws;
	waitpid(pid, &ws, 0);
	assert_true(WIFEXITED(ws));
	assert_int_equal(WEXITSTATUS(ws), 0);
	make_persistent_tap("cvt1", false);
}

static int bridge_add(const char *name)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "ip link add %s type bridge 2>/dev/null", name);
	return system(cmd);
}

static void test_bridge_tap(void **st)
{
	(void)st;
	NEED_TAP();
	if (bridge_add("cvbr0") != 0) {
		print_message("SKIPPED: cannot make a bridge (ip link add ... type bridge)\n");
		skip();
	}
	struct net_backend_config c;
	struct net_backend b;
	char err[256];
	assert_int_equal(net_backend_parse("bridge=cvbr0,offload=csum+tso4", &c, err, sizeof(err)), 0);
	if (net_backend_open(&c, &b, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_true(b.created);
	assert_string_equal(b.ifname, "cvtap0");
	assert_string_equal(b.desc, "tap cvtap0 on bridge cvbr0");
	assert_true(is_up("cvtap0"));
	/* a port of cvbr0: its master is the bridge */
	assert_int_equal(system("ip -o link show master cvbr0 | grep -q 'cvtap0'"), 0);

	/* a second one gets the next name; ifname= that exists is refused */
	struct net_backend b2;
	assert_int_equal(net_backend_open(&c, &b2, err, sizeof(err)), 0);
	assert_string_equal(b2.ifname, "cvtap1");
	snprintf(c.ifname, sizeof(c.ifname), "cvtap1");
	struct net_backend b3;
	assert_int_equal(net_backend_open(&c, &b3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cvtap1 already exists"));
	assert_true(if_nametoindex("cvtap1") > 0); /* not harmed */

	/* not persistent: the last close removes it */
	net_backend_close(&b2);
	assert_int_equal(if_nametoindex("cvtap1"), 0);
	/* ... and close removes it even while a device holds a dup */
	int held = net_backend_dup_fd(&b);
	assert_true(held >= 0);
	net_backend_close(&b);
	assert_int_equal(if_nametoindex("cvtap0"), 0);
	assert_int_equal(system("ip -o link show master cvbr0 | grep -q ."), 256);
	close(held);
	assert_int_equal(system("ip link del cvbr0"), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test: none may come */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stream_round_trip, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_byte_by_byte, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_many_frames_one_write, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_backpressure_tiny_sndbuf, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_random_chunks_both_ways, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_only_listed_syscalls, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_bad_lengths, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_too_long, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_huge_length, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_frame_too_big_for_iov, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_closed_at_boundary, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_closed_mid_frame, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_peer_closed_mid_length, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_stream_fills_checksum, stream_setup, stream_teardown),
		cmocka_unit_test_setup_teardown(test_send_sizes, stream_setup, stream_teardown),
		cmocka_unit_test(test_backend_parse),
		cmocka_unit_test(test_backend_stream_errors_and_pair),
		cmocka_unit_test(test_tap_frames),
		cmocka_unit_test(test_tap_errors),
		cmocka_unit_test(test_bridge_tap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
