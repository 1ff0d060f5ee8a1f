/* Names of the enumerations, sizes and device names, as config.pvs and
 * the commands spell them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vmconf/vmconf.h"

static const char *const dist_names[] = {
	[VM_DIST_LINUX] = "linux", [VM_DIST_DEBIAN] = "debian",
	[VM_DIST_WINDOWS] = "windows", [VM_DIST_OTHER] = "other",
};
static const char *const if_names[] = {
	[VM_IF_VIRTIO_SCSI] = "virtio-scsi", [VM_IF_VIRTIO_BLK] = "virtio-blk",
	[VM_IF_IDE] = "ide",
};
static const char *const net_names[] = {
	[VM_NET_BRIDGE] = "bridge", [VM_NET_TAP] = "tap", [VM_NET_STREAM] = "stream",
};

static int lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

const char *vm_distribution_name(enum vm_distribution d)
{
	return dist_names[d];
}

int vm_distribution_parse(const char *s, enum vm_distribution *out)
{
	int i = lookup(dist_names, sizeof(dist_names) / sizeof(dist_names[0]), s);
	if (i < 0)
		return -1;
	*out = (enum vm_distribution)i;
	return 0;
}

const char *vm_disk_if_name(enum vm_disk_if i)
{
	return if_names[i];
}

int vm_disk_if_parse(const char *s, enum vm_disk_if *out)
{
	int i = lookup(if_names, sizeof(if_names) / sizeof(if_names[0]), s);
	if (i < 0)
		return -1;
	*out = (enum vm_disk_if)i;
	return 0;
}

const char *vm_net_kind_name(enum vm_net_kind k)
{
	return net_names[k];
}

int vmconf_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned shift = 0;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (shift && (*end == 'B' || *end == 'b' || *end == 'i'))
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || (shift && v > (~0ull >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

void vmconf_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "TGMK";
	for (unsigned i = 0; i < 4; i++) {
		unsigned shift = 40 - 10 * i;
		if (bytes && !(bytes & ((1ull << shift) - 1))) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(bytes >> shift), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

void vmconf_disk_dev_name(const struct vm_def *def, unsigned i, char *buf, size_t len)
{
	unsigned same = 0;
	for (unsigned j = 0; j < i; j++)
		same += def->disks[j].cdrom == def->disks[i].cdrom;
	snprintf(buf, len, "%s%u", def->disks[i].cdrom ? "cdrom" : "hdd", same);
}
