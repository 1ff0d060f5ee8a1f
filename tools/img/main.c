/* cellvm-img: creates, inspects, checks, converts and benchmarks disk
 * images (raw and qcow2) through the disk image library that the disk
 * device uses.  The command line follows qemu-img's where they overlap. */
#include <stdio.h>
#include <string.h>

#include "tools/img/img.h"

static const struct img_command commands[] = {
	{ "create",   img_create_main,   img_create_help,   "create a new raw or qcow2 image" },
	{ "info",     img_info_main,     img_info_help,     "show an image's format, sizes and options" },
	{ "check",    img_check_main,    img_check_help,    "check (and repair) a qcow2 image's metadata" },
	{ "convert",  img_convert_main,  img_convert_help,  "copy an image's contents into a new image" },
	{ "resize",   img_resize_main,   img_resize_help,   "change an image's virtual size" },
	{ "map",      img_map_main,      img_map_help,      "show where each guest range is stored" },
	{ "snapshot", img_snapshot_main, img_snapshot_help, "list a qcow2 image's internal snapshots" },
	{ "compare",  img_compare_main,  img_compare_help,  "compare the contents of two images" },
	{ "bench",    img_bench_main,    img_bench_help,    "time a run of reads or writes" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: cellvm-img COMMAND [OPTIONS] ...\n"
		"\n"
		"Works on raw and qcow2 (v2 and v3) disk images with cellvm's image\n"
		"library (devices/disk/image.h).  Sizes take a suffix: b (bytes), K, M,\n"
		"G, T, P, E (powers of 1024; lower case too), e.g. 512, 4K, 1.5G.\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"'cellvm-img COMMAND --help' shows a command's options and examples.\n"
		"\n"
		"Examples:\n"
		"  cellvm-img create -f qcow2 disk.qcow2 20G\n"
		"  cellvm-img info --output=json disk.qcow2\n"
		"  cellvm-img convert -O raw disk.qcow2 disk.raw\n"
		"  cellvm-img check -r leaks disk.qcow2\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return IMG_EXIT_FAIL;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		for (int a = 2; a < argc; a++) {
			if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
				commands[i].help(stdout);
				return 0;
			}
			if (!strcmp(argv[a], "--"))
				break;
		}
		return commands[i].run(argc - 1, argv + 1);
	}
	return img_fail("unknown command '%s' (see 'cellvm-img --help')", argv[1]);
}
