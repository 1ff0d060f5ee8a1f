/* virtio-net control queue: one command (see vnet_handle_ctrl in
 * virtio_net.h).  The data is read from the guest's segments at fixed
 * offsets, each field once, into locals; a command changes the device only
 * after all of it has been checked, so a refused command changes nothing. */
#include <errno.h>

#include "devices/net/virtio_net.h"
#include "devices/net/vnet_internal.h"

struct cmd {
	struct vnet *n;
	const struct iovec *out;
	unsigned out_num;
	uint64_t dlen; /* data bytes after class and command */
	struct vnet_ctrl_result *res;
};

/* Reads LEN data bytes at OFF into DST; false if they are not all there. */
static bool data(const struct cmd *c, uint64_t off, void *dst, size_t len)
{
	if (off > c->dlen || len > c->dlen - off)
		return false;
	return iov_to_buf(c->out, c->out_num, 2 + off, dst, len) == len;
}

static uint8_t err(struct cmd *c, const char *why)
{
	c->res->why = why;
	return VIRTIO_NET_ERR;
}

static uint8_t do_rx(struct cmd *c, uint8_t cmd)
{
	struct vnet *n = c->n;
	uint8_t on;

	if (!VNET_HAS(n, VIRTIO_NET_F_CTRL_RX))
		return err(c, "CTRL_RX not negotiated");
	if (cmd > VIRTIO_NET_CTRL_RX_ALLMULTI && cmd <= VIRTIO_NET_CTRL_RX_NOBCAST &&
	    !VNET_HAS(n, VIRTIO_NET_F_CTRL_RX_EXTRA))
		return err(c, "CTRL_RX_EXTRA not negotiated");
	if (cmd > VIRTIO_NET_CTRL_RX_NOBCAST)
		return err(c, "unknown RX command");
	if (c->dlen != 1 || !data(c, 0, &on, 1))
		return err(c, "RX command data is not one byte");
	bool v = on != 0;
	bool *f[] = { &n->promisc, &n->allmulti, &n->alluni, &n->nomulti, &n->nouni, &n->nobcast };
	*f[cmd] = v;
	c->res->filter_changed = true;
	return VIRTIO_NET_OK;
}

/* Reads the entry count of a MAC_TABLE_SET table at data offset OFF into
 * *ENTRIES; false if the count or the entries are not all in the data. */
static bool mac_table_len(const struct cmd *c, uint64_t off, uint64_t *entries)
{
	uint8_t raw[4];
	if (!data(c, off, raw, 4))
		return false;
	*entries = vnet_get_le32(raw);
	off += 4;
	return off <= c->dlen && *entries * 6 <= c->dlen - off;
}

/* Stores a table of ENTRIES (already checked) from data offset OFF. */
static void mac_table_store(const struct cmd *c, uint64_t off, uint64_t entries, uint8_t (*t)[6],
			    unsigned *nt, bool *ovf)
{
	memset(t, 0, VNET_MAC_TABLE_MAX * 6);
	if (entries > VNET_MAC_TABLE_MAX) {
		*nt = 0;
		*ovf = true;
		return;
	}
	data(c, off, t, (size_t)entries * 6); /* in the data: checked */
	*nt = (unsigned)entries;
	*ovf = false;
}

static uint8_t do_mac(struct cmd *c, uint8_t cmd)
{
	struct vnet *n = c->n;

	if (cmd == VIRTIO_NET_CTRL_MAC_TABLE_SET) {
		if (!VNET_HAS(n, VIRTIO_NET_F_CTRL_RX))
			return err(c, "MAC_TABLE_SET without CTRL_RX");
		/* Each count is read once: a guest rewriting it meanwhile
		 * cannot make the two passes disagree. */
		uint64_t nuc, nmc;
		if (!mac_table_len(c, 0, &nuc) || !mac_table_len(c, 4 + nuc * 6, &nmc))
			return err(c, "MAC table entries beyond the data");
		if (4 + nuc * 6 + 4 + nmc * 6 != c->dlen)
			return err(c, "bytes after the MAC tables");
		mac_table_store(c, 4, nuc, n->uc, &n->nuc, &n->uc_overflow);
		mac_table_store(c, 4 + nuc * 6 + 4, nmc, n->mc, &n->nmc, &n->mc_overflow);
		c->res->filter_changed = true;
		return VIRTIO_NET_OK;
	}
	if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
		uint8_t mac[6];
		if (!VNET_HAS(n, VIRTIO_NET_F_CTRL_MAC_ADDR))
			return err(c, "MAC_ADDR_SET without CTRL_MAC_ADDR");
		if (c->dlen != 6 || !data(c, 0, mac, 6))
			return err(c, "MAC_ADDR_SET data is not 6 bytes");
		if (mac[0] & 1)
			return err(c, "MAC_ADDR_SET with a multicast address");
		memcpy(n->mac, mac, 6);
		c->res->mac_changed = true;
		c->res->filter_changed = true;
		return VIRTIO_NET_OK;
	}
	return err(c, "unknown MAC command");
}

static uint8_t do_vlan(struct cmd *c, uint8_t cmd)
{
	struct vnet *n = c->n;
	uint8_t raw[2];

	if (!VNET_HAS(n, VIRTIO_NET_F_CTRL_VLAN))
		return err(c, "CTRL_VLAN not negotiated");
	if (cmd != VIRTIO_NET_CTRL_VLAN_ADD && cmd != VIRTIO_NET_CTRL_VLAN_DEL)
		return err(c, "unknown VLAN command");
	if (c->dlen != 2 || !data(c, 0, raw, 2))
		return err(c, "VLAN data is not 2 bytes");
	uint16_t vid = vnet_get_le16(raw);
	if (vid >= 4096)
		return err(c, "VLAN id >= 4096");
	if (cmd == VIRTIO_NET_CTRL_VLAN_ADD)
		n->vlans[vid / 64] |= 1ull << (vid % 64);
	else
		n->vlans[vid / 64] &= ~(1ull << (vid % 64));
	c->res->filter_changed = true;
	return VIRTIO_NET_OK;
}

static uint8_t do_announce(struct cmd *c, uint8_t cmd)
{
	if (!VNET_HAS(c->n, VIRTIO_NET_F_GUEST_ANNOUNCE))
		return err(c, "GUEST_ANNOUNCE not negotiated");
	if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK)
		return err(c, "unknown ANNOUNCE command");
	if (c->dlen != 0)
		return err(c, "ANNOUNCE_ACK with data");
	c->n->announce = false;
	return VIRTIO_NET_OK;
}

static uint8_t do_mq(struct cmd *c, uint8_t cmd)
{
	uint8_t raw[2];

	if (!VNET_HAS(c->n, VIRTIO_NET_F_MQ))
		return err(c, "MQ not negotiated");
	if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET)
		return err(c, "unknown MQ command");
	if (c->dlen != 2 || !data(c, 0, raw, 2))
		return err(c, "VQ_PAIRS_SET data is not 2 bytes");
	uint16_t pairs = vnet_get_le16(raw);
	if (pairs < 1 || pairs > c->n->max_pairs)
		return err(c, "VQ_PAIRS_SET out of range");
	c->n->pairs = pairs;
	return VIRTIO_NET_OK;
}

static uint8_t do_offloads(struct cmd *c, uint8_t cmd)
{
	uint8_t raw[8];

	if (!VNET_HAS(c->n, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS))
		return err(c, "CTRL_GUEST_OFFLOADS not negotiated");
	if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET)
		return err(c, "unknown GUEST_OFFLOADS command");
	if (c->dlen != 8 || !data(c, 0, raw, 8))
		return err(c, "GUEST_OFFLOADS_SET data is not 8 bytes");
	uint64_t v = vnet_get_le64(raw);
	if (v & ~(c->n->features & VNET_GUEST_OFFLOADS))
		return err(c, "GUEST_OFFLOADS_SET with offloads not negotiated");
	if (v != c->n->guest_offloads)
		c->res->offloads_changed = true;
	c->n->guest_offloads = v;
	return VIRTIO_NET_OK;
}

/* The first byte of the first non-empty segment of IN, or NULL. */
static uint8_t *ack_byte(const struct iovec *in, unsigned in_num)
{
	for (unsigned i = 0; i < in_num; i++)
		if (in[i].iov_len)
			return in[i].iov_base;
	return NULL;
}

uint32_t vnet_handle_ctrl_res(struct vnet *n, const struct iovec *out, unsigned out_num,
			      const struct iovec *in, unsigned in_num,
			      struct vnet_ctrl_result *res)
{
	struct vnet_ctrl_result dummy;
	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	res->cls = res->cmd = res->ack = 0xff;

	uint8_t *ack = ack_byte(in, in_num);
	if (!ack) {
		res->why = "no room for the ack";
		VNET_STAT_ADD(n, ctrl_no_ack, 1);
		return 0;
	}
	struct cmd c = { .n = n, .out = out, .out_num = out_num, .res = res };
	uint64_t total = iov_bytes(out, out_num);
	uint8_t hdr[2];
	uint8_t st;
	if (total < 2 || iov_to_buf(out, out_num, 0, hdr, 2) != 2) {
		st = err(&c, "command shorter than class and command");
	} else {
		c.dlen = total - 2;
		res->cls = hdr[0];
		res->cmd = hdr[1];
		switch (hdr[0]) {
		case VIRTIO_NET_CTRL_RX: st = do_rx(&c, hdr[1]); break;
		case VIRTIO_NET_CTRL_MAC: st = do_mac(&c, hdr[1]); break;
		case VIRTIO_NET_CTRL_VLAN: st = do_vlan(&c, hdr[1]); break;
		case VIRTIO_NET_CTRL_ANNOUNCE: st = do_announce(&c, hdr[1]); break;
		case VIRTIO_NET_CTRL_MQ: st = do_mq(&c, hdr[1]); break;
		case VIRTIO_NET_CTRL_GUEST_OFFLOADS: st = do_offloads(&c, hdr[1]); break;
		default: st = err(&c, "unknown class"); break;
		}
	}
	*ack = st;
	res->ack = st;
	if (st == VIRTIO_NET_OK)
		VNET_STAT_ADD(n, ctrl_ok, 1);
	else
		VNET_STAT_ADD(n, ctrl_err, 1);
	return 1;
}

uint32_t vnet_handle_ctrl(struct vnet *n, const struct iovec *out, unsigned out_num,
			  const struct iovec *in, unsigned in_num)
{
	return vnet_handle_ctrl_res(n, out, out_num, in, in_num, NULL);
}
