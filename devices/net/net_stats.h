/* Counters of the network device's thread, for explaining throughput:
 * wake-ups, guest notifications (kicks), interrupts and backend syscalls.
 * Only the device's thread touches them (plain increments); with
 * CELLVM_NET_STATS set in its environment the device logs them, cumulative,
 * each time it has been idle for NET_STATS_IDLE_MS after some work
 * (tools/bench/net_bench.sh reads them between transfers). */
#ifndef CELLVM_DEVICES_NET_NET_STATS_H
#define CELLVM_DEVICES_NET_NET_STATS_H

#include <stddef.h>
#include <stdint.h>

#define NET_STATS_IDLE_MS 700

struct net_stats {
	uint64_t polls;     /* poll() calls */
	uint64_t sleeps;    /* ... of which could sleep (timeout not 0) */
	uint64_t rx_kicks;  /* receive queue notifications (guest added buffers) */
	uint64_t tx_kicks;  /* transmit queue notifications */
	uint64_t rx_irqs;   /* interrupts for the receive queue */
	uint64_t tx_irqs;   /* ... for the transmit queue */
	uint64_t rx_reads;  /* reads from the backend */
	uint64_t rx_eagain; /* ... that found nothing */
	uint64_t tx_writes; /* writes to the backend */
	uint64_t tx_eagain; /* ... that it refused for now */
};

/* "stats: polls=N ..." with the frame and byte counts given. */
void net_stats_format(const struct net_stats *s, uint64_t rx_frames, uint64_t rx_bytes,
		      uint64_t tx_frames, uint64_t tx_bytes, char *buf, size_t size);

#endif
