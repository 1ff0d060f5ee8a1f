/* virtio-blk requests (VIRTIO 1.2, section 5.2) over a disk image.
 *
 * The disk device process pops a request from a virtqueue and hands its
 * segments to vblk_handle(), which parses the request, does the I/O with the
 * image API (devices/disk/image.h) straight from and into the segments, and
 * writes the status byte.  No transport, no threads, no allocation per
 * request.
 *
 * A request in guest RAM (all little-endian):
 *   device-readable:  le32 type, le32 reserved, le64 sector  (the header)
 *                     data for OUT; struct virtio_blk_discard_write_zeroes
 *                     {le64 sector, le32 num_sectors, le32 flags}[] for
 *                     DISCARD and WRITE_ZEROES
 *   device-writable:  data for IN and GET_ID, then u8 status
 * The guest may split these across segments anywhere and may rewrite them
 * while we work: the header and the discard/write-zeroes segments are copied
 * out before they are checked, and nothing outside the given iovecs is read
 * or written.  Data of IN/OUT goes directly between guest RAM and the image,
 * so a guest changing it meanwhile gets torn data, which is its own affair.
 *
 * Status: VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR for malformed requests (short
 * header, data not a multiple of 512, ranges beyond the capacity or that
 * overflow, too many or too large discard/write-zeroes segments, writes to a
 * read-only disk) and failed image calls, VIRTIO_BLK_S_UNSUPP for unknown
 * request types, unknown discard/write-zeroes flags and DISCARD with UNMAP.
 * Bytes that a request leaves out (out bytes after the header of an IN,
 * writable bytes before the status of an OUT) are ignored.
 *
 * Threads: vblk_handle() may run on several threads at once on one struct
 * vblk (one per queue): the struct is only read after vblk_init() apart from
 * the counters, which are updated atomically, and the image's I/O calls are
 * thread-safe.  A call blocks for as long as its image I/O takes: up to
 * 4 GiB of reads or writes, or a flush (fdatasync), or discard/write-zeroes
 * of up to max_discard_seg * VBLK_MAX_DISCARD_SECTORS sectors.
 */
#ifndef CELLVM_DEVICES_DISK_VIRTIO_BLK_H
#define CELLVM_DEVICES_DISK_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/disk/image.h"

#define VIRTIO_ID_BLOCK 2
/* struct virtio_blk_config up to and including write_zeroes_may_unmap and its
 * padding, without the secure erase and zoned fields. */
#define VBLK_CONFIG_SIZE 60
#define VBLK_ID_BYTES 20
#define VBLK_SECTOR 512u

/* Feature bit numbers. */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types. */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* struct virtio_blk_discard_write_zeroes: 16 bytes, flags bit 0 is UNMAP. */
#define VBLK_DWZ_SEG_SIZE 16
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u
#define VBLK_REQ_HDR_SIZE 16

/* Limits we announce in the config space and enforce. */
#define VBLK_MAX_DISCARD_SEG 64u           /* max_discard_seg, max_write_zeroes_seg */
#define VBLK_MAX_DISCARD_SECTORS (1u << 21) /* 1 GiB per segment, both kinds */
#define VBLK_MAX_QUEUES 64u
/* seg_max by default: the transport takes VQ_MAX_SEGS (1024) descriptors per
 * chain, two of which are the header and the status. */
#define VBLK_DEFAULT_SEG_MAX 1022u

/* Counters, for statistics and logs (vblk_get_stats). */
struct vblk_stats {
	uint64_t requests;
	uint64_t reads, writes, flushes, get_ids, discards, write_zeroes;
	uint64_t bytes_read, bytes_written;
	uint64_t ioerr;   /* requests answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupp;  /* requests answered VIRTIO_BLK_S_UNSUPP */
	uint64_t no_status; /* requests without a writable byte (vblk_handle returned 0) */
};

struct vblk {
	struct image *img;
	bool readonly;
	char serial[VBLK_ID_BYTES];   /* GET_ID answer; zero-padded */
	unsigned num_queues;
	uint64_t capacity;            /* in 512-byte sectors */
	uint32_t seg_max;             /* what we tell the driver; the transport's limit is
				       * VQ_MAX_SEGS (1024) descriptors per chain */
	uint32_t opt_io_sectors;      /* topology and discard alignment: the cluster size */
	struct vblk_stats stats;      /* updated atomically; read with vblk_get_stats */
};

/* Sets B up over IMG (which stays the caller's: close it after the last
 * request).  SERIAL (may be NULL) is cut to VBLK_ID_BYTES.  NUM_QUEUES is
 * 1..VBLK_MAX_QUEUES.  A read-only IMG needs READONLY.  Returns 0, or -errno
 * with a one-line reason in ERR. */
int vblk_init(struct vblk *b, struct image *img, bool readonly, const char *serial,
	      unsigned num_queues, char *err, size_t errlen);

/* The device-type feature bits: SEG_MAX, BLK_SIZE, FLUSH, TOPOLOGY, MQ (if
 * num_queues > 1), DISCARD and WRITE_ZEROES (unless read-only), RO (if
 * read-only).  The transport adds VERSION_1 and the ring features. */
uint64_t vblk_features(const struct vblk *b);

/* struct virtio_blk_config, little-endian: capacity, size_max (0: SIZE_MAX is
 * not offered), seg_max, geometry (0: not offered), blk_size 512, topology
 * (physical_block_exp 0, alignment_offset 0, min_io_size 1, opt_io_size the
 * cluster size in sectors), writeback 1, num_queues, max_discard_sectors,
 * max_discard_seg, discard_sector_alignment (the cluster size in sectors),
 * max_write_zeroes_sectors, max_write_zeroes_seg, write_zeroes_may_unmap 1. */
void vblk_config(const struct vblk *b, uint8_t cfg[VBLK_CONFIG_SIZE]);

/* What one request was and why it failed, for the device's log. */
struct vblk_result {
	uint32_t type;    /* request type; UINT32_MAX when the header was short */
	uint8_t status;   /* the status written; 0xff when none could be */
	int err;          /* the image call's -errno when one failed, else 0 */
	const char *why;  /* static text when status is not OK, else NULL */
};

/* Serves one request.  out: device-readable segments (header, then data for
 * writes / discard segments); in: device-writable segments (data for reads /
 * GET_ID, then the status byte, which is the last byte of the last non-empty
 * in segment).  Returns the number of bytes written into `in`, including the
 * status byte (the used-ring length): data bytes + 1 for a successful IN or
 * GET_ID, else 1; 0 when there is no writable byte for the status at all
 * (malformed: nothing is done). */
uint32_t vblk_handle(struct vblk *b, const struct iovec *out, unsigned out_num,
		     const struct iovec *in, unsigned in_num);
/* The same, and fills RES (may be NULL). */
uint32_t vblk_handle_res(struct vblk *b, const struct iovec *out, unsigned out_num,
			 const struct iovec *in, unsigned in_num, struct vblk_result *res);

/* A snapshot of the counters (each read atomically). */
void vblk_get_stats(const struct vblk *b, struct vblk_stats *st);

#endif
