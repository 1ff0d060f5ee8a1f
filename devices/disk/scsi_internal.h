/* Shared by scsi.c (core: sense, dispatch, INQUIRY, MODE SENSE, capacity),
 * scsi_rw.c (block I/O commands) and scsi_cdrom.c (MMC commands). */
#ifndef CELLVM_DEVICES_DISK_SCSI_INTERNAL_H
#define CELLVM_DEVICES_DISK_SCSI_INTERNAL_H

#include "devices/disk/scsi.h"

/* Additional sense codes (asc << 8 | ascq). */
#define ASC_NO_ADDITIONAL_SENSE 0x0000
#define ASC_WRITE_ERROR 0x0c00
#define ASC_UNRECOVERED_READ_ERROR 0x1100
#define ASC_PARAMETER_LIST_LENGTH_ERROR 0x1a00
#define ASC_INVALID_OPCODE 0x2000
#define ASC_LBA_OUT_OF_RANGE 0x2100
#define ASC_INVALID_FIELD_IN_CDB 0x2400
#define ASC_LUN_NOT_SUPPORTED 0x2500
#define ASC_INVALID_FIELD_IN_PARAMETER_LIST 0x2600
#define ASC_WRITE_PROTECTED 0x2700
#define ASC_SAVING_PARAMETERS_NOT_SUPPORTED 0x3900
#define ASC_MEDIUM_NOT_PRESENT 0x3a00

/* Sets CHECK CONDITION with fixed-format sense. */
void scsi_check(struct scsi_req *r, uint8_t key, uint16_t asc);
void scsi_good(struct scsi_req *r);
/* Stores LEN bytes of BUF as the command's data-in, cut to ALLOC (the
 * CDB's allocation length) and to the din space; GOOD status. */
void scsi_data_in(struct scsi_req *r, const void *buf, uint64_t len, uint64_t alloc);

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* Block commands (scsi_rw.c). */
void scsi_cmd_read_write(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_write_same(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_unmap(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_sync_cache(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_verify(struct scsi_lun *l, struct scsi_req *r);

/* MMC commands (scsi_cdrom.c). */
void scsi_cmd_get_configuration(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_read_toc(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_get_event_status(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_read_disc_info(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_read_track_info(struct scsi_lun *l, struct scsi_req *r);
void scsi_cmd_mechanism_status(struct scsi_lun *l, struct scsi_req *r);
/* The CD capabilities mode page (0x2a) into P; returns its length. */
unsigned scsi_cdrom_caps_page(const struct scsi_lun *l, uint8_t *p, bool changeable);

#endif
