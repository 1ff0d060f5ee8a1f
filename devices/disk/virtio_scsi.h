/* virtio-scsi request layer (VIRTIO 1.2 section 5.6): the device
 * configuration space, request queue commands and control queue requests,
 * over iovecs as a popped virtqueue chain gives them.  No transport and no
 * threads here: the disk device process pops chains, calls
 * vscsi_handle_cmd()/vscsi_handle_ctrl() and pushes the returned length.
 *
 * Addressing: LUN field byte 0 = 1, byte 1 = target (0..VSCSI_MAX_TARGETS-1),
 * bytes 2-3 = LUN (0x40 | lun >> 8, lun & 0xff, or 0 0 for LUN 0), bytes 4-7
 * zero.  Each target has LUN 0 only (config max_lun = 0).  A wrong byte 0,
 * a target out of range or a target with no device gets the virtio response
 * BAD_TARGET, which makes Linux skip the target quietly; another LUN of an
 * existing target is answered by scsi_no_lun_execute() (INQUIRY peripheral
 * qualifier 3), REPORT LUNS by this layer (LUN 0).
 *
 * Threads: vscsi_handle_cmd() may run on several request queue threads at
 * once; it reads cdb_size/sense_size once per request.  Attach, reset and
 * config writes are setup-time calls (the transport serializes them with
 * the device status).  Requests complete synchronously, so task management
 * has nothing to abort. */
#ifndef CELLVM_DEVICES_DISK_VIRTIO_SCSI_H
#define CELLVM_DEVICES_DISK_VIRTIO_SCSI_H

#include "devices/disk/scsi.h"

#define VIRTIO_ID_SCSI 8
#define VSCSI_MAX_TARGETS 16   /* targets 0..15, LUN 0 each */
#define VSCSI_CONFIG_SIZE 36   /* struct virtio_scsi_config */

#define VSCSI_DEFAULT_CDB_SIZE 32
#define VSCSI_DEFAULT_SENSE_SIZE 96

/* Feature bits (none offered: no hotplug events, no T10 PI). */
#define VIRTIO_SCSI_F_INOUT 0
#define VIRTIO_SCSI_F_HOTPLUG 1
#define VIRTIO_SCSI_F_CHANGE 2
#define VIRTIO_SCSI_F_T10_PI 3

/* Response codes of request and control queues. */
#define VIRTIO_SCSI_S_OK 0
#define VIRTIO_SCSI_S_OVERRUN 1
#define VIRTIO_SCSI_S_ABORTED 2
#define VIRTIO_SCSI_S_BAD_TARGET 3
#define VIRTIO_SCSI_S_RESET 4
#define VIRTIO_SCSI_S_BUSY 5
#define VIRTIO_SCSI_S_TRANSPORT_FAILURE 6
#define VIRTIO_SCSI_S_TARGET_FAILURE 7
#define VIRTIO_SCSI_S_NEXUS_FAILURE 8
#define VIRTIO_SCSI_S_FAILURE 9
#define VIRTIO_SCSI_S_FUNCTION_SUCCEEDED 10
#define VIRTIO_SCSI_S_FUNCTION_REJECTED 11
#define VIRTIO_SCSI_S_INCORRECT_LUN 12
#define VIRTIO_SCSI_S_FUNCTION_COMPLETE 0

/* Control queue request types and task management functions. */
#define VIRTIO_SCSI_T_TMF 0
#define VIRTIO_SCSI_T_AN_QUERY 1
#define VIRTIO_SCSI_T_AN_SUBSCRIBE 2
#define VIRTIO_SCSI_T_TMF_ABORT_TASK 0
#define VIRTIO_SCSI_T_TMF_ABORT_TASK_SET 1
#define VIRTIO_SCSI_T_TMF_CLEAR_ACA 2
#define VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET 3
#define VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET 4
#define VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET 5
#define VIRTIO_SCSI_T_TMF_QUERY_TASK 6
#define VIRTIO_SCSI_T_TMF_QUERY_TASK_SET 7

/* Header sizes without the variable cdb/sense arrays. */
#define VSCSI_CMD_REQ_HDR 19   /* lun[8] tag task_attr prio crn */
#define VSCSI_CMD_RESP_HDR 12  /* sense_len resid status_qualifier status response */

struct vscsi {
	struct scsi_lun *target[VSCSI_MAX_TARGETS]; /* NULL: no device at that target */
	unsigned num_request_queues;
	uint32_t cdb_size, sense_size;  /* driver-writable config; defaults 32, 96 */
	/* Read-only config the device process may set after vscsi_init(). */
	uint32_t seg_max;               /* default 126: a 128-entry queue minus the headers */
	uint32_t max_sectors;           /* 512-byte sectors per request, default 0xffff */
	uint32_t cmd_per_lun;           /* default 128 */
};

void vscsi_init(struct vscsi *s, unsigned num_request_queues);
/* 0, -EINVAL (target out of range, L NULL) or -EEXIST. */
int vscsi_attach(struct vscsi *s, unsigned target, struct scsi_lun *l);
/* Device feature bits beyond the transport's: none (0). */
uint64_t vscsi_features(const struct vscsi *s);
/* VSCSI_CONFIG_SIZE bytes, little-endian. */
void vscsi_config_read(struct vscsi *s, uint8_t *cfg);
/* Only sense_size and cdb_size are writable (any byte-wise part of them);
 * anything else is ignored.  Values are stored as written: sense beyond
 * SCSI_SENSE_MAX is zero-filled, CDB bytes beyond SCSI_CDB_MAX are skipped
 * (a cdb_size shorter than an opcode's CDB gets CHECK CONDITION, ILLEGAL
 * REQUEST from the SCSI layer). */
void vscsi_config_write(struct vscsi *s, unsigned off, const void *buf, unsigned len);
void vscsi_reset(struct vscsi *s);

/* One request queue request; returns the bytes written into IN (response
 * plus data-in), 0 if IN cannot hold even the response.  A device-readable
 * part shorter than the request header gets response VIRTIO_SCSI_S_FAILURE. */
uint32_t vscsi_handle_cmd(struct vscsi *s, const struct iovec *out, unsigned out_num,
			  const struct iovec *in, unsigned in_num);
/* One control queue request (TMF, AN query/subscribe); returns the bytes
 * written into IN, 0 if IN cannot hold the response. */
uint32_t vscsi_handle_ctrl(struct vscsi *s, const struct iovec *out, unsigned out_num,
			   const struct iovec *in, unsigned in_num);

#endif
