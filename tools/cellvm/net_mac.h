/* MAC addresses of a VM's network adapters (tools/cellvm/net_mac.c). */
#ifndef CELLVM_TOOLS_CELLVM_NET_MAC_H
#define CELLVM_TOOLS_CELLVM_NET_MAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAC_LEN 6
#define NET_MAC_STR 18 /* "52:54:00:12:34:56" and its NUL */

/* The default MAC of adapter INDEX of the VM whose identity is KEY (its
 * UUID's 16 bytes, or its name): 52 followed by 5 bytes of the 64-bit
 * FNV-1a hash of KEY and then INDEX as one byte (bits 39..0, most
 * significant first).  Stable across runs, different per adapter, and
 * locally administered unicast (0x52: bit 1 set, bit 0 clear). */
void net_mac_derive(const void *key, size_t keylen, unsigned index, uint8_t mac[NET_MAC_LEN]);

/* "XX:XX:XX:XX:XX:XX" (hex, either case) into MAC.  0, or -1 if S is not
 * six colon-separated hex pairs. */
int net_mac_parse(const char *s, uint8_t mac[NET_MAC_LEN]);

/* Whether MAC may be an adapter's own: unicast and not all zero. */
bool net_mac_is_multicast(const uint8_t mac[NET_MAC_LEN]);
bool net_mac_is_zero(const uint8_t mac[NET_MAC_LEN]);

/* Lower-case "52:54:00:12:34:56" into buf[NET_MAC_STR]; returns buf. */
char *net_mac_format(const uint8_t mac[NET_MAC_LEN], char buf[NET_MAC_STR]);

#endif
