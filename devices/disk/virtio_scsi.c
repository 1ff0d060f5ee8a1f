/* virtio-scsi request layer (see virtio_scsi.h).
 *
 * Config space (little-endian):
 *   0 num_queues  4 seg_max  8 max_sectors  12 cmd_per_lun  16 event_info_size
 *   20 sense_size  24 cdb_size  28 max_channel (u16)  30 max_target (u16)
 *   32 max_lun
 * Request queue:  out = lun[8] tag(le64) task_attr prio crn cdb[cdb_size] | data-out
 *                 in  = sense_len(le32) resid(le32) status_qualifier(le16) status
 *                       response sense[sense_size] | data-in
 * Every header is copied out of guest memory once before it is looked at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/virtio_scsi.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio_scsi.c assumes a little-endian host"
#endif

#define EVENT_INFO_SIZE 16 /* struct virtio_scsi_event */
#define NO_LUN 0xffffffffu

static void put_le16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

void vscsi_reset(struct vscsi *s)
{
	__atomic_store_n(&s->cdb_size, VSCSI_DEFAULT_CDB_SIZE, __ATOMIC_RELAXED);
	__atomic_store_n(&s->sense_size, VSCSI_DEFAULT_SENSE_SIZE, __ATOMIC_RELAXED);
}

void vscsi_init(struct vscsi *s, unsigned num_request_queues)
{
	memset(s, 0, sizeof(*s));
	s->num_request_queues = num_request_queues ? num_request_queues : 1;
	s->seg_max = 126;
	s->max_sectors = 0xffff;
	s->cmd_per_lun = 128;
	vscsi_reset(s);
}

int vscsi_attach(struct vscsi *s, unsigned target, struct scsi_lun *l)
{
	if (target >= VSCSI_MAX_TARGETS || !l)
		return -EINVAL;
	if (s->target[target])
		return -EEXIST;
	s->target[target] = l;
	return 0;
}

uint64_t vscsi_features(const struct vscsi *s)
{
	(void)s;
	return 0;
}

void vscsi_config_read(struct vscsi *s, uint8_t *cfg)
{
	memset(cfg, 0, VSCSI_CONFIG_SIZE);
	put_le32(cfg + 0, s->num_request_queues);
	put_le32(cfg + 4, s->seg_max);
	put_le32(cfg + 8, s->max_sectors);
	put_le32(cfg + 12, s->cmd_per_lun);
	put_le32(cfg + 16, EVENT_INFO_SIZE);
	put_le32(cfg + 20, __atomic_load_n(&s->sense_size, __ATOMIC_RELAXED));
	put_le32(cfg + 24, __atomic_load_n(&s->cdb_size, __ATOMIC_RELAXED));
	put_le16(cfg + 28, 0);                         /* max_channel */
	put_le16(cfg + 30, VSCSI_MAX_TARGETS - 1);     /* max_target */
	put_le32(cfg + 32, 0);                         /* max_lun */
}

void vscsi_config_write(struct vscsi *s, unsigned off, const void *buf, unsigned len)
{
	uint8_t cfg[VSCSI_CONFIG_SIZE];
	const uint8_t *p = buf;

	if (off >= VSCSI_CONFIG_SIZE)
		return;
	if (len > VSCSI_CONFIG_SIZE - off)
		len = VSCSI_CONFIG_SIZE - off;
	vscsi_config_read(s, cfg);
	/* Only the bytes of sense_size (20..23) and cdb_size (24..27). */
	for (unsigned i = 0; i < len; i++)
		if (off + i >= 20 && off + i < 28)
			cfg[off + i] = p[i];
	__atomic_store_n(&s->sense_size, get_le32(cfg + 20), __ATOMIC_RELAXED);
	__atomic_store_n(&s->cdb_size, get_le32(cfg + 24), __ATOMIC_RELAXED);
}

/* The target's LUN for an 8-byte LUN field, or NULL with *BAD_TARGET set;
 * *LUN is NO_LUN for a LUN address this layer cannot parse. */
static struct scsi_lun *decode_lun(struct vscsi *s, const uint8_t *f, uint32_t *lun)
{
	if (f[0] != 1 || f[1] >= VSCSI_MAX_TARGETS || !s->target[f[1]])
		return NULL;
	if (f[4] | f[5] | f[6] | f[7])
		*lun = NO_LUN;
	else if ((f[2] & 0xc0) == 0x40)          /* flat space addressing */
		*lun = (uint32_t)(f[2] & 0x3f) << 8 | f[3];
	else if (f[2] == 0)                      /* peripheral device addressing, bus 0 */
		*lun = f[3];
	else
		*lun = NO_LUN;
	return s->target[f[1]];
}

/* The part of IOV from byte OFF on, into DST (room for NUM entries);
 * returns the number of entries. */
static unsigned iov_slice(const struct iovec *iov, unsigned num, uint64_t off,
			  struct iovec *dst)
{
	unsigned n = 0;

	for (unsigned i = 0; i < num; i++) {
		uint64_t len = iov[i].iov_len;
		if (off >= len) {
			off -= len;
			continue;
		}
		dst[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[n].iov_len = (size_t)(len - off);
		n++;
		off = 0;
	}
	return n;
}

#define SLICE_STACK 32

uint32_t vscsi_handle_cmd(struct vscsi *s, const struct iovec *out, unsigned out_num,
			  const struct iovec *in, unsigned in_num)
{
	uint32_t cdb_size = __atomic_load_n(&s->cdb_size, __ATOMIC_RELAXED);
	uint32_t sense_size = __atomic_load_n(&s->sense_size, __ATOMIC_RELAXED);
	uint64_t resp_len = VSCSI_CMD_RESP_HDR + (uint64_t)sense_size;
	uint64_t req_len = VSCSI_CMD_REQ_HDR + (uint64_t)cdb_size;
	uint64_t in_total = iov_bytes(in, in_num), out_total = iov_bytes(out, out_num);
	struct iovec dout_stack[SLICE_STACK], din_stack[SLICE_STACK];
	struct iovec *dout = dout_stack, *din = din_stack;
	uint8_t hdr[VSCSI_CMD_REQ_HDR], cdb[SCSI_CDB_MAX] = { 0 };
	uint8_t resp[VSCSI_CMD_RESP_HDR] = { 0 };
	struct scsi_req r = { 0 };
	uint8_t response = VIRTIO_SCSI_S_OK;
	uint64_t resid = 0;
	struct scsi_lun *l;
	uint32_t lun;

	if (in_total < resp_len)
		return 0;
	if (out_total < req_len) {
		response = VIRTIO_SCSI_S_FAILURE;
		goto respond;
	}
	iov_to_buf(out, out_num, 0, hdr, sizeof(hdr));
	r.cdb_len = cdb_size < SCSI_CDB_MAX ? cdb_size : SCSI_CDB_MAX;
	iov_to_buf(out, out_num, sizeof(hdr), cdb, r.cdb_len);
	r.cdb = cdb;
	l = decode_lun(s, hdr, &lun);
	if (!l) {
		response = VIRTIO_SCSI_S_BAD_TARGET;
		goto respond;
	}
	if (out_num > SLICE_STACK)
		dout = malloc(sizeof(*dout) * out_num);
	if (in_num > SLICE_STACK)
		din = malloc(sizeof(*din) * in_num);
	if (!dout || !din) {
		response = VIRTIO_SCSI_S_FAILURE;
		goto respond;
	}
	r.dout_num = iov_slice(out, out_num, req_len, dout);
	r.din_num = iov_slice(in, in_num, resp_len, din);
	r.dout = dout;
	r.din = din;
	if (r.cdb_len && cdb[0] == 0xa0 && lun != NO_LUN) {
		static const uint16_t lun0 = 0;
		scsi_report_luns(&r, &lun0, 1);
	} else if (lun == 0) {
		scsi_lun_execute(l, &r);
	} else {
		scsi_no_lun_execute(&r);
	}
	/* The residual of the direction that carries data. */
	if (in_total > resp_len)
		resid = in_total - resp_len - r.din_written;
	else if (out_total > req_len)
		resid = out_total - req_len - r.dout_used;
respond:
	if (dout != dout_stack)
		free(dout);
	if (din != din_stack)
		free(din);
	{
		uint32_t sense_len = r.sense_len < sense_size ? r.sense_len : sense_size;
		if (sense_len > SCSI_SENSE_MAX)
			sense_len = SCSI_SENSE_MAX;
		put_le32(resp, sense_len);
		put_le32(resp + 4, resid > UINT32_MAX ? UINT32_MAX : (uint32_t)resid);
		put_le16(resp + 8, 0); /* status_qualifier */
		resp[10] = r.status;
		resp[11] = response;
		iov_from_buf(in, in_num, 0, resp, sizeof(resp));
		iov_from_buf(in, in_num, sizeof(resp), r.sense, sense_len);
		iov_fill(in, in_num, sizeof(resp) + sense_len, 0, sense_size - sense_len);
	}
	uint64_t used = resp_len + r.din_written;
	return used > UINT32_MAX ? UINT32_MAX : (uint32_t)used;
}

/* Control queue: TMF request = type(le32) subtype(le32) lun[8] tag(le64),
 * response = response(u8); AN request = type(le32) lun[8] event_requested(le32),
 * response = event_actual(le32) response(u8). */
uint32_t vscsi_handle_ctrl(struct vscsi *s, const struct iovec *out, unsigned out_num,
			   const struct iovec *in, unsigned in_num)
{
	uint64_t in_total = iov_bytes(in, in_num), out_total = iov_bytes(out, out_num);
	uint8_t req[24] = { 0 }, resp[5] = { 0 };
	uint32_t lun;

	if (out_total < 4) {
		if (in_total < 1)
			return 0;
		resp[0] = VIRTIO_SCSI_S_FAILURE;
		iov_from_buf(in, in_num, 0, resp, 1);
		return 1;
	}
	iov_to_buf(out, out_num, 0, req, sizeof(req));
	switch (get_le32(req)) {
	case VIRTIO_SCSI_T_TMF: {
		if (in_total < 1)
			return 0;
		uint32_t subtype = get_le32(req + 4);
		struct scsi_lun *l = decode_lun(s, req + 8, &lun);
		if (out_total < 24)
			resp[0] = VIRTIO_SCSI_S_FAILURE;
		else if (!l)
			resp[0] = VIRTIO_SCSI_S_BAD_TARGET;
		else if (lun != 0 && subtype != VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET)
			resp[0] = VIRTIO_SCSI_S_INCORRECT_LUN;
		else if (subtype > VIRTIO_SCSI_T_TMF_QUERY_TASK_SET ||
			 subtype == VIRTIO_SCSI_T_TMF_CLEAR_ACA)
			resp[0] = VIRTIO_SCSI_S_FUNCTION_REJECTED; /* no ACA, no such TMF */
		else
			/* Requests complete synchronously: nothing to abort,
			 * no task to find, resets have nothing to do. */
			resp[0] = VIRTIO_SCSI_S_FUNCTION_COMPLETE;
		iov_from_buf(in, in_num, 0, resp, 1);
		return 1;
	}
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE:
		if (in_total < 5)
			return 0;
		/* event_actual 0: no asynchronous notification is supported. */
		if (out_total < 16)
			resp[4] = VIRTIO_SCSI_S_FAILURE;
		else if (!decode_lun(s, req + 4, &lun))
			resp[4] = VIRTIO_SCSI_S_BAD_TARGET;
		else
			resp[4] = VIRTIO_SCSI_S_OK;
		iov_from_buf(in, in_num, 0, resp, 5);
		return 5;
	default:
		if (in_total < 1)
			return 0;
		resp[0] = VIRTIO_SCSI_S_FAILURE;
		iov_from_buf(in, in_num, 0, resp, 1);
		return 1;
	}
}
