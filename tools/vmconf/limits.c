/* The seed's limits on a VM's hardware, checked at create, set and load. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "tools/vmconf/vmconf.h"

uint64_t vmconf_host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || page <= 0)
		return 0;
	return (uint64_t)pages * (uint64_t)page;
}

int vmconf_check_cpus(unsigned cpus, char *err, size_t errlen)
{
	if (cpus >= VMCONF_MIN_CPUS && cpus <= VMCONF_MAX_CPUS)
		return 0;
	snprintf(err, errlen, "%u CPUs: a VM has %d to %d", cpus, VMCONF_MIN_CPUS,
		 VMCONF_MAX_CPUS);
	return -1;
}

int vmconf_check_memory(uint64_t bytes, uint64_t host_memory, char *err, size_t errlen)
{
	char s[32], h[32];
	vmconf_format_size(bytes, s, sizeof(s));
	if (bytes < VMCONF_MIN_MEMORY || bytes > VMCONF_MAX_MEMORY || bytes % 4096) {
		snprintf(err, errlen, "%s: a VM has 16M to 1T of RAM, in whole 4K pages", s);
		return -1;
	}
	if (host_memory && bytes > host_memory) {
		vmconf_format_size(host_memory & ~((1ull << 20) - 1), h, sizeof(h));
		snprintf(err, errlen, "%s is more than the host's RAM (%s)", s, h);
		return -1;
	}
	return 0;
}

int vmconf_check_video(uint64_t bytes, char *err, size_t errlen)
{
	char s[32];
	if (bytes >= VMCONF_MIN_VIDEO && bytes <= VMCONF_MAX_VIDEO && !(bytes % (1u << 20)))
		return 0;
	vmconf_format_size(bytes, s, sizeof(s));
	snprintf(err, errlen, "%s: video memory is 1M to 256M, in whole MB", s);
	return -1;
}

int vmconf_check_disk_size(uint64_t bytes, char *err, size_t errlen)
{
	char s[32];
	if (bytes >= VMCONF_MIN_DISK && bytes <= VMCONF_MAX_DISK && !(bytes % 512))
		return 0;
	vmconf_format_size(bytes, s, sizeof(s));
	snprintf(err, errlen, "%s: a hard disk is 100M to 16T, in whole 512-byte sectors", s);
	return -1;
}

int vmconf_check_name(const char *name, char *err, size_t errlen)
{
	uuid_t u;
	size_t n = strlen(name);

	if (!n || n > VMCONF_NAME_MAX) {
		snprintf(err, errlen, "name '%s': 1 to %d characters", name, VMCONF_NAME_MAX);
		return -1;
	}
	for (const char *p = name; *p; p++) {
		if (iscntrl((unsigned char)*p) || *p == '/') {
			snprintf(err, errlen, "name '%s': no '/' or control characters", name);
			return -1;
		}
	}
	/* A name that reads as a UUID would make NAME|UUID arguments ambiguous. */
	if (!uuid_parse(name, u)) {
		snprintf(err, errlen, "name '%s': a name cannot be a UUID", name);
		return -1;
	}
	return 0;
}

int vmconf_check_mac(const char *mac, char *err, size_t errlen)
{
	unsigned b[6];
	int end = 0;
	if (strlen(mac) != 17 ||
	    sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6 || end != 17) {
		snprintf(err, errlen, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx, hex)", mac);
		return -1;
	}
	if (b[0] & 1) {
		snprintf(err, errlen, "%s is a multicast address", mac);
		return -1;
	}
	return 0;
}

static unsigned on_bus(const struct vm_def *def, enum vm_disk_if iface)
{
	unsigned n = 0;
	for (unsigned i = 0; i < def->ndisks; i++)
		n += def->disks[i].iface == iface;
	return n;
}

int vmconf_check_add_disk(const struct vm_def *def, bool cdrom, enum vm_disk_if iface,
			  char *err, size_t errlen)
{
	if (cdrom && iface == VM_IF_VIRTIO_BLK) {
		snprintf(err, errlen, "a CD/DVD drive is on ide or virtio-scsi, not virtio-blk");
		return -1;
	}
	unsigned max = iface == VM_IF_IDE ? VMCONF_MAX_IDE :
		       iface == VM_IF_VIRTIO_SCSI ? VMCONF_MAX_SCSI : VMCONF_MAX_VIRTIO_BLK;
	if (on_bus(def, iface) >= max) {
		snprintf(err, errlen, "at most %u %s devices (hard disks and CD/DVD drives)",
			 max, vm_disk_if_name(iface));
		return -1;
	}
	return 0;
}

int vmconf_check_add_net(const struct vm_def *def, char *err, size_t errlen)
{
	if (def->nnets < VMCONF_MAX_NETS)
		return 0;
	snprintf(err, errlen, "at most %d network adapters", VMCONF_MAX_NETS);
	return -1;
}

int vmconf_check_add_serial(const struct vm_def *def, char *err, size_t errlen)
{
	if (def->nserials < VMCONF_MAX_SERIAL)
		return 0;
	snprintf(err, errlen, "at most %d serial ports", VMCONF_MAX_SERIAL);
	return -1;
}

/* Prefixes err with "WHAT: ". */
static int fail_in(const char *what, char *err, size_t errlen)
{
	char inner[512];
	snprintf(inner, sizeof(inner), "%s", err);
	snprintf(err, errlen, "%s: %s", what, inner);
	return -1;
}

int vmconf_validate(const struct vm_def *def, uint64_t host_memory, char *err, size_t errlen)
{
	struct vm_def *partial;
	uuid_t u;
	char what[32];

	if (uuid_parse(def->uuid, u)) {
		snprintf(err, errlen, "uuid: '%s' is not a UUID", def->uuid);
		return -1;
	}
	if (vmconf_check_name(def->name, err, errlen) < 0)
		return -1;
	if (vmconf_check_cpus(def->cpus, err, errlen) < 0)
		return fail_in("cpus", err, errlen);
	if (vmconf_check_memory(def->memory, host_memory, err, errlen) < 0)
		return fail_in("memory", err, errlen);
	if (def->video_memory && vmconf_check_video(def->video_memory, err, errlen) < 0)
		return fail_in("video", err, errlen);
	if (def->ndisks > VMCONF_MAX_DISKS || def->nnets > VMCONF_MAX_NETS ||
	    def->nserials > VMCONF_MAX_SERIAL) {
		snprintf(err, errlen, "too many devices");
		return -1;
	}
	/* The bus counts: add the disks one by one to an empty copy. */
	partial = calloc(1, sizeof(*partial));
	if (!partial) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < def->ndisks; i++) {
		const struct vm_disk *d = &def->disks[i];
		vmconf_disk_dev_name(def, i, what, sizeof(what));
		if (vmconf_check_add_disk(partial, d->cdrom, d->iface, err, errlen) < 0 ||
		    (!d->cdrom && vmconf_check_disk_size(d->size, err, errlen) < 0) ||
		    (!d->cdrom && !d->image[0] && snprintf(err, errlen, "no image") > 0)) {
			free(partial);
			return fail_in(what, err, errlen);
		}
		partial->disks[partial->ndisks++] = *d;
	}
	free(partial);
	for (unsigned i = 0; i < def->nnets; i++) {
		snprintf(what, sizeof(what), "net%u", i);
		if (!def->nets[i].backend[0] && snprintf(err, errlen, "no backend") > 0)
			return fail_in(what, err, errlen);
		if (vmconf_check_mac(def->nets[i].mac, err, errlen) < 0)
			return fail_in(what, err, errlen);
	}
	for (unsigned i = 0; i < def->nserials; i++) {
		snprintf(what, sizeof(what), "serial%u", i);
		if (!def->serials[i].path[0] && snprintf(err, errlen, "no path") > 0)
			return fail_in(what, err, errlen);
	}
	return 0;
}
