/* libFuzzer harness: the disk device process's IPC, driven in-process the
 * way the core drives it, through the real device code (device_setup,
 * device_serve_rings, device_access with disk_device_ops) and the real
 * virtio PCI transport, virtqueues, virtio-blk and virtio-scsi layers over
 * raw images in memfds.  Nothing is spawned or sandboxed; with
 * disk_inline_queues the device starts no queue threads and the harness
 * serves a queue (virtio_pci_serve_queue) where a queue thread would have
 * woken: after a notification, or when an operation says so.
 *
 * One input is one life of the device:
 *
 *   byte 0   MODE_* flags: virtio-scsi (a disk at target 0, a CD-ROM at
 *            target 1) or virtio-blk; the disk read-only; two request
 *            queues; odd image sizes
 *   then     operations until the input ends (see the OP_* list): bytes
 *            into guest RAM, descriptors and avail entries at the fixed
 *            ring layout, BAR writes (posted through a real exit ring and
 *            served by device_serve_rings) and reads (device_access with
 *            an access ring_consume would accept), configuration writes
 *            and their dword read-back, serving a queue, the driver's init
 *            sequence (reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK,
 *            queues of QSIZE at fixed GPAs, DRIVER_OK), whole virtio-blk,
 *            virtio-scsi and control-queue requests, device reset.
 *
 * Guest RAM is a RAM_SIZE memfd at GPA 0; the images are memfds refilled
 * with a pattern for each input.  Every input releases all it made
 * (device_release, then the guest RAM mapping and the queues' iovec arrays,
 * which a device process leaves to exit).
 *
 * Invariants checked (abort on violation):
 *  - setup succeeds; device_access fails exactly for accesses outside the
 *    declared BARs (1 and 4), and a read's value fits its size;
 *  - configuration space only changes in the bits the device made writable;
 *  - every request's segments lie in guest RAM and the length the model
 *    returns is at most the writable bytes;
 *  - serving a queue leaves nothing in flight, moves the used index by
 *    exactly the requests handled (unless the queue broke, then by at most
 *    that), and the used->idx the guest sees is the device's;
 *  - the images keep their sizes; a read-only disk's and the CD's bytes
 *    never change;
 *  - the device sends only Log messages on the control channel.
 *
 * CELLVM_FUZZ_DISK_TRACE=1 prints what each operation did.
 * CELLVM_FUZZ_DISK_WRITE_SEEDS=DIR writes the seed corpus (tools/fuzz/corpus/
 * disk) into DIR and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/fuzz/fuzz_input.h"
#include "devices/common/device.h"
#include "devices/disk/disk_dev.h"
#include "devices/disk/virtio_blk.h"
#include "devices/disk/virtio_scsi.h"
#include "devices/virtio/virtio_pci.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"
#include "tools/fuzz/dev_harness.h"

#define CHECK FUZZ_CHECK
#define MUST FUZZ_MUST
#define TRACE FUZZ_TRACE

#define RAM_SIZE (256u << 10)
#define DISK_SIZE (64u << 10)
#define CD_SIZE (16u << 10)
#define ODD_DISK 300u  /* virtio-blk: a disk that is not whole sectors */
#define ODD_CD 1000u   /* virtio-scsi: a CD that is not whole 2048-byte blocks */
#define RING_ENTRIES 64
#define MAX_OPS 4096

/* The fixed layout the init shortcut programs and the request ops use. */
#define QSIZE 16u
#define QAREA 0x400u                      /* per queue: desc, avail, used */
#define Q_DESC(q) ((uint64_t)(q) * QAREA)
#define Q_AVAIL(q) (Q_DESC(q) + 0x100)
#define Q_USED(q) (Q_DESC(q) + 0x200)
#define MAX_QUEUES 4u                     /* at most 2 + 2 here */
#define INDIR_BASE 0x1000u                /* per queue 0x100: 4 tables of 4 */
#define SLOT_BASE 0x2000u
#define SLOT_SIZE 0x2400u                 /* header +0, response +0x200, data +0x400 */
#define NSLOTS 16u
#define SLOT_DATA_MAX 0x2000u

/* virtio PCI */
#define BAR_MSIX 1
#define BAR_VIRTIO 4
#define BAR_MSIX_SIZE 0x1000u
#define BAR_VIRTIO_SIZE 0x4000u
#define NOTIFY_OFF 0x3000u
#define ST_ACK 1
#define ST_DRIVER 2
#define ST_DRIVER_OK 4
#define ST_FEATURES_OK 8

enum {
	MODE_SCSI = 1,
	MODE_RO = 2,   /* the disk (blk, or scsi target 0) is read-only */
	MODE_MQ = 4,   /* two request queues */
	MODE_ODD = 8,  /* image sizes not a whole number of blocks */
};

enum op {
	OP_RAM = 0,      /* u16 gpa, u8 len, bytes */
	OP_DESC = 1,     /* u8 q, u8 slot, u32 addr, u32 len, u16 flags, u16 next */
	OP_AVAIL = 2,    /* u8 q, u16 head: the next avail entry, avail->idx + 1 */
	OP_BAR_WRITE = 3,/* u8 a (bar, size, far), u16 off [u32 far], value: through the ring */
	OP_BAR_READ = 4, /* u8 a, u16 off [u32 far]: device_access */
	OP_CONFIG = 5,   /* u8 reg, u8 size code, u32 value: write, then read back */
	OP_SERVE = 6,    /* u8 q */
	OP_INIT = 7,     /* u8 INIT_* flags */
	OP_BLK = 8,      /* u8 type, u8 slot|flags, u32 sector, u8 sectors */
	OP_SCSI = 9,     /* u8 target (0x40: LUN 1, 0x80: bad LUN format), u8 slot|flags,
			  * u8 dir (% 3: none, out, in), u16 data len, 16 cdb bytes */
	OP_CTRL = 10,    /* u8 type, u8 subtype, u8 target */
	OP_RESET = 11,   /* status 0 */
	OP_KICK = 12,    /* u8 q: a notification through the ring */
	OP_COUNT = 13,
};

enum {
	INIT_EVENT_IDX = 1,
	INIT_INDIRECT = 2,
	INIT_ALL_FEATURES = 4, /* accept every offered feature */
	INIT_MSIX = 8,         /* MSI-X on, a vector per queue */
	INIT_ADDR64 = 16,      /* ring addresses as 8-byte writes */
	INIT_NO_VERSION1 = 32, /* a legacy driver: FEATURES_OK refused */
};

/* OP_BLK / OP_SCSI slot byte: slot in the low 4 bits, then */
enum {
	REQ_INDIRECT = 0x10,
	REQ_NO_KICK = 0x20,   /* left pending: OP_SERVE or a later kick serves it */
	REQ_QUEUE2 = 0x40,    /* the second request queue */
	REQ_SPLIT = 0x80,     /* the header in two descriptors */
};

/* ---- input ---- */




/* ---- state ---- */

struct harness {
	struct dev_harness dh;  /* the core's side: ring, reads, control channel */
	struct device *d;
	struct virtio_pci *vp;
	uint8_t mode;
	unsigned nq;             /* the transport's queues */
	unsigned req_q0;         /* first request queue */
	struct virtio_model model; /* the device's, with handle counted */
	uint32_t (*handle)(void *, unsigned, const struct iovec *, unsigned,
			   const struct iovec *, unsigned);
	uint64_t handled;
};

/* Made once, reused by every input. */
static int ctl[2] = {-1, -1};  /* [0] the device's control_fd, [1] ours */
static int ram_fd = -1, disk_fd = -1, cd_fd = -1;
static uint8_t *ram;
static uint8_t pattern[DISK_SIZE + CD_SIZE + 4096];

static struct harness *cur; /* for the counting handle */

/* The image's size, and (when it must not have changed) its bytes against
 * the pattern it was filled with.  Not instrumented: a byte loop per input
 * would cost more than the device. */
__attribute__((no_sanitize("coverage"))) static void check_image(int fd, const char *what,
								  uint64_t size, unsigned salt,
								  bool unchanged)
{
	struct stat st;
	MUST(fstat(fd, &st) == 0);
	CHECK((uint64_t)st.st_size == size, "the %s image is %llu bytes, was %llu", what,
	      (unsigned long long)st.st_size, (unsigned long long)size);
	if (!unchanged)
		return;
	static uint8_t buf[DISK_SIZE + 4096];
	MUST(pread(fd, buf, size, 0) == (ssize_t)size);
	for (uint64_t i = 0; i < size; i++)
		CHECK(buf[i] == pattern[salt + i], "the %s image changed at byte %llu", what,
		      (unsigned long long)i);
}

static void refill(int fd, uint64_t size, unsigned salt)
{
	MUST(ftruncate(fd, 0) == 0);
	MUST(pwrite(fd, pattern + salt, size, 0) == (ssize_t)size);
}

static uint64_t disk_size(uint8_t mode)
{
	return DISK_SIZE + (!(mode & MODE_SCSI) && (mode & MODE_ODD) ? ODD_DISK : 0);
}

static uint64_t cd_size(uint8_t mode)
{
	return CD_SIZE + ((mode & MODE_SCSI) && (mode & MODE_ODD) ? ODD_CD : 0);
}

static void drain_control(void)
{
	dh_drain_control(&cur->dh);
}

/* ---- the model, counted ---- */

/* In the device's own mapping of guest RAM. */
static void check_iov(const struct iovec *v, unsigned n, uint64_t *total)
{
	const uint8_t *dram = cur->vp->mem.region[0].host;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = v[i].iov_base;
		CHECK(b >= dram && v[i].iov_len <= RAM_SIZE &&
			      b - dram <= (ptrdiff_t)(RAM_SIZE - v[i].iov_len),
		      "segment %u (%p+%zu) outside guest RAM", i, v[i].iov_base, v[i].iov_len);
		*total += v[i].iov_len;
	}
}

static uint32_t counted_handle(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
			       const struct iovec *in, unsigned in_num)
{
	uint64_t ob = 0, ib = 0;
	check_iov(out, out_num, &ob);
	check_iov(in, in_num, &ib);
	uint32_t len = cur->handle(ctx, q, out, out_num, in, in_num);
	TRACE("  request on queue %u: %u out (%llu bytes), %u in (%llu bytes): wrote %u\n", q,
	      out_num, (unsigned long long)ob, in_num, (unsigned long long)ib, len);
	CHECK(len <= ib, "queue %u: %u bytes written into %llu writable", q, len,
	      (unsigned long long)ib);
	cur->handled++;
	return len;
}

/* ---- serving ---- */

static void serve_queue(struct harness *h, unsigned q)
{
	if (q >= h->nq) {
		virtio_pci_serve_queue(h->vp, q); /* ignored */
		return;
	}
	struct virtqueue *vq = &h->vp->q[q].vq;
	uint16_t la = vq->last_avail, pub = vq->published_idx;
	h->handled = 0;
	virtio_pci_serve_queue(h->vp, q);
	uint16_t dpub = (uint16_t)(vq->published_idx - pub), dla = (uint16_t)(vq->last_avail - la);
	TRACE("  serve %u: %llu handled, used +%u%s\n", q, (unsigned long long)h->handled, dpub,
	      vq->broken ? " (broken)" : "");
	CHECK(h->handled < 65536, "queue %u: %llu requests in one serve", q,
	      (unsigned long long)h->handled);
	CHECK(dpub <= h->handled, "queue %u: used moved by %u, %llu handled", q, dpub,
	      (unsigned long long)h->handled);
	if (vq->broken)
		return;
	CHECK(vq->inflight == 0, "queue %u: %u requests in flight after serving", q, vq->inflight);
	CHECK(dpub == h->handled && dla == h->handled,
	      "queue %u: %llu handled, used +%u, avail +%u", q, (unsigned long long)h->handled,
	      dpub, dla);
	if (h->handled && vq->ready) {
		uint16_t idx = __atomic_load_n((uint16_t *)(vq->used + 2), __ATOMIC_ACQUIRE);
		CHECK(idx == vq->published_idx, "queue %u: used->idx %u, device published %u", q,
		      idx, vq->published_idx);
	}
}

/* A notification was served: "the queue thread" wakes. */
static void notified(struct dev_harness *dh, unsigned q)
{
	struct harness *h = dh->ctx;
	if (q < h->nq)
		serve_queue(h, q);
}

static void post(struct harness *h, uint8_t kind, uint64_t addr, unsigned size, uint64_t val)
{
	dh_post(&h->dh, kind, addr, size, val);
}

static void bar_write(struct harness *h, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	dh_bar_write(&h->dh, bar, off, size, val);
}

static bool access_read(struct harness *h, uint8_t kind, uint64_t addr, unsigned size,
			uint64_t *val)
{
	return dh_access_read(&h->dh, kind, addr, size, val);
}

static uint64_t bar_read(struct harness *h, unsigned bar, uint64_t off, unsigned size)
{
	return dh_bar_read(&h->dh, bar, off, size);
}

/* ---- guest RAM helpers ---- */

static void put_le(uint64_t gpa, uint64_t v, unsigned n)
{
	dh_put_le(&cur->dh, gpa, v, n);
}

static struct dh_ring qring(unsigned q)
{
	q %= MAX_QUEUES;
	return (struct dh_ring){.desc = Q_DESC(q), .avail = Q_AVAIL(q), .used = Q_USED(q),
				.size = QSIZE};
}

static void write_desc(unsigned q, unsigned slot, uint64_t addr, uint32_t len, uint16_t flags,
		       uint16_t next)
{
	struct dh_ring r = qring(q);
	dh_write_desc(&cur->dh, &r, slot, addr, len, flags, next);
}

static void push_avail(unsigned q, uint16_t head)
{
	struct dh_ring r = qring(q);
	dh_push_avail(&cur->dh, &r, head);
}

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* A chain of segments at descriptors head.. (or in an indirect table),
 * made available on queue q; then kicked through the ring unless told not. */
static void push_chain(struct harness *h, unsigned q, unsigned slot, const struct seg *s,
		       unsigned n, uint8_t flags)
{
	unsigned head = (slot * 4) % QSIZE;
	if (flags & REQ_INDIRECT) {
		uint64_t t = INDIR_BASE + 0x100 * (q % MAX_QUEUES) + 0x40 * (slot % 4);
		for (unsigned i = 0; i < n; i++) {
			put_le(t + 16 * i, s[i].gpa, 8);
			put_le(t + 16 * i + 8, s[i].len, 4);
			put_le(t + 16 * i + 12, (i + 1 < n ? 1 : 0) | (s[i].write ? 2 : 0), 2);
			put_le(t + 16 * i + 14, i + 1, 2);
		}
		write_desc(q, head, t, 16 * n, 4, 0);
	} else {
		for (unsigned i = 0; i < n; i++)
			write_desc(q, head + i, s[i].gpa, s[i].len,
				   (uint16_t)((i + 1 < n ? 1 : 0) | (s[i].write ? 2 : 0)),
				   (uint16_t)((head + i + 1) % QSIZE));
	}
	push_avail(q, (uint16_t)head);
	if (!(flags & REQ_NO_KICK) && q < h->nq)
		bar_write(h, BAR_VIRTIO, NOTIFY_OFF + 4 * q, 2, q);
}

static uint64_t slot_base(unsigned slot)
{
	return SLOT_BASE + (uint64_t)(slot % NSLOTS) * SLOT_SIZE;
}

/* ---- operations ---- */

static const uint8_t SIZES[4] = {1, 2, 4, 8};

static void decode_bar(struct input *in, unsigned *bar, uint64_t *off, unsigned *size)
{
	uint8_t a = in_u8(in);
	*bar = (a & 7) % 6;
	*size = SIZES[(a >> 3) & 3];
	*off = in_le(in, 2);
	if (a & 0x20)
		*off |= (in_le(in, 4) << 16) & (RING_BAR_OFFSET(~0ull));
}

static void op_config(struct harness *h, struct input *in)
{
	unsigned reg = in_u8(in), size = SIZES[in_u8(in) % 3];
	uint32_t val = (uint32_t)in_le(in, 4);
	reg &= ~(size - 1); /* within a dword, as the core splits them */
	post(h, RING_CONFIG, reg, size, val);
	uint64_t v;
	if (!h->dh.stop)
		access_read(h, RING_CONFIG, reg & ~3u, 4, &v);
}

static void op_init(struct harness *h, uint8_t f)
{
	memset(ram, 0, MAX_QUEUES * QAREA); /* the driver's fresh rings */
	struct dh_ring r[MAX_QUEUES];
	for (unsigned q = 0; q < MAX_QUEUES; q++)
		r[q] = qring(q);
	struct dh_init in = {
		.want = (1ull << VIRTIO_F_VERSION_1) |
			(f & INIT_EVENT_IDX ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
			(f & INIT_INDIRECT ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0),
		.all = f & INIT_ALL_FEATURES,
		.clear = f & INIT_NO_VERSION1 ? 1ull << VIRTIO_F_VERSION_1 : 0,
		.msix = f & INIT_MSIX,
		.addr64 = f & INIT_ADDR64,
		.nq = h->nq,
		.rings = r,
	};
	dh_virtio_init(&h->dh, &in, NULL);
}

static const uint32_t BLK_TYPES[8] = {
	VIRTIO_BLK_T_IN,      VIRTIO_BLK_T_OUT,          VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
	VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_T_IN,    VIRTIO_BLK_T_OUT,
};

static void op_blk(struct harness *h, struct input *in)
{
	uint8_t t = in_u8(in), fl = in_u8(in);
	uint32_t sector = (uint32_t)in_le(in, 4);
	unsigned nsec = in_u8(in);
	uint32_t type = t & 0x80 ? t & 0x7f : BLK_TYPES[t & 7];
	unsigned slot = fl & 15, q = h->req_q0 + ((fl & REQ_QUEUE2) && h->nq > h->req_q0 + 1);
	uint64_t b = slot_base(slot);
	uint32_t dlen;
	bool dwrite = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	put_le(b, type, 4);
	put_le(b + 4, 0, 4);
	put_le(b + 8, sector, 8);
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		put_le(b + 0x400, sector, 8);
		put_le(b + 0x408, nsec, 4);
		put_le(b + 0x40c, t >> 3 & 1, 4); /* UNMAP */
		dlen = 16;
	} else if (type == VIRTIO_BLK_T_GET_ID) {
		dlen = VBLK_ID_BYTES;
	} else {
		dlen = (nsec % (SLOT_DATA_MAX / 512 + 1)) * 512;
		if (t & 0x40)
			dlen += t & 0x3f; /* not whole sectors */
		if (dlen > SLOT_DATA_MAX)
			dlen = SLOT_DATA_MAX;
	}
	ram[b + 0x200] = 0xee;
	struct seg s[4];
	unsigned n = 0;
	if (fl & REQ_SPLIT) {
		s[n++] = (struct seg){b, 8, false};
		s[n++] = (struct seg){b + 8, 8, false};
	} else {
		s[n++] = (struct seg){b, 16, false};
	}
	if (type != VIRTIO_BLK_T_FLUSH && dlen)
		s[n++] = (struct seg){b + 0x400, dlen, dwrite};
	s[n++] = (struct seg){b + 0x200, 1, true};
	TRACE("blk type %u sector %u data %u on queue %u\n", type, sector, dlen, q);
	push_chain(h, q, slot, s, n, fl);
	TRACE("  status %u\n", ram[b + 0x200]);
}

static void op_scsi(struct harness *h, struct input *in)
{
	uint8_t target = in_u8(in), fl = in_u8(in), dir = in_u8(in);
	uint32_t dlen = (uint32_t)in_le(in, 2) % (SLOT_DATA_MAX + 1);
	unsigned slot = fl & 15, q = h->req_q0 + ((fl & REQ_QUEUE2) && h->nq > h->req_q0 + 1);
	uint64_t b = slot_base(slot);
	memset(ram + b, 0, VSCSI_CMD_REQ_HDR + VSCSI_DEFAULT_CDB_SIZE);
	ram[b] = target & 0x80 ? target : 1; /* else a bad LUN format */
	ram[b + 1] = target & 0x3f;
	if (target & 0x40) { /* LUN 1 of the target, which has none */
		ram[b + 2] = 0x40;
		ram[b + 3] = 1;
	}
	put_le(b + 8, 0x1000 + slot, 8); /* tag */
	for (unsigned i = 0; i < 16; i++)
		ram[b + VSCSI_CMD_REQ_HDR + i] = in_u8(in);
	memset(ram + b + 0x200, 0xee, VSCSI_CMD_RESP_HDR + VSCSI_DEFAULT_SENSE_SIZE);
	struct seg s[4];
	unsigned n = 0;
	uint32_t hdr = VSCSI_CMD_REQ_HDR + VSCSI_DEFAULT_CDB_SIZE;
	if (fl & REQ_SPLIT) {
		s[n++] = (struct seg){b, 8, false};
		s[n++] = (struct seg){b + 8, hdr - 8, false};
	} else {
		s[n++] = (struct seg){b, hdr, false};
	}
	if (dir % 3 == 1 && dlen)
		s[n++] = (struct seg){b + 0x400, dlen, false};
	s[n++] = (struct seg){b + 0x200, VSCSI_CMD_RESP_HDR + VSCSI_DEFAULT_SENSE_SIZE, true};
	if (dir % 3 == 2 && dlen)
		s[n++] = (struct seg){b + 0x400, dlen, true};
	TRACE("scsi target %u op 0x%02x data %u dir %u on queue %u\n", target,
	      ram[b + VSCSI_CMD_REQ_HDR], dlen, dir % 3, q);
	push_chain(h, q, slot, s, n, fl);
	TRACE("  response %u status 0x%02x sense key 0x%x\n", ram[b + 0x200 + 11],
	      ram[b + 0x200 + 10], ram[b + 0x200 + 12 + 2] & 15);
}

static void op_ctrl(struct harness *h, struct input *in)
{
	uint8_t type = in_u8(in), sub = in_u8(in), target = in_u8(in);
	uint64_t b = slot_base(15);
	memset(ram + b, 0, 32);
	put_le(b, type % 4, 4);
	unsigned l = 8;
	if (type % 4 == VIRTIO_SCSI_T_TMF)
		put_le(b + 4, sub % 9, 4);
	else
		l = 4;
	ram[b + l] = 1;
	ram[b + l + 1] = target;
	uint32_t len = type % 4 == VIRTIO_SCSI_T_TMF ? 24 : 16;
	uint32_t rlen = type % 4 == VIRTIO_SCSI_T_TMF ? 1 : 8;
	struct seg s[2] = {{b, len, false}, {b + 0x200, rlen, true}};
	TRACE("scsi ctrl type %u sub %u target %u\n", type % 4, sub % 9, target);
	push_chain(h, 0, 15, s, 2, type & 0x80 ? REQ_NO_KICK : 0);
}

static void run_ops(struct harness *h, struct input *in)
{
	for (unsigned n = 0; in->n && !h->dh.stop && n < MAX_OPS; n++) {
		uint8_t op = in_u8(in) % OP_COUNT;
		switch (op) {
		case OP_RAM: {
			uint64_t g = in_le(in, 2) * 4 % RAM_SIZE;
			unsigned len = in_u8(in);
			TRACE("ram 0x%llx, %u bytes\n", (unsigned long long)g, len);
			for (unsigned i = 0; i < len; i++)
				put_le(g + i, in_u8(in), 1);
			break;
		}
		case OP_DESC: {
			unsigned q = in_u8(in), slot = in_u8(in);
			uint64_t addr = in_le(in, 4);
			uint32_t len = (uint32_t)in_le(in, 4);
			uint16_t flags = (uint16_t)in_le(in, 2), next = (uint16_t)in_le(in, 2);
			TRACE("desc q%u[%u] 0x%llx+%u flags %u next %u\n", q % MAX_QUEUES, slot % QSIZE,
			      (unsigned long long)addr, len, flags, next);
			write_desc(q, slot, addr, len, flags, next);
			break;
		}
		case OP_AVAIL: {
			unsigned q = in_u8(in);
			uint16_t head = (uint16_t)in_le(in, 2);
			TRACE("avail q%u head %u\n", q % MAX_QUEUES, head);
			push_avail(q, head);
			break;
		}
		case OP_BAR_WRITE: {
			unsigned bar, size;
			uint64_t off;
			decode_bar(in, &bar, &off, &size);
			bar_write(h, bar, off, size, in_le(in, size));
			break;
		}
		case OP_BAR_READ: {
			unsigned bar, size;
			uint64_t off;
			decode_bar(in, &bar, &off, &size);
			bar_read(h, bar, off, size);
			break;
		}
		case OP_CONFIG:
			op_config(h, in);
			break;
		case OP_SERVE: {
			unsigned q = in_u8(in) % 8;
			TRACE("serve %u\n", q);
			serve_queue(h, q);
			break;
		}
		case OP_INIT: {
			uint8_t f = in_u8(in);
			TRACE("init 0x%02x\n", f);
			op_init(h, f);
			break;
		}
		case OP_BLK:
			op_blk(h, in);
			break;
		case OP_SCSI:
			op_scsi(h, in);
			break;
		case OP_CTRL:
			op_ctrl(h, in);
			break;
		case OP_RESET:
			TRACE("reset\n");
			dh_common_w(&h->dh, 0x14, 1, 0);
			break;
		case OP_KICK: {
			unsigned q = in_u8(in) % MAX_QUEUES;
			TRACE("kick %u\n", q);
			bar_write(h, BAR_VIRTIO, NOTIFY_OFF + 4 * q, 2, q);
			break;
		}
		}
		dh_check_config(&h->dh);
	}
}

/* ---- one life of the device ---- */

static void make_fds(void)
{
	MUST(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, ctl) == 0);
	ram_fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	disk_fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	cd_fd = memfd_create("fuzz-cd", MFD_CLOEXEC);
	MUST(ram_fd >= 0 && disk_fd >= 0 && cd_fd >= 0);
	MUST(ftruncate(ram_fd, RAM_SIZE) == 0);
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	MUST(ram != MAP_FAILED);
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 9) + 1);
}

static int dup_fd(int fd)
{
	int c = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	MUST(c >= 0);
	return c;
}

enum { FD_RINGS, FD_BELL, FD_RAM, FD_DISK, FD_CD, NFD };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct device dev;
	static struct harness h;
	struct input in = {data, size};
	if (ram_fd < 0)
		make_fds();
	memset(&dev, 0, sizeof(dev));
	memset(&h, 0, sizeof(h));
	dev.ops = &disk_device_ops;
	dev.control_fd = ctl[0];
	h.d = &dev;
	h.dh.d = &dev;
	h.dh.ctl = ctl[1];
	h.dh.ram = ram;
	h.dh.ram_size = RAM_SIZE;
	h.dh.notified = notified;
	h.dh.ctx = &h;
	h.mode = in_u8(&in);
	cur = &h;

	/* Fresh guest RAM and images. */
	MUST(ftruncate(ram_fd, 0) == 0 && ftruncate(ram_fd, RAM_SIZE) == 0);
	refill(disk_fd, disk_size(h.mode), 0);
	refill(cd_fd, cd_size(h.mode), 4096);

	int fds[NFD];
	Cellvm__Rings rings;
	dh_rings(&h.dh, RING_ENTRIES, fds, &rings); /* FD_RINGS, FD_BELL */
	fds[FD_RAM] = dup_fd(ram_fd);
	fds[FD_DISK] = dup_fd(disk_fd);
	fds[FD_CD] = dup_fd(cd_fd);

	bool scsi = h.mode & MODE_SCSI;
	Cellvm__DiskImage di[2], *dip[2] = {&di[0], &di[1]};
	for (int i = 0; i < 2; i++)
		cellvm__disk_image__init(&di[i]);
	di[0].fd = FD_DISK;
	di[0].path = "disk.img";
	di[0].readonly = h.mode & MODE_RO;
	di[0].media = CELLVM__DISK_IMAGE__MEDIA__DISK;
	di[0].serial = "fuzz-disk-serial-0123456789";
	di[1].fd = FD_CD;
	di[1].path = "cd.iso";
	di[1].readonly = true;
	di[1].media = CELLVM__DISK_IMAGE__MEDIA__CDROM;
	di[1].serial = "fuzz-cd";
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = "disk";
	s.instance = "fuzz";
	s.rings = &rings;
	s.guest_memory_fd = FD_RAM;
	s.guest_memory_size = RAM_SIZE;
	s.n_disks = scsi ? 2 : 1;
	s.disks = dip;
	s.interface = scsi ? "virtio-scsi" : "virtio-blk";
	s.queues = h.mode & MODE_MQ ? 2 : 1;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;

	int rc = device_setup(&dev, &m, fds, NFD);
	TRACE("setup %s%s%s queues %u: %s\n", s.interface, h.mode & MODE_RO ? " ro" : "",
	      h.mode & MODE_ODD ? " odd" : "", s.queues, rc ? dev.err : "ok");
	CHECK(rc == 0, "device_setup: %s", dev.err);
	drain_control();
	h.vp = disk_device_transport(&dev);
	h.nq = h.vp->model->num_queues;
	h.req_q0 = scsi ? 2 : 0;
	CHECK(h.nq <= MAX_QUEUES, "%u queues", h.nq);
	/* Count requests: the model, with its handle wrapped. */
	h.model = *h.vp->model;
	h.handle = h.model.handle;
	h.model.handle = counted_handle;
	h.vp->model = &h.model;
	dh_setup_done(&h.dh);

	run_ops(&h, &in);

	device_release(&dev);
	drain_control();
	/* What a device process leaves to exit(). */
	munmap(h.vp->mem.region[0].host, RAM_SIZE);
	for (unsigned q = 0; q < h.nq; q++) {
		free(h.vp->q[q].out);
		free(h.vp->q[q].in);
	}
	dh_release(&h.dh);

	check_image(disk_fd, "disk", disk_size(h.mode), 0, h.mode & MODE_RO);
	check_image(cd_fd, "CD", cd_size(h.mode), 4096, true);
	dh_check_fds(1024);
	return 0;
}

/* ---- the seed corpus ---- */




static void s_init(struct seed *s, unsigned flags)
{
	s8(s, OP_INIT);
	s8(s, flags);
}

static void s_blk(struct seed *s, unsigned type_byte, unsigned fl, uint32_t sector, unsigned nsec)
{
	s8(s, OP_BLK);
	s8(s, type_byte);
	s8(s, fl);
	sle(s, sector, 4);
	s8(s, nsec);
}

/* The data area of a slot, filled with BYTE by OP_RAM (in 255-byte pieces). */
static void s_fill(struct seed *s, unsigned slot, unsigned len, unsigned byte)
{
	uint64_t g = slot_base(slot) + 0x400;
	for (unsigned done = 0; done < len; done += 252) {
		unsigned k = len - done < 252 ? len - done : 252;
		s8(s, OP_RAM);
		sle(s, (g + done) / 4, 2);
		s8(s, k);
		for (unsigned i = 0; i < k; i++)
			s8(s, byte + i);
	}
}

static void s_scsi(struct seed *s, unsigned target, unsigned fl, unsigned dir, unsigned dlen,
		   const uint8_t *cdb, unsigned cdb_len)
{
	s8(s, OP_SCSI);
	s8(s, target);
	s8(s, fl);
	s8(s, dir);
	sle(s, dlen, 2);
	for (unsigned i = 0; i < 16; i++)
		s8(s, i < cdb_len ? cdb[i] : 0);
}


static void write_seeds(const char *dir)
{
	struct seed s;
#define SEED(name, ...)                    \
	do {                               \
		memset(&s, 0, sizeof(s)); \
		__VA_ARGS__;               \
		write_seed(dir, name, &s); \
	} while (0)
	static const uint8_t tur[6] = {0x00};
	static const uint8_t inquiry[6] = {0x12, 0, 0, 0, 96, 0};
	static const uint8_t inquiry_vpd[6] = {0x12, 1, 0x80, 0, 64, 0};
	static const uint8_t capacity[10] = {0x25};
	static const uint8_t capacity16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32};
	static const uint8_t write10[10] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 2, 0};
	static const uint8_t read10[10] = {0x28, 0, 0, 0, 0, 8, 0, 0, 2, 0};
	static const uint8_t toc[10] = {0x43, 0, 0, 0, 0, 0, 0, 0x03, 0x24, 0};
	static const uint8_t cd_read10[10] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0};
	static const uint8_t mode_sense[6] = {0x1a, 0, 0x3f, 0, 0xff, 0};
	static const uint8_t report_luns[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	static const uint8_t sync_cache[10] = {0x35};
	static const uint8_t unmap[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0};

	/* virtio-blk */
	SEED("blk-write-read", s8(&s, 0); s_init(&s, 0); s_fill(&s, 1, 1024, 0x41);
	     s_blk(&s, 1, 1, 4, 2); s_blk(&s, 0, 2, 4, 2); s_blk(&s, 0, 3, 126, 4));
	SEED("blk-flush", s8(&s, 0); s_init(&s, INIT_EVENT_IDX); s_blk(&s, 2, 0, 0, 0));
	SEED("blk-discard", s8(&s, 0); s_init(&s, INIT_ALL_FEATURES); s_blk(&s, 4, 0, 8, 16);
	     s_blk(&s, 5, 1, 32, 8); s_blk(&s, 5 | 8, 2, 64, 8); s_blk(&s, 0, 3, 8, 8));
	SEED("blk-get-id", s8(&s, 0); s_init(&s, INIT_INDIRECT); s_blk(&s, 3, REQ_INDIRECT, 0, 0));
	SEED("blk-ro", s8(&s, MODE_RO); s_init(&s, INIT_MSIX); s_fill(&s, 1, 512, 7);
	     s_blk(&s, 1, 1, 0, 1); s_blk(&s, 4, 2, 0, 1); s_blk(&s, 0, 3, 0, 1));
	SEED("blk-mq-odd", s8(&s, MODE_MQ | MODE_ODD); s_init(&s, INIT_ADDR64 | INIT_EVENT_IDX);
	     s_blk(&s, 0, REQ_QUEUE2 | 1, 127, 1); s_blk(&s, 0 | 0x40 | 0x20, 2, 0, 1);
	     s_blk(&s, 0x80 | 77, REQ_SPLIT | 3, 0, 1));
	SEED("blk-batch", s8(&s, 0); s_init(&s, INIT_EVENT_IDX | INIT_INDIRECT);
	     s_blk(&s, 0, REQ_NO_KICK | 0, 0, 1); s_blk(&s, 0, REQ_NO_KICK | REQ_INDIRECT | 1, 1, 1);
	     s_blk(&s, 1, REQ_NO_KICK | 2, 2, 1); s8(&s, OP_SERVE); s8(&s, 0));
	/* A device reset and re-init, and a legacy driver refused. */
	SEED("blk-reset-reinit", s8(&s, 0); s_init(&s, 0); s_blk(&s, 0, 0, 0, 1);
	     s8(&s, OP_RESET); s_init(&s, INIT_EVENT_IDX); s_blk(&s, 0, 1, 1, 1);
	     s_init(&s, INIT_NO_VERSION1); s_blk(&s, 0, 2, 2, 1));
	/* Hand-made ring entries and raw BAR and config traffic. */
	SEED("blk-raw", s8(&s, 0); s_init(&s, 0);
	     s8(&s, OP_DESC); s8(&s, 0); s8(&s, 5); sle(&s, slot_base(2), 4); sle(&s, 16, 4);
	     sle(&s, 1, 2); sle(&s, 6, 2);
	     s8(&s, OP_DESC); s8(&s, 0); s8(&s, 6); sle(&s, slot_base(2) + 0x200, 4); sle(&s, 1, 4);
	     sle(&s, 2, 2); sle(&s, 0, 2);
	     s8(&s, OP_RAM); sle(&s, slot_base(2) / 4, 2); s8(&s, 4); sle(&s, VIRTIO_BLK_T_FLUSH, 4);
	     s8(&s, OP_AVAIL); s8(&s, 0); sle(&s, 5, 2); s8(&s, OP_KICK); s8(&s, 0);
	     s8(&s, OP_BAR_READ); s8(&s, 4 | 0 << 3); sle(&s, 0x1000, 2);
	     s8(&s, OP_BAR_READ); s8(&s, 4 | 2 << 3); sle(&s, 0x2000, 2);
	     s8(&s, OP_BAR_WRITE); s8(&s, 1 | 2 << 3); sle(&s, 0, 2); sle(&s, 0xfee00000, 4);
	     s8(&s, OP_CONFIG); s8(&s, 0x04); s8(&s, 1); sle(&s, 0x0406, 4);
	     s8(&s, OP_CONFIG); s8(&s, 0x52); s8(&s, 1); sle(&s, 0xc000, 4);
	     s8(&s, OP_BAR_READ); s8(&s, 2); sle(&s, 0, 2));
	/* virtio-scsi: a disk at target 0, a CD at target 1 */
	SEED("scsi-inquiry", s8(&s, MODE_SCSI); s_init(&s, 0);
	     s_scsi(&s, 0, 0, 2, 96, tur, 6); s_scsi(&s, 0, 1, 2, 96, inquiry, 6);
	     s_scsi(&s, 0, 2, 2, 64, inquiry_vpd, 6); s_scsi(&s, 1, 3, 2, 96, inquiry, 6);
	     s_scsi(&s, 5, 4, 2, 96, inquiry, 6));
	SEED("scsi-capacity", s8(&s, MODE_SCSI); s_init(&s, INIT_EVENT_IDX);
	     s_scsi(&s, 0, 0, 2, 8, capacity, 10); s_scsi(&s, 0, 1, 2, 32, capacity16, 16);
	     s_scsi(&s, 1, 2, 2, 8, capacity, 10));
	SEED("scsi-write-read", s8(&s, MODE_SCSI); s_init(&s, INIT_INDIRECT);
	     s_fill(&s, 1, 1024, 0x30); s_scsi(&s, 0, 1, 1, 1024, write10, 10);
	     s_scsi(&s, 0, 2 | REQ_INDIRECT, 2, 1024, read10, 10);
	     s_scsi(&s, 0, 3, 0, 0, sync_cache, 10));
	SEED("scsi-cd-toc", s8(&s, MODE_SCSI); s_init(&s, 0); s_scsi(&s, 1, 0, 2, 0x324, toc, 10);
	     s_scsi(&s, 1, 1, 2, 2048, cd_read10, 10); s_scsi(&s, 1, 2, 2, 255, mode_sense, 6);
	     s_scsi(&s, 1, 3, 1, 1024, write10, 10));
	{
		static const uint8_t get_config[10] = {0x46, 0x02, 0, 0, 0, 0, 0, 0, 0xff, 0};
		static const uint8_t event_status[10] = {0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 0x20, 0};
		static const uint8_t disc_info[10] = {0x51, 0, 0, 0, 0, 0, 0, 0, 0x22, 0};
		static const uint8_t start_stop[6] = {0x1b, 0, 0, 0, 0x02, 0};
		static const uint8_t req_sense[6] = {0x03, 0, 0, 0, 18, 0};
		SEED("scsi-cd-mmc", s8(&s, MODE_SCSI); s_init(&s, 0);
		     s_scsi(&s, 1, 0, 2, 255, get_config, 10); s_scsi(&s, 1, 1, 2, 32, event_status, 10);
		     s_scsi(&s, 1, 2, 2, 34, disc_info, 10); s_scsi(&s, 1, 3, 0, 0, start_stop, 6);
		     s_scsi(&s, 0x41, 4, 2, 96, inquiry, 6); s_scsi(&s, 0x41, 5, 2, 18, req_sense, 6);
		     s_scsi(&s, 0x41, 6, 0, 0, tur, 6));
	}
	SEED("scsi-ro-mq", s8(&s, MODE_SCSI | MODE_RO | MODE_MQ); s_init(&s, INIT_MSIX);
	     s_scsi(&s, 0, REQ_QUEUE2 | 0, 1, 1024, write10, 10);
	     s_scsi(&s, 0, 1, 2, 16, report_luns, 12);
	     s_fill(&s, 3, 24, 0); s_scsi(&s, 0, 3, 1, 24, unmap, 10));
	SEED("scsi-ctrl", s8(&s, MODE_SCSI); s_init(&s, 0);
	     s8(&s, OP_CTRL); s8(&s, 0); s8(&s, 5); s8(&s, 0);
	     s8(&s, OP_CTRL); s8(&s, 1); s8(&s, 0); s8(&s, 1);
	     s8(&s, OP_CTRL); s8(&s, 2); s8(&s, 0); s8(&s, 0);
	     s8(&s, OP_BAR_WRITE); s8(&s, 4 | 2 << 3); sle(&s, 0x2000 + 20, 2); sle(&s, 32, 4);
	     s8(&s, OP_BAR_READ); s8(&s, 4 | 2 << 3); sle(&s, 0x2000 + 20, 2));
	SEED("scsi-reset-reinit", s8(&s, MODE_SCSI | MODE_ODD); s_init(&s, 0);
	     s_scsi(&s, 0, 0, 2, 96, inquiry, 6); s8(&s, OP_RESET); s_init(&s, INIT_ADDR64);
	     s_scsi(&s, 1, 1, 2, 8, capacity, 10));
#undef SEED
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_disk", "DISK", write_seeds);
	disk_inline_queues = true;
	return 0;
}
