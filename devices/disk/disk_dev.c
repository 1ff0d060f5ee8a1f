/* The disk device: opens the images the supervisor passed (with their
 * backing chains), builds a virtio-blk disk or a virtio-scsi controller
 * with one target per image, and serves requests on the queue threads of
 * the virtio transport. */
#include "devices/disk/disk_dev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/image.h"
#include "devices/disk/scsi.h"
#include "devices/disk/virtio_blk.h"
#include "devices/disk/virtio_scsi.h"
#include "devices/virtio/virtio_pci.h"
#include "sandbox/policies.h"

#define QUEUE_SIZE 256
#define MAX_QUEUES 16
#define SCSI_FIXED_QUEUES 2 /* control, event */

struct disk_dev {
	struct virtio_pci vp;
	struct virtio_model model;
	bool scsi;
	struct image *img[VSCSI_MAX_TARGETS];
	unsigned nimg;
	struct vblk blk;
	struct vscsi ctl;
	struct scsi_lun lun[VSCSI_MAX_TARGETS];
	unsigned errors_logged;
};

static struct disk_dev disk;
bool disk_inline_queues;

struct virtio_pci *disk_device_transport(struct device *d)
{
	return &((struct disk_dev *)d->priv)->vp;
}

/* ---- the two models, as the transport calls them ---- */

static void blk_config_read(void *ctx, uint8_t *cfg)
{
	vblk_config(&((struct disk_dev *)ctx)->blk, cfg);
}

#define ERRORS_LOGGED 8

static uint32_t blk_handle(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
			   const struct iovec *in, unsigned in_num)
{
	(void)q;
	struct disk_dev *dd = ctx;
	struct vblk_result res;
	uint32_t len = vblk_handle_res(&dd->blk, out, out_num, in, in_num, &res);
	/* Image errors are the host's problem: say so, a few times. */
	if (res.err && __atomic_fetch_add(&dd->errors_logged, 1, __ATOMIC_RELAXED) < ERRORS_LOGGED)
		device_log(dd->vp.d, CELLVM__LOG__LEVEL__ERROR, "request type %u: %s: %s%s",
			   res.type, res.why ? res.why : "failed", image_error(dd->img[0]),
			   dd->errors_logged == ERRORS_LOGGED ? " (no more of these are logged)" : "");
	return len;
}

static void scsi_config_read(void *ctx, uint8_t *cfg)
{
	vscsi_config_read(&((struct disk_dev *)ctx)->ctl, cfg);
}

static void scsi_config_write(void *ctx, unsigned off, const void *buf, unsigned len)
{
	vscsi_config_write(&((struct disk_dev *)ctx)->ctl, off, buf, len);
}

static uint32_t scsi_handle(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
			    const struct iovec *in, unsigned in_num)
{
	struct vscsi *s = &((struct disk_dev *)ctx)->ctl;
	if (q == 0)
		return vscsi_handle_ctrl(s, out, out_num, in, in_num);
	return vscsi_handle_cmd(s, out, out_num, in, in_num);
}

static void scsi_reset(void *ctx)
{
	vscsi_reset(&((struct disk_dev *)ctx)->ctl);
}

/* ---- setup ---- */

struct opener_ctx {
	struct device *d;
	const Cellvm__DiskImage *di;
};

/* The image library asks for a backing file by the name its child records;
 * the supervisor opened the whole chain and says which fd is which. */
static int open_backing(void *ctx, const char *name, const char *child, bool writable)
{
	const struct opener_ctx *o = ctx;
	(void)writable;
	for (size_t i = 0; i < o->di->n_backing; i++) {
		const Cellvm__BackingFile *b = o->di->backing[i];
		if (strcmp(b->name, name) || strcmp(b->child, child))
			continue;
		int fd = device_fd(o->d, b->fd, "a backing file");
		int dfd = fd < 0 ? -1 : dup(fd); /* the image owns what we return */
		if (dfd >= 0 && device_keep_fd(o->d, dfd) < 0) {
			close(dfd);
			return -1;
		}
		return dfd;
	}
	device_log(o->d, CELLVM__LOG__LEVEL__ERROR, "no backing file '%s' (of %s) was passed",
		   name, child);
	return -1;
}

static int open_image(struct device *d, const Cellvm__DiskImage *di, struct image **img)
{
	int fd = device_fd(d, di->fd, "a disk image");
	if (fd < 0)
		return -1;
	struct opener_ctx o = {.d = d, .di = di};
	struct image_options opts = {
		.readonly = di->readonly || di->media == CELLVM__DISK_IMAGE__MEDIA__CDROM,
		.open_backing = open_backing,
		.opener_ctx = &o,
	};
	int dfd = dup(fd); /* the image owns its fd; ours is closed at exit */
	if (dfd < 0 || device_keep_fd(d, dfd) < 0) {
		device_fail(d, "%s: cannot keep its fd", di->path);
		return -1;
	}
	char err[256];
	if (image_open_fd(dfd, di->path, &opts, img, err, sizeof(err)) < 0) {
		device_fail(d, "%s", err);
		return -1;
	}
	return 0;
}

static unsigned queues_wanted(const Cellvm__Setup *s)
{
	unsigned n = s->queues ? s->queues : 1;
	return n > MAX_QUEUES ? MAX_QUEUES : n;
}

static int setup_blk(struct device *d, const Cellvm__Setup *s, struct disk_dev *dd)
{
	const Cellvm__DiskImage *di = s->disks[0];
	char err[256];
	if (s->n_disks != 1) {
		device_fail(d, "a virtio-blk device has one image, not %zu", s->n_disks);
		return -1;
	}
	if (open_image(d, di, &dd->img[0]) < 0)
		return -1;
	dd->nimg = 1;
	unsigned nq = queues_wanted(s);
	if (vblk_init(&dd->blk, dd->img[0], image_readonly(dd->img[0]), di->serial, nq, err,
		      sizeof(err)) < 0) {
		device_fail(d, "%s: %s", di->path, err);
		return -1;
	}
	dd->model = (struct virtio_model){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.pci_class = 0x018000, /* mass storage, other */
		.features = vblk_features(&dd->blk),
		.num_queues = nq,
		.queue_max = QUEUE_SIZE,
		.config_size = VBLK_CONFIG_SIZE,
		.config_read = blk_config_read,
		.handle = blk_handle,
	};
	return 0;
}

static int setup_scsi(struct device *d, const Cellvm__Setup *s, struct disk_dev *dd)
{
	if (s->n_disks == 0 || s->n_disks > VSCSI_MAX_TARGETS) {
		device_fail(d, "a virtio-scsi controller has 1 to %d images, not %zu",
			    VSCSI_MAX_TARGETS, s->n_disks);
		return -1;
	}
	unsigned nq = queues_wanted(s);
	vscsi_init(&dd->ctl, nq);
	dd->ctl.seg_max = QUEUE_SIZE - 2; /* the header and the response take two */
	for (size_t i = 0; i < s->n_disks; i++) {
		const Cellvm__DiskImage *di = s->disks[i];
		bool cd = di->media == CELLVM__DISK_IMAGE__MEDIA__CDROM;
		char err[256];
		if (open_image(d, di, &dd->img[i]) < 0)
			return -1;
		dd->nimg = (unsigned)i + 1;
		if (scsi_lun_init(&dd->lun[i], dd->img[i], cd ? SCSI_MEDIA_CDROM : SCSI_MEDIA_DISK,
				  image_readonly(dd->img[i]), di->serial, err, sizeof(err)) < 0 ||
		    vscsi_attach(&dd->ctl, (unsigned)i, &dd->lun[i]) < 0) {
			device_fail(d, "%s: %s", di->path, err);
			return -1;
		}
	}
	dd->model = (struct virtio_model){
		.name = "virtio-scsi",
		.device_id = VIRTIO_ID_SCSI,
		.pci_class = 0x010000, /* mass storage, SCSI */
		.features = vscsi_features(&dd->ctl),
		.num_queues = SCSI_FIXED_QUEUES + nq,
		.queue_max = QUEUE_SIZE,
		.unserved = 1u << 1, /* event buffers wait for events we never send */
		.config_size = VSCSI_CONFIG_SIZE,
		.config_read = scsi_config_read,
		.config_write = scsi_config_write,
		.handle = scsi_handle,
		.reset = scsi_reset,
	};
	return 0;
}

static int disk_setup(struct device *d, const Cellvm__Setup *s)
{
	struct disk_dev *dd = &disk;
	memset(dd, 0, sizeof(*dd));
	d->priv = dd;
	int rc;
	if (strcmp(s->interface, "virtio-blk") == 0) {
		rc = setup_blk(d, s, dd);
	} else if (strcmp(s->interface, "virtio-scsi") == 0) {
		dd->scsi = true;
		rc = setup_scsi(d, s, dd);
	} else {
		device_fail(d, "unknown disk interface '%s' (virtio-blk or virtio-scsi)",
			    s->interface);
		return -1;
	}
	if (rc < 0)
		return -1;
	dd->model.inline_queues = disk_inline_queues;
	return virtio_pci_init(&dd->vp, d, s, &dd->model, dd);
}

static uint64_t disk_bar_read(struct device *d, unsigned bar, uint64_t off, unsigned size)
{
	return virtio_pci_bar_read(&((struct disk_dev *)d->priv)->vp, bar, off, size);
}

static void disk_bar_write(struct device *d, unsigned bar, uint64_t off, unsigned size,
			   uint64_t val)
{
	virtio_pci_bar_write(&((struct disk_dev *)d->priv)->vp, bar, off, size, val);
}

static void disk_reset(struct device *d)
{
	if (d->priv)
		virtio_pci_reset(&((struct disk_dev *)d->priv)->vp);
}

static void disk_teardown(struct device *d)
{
	struct disk_dev *dd = d->priv;
	if (!dd)
		return;
	/* Stop serving first: a queue thread must not be inside an image we
	 * close.  Taking every queue's lock keeps them out for good. */
	for (unsigned i = 0; i < dd->model.num_queues; i++)
		pthread_mutex_lock(&dd->vp.q[i].lock);
	for (unsigned i = 0; i < dd->nimg; i++) {
		if (image_close(dd->img[i]) < 0)
			device_log(d, CELLVM__LOG__LEVEL__ERROR, "closing image %u: flush failed", i);
		dd->img[i] = NULL;
	}
}

const struct device_ops disk_device_ops = {
	.name = "disk",
	.policy = &sandbox_policy_disk,
	.setup = disk_setup,
	.reset = disk_reset,
	.teardown = disk_teardown,
	.pci = true,
	.bar_read = disk_bar_read,
	.bar_write = disk_bar_write,
};
