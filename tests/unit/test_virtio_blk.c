/* virtio-blk requests (devices/disk/virtio_blk.c) over raw and qcow2 images:
 * round trips with the request split across segments anywhere, GET_ID,
 * FLUSH, DISCARD and WRITE_ZEROES, malformed and hostile requests, a
 * read-only disk, the config space and features, and four threads at once.
 *
 * Every segment handed to vblk_handle is its own allocation of exactly its
 * length (zero-length ones have no memory at all), so under ASan any access
 * outside the iovecs is caught. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "devices/disk/virtio_blk.h"
#include "tests/unit/image_test_util.h"

#define DISK_SIZE (4u << 20)
#define SECTORS (DISK_SIZE / 512)
#define MAX_SEGS 64
#define FILL 0xee /* what writable segments hold before a request */

struct disk {
	char dir[256], path[300];
	struct image *img;
	struct vblk b;
};

static void disk_open(struct disk *d, enum image_format fmt, bool readonly_img, bool readonly)
{
	char err[512];
	struct image_options o = { .format = fmt, .readonly = readonly_img };
	assert_int_equal(image_open(d->path, &o, &d->img, err, sizeof(err)), 0);
	assert_int_equal(vblk_init(&d->b, d->img, readonly, "cellvm-test-serial", 1, err,
				   sizeof(err)), 0);
}

static void disk_make(struct disk *d, enum image_format fmt)
{
	char err[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(d->dir, sizeof(d->dir), "%s/cellvm-vblk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/disk.%s", d->dir,
		 fmt == IMAGE_FORMAT_RAW ? "raw" : "qcow2");
	struct image_create_options o = { .format = fmt, .size = DISK_SIZE };
	assert_int_equal(image_create(d->path, &o, err, sizeof(err)), 0);
	disk_open(d, fmt, false, false);
}

static void disk_free(struct disk *d)
{
	if (d->img)
		assert_int_equal(image_close(d->img), 0);
	d->img = NULL;
	unlink(d->path);
	rmdir(d->dir);
}

/* --- building requests -------------------------------------------------------- */

/* Splits LEN bytes into segments of the lengths in CUTS (up to a 0 or the
 * end of the bytes; the rest is one more segment).  Each segment is its own
 * allocation holding its share of SRC (or FILL when SRC is NULL). */
static unsigned split(struct iovec *v, const uint8_t *src, size_t len, const size_t *cuts)
{
	unsigned n = 0;
	size_t off = 0;
	bool rest = true;

	for (; cuts && n < MAX_SEGS - 1; cuts++) {
		if (*cuts == SIZE_MAX) { /* an empty segment */
			v[n].iov_base = NULL;
			v[n++].iov_len = 0;
			continue;
		}
		if (*cuts == 0)
			break;
		size_t l = *cuts < len - off ? *cuts : len - off;
		v[n].iov_base = malloc(l ? l : 1);
		v[n].iov_len = l;
		if (src)
			memcpy(v[n].iov_base, src + off, l);
		else
			memset(v[n].iov_base, FILL, l);
		n++;
		off += l;
		if (off == len) {
			rest = false;
			break;
		}
	}
	if (rest && off < len) {
		v[n].iov_base = malloc(len - off);
		v[n].iov_len = len - off;
		if (src)
			memcpy(v[n].iov_base, src + off, len - off);
		else
			memset(v[n].iov_base, FILL, len - off);
		n++;
	}
	return n;
}

static void gather(uint8_t *dst, const struct iovec *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (v[i].iov_len)
			memcpy(dst, v[i].iov_base, v[i].iov_len);
		dst += v[i].iov_len;
	}
}

static void release(struct iovec *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(v[i].iov_base);
}

/* Serves one request: OUT (OUTLEN bytes) split at OCUTS, a writable area
 * of INLEN bytes (filled with FILL) split at ICUTS, copied back into IN
 * afterwards.  Returns vblk_handle's result. */
static uint32_t serve(struct vblk *b, const void *out, size_t outlen, const size_t *ocuts,
		      uint8_t *in, size_t inlen, const size_t *icuts)
{
	struct iovec ov[MAX_SEGS], iv[MAX_SEGS];
	unsigned on = split(ov, out, outlen, ocuts);
	unsigned in_n = split(iv, NULL, inlen, icuts);
	uint32_t r = vblk_handle(b, ov, on, iv, in_n);
	if (in)
		gather(in, iv, in_n);
	release(ov, on);
	release(iv, in_n);
	return r;
}

static void put_hdr(uint8_t *p, uint32_t type, uint64_t sector)
{
	memset(p, 0, 16);
	memcpy(p, &type, 4);
	memcpy(p + 8, &sector, 8);
}

/* A write of DATA (LEN bytes) at SECTOR; returns the status (or 0x100 + the
 * used length when that is not 1). */
static int do_write(struct vblk *b, uint64_t sector, const void *data, size_t len,
		    const size_t *ocuts)
{
	uint8_t *req = malloc(16 + len), st;
	put_hdr(req, VIRTIO_BLK_T_OUT, sector);
	if (len)
		memcpy(req + 16, data, len);
	uint32_t r = serve(b, req, 16 + len, ocuts, &st, 1, NULL);
	free(req);
	return r == 1 ? st : 0x100 + (int)r;
}

/* A read of LEN bytes at SECTOR into DATA; returns the status, and checks
 * the used length (LEN + 1 on success, 1 on failure). */
static int do_read(struct vblk *b, uint64_t sector, void *data, size_t len, const size_t *icuts)
{
	uint8_t hdr[16], *in = malloc(len + 1);
	put_hdr(hdr, VIRTIO_BLK_T_IN, sector);
	uint32_t r = serve(b, hdr, 16, NULL, in, len + 1, icuts);
	int st = in[len];
	assert_int_equal(r, st == VIRTIO_BLK_S_OK ? len + 1 : 1);
	if (data)
		memcpy(data, in, len);
	free(in);
	return st;
}

struct dwz {
	uint64_t sector;
	uint32_t num, flags;
};

/* A DISCARD or WRITE_ZEROES of N segments; returns the status. */
static int do_dwz(struct vblk *b, uint32_t type, const struct dwz *s, unsigned n,
		  const size_t *ocuts)
{
	size_t len = 16 + 16 * (size_t)n;
	uint8_t *req = calloc(1, len), st;
	put_hdr(req, type, 0);
	for (unsigned i = 0; i < n; i++) {
		memcpy(req + 16 + 16 * i, &s[i].sector, 8);
		memcpy(req + 24 + 16 * i, &s[i].num, 4);
		memcpy(req + 28 + 16 * i, &s[i].flags, 4);
	}
	uint32_t r = serve(b, req, len, ocuts, &st, 1, NULL);
	free(req);
	assert_int_equal(r, 1);
	return st;
}

/* --- round trips -------------------------------------------------------------- */

static const size_t split_hdr_3_13[] = { 3, 13, 0 };
static const size_t split_odd[] = { 1, 2, 13, 511, 1, 700, 0 };
static const size_t split_with_empty[] = { 16, SIZE_MAX, 100, SIZE_MAX, 412, 0 };
static const size_t split_read_odd[] = { 100, 412, 1, 1023, 0 }; /* rest: data + status */
static const size_t split_read_empty[] = { SIZE_MAX, 512, SIZE_MAX, 0 };

static void round_trips(enum image_format fmt)
{
	struct disk d = { 0 };
	disk_make(&d, fmt);
	uint8_t *model = calloc(1, DISK_SIZE), *buf = malloc(300 << 10), *rd = malloc(300 << 10);
	uint64_t seed = 7;

	/* Fixed splits: header 3 + 13, data anywhere, status alone or with data. */
	fill_pattern(buf, 8192, 1);
	assert_int_equal(do_write(&d.b, 10, buf, 8192, split_hdr_3_13), VIRTIO_BLK_S_OK);
	memcpy(model + 10 * 512, buf, 8192);
	assert_int_equal(do_read(&d.b, 10, rd, 8192, split_read_odd), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 8192);

	fill_pattern(buf, 4096, 2);
	assert_int_equal(do_write(&d.b, 100, buf, 4096, split_odd), VIRTIO_BLK_S_OK);
	memcpy(model + 100 * 512, buf, 4096);
	assert_int_equal(do_write(&d.b, 200, buf, 512, split_with_empty), VIRTIO_BLK_S_OK);
	memcpy(model + 200 * 512, buf, 512);
	assert_int_equal(do_read(&d.b, 99, rd, 5120, split_read_empty), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, model + 99 * 512, 5120);
	/* data and status in one segment */
	assert_int_equal(do_read(&d.b, 100, rd, 4096, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 4096);

	/* Random requests, random splits. */
	for (int i = 0; i < 150; i++) {
		size_t len = 512 * (1 + rng_next(&seed) % 600);
		uint64_t sector = rng_next(&seed) % (SECTORS - len / 512 + 1);
		size_t cuts[12];
		unsigned nc = (unsigned)(rng_next(&seed) % 11);
		for (unsigned c = 0; c < nc; c++)
			cuts[c] = 1 + rng_next(&seed) % (rng_next(&seed) & 1 ? 40 : 70000);
		cuts[nc] = 0;
		if (rng_next(&seed) & 1) {
			fill_pattern(buf, len, seed);
			assert_int_equal(do_write(&d.b, sector, buf, len, cuts), VIRTIO_BLK_S_OK);
			memcpy(model + sector * 512, buf, len);
		} else {
			assert_int_equal(do_read(&d.b, sector, rd, len, cuts), VIRTIO_BLK_S_OK);
			assert_memory_equal(rd, model + sector * 512, len);
		}
	}
	/* The image itself holds what the model says, at sector * 512. */
	assert_int_equal(compare_image(d.img, model, DISK_SIZE), -1);
	/* The last sector is readable and writable; zero-length is a no-op. */
	assert_int_equal(do_write(&d.b, SECTORS - 1, buf, 512, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(&d.b, SECTORS - 1, rd, 512, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 512);
	assert_int_equal(do_read(&d.b, SECTORS, rd, 0, NULL), VIRTIO_BLK_S_OK);

	struct vblk_stats st;
	vblk_get_stats(&d.b, &st);
	assert_true(st.reads > 0 && st.writes > 0 && st.ioerr == 0 && st.unsupp == 0);
	assert_int_equal(st.requests, st.reads + st.writes);
	free(model);
	free(buf);
	free(rd);
	disk_free(&d);
}

static void test_round_trip_raw(void **state)
{
	(void)state;
	round_trips(IMAGE_FORMAT_RAW);
}

static void test_round_trip_qcow2(void **state)
{
	(void)state;
	round_trips(IMAGE_FORMAT_QCOW2);
}

/* Writes after the header of an IN and before the status of an OUT are
 * left alone; the status is the last byte of the last in segment. */
static void test_status_placement(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_RAW);
	uint8_t req[16 + 512], in[40];
	fill_pattern(req + 16, 512, 3);
	put_hdr(req, VIRTIO_BLK_T_OUT, 4);
	static const size_t icuts[] = { 7, SIZE_MAX, 20, 0 };
	assert_int_equal(serve(&d.b, req, sizeof(req), NULL, in, sizeof(in), icuts), 1);
	for (unsigned i = 0; i < sizeof(in) - 1; i++)
		assert_int_equal(in[i], FILL);
	assert_int_equal(in[sizeof(in) - 1], VIRTIO_BLK_S_OK);
	/* trailing empty in segments: the status still goes into the last byte */
	static const size_t icuts2[] = { 1, SIZE_MAX, SIZE_MAX, 0 };
	assert_int_equal(serve(&d.b, req, sizeof(req), NULL, in, 1, icuts2), 1);
	assert_int_equal(in[0], VIRTIO_BLK_S_OK);
	/* an IN with out bytes after the header reads as usual */
	uint8_t rd[512 + 1];
	put_hdr(req, VIRTIO_BLK_T_IN, 4);
	assert_int_equal(serve(&d.b, req, sizeof(req), NULL, rd, sizeof(rd), NULL), 513);
	assert_int_equal(rd[512], VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, req + 16, 512);
	disk_free(&d);
}

/* --- GET_ID, FLUSH -------------------------------------------------------------- */

static void test_get_id(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_QCOW2);
	uint8_t hdr[16], in[64];
	char want[VBLK_ID_BYTES] = "cellvm-test-serial";

	put_hdr(hdr, VIRTIO_BLK_T_GET_ID, 0);
	static const size_t icuts[] = { 5, 15, 0 };
	assert_int_equal(serve(&d.b, hdr, 16, split_hdr_3_13, in, 21, icuts), 21);
	assert_memory_equal(in, want, VBLK_ID_BYTES); /* zero-padded */
	assert_int_equal(in[20], VIRTIO_BLK_S_OK);

	/* short buffer: what fits */
	assert_int_equal(serve(&d.b, hdr, 16, NULL, in, 9, NULL), 9);
	assert_memory_equal(in, want, 8);
	assert_int_equal(in[8], VIRTIO_BLK_S_OK);
	/* no room at all: just the status */
	assert_int_equal(serve(&d.b, hdr, 16, NULL, in, 1, NULL), 1);
	assert_int_equal(in[0], VIRTIO_BLK_S_OK);
	/* a larger buffer: 20 bytes, the rest untouched, status at the end */
	assert_int_equal(serve(&d.b, hdr, 16, NULL, in, 40, NULL), 21);
	assert_memory_equal(in, want, 20);
	for (int i = 20; i < 39; i++)
		assert_int_equal(in[i], FILL);
	assert_int_equal(in[39], VIRTIO_BLK_S_OK);

	/* a serial longer than 20 bytes is cut; none is all zeroes */
	char err[256];
	struct vblk b2;
	assert_int_equal(vblk_init(&b2, d.img, false, "0123456789abcdefghijKLMNOP", 1, err,
				   sizeof(err)), 0);
	assert_int_equal(serve(&b2, hdr, 16, NULL, in, 21, NULL), 21);
	assert_memory_equal(in, "0123456789abcdefghij", 20);
	assert_int_equal(vblk_init(&b2, d.img, false, NULL, 1, err, sizeof(err)), 0);
	assert_int_equal(serve(&b2, hdr, 16, NULL, in, 21, NULL), 21);
	for (int i = 0; i < 20; i++)
		assert_int_equal(in[i], 0);
	disk_free(&d);
}

static void test_flush(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_QCOW2);
	uint8_t hdr[16], st, buf[4096];
	fill_pattern(buf, sizeof(buf), 9);
	assert_int_equal(do_write(&d.b, 1000, buf, sizeof(buf), NULL), VIRTIO_BLK_S_OK);
	put_hdr(hdr, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(serve(&d.b, hdr, 16, split_hdr_3_13, &st, 1, NULL), 1);
	assert_int_equal(st, VIRTIO_BLK_S_OK);
	struct vblk_stats s;
	vblk_get_stats(&d.b, &s);
	assert_int_equal(s.flushes, 1);
	/* what was flushed is in the file: qemu-img sees a clean image with it */
	assert_int_equal(qemu_check(d.path), 0);
	char out[256];
	assert_int_equal(sh_out(out, sizeof(out), "qemu-io -r -c 'read -P %u 512000 1' '%s' "
				"2>&1 | grep -c 'read 1/1'", buf[0], d.path), 0);
	assert_int_equal(atoi(out), 1);
	disk_free(&d);
}

/* --- DISCARD, WRITE_ZEROES -------------------------------------------------------- */

static void discard_zeroes(enum image_format fmt)
{
	struct disk d = { 0 };
	disk_make(&d, fmt);
	size_t len = 1 << 20;
	uint8_t *model = malloc(len), *rd = malloc(len);
	fill_pattern(model, len, 11);
	assert_int_equal(do_write(&d.b, 0, model, len, NULL), VIRTIO_BLK_S_OK);

	/* two discard segments, cluster-aligned (64 KiB): read zero afterwards */
	struct dwz disc[2] = { { 128, 256, 0 }, { 1024, 128, 0 } };
	static const size_t ocuts[] = { 5, 20, 3, 0 };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, disc, 2, ocuts), VIRTIO_BLK_S_OK);
	memset(model + 128 * 512, 0, 256 * 512);
	memset(model + 1024 * 512, 0, 128 * 512);
	/* write zeroes at odd sectors, with and without unmap */
	struct dwz wz[3] = { { 3, 5, 0 }, { 700, 300, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP },
			     { 1500, 1, 0 } };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, wz, 3, split_odd),
			 VIRTIO_BLK_S_OK);
	for (int i = 0; i < 3; i++)
		memset(model + wz[i].sector * 512, 0, wz[i].num * 512);
	assert_int_equal(do_read(&d.b, 0, rd, len, split_read_odd), VIRTIO_BLK_S_OK);
	for (size_t i = 0; i < len; i += 512)
		if (memcmp(rd + i, model + i, 512))
			fail_msg("sector %zu differs", i / 512);
	/* num_sectors 0 is nothing to do */
	struct dwz none = { 5, 0, 0 };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &none, 1, NULL), VIRTIO_BLK_S_OK);
	/* the whole disk in one segment each */
	struct dwz all = { 0, SECTORS, 0 };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &all, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(&d.b, 0, rd, len, NULL), VIRTIO_BLK_S_OK);
	for (size_t i = 0; i < len; i++)
		if (rd[i])
			fail_msg("byte %zu not zero", i);
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, &all, 1, NULL), VIRTIO_BLK_S_OK);
	if (fmt == IMAGE_FORMAT_QCOW2) {
		assert_int_equal(image_close(d.img), 0);
		d.img = NULL;
		assert_int_equal(qemu_check(d.path), 0);
	}
	free(model);
	free(rd);
	disk_free(&d);
}

static void test_discard_zeroes_raw(void **state)
{
	(void)state;
	discard_zeroes(IMAGE_FORMAT_RAW);
}

static void test_discard_zeroes_qcow2(void **state)
{
	(void)state;
	discard_zeroes(IMAGE_FORMAT_QCOW2);
}

/* --- bad requests ------------------------------------------------------------------ */

static void assert_unchanged(struct disk *d, const uint8_t *model)
{
	assert_int_equal(compare_image(d->img, model, DISK_SIZE), -1);
}

static void test_bad_ranges(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_QCOW2);
	uint8_t *model = calloc(1, DISK_SIZE), buf[2048], in[2048];
	fill_pattern(buf, sizeof(buf), 5);

	/* beyond the capacity */
	assert_int_equal(do_write(&d.b, SECTORS, buf, 512, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_write(&d.b, SECTORS - 1, buf, 1024, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, SECTORS, NULL, 512, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, SECTORS - 1, NULL, 1024, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, SECTORS + 1, NULL, 0, NULL), VIRTIO_BLK_S_IOERR);
	/* sector + length (and sector * 512) overflow */
	const uint64_t big[] = { UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 512 + 1,
				 (UINT64_MAX / 512) - 1, 1ull << 55 };
	for (unsigned i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		assert_int_equal(do_write(&d.b, big[i], buf, 1024, NULL), VIRTIO_BLK_S_IOERR);
		assert_int_equal(do_read(&d.b, big[i], NULL, 1024, NULL), VIRTIO_BLK_S_IOERR);
		struct dwz s = { big[i], 4, 0 };
		assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, NULL),
				 VIRTIO_BLK_S_IOERR);
		assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, &s, 1, NULL),
				 VIRTIO_BLK_S_IOERR);
	}
	/* refused by vblk itself, not left to the image's own bounds checks */
	for (unsigned i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		uint8_t req[16 + 1024], st = 0xff;
		struct vblk_result res;
		put_hdr(req, VIRTIO_BLK_T_OUT, big[i]);
		struct iovec ov = { req, sizeof(req) }, iv = { &st, 1 };
		assert_int_equal(vblk_handle_res(&d.b, &ov, 1, &iv, 1, &res), 1);
		assert_int_equal(st, VIRTIO_BLK_S_IOERR);
		assert_int_equal(res.status, VIRTIO_BLK_S_IOERR);
		assert_int_equal(res.type, VIRTIO_BLK_T_OUT);
		assert_int_equal(res.err, 0);
		assert_string_equal(res.why, "sector range beyond the capacity");
	}
	/* not a multiple of 512, including a partial sector split across segments */
	assert_int_equal(do_write(&d.b, 0, buf, 513, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_write(&d.b, 0, buf, 100, NULL), VIRTIO_BLK_S_IOERR);
	static const size_t rc[] = { 100, 600, 0 };
	assert_int_equal(do_read(&d.b, 0, NULL, 700, rc), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, 0, NULL, 511, NULL), VIRTIO_BLK_S_IOERR);
	/* a failed read writes nothing before the status */
	uint8_t hdr[16 + 16];
	put_hdr(hdr, VIRTIO_BLK_T_IN, 0);
	assert_int_equal(serve(&d.b, hdr, 16, NULL, in, 701, rc), 1);
	for (int i = 0; i < 700; i++)
		assert_int_equal(in[i], FILL);
	assert_int_equal(in[700], VIRTIO_BLK_S_IOERR);
	assert_unchanged(&d, model);

	/* header shorter than 16 bytes, in one or several segments, or none */
	put_hdr(hdr, VIRTIO_BLK_T_OUT, 0);
	static const size_t hc[] = { 3, 4, 0 };
	assert_int_equal(serve(&d.b, hdr, 15, NULL, in, 1, NULL), 1);
	assert_int_equal(in[0], VIRTIO_BLK_S_IOERR);
	in[0] = 0;
	assert_int_equal(serve(&d.b, hdr, 15, hc, in, 1, NULL), 1);
	assert_int_equal(in[0], VIRTIO_BLK_S_IOERR);
	in[0] = 0;
	assert_int_equal(serve(&d.b, NULL, 0, NULL, in, 1, NULL), 1);
	assert_int_equal(in[0], VIRTIO_BLK_S_IOERR);
	put_hdr(hdr, VIRTIO_BLK_T_GET_ID, 0);
	in[0] = 0;
	assert_int_equal(serve(&d.b, hdr, 12, NULL, in, 21, NULL), 1);
	assert_int_equal(in[20], VIRTIO_BLK_S_IOERR);

	/* no writable byte at all: 0, and the write is not done */
	struct iovec ov[2] = { { hdr, 16 }, { buf, 512 } }, iv[2] = { { NULL, 0 }, { NULL, 0 } };
	put_hdr(hdr, VIRTIO_BLK_T_OUT, 0);
	assert_int_equal(vblk_handle(&d.b, ov, 2, iv, 0), 0);
	assert_int_equal(vblk_handle(&d.b, ov, 2, iv, 2), 0);
	assert_unchanged(&d, model);
	struct vblk_stats st;
	vblk_get_stats(&d.b, &st);
	assert_int_equal(st.no_status, 2);

	/* unknown types */
	const uint32_t types[] = { 2, 3, 5, 7, 9, 10, 12, 14, 15, 0x80000000u, 0x80000001u,
				   UINT32_MAX };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint8_t req[16 + 512];
		put_hdr(req, types[i], 0);
		memcpy(req + 16, buf, 512);
		in[0] = 0;
		assert_int_equal(serve(&d.b, req, sizeof(req), NULL, in, 1, NULL), 1);
		assert_int_equal(in[0], VIRTIO_BLK_S_UNSUPP);
	}
	assert_unchanged(&d, model);
	free(model);
	disk_free(&d);
}

static void test_bad_discard(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_RAW);
	uint8_t *model = malloc(DISK_SIZE);
	fill_pattern(model, DISK_SIZE, 21);
	assert_int_equal(do_write(&d.b, 0, model, DISK_SIZE, NULL), VIRTIO_BLK_S_OK);
	struct dwz s[VBLK_MAX_DISCARD_SEG + 1];
	for (unsigned i = 0; i <= VBLK_MAX_DISCARD_SEG; i++)
		s[i] = (struct dwz){ 8 * i, 8, 0 };
	const uint32_t types[] = { VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES };

	for (int t = 0; t < 2; t++) {
		/* more segments than max_discard_seg / max_write_zeroes_seg */
		assert_int_equal(do_dwz(&d.b, types[t], s, VBLK_MAX_DISCARD_SEG + 1, NULL),
				 VIRTIO_BLK_S_IOERR);
		/* unknown flag bits */
		struct dwz f[2] = { { 0, 8, 0 }, { 16, 8, 2 } };
		assert_int_equal(do_dwz(&d.b, types[t], f, 2, NULL), VIRTIO_BLK_S_UNSUPP);
		f[1].flags = 0x80000001u;
		assert_int_equal(do_dwz(&d.b, types[t], f, 2, NULL), VIRTIO_BLK_S_UNSUPP);
		/* one segment over the per-segment limit */
		f[1] = (struct dwz){ 0, VBLK_MAX_DISCARD_SECTORS + 1, 0 };
		assert_int_equal(do_dwz(&d.b, types[t], f, 2, NULL), VIRTIO_BLK_S_IOERR);
		/* a good segment, then one beyond the capacity: neither is done */
		f[1] = (struct dwz){ SECTORS - 4, 8, 0 };
		assert_int_equal(do_dwz(&d.b, types[t], f, 2, NULL), VIRTIO_BLK_S_IOERR);
		/* no segment; a partial segment */
		assert_int_equal(do_dwz(&d.b, types[t], s, 0, NULL), VIRTIO_BLK_S_IOERR);
		uint8_t req[16 + 24], st;
		put_hdr(req, types[t], 0);
		memset(req + 16, 0, 24);
		assert_int_equal(serve(&d.b, req, sizeof(req), NULL, &st, 1, NULL), 1);
		assert_int_equal(st, VIRTIO_BLK_S_IOERR);
	}
	/* UNMAP: UNSUPP for discard, fine for write zeroes */
	struct dwz u = { 0, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, &u, 1, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_unchanged(&d, model);
	/* max_discard_seg segments exactly are fine */
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, s, VBLK_MAX_DISCARD_SEG, NULL),
			 VIRTIO_BLK_S_OK);
	memset(model, 0, 8 * 512 * VBLK_MAX_DISCARD_SEG);
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &u, 1, NULL), VIRTIO_BLK_S_OK);
	assert_unchanged(&d, model);
	free(model);
	disk_free(&d);
}

/* The per-segment limit of discard and write zeroes, on a disk large
 * enough that it is the only thing wrong (a sparse raw file). */
static void test_discard_segment_limit(void **state)
{
	(void)state;
	struct disk d = { 0 };
	char err[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(d.dir, sizeof(d.dir), "%s/cellvm-vblk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(d.dir));
	snprintf(d.path, sizeof(d.path), "%s/big.raw", d.dir);
	uint64_t size = 2ull * VBLK_MAX_DISCARD_SECTORS * 512 + (1 << 20);
	struct image_create_options o = { .format = IMAGE_FORMAT_RAW, .size = size };
	assert_int_equal(image_create(d.path, &o, err, sizeof(err)), 0);
	disk_open(&d, IMAGE_FORMAT_RAW, false, false);
	uint8_t buf[512], rd[512];
	memset(buf, 0x5c, sizeof(buf));
	uint64_t probe = VBLK_MAX_DISCARD_SECTORS; /* the first sector past the limit */
	assert_int_equal(do_write(&d.b, probe, buf, 512, NULL), VIRTIO_BLK_S_OK);

	struct dwz over = { 0, VBLK_MAX_DISCARD_SECTORS + 1, 0 };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, &over, 1, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &over, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	over.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &over, 1, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, probe, rd, 512, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 512);
	/* exactly the limit is fine and stops short of the probe */
	struct dwz at = { 0, VBLK_MAX_DISCARD_SECTORS, 0 };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, &at, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_DISCARD, &at, 1, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(&d.b, probe, rd, 512, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 512);
	/* and the limit applies to the second segment of several */
	struct dwz two[2] = { { probe, 1, 0 }, { probe + 8, VBLK_MAX_DISCARD_SECTORS + 1, 0 } };
	assert_int_equal(do_dwz(&d.b, VIRTIO_BLK_T_WRITE_ZEROES, two, 2, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_read(&d.b, probe, rd, 512, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf, 512);
	disk_free(&d);
}

/* --- read-only ---------------------------------------------------------------------- */

static void file_bytes(const char *path, uint8_t *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
}

static void readonly_refuses(struct disk *d, const uint8_t *model)
{
	uint8_t buf[1024], rd[1024];
	memset(buf, 0x77, sizeof(buf));
	assert_true(vblk_features(&d->b) & 1ull << VIRTIO_BLK_F_RO);
	assert_int_equal(do_write(&d->b, 2, buf, sizeof(buf), NULL), VIRTIO_BLK_S_IOERR);
	struct dwz s = { 0, 64, 0 };
	assert_int_equal(do_dwz(&d->b, VIRTIO_BLK_T_DISCARD, &s, 1, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_dwz(&d->b, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, NULL), VIRTIO_BLK_S_IOERR);
	s.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	assert_int_equal(do_dwz(&d->b, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1, NULL), VIRTIO_BLK_S_IOERR);
	/* reads, GET_ID and FLUSH work */
	assert_int_equal(do_read(&d->b, 2, rd, sizeof(rd), NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, model + 1024, sizeof(rd));
	uint8_t hdr[16], st;
	put_hdr(hdr, VIRTIO_BLK_T_FLUSH, 0);
	assert_int_equal(serve(&d->b, hdr, 16, NULL, &st, 1, NULL), 1);
	assert_int_equal(st, VIRTIO_BLK_S_OK);
}

static void test_readonly(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_RAW);
	uint8_t *model = malloc(DISK_SIZE), *now = malloc(DISK_SIZE);
	fill_pattern(model, DISK_SIZE, 31);
	assert_int_equal(do_write(&d.b, 0, model, DISK_SIZE, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(image_close(d.img), 0);

	/* a read-only image needs a read-only disk */
	char err[256];
	struct image_options ro = { .format = IMAGE_FORMAT_RAW, .readonly = true };
	assert_int_equal(image_open(d.path, &ro, &d.img, err, sizeof(err)), 0);
	assert_int_equal(vblk_init(&d.b, d.img, false, NULL, 1, err, sizeof(err)), -EROFS);
	assert_non_null(strstr(err, "read-only"));
	assert_int_equal(vblk_init(&d.b, d.img, true, NULL, 1, err, sizeof(err)), 0);
	readonly_refuses(&d, model);
	assert_int_equal(image_close(d.img), 0);
	file_bytes(d.path, now, DISK_SIZE);
	assert_memory_equal(now, model, DISK_SIZE);

	/* a read-only disk over a writable image refuses just the same */
	disk_open(&d, IMAGE_FORMAT_RAW, false, true);
	readonly_refuses(&d, model);
	assert_int_equal(image_close(d.img), 0);
	d.img = NULL;
	file_bytes(d.path, now, DISK_SIZE);
	assert_memory_equal(now, model, DISK_SIZE);
	free(model);
	free(now);
	disk_free(&d);
}

/* --- config space and features ----------------------------------------------------- */

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void test_config_and_features(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_QCOW2);
	uint8_t cfg[VBLK_CONFIG_SIZE];
	char err[256];

	memset(cfg, 0xaa, sizeof(cfg));
	vblk_config(&d.b, cfg);
	assert_int_equal(le(cfg + 0, 8), SECTORS);              /* capacity */
	assert_int_equal(le(cfg + 12, 4), 1022);                /* seg_max */
	assert_int_equal(le(cfg + 20, 4), 512);                 /* blk_size */
	assert_int_equal(cfg[24], 0);                           /* physical_block_exp */
	assert_int_equal(le(cfg + 26, 2), 1);                   /* min_io_size */
	assert_int_equal(le(cfg + 28, 4), 128);                 /* opt_io_size: 64 KiB */
	assert_int_equal(cfg[32], 1);                           /* writeback */
	assert_int_equal(le(cfg + 34, 2), 1);                   /* num_queues */
	assert_int_equal(le(cfg + 36, 4), VBLK_MAX_DISCARD_SECTORS);
	assert_int_equal(le(cfg + 40, 4), VBLK_MAX_DISCARD_SEG); /* max_discard_seg */
	assert_int_equal(le(cfg + 44, 4), 128);                 /* discard_sector_alignment */
	assert_int_equal(le(cfg + 48, 4), VBLK_MAX_DISCARD_SECTORS);
	assert_int_equal(le(cfg + 52, 4), VBLK_MAX_DISCARD_SEG);
	assert_int_equal(cfg[56], 1);                           /* write_zeroes_may_unmap */
	assert_int_equal(cfg[57] | cfg[58] | cfg[59], 0);
	assert_int_equal(le(cfg + 8, 4) | le(cfg + 16, 4), 0);  /* size_max, geometry */

	uint64_t base = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;
	uint64_t rw = 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	assert_int_equal(vblk_features(&d.b), base | rw);
	assert_int_equal(base | rw, 0x6644);

	assert_int_equal(vblk_init(&d.b, d.img, false, "x", 4, err, sizeof(err)), 0);
	assert_int_equal(vblk_features(&d.b), base | rw | 1ull << VIRTIO_BLK_F_MQ);
	vblk_config(&d.b, cfg);
	assert_int_equal(le(cfg + 34, 2), 4);
	assert_int_equal(vblk_init(&d.b, d.img, true, "x", 2, err, sizeof(err)), 0);
	assert_int_equal(vblk_features(&d.b),
			 base | 1ull << VIRTIO_BLK_F_MQ | 1ull << VIRTIO_BLK_F_RO);
	assert_int_equal(vblk_init(&d.b, d.img, true, "x", 1, err, sizeof(err)), 0);
	assert_int_equal(vblk_features(&d.b), base | 1ull << VIRTIO_BLK_F_RO);
	assert_int_equal(vblk_init(&d.b, d.img, false, "x", 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(vblk_init(&d.b, d.img, false, "x", VBLK_MAX_QUEUES + 1, err,
				   sizeof(err)), -EINVAL);
	assert_int_equal(vblk_init(&d.b, NULL, false, "x", 1, err, sizeof(err)), -EINVAL);
	disk_free(&d);

	/* a raw image of an odd size: capacity rounds down, alignment 1 sector */
	disk_make(&d, IMAGE_FORMAT_RAW);
	assert_int_equal(image_resize(d.img, DISK_SIZE + 700), 0);
	assert_int_equal(vblk_init(&d.b, d.img, false, NULL, 1, err, sizeof(err)), 0);
	vblk_config(&d.b, cfg);
	assert_int_equal(le(cfg + 0, 8), SECTORS + 1);
	assert_int_equal(le(cfg + 44, 4), 1);
	uint8_t buf[1024];
	assert_int_equal(do_read(&d.b, SECTORS, buf, 512, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_read(&d.b, SECTORS, buf, 1024, NULL), VIRTIO_BLK_S_IOERR);
	disk_free(&d);
}

/* --- threads ------------------------------------------------------------------------ */

#define NTHREADS 4
#define REGION_SECTORS (SECTORS / NTHREADS)

struct worker {
	struct vblk *b;
	int id;
	int failures;
	uint8_t *model; /* this thread's region */
};

static int worker_write(struct vblk *b, uint64_t sector, const uint8_t *data, size_t len)
{
	uint8_t hdr[16], st = 0xff;
	put_hdr(hdr, VIRTIO_BLK_T_OUT, sector);
	struct iovec ov[3] = { { hdr, 5 }, { hdr + 5, 11 }, { (void *)data, len } };
	struct iovec iv[1] = { { &st, 1 } };
	return vblk_handle(b, ov, 3, iv, 1) == 1 && st == VIRTIO_BLK_S_OK ? 0 : -1;
}

static int worker_read(struct vblk *b, uint64_t sector, uint8_t *data, size_t len)
{
	uint8_t hdr[16], st = 0xff;
	put_hdr(hdr, VIRTIO_BLK_T_IN, sector);
	size_t half = len / 3;
	struct iovec ov[1] = { { hdr, 16 } };
	struct iovec iv[3] = { { data, half }, { data + half, len - half }, { &st, 1 } };
	return vblk_handle(b, ov, 1, iv, 3) == len + 1 && st == VIRTIO_BLK_S_OK ? 0 : -1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 77 + (uint64_t)w->id, base = (uint64_t)w->id * REGION_SECTORS;
	size_t max = 64 * 512;
	uint8_t *buf = malloc(max), *rd = malloc(max);

	for (int i = 0; i < 300; i++) {
		size_t n = 1 + rng_next(&seed) % 64;
		uint64_t s = rng_next(&seed) % (REGION_SECTORS - n + 1);
		fill_pattern(buf, n * 512, seed);
		if (worker_write(w->b, base + s, buf, n * 512) < 0)
			w->failures++;
		memcpy(w->model + s * 512, buf, n * 512);
		s = rng_next(&seed) % (REGION_SECTORS - n + 1);
		if (worker_read(w->b, base + s, rd, n * 512) < 0 ||
		    memcmp(rd, w->model + s * 512, n * 512))
			w->failures++;
	}
	free(buf);
	free(rd);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct disk d = { 0 };
	disk_make(&d, IMAGE_FORMAT_QCOW2);
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .b = &d.b, .id = i,
					.model = calloc(1, REGION_SECTORS * 512) };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	uint8_t *rd = malloc(REGION_SECTORS * 512);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].failures, 0);
		assert_int_equal(image_read(d.img, rd, REGION_SECTORS * 512,
					    (uint64_t)i * REGION_SECTORS * 512), 0);
		assert_memory_equal(rd, w[i].model, REGION_SECTORS * 512);
		free(w[i].model);
	}
	struct vblk_stats st;
	vblk_get_stats(&d.b, &st);
	assert_int_equal(st.requests, NTHREADS * 600);
	assert_int_equal(st.writes, NTHREADS * 300);
	free(rd);
	assert_int_equal(image_close(d.img), 0);
	d.img = NULL;
	assert_int_equal(qemu_check(d.path), 0);
	disk_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_raw),
		cmocka_unit_test(test_round_trip_qcow2),
		cmocka_unit_test(test_status_placement),
		cmocka_unit_test(test_get_id),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_discard_zeroes_raw),
		cmocka_unit_test(test_discard_zeroes_qcow2),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_bad_discard),
		cmocka_unit_test(test_discard_segment_limit),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_config_and_features),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
