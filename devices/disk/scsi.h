/* SCSI target emulation: one logical unit (a disk or a CD/DVD-ROM drive)
 * over a disk image, answering the commands Linux's sd and sr drivers send
 * (SPC-4, SBC-3, MMC-6 subsets).  Pure library code: a command arrives as a
 * CDB plus iovecs into guest memory and is executed synchronously.
 *
 * Everything from the initiator is hostile: CDB fields, lengths, LBAs and
 * iovec sizes are checked, data is only ever moved within the given iovecs,
 * and every failure is a CHECK CONDITION with fixed-format sense data.
 *
 * Short buffers: a READ or WRITE whose data-in/data-out iovecs hold less
 * than the CDB's transfer length is not started: CHECK CONDITION, ILLEGAL
 * REQUEST, INVALID FIELD IN CDB, nothing transferred.  Other data-in
 * commands store at most min(allocation length, din space) bytes and report
 * the count in din_written.
 *
 * Threads: scsi_lun_execute() may run on several threads at once for the
 * same LUN.  A LUN holds no mutable state after scsi_lun_init() (sense is
 * returned with the command, "autosense"; REQUEST SENSE reports NO SENSE),
 * so no lock is taken here; the image does its own locking. */
#ifndef CELLVM_DEVICES_DISK_SCSI_H
#define CELLVM_DEVICES_DISK_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/disk/image.h"
#include "devices/virtio/iov.h"

enum scsi_media { SCSI_MEDIA_DISK, SCSI_MEDIA_CDROM };

#define SCSI_SENSE_MAX 96
#define SCSI_CDB_MAX 32

/* SAM status codes. */
#define SCSI_STATUS_GOOD 0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02

/* Sense keys. */
#define SCSI_SENSE_NO_SENSE 0x00
#define SCSI_SENSE_NOT_READY 0x02
#define SCSI_SENSE_MEDIUM_ERROR 0x03
#define SCSI_SENSE_ILLEGAL_REQUEST 0x05
#define SCSI_SENSE_UNIT_ATTENTION 0x06
#define SCSI_SENSE_DATA_PROTECT 0x07

/* What the LUN advertises and enforces. */
#define SCSI_MAX_XFER_BLOCKS 0xffffu        /* block limits VPD: maximum transfer length */
#define SCSI_MAX_UNMAP_DESCRIPTORS 256u     /* per UNMAP command */
#define SCSI_MAX_UNMAP_BLOCKS 0x400000u     /* per descriptor, and per WRITE SAME */
#define SCSI_CD_DVD_THRESHOLD_BLOCKS 360000u /* larger CD images are DVD-ROMs (80 min CD) */

struct scsi_lun {
	struct image *img;        /* NULL for a CD drive with no medium */
	enum scsi_media media;
	bool readonly;            /* CD-ROMs are always read-only */
	uint32_t block_size;      /* 512 for disks, 2048 for CD-ROMs */
	uint64_t blocks;          /* image_size / block_size */
	char serial[21];          /* unit serial number VPD page 0x80 */
	uint32_t unmap_granularity; /* in blocks, from the image's cluster size */
};

/* 0, or -1 with ERR: a disk image whose size is not a multiple of 512 or is
 * empty, a CD image smaller than one 2048-byte block (a CD's size is rounded
 * down), a writable LUN on a read-only image.  IMG may be NULL only for a
 * CD-ROM (no medium).  SERIAL may be NULL or longer than 20 characters (it is
 * cut; printable ASCII only, anything else becomes '_'). */
int scsi_lun_init(struct scsi_lun *l, struct image *img, enum scsi_media media, bool readonly,
		  const char *serial, char *err, size_t errlen);

struct scsi_req {
	const uint8_t *cdb;
	unsigned cdb_len;            /* already copied by the caller, <= SCSI_CDB_MAX */
	const struct iovec *dout;    /* data from the initiator (guest memory) */
	unsigned dout_num;
	const struct iovec *din;     /* data to the initiator */
	unsigned din_num;
	/* results */
	uint8_t status;                /* SAM status: 0x00 GOOD, 0x02 CHECK CONDITION */
	uint8_t sense[SCSI_SENSE_MAX]; /* fixed-format sense (0x70), when CHECK CONDITION */
	unsigned sense_len;
	uint64_t din_written;          /* bytes stored into din */
	uint64_t dout_used;            /* bytes consumed from dout */
};

/* Executes one command.  Thread-safe (see above).  The result fields are
 * set on every path. */
void scsi_lun_execute(struct scsi_lun *l, struct scsi_req *r);

/* A command for a LUN that does not exist: INQUIRY answers peripheral
 * qualifier 3 / type 0x1f, REQUEST SENSE answers LOGICAL UNIT NOT SUPPORTED,
 * everything else CHECK CONDITION, ILLEGAL REQUEST, LOGICAL UNIT NOT
 * SUPPORTED (asc 0x25). */
void scsi_no_lun_execute(struct scsi_req *r);

/* REPORT LUNS data (SPC-4) listing the single-level LUNs LUNS[0..N-1] into
 * R's din, truncated to the CDB's allocation length.  The controller layer
 * calls this: it knows which LUNs exist. */
void scsi_report_luns(struct scsi_req *r, const uint16_t *luns, unsigned n);

#endif
