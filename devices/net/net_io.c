/* Frames to and from a TAP fd or a QEMU-framed unix stream socket, on the
 * device side (net_io.h).  No syscall but readv/writev (TAP) and
 * recv/send (stream), plus the one TUNSETOFFLOAD ioctl. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "devices/net/net_io.h"

#define ETH_HDR_LEN 14
#define RX_BUF_SIZE (2 * (4 + NET_IO_FRAME_MAX))

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;
	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

/* Copies LEN bytes from SRC into IOV starting OFF bytes into it. */
static void to_iov(const struct iovec *iov, int iovcnt, size_t off, const uint8_t *src, size_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = iov[i].iov_len - off;
		if (n > len)
			n = len;
		memcpy((uint8_t *)iov[i].iov_base + off, src, n);
		src += n;
		len -= n;
		off = 0;
	}
}

/* Copies LEN bytes out of IOV, starting OFF bytes into it, to DST. */
static void from_iov(const struct iovec *iov, int iovcnt, size_t off, uint8_t *dst, size_t len)
{
	for (int i = 0; i < iovcnt && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = iov[i].iov_len - off;
		if (n > len)
			n = len;
		memcpy(dst, (const uint8_t *)iov[i].iov_base + off, n);
		dst += n;
		len -= n;
		off = 0;
	}
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int net_io_init(struct net_io *io, int fd, enum net_io_kind kind, size_t tx_buf)
{
	memset(io, 0, sizeof(*io));
	io->fd = fd;
	io->kind = kind;
	if (kind == NET_IO_TAP)
		return 0;
	if (kind != NET_IO_STREAM)
		return -EINVAL;
	if (tx_buf == 0)
		tx_buf = NET_IO_TX_BUF_DEFAULT;
	if (tx_buf < NET_IO_TX_BUF_MIN)
		return -EINVAL;
	io->rx = malloc(RX_BUF_SIZE);
	io->tx = malloc(tx_buf);
	if (!io->rx || !io->tx) {
		free(io->rx);
		free(io->tx);
		io->rx = io->tx = NULL;
		return -ENOMEM;
	}
	io->rx_size = RX_BUF_SIZE;
	io->tx_size = tx_buf;
	return 0;
}

void net_io_free(struct net_io *io)
{
	free(io->rx);
	free(io->tx);
	io->rx = io->tx = NULL;
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

/* --- TAP: one readv/writev per frame, header and all ---------------------- */

static ssize_t tap_recv(struct net_io *io, const struct iovec *iov, int iovcnt)
{
	/* tun cuts a frame to the buffer without saying so: one more byte
	 * at the end tells a frame that did not fit from one that just did. */
	struct iovec v[NET_IO_MAX_IOV + 1];
	uint8_t extra;
	if (iovcnt < 1 || iovcnt > NET_IO_MAX_IOV)
		return -EINVAL;
	memcpy(v, iov, sizeof(*iov) * (size_t)iovcnt);
	v[iovcnt].iov_base = &extra;
	v[iovcnt].iov_len = 1;
	size_t total = iov_total(iov, iovcnt);
	for (;;) {
		ssize_t n = readv(io->fd, v, iovcnt + 1);
		if (n >= 0 && (size_t)n > total)
			return -EMSGSIZE;
		if (n >= 0) {
			io->rx_frames++;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK)
			return -EAGAIN;
		return -errno;
	}
}

static int tap_send(struct net_io *io, const struct iovec *iov, int iovcnt, size_t total)
{
	for (;;) {
		ssize_t n = writev(io->fd, iov, iovcnt);
		if (n >= 0) {
			io->tx_blocked = false;
			io->tx_frames++;
			return (size_t)n == total ? 0 : -EIO;
		}
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK) {
			io->tx_blocked = true;
			io->tx_eagain++;
			return -EAGAIN;
		}
		return -errno;
	}
}

/* --- stream: length-prefixed frames over a nonblocking socket ------------- */

static ssize_t stream_recv(struct net_io *io, const struct iovec *iov, int iovcnt)
{
	for (;;) {
		if (io->error)
			return io->error;
		size_t avail = io->rx_end - io->rx_start;
		size_t need = 4;
		if (avail >= 4) {
			uint32_t len = get_be32(io->rx + io->rx_start);
			if (len == 0 || len > NET_IO_FRAME_MAX)
				return io->error = -EPROTO;
			need = 4 + (size_t)len;
			if (avail >= need) {
				const uint8_t *frame = io->rx + io->rx_start + 4;
				io->rx_start += need;
				if (io->rx_start == io->rx_end)
					io->rx_start = io->rx_end = 0;
				if (iov_total(iov, iovcnt) < NET_VNET_HDR_LEN + (size_t)len)
					return -EMSGSIZE;
				static const uint8_t zero_hdr[NET_VNET_HDR_LEN];
				to_iov(iov, iovcnt, 0, zero_hdr, NET_VNET_HDR_LEN);
				to_iov(iov, iovcnt, NET_VNET_HDR_LEN, frame, len);
				io->rx_frames++;
				return NET_VNET_HDR_LEN + (ssize_t)len;
			}
		}
		if (io->eof) {
			if (avail)
				return io->error = -EPROTO; /* closed in mid-frame */
			return 0;
		}
		/* Room for the rest of this frame at the end, else move it
		 * to the front (it is at most one frame: RX_BUF_SIZE holds
		 * two). */
		if (io->rx_start + need > io->rx_size || io->rx_end == io->rx_size) {
			memmove(io->rx, io->rx + io->rx_start, avail);
			io->rx_start = 0;
			io->rx_end = avail;
		}
		ssize_t n = recv(io->fd, io->rx + io->rx_end, io->rx_size - io->rx_end, MSG_DONTWAIT);
		if (n > 0) {
			io->rx_end += (size_t)n;
		} else if (n == 0) {
			io->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EWOULDBLOCK) {
			return -EAGAIN;
		} else if (errno == ECONNRESET) {
			io->eof = true;
		} else {
			return io->error = -errno;
		}
	}
}

int net_io_flush(struct net_io *io)
{
	if (io->kind != NET_IO_STREAM)
		return 0;
	if (io->error)
		return io->error;
	while (io->tx_start < io->tx_end) {
		ssize_t n = send(io->fd, io->tx + io->tx_start, io->tx_end - io->tx_start,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			io->tx_start += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EWOULDBLOCK) {
			return -EAGAIN;
		} else {
			int e = n < 0 ? errno : EPIPE;
			return io->error = (e == ECONNRESET || e == EPIPE) ? -EPIPE : -e;
		}
	}
	io->tx_start = io->tx_end = 0;
	return 0;
}

/* Fills in the checksum that the header says is left to do: the ones'
 * complement sum of FRAME[start..len), folded, at FRAME[start + offset]
 * (the field holds the pseudo-header sum, which the sum takes in). */
static int fill_csum(uint8_t *frame, size_t len, const uint8_t *hdr)
{
	size_t start = get_le16(hdr + 6), offset = get_le16(hdr + 8);
	if (start + offset + 2 > len)
		return -EINVAL;
	uint32_t sum = 0;
	size_t i = start;
	for (; i + 1 < len; i += 2)
		sum += (uint32_t)frame[i] << 8 | frame[i + 1];
	if (i < len)
		sum += (uint32_t)frame[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	frame[start + offset] = c >> 8;
	frame[start + offset + 1] = c & 0xff;
	return 0;
}

static int stream_send(struct net_io *io, const struct iovec *iov, int iovcnt, size_t total)
{
	if (io->error)
		return io->error;
	uint8_t hdr[NET_VNET_HDR_LEN];
	from_iov(iov, iovcnt, 0, hdr, sizeof(hdr));
	if (hdr[1] != NET_VNET_GSO_NONE)
		return -EOPNOTSUPP;
	size_t len = total - NET_VNET_HDR_LEN;
	if (io->tx_end - io->tx_start + 4 + len > io->tx_size) {
		int rc = net_io_flush(io);
		if (rc != -EAGAIN && rc != 0)
			return rc;
		if (io->tx_end - io->tx_start + 4 + len > io->tx_size) {
			io->tx_blocked = true;
			io->tx_eagain++;
			return -EAGAIN;
		}
	}
	if (io->tx_end + 4 + len > io->tx_size) {
		memmove(io->tx, io->tx + io->tx_start, io->tx_end - io->tx_start);
		io->tx_end -= io->tx_start;
		io->tx_start = 0;
	}
	uint8_t *p = io->tx + io->tx_end;
	put_be32(p, (uint32_t)len);
	from_iov(iov, iovcnt, NET_VNET_HDR_LEN, p + 4, len);
	if ((hdr[0] & NET_VNET_F_NEEDS_CSUM) && fill_csum(p + 4, len, hdr) < 0)
		return -EINVAL;
	io->tx_end += 4 + len;
	io->tx_frames++;
	io->tx_blocked = false;
	int rc = net_io_flush(io);
	return rc == -EAGAIN ? 0 : rc;
}

/* --- both ----------------------------------------------------------------- */

ssize_t net_io_recv(struct net_io *io, const struct iovec *iov, int iovcnt)
{
	return io->kind == NET_IO_TAP ? tap_recv(io, iov, iovcnt) : stream_recv(io, iov, iovcnt);
}

int net_io_send(struct net_io *io, const struct iovec *iov, int iovcnt)
{
	size_t total = iov_total(iov, iovcnt);
	if (total < NET_VNET_HDR_LEN + ETH_HDR_LEN || total > NET_IO_BUF_MAX)
		return -EINVAL;
	return io->kind == NET_IO_TAP ? tap_send(io, iov, iovcnt, total)
				      : stream_send(io, iov, iovcnt, total);
}

short net_io_poll_events(const struct net_io *io)
{
	short ev = POLLIN;
	if (io->tx_blocked || net_io_tx_pending(io))
		ev |= POLLOUT;
	return ev;
}

size_t net_io_tx_pending(const struct net_io *io)
{
	return io->kind == NET_IO_STREAM ? io->tx_end - io->tx_start : 0;
}

bool net_io_offload_capable(const struct net_io *io)
{
	return io->kind == NET_IO_TAP;
}

int net_io_tap_set_offload(struct net_io *io, unsigned flags)
{
	if (io->kind != NET_IO_TAP)
		return -EOPNOTSUPP;
	if (ioctl(io->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}
