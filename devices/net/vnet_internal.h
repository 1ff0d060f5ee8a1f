/* Helpers shared by the virtio-net files (not an interface). */
#ifndef CELLVM_DEVICES_NET_VNET_INTERNAL_H
#define CELLVM_DEVICES_NET_VNET_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "devices/net/virtio_net.h"
#include "devices/virtio/iov.h"

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

#endif
