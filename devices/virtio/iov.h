/* Copies between iovec arrays (guest buffers a virtqueue request points
 * at) and flat memory, for every device model.  Offsets and lengths beyond
 * the iovecs are cut: each call returns the bytes actually covered. */
#ifndef CELLVM_DEVICES_VIRTIO_IOV_H
#define CELLVM_DEVICES_VIRTIO_IOV_H

#include <stdint.h>
#include <sys/uio.h>

/* Total bytes of IOV[0..NUM), saturating at UINT64_MAX. */
uint64_t iov_bytes(const struct iovec *iov, unsigned num);
/* LEN bytes from byte OFF of the iovecs into BUF. */
uint64_t iov_to_buf(const struct iovec *iov, unsigned num, uint64_t off, void *buf, uint64_t len);
/* LEN bytes of BUF into the iovecs from byte OFF. */
uint64_t iov_from_buf(const struct iovec *iov, unsigned num, uint64_t off, const void *buf,
		      uint64_t len);
/* LEN bytes of value BYTE into the iovecs from byte OFF. */
uint64_t iov_fill(const struct iovec *iov, unsigned num, uint64_t off, uint8_t byte, uint64_t len);

#endif
