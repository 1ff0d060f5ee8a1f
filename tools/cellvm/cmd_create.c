/* cellvm create: a new VM directory with the seed's default hardware. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cellvm/vm_commands.h"

#define HDD_NAME "harddisk.hdd"

static void create_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm create NAME [--distribution linux|debian|windows|other]\n"
		"                     [--cpus N] [--memsize SIZE] [--disk-size SIZE] [--root DIR]\n"
		"\n"
		"Makes a VM directory ROOT/UUID with its config.pvs and the seed's default\n"
		"hardware: one VirtIO SCSI hard disk (" HDD_NAME ", an expanding qcow2\n"
		"image), one empty CD/DVD drive (IDE for windows and debian, VirtIO SCSI\n"
		"otherwise), one VirtIO network adapter bridged to " VMCONF_DEFAULT_BRIDGE
		" (a new MAC), a\n"
		"32 MB video card.  NAME is unique within the root.\n"
		"\n"
		"Options:\n"
		"  --distribution D   linux (default), debian, windows or other\n"
		"  --cpus N           1 to 64 (default: 1 for other, else 2)\n"
		"  --memsize SIZE     16M to 1T and no more than the host has (default:\n"
		"                     4G windows, 2G linux and debian, 1G other)\n"
		"  --disk-size SIZE   the hard disk, 100M to 16T (default: 128G windows,\n"
		"                     64G linux and debian, 32G other)\n"
		"  --root DIR         the VM root (default $CELLVM_ROOT, else /vz/vmprivate\n"
		"                     for root, else ~/.local/share/cellvm/vmprivate)\n"
		"SIZE: bytes, or with K, M, G, T (powers of 1024).\n"
		"\n"
		"Exit status: 0 created, 1 it could not be made (nothing is left behind),\n"
		"2 bad options.\n"
		"\n"
		"Examples:\n"
		"  cellvm create web1\n"
		"  cellvm create win --distribution windows --memsize 8G --disk-size 200G\n");
}

/* Makes the directory, the disk and the config; on failure removes them. */
static int make_vm(const char *root, struct vm_def *def, char *dir, size_t dirlen)
{
	char err[2048], path[VMCONF_PATH_MAX + 64];

	snprintf(dir, dirlen, "%s/%s", root, def->uuid);
	if (mkdir(dir, 0755) < 0)
		return cmd_fail("create", CMD_FAILED, "%s: %s", dir, strerror(errno));
	vmdir_resolve(dir, def->disks[0].image, path, sizeof(path));
	if (vmconf_create_hdd(path, def->disks[0].size, err, sizeof(err)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", dir, VMCONF_FILE);
	if (vmconf_write(path, def, err, sizeof(err)) < 0)
		goto fail;
	return CMD_OK;
fail:
	{
		char rmerr[1024];
		if (vmdir_remove(dir, rmerr, sizeof(rmerr)) < 0)
			fprintf(stderr, "cellvm create: %s\n", rmerr);
	}
	return cmd_fail("create", CMD_FAILED, "%s", err);
}

int cmd_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "distribution", required_argument, NULL, 'd' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "memsize", required_argument, NULL, 'm' },
		{ "disk-size", required_argument, NULL, 's' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum vm_distribution dist = VM_DIST_LINUX;
	const char *opt_root = NULL;
	unsigned cpus = 0;
	uint64_t memory = 0, disk = 0;
	char root[VMCONF_PATH_MAX], dir[VMCONF_PATH_MAX + 40], err[1024];
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (vm_distribution_parse(optarg, &dist) < 0)
				return cmd_fail("create", CMD_USAGE, "--distribution %s: expected "
						"linux, debian, windows or other", optarg);
			break;
		case 'c':
			if (cmd_parse_uint(optarg, &cpus) < 0)
				return cmd_fail("create", CMD_USAGE, "--cpus %s: not a number", optarg);
			if (vmconf_check_cpus(cpus, err, sizeof(err)) < 0)
				return cmd_fail("create", CMD_USAGE, "--cpus: %s", err);
			break;
		case 'm':
			if (vmconf_parse_size(optarg, &memory) < 0)
				return cmd_fail("create", CMD_USAGE, "--memsize %s: not a size "
						"(e.g. 512M, 2G)", optarg);
			if (vmconf_check_memory(memory, vmconf_host_memory(), err, sizeof(err)) < 0)
				return cmd_fail("create", CMD_USAGE, "--memsize: %s", err);
			break;
		case 's':
			if (vmconf_parse_size(optarg, &disk) < 0)
				return cmd_fail("create", CMD_USAGE, "--disk-size %s: not a size "
						"(e.g. 100M, 64G)", optarg);
			if (vmconf_check_disk_size(disk, err, sizeof(err)) < 0)
				return cmd_fail("create", CMD_USAGE, "--disk-size: %s", err);
			break;
		case 'r':
			opt_root = optarg;
			break;
		case 'h':
			create_usage(stdout);
			return CMD_OK;
		default:
			create_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		create_usage(stderr);
		return CMD_USAGE;
	}
	const char *name = argv[optind];
	if (vmconf_check_name(name, err, sizeof(err)) < 0)
		return cmd_fail("create", CMD_USAGE, "%s", err);
	rc = cmd_root("create", opt_root, root, sizeof(root));
	if (rc)
		return rc;

	struct vm_def *def = calloc(1, sizeof(*def));
	if (!def)
		return cmd_fail("create", CMD_FAILED, "out of memory");
	if (vm_def_init_default(def, name, dist, cpus, memory, HDD_NAME, disk, err,
				sizeof(err)) < 0) {
		free(def);
		return cmd_fail("create", CMD_FAILED, "%s", err);
	}
	/* The default memory may be more than a small host has. */
	if (!memory && vmconf_check_memory(def->memory, vmconf_host_memory(), err,
					   sizeof(err)) < 0) {
		free(def);
		return cmd_fail("create", CMD_USAGE, "default memory: %s: give --memsize", err);
	}
	if (vmdir_make_root(root, err, sizeof(err)) < 0) {
		free(def);
		return cmd_fail("create", CMD_FAILED, "%s", err);
	}
	/* Held while the name is checked and the directory made. */
	int root_lock = vmdir_lock_root(root, err, sizeof(err));
	if (root_lock < 0) {
		free(def);
		return cmd_fail("create", CMD_FAILED, "%s", err);
	}
	struct vm_entry e;
	if (!vmdir_find(root, name, false, &e, err, sizeof(err))) {
		rc = cmd_fail("create", CMD_FAILED, "a VM named '%s' exists in %s (%s)", name,
			      root, e.def->uuid);
		vmdir_entry_free(&e);
	} else if (strstr(err, "VMs are named")) {
		rc = cmd_fail("create", CMD_FAILED, "%s", err);
	} else {
		rc = make_vm(root, def, dir, sizeof(dir));
	}
	close(root_lock);
	if (rc == CMD_OK)
		printf("Created VM '%s' (%s) in %s\n", def->name, def->uuid, dir);
	free(def);
	return rc;
}
