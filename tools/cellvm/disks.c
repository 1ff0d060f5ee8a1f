/* Starting a VM's disk device processes: one cellvm-dev-disk per virtio-blk
 * disk, one for the virtio-scsi controller with all SCSI disks and CD/DVD
 * drives.  The supervisor opens each image and its backing chain (the
 * device cannot open files) and passes them with the setup. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/image.h"
#include "tools/cellvm/disks.h"

#define MAX_CHAIN 16
#define MAX_QUEUES 4

/* The messages of one device's setup, alive until it is sent. */
struct disk_msgs {
	Cellvm__DiskImage img[VM_MAX_DISKS_PER_IF], *imgp[VM_MAX_DISKS_PER_IF];
	Cellvm__BackingFile back[VM_MAX_DISKS_PER_IF][MAX_CHAIN];
	Cellvm__BackingFile *backp[VM_MAX_DISKS_PER_IF][MAX_CHAIN];
	char names[VM_MAX_DISKS_PER_IF][MAX_CHAIN][2][PATH_MAX];
	char serial[VM_MAX_DISKS_PER_IF][24];
};

struct chain_rec {
	struct devhost *h;
	struct disk_msgs *m;
	unsigned disk;
	int error;
};

/* The image library's opener, run while we probe the chain: opens the
 * backing file where the library would, and keeps a copy for the device. */
static int record_backing(void *ctx, const char *name, const char *child, bool writable)
{
	struct chain_rec *r = ctx;
	(void)writable;
	Cellvm__DiskImage *di = &r->m->img[r->disk];
	if (di->n_backing == MAX_CHAIN) {
		errno = ELOOP;
		return -1;
	}
	char path[PATH_MAX];
	const char *slash = strrchr(child, '/');
	if (name[0] != '/' && slash)
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - child), child, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int idx = devhost_pass_fd(r->h, dup(fd));
	if (idx < 0) {
		close(fd);
		errno = EMFILE;
		return -1;
	}
	size_t k = di->n_backing++;
	Cellvm__BackingFile *b = &r->m->back[r->disk][k];
	cellvm__backing_file__init(b);
	snprintf(r->m->names[r->disk][k][0], PATH_MAX, "%s", name);
	snprintf(r->m->names[r->disk][k][1], PATH_MAX, "%s", child);
	b->name = r->m->names[r->disk][k][0];
	b->child = r->m->names[r->disk][k][1];
	b->fd = idx;
	r->m->backp[r->disk][k] = b;
	return fd;
}

static int add_image(struct devhost *h, struct disk_msgs *m, unsigned k,
		     const struct disk_config *dc, const char *serial)
{
	Cellvm__DiskImage *di = &m->img[k];
	cellvm__disk_image__init(di);
	di->path = (char *)dc->path;
	di->readonly = dc->readonly;
	di->media = dc->cdrom ? CELLVM__DISK_IMAGE__MEDIA__CDROM : CELLVM__DISK_IMAGE__MEDIA__DISK;
	snprintf(m->serial[k], sizeof(m->serial[k]), "%s", dc->serial ? dc->serial : serial);
	di->serial = m->serial[k];
	di->backing = m->backp[k];
	int fd = open(dc->path, (dc->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(h->err, sizeof(h->err), "%s: %s", dc->path, strerror(errno));
		return -1;
	}
	/* One writer or many readers per image, across VMs (and QEMU, whose
	 * byte-range locks conflict with these): an OFD lock lives with the
	 * open file, which the device shares, so it lasts as long as the VM. */
	struct flock fl = {.l_type = dc->readonly ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		snprintf(h->err, sizeof(h->err), "%s: %s", dc->path,
			 errno == EAGAIN || errno == EACCES
				 ? "in use by another VM or program (locked); use readonly to share it"
				 : strerror(errno));
		close(fd);
		return -1;
	}
	di->fd = devhost_pass_fd(h, fd);
	if (di->fd < 0)
		return -1;
	struct chain_rec rec = {.h = h, .m = m, .disk = k};
	struct image_options o = {.readonly = true, .open_backing = record_backing,
				  .opener_ctx = &rec};
	struct image *img;
	char why[512];
	if (image_open(dc->path, &o, &img, why, sizeof(why)) < 0) {
		snprintf(h->err, sizeof(h->err), "%s", why);
		return -1;
	}
	image_close(img);
	m->imgp[k] = di;
	h->disks = m->imgp;
	h->ndisks = k + 1;
	return 0;
}

static int start_one(struct devhost *h, const struct vm_config *cfg, int mem_fd,
		     const struct disk_config **group, unsigned n, const char *instance)
{
	devhost_init(h, "disk", instance);
	size_t len = (size_t)snprintf(h->label, sizeof(h->label), "cellvm-dev-disk (%s:", instance);
	for (unsigned i = 0; i < n && len < sizeof(h->label); i++)
		len += (size_t)snprintf(h->label + len, sizeof(h->label) - len, "%s %s",
					i ? "," : "", group[i]->path);
	if (len < sizeof(h->label))
		snprintf(h->label + len, sizeof(h->label) - len, ")");
	h->nrings = cfg->cpus;
	h->interface = group[0]->iface == DISK_IF_VIRTIO_BLK ? "virtio-blk" : "virtio-scsi";
	h->queues = cfg->cpus < MAX_QUEUES ? cfg->cpus : MAX_QUEUES;
	h->guest_memory_fd = devhost_pass_fd(h, dup(mem_fd));
	h->guest_memory_size = cfg->memory;
	struct disk_msgs *m = calloc(1, sizeof(*m));
	if (!m || h->guest_memory_fd < 0) {
		snprintf(h->err, sizeof(h->err), "out of memory or fds");
		free(m);
		return -1;
	}
	int rc = 0;
	for (unsigned i = 0; i < n && rc == 0; i++) {
		char serial[24];
		snprintf(serial, sizeof(serial), "cellvm-%s-%u", instance, i);
		rc = add_image(h, m, i, group[i], serial);
	}
	char bin[4200];
	snprintf(bin, sizeof(bin), "%s/cellvm-dev-disk", cfg->bin_dir);
	if (rc == 0)
		rc = devhost_start(h, bin, cfg->sandbox);
	h->disks = NULL;
	h->ndisks = 0;
	free(m);
	return rc;
}

int disks_start(const struct vm_config *cfg, int mem_fd, struct devhost *hosts, unsigned *n)
{
	const struct disk_config *scsi[VM_MAX_DISKS_PER_IF];
	unsigned nscsi = 0, nblk = 0;
	*n = 0;
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct disk_config *dc = &cfg->disks[i];
		if (dc->iface == DISK_IF_VIRTIO_SCSI) {
			scsi[nscsi++] = dc;
			continue;
		}
		char name[8];
		snprintf(name, sizeof(name), "vd%c", 'a' + nblk++);
		int rc = start_one(&hosts[*n], cfg, mem_fd, &dc, 1, name);
		(*n)++;
		if (rc < 0)
			return -1;
	}
	if (nscsi) {
		int rc = start_one(&hosts[*n], cfg, mem_fd, scsi, nscsi, "scsi0");
		(*n)++;
		if (rc < 0)
			return -1;
	}
	return 0;
}
