/* SCSI target core (see scsi.h): sense data, the command dispatch, INQUIRY
 * with its VPD pages, REQUEST SENSE, READ CAPACITY, MODE SENSE/SELECT and
 * the answers for a LUN that does not exist.  Block I/O is in scsi_rw.c,
 * the MMC (CD/DVD) commands in scsi_cdrom.c. */
#include <stdio.h>
#include <string.h>

#include "devices/disk/scsi_internal.h"

/* --- iovec helpers --------------------------------------------------------- */

/* --- results --------------------------------------------------------------- */

void scsi_good(struct scsi_req *r)
{
	r->status = SCSI_STATUS_GOOD;
	r->sense_len = 0;
}

void scsi_check(struct scsi_req *r, uint8_t key, uint16_t asc)
{
	r->status = SCSI_STATUS_CHECK_CONDITION;
	memset(r->sense, 0, 18);
	r->sense[0] = 0x70;          /* current error, fixed format */
	r->sense[2] = key & 0x0f;
	r->sense[7] = 10;            /* additional sense length */
	r->sense[12] = (uint8_t)(asc >> 8);
	r->sense[13] = (uint8_t)asc;
	r->sense_len = 18;
}

void scsi_data_in(struct scsi_req *r, const void *buf, uint64_t len, uint64_t alloc)
{
	if (len > alloc)
		len = alloc;
	r->din_written = iov_from_buf(r->din, r->din_num, 0, buf, len);
	scsi_good(r);
}

static void reset_result(struct scsi_req *r)
{
	r->status = SCSI_STATUS_GOOD;
	r->sense_len = 0;
	r->din_written = 0;
	r->dout_used = 0;
}

/* The CDB length an opcode needs, by its group code (SPC-4 4.2.5.1). */
static unsigned cdb_length(uint8_t op)
{
	switch (op >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0; /* reserved or vendor specific: none supported */
	}
}

/* --- LUN setup ------------------------------------------------------------- */

int scsi_lun_init(struct scsi_lun *l, struct image *img, enum scsi_media media, bool readonly,
		  const char *serial, char *err, size_t errlen)
{
	memset(l, 0, sizeof(*l));
	if (media != SCSI_MEDIA_DISK && media != SCSI_MEDIA_CDROM) {
		snprintf(err, errlen, "unknown SCSI medium type %d", (int)media);
		return -1;
	}
	l->media = media;
	l->block_size = media == SCSI_MEDIA_CDROM ? 2048 : 512;
	l->readonly = readonly || media == SCSI_MEDIA_CDROM;
	if (!img && media != SCSI_MEDIA_CDROM) {
		snprintf(err, errlen, "a SCSI disk needs an image");
		return -1;
	}
	if (img) {
		uint64_t size = image_size(img);
		if (media == SCSI_MEDIA_DISK && size % l->block_size) {
			snprintf(err, errlen, "disk image size %llu is not a multiple of %u bytes",
				 (unsigned long long)size, l->block_size);
			return -1;
		}
		if (size < l->block_size) {
			snprintf(err, errlen, "image size %llu is smaller than one %u-byte block",
				 (unsigned long long)size, l->block_size);
			return -1;
		}
		if (!l->readonly && image_readonly(img)) {
			snprintf(err, errlen, "a writable SCSI disk on a read-only image");
			return -1;
		}
		l->img = img;
		l->blocks = size / l->block_size;
		uint32_t cs = image_cluster_size(img);
		l->unmap_granularity = cs > l->block_size ? cs / l->block_size : 1;
	}
	size_t n = 0;
	for (; serial && serial[n] && n < sizeof(l->serial) - 1; n++) {
		char c = serial[n];
		l->serial[n] = c > ' ' && c < 0x7f ? c : '_';
	}
	l->serial[n] = 0;
	return 0;
}

/* --- INQUIRY --------------------------------------------------------------- */

static uint8_t peripheral_type(const struct scsi_lun *l)
{
	return l->media == SCSI_MEDIA_CDROM ? 0x05 : 0x00;
}

static void pad_copy(uint8_t *dst, const char *s, size_t len)
{
	size_t n = strlen(s);
	memset(dst, ' ', len);
	memcpy(dst, s, n < len ? n : len);
}

static unsigned standard_inquiry(const struct scsi_lun *l, uint8_t *p)
{
	memset(p, 0, 36);
	p[0] = l ? peripheral_type(l) : 0x7f;
	p[1] = l && l->media == SCSI_MEDIA_CDROM ? 0x80 : 0; /* RMB */
	p[2] = 0x06;        /* SPC-4 */
	p[3] = 0x12;        /* HiSup, response data format 2 */
	p[4] = 36 - 5;      /* additional length */
	p[7] = 0x02;        /* CmdQue */
	pad_copy(p + 8, "CELLVM", 8);
	pad_copy(p + 16, l && l->media == SCSI_MEDIA_CDROM ? "VIRTUAL CD-ROM" : "VIRTUAL DISK", 16);
	pad_copy(p + 32, "1.0", 4);
	return 36;
}

/* A 64-bit FNV-1a hash of the serial, for the NAA designator. */
static uint64_t serial_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static const uint8_t disk_vpd_pages[] = { 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 };
static const uint8_t cd_vpd_pages[] = { 0x00, 0x80, 0x83 };

static bool writable_disk(const struct scsi_lun *l)
{
	return l->media == SCSI_MEDIA_DISK && !l->readonly;
}

/* Fills VPD page CODE into P (room for 256 bytes); returns its length or 0
 * when the page is not supported. */
static unsigned vpd_page(const struct scsi_lun *l, uint8_t code, uint8_t *p)
{
	const uint8_t *pages = l->media == SCSI_MEDIA_CDROM ? cd_vpd_pages : disk_vpd_pages;
	unsigned npages = l->media == SCSI_MEDIA_CDROM ? sizeof(cd_vpd_pages)
						      : sizeof(disk_vpd_pages);
	unsigned len = 4, i;

	for (i = 0; i < npages && pages[i] != code; i++)
		;
	if (i == npages)
		return 0;
	memset(p, 0, 256);
	p[0] = peripheral_type(l);
	p[1] = code;
	switch (code) {
	case 0x00: /* supported VPD pages */
		memcpy(p + 4, pages, npages);
		len += npages;
		break;
	case 0x80: { /* unit serial number */
		size_t n = strlen(l->serial);
		memcpy(p + 4, l->serial, n);
		len += (unsigned)n;
		break;
	}
	case 0x83: { /* device identification */
		uint8_t *d = p + 4;
		size_t n = strlen(l->serial);
		/* T10 vendor ID: "CELLVM  " + serial, ASCII, LU association. */
		d[0] = 0x02;
		d[1] = 0x01;
		d[3] = (uint8_t)(8 + n);
		pad_copy(d + 4, "CELLVM", 8);
		memcpy(d + 12, l->serial, n);
		d += 4 + 8 + n;
		/* NAA 3 (locally assigned), binary, LU association. */
		d[0] = 0x01;
		d[1] = 0x03;
		d[3] = 8;
		put_be64(d + 4, (3ull << 60) | (serial_hash(l->serial) >> 4));
		d += 12;
		len = (unsigned)(d - p);
		break;
	}
	case 0xb0: /* block limits */
		len = 0x40;
		p[4] = 0x01; /* WSNZ: WRITE SAME with 0 blocks is refused */
		put_be32(p + 8, SCSI_MAX_XFER_BLOCKS);
		if (writable_disk(l)) {
			put_be32(p + 20, SCSI_MAX_UNMAP_BLOCKS);
			put_be32(p + 24, SCSI_MAX_UNMAP_DESCRIPTORS);
			put_be32(p + 28, l->unmap_granularity);
			put_be64(p + 36, SCSI_MAX_UNMAP_BLOCKS);
		}
		break;
	case 0xb1: /* block device characteristics */
		len = 0x40;
		put_be16(p + 4, 1); /* non-rotating medium */
		break;
	case 0xb2: /* logical block provisioning */
		len = 8;
		if (writable_disk(l)) {
			p[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
			p[6] = 0x02;                      /* thin provisioned */
		}
		break;
	}
	put_be16(p + 2, (uint16_t)(len - 4));
	return len;
}

static void cmd_inquiry(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	uint8_t buf[256];
	unsigned alloc = get_be16(c + 3), len;

	if (c[1] & 0xfe) { /* CmdDt (obsolete) and reserved bits */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (!(c[1] & 0x01)) {
		if (c[2]) {
			scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		len = standard_inquiry(l, buf);
	} else {
		len = vpd_page(l, c[2], buf);
		if (!len) {
			scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
	}
	scsi_data_in(r, buf, len, alloc);
}

/* --- REQUEST SENSE, READ CAPACITY ------------------------------------------ */

static void cmd_request_sense(struct scsi_lun *l, struct scsi_req *r)
{
	struct scsi_req tmp = { 0 };

	if (r->cdb[1] & 0x01) { /* descriptor format: not supported */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	/* Sense is returned with each command: nothing is pending, unless
	 * the drive has no medium. */
	if (l && !l->img)
		scsi_check(&tmp, SCSI_SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
	else if (!l)
		scsi_check(&tmp, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	else
		scsi_check(&tmp, SCSI_SENSE_NO_SENSE, ASC_NO_ADDITIONAL_SENSE);
	scsi_data_in(r, tmp.sense, tmp.sense_len, r->cdb[4]);
}

static void cmd_read_capacity10(struct scsi_lun *l, struct scsi_req *r)
{
	uint8_t buf[8];
	uint64_t last = l->blocks - 1;

	put_be32(buf, last > 0xffffffffull ? 0xffffffffu : (uint32_t)last);
	put_be32(buf + 4, l->block_size);
	scsi_data_in(r, buf, sizeof(buf), sizeof(buf));
}

static void cmd_service_action_in(struct scsi_lun *l, struct scsi_req *r)
{
	uint8_t buf[32] = { 0 };

	if ((r->cdb[1] & 0x1f) != 0x10) { /* only READ CAPACITY(16) */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	put_be64(buf, l->blocks - 1);
	put_be32(buf + 8, l->block_size);
	if (writable_disk(l))
		buf[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
	scsi_data_in(r, buf, sizeof(buf), get_be32(r->cdb + 10));
}

/* --- MODE SENSE / MODE SELECT ---------------------------------------------- */

/* One mode page into P (room for 64 bytes); returns its length, 0 when the
 * LUN has no such page. */
static unsigned mode_page(const struct scsi_lun *l, uint8_t code, bool changeable, uint8_t *p)
{
	bool cd = l->media == SCSI_MEDIA_CDROM;

	switch (code) {
	case 0x01: /* read-write error recovery */
		memset(p, 0, 12);
		p[0] = 0x01;
		p[1] = 0x0a;
		return 12;
	case 0x08: /* caching */
		if (cd)
			return 0;
		memset(p, 0, 20);
		p[0] = 0x08;
		p[1] = 0x12;
		if (!changeable)
			p[2] = 0x04; /* WCE: writes are cached until SYNCHRONIZE CACHE */
		return 20;
	case 0x0a: /* control */
		if (cd)
			return 0;
		memset(p, 0, 12);
		p[0] = 0x0a;
		p[1] = 0x0a;
		return 12;
	case 0x2a:
		if (!cd)
			return 0;
		return scsi_cdrom_caps_page(l, p, changeable);
	}
	return 0;
}

static const uint8_t all_mode_pages[] = { 0x01, 0x08, 0x0a, 0x2a };

static void cmd_mode_sense(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	bool ten = c[0] == 0x5a;
	bool dbd = c[1] & 0x08;
	unsigned pc = c[2] >> 6, code = c[2] & 0x3f, subpage = c[3];
	unsigned alloc = ten ? get_be16(c + 7) : c[4];
	unsigned hdr = ten ? 8 : 4, len;
	uint8_t buf[256];

	if (pc == 3) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
		return;
	}
	if (subpage && !(code == 0x3f && subpage == 0xff)) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	memset(buf, 0, hdr);
	len = hdr;
	/* A short block descriptor, for disks (MMC drives have none). */
	if (!dbd && l->media == SCSI_MEDIA_DISK) {
		uint8_t *bd = buf + len;
		memset(bd, 0, 8);
		put_be24(bd + 1, l->blocks > 0xffffff ? 0xffffff : (uint32_t)l->blocks);
		put_be24(bd + 5, l->block_size);
		len += 8;
		if (ten)
			put_be16(buf + 6, 8);
		else
			buf[3] = 8;
	}
	if (code == 0x3f) {
		for (unsigned i = 0; i < sizeof(all_mode_pages); i++)
			len += mode_page(l, all_mode_pages[i], pc == 1, buf + len);
	} else {
		unsigned n = mode_page(l, (uint8_t)code, pc == 1, buf + len);
		if (!n) {
			scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
			return;
		}
		len += n;
	}
	if (l->readonly)
		buf[ten ? 3 : 2] = 0x80; /* WP */
	if (ten)
		put_be16(buf, (uint16_t)(len - 2));
	else
		buf[0] = (uint8_t)(len - 1);
	scsi_data_in(r, buf, len, alloc);
}

/* Parameters are accepted and ignored: nothing is changeable (MODE SENSE
 * with PC=1 says so), and saving is refused. */
static void cmd_mode_select(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	unsigned len = c[0] == 0x55 ? get_be16(c + 7) : c[4];

	(void)l;
	if (c[1] & 0x01) { /* SP */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (iov_bytes(r->dout, r->dout_num) < len) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	r->dout_used = len;
	scsi_good(r);
}

/* --- REPORT LUNS, missing LUNs --------------------------------------------- */

void scsi_report_luns(struct scsi_req *r, const uint16_t *luns, unsigned n)
{
	const uint8_t *c = r->cdb;
	uint8_t entry[8];

	reset_result(r);
	if (r->cdb_len < 12) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	uint32_t alloc = get_be32(c + 6);
	if (alloc < 16) { /* SPC-4: an allocation length under 16 is an error */
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (c[2] > 0x02 && c[2] != 0x10 && c[2] != 0x11 && c[2] != 0x12) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (c[2] == 0x01 || c[2] == 0x10 || c[2] == 0x12)
		n = 0; /* well-known LUNs only, or administrative: we have none */
	memset(entry, 0, sizeof(entry));
	put_be32(entry, 8 * n);
	uint64_t total = 8 + 8ull * n, done = 0;
	if (total > alloc)
		total = alloc;
	done += iov_from_buf(r->din, r->din_num, 0, entry, total < 8 ? total : 8);
	for (unsigned i = 0; i < n && 8 + 8ull * i < total; i++) {
		memset(entry, 0, sizeof(entry));
		if (luns[i] < 256) {
			entry[1] = (uint8_t)luns[i]; /* peripheral device addressing */
		} else {
			entry[0] = 0x40 | (uint8_t)(luns[i] >> 8 & 0x3f);
			entry[1] = (uint8_t)luns[i];
		}
		uint64_t want = total - (8 + 8ull * i);
		done += iov_from_buf(r->din, r->din_num, 8 + 8ull * i, entry,
					  want < 8 ? want : 8);
	}
	r->din_written = done;
	scsi_good(r);
}

void scsi_no_lun_execute(struct scsi_req *r)
{
	uint8_t buf[36];

	reset_result(r);
	if (!r->cdb_len) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	uint8_t op = r->cdb[0];
	if (r->cdb_len < cdb_length(op))
		goto unsupported;
	if (op == 0x12 && !(r->cdb[1] & 0x01) && !r->cdb[2]) {
		standard_inquiry(NULL, buf);
		scsi_data_in(r, buf, 36, get_be16(r->cdb + 3));
		return;
	}
	if (op == 0x03) {
		cmd_request_sense(NULL, r);
		return;
	}
unsupported:
	scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
}

/* --- dispatch -------------------------------------------------------------- */

enum {
	F_MEDIUM = 1, /* needs a medium (a CD drive may have none) */
	F_DISK = 2,   /* SBC only */
	F_CD = 4,     /* MMC only */
};

struct command {
	void (*fn)(struct scsi_lun *l, struct scsi_req *r);
	unsigned flags;
};

static void cmd_good(struct scsi_lun *l, struct scsi_req *r)
{
	(void)l;
	scsi_good(r);
}

static void cmd_start_stop(struct scsi_lun *l, struct scsi_req *r)
{
	/* Eject and load are accepted; the medium stays (the supervisor
	 * changes media). */
	(void)l;
	scsi_good(r);
}

static void cmd_report_luns_lun0(struct scsi_lun *l, struct scsi_req *r)
{
	static const uint16_t lun0 = 0;

	(void)l;
	scsi_report_luns(r, &lun0, 1);
}

static const struct command commands[256] = {
	[0x00] = { cmd_good, F_MEDIUM },                 /* TEST UNIT READY */
	[0x03] = { cmd_request_sense, 0 },               /* REQUEST SENSE */
	[0x08] = { scsi_cmd_read_write, F_MEDIUM },      /* READ(6) */
	[0x0a] = { scsi_cmd_read_write, F_MEDIUM },      /* WRITE(6) */
	[0x12] = { cmd_inquiry, 0 },                     /* INQUIRY */
	[0x15] = { cmd_mode_select, 0 },                 /* MODE SELECT(6) */
	[0x1a] = { cmd_mode_sense, 0 },                  /* MODE SENSE(6) */
	[0x1b] = { cmd_start_stop, 0 },                  /* START STOP UNIT */
	[0x1e] = { cmd_good, 0 },                        /* PREVENT ALLOW MEDIUM REMOVAL */
	[0x25] = { cmd_read_capacity10, F_MEDIUM },      /* READ CAPACITY(10) */
	[0x28] = { scsi_cmd_read_write, F_MEDIUM },      /* READ(10) */
	[0x2a] = { scsi_cmd_read_write, F_MEDIUM },      /* WRITE(10) */
	[0x2f] = { scsi_cmd_verify, F_MEDIUM },          /* VERIFY(10) */
	[0x35] = { scsi_cmd_sync_cache, F_MEDIUM },      /* SYNCHRONIZE CACHE(10) */
	[0x41] = { scsi_cmd_write_same, F_MEDIUM | F_DISK }, /* WRITE SAME(10) */
	[0x42] = { scsi_cmd_unmap, F_MEDIUM | F_DISK },  /* UNMAP */
	[0x43] = { scsi_cmd_read_toc, F_MEDIUM | F_CD }, /* READ TOC/PMA/ATIP */
	[0x46] = { scsi_cmd_get_configuration, F_CD },   /* GET CONFIGURATION */
	[0x4a] = { scsi_cmd_get_event_status, F_CD },    /* GET EVENT STATUS NOTIFICATION */
	[0x51] = { scsi_cmd_read_disc_info, F_MEDIUM | F_CD },  /* READ DISC INFORMATION */
	[0x52] = { scsi_cmd_read_track_info, F_MEDIUM | F_CD }, /* READ TRACK INFORMATION */
	[0x55] = { cmd_mode_select, 0 },                 /* MODE SELECT(10) */
	[0x5a] = { cmd_mode_sense, 0 },                  /* MODE SENSE(10) */
	[0x88] = { scsi_cmd_read_write, F_MEDIUM },      /* READ(16) */
	[0x8a] = { scsi_cmd_read_write, F_MEDIUM },      /* WRITE(16) */
	[0x8f] = { scsi_cmd_verify, F_MEDIUM },          /* VERIFY(16) */
	[0x91] = { scsi_cmd_sync_cache, F_MEDIUM },      /* SYNCHRONIZE CACHE(16) */
	[0x93] = { scsi_cmd_write_same, F_MEDIUM | F_DISK }, /* WRITE SAME(16) */
	[0x9e] = { cmd_service_action_in, F_MEDIUM },    /* SERVICE ACTION IN(16) */
	[0xa0] = { cmd_report_luns_lun0, 0 },            /* REPORT LUNS */
	[0xa8] = { scsi_cmd_read_write, F_MEDIUM },      /* READ(12) */
	[0xaa] = { scsi_cmd_read_write, F_MEDIUM },      /* WRITE(12) */
	[0xbb] = { cmd_good, F_CD },                     /* SET CD SPEED */
	[0xbd] = { scsi_cmd_mechanism_status, F_CD },    /* MECHANISM STATUS */
};

void scsi_lun_execute(struct scsi_lun *l, struct scsi_req *r)
{
	reset_result(r);
	if (!r->cdb_len || r->cdb_len > SCSI_CDB_MAX) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	uint8_t op = r->cdb[0];
	const struct command *cmd = &commands[op];
	if (!cmd->fn || (cmd->flags & F_DISK && l->media != SCSI_MEDIA_DISK) ||
	    (cmd->flags & F_CD && l->media != SCSI_MEDIA_CDROM)) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	if (r->cdb_len < cdb_length(op)) {
		scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		return;
	}
	if (cmd->flags & F_MEDIUM && !l->img) {
		scsi_check(r, SCSI_SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
		return;
	}
	cmd->fn(l, r);
}
