/* cellvm stop and restart: the ACPI power button, a deadline, then a kill. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

#define DEFAULT_TIMEOUT_S 60
#define KILL_WAIT_MS 15000

static void stop_usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"usage: cellvm %s NAME|UUID [--root DIR] [--kill] [--timeout SECONDS]\n"
		"\n"
		"%s"
		"Presses the VM's ACPI power button and waits up to SECONDS (default %d)\n"
		"for the guest to power off; a guest that does not is killed.  The guest\n"
		"needs an ACPI button driver and something that acts on it (systemd-logind,\n"
		"acpid).\n"
		"\n"
		"Options:\n"
		"  --root DIR         the VM root (cellvm create --help)\n"
		"  --kill             kill the VM at once (no power button)\n"
		"  --timeout SECONDS  how long the guest has to power off\n"
		"\n"
		"Exit status: 0 stopped (by the guest, or killed after the timeout), 1 no\n"
		"such VM, not running, or it could not be stopped, 2 bad options.\n"
		"\n"
		"Example:\n"
		"  cellvm %s web1 --timeout 120\n",
		cmd,
		strcmp(cmd, "restart") ? "" : "Stops the VM as `cellvm stop` does, then starts it again.\n",
		DEFAULT_TIMEOUT_S, cmd);
}

static int stop_vm(const char *cmd, const char *name, const char *dir, bool kill, unsigned timeout)
{
	char err[1024];
	if (!cellvm_is_running(dir))
		return cmd_fail(cmd, CMD_FAILED, "VM '%s' is not running", name);
	if (!kill) {
		if (cellvm_stop(dir, err, sizeof(err)) < 0)
			return cmd_fail(cmd, CMD_FAILED, "VM '%s': %s", name, err);
		if (cellvm_wait_stopped(dir, timeout * 1000) == 0) {
			printf("VM '%s' powered off (the guest shut down)\n", name);
			return CMD_OK;
		}
		fprintf(stderr, "cellvm %s: VM '%s' did not power off within %u s: killing it\n",
			cmd, name, timeout);
	}
	if (cellvm_kill(dir, err, sizeof(err)) < 0 && cellvm_is_running(dir))
		return cmd_fail(cmd, CMD_FAILED, "VM '%s': %s", name, err);
	if (cellvm_wait_stopped(dir, KILL_WAIT_MS) < 0)
		return cmd_fail(cmd, CMD_FAILED, "VM '%s' still runs %d s after the kill", name,
				KILL_WAIT_MS / 1000);
	printf("VM '%s' killed\n", name);
	return CMD_OK;
}

static int stop_or_restart(int argc, char **argv, bool restart)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "kill", no_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = restart ? "restart" : "stop", *opt_root = NULL;
	bool kill = false;
	unsigned timeout = DEFAULT_TIMEOUT_S;
	char root[VMCONF_PATH_MAX];
	struct vm_entry e;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': opt_root = optarg; break;
		case 'k': kill = true; break;
		case 't':
			if (cmd_parse_uint(optarg, &timeout) < 0)
				return cmd_fail(cmd, CMD_USAGE, "--timeout %s: not a number of seconds",
						optarg);
			break;
		case 'h':
			stop_usage(stdout, cmd);
			return CMD_OK;
		default:
			stop_usage(stderr, cmd);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		stop_usage(stderr, cmd);
		return CMD_USAGE;
	}
	rc = cmd_find_vm(cmd, opt_root, argv[optind], false, root, sizeof(root), &e);
	if (rc)
		return rc;
	rc = stop_vm(cmd, e.def->name, e.dir, kill, timeout);
	if (rc == CMD_OK && restart) {
		char *start[] = {"start", "--root", root, e.def->uuid, NULL};
		rc = cmd_start(4, start);
	}
	vmdir_entry_free(&e);
	return rc;
}

int cmd_stop(int argc, char **argv)
{
	return stop_or_restart(argc, argv, false);
}

int cmd_restart(int argc, char **argv)
{
	return stop_or_restart(argc, argv, true);
}
