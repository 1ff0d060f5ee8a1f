/* net_backend_probe: opens one network backend the way the supervisor does
 * (tools/cellvm/net_backend.c), for tests/integration/net_backends.sh.
 *
 *   net_backend_probe [--hold] [--send TEXT] [--recv] SPEC
 *
 * SPEC is what cellvm takes: tap=NAME, bridge=BR[,...], stream=PATH[,server].
 * Prints "tap NAME" for the TAP kinds (for bridge=, after checking that
 * NAME is up and a port of BR in /sys/class/net/BR/brif/) or "stream PATH"
 * once connected, on stdout.  --send sends one frame with TEXT as payload
 * (after a broadcast Ethernet header, type 0x88b5) through net_io; --recv
 * receives one and prints its payload.  --hold then waits until stdin is
 * closed (or the probe is killed).  Exit 0 when all went, 1 with the
 * backend's message on stderr, 3 when a check failed. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/net/net_io.h"
#include "tools/cellvm/net_backend.h"

static int bridge_check(const struct net_backend *b)
{
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/sys/class/net/%s/brif/%s", b->bridge, b->ifname);
	if (stat(path, &st) < 0) {
		fprintf(stderr, "net_backend_probe: %s: %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", b->ifname);
	FILE *f = fopen(path, "r");
	unsigned long flags = 0;
	if (!f || fscanf(f, "%lx", &flags) != 1 || !(flags & 1)) {
		fprintf(stderr, "net_backend_probe: %s is not up\n", b->ifname);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Waits for the fd to be ready for EVENTS (10 s at most). */
static int wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

static int send_frame(struct net_io *io, const char *text)
{
	uint8_t f[NET_VNET_HDR_LEN + 14 + 1500] = {0};
	size_t n = strlen(text);
	if (n > 1500)
		n = 1500;
	memset(f + NET_VNET_HDR_LEN, 0xff, 6);
	f[NET_VNET_HDR_LEN + 6] = 0x02;
	f[NET_VNET_HDR_LEN + 12] = 0x88;
	f[NET_VNET_HDR_LEN + 13] = 0xb5;
	memcpy(f + NET_VNET_HDR_LEN + 14, text, n);
	struct iovec iov = {f, NET_VNET_HDR_LEN + 14 + n};
	int rc;
	while ((rc = net_io_send(io, &iov, 1)) == -EAGAIN)
		if (wait_fd(io->fd, POLLOUT) < 0)
			return -ETIMEDOUT;
	while (rc == 0 && (rc = net_io_flush(io)) == -EAGAIN)
		if (wait_fd(io->fd, POLLOUT) < 0)
			return -ETIMEDOUT;
	return rc;
}

static int recv_frame(struct net_io *io)
{
	static uint8_t buf[NET_IO_BUF_MAX];
	struct iovec iov = {buf, sizeof(buf)};
	ssize_t n;
	while ((n = net_io_recv(io, &iov, 1)) == -EAGAIN ||
	       (n > 0 && (n < NET_VNET_HDR_LEN + 14 || buf[NET_VNET_HDR_LEN + 12] != 0x88 ||
			  buf[NET_VNET_HDR_LEN + 13] != 0xb5)))
		if (n == -EAGAIN && wait_fd(io->fd, POLLIN) < 0)
			return -ETIMEDOUT;
	if (n <= 0)
		return n == 0 ? -EPIPE : (int)n;
	printf("%.*s\n", (int)(n - NET_VNET_HDR_LEN - 14), buf + NET_VNET_HDR_LEN + 14);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"hold", no_argument, NULL, 'h'},
		{"send", required_argument, NULL, 's'},
		{"recv", no_argument, NULL, 'r'},
		{0},
	};
	bool hold = false, recv = false;
	const char *text = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'h')
			hold = true;
		else if (c == 's')
			text = optarg;
		else if (c == 'r')
			recv = true;
		else
			return 2;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: net_backend_probe [--hold] [--send TEXT] [--recv] SPEC\n");
		return 2;
	}
	struct net_backend_config cfg;
	struct net_backend b;
	char err[512];
	if (net_backend_parse(argv[optind], &cfg, err, sizeof(err)) < 0 ||
	    net_backend_open(&cfg, &b, err, sizeof(err)) < 0 ||
	    (cfg.server && net_backend_accept(&b, 10000, err, sizeof(err)) < 0)) {
		fprintf(stderr, "net_backend_probe: %s\n", err);
		return 1;
	}
	int rc = 0;
	if (b.kind == NET_BACKEND_STREAM) {
		printf("stream %s\n", b.path);
	} else {
		if (b.kind == NET_BACKEND_BRIDGE && bridge_check(&b) < 0)
			rc = 3;
		printf("tap %s\n", b.ifname);
	}
	fflush(stdout);
	struct net_io io;
	if (rc == 0 && (text || recv)) {
		int e = net_io_init(&io, net_backend_dup_fd(&b),
				    b.kind == NET_BACKEND_STREAM ? NET_IO_STREAM : NET_IO_TAP, 0);
		if (e == 0 && text)
			e = send_frame(&io, text);
		if (e == 0 && recv)
			e = recv_frame(&io);
		if (e < 0) {
			fprintf(stderr, "net_backend_probe: %s: %s\n", b.desc, strerror(-e));
			rc = 3;
		}
		fflush(stdout);
		net_io_free(&io);
	}
	if (hold) {
		char ch;
		while (read(0, &ch, 1) > 0)
			;
	}
	net_backend_close(&b);
	return rc;
}
