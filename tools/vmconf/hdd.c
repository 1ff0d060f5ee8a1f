/* A VM's hard disk images: new ones are expanding qcow2 (the project's own
 * qcow2 code); existing ones are asked their virtual size. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/image.h"
#include "tools/vmconf/vmconf.h"

int vmconf_create_hdd(const char *path, uint64_t size, char *err, size_t errlen)
{
	struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = size };
	char inner[512];

	if (vmconf_check_disk_size(size, err, errlen) < 0)
		return -1;
	/* image_create truncates: claim the name first so nothing is lost. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	if (image_create(path, &o, inner, sizeof(inner)) < 0) {
		unlink(path);
		snprintf(err, errlen, "%s: %s", path, inner);
		return -1;
	}
	return 0;
}

int vmconf_image_size(const char *path, uint64_t *size, char *err, size_t errlen)
{
	struct image_options o = { .readonly = true };
	struct image *img;
	char inner[512];

	if (image_open(path, &o, &img, inner, sizeof(inner)) < 0) {
		snprintf(err, errlen, "%s", inner);
		return -1;
	}
	*size = image_size(img);
	image_close(img);
	return 0;
}
