/* cellvm delete: removes a VM's directory, unless it is running. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/cellvm/vm_commands.h"

static void delete_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm delete NAME|UUID [--root DIR]\n"
		"\n"
		"Removes the VM's directory ROOT/UUID and everything in it (its\n"
		"config.pvs, the images and serial output files in it).  Images kept\n"
		"elsewhere (absolute paths) are not touched.  Refused while the VM runs\n"
		"(its lock is held).  A VM whose config.pvs is broken is deleted by UUID.\n"
		"\n"
		"Options:\n"
		"  --root DIR   the VM root (cellvm create --help)\n"
		"\n"
		"Exit status: 0 deleted, 1 no such VM, running, or not removed, 2 bad\n"
		"options.\n"
		"\n"
		"Example:\n"
		"  cellvm delete web1\n");
}

int cmd_delete(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *opt_root = NULL;
	char root[VMCONF_PATH_MAX], err[2048];
	struct vm_entry e;
	int c, rc, lock;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': opt_root = optarg; break;
		case 'h':
			delete_usage(stdout);
			return CMD_OK;
		default:
			delete_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		delete_usage(stderr);
		return CMD_USAGE;
	}
	rc = cmd_find_vm("delete", opt_root, argv[optind], true, root, sizeof(root), &e);
	if (rc)
		return rc;
	const char *name = e.def ? e.def->name : "(broken config)";
	/* Held until the directory is gone, so a start cannot begin meanwhile. */
	lock = vmdir_lock(e.dir, err, sizeof(err));
	if (lock < 0) {
		rc = lock == -EBUSY ?
		     cmd_fail("delete", CMD_FAILED, "VM '%s' is running (%s/%s is held): stop it "
			      "first", name, e.dir, VMCONF_LOCK_FILE) :
		     cmd_fail("delete", CMD_FAILED, "%s", err);
	} else if (vmdir_remove(e.dir, err, sizeof(err)) < 0) {
		rc = cmd_fail("delete", CMD_FAILED, "%s", err);
	} else {
		printf("Deleted VM '%s': removed %s\n", name, e.dir);
		rc = CMD_OK;
	}
	if (lock >= 0)
		close(lock);
	vmdir_entry_free(&e);
	return rc;
}
