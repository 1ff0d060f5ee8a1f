/* cellvm info: one VM's configuration and state. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm info NAME|UUID [--json] [--root DIR]\n"
		"\n"
		"Shows a VM: identity, directory, state, CPUs, memory, boot settings and\n"
		"its devices under the names cellvm set --device-del takes (hdd0, cdrom0,\n"
		"net0, serial0; counted per kind, in order).\n"
		"\n"
		"Options:\n"
		"  --json       as one JSON object (sizes in bytes)\n"
		"  --root DIR   the VM root (cellvm create --help)\n"
		"\n"
		"Exit status: 0 shown, 1 no such VM or its config.pvs is broken (the\n"
		"error names the line and the field), 2 bad options.\n"
		"\n"
		"Examples:\n"
		"  cellvm info web1\n"
		"  cellvm info 0c6e2a5c-3f0b-4f6e-9d7a-1b2c3d4e5f60 --json\n");
}

static const char *if_text(enum vm_disk_if i)
{
	return i == VM_IF_IDE ? "ide (not available yet)" : vm_disk_if_name(i);
}

static const char *or_none(const char *s)
{
	return s[0] ? s : "(none)";
}

static void print_text(const struct vm_entry *e)
{
	const struct vm_def *d = e->def;
	char size[32], dev[16];

	printf("UUID:          %s\n", d->uuid);
	printf("Name:          %s\n", d->name);
	printf("Directory:     %s\n", e->dir);
	printf("State:         %s\n", cmd_vm_state(e->dir));
	struct cellvm_state st;
	if (vmdir_is_locked(e->dir) && cellvm_state(e->dir, &st, NULL, 0) == 0)
		printf("Supervisor:    pid %d, up %llu s, boot %u (cellvm.log, control.sock)\n",
		       (int)st.pid, (unsigned long long)(st.uptime_ms / 1000), st.boots);
	printf("Distribution:  %s\n", vm_distribution_name(d->distribution));
	printf("CPUs:          %u\n", d->cpus);
	vmconf_format_size(d->memory, size, sizeof(size));
	printf("Memory:        %s\n", size);
	printf("Boot:          kernel %s\n", or_none(d->kernel));
	printf("               initrd %s\n", or_none(d->initrd));
	printf("               cmdline %s\n", or_none(d->cmdline));
	printf("Devices:\n");
	for (unsigned i = 0; i < d->ndisks; i++) {
		const struct vm_disk *k = &d->disks[i];
		vmconf_disk_dev_name(d, i, dev, sizeof(dev));
		if (k->cdrom) {
			printf("  %-8s  %s  image %s\n", dev, if_text(k->iface),
			       k->image[0] ? k->image : "(empty)");
		} else {
			vmconf_format_size(k->size, size, sizeof(size));
			printf("  %-8s  %s  image %s  size %s\n", dev, if_text(k->iface), k->image,
			       size);
		}
	}
	for (unsigned i = 0; i < d->nnets; i++)
		printf("  net%-5u  virtio  %s %s  mac %s\n", i, vm_net_kind_name(d->nets[i].kind),
		       d->nets[i].backend, d->nets[i].mac);
	for (unsigned i = 0; i < d->nserials; i++)
		printf("  serial%-2u  %s %s\n", i,
		       d->serials[i].kind == VM_SERIAL_OUTPUT ? "output" : "socket",
		       d->serials[i].path);
	if (d->video_memory) {
		vmconf_format_size(d->video_memory, size, sizeof(size));
		printf("  video     memory %s (recorded only: no video device yet)\n", size);
	}
}

static void kv(const char *key, const char *value, bool comma)
{
	printf("\"%s\": ", key);
	cmd_json_string(stdout, value);
	if (comma)
		printf(", ");
}

static void print_json(const struct vm_entry *e)
{
	const struct vm_def *d = e->def;
	char dev[24];

	printf("{");
	kv("uuid", d->uuid, true);
	kv("name", d->name, true);
	kv("directory", e->dir, true);
	kv("state", cmd_vm_state(e->dir), true);
	struct cellvm_state st;
	if (vmdir_is_locked(e->dir) && cellvm_state(e->dir, &st, NULL, 0) == 0)
		printf("\"supervisor\": {\"pid\": %d, \"uptime_ms\": %llu, \"boots\": %u}, ",
		       (int)st.pid, (unsigned long long)st.uptime_ms, st.boots);
	kv("distribution", vm_distribution_name(d->distribution), true);
	printf("\"cpus\": %u, \"memory\": %llu, \"video_memory\": %llu,\n", d->cpus,
	       (unsigned long long)d->memory, (unsigned long long)d->video_memory);
	printf(" \"boot\": {");
	kv("kernel", d->kernel, true);
	kv("initrd", d->initrd, true);
	kv("cmdline", d->cmdline, false);
	printf("},\n \"devices\": [");
	bool first = true;
	for (unsigned i = 0; i < d->ndisks; i++, first = false) {
		const struct vm_disk *k = &d->disks[i];
		vmconf_disk_dev_name(d, i, dev, sizeof(dev));
		printf("%s\n  {", first ? "" : ",");
		kv("name", dev, true);
		kv("type", k->cdrom ? "cdrom" : "hdd", true);
		kv("interface", vm_disk_if_name(k->iface), true);
		printf("\"available\": %s, ", k->iface == VM_IF_IDE ? "false" : "true");
		if (!k->cdrom)
			printf("\"size\": %llu, ", (unsigned long long)k->size);
		kv("image", k->image, false);
		printf("}");
	}
	for (unsigned i = 0; i < d->nnets; i++, first = false) {
		snprintf(dev, sizeof(dev), "net%u", i);
		printf("%s\n  {", first ? "" : ",");
		kv("name", dev, true);
		kv("type", "net", true);
		kv(vm_net_kind_name(d->nets[i].kind), d->nets[i].backend, true);
		kv("mac", d->nets[i].mac, false);
		printf("}");
	}
	for (unsigned i = 0; i < d->nserials; i++, first = false) {
		snprintf(dev, sizeof(dev), "serial%u", i);
		printf("%s\n  {", first ? "" : ",");
		kv("name", dev, true);
		kv("type", "serial", true);
		kv(d->serials[i].kind == VM_SERIAL_OUTPUT ? "output" : "socket",
		   d->serials[i].path, false);
		printf("}");
	}
	if (d->video_memory)
		printf("%s\n  {\"name\": \"video0\", \"type\": \"video\", \"memory\": %llu}",
		       first ? "" : ",", (unsigned long long)d->video_memory);
	printf("\n ]\n}\n");
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *opt_root = NULL;
	char root[VMCONF_PATH_MAX];
	bool json = false;
	struct vm_entry e;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'r': opt_root = optarg; break;
		case 'h':
			info_usage(stdout);
			return CMD_OK;
		default:
			info_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		info_usage(stderr);
		return CMD_USAGE;
	}
	rc = cmd_find_vm("info", opt_root, argv[optind], false, root, sizeof(root), &e);
	if (rc)
		return rc;
	if (json)
		print_json(&e);
	else
		print_text(&e);
	vmdir_entry_free(&e);
	return CMD_OK;
}
