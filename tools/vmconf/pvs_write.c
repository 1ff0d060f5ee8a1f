/* Writing config.pvs: the XML text (libxml2), and replacing the file so
 * that a crash leaves the old one or the new one, never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "tools/vmconf/vmconf.h"

static void leaf(xmlNode *parent, const char *name, const char *text)
{
	xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);
}

static void size_leaf(xmlNode *parent, const char *name, uint64_t bytes)
{
	char s[32];
	vmconf_format_size(bytes, s, sizeof(s));
	leaf(parent, name, s);
}

static void add_devices(xmlNode *vm, const struct vm_def *def)
{
	xmlNode *devs = xmlNewChild(vm, NULL, (const xmlChar *)"devices", NULL);

	for (unsigned i = 0; i < def->ndisks; i++) {
		const struct vm_disk *d = &def->disks[i];
		xmlNode *n = xmlNewChild(devs, NULL, (const xmlChar *)(d->cdrom ? "cdrom" : "hdd"),
					 NULL);
		leaf(n, "image", d->image);
		leaf(n, "interface", vm_disk_if_name(d->iface));
		if (!d->cdrom)
			size_leaf(n, "size", d->size);
	}
	for (unsigned i = 0; i < def->nnets; i++) {
		const struct vm_net *net = &def->nets[i];
		xmlNode *n = xmlNewChild(devs, NULL, (const xmlChar *)"net", NULL);
		leaf(n, vm_net_kind_name(net->kind), net->backend);
		leaf(n, "mac", net->mac);
	}
	for (unsigned i = 0; i < def->nserials; i++) {
		const struct vm_serial *s = &def->serials[i];
		xmlNode *n = xmlNewChild(devs, NULL, (const xmlChar *)"serial", NULL);
		leaf(n, s->kind == VM_SERIAL_OUTPUT ? "output" : "socket", s->path);
	}
	if (def->video_memory) {
		xmlNode *n = xmlNewChild(devs, NULL, (const xmlChar *)"video", NULL);
		size_leaf(n, "memory", def->video_memory);
	}
}

char *vmconf_to_xml(const struct vm_def *def, size_t *len)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNode *vm = xmlNewNode(NULL, (const xmlChar *)"vm");
	xmlChar *mem = NULL;
	char cpus[16];
	int size = 0;

	xmlDocSetRootElement(doc, vm);
	xmlAddPrevSibling(vm, xmlNewDocComment(doc, (const xmlChar *)
		" A cellvm virtual machine; the format: docs/vm-management.md "));
	xmlSetProp(vm, (const xmlChar *)"version", (const xmlChar *)"1");

	xmlNode *id = xmlNewChild(vm, NULL, (const xmlChar *)"identity", NULL);
	leaf(id, "uuid", def->uuid);
	leaf(id, "name", def->name);
	leaf(id, "distribution", vm_distribution_name(def->distribution));
	snprintf(cpus, sizeof(cpus), "%u", def->cpus);
	leaf(vm, "cpus", cpus);
	size_leaf(vm, "memory", def->memory);
	xmlNode *boot = xmlNewChild(vm, NULL, (const xmlChar *)"boot", NULL);
	leaf(boot, "kernel", def->kernel);
	leaf(boot, "initrd", def->initrd);
	leaf(boot, "cmdline", def->cmdline);
	add_devices(vm, def);

	xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
	xmlFreeDoc(doc);
	if (!mem)
		return NULL;
	char *out = malloc((size_t)size + 1);
	if (out) {
		memcpy(out, mem, (size_t)size);
		out[size] = 0;
		*len = (size_t)size;
	}
	xmlFree(mem);
	return out;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int vmconf_write(const char *path, const struct vm_def *def, char *err, size_t errlen)
{
	char tmp[VMCONF_PATH_MAX + 32], dir[VMCONF_PATH_MAX];
	size_t len;
	char *xml;
	int fd, dfd;

	if (vmconf_validate(def, 0, err, errlen) < 0)
		return -1;
	xml = vmconf_to_xml(def, &len);
	if (!xml) {
		snprintf(err, errlen, "%s: could not make the XML", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = 0;
	else
		*slash = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot make a temporary file: %s", path, strerror(errno));
		free(xml);
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || write_all(fd, xml, len) < 0 || fsync(fd) < 0) {
		snprintf(err, errlen, "%s: writing %s: %s", path, tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "%s: writing %s: %s", path, tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: rename from %s: %s", path, tmp, strerror(errno));
		goto fail;
	}
	free(xml);
	/* The rename is only durable once the directory is on disk. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(xml);
	return -1;
}
