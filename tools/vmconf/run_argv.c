/* The `cellvm run` command line for a VM defined in its directory: what
 * `cellvm start` will exec. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/vmconf/vmconf.h"

struct argv_builder {
	char **v;
	int n, cap;
	bool failed;
};

static void push(struct argv_builder *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		int cap = b->cap ? 2 * b->cap : 32;
		char **bigger = realloc(b->v, (size_t)cap * sizeof(*bigger));
		if (!bigger) {
			b->failed = true;
			return;
		}
		b->v = bigger;
		b->cap = cap;
	}
	va_start(ap, fmt);
	int rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		b->failed = true;
		return;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
}

void vmconf_argv_free(char **argv)
{
	for (char **p = argv; p && *p; p++)
		free(*p);
	free(argv);
}

static void say(void (*note)(void *, const char *), void *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	if (!note)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	note(ctx, line);
}

int vmconf_run_argv(const struct vm_def *def, const char *dir, char ***argv, int *argc,
		    void (*note)(void *ctx, const char *line), void *ctx,
		    char *err, size_t errlen)
{
	struct argv_builder b = { 0 };
	char path[2 * VMCONF_PATH_MAX], size[32], dev[16];

	*argv = NULL;
	*argc = 0;
	if (vmconf_validate(def, vmconf_host_memory(), err, errlen) < 0)
		return -1;
	if (!def->kernel[0]) {
		snprintf(err, errlen, "VM '%s' has no kernel to boot (cellvm set %s --kernel PATH): "
			 "cellvm boots a Linux kernel directly", def->name, def->name);
		return -1;
	}
	vmdir_resolve(dir, def->kernel, path, sizeof(path));
	push(&b, "--kernel");
	push(&b, "%s", path);
	if (def->initrd[0]) {
		vmdir_resolve(dir, def->initrd, path, sizeof(path));
		push(&b, "--initrd");
		push(&b, "%s", path);
	}
	push(&b, "--cmdline");
	push(&b, "%s", def->cmdline);
	push(&b, "--cpus");
	push(&b, "%u", def->cpus);
	vmconf_format_size(def->memory, size, sizeof(size));
	push(&b, "--memory");
	push(&b, "%s", size);

	for (unsigned i = 0; i < def->ndisks; i++) {
		const struct vm_disk *d = &def->disks[i];
		vmconf_disk_dev_name(def, i, dev, sizeof(dev));
		if (d->iface == VM_IF_IDE) {
			say(note, ctx, "%s: left out: the ide interface is not available yet", dev);
			continue;
		}
		if (d->cdrom && !d->image[0]) {
			say(note, ctx, "%s: left out: an empty CD/DVD drive is not available yet", dev);
			continue;
		}
		/* A comma would end the path in --disk's syntax. */
		vmdir_resolve(dir, d->image, path, sizeof(path));
		if (strchr(path, ',')) {
			snprintf(err, errlen, "%s: image path %s has a comma, which cellvm run's "
				 "--disk cannot take", dev, path);
			vmconf_argv_free(b.v);
			return -1;
		}
		push(&b, "--disk");
		push(&b, "%s,if=%s,media=%s%s", path, vm_disk_if_name(d->iface),
		     d->cdrom ? "cdrom" : "disk", d->cdrom ? ",readonly" : "");
	}
	for (unsigned i = 0; i < def->nnets; i++) {
		const struct vm_net *n = &def->nets[i];
		push(&b, "--net");
		push(&b, "%s=%s,mac=%s", vm_net_kind_name(n->kind), n->backend, n->mac);
	}
	for (unsigned i = 0; i < def->nserials; i++) {
		const struct vm_serial *s = &def->serials[i];
		vmdir_resolve(dir, s->path, path, sizeof(path));
		push(&b, "--serial");
		/* A socket port listens: a console client connects to it. */
		if (s->kind == VM_SERIAL_OUTPUT)
			push(&b, "file:%s", path);
		else
			push(&b, "unix:%s,server", path);
	}
	push(&b, "--name");
	push(&b, "%s", def->name);
	push(&b, "--uuid");
	push(&b, "%s", def->uuid);
	if (b.failed) {
		vmconf_argv_free(b.v);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*argv = b.v;
	*argc = b.n;
	return 0;
}
