/* Frames to and from a network backend, on the device side: works on one
 * already-open fd that the supervisor made (tools/cellvm/net_backend.c) and
 * needs no privileges.
 *
 * Both kinds look the same to the caller: every frame, in and out, carries
 * the 12-byte virtio-net header (struct virtio_net_hdr_mrg_rxbuf) in front
 * of the Ethernet frame.
 *
 *  - NET_IO_TAP: a TAP fd opened with IFF_NO_PI|IFF_VNET_HDR and
 *    TUNSETVNETHDRSZ 12.  One readv()/writev() per frame; the header goes
 *    to and from the kernel as it is (checksum offload and GSO work if the
 *    supervisor set the offloads, see net_io_tap_set_offload).
 *  - NET_IO_STREAM: a connected unix stream socket speaking QEMU's
 *    "-netdev stream" framing: each Ethernet frame is preceded by its
 *    length, 4 bytes big-endian; a length of 0 or above NET_IO_FRAME_MAX is
 *    a protocol error.  Received frames get a zeroed header; on send the
 *    header is dropped after a NEEDS_CSUM checksum is filled in (GSO frames
 *    are refused: offer no TSO/UFO features to the guest on this backend).
 *    Output goes through a bounded buffer: a frame is taken whole or not at
 *    all (-EAGAIN), never dropped or cut.
 *
 * The fd must be nonblocking (the supervisor sets O_NONBLOCK; the flag is
 * on the open file, so it comes along with the passed fd).
 *
 * Syscalls used, for the seccomp policy: TAP: readv, writev (and ioctl
 * TUNSETOFFLOAD, only in net_io_tap_set_offload).  Stream: recvfrom and
 * sendto (glibc's recv() and send(), always with MSG_DONTWAIT, and send
 * with MSG_NOSIGNAL, so no SIGPIPE).  net_io_init allocates with malloc
 * (brk/mmap), so call it where the policy allows that.  The caller polls
 * with poll/ppoll on net_io_poll_events().  All functions return negative
 * errno values and leave errno alone otherwise.
 */
#ifndef CELLVM_DEVICES_NET_NET_IO_H
#define CELLVM_DEVICES_NET_NET_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_VNET_HDR_LEN 12
/* Largest Ethernet frame (without the virtio-net header): 64 KiB of GSO
 * payload plus an Ethernet header with one VLAN tag. */
#define NET_IO_FRAME_MAX (65536 + 18)
/* A buffer this big always holds one received frame with its header. */
#define NET_IO_BUF_MAX (NET_VNET_HDR_LEN + NET_IO_FRAME_MAX)
/* Most iovecs net_io_recv takes on a TAP. */
#define NET_IO_MAX_IOV 256
/* Default and least output buffer of a stream (bytes, framing included). */
#define NET_IO_TX_BUF_DEFAULT (256 * 1024)
#define NET_IO_TX_BUF_MIN (4 + NET_IO_FRAME_MAX)

/* virtio_net_hdr flags and gso_type values used here */
#define NET_VNET_F_NEEDS_CSUM 1
#define NET_VNET_GSO_NONE 0

enum net_io_kind {
	NET_IO_TAP,
	NET_IO_STREAM,
};

struct net_io {
	int fd;
	enum net_io_kind kind;
	int error; /* stream: sticky -EPROTO/-EPIPE/..., 0 while all is well */
	bool eof;  /* stream: the peer closed its side */
	/* stream input: bytes received, [rx_start, rx_end) not yet returned */
	uint8_t *rx;
	size_t rx_size, rx_start, rx_end;
	/* stream output: framed bytes [tx_start, tx_end) not yet sent */
	uint8_t *tx;
	size_t tx_size, tx_start, tx_end;
	/* counters, for the device's statistics */
	bool tx_blocked; /* the last send said -EAGAIN: poll for POLLOUT */
	uint64_t rx_frames, tx_frames, tx_eagain;
};

/* Takes FD (a TAP or a connected stream socket; closed by net_io_free).
 * TX_BUF: the stream's output buffer in bytes, 0 for the default, at least
 * NET_IO_TX_BUF_MIN; unused for TAP.  0 or -ENOMEM/-EINVAL. */
int net_io_init(struct net_io *io, int fd, enum net_io_kind kind, size_t tx_buf);
void net_io_free(struct net_io *io);

/* Receives one frame (virtio-net header first) into IOV.  Returns its
 * length in bytes (> NET_VNET_HDR_LEN);
 *   -EAGAIN    no whole frame yet: wait for POLLIN;
 *   0          stream: the peer closed (at a frame boundary);
 *   -EMSGSIZE  the frame did not fit in IOV: it was consumed and is lost
 *              (give NET_IO_BUF_MAX bytes to avoid this; the bytes that
 *              fit may have been written to IOV);
 *   -EINVAL    TAP: more than NET_IO_MAX_IOV iovecs;
 *   -EPROTO    stream: bad length, or the peer closed in mid-frame: the
 *              stream is unusable from now on;
 *   other -errno from the fd (TAP: -EFAULT etc.). */
ssize_t net_io_recv(struct net_io *io, const struct iovec *iov, int iovcnt);

/* Sends one frame (virtio-net header first, then at least an Ethernet
 * header, at most NET_IO_FRAME_MAX bytes after the header).
 *   0          sent (TAP) or queued whole (stream);
 *   -EAGAIN    would block, nothing taken: keep the frame (stop taking TX
 *              descriptors) until POLLOUT, call net_io_flush, try again;
 *   -EINVAL    not a valid frame (too short or long, bad checksum offsets),
 *              -EOPNOTSUPP a GSO frame on a stream: dropped, count an error;
 *   -EPIPE     stream: the peer is gone (or any sticky stream error);
 *   other -errno from the TAP (-EIO while the interface is down: the
 *              kernel dropped it). */
int net_io_send(struct net_io *io, const struct iovec *iov, int iovcnt);

/* Pushes buffered output (stream; a no-op for TAP).  0 when all is out,
 * -EAGAIN when some is left (wait for POLLOUT), or the sticky error. */
int net_io_flush(struct net_io *io);

/* What to poll the fd for: POLLIN always (also to see a peer's close),
 * POLLOUT while output is buffered or since a send said -EAGAIN. */
short net_io_poll_events(const struct net_io *io);

/* Bytes of output buffered (stream), 0 for TAP. */
size_t net_io_tx_pending(const struct net_io *io);

/* Whether frames may carry checksum offload / GSO (TAP), so the device
 * may offer VIRTIO_NET_F_CSUM and friends; a stream handles only
 * NEEDS_CSUM (filled in here) and no GSO. */
bool net_io_offload_capable(const struct net_io *io);

/* TAP only: tells the kernel which offloads the guest takes (TUN_F_* of
 * linux/if_tun.h, from the negotiated VIRTIO_NET_F_GUEST_* features), so
 * it sends no partial checksums or GSO frames the guest did not ask for.
 * The one ioctl of this file: ioctl(fd, TUNSETOFFLOAD, flags).  0 or
 * -errno. */
int net_io_tap_set_offload(struct net_io *io, unsigned flags);

#endif
