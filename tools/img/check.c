/* cellvm-img check: qcow2 metadata consistency, with qemu-img check's
 * report and exit status (0 clean, 1 check not completed, 2 corruptions,
 * 3 leaked clusters only, 63 the format cannot be checked). */
#include <getopt.h>
#include <string.h>

#include "tools/img/img.h"

enum { CHECK_CLEAN = 0, CHECK_INCOMPLETE = 1, CHECK_CORRUPT = 2, CHECK_LEAKS = 3,
       CHECK_UNSUPPORTED = 63 };

void img_check_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img check [-q] [-p] [-r leaks|all] [--output=human|json] [-f raw|qcow2] FILE\n"
		"\n"
		"Recomputes every cluster's reference count from the image's tables and\n"
		"compares it with the stored refcounts.  -r leaks frees clusters nothing\n"
		"refers to; -r all also repairs refcounts that are too low.  -p shows a\n"
		"progress bar when stderr is a terminal.\n"
		"\n"
		"Exit status: 0 no problems, 1 the check could not complete, 2 corruptions\n"
		"found, 3 only leaked clusters found, 63 the format has no metadata to\n"
		"check (raw).\n"
		"\n"
		"Examples:\n"
		"  cellvm-img check disk.qcow2\n"
		"  cellvm-img check -r leaks --output=json disk.qcow2\n");
}

static void report_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static void show_progress(void *ctx, uint64_t done, uint64_t total)
{
	img_progress_update(ctx, done, total);
}

/* Fields in the order qemu-img prints them (its dictionary's order), the
 * optional ones only when non-zero, as qemu does. */
static void print_json(const char *path, const struct image_check_result *r)
{
	printf("{\n");
	printf("    \"image-end-offset\": %llu,\n", (unsigned long long)r->image_end_offset);
	if (r->compressed_clusters)
		printf("    \"compressed-clusters\": %llu,\n", (unsigned long long)r->compressed_clusters);
	/* qemu leaves the cluster counts out for an empty image */
	if (r->total_clusters)
		printf("    \"total-clusters\": %llu,\n", (unsigned long long)r->total_clusters);
	if (r->corruptions)
		printf("    \"corruptions\": %llu,\n", (unsigned long long)r->corruptions);
	printf("    \"check-errors\": %llu,\n", (unsigned long long)r->check_errors);
	if (r->leaks)
		printf("    \"leaks\": %llu,\n", (unsigned long long)r->leaks);
	if (r->leaks_fixed)
		printf("    \"leaks-fixed\": %llu,\n", (unsigned long long)r->leaks_fixed);
	if (r->corruptions_fixed)
		printf("    \"corruptions-fixed\": %llu,\n", (unsigned long long)r->corruptions_fixed);
	if (r->total_clusters)
		printf("    \"allocated-clusters\": %llu,\n", (unsigned long long)r->allocated_clusters);
	printf("    \"filename\": ");
	img_json_string(stdout, path);
	printf(",\n    \"format\": \"qcow2\"");
	if (r->fragmented_clusters)
		printf(",\n    \"fragmented-clusters\": %llu", (unsigned long long)r->fragmented_clusters);
	printf("\n}\n");
}

static void print_human(const struct image_check_result *r)
{
	double total = r->total_clusters ? (double)r->total_clusters : 1.0;
	double alloc = r->allocated_clusters ? (double)r->allocated_clusters : 1.0;

	if (r->corruptions_fixed || r->leaks_fixed)
		printf("The following inconsistencies were found and repaired:\n\n"
		       "    %llu leaked clusters\n    %llu corruptions\n\n"
		       "Double checking the fixed image now...\n",
		       (unsigned long long)r->leaks_fixed,
		       (unsigned long long)r->corruptions_fixed);
	if (!r->corruptions && !r->leaks && !r->check_errors)
		printf("No errors were found on the image.\n");
	else {
		if (r->corruptions)
			printf("\n%llu errors were found on the image.\n"
			       "Data may be corrupted, or further writes to the image may corrupt it.\n",
			       (unsigned long long)r->corruptions);
		if (r->leaks)
			printf("\n%llu leaked clusters were found on the image.\n"
			       "This means waste of disk space, but no harm to data.\n",
			       (unsigned long long)r->leaks);
		if (r->check_errors)
			printf("\n%llu internal errors have occurred during the check.\n",
			       (unsigned long long)r->check_errors);
	}
	if (r->total_clusters)
		printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% compressed clusters\n",
		       (unsigned long long)r->allocated_clusters,
		       (unsigned long long)r->total_clusters,
		       r->allocated_clusters * 100.0 / total,
		       r->fragmented_clusters * 100.0 / alloc,
		       r->compressed_clusters * 100.0 / alloc);
	if (r->image_end_offset)
		printf("Image end offset: %llu\n", (unsigned long long)r->image_end_offset);
}

int img_check_main(int argc, char **argv)
{
	enum { OPT_OUTPUT = 256 };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "repair", required_argument, NULL, 'r' },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	struct image_check_result res;
	struct image *img;
	unsigned fix = 0;
	bool json = false, quiet = false, progress = false;
	struct img_progress prog;
	const char *path;
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:r:qpU", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("check", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'r':
			if (!strcmp(optarg, "leaks"))
				fix = IMAGE_FIX_LEAKS;
			else if (!strcmp(optarg, "all"))
				fix = IMAGE_FIX_LEAKS | IMAGE_FIX_ERRORS;
			else
				return img_usage_fail("check", "-r must be leaks or all, not '%s'", optarg);
			break;
		case 'q': quiet = true; break;
		case 'p': progress = true; break;
		case 'U': break;
		case OPT_OUTPUT:
			if (img_parse_output(optarg, &json) < 0)
				return img_usage_fail("check", "--output must be human or json, not '%s'", optarg);
			break;
		default:
			return img_usage_fail("check", "bad option");
		}
	}
	if (optind + 1 != argc)
		return img_usage_fail("check", optind >= argc ? "no FILE given" : "more than one FILE given");
	path = argv[optind];

	if (img_open(path, fmt, fix == 0, true, &img) < 0)
		return CHECK_INCOMPLETE;
	if (image_format_of(img) != IMAGE_FORMAT_QCOW2) {
		image_close(img);
		img_fail("%s: raw images have no metadata to check", path);
		return CHECK_UNSUPPORTED;
	}
	memset(&res, 0, sizeof(res));
	img_progress_start(&prog, progress && !quiet);
	if (prog.on)
		image_set_progress(img, show_progress, &prog);
	r = image_check(img, fix, &res, quiet ? NULL : report_line, NULL);
	img_progress_end(&prog);
	if (r < 0) {
		img_fail("%s: check failed: %s", path, image_error(img));
		image_close(img);
		return CHECK_INCOMPLETE;
	}
	if (image_close(img) < 0 && fix) {
		img_fail("%s: writing the repairs failed", path);
		return CHECK_INCOMPLETE;
	}
	if (json)
		print_json(path, &res);
	else if (!quiet)
		print_human(&res);
	if (res.check_errors)
		return CHECK_INCOMPLETE;
	if (res.corruptions)
		return CHECK_CORRUPT;
	if (res.leaks)
		return CHECK_LEAKS;
	return CHECK_CLEAN;
}
