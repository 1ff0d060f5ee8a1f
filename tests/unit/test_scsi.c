/* SCSI target tests: INQUIRY and VPD pages, capacity, block I/O over split
 * iovecs, range and protection errors, CD-ROM (MMC) commands, mode pages,
 * UNMAP/WRITE SAME, I/O errors from the image, short buffers, missing LUNs
 * and several threads on one LUN. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/disk/scsi.h"
#include "tests/unit/image_test_util.h"

struct disk {
	char path[256];
	struct image *img;
	struct scsi_lun lun;
};

/* A raw image of SIZE bytes (sparse) behind a LUN. */
static struct disk *disk_new(uint64_t size, enum scsi_media media, bool readonly)
{
	struct disk *d = calloc(1, sizeof(*d));
	char err[256];

	tmp_path(d->path, sizeof(d->path), "scsi");
	assert_int_equal(truncate(d->path, (off_t)size), 0);
	struct image_options o = { .format = IMAGE_FORMAT_RAW };
	d->img = open_or_die(d->path, &o);
	assert_non_null(d->img);
	assert_int_equal(scsi_lun_init(&d->lun, d->img, media, readonly, "SER-1234", err,
				       sizeof(err)), 0);
	return d;
}

static void disk_free(struct disk *d)
{
	if (d->img)
		image_close(d->img);
	unlink(d->path);
	free(d);
}

/* Runs CDB with one data-in buffer and one data-out buffer (either may be
 * NULL/0). */
static void run(struct scsi_lun *l, struct scsi_req *r, const uint8_t *cdb, unsigned cdb_len,
		void *din, size_t din_len, const void *dout, size_t dout_len)
{
	static __thread struct iovec in, out;

	memset(r, 0xee, sizeof(*r)); /* results must all be set */
	in.iov_base = din;
	in.iov_len = din_len;
	out.iov_base = (void *)dout;
	out.iov_len = dout_len;
	r->cdb = cdb;
	r->cdb_len = cdb_len;
	r->din = &in;
	r->din_num = din ? 1 : 0;
	r->dout = &out;
	r->dout_num = dout ? 1 : 0;
	if (l)
		scsi_lun_execute(l, r);
	else
		scsi_no_lun_execute(r);
}

static void assert_good(const struct scsi_req *r)
{
	if (r->status)
		fprintf(stderr, "sense %x/%02x/%02x\n", r->sense[2], r->sense[12], r->sense[13]);
	assert_int_equal(r->status, 0);
	assert_int_equal(r->sense_len, 0);
}

static void assert_sense(const struct scsi_req *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(r->status, 2);
	assert_true(r->sense_len >= 18);
	assert_int_equal(r->sense[0], 0x70);
	assert_int_equal(r->sense[2] & 0x0f, key);
	assert_int_equal(r->sense[7], 10);
	assert_int_equal(r->sense[12], asc);
	assert_int_equal(r->sense[13], ascq);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void set_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void set_be64(uint8_t *p, uint64_t v)
{
	set_be32(p, (uint32_t)(v >> 32));
	set_be32(p + 4, (uint32_t)v);
}

static void cdb10(uint8_t *c, uint8_t op, uint32_t lba, uint16_t count)
{
	memset(c, 0, 10);
	c[0] = op;
	set_be32(c + 2, lba);
	c[7] = (uint8_t)(count >> 8);
	c[8] = (uint8_t)count;
}

static void cdb16(uint8_t *c, uint8_t op, uint64_t lba, uint32_t count)
{
	memset(c, 0, 16);
	c[0] = op;
	set_be64(c + 2, lba);
	set_be32(c + 10, count);
}

/* --- INQUIRY --------------------------------------------------------------- */

static void test_inquiry_standard(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	struct disk *cd = disk_new(1 << 20, SCSI_MEDIA_CDROM, true);
	struct scsi_req r;
	uint8_t buf[256], cdb[6] = { 0x12, 0, 0, 0, 255, 0 };

	memset(buf, 0xaa, sizeof(buf));
	run(&d->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 36);
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1] & 0x80, 0);
	assert_true(buf[2] >= 0x05); /* SPC-3 or later */
	assert_int_equal(buf[3] & 0x0f, 2);
	assert_int_equal(buf[4], 31);
	assert_memory_equal(buf + 8, "CELLVM  ", 8);
	assert_memory_equal(buf + 16, "VIRTUAL DISK    ", 16);
	assert_int_equal(buf[36], 0xaa);

	run(&cd->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[0], 0x05);
	assert_int_equal(buf[1] & 0x80, 0x80); /* removable */
	assert_memory_equal(buf + 16, "VIRTUAL CD-ROM  ", 16);

	/* Allocation length truncation. */
	memset(buf, 0xaa, sizeof(buf));
	cdb[4] = 5;
	run(&d->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 5);
	assert_int_equal(buf[4], 31);
	assert_int_equal(buf[5], 0xaa);
	/* ... and to the din space. */
	cdb[4] = 255;
	run(&d->lun, &r, cdb, 6, buf, 3, NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 3);
	/* A page code without EVPD is an error. */
	cdb[2] = 0x80;
	run(&d->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	assert_int_equal(r.din_written, 0);
	disk_free(d);
	disk_free(cd);
}

static unsigned vpd(struct scsi_lun *l, uint8_t page, uint8_t *buf)
{
	uint8_t cdb[6] = { 0x12, 0x01, page, 0x01, 0x00, 0 };
	struct scsi_req r;

	memset(buf, 0xaa, 256);
	run(l, &r, cdb, 6, buf, 256, NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[1], page);
	assert_int_equal(be16(buf + 2) + 4, r.din_written);
	return (unsigned)r.din_written;
}

static void test_inquiry_vpd(void **state)
{
	(void)state;
	struct disk *d = disk_new(8 << 20, SCSI_MEDIA_DISK, false);
	uint8_t list[256], buf[256];
	struct scsi_req r;

	unsigned n = vpd(&d->lun, 0x00, list);
	static const uint8_t want[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
	assert_int_equal(n, 4 + sizeof(want));
	assert_memory_equal(list + 4, want, sizeof(want));
	for (unsigned i = 4; i < n; i++)
		vpd(&d->lun, list[i], buf);

	n = vpd(&d->lun, 0x80, buf);
	assert_int_equal(n, 4 + 8);
	assert_memory_equal(buf + 4, "SER-1234", 8);

	/* Device identification: a T10 vendor ID with the serial, an NAA. */
	n = vpd(&d->lun, 0x83, buf);
	bool t10 = false, naa = false;
	for (unsigned off = 4; off + 4 <= n; off += 4 + buf[off + 3]) {
		uint8_t *desc = buf + off;
		assert_true(off + 4 + desc[3] <= n);
		if ((desc[1] & 0x0f) == 1) {
			assert_int_equal(desc[0] & 0x0f, 2); /* ASCII */
			assert_int_equal(desc[3], 16);
			assert_memory_equal(desc + 4, "CELLVM  SER-1234", 16);
			t10 = true;
		}
		if ((desc[1] & 0x0f) == 3) {
			assert_int_equal(desc[0] & 0x0f, 1); /* binary */
			assert_int_equal(desc[3], 8);
			assert_int_equal(desc[4] >> 4, 3);
			naa = true;
		}
	}
	assert_true(t10 && naa);

	n = vpd(&d->lun, 0xb0, buf);
	assert_int_equal(n, 64);
	assert_int_equal(be32(buf + 8), SCSI_MAX_XFER_BLOCKS);
	assert_int_equal(be32(buf + 20), SCSI_MAX_UNMAP_BLOCKS);
	assert_int_equal(be32(buf + 24), SCSI_MAX_UNMAP_DESCRIPTORS);
	assert_int_equal(be64(buf + 36), SCSI_MAX_UNMAP_BLOCKS);
	n = vpd(&d->lun, 0xb1, buf);
	assert_int_equal(n, 64);
	assert_int_equal(be16(buf + 4), 1);
	n = vpd(&d->lun, 0xb2, buf);
	assert_int_equal(n, 8);
	assert_int_equal(buf[5] & 0xc0, 0xc0); /* LBPU, LBPWS */

	/* Unsupported page. */
	uint8_t cdb[6] = { 0x12, 0x01, 0x99, 0, 255, 0 };
	run(&d->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);

	/* A CD lists only the pages it has. */
	struct disk *cd = disk_new(1 << 20, SCSI_MEDIA_CDROM, true);
	n = vpd(&cd->lun, 0x00, list);
	assert_int_equal(n, 7);
	for (unsigned i = 4; i < n; i++)
		vpd(&cd->lun, list[i], buf);
	cdb[2] = 0xb0;
	run(&cd->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	disk_free(cd);
	disk_free(d);
}

/* --- capacity -------------------------------------------------------------- */

static void test_read_capacity(void **state)
{
	(void)state;
	struct disk *d = disk_new(5 << 20, SCSI_MEDIA_DISK, false);
	uint8_t buf[64], cdb[16];
	struct scsi_req r;

	cdb10(cdb, 0x25, 0, 0);
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8);
	assert_int_equal(be32(buf), (5 << 20) / 512 - 1);
	assert_int_equal(be32(buf + 4), 512);

	memset(cdb, 0, 16);
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	set_be32(cdb + 10, 32);
	run(&d->lun, &r, cdb, 16, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 32);
	assert_int_equal(be64(buf), (5 << 20) / 512 - 1);
	assert_int_equal(be32(buf + 8), 512);
	assert_int_equal(buf[14] & 0x80, 0x80); /* LBPME */
	cdb[1] = 0x11;                          /* another service action */
	run(&d->lun, &r, cdb, 16, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	disk_free(d);

	/* Over 2^32 blocks: READ CAPACITY(10) says 0xffffffff. */
	uint64_t big = 3ull << 40;
	d = disk_new(big, SCSI_MEDIA_DISK, true);
	cdb10(cdb, 0x25, 0, 0);
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be32(buf), 0xffffffffu);
	memset(cdb, 0, 16);
	cdb[0] = 0x9e;
	cdb[1] = 0x10;
	cdb[13] = 32;
	run(&d->lun, &r, cdb, 16, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be64(buf), big / 512 - 1);
	assert_int_equal(buf[14] & 0x80, 0); /* read-only: no provisioning */
	disk_free(d);

	/* A disk whose size is not a multiple of 512 is refused. */
	char path[256], err[256];
	struct scsi_lun l;
	tmp_path(path, sizeof(path), "scsiodd");
	assert_int_equal(truncate(path, 1000), 0);
	struct image *img = open_or_die(path, NULL);
	assert_int_equal(scsi_lun_init(&l, img, SCSI_MEDIA_DISK, false, "x", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "multiple"));
	image_close(img);
	unlink(path);
}

/* --- block I/O ------------------------------------------------------------- */

static void test_write_read_split(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	enum { N = 16, BYTES = N * 512 };
	uint8_t *data = malloc(BYTES), *rd = malloc(BYTES + 100), cdb[16];
	struct scsi_req r;

	fill_pattern(data, BYTES, 42);
	/* Data-out split at odd places, with an empty segment. */
	struct iovec out[5] = {
		{ data, 1 }, { data + 1, 0 }, { data + 1, 510 }, { data + 511, 1000 },
		{ data + 1511, BYTES - 1511 },
	};
	cdb10(cdb, 0x2a, 100, N);
	memset(&r, 0, sizeof(r));
	r.cdb = cdb;
	r.cdb_len = 10;
	r.dout = out;
	r.dout_num = 5;
	scsi_lun_execute(&d->lun, &r);
	assert_good(&r);
	assert_int_equal(r.dout_used, BYTES);
	assert_int_equal(r.din_written, 0);
	assert_int_equal(image_read(d->img, rd, BYTES, 100 * 512), 0);
	assert_memory_equal(rd, data, BYTES);

	/* READ(16) into differently split din; bytes beyond stay untouched. */
	memset(rd, 0x5a, BYTES + 100);
	struct iovec in[3] = { { rd, 7 }, { rd + 7, 3000 }, { rd + 3007, BYTES + 100 - 3007 } };
	cdb16(cdb, 0x88, 100, N);
	memset(&r, 0, sizeof(r));
	r.cdb = cdb;
	r.cdb_len = 16;
	r.din = in;
	r.din_num = 3;
	scsi_lun_execute(&d->lun, &r);
	assert_good(&r);
	assert_int_equal(r.din_written, BYTES);
	assert_memory_equal(rd, data, BYTES);
	assert_int_equal(rd[BYTES], 0x5a);

	/* READ(6), READ(12), WRITE(6), WRITE(12) address the same blocks. */
	uint8_t c6[6] = { 0x08, 0, 0, 101, 2, 0 };
	run(&d->lun, &r, c6, 6, rd, 1024, NULL, 0);
	assert_good(&r);
	assert_memory_equal(rd, data + 512, 1024);
	uint8_t c12[12] = { 0xa8, 0, 0, 0, 0, 102, 0, 0, 0, 1, 0, 0 };
	run(&d->lun, &r, c12, 12, rd, 512, NULL, 0);
	assert_good(&r);
	assert_memory_equal(rd, data + 1024, 512);
	uint8_t w6[6] = { 0x0a, 0, 0, 7, 1, 0 };
	run(&d->lun, &r, w6, 6, NULL, 0, data, 512);
	assert_good(&r);
	uint8_t w12[12] = { 0xaa, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0 };
	run(&d->lun, &r, w12, 12, NULL, 0, data + 512, 512);
	assert_good(&r);
	assert_int_equal(image_read(d->img, rd, 1024, 7 * 512), 0);
	assert_memory_equal(rd, data, 1024);
	/* Transfer length 0 moves nothing. */
	cdb10(cdb, 0x28, 5, 0);
	run(&d->lun, &r, cdb, 10, rd, 512, NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 0);
	free(data);
	free(rd);
	disk_free(d);
}

static void test_lba_out_of_range(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	uint64_t blocks = (1 << 20) / 512;
	uint8_t buf[1024], cdb[16];
	struct scsi_req r;

	cdb10(cdb, 0x28, (uint32_t)blocks, 1);
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x21, 0x00);
	assert_int_equal(r.din_written, 0);
	cdb10(cdb, 0x28, (uint32_t)blocks - 1, 2); /* runs past the end */
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x21, 0x00);
	cdb10(cdb, 0x28, (uint32_t)blocks - 2, 2); /* the last two blocks are fine */
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	cdb16(cdb, 0x8a, UINT64_MAX, 2); /* LBA + count wraps */
	run(&d->lun, &r, cdb, 16, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x05, 0x21, 0x00);
	cdb16(cdb, 0x88, 1, UINT32_MAX);
	run(&d->lun, &r, cdb, 16, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x21, 0x00);
	cdb10(cdb, 0x2f, (uint32_t)blocks, 1); /* VERIFY too */
	run(&d->lun, &r, cdb, 10, NULL, 0, NULL, 0);
	assert_sense(&r, 0x05, 0x21, 0x00);
	cdb10(cdb, 0x2f, 0, 8);
	run(&d->lun, &r, cdb, 10, NULL, 0, NULL, 0);
	assert_good(&r);
	/* A CDB shorter than its opcode's. */
	cdb10(cdb, 0x28, 0, 1);
	run(&d->lun, &r, cdb, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	disk_free(d);
}

static void test_short_buffers(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	uint8_t buf[4096], cdb[10];
	struct scsi_req r;

	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(image_write(d->img, buf, sizeof(buf), 0), 0);
	/* 8 blocks into 4095 bytes: refused, nothing written. */
	memset(buf, 0x11, sizeof(buf));
	cdb10(cdb, 0x28, 0, 8);
	run(&d->lun, &r, cdb, 10, buf, 4095, NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	assert_int_equal(r.din_written, 0);
	assert_int_equal(buf[0], 0x11);
	/* 8 blocks from 4095 bytes: refused, the image unchanged. */
	cdb10(cdb, 0x2a, 0, 8);
	run(&d->lun, &r, cdb, 10, NULL, 0, buf, 4095);
	assert_sense(&r, 0x05, 0x24, 0x00);
	assert_int_equal(r.dout_used, 0);
	assert_int_equal(image_read(d->img, buf, sizeof(buf), 0), 0);
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(buf[4094], 0x77);
	/* A larger buffer is fine: only the transfer length is used. */
	cdb10(cdb, 0x28, 0, 1);
	run(&d->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 512);
	disk_free(d);
}

static void test_readonly(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, true);
	struct disk *w = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	uint8_t buf[512] = { 1 }, cdb[16];
	struct scsi_req r;

	cdb10(cdb, 0x2a, 0, 1);
	run(&d->lun, &r, cdb, 10, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x07, 0x27, 0x00);
	cdb16(cdb, 0x8a, 0, 1);
	run(&d->lun, &r, cdb, 16, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x07, 0x27, 0x00);
	cdb16(cdb, 0x93, 0, 1);
	cdb[1] = 0x08;
	run(&d->lun, &r, cdb, 16, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x07, 0x27, 0x00);
	cdb10(cdb, 0x42, 0, 24);
	run(&d->lun, &r, cdb, 10, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x07, 0x27, 0x00);

	/* MODE SENSE: WP in the device-specific parameter. */
	uint8_t ms6[6] = { 0x1a, 0, 0x3f, 0, 255, 0 };
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[2] & 0x80, 0x80);
	run(&w->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[2] & 0x80, 0);
	uint8_t ms10[10] = { 0x5a, 0, 0x3f, 0, 0, 0, 0, 1, 0, 0 };
	run(&d->lun, &r, ms10, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[3] & 0x80, 0x80);
	run(&w->lun, &r, ms10, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[3] & 0x80, 0);
	/* VPD 0xb2 offers no provisioning on a read-only disk. */
	uint8_t cdb6[6] = { 0x12, 0x01, 0xb2, 0, 255, 0 };
	run(&d->lun, &r, cdb6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[5], 0);
	disk_free(d);
	disk_free(w);
}

/* --- MODE SENSE ------------------------------------------------------------ */

/* Finds page CODE in mode data of LEN bytes after HDR + BD; NULL if absent. */
static const uint8_t *find_page(const uint8_t *buf, unsigned len, unsigned start, uint8_t code)
{
	for (unsigned off = start; off + 2 <= len; off += 2 + buf[off + 1])
		if ((buf[off] & 0x3f) == code)
			return buf + off;
	return NULL;
}

static void test_mode_sense(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	struct disk *cd = disk_new(1 << 20, SCSI_MEDIA_CDROM, true);
	uint8_t buf[256];
	struct scsi_req r;

	uint8_t ms6[6] = { 0x1a, 0, 0x08, 0, 255, 0 };
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[0] + 1, r.din_written);
	assert_int_equal(buf[3], 8); /* block descriptor */
	assert_int_equal(be32(buf + 4 + 4) & 0xffffff, 512);
	assert_int_equal(buf[12], 0x08);
	assert_int_equal(buf[13], 0x12);
	assert_int_equal(buf[14] & 0x04, 0x04); /* WCE */
	assert_int_equal(r.din_written, 4 + 8 + 20);

	ms6[1] = 0x08; /* DBD */
	ms6[2] = 0x3f;
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[3], 0);
	assert_non_null(find_page(buf, (unsigned)r.din_written, 4, 0x08));
	assert_non_null(find_page(buf, (unsigned)r.din_written, 4, 0x01));
	assert_non_null(find_page(buf, (unsigned)r.din_written, 4, 0x0a));
	assert_null(find_page(buf, (unsigned)r.din_written, 4, 0x2a));

	/* Allocation length truncation keeps the full length in the header. */
	ms6[4] = 4;
	memset(buf, 0xaa, sizeof(buf));
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 4);
	assert_true(buf[0] > 3);
	assert_int_equal(buf[4], 0xaa);

	ms6[4] = 255;
	ms6[2] = 0x2a;
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	ms6[2] = 0xc8; /* saved values */
	run(&d->lun, &r, ms6, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x39, 0x00);

	/* CD capabilities page through MODE SENSE(10). */
	uint8_t ms10[10] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 1, 0, 0 };
	run(&cd->lun, &r, ms10, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be16(buf) + 2, r.din_written);
	assert_int_equal(be16(buf + 6), 0);
	const uint8_t *p = find_page(buf, (unsigned)r.din_written, 8, 0x2a);
	assert_non_null(p);
	assert_true(p[2] & 0x08); /* reads DVD-ROM */
	assert_int_equal(p[3], 0); /* writes nothing */

	/* MODE SELECT accepts and consumes the parameter list. */
	uint8_t sel[6] = { 0x15, 0x10, 0, 0, 12, 0 }, param[12] = { 0 };
	run(&d->lun, &r, sel, 6, NULL, 0, param, sizeof(param));
	assert_good(&r);
	assert_int_equal(r.dout_used, 12);
	run(&d->lun, &r, sel, 6, NULL, 0, param, 8);
	assert_sense(&r, 0x05, 0x1a, 0x00);
	disk_free(d);
	disk_free(cd);
}

/* --- misc commands --------------------------------------------------------- */

static void test_misc_commands(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	uint8_t buf[64], cdb[16] = { 0 };
	struct scsi_req r;

	run(&d->lun, &r, cdb, 6, NULL, 0, NULL, 0); /* TEST UNIT READY */
	assert_good(&r);
	cdb10(cdb, 0x35, 0, 0);
	run(&d->lun, &r, cdb, 10, NULL, 0, NULL, 0);
	assert_good(&r);
	cdb16(cdb, 0x91, 0, 0);
	run(&d->lun, &r, cdb, 16, NULL, 0, NULL, 0);
	assert_good(&r);
	uint8_t ss[6] = { 0x1b, 0, 0, 0, 1, 0 }, pa[6] = { 0x1e, 0, 0, 0, 1, 0 };
	run(&d->lun, &r, ss, 6, NULL, 0, NULL, 0);
	assert_good(&r);
	run(&d->lun, &r, pa, 6, NULL, 0, NULL, 0);
	assert_good(&r);

	uint8_t rs[6] = { 0x03, 0, 0, 0, 252, 0 };
	memset(buf, 0xaa, sizeof(buf));
	run(&d->lun, &r, rs, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 18);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[2], 0);

	/* Unknown opcodes, and MMC commands to a disk. */
	uint8_t unk[10] = { 0x02 };
	run(&d->lun, &r, unk, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x20, 0x00);
	unk[0] = 0xff;
	run(&d->lun, &r, unk, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x20, 0x00);
	unk[0] = 0x43;
	run(&d->lun, &r, unk, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x20, 0x00);
	run(&d->lun, &r, unk, 0, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x20, 0x00);
	disk_free(d);
}

static void test_no_lun(void **state)
{
	(void)state;
	uint8_t buf[64], inq[6] = { 0x12, 0, 0, 0, 64, 0 };
	struct scsi_req r;

	run(NULL, &r, inq, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[0], 0x7f);
	assert_int_equal(r.din_written, 36);
	uint8_t rs[6] = { 0x03, 0, 0, 0, 64, 0 };
	run(NULL, &r, rs, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[2], 0x05);
	assert_int_equal(buf[12], 0x25);
	uint8_t tur[6] = { 0 };
	run(NULL, &r, tur, 6, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x25, 0x00);
	uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	run(NULL, &r, rd, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x25, 0x00);
	assert_int_equal(r.din_written, 0);
}

/* --- UNMAP / WRITE SAME ---------------------------------------------------- */

static void test_unmap_write_same(void **state)
{
	(void)state;
	struct disk *d = disk_new(1 << 20, SCSI_MEDIA_DISK, false);
	enum { N = 64 };
	uint8_t *data = malloc(N * 512), *rd = malloc(N * 512), *zero = calloc(1, 4096);
	uint8_t cdb[16], param[64];
	struct scsi_req r;

	fill_pattern(data, N * 512, 9);
	assert_int_equal(image_write(d->img, data, N * 512, 0), 0);

	/* UNMAP blocks 8..15 and 40..41. */
	memset(param, 0, sizeof(param));
	param[1] = 6 + 32;
	param[3] = 32;
	set_be64(param + 8, 8);
	set_be32(param + 16, 8);
	set_be64(param + 24, 40);
	set_be32(param + 32, 2);
	cdb10(cdb, 0x42, 0, 40);
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 40);
	assert_good(&r);
	assert_int_equal(r.dout_used, 40);
	assert_int_equal(image_read(d->img, rd, N * 512, 0), 0);
	assert_memory_equal(rd, data, 8 * 512);
	assert_memory_equal(rd + 8 * 512, zero, 8 * 512);
	assert_memory_equal(rd + 16 * 512, data + 16 * 512, 24 * 512);
	assert_memory_equal(rd + 40 * 512, zero, 2 * 512);
	assert_memory_equal(rd + 42 * 512, data + 42 * 512, 22 * 512);

	/* WRITE SAME(16) with UNMAP and a zero block: zeroes 20..23. */
	cdb16(cdb, 0x93, 20, 4);
	cdb[1] = 0x08;
	run(&d->lun, &r, cdb, 16, NULL, 0, zero, 512);
	assert_good(&r);
	/* WRITE SAME(16) NDOB: zeroes 30..31 with no data-out. */
	cdb16(cdb, 0x93, 30, 2);
	cdb[1] = 0x09;
	run(&d->lun, &r, cdb, 16, NULL, 0, NULL, 0);
	assert_good(&r);
	/* WRITE SAME(10) with data: blocks 50..52 all equal block 0's data. */
	cdb10(cdb, 0x41, 50, 3);
	run(&d->lun, &r, cdb, 10, NULL, 0, data, 512);
	assert_good(&r);
	assert_int_equal(r.dout_used, 512);
	assert_int_equal(image_read(d->img, rd, N * 512, 0), 0);
	assert_memory_equal(rd + 20 * 512, zero, 4 * 512);
	assert_memory_equal(rd + 24 * 512, data + 24 * 512, 6 * 512);
	assert_memory_equal(rd + 30 * 512, zero, 2 * 512);
	for (int i = 50; i < 53; i++)
		assert_memory_equal(rd + i * 512, data, 512);
	assert_memory_equal(rd + 53 * 512, data + 53 * 512, 512);
	/* WRITE SAME with 0 blocks (WSNZ) and with no data. */
	cdb10(cdb, 0x41, 50, 0);
	run(&d->lun, &r, cdb, 10, NULL, 0, data, 512);
	assert_sense(&r, 0x05, 0x24, 0x00);
	cdb10(cdb, 0x41, 50, 1);
	run(&d->lun, &r, cdb, 10, NULL, 0, data, 100);
	assert_sense(&r, 0x05, 0x24, 0x00);

	/* Bad UNMAP parameter lists change nothing. */
	assert_int_equal(image_write(d->img, data, N * 512, 0), 0);
	cdb10(cdb, 0x42, 0, 4); /* shorter than the header */
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 4);
	assert_sense(&r, 0x05, 0x1a, 0x00);
	cdb10(cdb, 0x42, 0, 40); /* dout shorter than the list */
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 30);
	assert_sense(&r, 0x05, 0x1a, 0x00);
	param[3] = 33; /* not whole descriptors */
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 40);
	assert_sense(&r, 0x05, 0x26, 0x00);
	param[3] = 48; /* more descriptors than the list holds */
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 40);
	assert_sense(&r, 0x05, 0x26, 0x00);
	param[3] = 32; /* second descriptor past the end */
	set_be64(param + 24, (1 << 20) / 512 - 1);
	set_be32(param + 32, 2);
	run(&d->lun, &r, cdb, 10, NULL, 0, param, 40);
	assert_sense(&r, 0x05, 0x21, 0x00);
	assert_int_equal(image_read(d->img, rd, N * 512, 0), 0);
	assert_memory_equal(rd, data, N * 512); /* the first was not done either */
	cdb10(cdb, 0x42, 0, 0); /* empty list: nothing to do */
	run(&d->lun, &r, cdb, 10, NULL, 0, NULL, 0);
	assert_good(&r);
	free(data);
	free(rd);
	free(zero);
	disk_free(d);
}

/* --- image errors ---------------------------------------------------------- */

static void test_medium_errors(void **state)
{
	(void)state;
	char path[256], err[256];
	uint8_t buf[512] = { 3 }, cdb[10];
	struct scsi_lun l;
	struct scsi_req r;
	struct image *img;

	tmp_path(path, sizeof(path), "scsierr");
	assert_int_equal(truncate(path, 1 << 20), 0);
	/* A writable image over a read-only fd: every write fails (EBADF). */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	struct image_options o = { .format = IMAGE_FORMAT_RAW };
	assert_int_equal(image_open_fd(fd, path, &o, &img, err, sizeof(err)), 0);
	assert_int_equal(scsi_lun_init(&l, img, SCSI_MEDIA_DISK, false, "e", err, sizeof(err)), 0);
	cdb10(cdb, 0x2a, 0, 1);
	run(&l, &r, cdb, 10, NULL, 0, buf, sizeof(buf));
	assert_sense(&r, 0x03, 0x0c, 0x00);
	cdb10(cdb, 0x28, 0, 1);
	run(&l, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);

	/* Then the image's fd replaced by a write-only one: reads fail. */
	int wfd = open(path, O_WRONLY);
	assert_true(wfd >= 0);
	assert_int_equal(dup2(wfd, fd), fd);
	close(wfd);
	run(&l, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x03, 0x11, 0x00);
	cdb10(cdb, 0x2a, 0, 1);
	run(&l, &r, cdb, 10, NULL, 0, buf, sizeof(buf));
	assert_good(&r);
	image_close(img);
	unlink(path);
}

/* --- CD-ROM ---------------------------------------------------------------- */

static void test_cdrom(void **state)
{
	(void)state;
	uint64_t blocks = 1000;
	struct disk *cd = disk_new(blocks * 2048 + 100, SCSI_MEDIA_CDROM, false);
	uint8_t buf[256], cdb[12];
	struct scsi_req r;

	assert_true(cd->lun.readonly);
	assert_int_equal(cd->lun.block_size, 2048);
	assert_int_equal(cd->lun.blocks, blocks); /* rounded down */
	cdb10(cdb, 0x25, 0, 0);
	run(&cd->lun, &r, cdb, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be32(buf), blocks - 1);
	assert_int_equal(be32(buf + 4), 2048);

	/* READ(10) of block 1 is bytes 2048..4095 of the image. */
	uint8_t *data = malloc(4096), *rd = malloc(2048);
	fill_pattern(data, 4096, 5);
	assert_int_equal(image_write(cd->img, data, 4096, 0), 0);
	cdb10(cdb, 0x28, 1, 1);
	run(&cd->lun, &r, cdb, 10, rd, 2048, NULL, 0);
	assert_good(&r);
	assert_memory_equal(rd, data + 2048, 2048);
	cdb10(cdb, 0x2a, 1, 1);
	run(&cd->lun, &r, cdb, 10, NULL, 0, data, 2048);
	assert_sense(&r, 0x07, 0x27, 0x00);

	/* READ TOC format 0, LBA: track 1 at 0, lead-out at BLOCKS. */
	uint8_t toc[10] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 255, 0 };
	run(&cd->lun, &r, toc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 20);
	assert_int_equal(be16(buf), 18);
	assert_int_equal(buf[2], 1);
	assert_int_equal(buf[3], 1);
	assert_int_equal(buf[5], 0x14);
	assert_int_equal(buf[6], 1);
	assert_int_equal(be32(buf + 8), 0);
	assert_int_equal(buf[14], 0xaa);
	assert_int_equal(be32(buf + 16), blocks);
	/* MSF: 00:02:00 and BLOCKS + 150 frames. */
	toc[1] = 0x02;
	run(&cd->lun, &r, toc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[9], 0);
	assert_int_equal(buf[10], 2);
	assert_int_equal(buf[11], 0);
	uint64_t f = blocks + 150;
	assert_int_equal(buf[17], f / 4500);
	assert_int_equal(buf[18], f / 75 % 60);
	assert_int_equal(buf[19], f % 75);
	/* Only the lead-out; a track that does not exist. */
	toc[6] = 0xaa;
	run(&cd->lun, &r, toc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 12);
	assert_int_equal(buf[6], 0xaa);
	toc[6] = 2;
	run(&cd->lun, &r, toc, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	/* Format 1: session info. */
	toc[1] = 0;
	toc[2] = 1;
	toc[6] = 0;
	run(&cd->lun, &r, toc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 12);
	assert_int_equal(be16(buf), 10);
	assert_int_equal(buf[6], 1);
	assert_int_equal(be32(buf + 8), 0);

	/* GET CONFIGURATION: current profile CD-ROM; the feature list. */
	uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 1, 0, 0 };
	run(&cd->lun, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be32(buf) + 4, r.din_written);
	assert_int_equal(be16(buf + 6), 0x0008);
	unsigned seen = 0;
	for (unsigned off = 8; off + 4 <= r.din_written; off += 4 + buf[off + 3]) {
		uint16_t code = be16(buf + off);
		if (code == 0x0000) {
			/* The profile list marks CD-ROM current. */
			bool cd_cur = false;
			for (unsigned p = off + 4; p < off + 4 + buf[off + 3]; p += 4)
				if (be16(buf + p) == 0x0008)
					cd_cur = buf[p + 2] & 1;
			assert_true(cd_cur);
		}
		if (code == 0x001e)
			assert_int_equal(buf[off + 2] & 1, 1);
		if (code == 0x001f)
			assert_int_equal(buf[off + 2] & 1, 0);
		if (code < 32)
			seen |= 1u << code;
	}
	assert_int_equal(seen, 1u << 0 | 1u << 1 | 1u << 2 | 1u << 3 | 1u << 0x10 |
				       1u << 0x1e | 1u << 0x1f);
	/* RT=2: just the feature asked for; RT=1: only current ones. */
	gc[1] = 2;
	gc[3] = 0x1e;
	run(&cd->lun, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8 + 8);
	assert_int_equal(be16(buf + 8), 0x001e);
	gc[1] = 1;
	gc[3] = 0x1f;
	run(&cd->lun, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8);
	gc[1] = 0;
	gc[3] = 0;
	gc[8] = 8; /* allocation length: the header only */
	gc[7] = 0;
	run(&cd->lun, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8);
	assert_true(be32(buf) > 4);

	/* GET EVENT STATUS NOTIFICATION, polled, media class. */
	uint8_t ge[10] = { 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0 };
	run(&cd->lun, &r, ge, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8);
	assert_int_equal(be16(buf), 6);
	assert_int_equal(buf[2] & 0x07, 4);
	assert_int_equal(buf[3] & 0x10, 0x10);
	assert_int_equal(buf[4] & 0x0f, 0);    /* no event */
	assert_int_equal(buf[5] & 0x02, 0x02); /* media present */
	ge[1] = 0;
	run(&cd->lun, &r, ge, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);

	/* READ DISC INFORMATION, READ TRACK INFORMATION, MECHANISM STATUS. */
	uint8_t di[10] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0 };
	run(&cd->lun, &r, di, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 34);
	assert_int_equal(buf[2] & 0x03, 2); /* complete disc */
	uint8_t ti[10] = { 0x52, 0x01, 0, 0, 0, 1, 0, 0, 36, 0 };
	run(&cd->lun, &r, ti, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be32(buf + 24), blocks);
	ti[5] = 2;
	run(&cd->lun, &r, ti, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x05, 0x24, 0x00);
	uint8_t mech[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0 };
	run(&cd->lun, &r, mech, 12, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(r.din_written, 8);
	/* SBC-only commands are not for a CD. */
	cdb10(cdb, 0x42, 0, 24);
	run(&cd->lun, &r, cdb, 10, NULL, 0, buf, 24);
	assert_sense(&r, 0x05, 0x20, 0x00);
	free(data);
	free(rd);
	disk_free(cd);

	/* A big image is a DVD. */
	cd = disk_new(800ull << 20, SCSI_MEDIA_CDROM, true);
	gc[7] = 1;
	gc[8] = 0;
	run(&cd->lun, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be16(buf + 6), 0x0010);
	disk_free(cd);
}

static void test_cdrom_no_medium(void **state)
{
	(void)state;
	struct scsi_lun l;
	struct scsi_req r;
	char err[128];
	uint8_t buf[64];

	/* A disk needs an image; a CD drive may be empty. */
	assert_int_equal(scsi_lun_init(&l, NULL, SCSI_MEDIA_DISK, false, "d", err, 128), -1);
	assert_int_equal(scsi_lun_init(&l, NULL, SCSI_MEDIA_CDROM, true, "cd", err, 128), 0);
	uint8_t tur[6] = { 0 };
	run(&l, &r, tur, 6, NULL, 0, NULL, 0);
	assert_sense(&r, 0x02, 0x3a, 0x00);
	uint8_t rd[10] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	run(&l, &r, rd, 10, buf, sizeof(buf), NULL, 0);
	assert_sense(&r, 0x02, 0x3a, 0x00);
	uint8_t ge[10] = { 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0 };
	run(&l, &r, ge, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[5] & 0x02, 0);
	uint8_t gc[10] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0 };
	run(&l, &r, gc, 10, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be16(buf + 6), 0);
	uint8_t inq[6] = { 0x12, 0, 0, 0, 36, 0 };
	run(&l, &r, inq, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(buf[0], 0x05);
}

/* A qcow2 image: I/O, unmap granularity from the cluster size, and
 * WRITE SAME with UNMAP reading back zeroes. */
static void test_qcow2_backed(void **state)
{
	(void)state;
	char path[256], err[256];
	struct scsi_lun l;
	struct scsi_req r;
	uint8_t cdb[16], buf[256];
	enum { BYTES = 256 * 512 };
	uint8_t *data = malloc(BYTES), *rd = malloc(BYTES), *zero = calloc(1, BYTES);

	tmp_path(path, sizeof(path), "scsiq");
	assert_int_equal(create_qcow2(path, 4 << 20, 65536, 3, 16), 0);
	struct image *img = open_or_die(path, NULL);
	assert_non_null(img);
	assert_int_equal(scsi_lun_init(&l, img, SCSI_MEDIA_DISK, false, "Q", err, sizeof(err)), 0);
	uint8_t inq[6] = { 0x12, 0x01, 0xb0, 0, 255, 0 };
	run(&l, &r, inq, 6, buf, sizeof(buf), NULL, 0);
	assert_good(&r);
	assert_int_equal(be32(buf + 28), 65536 / 512);

	fill_pattern(data, BYTES, 31);
	cdb16(cdb, 0x8a, 128, 256);
	run(&l, &r, cdb, 16, NULL, 0, data, BYTES);
	assert_good(&r);
	cdb16(cdb, 0x88, 128, 256);
	run(&l, &r, cdb, 16, rd, BYTES, NULL, 0);
	assert_good(&r);
	assert_memory_equal(rd, data, BYTES);
	/* Unmap one whole cluster and a part of the next. */
	cdb16(cdb, 0x93, 128, 200);
	cdb[1] = 0x08;
	run(&l, &r, cdb, 16, NULL, 0, zero, 512);
	assert_good(&r);
	cdb16(cdb, 0x88, 128, 256);
	run(&l, &r, cdb, 16, rd, BYTES, NULL, 0);
	assert_good(&r);
	assert_memory_equal(rd, zero, 200 * 512);
	assert_memory_equal(rd + 200 * 512, data + 200 * 512, 56 * 512);
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	unlink(path);
	free(data);
	free(rd);
	free(zero);
}

/* --- threads --------------------------------------------------------------- */

struct worker {
	struct scsi_lun *lun;
	unsigned id;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t wr[8 * 512], rd[8 * 512], cdb[10];
	uint64_t seed = 1000 + w->id;

	for (int i = 0; i < 300; i++) {
		uint32_t lba = w->id * 256 + (uint32_t)(rng_next(&seed) % 248);
		uint16_t n = (uint16_t)(1 + rng_next(&seed) % 8);
		fill_pattern(wr, n * 512u, seed);
		struct iovec out = { wr, n * 512u }, in = { rd, n * 512u };
		struct scsi_req r = { .cdb = cdb, .cdb_len = 10, .dout = &out, .dout_num = 1 };
		cdb10(cdb, 0x2a, lba, n);
		scsi_lun_execute(w->lun, &r);
		if (r.status)
			w->failures++;
		struct scsi_req q = { .cdb = cdb, .cdb_len = 10, .din = &in, .din_num = 1 };
		cdb10(cdb, 0x28, lba, n);
		scsi_lun_execute(w->lun, &q);
		if (q.status || memcmp(rd, wr, n * 512u))
			w->failures++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct disk *d = disk_new(4 * 256 * 512, SCSI_MEDIA_DISK, false);
	pthread_t t[4];
	struct worker w[4];

	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){ .lun = &d->lun, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	disk_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inquiry_standard),
		cmocka_unit_test(test_inquiry_vpd),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_write_read_split),
		cmocka_unit_test(test_lba_out_of_range),
		cmocka_unit_test(test_short_buffers),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_misc_commands),
		cmocka_unit_test(test_no_lun),
		cmocka_unit_test(test_unmap_write_same),
		cmocka_unit_test(test_medium_errors),
		cmocka_unit_test(test_cdrom),
		cmocka_unit_test(test_cdrom_no_medium),
		cmocka_unit_test(test_qcow2_backed),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
