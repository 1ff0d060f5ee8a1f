/* Copies between iovec arrays and flat memory (see iov.h). */
#include "devices/virtio/iov.h"

#include <string.h>

uint64_t iov_bytes(const struct iovec *iov, unsigned num)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < num; i++)
		if (__builtin_add_overflow(sum, (uint64_t)iov[i].iov_len, &sum))
			return UINT64_MAX;
	return sum;
}

/* Walks the iovecs from byte OFF for at most LEN bytes, calling FN on each
 * piece; returns the bytes covered. */
static uint64_t iov_walk(const struct iovec *iov, unsigned num, uint64_t off, uint64_t len,
			 void (*fn)(void *seg, uint64_t done, uint64_t n, void *ctx), void *ctx)
{
	uint64_t done = 0;

	for (unsigned i = 0; i < num && done < len; i++) {
		uint64_t seg = iov[i].iov_len;
		if (off >= seg) {
			off -= seg;
			continue;
		}
		uint64_t n = seg - off;
		if (n > len - done)
			n = len - done;
		fn((uint8_t *)iov[i].iov_base + off, done, n, ctx);
		done += n;
		off = 0;
	}
	return done;
}

static void copy_out(void *seg, uint64_t done, uint64_t n, void *ctx)
{
	memcpy((uint8_t *)ctx + done, seg, n);
}

static void copy_in(void *seg, uint64_t done, uint64_t n, void *ctx)
{
	memcpy(seg, (const uint8_t *)ctx + done, n);
}

static void fill(void *seg, uint64_t done, uint64_t n, void *ctx)
{
	(void)done;
	memset(seg, *(const uint8_t *)ctx, n);
}

uint64_t iov_to_buf(const struct iovec *iov, unsigned num, uint64_t off, void *buf, uint64_t len)
{
	return iov_walk(iov, num, off, len, copy_out, buf);
}

uint64_t iov_from_buf(const struct iovec *iov, unsigned num, uint64_t off, const void *buf,
		      uint64_t len)
{
	return iov_walk(iov, num, off, len, copy_in, (void *)buf);
}

uint64_t iov_fill(const struct iovec *iov, unsigned num, uint64_t off, uint8_t byte, uint64_t len)
{
	return iov_walk(iov, num, off, len, fill, &byte);
}
