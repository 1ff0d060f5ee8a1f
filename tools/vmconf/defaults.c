/* The hardware a new VM gets (the seed's defaults) and what depends on
 * its distribution. */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include "tools/vmconf/vmconf.h"

void vm_defaults_for(enum vm_distribution d, struct vm_defaults *out)
{
	/* Sized for a server install of each; windows needs 64G of disk. */
	switch (d) {
	case VM_DIST_WINDOWS:
		*out = (struct vm_defaults){ 2, 4ull << 30, 128ull << 30, 32ull << 20, VM_IF_IDE };
		break;
	case VM_DIST_DEBIAN:
		*out = (struct vm_defaults){ 2, 2ull << 30, 64ull << 30, 32ull << 20, VM_IF_IDE };
		break;
	case VM_DIST_LINUX:
		*out = (struct vm_defaults){ 2, 2ull << 30, 64ull << 30, 32ull << 20,
					     VM_IF_VIRTIO_SCSI };
		break;
	case VM_DIST_OTHER:
	default:
		*out = (struct vm_defaults){ 1, 1ull << 30, 32ull << 30, 32ull << 20,
					     VM_IF_VIRTIO_SCSI };
		break;
	}
}

int vmconf_random_mac(char mac[18])
{
	unsigned char b[6];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	b[0] = 0x52; /* locally administered, unicast */
	snprintf(mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return 0;
}

int vm_def_init_default(struct vm_def *def, const char *name, enum vm_distribution d,
			unsigned cpus, uint64_t memory, const char *hdd_image, uint64_t hdd_size,
			char *err, size_t errlen)
{
	struct vm_defaults dflt;
	uuid_t u;

	vm_defaults_for(d, &dflt);
	memset(def, 0, sizeof(*def));
	uuid_generate_random(u);
	uuid_unparse_lower(u, def->uuid);
	if (vmconf_check_name(name, err, errlen) < 0)
		return -1;
	snprintf(def->name, sizeof(def->name), "%s", name);
	def->distribution = d;
	def->cpus = cpus ? cpus : dflt.cpus;
	def->memory = memory ? memory : dflt.memory;
	def->video_memory = dflt.video_memory;
	snprintf(def->cmdline, sizeof(def->cmdline), "console=ttyS0");

	def->disks[0] = (struct vm_disk){ .iface = VM_IF_VIRTIO_SCSI,
					  .size = hdd_size ? hdd_size : dflt.disk_size };
	snprintf(def->disks[0].image, sizeof(def->disks[0].image), "%s", hdd_image);
	def->disks[1] = (struct vm_disk){ .cdrom = true, .iface = dflt.cdrom_if };
	def->ndisks = 2;

	def->nets[0].kind = VM_NET_BRIDGE;
	snprintf(def->nets[0].backend, sizeof(def->nets[0].backend), "%s", VMCONF_DEFAULT_BRIDGE);
	if (vmconf_random_mac(def->nets[0].mac) < 0) {
		snprintf(err, errlen, "no random bytes for a MAC address");
		return -1;
	}
	def->nnets = 1;
	return 0;
}
