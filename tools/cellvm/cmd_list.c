/* cellvm list: the VMs of a root, as a table or JSON. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/vm_commands.h"

static void list_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm list [--all] [--json] [--root DIR]\n"
		"\n"
		"Lists the running VMs of the root (a VM runs while its lock is held), or\n"
		"with --all every VM: UUID, name, state (running, paused, stopped, or broken when\n"
		"its config.pvs cannot be read: the reason goes to stderr), CPUs, memory.\n"
		"\n"
		"Options:\n"
		"  --all        stopped and broken VMs too\n"
		"  --json       a JSON array of {uuid, name, state, cpus, memory (bytes)};\n"
		"               a broken VM has {uuid, state, error}\n"
		"  --root DIR   the VM root (cellvm create --help)\n"
		"\n"
		"Exit status: 0 listed (also with broken VMs), 1 the root cannot be read,\n"
		"2 bad options.\n"
		"\n"
		"Examples:\n"
		"  cellvm list --all\n"
		"  cellvm list --all --json --root /srv/vms\n");
}

static const char *uuid_of(const struct vm_entry *e)
{
	const char *slash = strrchr(e->dir, '/');
	return slash ? slash + 1 : e->dir;
}

static void print_json(const struct vm_entry *list, unsigned n, bool all)
{
	bool first = true;
	printf("[");
	for (unsigned i = 0; i < n; i++) {
		const struct vm_entry *e = &list[i];
		const char *state = e->def ? cmd_vm_state(e->dir) : "broken";
		if (!all && (!strcmp(state, "stopped") || !strcmp(state, "broken")))
			continue;
		printf("%s\n  {\"uuid\": ", first ? "" : ",");
		first = false;
		cmd_json_string(stdout, uuid_of(e));
		if (e->def) {
			printf(", \"name\": ");
			cmd_json_string(stdout, e->def->name);
			printf(", \"state\": \"%s\", \"cpus\": %u, \"memory\": %llu}", state,
			       e->def->cpus, (unsigned long long)e->def->memory);
		} else {
			printf(", \"state\": \"broken\", \"error\": ");
			cmd_json_string(stdout, e->error);
			printf("}");
		}
	}
	printf("%s]\n", first ? "" : "\n");
}

static void print_table(const struct vm_entry *list, unsigned n, bool all)
{
	char mem[32];
	printf("%-36s  %-20s  %-8s  %4s  %7s\n", "UUID", "NAME", "STATE", "CPUS", "MEMORY");
	for (unsigned i = 0; i < n; i++) {
		const struct vm_entry *e = &list[i];
		const char *state = e->def ? cmd_vm_state(e->dir) : "broken";
		if (!all && (!strcmp(state, "stopped") || !strcmp(state, "broken")))
			continue;
		if (!e->def) {
			printf("%-36s  %-20s  %-8s  %4s  %7s\n", uuid_of(e), "-", state, "-", "-");
			continue;
		}
		vmconf_format_size(e->def->memory, mem, sizeof(mem));
		printf("%-36s  %-20s  %-8s  %4u  %7s\n", e->def->uuid, e->def->name, state,
		       e->def->cpus, mem);
	}
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool all = false, json = false;
	const char *opt_root = NULL;
	char root[VMCONF_PATH_MAX], err[1024];
	struct vm_entry *list;
	unsigned n;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': all = true; break;
		case 'j': json = true; break;
		case 'r': opt_root = optarg; break;
		case 'h':
			list_usage(stdout);
			return CMD_OK;
		default:
			list_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind != argc) {
		list_usage(stderr);
		return CMD_USAGE;
	}
	rc = cmd_root("list", opt_root, root, sizeof(root));
	if (rc)
		return rc;
	if (vmdir_list(root, &list, &n, err, sizeof(err)) < 0)
		return cmd_fail("list", CMD_FAILED, "%s", err);
	for (unsigned i = 0; i < n; i++)
		if (!list[i].def && all)
			fprintf(stderr, "cellvm list: %s\n", list[i].error);
	if (json)
		print_json(list, n, all);
	else
		print_table(list, n, all);
	vmdir_list_free(list, n);
	return CMD_OK;
}
