/* cellvm-img snapshot -l: a qcow2 image's internal snapshots, in
 * qemu-img's table layout.  Creating, applying and deleting snapshots is
 * not supported by the library. */
#include <getopt.h>
#include <string.h>
#include <time.h>

#include "tools/img/img.h"

void img_snapshot_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img snapshot -l [-f raw|qcow2] FILE\n"
		"\n"
		"Lists FILE's internal snapshots: id, name, saved VM state size, date,\n"
		"VM clock and instruction count.  (Creating, applying and deleting\n"
		"snapshots is not supported; use qemu-img snapshot -c/-a/-d.)\n"
		"\n"
		"Example:\n"
		"  cellvm-img snapshot -l disk.qcow2\n");
}

void img_snapshot_table(FILE *f, const struct image_info *info)
{
	fprintf(f, "Snapshot list:\n");
	fprintf(f, "%-9s %-16s %8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE",
		"VM CLOCK", "ICOUNT");
	for (unsigned i = 0; i < info->nb_snapshots; i++) {
		const struct image_snapshot_info *s = &info->snapshots[i];
		char vmsize[32], date[32], clock[48], icount[24] = "";
		time_t t = (time_t)s->date_sec;
		struct tm tm;
		uint64_t ms = s->vm_clock_nsec / 1000000ull;

		img_format_size(s->vm_state_size, vmsize, sizeof(vmsize));
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(clock, sizeof(clock), "%02llu:%02llu:%02llu.%03llu",
			 (unsigned long long)(ms / 3600000), (unsigned long long)(ms / 60000 % 60),
			 (unsigned long long)(ms / 1000 % 60), (unsigned long long)(ms % 1000));
		if (s->icount != UINT64_MAX)
			snprintf(icount, sizeof(icount), "%llu", (unsigned long long)s->icount);
		fprintf(f, "%-9s %-16s %8s%20s%13s%11s\n", s->id ? s->id : "",
			s->name ? s->name : "", vmsize, date, clock, icount);
	}
}

int img_snapshot_main(int argc, char **argv)
{
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	struct image *img;
	struct image_info info;
	bool list = false;
	int c;

	while ((c = getopt(argc, argv, "+lf:Uqc:a:d:")) != -1) {
		switch (c) {
		case 'l': list = true; break;
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("snapshot", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'U': case 'q': break;
		case 'c': case 'a': case 'd':
			return img_fail("snapshot -%c: not supported (only -l, listing)", c);
		default:
			return img_usage_fail("snapshot", "bad option");
		}
	}
	if (!list)
		return img_usage_fail("snapshot", "-l is the only action");
	if (optind + 1 != argc)
		return img_usage_fail("snapshot", optind >= argc ? "no FILE given" : "more than one FILE given");
	if (img_open(argv[optind], fmt, true, true, &img) < 0)
		return IMG_EXIT_FAIL;
	if (image_get_info(img, &info) < 0) {
		img_fail("%s: %s", argv[optind], image_error(img));
		image_close(img);
		return IMG_EXIT_FAIL;
	}
	if (info.nb_snapshots)
		img_snapshot_table(stdout, &info);
	image_info_free(&info);
	image_close(img);
	return 0;
}
