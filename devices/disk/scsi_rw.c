/* SCSI block commands (SBC-3): READ and WRITE (6/10/12/16), WRITE SAME,
 * UNMAP, SYNCHRONIZE CACHE and VERIFY, over the image API.  Data moves
 * directly between the image and the guest's iovecs. */
#include <stdlib.h>
#include <string.h>

#include "devices/disk/scsi_internal.h"

/* LBA and block count of a READ/WRITE/VERIFY/WRITE SAME CDB. */
static void decode_lba(const uint8_t *c, uint64_t *lba, uint64_t *count)
{
	switch (c[0] >> 5) {
	case 0: /* 6-byte: 21-bit LBA, 0 blocks means 256 */
		*lba = get_be24(c + 1) & 0x1fffff;
		*count = c[4] ? c[4] : 256;
		break;
	case 1: /* 10-byte */
	case 2:
		*lba = get_be32(c + 2);
		*count = get_be16(c + 7);
		break;
	case 5: /* 12-byte */
		*lba = get_be32(c + 2);
		*count = get_be32(c + 6);
		break;
	default: /* 16-byte */
		*lba = get_be64(c + 2);
		*count = get_be32(c + 10);
		break;
	}
}

static bool check_range(struct scsi_lun *l, struct scsi_req *r, uint64_t lba, uint64_t count)
{
	if (lba > l->blocks || count > l->blocks - lba) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return false;
	}
	return true;
}

static bool check_writable(struct scsi_lun *l, struct scsi_req *r)
{
	if (l->readonly) {
		scsi_check(r, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return false;
	}
	return true;
}

/* Moves LEN bytes between the image at OFF and the iovecs, segment by
 * segment; returns 0 or the image's -errno. */
static int iov_io(struct image *img, const struct iovec *iov, unsigned num, uint64_t off,
		  uint64_t len, bool writing)
{
	for (unsigned i = 0; i < num && len; i++) {
		size_t n = iov[i].iov_len;
		if (n > len)
			n = (size_t)len;
		if (!n)
			continue;
		int ret = writing ? image_write(img, iov[i].iov_base, n, off)
				  : image_read(img, iov[i].iov_base, n, off);
		if (ret < 0)
			return ret;
		off += n;
		len -= n;
	}
	return 0;
}

void scsi_cmd_read_write(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	bool writing = (c[0] & 0x0f) == 0x0a; /* 0x0a, 0x2a, 0x8a, 0xaa */
	uint64_t lba, count;

	decode_lba(c, &lba, &count);
	/* Protection information is not supported (RDPROTECT/WRPROTECT). */
	if (c[0] != 0x08 && c[0] != 0x0a && (c[1] & 0xe0)) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (writing && !check_writable(l, r))
		return;
	if (!check_range(l, r, lba, count))
		return;
	uint64_t bytes = count * l->block_size, off = lba * l->block_size;
	const struct iovec *iov = writing ? r->dout : r->din;
	unsigned num = writing ? r->dout_num : r->din_num;
	if (iov_bytes(iov, num) < bytes) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (iov_io(l->img, iov, num, off, bytes, writing) < 0) {
		scsi_check(r, SCSI_SENSE_MEDIUM_ERROR,
			   writing ? ASC_WRITE_ERROR : ASC_UNRECOVERED_READ_ERROR);
		return;
	}
	/* FUA: the write must be durable before GOOD. */
	if (writing && c[0] != 0x0a && (c[1] & 0x08) && image_flush(l->img) < 0) {
		scsi_check(r, SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	if (writing)
		r->dout_used = bytes;
	else
		r->din_written = bytes;
	scsi_good(r);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

void scsi_cmd_write_same(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	bool sixteen = c[0] == 0x93;
	bool unmap = c[1] & 0x08, ndob = sixteen && (c[1] & 0x01);
	uint64_t lba, count;
	uint8_t block[2048];

	decode_lba(c, &lba, &count);
	if (!check_writable(l, r))
		return;
	/* WRPROTECT, ANCHOR and LBDATA/PBDATA are not supported; WSNZ is set. */
	if ((c[1] & 0xf6) || !count || count > SCSI_MAX_UNMAP_BLOCKS) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!check_range(l, r, lba, count))
		return;
	if (ndob) {
		memset(block, 0, l->block_size);
	} else {
		if (iov_to_buf(r->dout, r->dout_num, 0, block, l->block_size) <
		    l->block_size) {
			scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		r->dout_used = l->block_size;
	}
	uint64_t off = lba * l->block_size;
	int ret = 0;
	/* Zeroes may be unmapped (they read back as zeroes: LBPRZ); other data
	 * is written block by block even with UNMAP set. */
	if (all_zero(block, l->block_size))
		ret = image_write_zeroes(l->img, off, count * l->block_size, unmap);
	else
		for (uint64_t i = 0; i < count && !ret; i++)
			ret = image_write(l->img, block, l->block_size, off + i * l->block_size);
	if (ret < 0) {
		scsi_check(r, SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	scsi_good(r);
}

void scsi_cmd_unmap(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	unsigned len = get_be16(c + 7);
	uint8_t *buf;

	if (!check_writable(l, r))
		return;
	if (c[1] & 0x01) { /* ANCHOR */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!len) {
		scsi_good(r);
		return;
	}
	if (len < 8 || iov_bytes(r->dout, r->dout_num) < len) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	buf = malloc(len);
	if (!buf) {
		scsi_check(r, SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	/* One copy of the list: the guest may change it while we work. */
	iov_to_buf(r->dout, r->dout_num, 0, buf, len);
	r->dout_used = len;
	unsigned data_len = get_be16(buf), bd_len = get_be16(buf + 2);
	/* The lengths must fit the parameter list, and descriptors be whole. */
	if (data_len + 2u > len || bd_len + 8u > len || bd_len % 16 ||
	    bd_len / 16 > SCSI_MAX_UNMAP_DESCRIPTORS) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
		goto out;
	}
	/* Check every descriptor before unmapping anything. */
	for (unsigned i = 0; i < bd_len / 16; i++) {
		const uint8_t *d = buf + 8 + 16 * i;
		uint64_t lba = get_be64(d), count = get_be32(d + 8);
		if (count > SCSI_MAX_UNMAP_BLOCKS) {
			scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST,
				   ASC_INVALID_FIELD_IN_PARAMETER_LIST);
			goto out;
		}
		if (!check_range(l, r, lba, count))
			goto out;
	}
	for (unsigned i = 0; i < bd_len / 16; i++) {
		const uint8_t *d = buf + 8 + 16 * i;
		uint64_t lba = get_be64(d), count = get_be32(d + 8);
		if (!count)
			continue;
		/* Zeroes with unmap allowed: unmapped blocks read as zeroes
		 * (LBPRZ), which image_discard alone does not promise. */
		if (image_write_zeroes(l->img, lba * l->block_size, count * l->block_size,
				       true) < 0) {
			scsi_check(r, SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
			goto out;
		}
	}
	scsi_good(r);
out:
	free(buf);
}

void scsi_cmd_sync_cache(struct scsi_lun *l, struct scsi_req *r)
{
	uint64_t lba, count;

	decode_lba(r->cdb, &lba, &count);
	if (!check_range(l, r, lba, count))
		return;
	if (!l->readonly && image_flush(l->img) < 0) {
		scsi_check(r, SCSI_SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR);
		return;
	}
	scsi_good(r);
}

/* Only BYTCHK=0 (check the medium): every block is readable by
 * construction, so the range check is the whole job. */
void scsi_cmd_verify(struct scsi_lun *l, struct scsi_req *r)
{
	uint64_t lba, count;

	decode_lba(r->cdb, &lba, &count);
	if (r->cdb[1] & 0xe6) { /* VRPROTECT, BYTCHK */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!check_range(l, r, lba, count))
		return;
	scsi_good(r);
}
