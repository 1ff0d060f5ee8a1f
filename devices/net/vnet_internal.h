/* Helpers shared by the virtio-net files (not an interface). */
#ifndef CELLVM_DEVICES_NET_VNET_INTERNAL_H
#define CELLVM_DEVICES_NET_VNET_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/net/virtio_net.h"

#define VNET_STAT_ADD(n, field, v) __atomic_fetch_add(&(n)->stats.field, (v), __ATOMIC_RELAXED)
#define VNET_HAS(n, f) (((n)->features >> (f)) & 1)

static inline uint16_t vnet_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t vnet_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t vnet_get_le64(const uint8_t *p)
{
	return (uint64_t)vnet_get_le32(p) | (uint64_t)vnet_get_le32(p + 4) << 32;
}

static inline void vnet_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Total bytes of V[0..N), saturating at UINT64_MAX. */
static inline uint64_t vnet_iov_bytes(const struct iovec *v, unsigned n)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++)
		if (__builtin_add_overflow(sum, (uint64_t)v[i].iov_len, &sum))
			return UINT64_MAX;
	return sum;
}

/* Copies LEN bytes from byte SKIP of V[0..N) into DST; returns how many
 * there were (fewer when the segments end first). */
static inline size_t vnet_iov_copy_out(const struct iovec *v, unsigned n, uint64_t skip, void *dst,
				       size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = v[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t piece = l - (size_t)skip;
		if (piece > len - done)
			piece = len - done;
		memcpy(d + done, (const uint8_t *)v[i].iov_base + skip, piece);
		done += piece;
		skip = 0;
	}
	return done;
}

#endif
