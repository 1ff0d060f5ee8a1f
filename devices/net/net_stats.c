/* The device's counters as one log line (see net_stats.h). */
#include "devices/net/net_stats.h"

#include <inttypes.h>
#include <stdio.h>

void net_stats_format(const struct net_stats *s, uint64_t rx_frames, uint64_t rx_bytes,
		      uint64_t tx_frames, uint64_t tx_bytes, char *buf, size_t size)
{
	snprintf(buf, size,
		 "stats: polls=%" PRIu64 " sleeps=%" PRIu64 " rx_kicks=%" PRIu64
		 " tx_kicks=%" PRIu64 " rx_irqs=%" PRIu64 " tx_irqs=%" PRIu64
		 " rx_reads=%" PRIu64 " rx_eagain=%" PRIu64 " tx_writes=%" PRIu64
		 " tx_eagain=%" PRIu64 " rx_frames=%" PRIu64 " rx_bytes=%" PRIu64
		 " tx_frames=%" PRIu64 " tx_bytes=%" PRIu64,
		 s->polls, s->sleeps, s->rx_kicks, s->tx_kicks, s->rx_irqs, s->tx_irqs,
		 s->rx_reads, s->rx_eagain, s->tx_writes, s->tx_eagain, rx_frames, rx_bytes,
		 tx_frames, tx_bytes);
}
