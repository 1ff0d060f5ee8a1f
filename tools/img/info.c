/* cellvm-img info: an image's format, sizes, qcow2 options and snapshots,
 * as text or JSON (qemu-img info's field names). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/img/img.h"

void img_info_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img info [--output=human|json] [-f raw|qcow2] [--backing-chain] FILE\n"
		"\n"
		"Shows FILE's format, virtual size, space taken on the host, and for\n"
		"qcow2 its cluster size, version, backing file, refcount width, flags and\n"
		"internal snapshots.  The format is detected unless -f is given.\n"
		"--backing-chain shows every image of the chain, the top one first.\n"
		"\n"
		"Examples:\n"
		"  cellvm-img info disk.qcow2\n"
		"  cellvm-img info --output=json --backing-chain overlay.qcow2\n");
}

void img_snapshot_table(FILE *f, const struct image_info *info);

static void json_snapshots(FILE *f, const struct image_info *info, const char *ind)
{
	fprintf(f, "%s\"snapshots\": [\n", ind);
	for (unsigned i = 0; i < info->nb_snapshots; i++) {
		const struct image_snapshot_info *s = &info->snapshots[i];

		fprintf(f, "%s    {\n", ind);
		if (s->icount != UINT64_MAX)
			fprintf(f, "%s        \"icount\": %llu,\n", ind, (unsigned long long)s->icount);
		fprintf(f, "%s        \"vm-clock-nsec\": %llu,\n", ind,
			(unsigned long long)(s->vm_clock_nsec % 1000000000ull));
		fprintf(f, "%s        \"name\": ", ind);
		img_json_string(f, s->name ? s->name : "");
		fprintf(f, ",\n%s        \"date-sec\": %u,\n", ind, s->date_sec);
		fprintf(f, "%s        \"date-nsec\": %u,\n", ind, s->date_nsec);
		fprintf(f, "%s        \"vm-clock-sec\": %llu,\n", ind,
			(unsigned long long)(s->vm_clock_nsec / 1000000000ull));
		fprintf(f, "%s        \"id\": ", ind);
		img_json_string(f, s->id ? s->id : "");
		fprintf(f, ",\n%s        \"vm-state-size\": %llu\n", ind,
			(unsigned long long)s->vm_state_size);
		fprintf(f, "%s    }%s\n", ind, i + 1 < info->nb_snapshots ? "," : "");
	}
	fprintf(f, "%s],\n", ind);
}

static void print_json(FILE *f, const char *path, const char *full_backing,
		       const struct image_info *info, const char *ind)
{
	char field_ind[16];

	snprintf(field_ind, sizeof(field_ind), "%s    ", ind);
	fprintf(f, "%s{\n", ind);
	if (info->nb_snapshots)
		json_snapshots(f, info, field_ind);
	if (info->backing_fmt) {
		fprintf(f, "%s    \"backing-filename-format\": ", ind);
		img_json_string(f, info->backing_fmt);
		fprintf(f, ",\n");
	}
	fprintf(f, "%s    \"virtual-size\": %llu,\n", ind, (unsigned long long)info->virtual_size);
	fprintf(f, "%s    \"filename\": ", ind);
	img_json_string(f, path);
	fprintf(f, ",\n");
	if (info->format == IMAGE_FORMAT_QCOW2)
		fprintf(f, "%s    \"cluster-size\": %u,\n", ind, info->cluster_size);
	fprintf(f, "%s    \"format\": \"%s\",\n", ind, img_format_name(info->format));
	fprintf(f, "%s    \"actual-size\": %llu,\n", ind, (unsigned long long)info->disk_size);
	if (info->format == IMAGE_FORMAT_QCOW2) {
		fprintf(f, "%s    \"format-specific\": {\n", ind);
		fprintf(f, "%s        \"type\": \"qcow2\",\n", ind);
		fprintf(f, "%s        \"data\": {\n", ind);
		fprintf(f, "%s            \"compat\": \"%s\",\n", ind, info->version >= 3 ? "1.1" : "0.10");
		fprintf(f, "%s            \"compression-type\": \"%s\",\n", ind,
			info->compression_type ? info->compression_type : "zlib");
		if (info->version >= 3) {
			fprintf(f, "%s            \"lazy-refcounts\": %s,\n", ind,
				info->lazy_refcounts ? "true" : "false");
		}
		fprintf(f, "%s            \"refcount-bits\": %u%s\n", ind, info->refcount_bits,
			info->version >= 3 ? "," : "");
		if (info->version >= 3) {
			fprintf(f, "%s            \"corrupt\": %s,\n", ind, info->corrupt ? "true" : "false");
			fprintf(f, "%s            \"extended-l2\": %s\n", ind, info->extended_l2 ? "true" : "false");
		}
		fprintf(f, "%s        }\n", ind);
		fprintf(f, "%s    },\n", ind);
	}
	if (info->backing_file) {
		fprintf(f, "%s    \"full-backing-filename\": ", ind);
		img_json_string(f, full_backing);
		fprintf(f, ",\n%s    \"backing-filename\": ", ind);
		img_json_string(f, info->backing_file);
		fprintf(f, ",\n");
	}
	fprintf(f, "%s    \"dirty-flag\": %s\n", ind, info->dirty ? "true" : "false");
	fprintf(f, "%s}", ind);
}

static void print_human(FILE *f, const char *path, const char *full_backing,
			const struct image_info *info)
{
	char vs[32], ds[32];

	img_format_size(info->virtual_size, vs, sizeof(vs));
	img_format_size(info->disk_size, ds, sizeof(ds));
	fprintf(f, "image: %s\n", path);
	fprintf(f, "file format: %s\n", img_format_name(info->format));
	fprintf(f, "virtual size: %s (%llu bytes)\n", vs, (unsigned long long)info->virtual_size);
	fprintf(f, "disk size: %s\n", ds);
	if (info->format == IMAGE_FORMAT_QCOW2)
		fprintf(f, "cluster_size: %u\n", info->cluster_size);
	if (info->backing_file) {
		fprintf(f, "backing file: %s", info->backing_file);
		if (full_backing && strcmp(full_backing, info->backing_file))
			fprintf(f, " (actual path: %s)", full_backing);
		fprintf(f, "\n");
	}
	if (info->backing_fmt)
		fprintf(f, "backing file format: %s\n", info->backing_fmt);
	if (info->nb_snapshots)
		img_snapshot_table(f, info);
	if (info->format == IMAGE_FORMAT_QCOW2) {
		fprintf(f, "Format specific information:\n");
		fprintf(f, "    compat: %s\n", info->version >= 3 ? "1.1" : "0.10");
		fprintf(f, "    compression type: %s\n",
			info->compression_type ? info->compression_type : "zlib");
		if (info->version >= 3) {
			fprintf(f, "    lazy refcounts: %s\n", info->lazy_refcounts ? "true" : "false");
		}
		fprintf(f, "    refcount bits: %u\n", info->refcount_bits);
		if (info->version >= 3) {
			fprintf(f, "    corrupt: %s\n", info->corrupt ? "true" : "false");
			fprintf(f, "    extended l2: %s\n", info->extended_l2 ? "true" : "false");
		}
	}
	if (info->dirty)
		fprintf(f, "dirty flag: true\n");
}

int img_info_main(int argc, char **argv)
{
	enum { OPT_OUTPUT = 256, OPT_CHAIN };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "backing-chain", no_argument, NULL, OPT_CHAIN },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	bool json = false, chain = false;
	char *path;
	int c, depth = 0, status = 0;

	while ((c = getopt_long(argc, argv, "+f:U", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("info", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'U': break;
		case OPT_OUTPUT:
			if (img_parse_output(optarg, &json) < 0)
				return img_usage_fail("info", "--output must be human or json, not '%s'", optarg);
			break;
		case OPT_CHAIN: chain = true; break;
		default:
			return img_usage_fail("info", "bad option");
		}
	}
	if (optind + 1 != argc)
		return img_usage_fail("info", optind >= argc ? "no FILE given" : "more than one FILE given");

	path = strdup(argv[optind]);
	if (json && chain)
		printf("[\n");
	while (path) {
		struct image *img;
		struct image_info info;
		char *next = NULL;
		int r;

		if (img_open(path, fmt, true, true, &img) < 0) {
			status = IMG_EXIT_FAIL;
			break;
		}
		r = image_get_info(img, &info);
		if (r < 0) {
			status = img_fail("%s: %s", path, image_error(img));
			image_close(img);
			break;
		}
		if (info.backing_file)
			next = img_backing_path(path, info.backing_file);
		if (json) {
			print_json(stdout, path, next, &info, chain ? "    " : "");
			printf(chain && next ? ",\n" : "\n");
		} else {
			if (depth)
				printf("\n");
			print_human(stdout, path, next, &info);
		}
		fmt = IMAGE_FORMAT_DETECT;
		if (info.backing_fmt)
			img_parse_format(info.backing_fmt, &fmt);
		image_info_free(&info);
		image_close(img);
		free(path);
		path = chain ? next : NULL;
		if (!chain)
			free(next);
		if (++depth > 64) {
			status = img_fail("%s: backing chain longer than 64 images (a loop?)", argv[optind]);
			break;
		}
	}
	free(path);
	if (json && chain)
		printf("]\n");
	return status;
}
