/* MMC-6 commands of a read-only CD/DVD drive: GET CONFIGURATION, READ
 * TOC/PMA/ATIP, GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION, READ
 * TRACK INFORMATION, MECHANISM STATUS and the capabilities mode page.  The
 * disc is one data track (track 1, session 1) from LBA 0, complete. */
#include <string.h>

#include "devices/disk/scsi_internal.h"

#define PROFILE_NONE 0x0000
#define PROFILE_CD_ROM 0x0008
#define PROFILE_DVD_ROM 0x0010

static bool is_dvd(const struct scsi_lun *l)
{
	return l->img && l->blocks > SCSI_CD_DVD_THRESHOLD_BLOCKS;
}

static uint16_t current_profile(const struct scsi_lun *l)
{
	if (!l->img)
		return PROFILE_NONE;
	return is_dvd(l) ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
}

static void invalid_field(struct scsi_req *r)
{
	scsi_check(r, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
}

/* --- GET CONFIGURATION ----------------------------------------------------- */

/* Feature descriptor CODE into P (room for 32 bytes); returns its length.
 * *CURRENT says whether it is current with the medium loaded. */
static unsigned feature(const struct scsi_lun *l, uint16_t code, uint8_t *p, bool *current)
{
	bool medium = l->img != NULL;
	unsigned len = 0;

	memset(p, 0, 32);
	put_be16(p, code);
	*current = true;
	switch (code) {
	case 0x0000: /* profile list, most capable first */
		p[2] = 0x03; /* persistent, current */
		put_be16(p + 4, PROFILE_DVD_ROM);
		p[6] = current_profile(l) == PROFILE_DVD_ROM;
		put_be16(p + 8, PROFILE_CD_ROM);
		p[10] = current_profile(l) == PROFILE_CD_ROM;
		len = 8;
		break;
	case 0x0001: /* core */
		p[2] = 0x04 | 0x03; /* version 1 */
		put_be32(p + 4, 1); /* physical interface: SCSI */
		p[8] = 0x01;        /* DBE */
		len = 8;
		break;
	case 0x0002: /* morphing */
		p[2] = 0x04 | 0x03; /* version 1 */
		p[4] = 0x02;        /* OCEvent; polling only (no Async) */
		len = 4;
		break;
	case 0x0003: /* removable medium */
		p[2] = 0x03;
		p[4] = 0x20 | 0x08 | 0x01; /* tray, eject, lock */
		len = 4;
		break;
	case 0x0010: /* random readable */
		p[2] = medium ? 0x01 : 0x00;
		put_be32(p + 4, l->block_size);
		put_be16(p + 8, 16); /* blocking */
		*current = medium;
		len = 8;
		break;
	case 0x001e: /* CD read */
		*current = current_profile(l) == PROFILE_CD_ROM;
		p[2] = 0x08 | (*current ? 0x01 : 0); /* version 2 */
		len = 4;
		break;
	case 0x001f: /* DVD read */
		*current = current_profile(l) == PROFILE_DVD_ROM;
		p[2] = *current ? 0x01 : 0;
		len = 0;
		break;
	default:
		return 0;
	}
	p[3] = (uint8_t)len;
	return 4 + len;
}

static const uint16_t features[] = { 0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f };

void scsi_cmd_get_configuration(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	unsigned rt = c[1] & 0x03, start = get_be16(c + 2), alloc = get_be16(c + 7);
	uint8_t buf[256];
	unsigned len = 8;

	if (rt == 3) {
		invalid_field(r);
		return;
	}
	memset(buf, 0, 8);
	put_be16(buf + 6, current_profile(l));
	for (unsigned i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		bool current;
		if (features[i] < start || (rt == 2 && features[i] != start))
			continue;
		unsigned n = feature(l, features[i], buf + len, &current);
		if (rt == 1 && !current)
			continue;
		len += n;
	}
	put_be32(buf, len - 4);
	scsi_data_in(r, buf, len, alloc);
}

/* --- READ TOC/PMA/ATIP ----------------------------------------------------- */

/* An address as LBA or as MSF (minutes, seconds, frames; 150 frames of
 * lead-in before LBA 0). */
static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	if (!msf) {
		put_be32(p, lba > 0xffffffffull ? 0xffffffffu : (uint32_t)lba);
		return;
	}
	uint64_t f = lba + 150;
	uint64_t m = f / (75 * 60);
	p[0] = 0;
	p[1] = m > 0xff ? 0xff : (uint8_t)m;
	p[2] = (uint8_t)(f / 75 % 60);
	p[3] = (uint8_t)(f % 75);
}

void scsi_cmd_read_toc(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	bool msf = c[1] & 0x02;
	unsigned format = c[2] & 0x0f, track = c[6], alloc = get_be16(c + 7);
	uint8_t buf[32];
	unsigned len = 4;

	/* Old drives took the format from the top bits of the control byte. */
	if (!format)
		format = c[9] >> 6;
	memset(buf, 0, sizeof(buf));
	buf[2] = 1;
	buf[3] = 1;
	switch (format) {
	case 0: /* TOC: track 1, then the lead-out */
		if (track > 1 && track != 0xaa) {
			invalid_field(r);
			return;
		}
		if (track <= 1) {
			buf[len + 1] = 0x14; /* ADR 1, data track */
			buf[len + 2] = 1;
			put_addr(buf + len + 4, 0, msf);
			len += 8;
		}
		buf[len + 1] = 0x14;
		buf[len + 2] = 0xaa;
		put_addr(buf + len + 4, l->blocks, msf);
		len += 8;
		break;
	case 1: /* session information: one session starting at track 1 */
		buf[len + 1] = 0x14;
		buf[len + 2] = 1;
		put_addr(buf + len + 4, 0, msf);
		len += 8;
		break;
	default:
		invalid_field(r);
		return;
	}
	put_be16(buf, (uint16_t)(len - 2));
	scsi_data_in(r, buf, len, alloc);
}

/* --- GET EVENT STATUS NOTIFICATION ----------------------------------------- */

#define EVENT_CLASS_MEDIA 4

void scsi_cmd_get_event_status(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	unsigned request = c[4], alloc = get_be16(c + 7);
	uint8_t buf[8] = { 0 };
	unsigned len = 4;

	if (!(c[1] & 0x01)) { /* asynchronous operation is not supported */
		invalid_field(r);
		return;
	}
	buf[3] = 1 << EVENT_CLASS_MEDIA; /* supported classes */
	if (request & (1 << EVENT_CLASS_MEDIA)) {
		buf[2] = EVENT_CLASS_MEDIA;
		buf[4] = 0;                  /* no change */
		buf[5] = l->img ? 0x02 : 0;  /* media present, door closed */
		len = 8;
	} else {
		buf[2] = 0x80; /* NEA: no class asked for is supported */
	}
	put_be16(buf, (uint16_t)(len - 2));
	scsi_data_in(r, buf, len, alloc);
}

/* --- READ DISC / TRACK INFORMATION, MECHANISM STATUS ----------------------- */

void scsi_cmd_read_disc_info(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	uint8_t buf[34] = { 0 };

	(void)l;
	if (c[1] & 0x07) { /* only standard disc information */
		invalid_field(r);
		return;
	}
	put_be16(buf, sizeof(buf) - 2);
	buf[2] = 0x0e; /* last session complete, disc finalized */
	buf[3] = 1;    /* first track */
	buf[4] = 1;    /* sessions */
	buf[5] = 1;    /* first track in last session */
	buf[6] = 1;    /* last track in last session */
	buf[7] = 0x20; /* URU */
	put_be32(buf + 16, 0xffffffffu); /* no next session */
	put_be32(buf + 20, 0xffffffffu);
	scsi_data_in(r, buf, sizeof(buf), get_be16(c + 7));
}

void scsi_cmd_read_track_info(struct scsi_lun *l, struct scsi_req *r)
{
	const uint8_t *c = r->cdb;
	uint32_t addr = get_be32(c + 2);
	uint8_t buf[36] = { 0 };

	switch (c[1] & 0x03) {
	case 0: /* an LBA within the track */
		if (addr >= l->blocks) {
			invalid_field(r);
			return;
		}
		break;
	case 1: /* track number */
	case 2: /* session number */
		if (addr != 1) {
			invalid_field(r);
			return;
		}
		break;
	default:
		invalid_field(r);
		return;
	}
	put_be16(buf, sizeof(buf) - 2);
	buf[2] = 1;    /* track */
	buf[3] = 1;    /* session */
	buf[5] = 0x04; /* data track, uninterrupted */
	buf[6] = 0x01; /* data mode 1 */
	put_be32(buf + 24, l->blocks > 0xffffffffull ? 0xffffffffu : (uint32_t)l->blocks);
	scsi_data_in(r, buf, sizeof(buf), get_be16(c + 7));
}

void scsi_cmd_mechanism_status(struct scsi_lun *l, struct scsi_req *r)
{
	uint8_t buf[8] = { 0 }; /* idle, door closed, no changer slots */

	(void)l;
	scsi_data_in(r, buf, sizeof(buf), get_be16(r->cdb + 8));
}

/* --- mode page 0x2a -------------------------------------------------------- */

unsigned scsi_cdrom_caps_page(const struct scsi_lun *l, uint8_t *p, bool changeable)
{
	(void)l;
	memset(p, 0, 28);
	p[0] = 0x2a;
	p[1] = 26;
	if (changeable)
		return 28;
	p[2] = 0x3b;            /* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
	p[4] = 0x70;            /* mode 2 form 1/2, multi-session */
	p[6] = 0x20 | 0x08 | 0x01; /* tray, eject, lock */
	put_be16(p + 8, 16 * 176);  /* maximum read speed (obsolete), kB/s */
	put_be16(p + 14, 16 * 176); /* current read speed (obsolete) */
	return 28;
}
