/* cellvm: the management command.  `cellvm run` supervises one VM in the
 * foreground. */
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/supervisor.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm COMMAND [OPTIONS]\n"
		"\n"
		"cellvm runs KVM virtual machines built like a microkernel: a vCPU core\n"
		"process and one sandboxed process per device, started and watched by a\n"
		"supervisor per VM.\n"
		"\n"
		"Commands:\n"
		"  run      run one VM in the foreground (cellvm run --help)\n"
		"  help     this text\n"
		"\n"
		"Example:\n"
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
	fprintf(stderr, "cellvm: unknown command '%s' (try cellvm --help)\n", argv[1]);
	return 2;
}
