/* cellvm pause, resume and console: requests to a running VM through
 * libcellvm. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

static void usage(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "console"))
		fprintf(f,
			"usage: cellvm console NAME|UUID [--root DIR]\n"
			"\n"
			"Attaches this terminal to the running VM's serial console (COM1):\n"
			"the guest's output appears here and what you type goes to the\n"
			"guest.  Detach with Ctrl-] (the VM keeps running).  One client at a\n"
			"time; the output is also in the VM's serial output file.\n"
			"\n"
			"Exit status: 0 detached, 1 no such VM, not running, or the VM ended,\n"
			"2 bad options.\n"
			"\n"
			"Example:\n"
			"  cellvm console web1\n");
	else
		fprintf(f,
			"usage: cellvm %s NAME|UUID [--root DIR]\n"
			"\n"
			"%s"
			"\n"
			"Exit status: 0 done, 1 no such VM, not running, or refused, 2 bad\n"
			"options.\n"
			"\n"
			"Example:\n"
			"  cellvm %s web1\n",
			cmd,
			!strcmp(cmd, "pause")
				? "Holds every vCPU of the running VM (out of KVM_RUN) until `cellvm\n"
				  "resume`.  Devices get no new guest accesses; requests already in\n"
				  "flight (virtio queues) still complete.\n"
				: "Lets a paused VM's vCPUs run again.\n",
			cmd);
}

static int run(int argc, char **argv, const char *cmd)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *opt_root = NULL;
	char root[VMCONF_PATH_MAX], err[2048];
	struct vm_entry e;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': opt_root = optarg; break;
		case 'h':
			usage(stdout, cmd);
			return CMD_OK;
		default:
			usage(stderr, cmd);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr, cmd);
		return CMD_USAGE;
	}
	rc = cmd_find_vm(cmd, opt_root, argv[optind], false, root, sizeof(root), &e);
	if (rc)
		return rc;
	if (!strcmp(cmd, "console") && e.def->nserials && e.def->serials[0].kind == VM_SERIAL_SOCKET) {
		/* The UART process listens there itself; nothing to relay. */
		const char *p = e.def->serials[0].path;
		rc = cmd_fail(cmd, CMD_FAILED,
			      "COM1 of VM '%s' is the unix socket %s%s%s (its <socket>): connect to it "
			      "there, e.g. socat -,raw,echo=0 UNIX-CONNECT:PATH",
			      e.def->name, p[0] == '/' ? "" : e.dir, p[0] == '/' ? "" : "/", p);
	} else if (!strcmp(cmd, "console")) {
		fprintf(stderr, "cellvm console: attached to VM '%s' (detach: Ctrl-])\r\n",
			e.def->name);
		rc = cellvm_console(e.dir, 0, 1, err, sizeof(err));
		if (rc < 0)
			rc = cmd_fail(cmd, CMD_FAILED, "VM '%s': %s", e.def->name, err);
		else if (rc == 1)
			fprintf(stderr, "\r\ncellvm console: VM '%s' ended\r\n", e.def->name);
		else
			fprintf(stderr, "\r\ncellvm console: detached\r\n");
	} else {
		bool pause = !strcmp(cmd, "pause");
		rc = pause ? cellvm_pause(e.dir, err, sizeof(err))
			   : cellvm_resume(e.dir, err, sizeof(err));
		if (rc < 0)
			rc = cmd_fail(cmd, CMD_FAILED, "VM '%s': %s", e.def->name, err);
		else
			printf("VM '%s' %s\n", e.def->name, pause ? "paused" : "resumed");
	}
	vmdir_entry_free(&e);
	return rc < 0 ? CMD_FAILED : rc;
}

int cmd_pause(int argc, char **argv)
{
	return run(argc, argv, "pause");
}

int cmd_resume(int argc, char **argv)
{
	return run(argc, argv, "resume");
}

int cmd_console(int argc, char **argv)
{
	return run(argc, argv, "console");
}
