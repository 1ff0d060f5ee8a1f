/* virtio-blk requests over a disk image (see virtio_blk.h).
 *
 * Every guest-written field is copied out of the iovecs into a local before
 * it is looked at, and decoded byte by byte from little-endian.  Lengths are
 * summed with saturation, so no iovec array, however long, overflows them;
 * anything over 4 GiB is refused before any I/O. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "devices/disk/virtio_blk.h"
#include "devices/virtio/iov.h"

/* Largest data length of one IN or OUT request: the used length (data + the
 * status byte) must fit in 32 bits. */
#define MAX_DATA_BYTES ((uint64_t)UINT32_MAX - 1)

#define STAT_ADD(b, field, n) __atomic_fetch_add(&(b)->stats.field, (n), __ATOMIC_RELAXED)

/* --- little-endian fields ---------------------------------------------------- */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* --- iovecs -------------------------------------------------------------------- */

/* Image I/O between bytes [SKIP, SKIP + LEN) of V[0..N) and the image at
 * OFF: one image call per segment.  The caller has checked that V holds
 * those bytes and that the image range is valid. */
static int iov_image_io(struct image *img, const struct iovec *v, unsigned n, uint64_t skip,
			uint64_t len, uint64_t off, bool write)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t l = v[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint8_t *p = (uint8_t *)v[i].iov_base + skip;
		size_t piece = l - (size_t)skip;
		if (piece > len)
			piece = (size_t)len;
		int r = write ? image_write(img, p, piece, off) : image_read(img, p, piece, off);
		if (r < 0)
			return r;
		len -= piece;
		off += piece;
		skip = 0;
	}
	return len ? -EIO : 0;
}

/* --- setup ----------------------------------------------------------------------- */

int vblk_init(struct vblk *b, struct image *img, bool readonly, const char *serial,
	      unsigned num_queues, char *err, size_t errlen)
{
	memset(b, 0, sizeof(*b));
	if (!img) {
		snprintf(err, errlen, "virtio-blk: no image");
		return -EINVAL;
	}
	if (num_queues < 1 || num_queues > VBLK_MAX_QUEUES) {
		snprintf(err, errlen, "virtio-blk: %u queues; 1 to %u are supported", num_queues,
			 VBLK_MAX_QUEUES);
		return -EINVAL;
	}
	if (image_readonly(img) && !readonly) {
		snprintf(err, errlen, "virtio-blk: the image is open read-only but the disk is "
			 "writable");
		return -EROFS;
	}
	b->img = img;
	b->readonly = readonly;
	if (serial)
		for (size_t i = 0; i < VBLK_ID_BYTES && serial[i]; i++)
			b->serial[i] = serial[i];
	b->num_queues = num_queues;
	b->capacity = image_size(img) / VBLK_SECTOR;
	b->seg_max = VBLK_DEFAULT_SEG_MAX;
	uint32_t cs = image_cluster_size(img) / VBLK_SECTOR;
	b->opt_io_sectors = cs ? cs : 1;
	return 0;
}

uint64_t vblk_features(const struct vblk *b)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY;

	if (b->num_queues > 1)
		f |= 1ull << VIRTIO_BLK_F_MQ;
	if (b->readonly)
		f |= 1ull << VIRTIO_BLK_F_RO;
	else
		f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

void vblk_config(const struct vblk *b, uint8_t cfg[VBLK_CONFIG_SIZE])
{
	memset(cfg, 0, VBLK_CONFIG_SIZE);
	put_le64(cfg + 0, b->capacity);
	put_le32(cfg + 8, 0);                     /* size_max: not offered */
	put_le32(cfg + 12, b->seg_max);
	/* 16: geometry (le16 cylinders, u8 heads, u8 sectors): not offered */
	put_le32(cfg + 20, VBLK_SECTOR);          /* blk_size */
	cfg[24] = 0;                              /* physical_block_exp */
	cfg[25] = 0;                              /* alignment_offset */
	put_le16(cfg + 26, 1);                    /* min_io_size */
	put_le32(cfg + 28, b->opt_io_sectors);    /* opt_io_size */
	cfg[32] = 1;                              /* writeback */
	put_le16(cfg + 34, (uint16_t)b->num_queues);
	put_le32(cfg + 36, VBLK_MAX_DISCARD_SECTORS);
	put_le32(cfg + 40, VBLK_MAX_DISCARD_SEG);
	put_le32(cfg + 44, b->opt_io_sectors);    /* discard_sector_alignment */
	put_le32(cfg + 48, VBLK_MAX_DISCARD_SECTORS);
	put_le32(cfg + 52, VBLK_MAX_DISCARD_SEG);
	cfg[56] = 1;                              /* write_zeroes_may_unmap */
}

void vblk_get_stats(const struct vblk *b, struct vblk_stats *st)
{
	const uint64_t *src = (const uint64_t *)&b->stats;
	uint64_t *dst = (uint64_t *)st;

	for (size_t i = 0; i < sizeof(*st) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

_Static_assert(sizeof(struct vblk_stats) % sizeof(uint64_t) == 0, "vblk_stats: u64 only");

/* --- requests ---------------------------------------------------------------- */

/* One request being served. */
struct req {
	struct vblk *b;
	const struct iovec *out, *in;
	unsigned out_num, in_num;
	uint64_t out_bytes;  /* saturating */
	uint64_t in_data;    /* writable bytes before the status byte (saturating) */
	uint64_t sector;
	struct vblk_result *res;
};

static uint8_t fail(struct req *q, uint8_t status, int err, const char *why)
{
	q->res->status = status;
	q->res->err = err;
	q->res->why = why;
	return status;
}

/* Checks that LEN bytes at SECTOR are within the disk and a whole number of
 * sectors; returns 0 or the reason. */
static const char *check_range(const struct vblk *b, uint64_t sector, uint64_t len)
{
	if (len > MAX_DATA_BYTES)
		return "data longer than 4 GiB";
	if (len % VBLK_SECTOR)
		return "data length is not a multiple of 512";
	uint64_t n = len / VBLK_SECTOR;
	if (sector > b->capacity || n > b->capacity - sector)
		return "sector range beyond the capacity";
	return NULL;
}

static uint8_t do_read(struct req *q, uint32_t *written)
{
	struct vblk *b = q->b;
	uint64_t len = q->in_data;
	const char *why = check_range(b, q->sector, len);

	STAT_ADD(b, reads, 1);
	if (why)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, why);
	int r = iov_image_io(b->img, q->in, q->in_num, 0, len, q->sector * VBLK_SECTOR, false);
	if (r < 0)
		return fail(q, VIRTIO_BLK_S_IOERR, r, "read failed");
	STAT_ADD(b, bytes_read, len);
	*written = (uint32_t)len;
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct req *q)
{
	struct vblk *b = q->b;
	uint64_t len = q->out_bytes - VBLK_REQ_HDR_SIZE;

	STAT_ADD(b, writes, 1);
	if (b->readonly)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, "write to a read-only disk");
	const char *why = check_range(b, q->sector, len);
	if (why)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, why);
	int r = iov_image_io(b->img, q->out, q->out_num, VBLK_REQ_HDR_SIZE, len,
			     q->sector * VBLK_SECTOR, true);
	if (r < 0)
		return fail(q, VIRTIO_BLK_S_IOERR, r, "write failed");
	STAT_ADD(b, bytes_written, len);
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_flush(struct req *q)
{
	STAT_ADD(q->b, flushes, 1);
	if (q->b->readonly)
		return VIRTIO_BLK_S_OK;
	int r = image_flush(q->b->img);
	if (r < 0)
		return fail(q, VIRTIO_BLK_S_IOERR, r, "flush failed");
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct req *q, uint32_t *written)
{
	size_t n = q->in_data < VBLK_ID_BYTES ? (size_t)q->in_data : VBLK_ID_BYTES;

	STAT_ADD(q->b, get_ids, 1);
	*written = (uint32_t)iov_from_buf(q->in, q->in_num, 0, q->b->serial, n);
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: every segment is copied out and checked before
 * any is done, so a bad segment fails the request without side effects. */
static uint8_t do_discard_zeroes(struct req *q, bool zeroes)
{
	struct vblk *b = q->b;
	struct {
		uint64_t sector;
		uint32_t num;
		uint32_t flags;
	} seg[VBLK_MAX_DISCARD_SEG];
	uint8_t raw[VBLK_DWZ_SEG_SIZE];
	uint64_t len = q->out_bytes - VBLK_REQ_HDR_SIZE;

	if (zeroes)
		STAT_ADD(b, write_zeroes, 1);
	else
		STAT_ADD(b, discards, 1);
	if (b->readonly)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, "discard or write zeroes on a read-only disk");
	if (len == 0 || len % VBLK_DWZ_SEG_SIZE)
		return fail(q, VIRTIO_BLK_S_IOERR, 0,
			    "discard/write zeroes data is not a whole number of segments");
	if (len / VBLK_DWZ_SEG_SIZE > VBLK_MAX_DISCARD_SEG)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, "too many discard/write zeroes segments");
	unsigned n = (unsigned)(len / VBLK_DWZ_SEG_SIZE);
	const char *why = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (iov_to_buf(q->out, q->out_num, VBLK_REQ_HDR_SIZE + (uint64_t)i * sizeof(raw),
				 raw, sizeof(raw)) != sizeof(raw))
			return fail(q, VIRTIO_BLK_S_IOERR, 0, "short discard/write zeroes segment");
		seg[i].sector = get_le64(raw);
		seg[i].num = get_le32(raw + 8);
		seg[i].flags = get_le32(raw + 12);
		if (seg[i].flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return fail(q, VIRTIO_BLK_S_UNSUPP, 0, "unknown discard/write zeroes flags");
		if (!zeroes && (seg[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return fail(q, VIRTIO_BLK_S_UNSUPP, 0, "discard with the unmap flag");
		if (why)
			continue;
		if (seg[i].num > VBLK_MAX_DISCARD_SECTORS)
			why = "discard/write zeroes segment larger than the maximum";
		else
			why = check_range(b, seg[i].sector, (uint64_t)seg[i].num * VBLK_SECTOR);
	}
	if (why)
		return fail(q, VIRTIO_BLK_S_IOERR, 0, why);
	for (unsigned i = 0; i < n; i++) {
		uint64_t off = seg[i].sector * VBLK_SECTOR, l = (uint64_t)seg[i].num * VBLK_SECTOR;
		int r = zeroes ? image_write_zeroes(b->img, off, l,
						    seg[i].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
			       : image_discard(b->img, off, l);
		if (r < 0)
			return fail(q, VIRTIO_BLK_S_IOERR, r,
				    zeroes ? "write zeroes failed" : "discard failed");
	}
	return VIRTIO_BLK_S_OK;
}

uint32_t vblk_handle_res(struct vblk *b, const struct iovec *out, unsigned out_num,
			 const struct iovec *in, unsigned in_num, struct vblk_result *res)
{
	struct vblk_result dummy;
	struct req q = { .b = b, .out = out, .in = in, .out_num = out_num, .res = res ? res : &dummy };
	uint8_t hdr[VBLK_REQ_HDR_SIZE], status;
	uint32_t written = 0;

	*q.res = (struct vblk_result){ .type = UINT32_MAX, .status = 0xff };
	STAT_ADD(b, requests, 1);

	/* The status byte: the last byte of the last non-empty in segment. */
	unsigned last = in_num;
	while (last > 0 && in[last - 1].iov_len == 0)
		last--;
	if (last == 0) {
		STAT_ADD(b, no_status, 1);
		q.res->why = "no writable byte for the status";
		return 0;
	}
	uint8_t *status_p = (uint8_t *)in[last - 1].iov_base + in[last - 1].iov_len - 1;
	q.in_num = last;
	q.in_data = iov_bytes(in, last) - 1;
	q.out_bytes = iov_bytes(out, out_num);

	if (iov_to_buf(out, out_num, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		status = fail(&q, VIRTIO_BLK_S_IOERR, 0, "request header shorter than 16 bytes");
		goto done;
	}
	q.res->type = get_le32(hdr);
	q.sector = get_le64(hdr + 8);
	if (q.out_bytes == UINT64_MAX || q.in_data >= UINT64_MAX - 1) {
		status = fail(&q, VIRTIO_BLK_S_IOERR, 0, "request too long");
		goto done;
	}

	switch (q.res->type) {
	case VIRTIO_BLK_T_IN:
		status = do_read(&q, &written);
		break;
	case VIRTIO_BLK_T_OUT:
		status = do_write(&q);
		break;
	case VIRTIO_BLK_T_FLUSH:
		status = do_flush(&q);
		break;
	case VIRTIO_BLK_T_GET_ID:
		status = do_get_id(&q, &written);
		break;
	case VIRTIO_BLK_T_DISCARD:
		status = do_discard_zeroes(&q, false);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_discard_zeroes(&q, true);
		break;
	default:
		status = fail(&q, VIRTIO_BLK_S_UNSUPP, 0, "unknown request type");
		break;
	}
done:
	if (status == VIRTIO_BLK_S_IOERR)
		STAT_ADD(b, ioerr, 1);
	else if (status == VIRTIO_BLK_S_UNSUPP)
		STAT_ADD(b, unsupp, 1);
	if (status != VIRTIO_BLK_S_OK)
		written = 0;
	q.res->status = status;
	*status_p = status;
	return written + 1;
}

uint32_t vblk_handle(struct vblk *b, const struct iovec *out, unsigned out_num,
		     const struct iovec *in, unsigned in_num)
{
	return vblk_handle_res(b, out, out_num, in, in_num, NULL);
}
