/* `cellvm run --disk`: the option's syntax and the checks made before any
 * VM exists (the image and its backing chain open, as the device will open
 * them). */
#include <stdio.h>
#include <string.h>

#include "devices/disk/image.h"
#include "tools/cellvm/supervisor.h"

int disk_option_parse(struct vm_config *cfg, const char *spec, char *err, size_t errlen)
{
	if (cfg->ndisks == VM_MAX_DISKS) {
		snprintf(err, errlen, "--disk: at most %d disks", VM_MAX_DISKS);
		return -1;
	}
	struct disk_config *dc = &cfg->disks[cfg->ndisks];
	memset(dc, 0, sizeof(*dc));
	if (strlen(spec) >= sizeof(dc->spec_copy)) {
		snprintf(err, errlen, "--disk: option too long");
		return -1;
	}
	strcpy(dc->spec_copy, spec);
	dc->iface = DISK_IF_VIRTIO_SCSI;
	bool if_given = false;
	char *save, *tok = strtok_r(dc->spec_copy, ",", &save);
	if (!tok || !*tok || spec[0] == ',') {
		snprintf(err, errlen, "--disk %s: no image path", spec);
		return -1;
	}
	dc->path = tok;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "if=virtio-blk")) {
			dc->iface = DISK_IF_VIRTIO_BLK;
			if_given = true;
		} else if (!strcmp(tok, "if=virtio-scsi")) {
			dc->iface = DISK_IF_VIRTIO_SCSI;
			if_given = true;
		} else if (!strcmp(tok, "media=disk")) {
			dc->cdrom = false;
		} else if (!strcmp(tok, "media=cdrom")) {
			dc->cdrom = true;
		} else if (!strcmp(tok, "readonly") || !strcmp(tok, "readonly=on")) {
			dc->readonly = true;
		} else if (!strncmp(tok, "serial=", 7) && tok[7] && strlen(tok + 7) <= 20) {
			dc->serial = tok + 7;
		} else {
			snprintf(err, errlen,
				 "--disk %s: unknown '%s' (if=virtio-blk|virtio-scsi, "
				 "media=disk|cdrom, readonly, serial=STR of up to 20 characters)",
				 spec, tok);
			return -1;
		}
	}
	if (dc->cdrom) {
		if (if_given && dc->iface != DISK_IF_VIRTIO_SCSI) {
			snprintf(err, errlen, "--disk %s: a CD/DVD drive is on virtio-scsi", spec);
			return -1;
		}
		dc->iface = DISK_IF_VIRTIO_SCSI;
		dc->readonly = true;
	}
	unsigned same = 0;
	for (unsigned i = 0; i < cfg->ndisks; i++)
		same += cfg->disks[i].iface == dc->iface;
	if (same == VM_MAX_DISKS_PER_IF) {
		snprintf(err, errlen, "--disk %s: at most %d %s disks", spec, VM_MAX_DISKS_PER_IF,
			 dc->iface == DISK_IF_VIRTIO_BLK ? "virtio-blk" : "virtio-scsi");
		return -1;
	}
	cfg->ndisks++;
	return 0;
}

int disk_options_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		const struct disk_config *dc = &cfg->disks[i];
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(cfg->disks[j].path, dc->path)) {
				snprintf(err, errlen, "--disk %s: given twice", dc->path);
				return -1;
			}
		struct image_options o = {.readonly = true};
		struct image *img;
		char why[512];
		if (image_open(dc->path, &o, &img, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--disk %s: %s", dc->path, why);
			return -1;
		}
		image_close(img);
	}
	return 0;
}
