/* virtio-scsi request layer tests: requests built as a driver would, split
 * across segments at awkward places; addressing, config space changes of
 * sense_size/cdb_size, short buffers, REPORT LUNS and the control queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/disk/virtio_scsi.h"
#include "tests/unit/image_test_util.h"

#define DISK_SIZE (1u << 20)

struct fx {
	char path[256];
	struct image *img;
	struct scsi_lun lun;
	struct vscsi s;
	uint8_t req[8192];   /* the device-readable bytes of a request */
	size_t req_len;
	uint8_t resp[8192];  /* the device-writable bytes */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	tmp_path(f->path, sizeof(f->path), "vscsi");
	if (truncate(f->path, DISK_SIZE) < 0)
		return -1;
	struct image_options o = { .format = IMAGE_FORMAT_RAW };
	f->img = open_or_die(f->path, &o);
	if (!f->img || scsi_lun_init(&f->lun, f->img, SCSI_MEDIA_DISK, false, "VS1", err,
				     sizeof(err)) < 0)
		return -1;
	vscsi_init(&f->s, 2);
	if (vscsi_attach(&f->s, 0, &f->lun) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	image_close(f->img);
	unlink(f->path);
	free(f);
	return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t rd_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint16_t rd_le16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Builds a cmd request in f->req: LUN for TARGET/LUN as Linux does, the
 * CDB padded to CDB_SIZE, then DOUT. */
static void build(struct fx *f, uint8_t target, uint16_t lun, const uint8_t *cdb,
		  unsigned cdb_len, unsigned cdb_size, const void *dout, size_t dout_len)
{
	uint8_t *p = f->req;

	memset(p, 0, 19 + cdb_size);
	p[0] = 1;
	p[1] = target;
	p[2] = (uint8_t)(lun >> 8 | 0x40);
	p[3] = (uint8_t)lun;
	p[8] = 0x42; /* tag */
	memcpy(p + 19, cdb, cdb_len);
	if (dout_len)
		memcpy(p + 19 + cdb_size, dout, dout_len);
	f->req_len = 19 + cdb_size + dout_len;
}

/* Cuts BUF into segments at the given boundaries (ascending, < LEN). */
static unsigned split(struct iovec *iov, uint8_t *buf, size_t len, const size_t *cuts,
		      unsigned ncuts)
{
	size_t start = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < ncuts; i++) {
		iov[n++] = (struct iovec){ buf + start, cuts[i] - start };
		start = cuts[i];
	}
	iov[n++] = (struct iovec){ buf + start, len - start };
	return n;
}

/* Sends f->req as one segment and IN_LEN bytes of f->resp as one segment. */
static uint32_t send(struct fx *f, size_t in_len)
{
	struct iovec out = { f->req, f->req_len }, in = { f->resp, in_len };
	memset(f->resp, 0xcc, sizeof(f->resp));
	return vscsi_handle_cmd(&f->s, &out, 1, &in, 1);
}

#define RESP_STATUS(f) ((f)->resp[10])
#define RESP_RESPONSE(f) ((f)->resp[11])

static void test_config(void **state)
{
	struct fx *f = *state;
	uint8_t cfg[VSCSI_CONFIG_SIZE];

	vscsi_config_read(&f->s, cfg);
	assert_int_equal(rd_le32(cfg + 0), 2);
	assert_true(rd_le32(cfg + 4) > 0);
	assert_true(rd_le32(cfg + 8) > 0);
	assert_true(rd_le32(cfg + 12) > 0);
	assert_int_equal(rd_le32(cfg + 16), 16);
	assert_int_equal(rd_le32(cfg + 20), 96);
	assert_int_equal(rd_le32(cfg + 24), 32);
	assert_int_equal(rd_le16(cfg + 28), 0);
	assert_int_equal(rd_le16(cfg + 30), VSCSI_MAX_TARGETS - 1);
	assert_int_equal(rd_le32(cfg + 32), 0);
	assert_int_equal(vscsi_features(&f->s), 0);

	/* Read-only fields ignore writes; a write across fields changes only
	 * the writable part; byte-wise writes work. */
	uint8_t junk[36];
	memset(junk, 0x11, sizeof(junk));
	vscsi_config_write(&f->s, 0, junk, 20);
	vscsi_config_write(&f->s, 28, junk, 8);
	vscsi_config_write(&f->s, 36, junk, 4);
	vscsi_config_write(&f->s, UINT32_MAX, junk, 4);
	vscsi_config_read(&f->s, cfg);
	assert_int_equal(rd_le32(cfg + 0), 2);
	assert_int_equal(rd_le16(cfg + 30), VSCSI_MAX_TARGETS - 1);
	assert_int_equal(rd_le32(cfg + 20), 96);
	uint8_t b = 40;
	vscsi_config_write(&f->s, 20, &b, 1);
	uint8_t two[8];
	le32(two, 50);
	le32(two + 4, 24);
	vscsi_config_write(&f->s, 18, junk, 2); /* cfg bytes 18..19 are read-only */
	vscsi_config_write(&f->s, 24, two + 4, 4);
	vscsi_config_read(&f->s, cfg);
	assert_int_equal(rd_le32(cfg + 20), 40);
	assert_int_equal(f->s.sense_size, 40);
	assert_int_equal(rd_le32(cfg + 24), 24);
	assert_int_equal(f->s.cdb_size, 24);
	vscsi_reset(&f->s);
	assert_int_equal(f->s.sense_size, 96);
	assert_int_equal(f->s.cdb_size, 32);

	/* Attach errors. */
	assert_int_equal(vscsi_attach(&f->s, 0, &f->lun), -EEXIST);
	assert_int_equal(vscsi_attach(&f->s, VSCSI_MAX_TARGETS, &f->lun), -EINVAL);
	assert_int_equal(vscsi_attach(&f->s, 1, NULL), -EINVAL);
}

static void test_inquiry_split(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 };
	struct iovec out[8], in[8];

	build(f, 0, 0, cdb, 6, 32, NULL, 0);
	memset(f->resp, 0xcc, sizeof(f->resp));
	/* The header cut inside the LUN, the tag, the CDB; the response cut
	 * inside sense_len, the status and the sense. */
	static const size_t oc[] = { 1, 3, 9, 17, 20, 22 };
	static const size_t ic[] = { 2, 5, 11, 13, 100, 110 };
	unsigned on = split(out, f->req, f->req_len, oc, 6);
	unsigned in_n = split(in, f->resp, 12 + 96 + 96, ic, 6);
	uint32_t used = vscsi_handle_cmd(&f->s, out, on, in, in_n);
	assert_int_equal(used, 12 + 96 + 36);
	assert_int_equal(rd_le32(f->resp), 0);      /* sense_len */
	assert_int_equal(rd_le32(f->resp + 4), 60); /* resid: 96 offered, 36 used */
	assert_int_equal(rd_le16(f->resp + 8), 0);
	assert_int_equal(RESP_STATUS(f), 0);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_OK);
	uint8_t *data = f->resp + 12 + 96;
	assert_int_equal(data[0], 0x00);
	assert_memory_equal(data + 8, "CELLVM  ", 8);
	assert_int_equal(data[36], 0xcc);
	/* The unused sense area is zeroed, not left with old bytes. */
	for (int i = 0; i < 96; i++)
		assert_int_equal(f->resp[12 + i], 0);
}

static void test_write_read(void **state)
{
	struct fx *f = *state;
	uint8_t data[1024], rd[1024], cdb[10] = { 0x2a, 0, 0, 0, 0, 9, 0, 0, 2, 0 };
	struct iovec out[4], in[4];

	fill_pattern(data, sizeof(data), 77);
	build(f, 0, 0, cdb, 10, 32, data, sizeof(data));
	static const size_t oc[] = { 30, 52, 600 }; /* data-out starts at 51 */
	unsigned on = split(out, f->req, f->req_len, oc, 3);
	struct iovec resp = { f->resp, 108 };
	assert_int_equal(vscsi_handle_cmd(&f->s, out, on, &resp, 1), 108);
	assert_int_equal(RESP_RESPONSE(f), 0);
	assert_int_equal(RESP_STATUS(f), 0);
	assert_int_equal(rd_le32(f->resp + 4), 0);
	assert_int_equal(image_read(f->img, rd, sizeof(rd), 9 * 512), 0);
	assert_memory_equal(rd, data, sizeof(data));

	/* READ back with data-in split right after the response header. */
	cdb[0] = 0x28;
	build(f, 0, 0, cdb, 10, 32, NULL, 0);
	memset(f->resp, 0, sizeof(f->resp));
	static const size_t ic[] = { 108, 109, 700 };
	unsigned in_n = split(in, f->resp, 108 + 1024 + 512, ic, 3);
	struct iovec o1 = { f->req, f->req_len };
	assert_int_equal(vscsi_handle_cmd(&f->s, &o1, 1, in, in_n), 108 + 1024);
	assert_int_equal(RESP_STATUS(f), 0);
	assert_int_equal(rd_le32(f->resp + 4), 512); /* resid */
	assert_memory_equal(f->resp + 108, data, sizeof(data));

	/* An error carries its sense. */
	cdb[5] = 0xff;
	cdb[4] = 0xff;
	build(f, 0, 0, cdb, 10, 32, NULL, 0);
	assert_int_equal(send(f, 108 + 1024), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_OK);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(rd_le32(f->resp), 18);
	assert_int_equal(f->resp[12], 0x70);
	assert_int_equal(f->resp[12 + 2], 0x05);
	assert_int_equal(f->resp[12 + 12], 0x21);
	assert_int_equal(rd_le32(f->resp + 4), 1024);
}

static void test_addressing(void **state)
{
	struct fx *f = *state;
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 }, tur[6] = { 0 };

	/* Wrong LUN byte 0. */
	build(f, 0, 0, inq, 6, 32, NULL, 0);
	f->req[0] = 2;
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_BAD_TARGET);
	assert_int_equal(f->resp[108], 0xcc); /* no data */
	/* Target out of range, target with no device. */
	build(f, VSCSI_MAX_TARGETS, 0, inq, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_BAD_TARGET);
	build(f, 3, 0, inq, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_BAD_TARGET);
	/* A device attached there later answers. */
	assert_int_equal(vscsi_attach(&f->s, 3, &f->lun), 0);
	assert_int_equal(send(f, 200), 108 + 36);
	assert_int_equal(RESP_RESPONSE(f), 0);
	assert_int_equal(f->resp[108], 0x00);
	/* LUN 0 in peripheral form (00 00) also addresses LUN 0. */
	f->req[2] = 0;
	assert_int_equal(send(f, 200), 108 + 36);
	assert_int_equal(f->resp[108], 0x00);
	/* LUN 1 of an existing target: qualifier 3 for INQUIRY, an error
	 * for anything else. */
	build(f, 0, 1, inq, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 108 + 36);
	assert_int_equal(RESP_RESPONSE(f), 0);
	assert_int_equal(f->resp[108], 0x7f);
	build(f, 0, 1, tur, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(f->resp[12 + 12], 0x25);
	/* Non-zero bytes 4..7 of the LUN field: no such LUN. */
	build(f, 0, 0, tur, 6, 32, NULL, 0);
	f->req[5] = 1;
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(f->resp[12 + 12], 0x25);
}

static void test_sense_size(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[6] = { 0x02 }, v[4];

	le32(v, 10);
	vscsi_config_write(&f->s, 20, v, 4);
	build(f, 0, 0, cdb, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 22);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(rd_le32(f->resp), 10);
	assert_int_equal(f->resp[12], 0x70);
	assert_int_equal(f->resp[12 + 2], 0x05);
	assert_int_equal(f->resp[22], 0xcc); /* nothing past the 10 sense bytes */

	/* Data-in moves to right after the shorter sense area. */
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	build(f, 0, 0, inq, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 22 + 36);
	assert_memory_equal(f->resp + 22 + 8, "CELLVM", 6);

	/* Zero sense_size: sense_len 0, CHECK CONDITION still reported. */
	le32(v, 0);
	vscsi_config_write(&f->s, 20, v, 4);
	build(f, 0, 0, cdb, 6, 32, NULL, 0);
	assert_int_equal(send(f, 200), 12);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(rd_le32(f->resp), 0);
	/* Larger than the sense we have: zero-filled to the size. */
	le32(v, 200);
	vscsi_config_write(&f->s, 20, v, 4);
	assert_int_equal(send(f, 400), 212);
	assert_int_equal(rd_le32(f->resp), 18);
	assert_int_equal(f->resp[12 + 18], 0);
	assert_int_equal(f->resp[12 + 199], 0);
	assert_int_equal(f->resp[212], 0xcc);
	vscsi_reset(&f->s);
	assert_int_equal(send(f, 400), 108);
}

static void test_cdb_size(void **state)
{
	struct fx *f = *state;
	uint8_t data[512], rd[512], v[4], cdb[10] = { 0x2a, 0, 0, 0, 0, 3, 0, 0, 1, 0 };

	fill_pattern(data, sizeof(data), 123);
	le32(v, 16);
	vscsi_config_write(&f->s, 24, v, 4);
	build(f, 0, 0, cdb, 10, 16, data, sizeof(data));
	assert_int_equal(f->req_len, 19 + 16 + 512);
	assert_int_equal(send(f, 108), 108);
	assert_int_equal(RESP_STATUS(f), 0);
	assert_int_equal(image_read(f->img, rd, 512, 3 * 512), 0);
	assert_memory_equal(rd, data, 512);

	/* The same request read with the default cdb_size would have taken
	 * its data 16 bytes later: the blocks would differ. */
	le32(v, 32);
	vscsi_config_write(&f->s, 24, v, 4);
	cdb[5] = 4;
	build(f, 0, 0, cdb, 10, 16, data, sizeof(data));
	memset(f->req + f->req_len, 0, 16); /* give it 512 bytes after offset 51 */
	f->req_len += 16;
	assert_int_equal(send(f, 108), 108);
	assert_int_equal(RESP_STATUS(f), 0);
	assert_int_equal(image_read(f->img, rd, 512, 4 * 512), 0);
	assert_memory_equal(rd, data + 16, 512 - 16);

	/* A cdb_size too small for the opcode's CDB. */
	le32(v, 6);
	vscsi_config_write(&f->s, 24, v, 4);
	build(f, 0, 0, cdb, 6, 6, data, sizeof(data));
	assert_int_equal(send(f, 108), 108);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(f->resp[12 + 12], 0x24);
}

static void test_short_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };

	/* IN cannot hold the response: nothing written, 0. */
	build(f, 0, 0, inq, 6, 32, NULL, 0);
	assert_int_equal(send(f, 107), 0);
	assert_int_equal(f->resp[0], 0xcc);
	struct iovec out = { f->req, f->req_len };
	assert_int_equal(vscsi_handle_cmd(&f->s, &out, 1, NULL, 0), 0);
	/* OUT shorter than the request header: FAILURE. */
	f->req_len = 19 + 31;
	assert_int_equal(send(f, 200), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_FAILURE);
	assert_int_equal(f->resp[108], 0xcc);
	struct iovec in = { f->resp, 200 };
	assert_int_equal(vscsi_handle_cmd(&f->s, NULL, 0, &in, 1), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_FAILURE);
	/* A READ whose data-in is short: CHECK CONDITION, nothing moved. */
	uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 2, 0 };
	build(f, 0, 0, rd, 10, 32, NULL, 0);
	assert_int_equal(send(f, 108 + 1000), 108);
	assert_int_equal(RESP_STATUS(f), 2);
	assert_int_equal(f->resp[12 + 2], 0x05);
	assert_int_equal(rd_le32(f->resp + 4), 1000);
	assert_int_equal(f->resp[108], 0xcc);
}

static void test_report_luns(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[12] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0 };

	build(f, 0, 0, cdb, 12, 32, NULL, 0);
	assert_int_equal(send(f, 108 + 256), 108 + 16);
	assert_int_equal(RESP_RESPONSE(f), 0);
	assert_int_equal(RESP_STATUS(f), 0);
	const uint8_t *d = f->resp + 108;
	assert_int_equal(d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3], 8);
	for (int i = 4; i < 16; i++)
		assert_int_equal(d[i], 0); /* LUN 0 */
	assert_int_equal(rd_le32(f->resp + 4), 256 - 16);
	/* Allocation length under 16 is refused. */
	cdb[8] = 0;
	cdb[9] = 8;
	build(f, 0, 0, cdb, 12, 32, NULL, 0);
	assert_int_equal(send(f, 108 + 256), 108);
	assert_int_equal(RESP_STATUS(f), 2);
	/* Missing target. */
	cdb[9] = 0;
	cdb[8] = 1;
	build(f, 5, 0, cdb, 12, 32, NULL, 0);
	assert_int_equal(send(f, 108 + 256), 108);
	assert_int_equal(RESP_RESPONSE(f), VIRTIO_SCSI_S_BAD_TARGET);
}

static uint32_t ctrl(struct fx *f, const uint8_t *req, size_t len, size_t in_len)
{
	struct iovec out[2] = { { (void *)req, len > 3 ? 3 : len },
				{ (void *)(req + (len > 3 ? 3 : len)), len > 3 ? len - 3 : 0 } };
	struct iovec in = { f->resp, in_len };
	memset(f->resp, 0xcc, 16);
	return vscsi_handle_ctrl(&f->s, out, 2, &in, 1);
}

static void test_ctrl(void **state)
{
	struct fx *f = *state;
	uint8_t tmf[24] = { 0 };

	le32(tmf, VIRTIO_SCSI_T_TMF);
	tmf[8] = 1;
	tmf[10] = 0x40;
	static const uint32_t ok[] = {
		VIRTIO_SCSI_T_TMF_ABORT_TASK, VIRTIO_SCSI_T_TMF_ABORT_TASK_SET,
		VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET, VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET,
		VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET, VIRTIO_SCSI_T_TMF_QUERY_TASK,
		VIRTIO_SCSI_T_TMF_QUERY_TASK_SET,
	};
	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		le32(tmf + 4, ok[i]);
		assert_int_equal(ctrl(f, tmf, 24, 1), 1);
		assert_int_equal(f->resp[0], VIRTIO_SCSI_S_FUNCTION_COMPLETE);
		assert_int_equal(f->resp[1], 0xcc);
	}
	le32(tmf + 4, 99);
	assert_int_equal(ctrl(f, tmf, 24, 1), 1);
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_FUNCTION_REJECTED);
	le32(tmf + 4, VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET);
	tmf[9] = 7; /* no device */
	assert_int_equal(ctrl(f, tmf, 24, 1), 1);
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_BAD_TARGET);
	tmf[9] = 0;
	tmf[11] = 1; /* LUN 1 */
	assert_int_equal(ctrl(f, tmf, 24, 1), 1);
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_INCORRECT_LUN);
	tmf[11] = 0;
	assert_int_equal(ctrl(f, tmf, 20, 1), 1); /* short request */
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_FAILURE);
	assert_int_equal(ctrl(f, tmf, 24, 0), 0); /* no room for the response */

	/* Asynchronous notification: no events supported. */
	uint8_t an[16] = { 0 };
	le32(an, VIRTIO_SCSI_T_AN_QUERY);
	an[4] = 1;
	an[6] = 0x40;
	le32(an + 12, 0x10 | 0x40); /* media change, multi-host */
	assert_int_equal(ctrl(f, an, 16, 5), 5);
	assert_int_equal(rd_le32(f->resp), 0);
	assert_int_equal(f->resp[4], VIRTIO_SCSI_S_OK);
	le32(an, VIRTIO_SCSI_T_AN_SUBSCRIBE);
	assert_int_equal(ctrl(f, an, 16, 8), 5);
	assert_int_equal(rd_le32(f->resp), 0);
	assert_int_equal(f->resp[4], VIRTIO_SCSI_S_OK);
	assert_int_equal(f->resp[5], 0xcc);
	an[5] = 9;
	assert_int_equal(ctrl(f, an, 16, 5), 5);
	assert_int_equal(f->resp[4], VIRTIO_SCSI_S_BAD_TARGET);
	assert_int_equal(ctrl(f, an, 16, 4), 0);
	/* Unknown type, truncated type. */
	le32(an, 77);
	assert_int_equal(ctrl(f, an, 16, 5), 1);
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_FAILURE);
	assert_int_equal(ctrl(f, an, 2, 5), 1);
	assert_int_equal(f->resp[0], VIRTIO_SCSI_S_FAILURE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inquiry_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_addressing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sense_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cdb_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_luns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ctrl, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
