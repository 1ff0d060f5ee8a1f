/* Control socket framing; see mgmt_frame.h. */
#include "tools/libcellvm/mgmt_frame.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int mgmt_send(int fd, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	if (len > MGMT_MAX_MSG)
		return -EMSGSIZE;
	uint8_t *buf = malloc(4 + len);
	if (!buf)
		return -ENOMEM;
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	protobuf_c_message_pack(msg, buf + 4);
	int rc = write_all(fd, buf, 4 + len);
	free(buf);
	return rc;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int read_all(int fd, uint8_t *p, size_t n, long long deadline)
{
	while (n) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return -errno;
		if (pr == 0)
			return -ETIMEDOUT;
		ssize_t r = read(fd, p, n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int mgmt_frame_len(const uint8_t hdr[4], size_t *len)
{
	*len = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
	return *len > MGMT_MAX_MSG ? -EMSGSIZE : 0;
}

int mgmt_recv(int fd, int timeout_ms, uint8_t **buf, size_t *len)
{
	long long deadline = now_ms() + timeout_ms;
	uint8_t hdr[4];
	size_t n;
	int rc = read_all(fd, hdr, 4, deadline);
	if (rc < 0)
		return rc;
	if ((rc = mgmt_frame_len(hdr, &n)) < 0)
		return rc;
	*buf = malloc(n ? n : 1);
	if (!*buf)
		return -ENOMEM;
	rc = read_all(fd, *buf, n, deadline);
	if (rc < 0) {
		free(*buf);
		return rc;
	}
	*len = n;
	return 0;
}
