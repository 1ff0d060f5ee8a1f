/* MAC addresses of a VM's adapters: parsing what --net mac= says, and the
 * default one, derived from the VM's identity so that a VM keeps its MACs
 * (and the guest its interface names and DHCP leases) from run to run. */
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/net_mac.h"

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV64_PRIME;
	}
	return h;
}

void net_mac_derive(const void *key, size_t keylen, unsigned index, uint8_t mac[NET_MAC_LEN])
{
	uint8_t idx = (uint8_t)index;
	uint64_t h = fnv1a(FNV64_OFFSET, key, keylen);
	h = fnv1a(h, &idx, 1);
	mac[0] = 0x52; /* locally administered (bit 1), unicast (bit 0 clear) */
	for (unsigned i = 1; i < NET_MAC_LEN; i++)
		mac[i] = (uint8_t)(h >> (8 * (NET_MAC_LEN - 1 - i)));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN])
{
	if (strlen(s) != NET_MAC_STR - 1)
		return -1;
	for (unsigned i = 0; i < NET_MAC_LEN; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);
		if (hi < 0 || lo < 0 || (i < NET_MAC_LEN - 1 && p[2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool net_mac_is_multicast(const uint8_t mac[NET_MAC_LEN])
{
	return mac[0] & 1;
}

bool net_mac_is_zero(const uint8_t mac[NET_MAC_LEN])
{
	static const uint8_t zero[NET_MAC_LEN];
	return memcmp(mac, zero, NET_MAC_LEN) == 0;
}

char *net_mac_format(const uint8_t mac[NET_MAC_LEN], char buf[NET_MAC_STR])
{
	snprintf(buf, NET_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buf;
}
