/* cellvm-img create: a new raw or qcow2 image. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img/img.h"

void img_create_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img create [-q] [-f raw|qcow2] [-o OPTION=VALUE,...]\n"
		"                         [-b BACKING [-F BACKING_FMT]] FILE [SIZE]\n"
		"\n"
		"Creates FILE (replacing what is there) with virtual size SIZE.  With a\n"
		"backing file SIZE may be left out: the backing file's size is used.\n"
		"The default format is raw.\n"
		"\n"
		"qcow2 options (-o, comma-separated; -o may be repeated):\n"
		"  size=SIZE                 the virtual size (instead of the SIZE argument)\n"
		"  cluster_size=SIZE         512 to 2M, a power of two (default 64K)\n"
		"  compat=0.10|1.1           qcow2 version 2 or 3 (default 1.1)\n"
		"  backing_file=NAME         as -b; NAME is stored as given, relative\n"
		"                            names are relative to FILE's directory\n"
		"  backing_fmt=raw|qcow2     as -F\n"
		"  lazy_refcounts=on|off     (compat=1.1 only)\n"
		"  refcount_bits=N           1, 2, 4, 8, 16, 32 or 64 (default 16)\n"
		"  compression_type=zlib|zstd\n"
		"  preallocation=off|metadata|full\n"
		"raw options: size=, preallocation=off|full\n"
		"\n"
		"Examples:\n"
		"  cellvm-img create -f qcow2 disk.qcow2 20G\n"
		"  cellvm-img create -f qcow2 -o cluster_size=4K,lazy_refcounts=on d.qcow2 1G\n"
		"  cellvm-img create -f qcow2 -b base.raw -F raw overlay.qcow2\n");
}

struct create_args {
	struct image_create_options o;
	bool have_size;
	char why[256];
};

static int create_opt(void *ctx, const char *key, const char *value)
{
	struct create_args *a = ctx;
	char err[200];
	uint64_t v;
	bool b;

	if (!value && strcmp(key, "lazy_refcounts")) {
		snprintf(a->why, sizeof(a->why), "option '%s' needs a value", key);
		return -1;
	}
	if (!strcmp(key, "size")) {
		if (img_parse_size(value, &a->o.size, err, sizeof(err)) < 0)
			goto bad_size;
		a->have_size = true;
	} else if (!strcmp(key, "cluster_size")) {
		if (img_parse_size(value, &v, err, sizeof(err)) < 0)
			goto bad_size;
		if (v > UINT32_MAX) {
			snprintf(a->why, sizeof(a->why), "cluster_size %s is too large", value);
			return -1;
		}
		a->o.cluster_size = (uint32_t)v;
	} else if (!strcmp(key, "compat")) {
		if (!strcmp(value, "0.10") || !strcmp(value, "v2"))
			a->o.compat = 2;
		else if (!strcmp(value, "1.1") || !strcmp(value, "v3"))
			a->o.compat = 3;
		else {
			snprintf(a->why, sizeof(a->why), "compat must be 0.10 or 1.1, not '%s'", value);
			return -1;
		}
	} else if (!strcmp(key, "backing_file")) {
		a->o.backing_file = value;
	} else if (!strcmp(key, "backing_fmt")) {
		a->o.backing_fmt = value;
	} else if (!strcmp(key, "lazy_refcounts")) {
		if (img_parse_bool(value, &b) < 0) {
			snprintf(a->why, sizeof(a->why), "lazy_refcounts must be on or off, not '%s'", value);
			return -1;
		}
		a->o.lazy_refcounts = b;
	} else if (!strcmp(key, "refcount_bits")) {
		char *end;
		unsigned long n = strtoul(value, &end, 10);
		if (*end || end == value || n == 0 || n > 64 || (n & (n - 1))) {
			snprintf(a->why, sizeof(a->why), "refcount_bits must be a power of two from 1 to 64, not '%s'", value);
			return -1;
		}
		a->o.refcount_bits = (unsigned)n;
	} else if (!strcmp(key, "compression_type")) {
		if (strcmp(value, "zlib") && strcmp(value, "zstd")) {
			snprintf(a->why, sizeof(a->why), "compression_type must be zlib or zstd, not '%s'", value);
			return -1;
		}
		a->o.compression_type = value;
	} else if (!strcmp(key, "preallocation")) {
		if (!strcmp(value, "off"))
			a->o.prealloc = IMAGE_PREALLOC_OFF;
		else if (!strcmp(value, "metadata"))
			a->o.prealloc = IMAGE_PREALLOC_METADATA;
		else if (!strcmp(value, "full"))
			a->o.prealloc = IMAGE_PREALLOC_FULL;
		else {
			snprintf(a->why, sizeof(a->why), "preallocation must be off, metadata or full, not '%s'", value);
			return -1;
		}
	} else {
		snprintf(a->why, sizeof(a->why), "unknown option '%s'", key);
		return -1;
	}
	return 0;
bad_size:
	snprintf(a->why, sizeof(a->why), "%s: %s", key, err);
	return -1;
}

int img_create_parse_opts(char *list, struct image_create_options *o,
			  bool *have_size, char *why, size_t whylen)
{
	struct create_args a = { .o = *o, .have_size = *have_size };
	int r = img_parse_opts(list, create_opt, &a);

	*o = a.o;
	*have_size = a.have_size;
	snprintf(why, whylen, "%s", a.why);
	return r;
}

/* Options raw images cannot have. */
const char *img_create_raw_refuses(const struct image_create_options *o)
{

	if (o->backing_file)
		return "a backing file";
	if (o->cluster_size)
		return "cluster_size";
	if (o->compat)
		return "compat";
	if (o->lazy_refcounts)
		return "lazy_refcounts";
	if (o->refcount_bits)
		return "refcount_bits";
	if (o->compression_type)
		return "compression_type";
	if (o->prealloc == IMAGE_PREALLOC_METADATA)
		return "preallocation=metadata";
	return NULL;
}

int img_create_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct create_args a = { .o = { .format = IMAGE_FORMAT_RAW } };
	const char *path;
	bool quiet = false;
	char err[512] = "";
	int c, r;

	while ((c = getopt_long(argc, argv, "+f:o:b:F:quh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (img_parse_format(optarg, &a.o.format) < 0)
				return img_usage_fail("create", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'o':
			if (!strcmp(optarg, "help") || !strcmp(optarg, "?")) {
				img_create_help(stdout);
				return 0;
			}
			if (img_parse_opts(optarg, create_opt, &a))
				return img_usage_fail("create", "-o: %s", a.why);
			break;
		case 'b': a.o.backing_file = optarg; break;
		case 'F': a.o.backing_fmt = optarg; break;
		case 'q': quiet = true; break;
		case 'u': break; /* qemu's "do not open the backing file": we never do */
		default:
			return img_usage_fail("create", "bad option");
		}
	}
	if (optind >= argc)
		return img_usage_fail("create", "no FILE given");
	path = argv[optind++];
	if (optind < argc) {
		if (img_parse_size(argv[optind], &a.o.size, err, sizeof(err)) < 0)
			return img_usage_fail("create", "%s", err);
		a.have_size = true;
		optind++;
	}
	if (optind < argc)
		return img_usage_fail("create", "unexpected argument '%s'", argv[optind]);
	if (a.o.backing_fmt && !a.o.backing_file)
		return img_usage_fail("create", "-F/backing_fmt without a backing file");
	if (a.o.backing_fmt) {
		enum image_format bf;
		if (img_parse_format(a.o.backing_fmt, &bf) < 0)
			return img_usage_fail("create", "unknown backing format '%s' (raw or qcow2)",
					      a.o.backing_fmt);
	}
	if (!a.have_size && !a.o.backing_file)
		return img_usage_fail("create", "%s: no size given", path);
	if (a.o.format == IMAGE_FORMAT_RAW && img_create_raw_refuses(&a.o))
		return img_fail("%s: raw images cannot have %s", path, img_create_raw_refuses(&a.o));
	if (a.o.lazy_refcounts && a.o.compat == 2)
		return img_fail("%s: lazy_refcounts needs compat=1.1", path);

	/* As qemu-img: sizes are whole 512-byte sectors, rounded up (qemu
	 * reads a qcow2 size that is not a multiple of 512 rounded down). */
	if (a.o.size % 512) {
		if (a.o.size > UINT64_MAX - 511)
			return img_usage_fail("create", "%s: size too large", path);
		a.o.size = (a.o.size + 511) & ~(uint64_t)511;
	}
	if (!quiet) {
		printf("Formatting '%s', fmt=%s", path, img_format_name(a.o.format));
		if (a.o.format == IMAGE_FORMAT_QCOW2)
			printf(" cluster_size=%u", a.o.cluster_size ? a.o.cluster_size : 65536);
		if (a.have_size)
			printf(" size=%llu", (unsigned long long)a.o.size);
		if (a.o.backing_file)
			printf(" backing_file=%s", a.o.backing_file);
		if (a.o.backing_fmt)
			printf(" backing_fmt=%s", a.o.backing_fmt);
		printf("\n");
		fflush(stdout);
	}
	r = image_create(path, &a.o, err, sizeof(err));
	if (r < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s: %s", path, strerror(-r));
		if (!strstr(err, path))
			return img_fail("%s: %s", path, err);
		return img_fail("%s", err);
	}
	return 0;
}
