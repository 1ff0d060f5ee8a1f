/* cellvm: the management command.  `cellvm run` supervises one VM in the
 * foreground; create, list, info, set and delete manage VM directories,
 * start/stop/restart/pause/resume/console run them (tools/cellvm/cmd_*.c). */
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/supervisor.h"
#include "tools/cellvm/vm_commands.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm COMMAND [OPTIONS]\n"
		"\n"
		"cellvm runs KVM virtual machines built like a microkernel: a vCPU core\n"
		"process and one sandboxed process per device, started and watched by a\n"
		"supervisor per VM.\n"
		"\n"
		"Commands (each with --help):\n"
		"  run      run one VM in the foreground\n"
		"  create   make a VM directory with the default hardware\n"
		"  list     the VMs of the root (--all: stopped ones too)\n"
		"  info     one VM's configuration and state\n"
		"  set      change a stopped VM (CPUs, memory, devices, boot)\n"
		"  delete   remove a stopped VM's directory\n"
		"  start    start a VM under a detached supervisor\n"
		"  stop     power a VM off (ACPI power button, then a kill)\n"
		"  restart  stop, then start\n"
		"  pause    hold a running VM's vCPUs\n"
		"  resume   let them run again\n"
		"  console  attach to a running VM's serial console (detach: Ctrl-])\n"
		"  help     this text\n"
		"\n"
		"VMs live in ROOT/UUID (config.pvs, *.hdd): ROOT is --root DIR, else\n"
		"$CELLVM_ROOT, else /vz/vmprivate (root) or ~/.local/share/cellvm/vmprivate.\n"
		"Exit status: 0 done, 1 the operation failed, 2 bad options.\n"
		"\n"
		"Examples:\n"
		"  cellvm create web1 --distribution debian --memsize 4G\n"
		"  cellvm set web1 --kernel /boot/vmlinuz --device-add serial\n"
		"  cellvm list --all\n"
		"  cellvm run --kernel vmlinuz --initrd initrd.img --cmdline 'console=ttyS0' \\\n"
		"             --cpus 2 --memory 512M\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run")) {
		struct vm_config cfg;
		char err[512];
		int rc = run_options_parse(argc - 1, argv + 1, &cfg, err, sizeof(err));
		if (rc == 1)
			return 0;
		if (rc < 0 || run_options_check(&cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "cellvm: %s\n", err);
			return 2;
		}
		return supervise(&cfg);
	}
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "create", cmd_create }, { "list", cmd_list }, { "info", cmd_info },
		{ "set", cmd_set },       { "delete", cmd_delete },
		{ "start", cmd_start },   { "stop", cmd_stop },     { "restart", cmd_restart },
		{ "pause", cmd_pause },   { "resume", cmd_resume }, { "console", cmd_console },
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cellvm: unknown command '%s' (try cellvm --help)\n", argv[1]);
	return 2;
}
