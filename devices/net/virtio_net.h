/* virtio-net requests (VIRTIO 1.2, section 5.1): the request layer of a
 * network device, without transport, threads, sockets or allocation.
 *
 * The net device process pops chains from its queues and hands them here:
 *   transmit queue  -> vnet_tx_iov: copies and checks the guest's vnet header
 *                      and points at the frame in guest memory for the
 *                      backend (vnet_tx_copy: header + frame copied)
 *   receive queue   -> vnet_rx_place: puts a packet from the backend into one
 *                      chain, or several with MRG_RXBUF, all or nothing
 *   control queue   -> vnet_handle_ctrl: one command, writes the ack byte
 * The device is modern only (VIRTIO_F_VERSION_1), so every vnet header, in
 * both directions, is 12 bytes: flags, gso_type, le16 hdr_len, gso_size,
 * csum_start, csum_offset, num_buffers.
 *
 * Guest memory is hostile: everything is copied out of the iovecs before it
 * is checked (vnet_tx_copy checks the copy it hands back, so a guest that
 * rewrites its buffer meanwhile cannot slip anything past), and nothing
 * outside the given iovecs is read or written.
 *
 * Features (vnet_init): MAC, STATUS, CTRL_VQ, CTRL_RX, CTRL_RX_EXTRA,
 * CTRL_VLAN, CTRL_MAC_ADDR, GUEST_ANNOUNCE and MRG_RXBUF always; MTU when an
 * MTU is given; MQ when max_pairs > 1; the offloads (CSUM, GUEST_CSUM,
 * HOST_ and GUEST_ TSO4/TSO6/ECN/UFO) only those the backend can take and
 * whose spec dependencies are offered too (TSO/UFO need the matching CSUM,
 * ECN needs a TSO); CTRL_GUEST_OFFLOADS when a GUEST_ offload is offered.
 * The transport adds VERSION_1 and the ring features.
 *
 * Offloads, the backend contract:
 *   TX: a frame handed on may carry NEEDS_CSUM / GSO only as far as the
 *       negotiated CSUM / HOST_* bits allow; so a backend offering none
 *       (a stream socket) only ever gets complete frames behind an all-zero
 *       header.
 *   RX: n->guest_offloads (the negotiated GUEST_* bits, then whatever
 *       CTRL_GUEST_OFFLOADS_SET chose) is what the guest takes now; the
 *       device must tell the backend (a TAP: TUNSETOFFLOAD) after
 *       vnet_set_features and after a control command that changed it
 *       (vnet_handle_ctrl_res reports it).  A packet using an offload the
 *       guest does not take is dropped by vnet_rx_place.
 *
 * Receive filter.  Defaults (vnet_init and vnet_reset): accept frames to our
 * MAC, broadcast and all multicast; promiscuous off; tables empty; no VLAN
 * in the VLAN table.  This is what a guest without CTRL_RX gets, and what a
 * Linux guest starts from: it sets its real mode (PROMISC, ALLMULTI,
 * MAC_TABLE_SET) as soon as the interface is up.  With CTRL_VLAN negotiated,
 * tagged frames (ethertype 0x8100) pass only for VIDs added with VLAN_ADD
 * (untagged ones always pass); without it, VLANs are not filtered.  The
 * order: promiscuous accepts everything; then the VLAN filter; then
 * broadcast (unless NOBCAST); multicast (NOMULTI: none; ALLMULTI or
 * mc_overflow: all; else the mc table); unicast (NOUNI: none; ALLUNI or
 * uc_overflow: all; else our MAC and the uc table).  Frames shorter than an
 * Ethernet header (14 bytes) are never wanted.
 *
 * Threads: vnet_tx_copy and vnet_tx_iov may run concurrently with vnet_rx_place and
 * vnet_rx_wanted (the counters are atomic and TX reads only the negotiated
 * features).  The receive filter and guest_offloads are written by
 * vnet_handle_ctrl and read by vnet_rx_*: the device must not run a control
 * command at the same time as a receive (e.g. serve the control queue and
 * the receive side on one thread).  vnet_set_features and vnet_reset are
 * for a quiet device (no queue being served).
 */
#ifndef CELLVM_DEVICES_NET_VIRTIO_NET_H
#define CELLVM_DEVICES_NET_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VIRTIO_ID_NET 1
#define VNET_HDR_LEN 12
#define VNET_CONFIG_SIZE 12
#define VNET_ETH_HLEN 14
#define VNET_MAX_FRAME (65536 + 14 + 4) /* a GSO frame of up to 64 KiB plus Ethernet + VLAN */
/* The buffer vnet_tx_copy needs for any frame it accepts. */
#define VNET_TX_BUF_SIZE (VNET_HDR_LEN + VNET_MAX_FRAME)
#define VNET_MAC_TABLE_MAX 64
/* Most chains one received packet may take with MRG_RXBUF (Linux's
 * mergeable buffers are >= 1.5 KiB, so a 64 KiB packet takes ~45). */
#define VNET_RX_MAX_CHAINS 1024
#define VNET_MAX_PAIRS 0x8000

/* Feature bit numbers. */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS 2
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17
#define VIRTIO_NET_F_CTRL_RX 18
#define VIRTIO_NET_F_CTRL_VLAN 19
#define VIRTIO_NET_F_CTRL_RX_EXTRA 20
#define VIRTIO_NET_F_GUEST_ANNOUNCE 21
#define VIRTIO_NET_F_MQ 22
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23

#define VNET_BIT(f) (1ull << (f))
/* The offload bits vnet_init's backend_offloads may hold. */
#define VNET_HOST_OFFLOADS                                                                      \
	(VNET_BIT(VIRTIO_NET_F_CSUM) | VNET_BIT(VIRTIO_NET_F_HOST_TSO4) |                       \
	 VNET_BIT(VIRTIO_NET_F_HOST_TSO6) | VNET_BIT(VIRTIO_NET_F_HOST_ECN) |                   \
	 VNET_BIT(VIRTIO_NET_F_HOST_UFO))
/* The bits CTRL_GUEST_OFFLOADS_SET may hold (the same numbers as features). */
#define VNET_GUEST_OFFLOADS                                                                     \
	(VNET_BIT(VIRTIO_NET_F_GUEST_CSUM) | VNET_BIT(VIRTIO_NET_F_GUEST_TSO4) |                \
	 VNET_BIT(VIRTIO_NET_F_GUEST_TSO6) | VNET_BIT(VIRTIO_NET_F_GUEST_ECN) |                 \
	 VNET_BIT(VIRTIO_NET_F_GUEST_UFO))
#define VNET_ALL_OFFLOADS (VNET_HOST_OFFLOADS | VNET_GUEST_OFFLOADS)

/* vnet header. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

/* Config status bits. */
#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_S_ANNOUNCE 2

/* Control queue. */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_RX_ALLUNI 2
#define VIRTIO_NET_CTRL_RX_NOMULTI 3
#define VIRTIO_NET_CTRL_RX_NOUNI 4
#define VIRTIO_NET_CTRL_RX_NOBCAST 5
#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1
#define VIRTIO_NET_CTRL_VLAN 2
#define VIRTIO_NET_CTRL_VLAN_ADD 0
#define VIRTIO_NET_CTRL_VLAN_DEL 1
#define VIRTIO_NET_CTRL_ANNOUNCE 3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK 0
#define VIRTIO_NET_CTRL_MQ 4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0

struct vnet_hdr {
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
}; /* host order */

void vnet_hdr_parse(const uint8_t raw[VNET_HDR_LEN], struct vnet_hdr *h);
void vnet_hdr_build(const struct vnet_hdr *h, uint8_t raw[VNET_HDR_LEN]);

/* Counters (vnet_get_stats).  Every frame/packet ends in exactly one of
 * frames, malformed, too_big (and, RX only, filtered, no_buffers). */
struct vnet_stats {
	uint64_t tx_frames, tx_bytes;  /* accepted (vnet_tx_copy/_accepted); frame bytes */
	uint64_t tx_malformed;         /* -EINVAL */
	uint64_t tx_too_big;           /* -EMSGSIZE */
	uint64_t rx_frames, rx_bytes;  /* placed by vnet_rx_place */
	uint64_t rx_malformed;         /* -EINVAL: bad header from the backend / offload not taken */
	uint64_t rx_filtered;          /* -EINVAL: not wanted by the receive filter */
	uint64_t rx_too_big;           /* -EMSGSIZE: does not fit the buffers the guest gives */
	uint64_t rx_no_buffers;        /* 0 returned (the caller retries; counted each time) */
	uint64_t rx_broken;            /* -EIO */
	uint64_t ctrl_ok, ctrl_err;    /* acks written */
	uint64_t ctrl_no_ack;          /* commands without room for the ack */
};

struct vnet {
	uint8_t mac[6];
	bool link_up;
	uint16_t mtu;
	uint64_t offered, features; /* offered to the driver; negotiated (set with vnet_set_features) */
	/* receive filter, as the control queue sets it */
	bool promisc, allmulti, alluni, nomulti, nouni, nobcast;
	uint8_t uc[VNET_MAC_TABLE_MAX][6], mc[VNET_MAC_TABLE_MAX][6];
	unsigned nuc, nmc;
	bool uc_overflow, mc_overflow; /* table too big: accept all of that kind, as the spec allows */
	uint64_t vlans[64];            /* bitmap of 4096 vids, when CTRL_VLAN is negotiated */
	uint64_t guest_offloads;       /* the GUEST_* bits the guest takes now */
	/* additions */
	uint8_t perm_mac[6];      /* vnet_init's MAC: what vnet_reset goes back to */
	bool announce;            /* VIRTIO_NET_S_ANNOUNCE pending (vnet_announce) */
	uint16_t max_pairs;       /* config max_virtqueue_pairs */
	uint16_t pairs;           /* queue pairs in use (MQ_VQ_PAIRS_SET); 1 after reset */
	struct vnet_stats stats;  /* updated atomically; read with vnet_get_stats */
};

/* backend_offloads: which of VNET_ALL_OFFLOADS the backend can take (a TAP
 * with vnet headers: all; a stream socket: none); other bits are ignored.
 * mtu: 68..65535 offers VIRTIO_NET_F_MTU with it; 0 (or anything below 68)
 * offers no MTU and the config shows 1500.  The link starts up. */
void vnet_init(struct vnet *n, const uint8_t mac[6], uint16_t mtu, uint64_t backend_offloads);
/* The same with MAX_PAIRS queue pairs (1..VNET_MAX_PAIRS; MQ offered when > 1). */
void vnet_init_mq(struct vnet *n, const uint8_t mac[6], uint16_t mtu, uint64_t backend_offloads,
		  uint16_t max_pairs);

/* Whether NEGOTIATED (what the driver wrote, transport bits included) is a
 * set the spec allows: a subset of what we offered plus bits 24..63, with
 * every device feature's dependencies (CTRL_* on CTRL_VQ, TSO/UFO on CSUM,
 * ECN on TSO, ...).  For the transport's FEATURES_OK check. */
bool vnet_features_ok(const struct vnet *n, uint64_t negotiated);
/* Records the negotiated features (device bits not offered are dropped) and
 * sets guest_offloads to the negotiated GUEST_* bits, as the spec says. */
void vnet_set_features(struct vnet *n, uint64_t negotiated);
/* Driver reset: features 0, the receive filter back to the defaults above,
 * the MAC back to vnet_init's, no VLANs, no guest offloads, one queue pair,
 * no announce pending.  link_up (host state) and the counters stay. */
void vnet_reset(struct vnet *n);
/* Host side: asks the guest to announce itself (after migration): sets
 * VIRTIO_NET_S_ANNOUNCE in the status when GUEST_ANNOUNCE is negotiated and
 * returns true (the device then raises a config interrupt); else false.  The
 * driver clears it with ANNOUNCE_ACK. */
bool vnet_announce(struct vnet *n);

/* struct virtio_net_config, little-endian: mac[6] (offset 0), le16 status
 * (6: LINK_UP, ANNOUNCE), le16 max_virtqueue_pairs (8), le16 mtu (10). */
void vnet_config(const struct vnet *n, uint8_t cfg[VNET_CONFIG_SIZE]);

/* TX: a chain popped from a transmit queue (device-readable `out` segments:
 * vnet header, then the frame, split anywhere; writable segments, if any, are
 * the caller's to ignore: the used length of a TX chain is 0).  Copies header
 * + frame into BUF (at most CAP bytes; VNET_TX_BUF_SIZE always does) and
 * checks the copy against the negotiated features:
 *  - the frame is at least 14 bytes (an Ethernet header), at most VNET_MAX_FRAME;
 *  - flags: NEEDS_CSUM only with CSUM negotiated and csum_start + csum_offset
 *    + 2 <= frame length; DATA_VALID (meaningless on TX) is cleared; other
 *    bits are refused;
 *  - gso_type: NONE, or TCPV4 / TCPV6 / UDP with HOST_TSO4 / HOST_TSO6 /
 *    HOST_UFO negotiated, with ECN only on TCP with HOST_ECN; a GSO frame
 *    needs gso_size != 0 and hdr_len < frame length (NEEDS_CSUM is not
 *    required: Linux always sets it, and a TAP copes without);
 *  - hdr_len <= frame length in any case.
 * The header left in BUF is rebuilt from the checked fields: for a non-GSO
 * frame gso_size and hdr_len are 0, csum_start/offset are 0 without
 * NEEDS_CSUM, num_buffers is 0.  Returns the bytes written into BUF (12 +
 * frame), -EINVAL (malformed: drop it, counted), -EMSGSIZE (frame over
 * VNET_MAX_FRAME or over CAP: drop it, counted).  BUF is scratch on failure. */
ssize_t vnet_tx_copy(struct vnet *n, const struct iovec *out, unsigned out_num, uint8_t *buf,
		     size_t cap);

/* The same checks without copying the frame: the 12-byte header is copied
 * into HDR and checked and rebuilt there, as above; IOV[0] points at HDR and
 * IOV[1..] at the frame's bytes where they are in OUT (guest memory, which
 * the guest may still change: only the header is parsed here; the backend
 * copes with any frame bytes).  Returns the number of iovecs (at most
 * IOV_CAP) and the bytes in *LEN; -EINVAL / -EMSGSIZE as vnet_tx_copy
 * (counted); -E2BIG when the frame needs more than IOV_CAP iovecs (not
 * counted: use vnet_tx_copy).  A frame it accepts is counted only by
 * vnet_tx_accepted(N, *LEN), once the device has handed it on (a device
 * that gives the chain back to retry later counts it then). */
int vnet_tx_iov(struct vnet *n, const struct iovec *out, unsigned out_num,
		uint8_t hdr[VNET_HDR_LEN], struct iovec *iov, unsigned iov_cap, size_t *len);
void vnet_tx_accepted(struct vnet *n, size_t len);

/* RX filter: does the guest want this Ethernet frame (rules above)? */
bool vnet_rx_wanted(const struct vnet *n, const uint8_t *frame, size_t len);

/* RX: place one received packet: PKT is the 12-byte vnet header from the
 * backend (all zero for a backend without offloads; num_buffers is ignored)
 * followed by the frame.
 *
 * The caller supplies buffers one chain at a time through ops->next, which
 * pops the next available rx chain and returns > 0 with its writable iovecs
 * and head, 0 when the queue is empty, < 0 when it is broken.  The iovecs
 * need to stay valid only until the next call of `next` (or the return).
 * Without MRG_RXBUF the packet goes into exactly one chain, which must hold
 * all of it; with MRG_RXBUF across as many chains as needed (each must have
 * at least 12 writable bytes, as the spec requires of the driver), and
 * num_buffers in the first chain's header says how many (1 without
 * MRG_RXBUF).  Chains are written while they are popped, but reported
 * through ops->used(ctx, head, len) (in pop order, LEN = bytes written into
 * that chain) only once the whole packet is in; if it does not get there,
 * ops->unpop(ctx, k) gives all k popped chains back and used is never
 * called, so a packet is never half-delivered (the guest does not look at a
 * buffer before it is used, so the bytes written meanwhile do not matter).
 *
 * Returns:
 *   > 0       the number of chains used; the packet is delivered
 *   0         not enough buffers now (nothing consumed): keep the packet and
 *             retry after the guest adds buffers
 *   -EINVAL   malformed (shorter than 12 + 14, over 12 + VNET_MAX_FRAME,
 *             bad header, or an offload the guest does not take now), or not
 *             wanted by the receive filter: drop it
 *   -EMSGSIZE it does not fit a chain without MRG_RXBUF, or would need more
 *             than VNET_RX_MAX_CHAINS chains: drop it (nothing consumed)
 *   -EIO      `next` failed, or (MRG_RXBUF) a chain had fewer than 12
 *             writable bytes: nothing consumed; the queue or driver is
 *             broken, the device should stop the queue / log
 * Every negative return means "drop it", and nothing is consumed. */
struct vnet_rx_ops {
	int (*next)(void *ctx, struct iovec **in, unsigned *in_num, uint16_t *head);
	void (*unpop)(void *ctx, unsigned nchains); /* give back the last nchains popped but not used */
	void (*used)(void *ctx, uint16_t head, uint32_t len);
};
int vnet_rx_place(struct vnet *n, const uint8_t *pkt, size_t len, const struct vnet_rx_ops *ops,
		  void *ctx);

/* Receive straight into the guest's buffers: the backend has written a
 * packet of LEN bytes, its 12-byte header into HDR (the device's memory)
 * and its frame into the chains C[0..NC) from byte 12 of C[0] on, in order
 * (C[0]'s first 12 bytes are left for the header).  The caller gave the
 * backend at least NET_IO_BUF_MAX bytes of these chains, every one holding
 * at least 12 bytes, and, without MRG_RXBUF, only C[0].  Checks the header,
 * length and receive filter as vnet_rx_place does (the filter reads the
 * frame's first bytes from guest memory, once: a guest that changes them
 * meanwhile only changes what it receives itself); then writes the header
 * (num_buffers: chains used) into C[0] and returns the number of chains
 * used, their lengths in LENS (the caller completes them in order), or
 * -EINVAL (dropped, counted; no chain used). */
struct vnet_rx_chain {
	const struct iovec *in;
	unsigned in_num;
	uint64_t cap; /* bytes of in[] */
};
int vnet_rx_direct(struct vnet *n, const uint8_t hdr[VNET_HDR_LEN], size_t len,
		   const struct vnet_rx_chain *c, unsigned nc, uint32_t *lens);

/* What one control command did, for the device's log and its backend. */
struct vnet_ctrl_result {
	uint8_t cls, cmd;          /* 0xff when the command was too short to have them */
	uint8_t ack;               /* VIRTIO_NET_OK / VIRTIO_NET_ERR; 0xff when not written */
	bool offloads_changed;     /* guest_offloads changed: tell the backend */
	bool mac_changed;          /* n->mac changed: the config changed */
	bool filter_changed;       /* the receive filter changed */
	const char *why;           /* static text when ack is ERR, else NULL */
};

/* Control queue: one command.  out: class (u8), command (u8), data (split
 * anywhere); in: the ack byte is the first byte of the first non-empty in
 * segment.  A command is refused (ERR, nothing changed) when its class'
 * feature is not negotiated (RX: CTRL_RX, and CTRL_RX_EXTRA for ALLUNI..
 * NOBCAST; MAC_TABLE_SET: CTRL_RX; MAC_ADDR_SET: CTRL_MAC_ADDR; VLAN:
 * CTRL_VLAN; ANNOUNCE: GUEST_ANNOUNCE; MQ: MQ; GUEST_OFFLOADS:
 * CTRL_GUEST_OFFLOADS), when its data is not exactly the right length, or
 * has a bad value (a VID >= 4096, a multicast MAC for ADDR_SET, pairs outside
 * 1..max_pairs, offloads not negotiated), and for an unknown class or
 * command.  MAC_TABLE_SET with more than VNET_MAC_TABLE_MAX entries in a
 * table sets that table's overflow flag (and empties it): all of that kind
 * are accepted.  Returns bytes written into in (1: the ack), 0 if there is
 * no room for the ack (then nothing is done). */
uint32_t vnet_handle_ctrl(struct vnet *n, const struct iovec *out, unsigned out_num,
			  const struct iovec *in, unsigned in_num);
uint32_t vnet_handle_ctrl_res(struct vnet *n, const struct iovec *out, unsigned out_num,
			      const struct iovec *in, unsigned in_num,
			      struct vnet_ctrl_result *res);

/* A snapshot of the counters (each read atomically). */
void vnet_get_stats(const struct vnet *n, struct vnet_stats *st);

#endif
