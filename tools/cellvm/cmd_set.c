/* cellvm set: changes a stopped VM's configuration (and adds or removes a
 * device).  All changes are made to a copy and written at once; nothing is
 * written when any of them is refused. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cellvm/vm_commands.h"

static void set_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm set NAME|UUID [--root DIR] CHANGE...\n"
		"\n"
		"Changes a VM that is not running (its lock is free; the lock is held\n"
		"while set works).  CHANGEs:\n"
		"  --cpus N               1 to 64\n"
		"  --memsize SIZE         16M to 1T, no more than the host has\n"
		"  --videosize SIZE       video memory, 1M to 256M (recorded only)\n"
		"  --kernel PATH          the kernel cellvm boots directly ('' clears)\n"
		"  --initrd PATH          its initial ramdisk ('' clears)\n"
		"  --cmdline STR          its command line\n"
		"  --device-add hdd [--size SIZE] [--image PATH] [--interface IF]\n"
		"                         a hard disk on IF virtio-scsi (default), virtio-blk\n"
		"                         or ide (recorded; not available yet); PATH an\n"
		"                         existing image (qcow2 or raw) or a new expanding\n"
		"                         qcow2 of SIZE (default: the distribution's, 64G for\n"
		"                         linux); without --image a new harddiskN.hdd\n"
		"  --device-add cdrom [--image ISO] [--interface ide|virtio-scsi]\n"
		"                         a CD/DVD drive, empty without --image\n"
		"  --device-add net [--bridge BR | --tap NAME | --stream PATH] [--mac MAC]\n"
		"                         a VirtIO adapter (default --bridge " VMCONF_DEFAULT_BRIDGE
		", a new MAC)\n"
		"  --device-add serial [--output FILE | --socket PATH]\n"
		"                         a serial port writing to FILE (default serialN.txt)\n"
		"                         or listening on the unix socket PATH\n"
		"  --device-del DEVICE    removes hdd0, cdrom1, net0, serial2 ... (names as\n"
		"                         cellvm info shows them; later ones move up).  A\n"
		"                         hard disk's image is kept.\n"
		"One --device-add or --device-del per command.  A bare file name (no '/')\n"
		"is in the VM's directory; a path with a '/' is taken from here.\n"
		"\n"
		"Exit status: 0 changed, 1 refused (the VM is running, a device limit,\n"
		"no such device, an image that cannot be made), 2 bad options or values.\n"
		"\n"
		"Examples:\n"
		"  cellvm set web1 --cpus 4 --memsize 8G\n"
		"  cellvm set web1 --device-add hdd --size 200G --interface virtio-blk\n"
		"  cellvm set web1 --device-add cdrom --image /srv/iso/debian-12.iso\n"
		"  cellvm set web1 --device-add serial --output console.txt\n"
		"  cellvm set web1 --device-del net0\n"
		"  cellvm set web1 --kernel /boot/vmlinuz --cmdline 'console=ttyS0 root=/dev/sda1'\n");
}

struct set_request {
	const char *cpus, *memsize, *videosize, *kernel, *initrd, *cmdline;
	const char *add, *del;
	const char *size, *image, *iface, *bridge, *tap, *stream, *mac, *output, *socket;
	const char *root;
};

/* What a change did, for the lines printed at the end, and the image it
 * made (removed again if the config is not written). */
struct set_result {
	char said[2048];
	char created[2 * VMCONF_PATH_MAX];
};

static void said(struct set_result *res, const char *fmt, const char *a, const char *b)
{
	size_t l = strlen(res->said);
	snprintf(res->said + l, sizeof(res->said) - l, fmt, a, b);
}

static int parse_args(int argc, char **argv, struct set_request *q)
{
	static const struct option opts[] = {
		{ "cpus", required_argument, NULL, 'c' },
		{ "memsize", required_argument, NULL, 'm' },
		{ "videosize", required_argument, NULL, 'v' },
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'l' },
		{ "device-add", required_argument, NULL, 'A' },
		{ "device-del", required_argument, NULL, 'D' },
		{ "size", required_argument, NULL, 's' },
		{ "image", required_argument, NULL, 'I' },
		{ "interface", required_argument, NULL, 'f' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "tap", required_argument, NULL, 't' },
		{ "stream", required_argument, NULL, 'S' },
		{ "mac", required_argument, NULL, 'M' },
		{ "output", required_argument, NULL, 'o' },
		{ "socket", required_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, idx = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		const char **slot;
		switch (c) {
		case 'c': slot = &q->cpus; break;
		case 'm': slot = &q->memsize; break;
		case 'v': slot = &q->videosize; break;
		case 'k': slot = &q->kernel; break;
		case 'i': slot = &q->initrd; break;
		case 'l': slot = &q->cmdline; break;
		case 'A': slot = q->del ? &q->del : &q->add; break;
		case 'D': slot = q->add ? &q->add : &q->del; break;
		case 's': slot = &q->size; break;
		case 'I': slot = &q->image; break;
		case 'f': slot = &q->iface; break;
		case 'b': slot = &q->bridge; break;
		case 't': slot = &q->tap; break;
		case 'S': slot = &q->stream; break;
		case 'M': slot = &q->mac; break;
		case 'o': slot = &q->output; break;
		case 'u': slot = &q->socket; break;
		case 'r': slot = &q->root; break;
		case 'h':
			set_usage(stdout);
			return 1;
		default:
			set_usage(stderr);
			return -CMD_USAGE;
		}
		if (*slot)
			return -cmd_fail("set", CMD_USAGE, "--%s: given twice, or both --device-add "
					 "and --device-del (one device change per command)",
					 opts[idx].name);
		*slot = optarg;
	}
	if (optind + 1 != argc) {
		set_usage(stderr);
		return -CMD_USAGE;
	}
	return 0;
}

/* Usage errors found before the VM is touched. */
static int check_request(const struct set_request *q)
{
	const char *add = q->add ? q->add : "";
	bool hdd = !strcmp(add, "hdd"), cdrom = !strcmp(add, "cdrom"), net = !strcmp(add, "net"),
	     serial = !strcmp(add, "serial");

	if (q->add && !hdd && !cdrom && !net && !serial)
		return cmd_fail("set", CMD_USAGE, "--device-add %s: expected hdd, cdrom, net or "
				"serial", q->add);
	if ((q->size && !hdd) || (q->image && !hdd && !cdrom) || (q->iface && !hdd && !cdrom))
		return cmd_fail("set", CMD_USAGE, "--size goes with --device-add hdd, --image "
				"and --interface with --device-add hdd or cdrom");
	if ((q->bridge || q->tap || q->stream || q->mac) && !net)
		return cmd_fail("set", CMD_USAGE, "--bridge, --tap, --stream and --mac go with "
				"--device-add net");
	if ((q->output || q->socket) && !serial)
		return cmd_fail("set", CMD_USAGE, "--output and --socket go with --device-add serial");
	if (!!q->bridge + !!q->tap + !!q->stream > 1)
		return cmd_fail("set", CMD_USAGE, "one of --bridge, --tap, --stream");
	if (q->output && q->socket)
		return cmd_fail("set", CMD_USAGE, "one of --output, --socket");
	if (!q->cpus && !q->memsize && !q->videosize && !q->kernel && !q->initrd &&
	    !q->cmdline && !q->add && !q->del)
		return cmd_fail("set", CMD_USAGE, "nothing to change (cellvm set --help)");
	return CMD_OK;
}

static int set_path(const char *opt, const char *given, char *out, size_t len)
{
	if (!given[0]) {
		out[0] = 0;
		return CMD_OK;
	}
	if (cmd_store_path(given, out, len) < 0)
		return cmd_fail("set", CMD_USAGE, "%s %s: path too long", opt, given);
	return CMD_OK;
}

/* The scalar changes. */
static int apply_values(const struct set_request *q, struct vm_def *def, struct set_result *res)
{
	char err[512];
	uint64_t v;
	unsigned n;

	if (q->cpus) {
		if (cmd_parse_uint(q->cpus, &n) < 0)
			return cmd_fail("set", CMD_USAGE, "--cpus %s: not a number", q->cpus);
		if (vmconf_check_cpus(n, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_USAGE, "--cpus: %s", err);
		def->cpus = n;
		said(res, "  cpus %s%s\n", q->cpus, "");
	}
	if (q->memsize) {
		if (vmconf_parse_size(q->memsize, &v) < 0)
			return cmd_fail("set", CMD_USAGE, "--memsize %s: not a size (e.g. 512M, 2G)",
					q->memsize);
		if (vmconf_check_memory(v, vmconf_host_memory(), err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_USAGE, "--memsize: %s", err);
		def->memory = v;
		said(res, "  memory %s%s\n", q->memsize, "");
	}
	if (q->videosize) {
		if (vmconf_parse_size(q->videosize, &v) < 0)
			return cmd_fail("set", CMD_USAGE, "--videosize %s: not a size (e.g. 32M)",
					q->videosize);
		if (vmconf_check_video(v, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_USAGE, "--videosize: %s", err);
		def->video_memory = v;
		said(res, "  video memory %s%s\n", q->videosize, "");
	}
	if (q->kernel && set_path("--kernel", q->kernel, def->kernel, sizeof(def->kernel)))
		return CMD_USAGE;
	if (q->initrd && set_path("--initrd", q->initrd, def->initrd, sizeof(def->initrd)))
		return CMD_USAGE;
	if (q->kernel)
		said(res, "  kernel %s%s\n", def->kernel[0] ? def->kernel : "(none)", "");
	if (q->initrd)
		said(res, "  initrd %s%s\n", def->initrd[0] ? def->initrd : "(none)", "");
	if (q->cmdline) {
		if (strlen(q->cmdline) >= sizeof(def->cmdline))
			return cmd_fail("set", CMD_USAGE, "--cmdline: longer than %zu characters",
					sizeof(def->cmdline) - 1);
		snprintf(def->cmdline, sizeof(def->cmdline), "%s", q->cmdline);
		said(res, "  cmdline %s%s\n", q->cmdline, "");
	}
	return CMD_OK;
}

/* harddiskN.hdd, the first N from 1 that no disk uses and no file has. */
static void new_hdd_name(const struct vm_def *def, const char *dir, char *out, size_t len)
{
	char path[2 * VMCONF_PATH_MAX];
	for (unsigned n = 1;; n++) {
		bool used = false;
		snprintf(out, len, "harddisk%u.hdd", n);
		for (unsigned i = 0; i < def->ndisks; i++)
			used |= !strcmp(def->disks[i].image, out);
		vmdir_resolve(dir, out, path, sizeof(path));
		if (!used && access(path, F_OK) < 0)
			return;
	}
}

static int add_disk(const struct set_request *q, const char *dir, struct vm_def *def,
		    struct set_result *res)
{
	bool cdrom = !strcmp(q->add, "cdrom");
	struct vm_defaults dflt;
	struct vm_disk d = { .cdrom = cdrom };
	char err[2048], dev[24], path[2 * VMCONF_PATH_MAX], sz[32];
	uint64_t size = 0;

	vm_defaults_for(def->distribution, &dflt);
	d.iface = cdrom ? dflt.cdrom_if : VM_IF_VIRTIO_SCSI;
	if (q->iface && vm_disk_if_parse(q->iface, &d.iface) < 0)
		return cmd_fail("set", CMD_USAGE, "--interface %s: expected virtio-scsi, "
				"virtio-blk or ide", q->iface);
	if (q->size) {
		if (vmconf_parse_size(q->size, &size) < 0)
			return cmd_fail("set", CMD_USAGE, "--size %s: not a size (e.g. 100M, 64G)",
					q->size);
		if (vmconf_check_disk_size(size, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_USAGE, "--size: %s", err);
	}
	if (vmconf_check_add_disk(def, cdrom, d.iface, err, sizeof(err)) < 0)
		return cmd_fail("set", CMD_FAILED, "--device-add %s: %s", q->add, err);
	if (q->image && set_path("--image", q->image, d.image, sizeof(d.image)))
		return CMD_USAGE;
	vmdir_resolve(dir, d.image, path, sizeof(path));

	if (cdrom) {
		if (d.image[0] && access(path, R_OK) < 0)
			return cmd_fail("set", CMD_FAILED, "--image %s: %s", path, strerror(errno));
	} else if (d.image[0] && access(path, F_OK) == 0) {
		if (vmconf_image_size(path, &d.size, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_FAILED, "--image %s: %s", path, err);
		if (vmconf_check_disk_size(d.size, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_FAILED, "--image %s: %s", path, err);
		if (size && size != d.size) {
			vmconf_format_size(d.size, sz, sizeof(sz));
			return cmd_fail("set", CMD_USAGE, "--image %s has %s, not --size %s", path,
					sz, q->size);
		}
	} else {
		if (!d.image[0]) {
			new_hdd_name(def, dir, d.image, sizeof(d.image));
			vmdir_resolve(dir, d.image, path, sizeof(path));
		}
		d.size = size ? size : dflt.disk_size;
		if (vmconf_create_hdd(path, d.size, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_FAILED, "--device-add hdd: %s", err);
		snprintf(res->created, sizeof(res->created), "%s", path);
	}
	def->disks[def->ndisks++] = d;
	vmconf_disk_dev_name(def, def->ndisks - 1, dev, sizeof(dev));
	said(res, "  added %s: %s", dev, vm_disk_if_name(d.iface));
	if (cdrom) {
		said(res, ", image %s%s\n", d.image[0] ? d.image : "(empty)", "");
	} else {
		vmconf_format_size(d.size, sz, sizeof(sz));
		said(res, ", image %s, size %s\n", d.image, sz);
	}
	return CMD_OK;
}

static int add_net(const struct set_request *q, struct vm_def *def, struct set_result *res)
{
	struct vm_net n = { .kind = VM_NET_BRIDGE };
	const char *backend = VMCONF_DEFAULT_BRIDGE;
	char err[512], dev[24];

	if (q->tap) {
		n.kind = VM_NET_TAP;
		backend = q->tap;
	} else if (q->stream) {
		n.kind = VM_NET_STREAM;
		backend = q->stream;
	} else if (q->bridge) {
		backend = q->bridge;
	}
	if (!backend[0] || strchr(backend, ','))
		return cmd_fail("set", CMD_USAGE, "--%s '%s': empty or with a comma",
				vm_net_kind_name(n.kind), backend);
	if (n.kind == VM_NET_STREAM) {
		if (cmd_store_path(backend, n.backend, sizeof(n.backend)) < 0)
			return cmd_fail("set", CMD_USAGE, "--stream: path too long");
	} else {
		snprintf(n.backend, sizeof(n.backend), "%s", backend);
	}
	if (q->mac) {
		if (vmconf_check_mac(q->mac, err, sizeof(err)) < 0)
			return cmd_fail("set", CMD_USAGE, "--mac: %s", err);
		snprintf(n.mac, sizeof(n.mac), "%s", q->mac);
	} else if (vmconf_random_mac(n.mac) < 0) {
		return cmd_fail("set", CMD_FAILED, "no random bytes for a MAC address");
	}
	if (vmconf_check_add_net(def, err, sizeof(err)) < 0)
		return cmd_fail("set", CMD_FAILED, "--device-add net: %s", err);
	snprintf(dev, sizeof(dev), "net%u", def->nnets);
	def->nets[def->nnets++] = n;
	said(res, "  added %s: %s", dev, vm_net_kind_name(n.kind));
	said(res, " %s, mac %s\n", n.backend, n.mac);
	return CMD_OK;
}

static int add_serial(const struct set_request *q, struct vm_def *def, struct set_result *res)
{
	struct vm_serial s = { .kind = q->socket ? VM_SERIAL_SOCKET : VM_SERIAL_OUTPUT };
	char err[512], dev[24];

	if (vmconf_check_add_serial(def, err, sizeof(err)) < 0)
		return cmd_fail("set", CMD_FAILED, "--device-add serial: %s", err);
	snprintf(dev, sizeof(dev), "serial%u", def->nserials);
	if (q->socket || q->output) {
		const char *given = q->socket ? q->socket : q->output;
		if (!given[0] || strchr(given, ','))
			return cmd_fail("set", CMD_USAGE, "--%s '%s': empty or with a comma",
					q->socket ? "socket" : "output", given);
		if (set_path(q->socket ? "--socket" : "--output", given, s.path, sizeof(s.path)))
			return CMD_USAGE;
	} else {
		snprintf(s.path, sizeof(s.path), "%s.txt", dev);
	}
	def->serials[def->nserials++] = s;
	said(res, "  added %s: %s", dev, s.kind == VM_SERIAL_OUTPUT ? "output" : "socket");
	said(res, " %s%s\n", s.path, "");
	return CMD_OK;
}

static int del_device(const char *name, struct vm_def *def, struct set_result *res)
{
	char dev[24];

	for (unsigned i = 0; i < def->ndisks; i++) {
		vmconf_disk_dev_name(def, i, dev, sizeof(dev));
		if (strcmp(dev, name))
			continue;
		if (def->disks[i].cdrom)
			said(res, "  removed %s%s\n", dev, "");
		else
			said(res, "  removed %s (its image %s is kept)\n", dev, def->disks[i].image);
		memmove(&def->disks[i], &def->disks[i + 1],
			(def->ndisks - i - 1) * sizeof(def->disks[0]));
		def->ndisks--;
		return CMD_OK;
	}
	for (unsigned i = 0; i < def->nnets; i++) {
		snprintf(dev, sizeof(dev), "net%u", i);
		if (strcmp(dev, name))
			continue;
		memmove(&def->nets[i], &def->nets[i + 1], (def->nnets - i - 1) * sizeof(def->nets[0]));
		def->nnets--;
		said(res, "  removed %s%s\n", dev, "");
		return CMD_OK;
	}
	for (unsigned i = 0; i < def->nserials; i++) {
		snprintf(dev, sizeof(dev), "serial%u", i);
		if (strcmp(dev, name))
			continue;
		memmove(&def->serials[i], &def->serials[i + 1],
			(def->nserials - i - 1) * sizeof(def->serials[0]));
		def->nserials--;
		said(res, "  removed %s%s\n", dev, "");
		return CMD_OK;
	}
	return cmd_fail("set", CMD_FAILED, "--device-del %s: no such device (cellvm info shows "
			"them)", name);
}

static int apply(const struct set_request *q, const struct vm_entry *e, struct vm_def *def,
		 struct set_result *res)
{
	int rc = apply_values(q, def, res);
	if (rc)
		return rc;
	if (q->del)
		return del_device(q->del, def, res);
	if (!q->add)
		return CMD_OK;
	if (!strcmp(q->add, "net"))
		return add_net(q, def, res);
	if (!strcmp(q->add, "serial"))
		return add_serial(q, def, res);
	return add_disk(q, e->dir, def, res);
}

int cmd_set(int argc, char **argv)
{
	struct set_request q = { 0 };
	struct set_result *res;
	char root[VMCONF_PATH_MAX], err[2048];
	struct vm_entry e;
	int rc, lock;

	rc = parse_args(argc, argv, &q);
	if (rc)
		return rc > 0 ? CMD_OK : -rc;
	rc = check_request(&q);
	if (rc)
		return rc;
	rc = cmd_find_vm("set", q.root, argv[optind], false, root, sizeof(root), &e);
	if (rc)
		return rc;
	lock = vmdir_lock(e.dir, err, sizeof(err));
	if (lock < 0) {
		rc = lock == -EBUSY ?
		     cmd_fail("set", CMD_FAILED, "VM '%s' is running (%s/%s is held): stop it "
			      "before changing it", e.def->name, e.dir, VMCONF_LOCK_FILE) :
		     cmd_fail("set", CMD_FAILED, "%s", err);
		vmdir_entry_free(&e);
		return rc;
	}
	res = calloc(1, sizeof(*res));
	if (!res) {
		rc = cmd_fail("set", CMD_FAILED, "out of memory");
		goto out;
	}
	rc = apply(&q, &e, e.def, res);
	if (rc == CMD_OK && vmconf_write(e.config, e.def, err, sizeof(err)) < 0)
		rc = cmd_fail("set", CMD_FAILED, "%s", err);
	if (rc != CMD_OK && res->created[0])
		unlink(res->created);
	if (rc == CMD_OK)
		printf("Changed VM '%s' (%s):\n%s", e.def->name, e.def->uuid, res->said);
	free(res);
out:
	close(lock);
	vmdir_entry_free(&e);
	return rc;
}
