/* cellvm-img convert: copies what a guest reads from one image (its backing
 * chain included) into a new image.  Ranges that read as zeroes are not
 * written, so the output stays sparse; -c stores clusters compressed. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img/img.h"

enum { CHUNK = 1 << 20, RAW_GRAIN = 4096 };

void img_convert_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img convert [-q] [-p] [-c] [-f FMT] [-l SNAPSHOT] -O raw|qcow2\n"
		"                          [-o OPTIONS] IN OUT\n"
		"\n"
		"Creates OUT with IN's virtual size and copies IN's contents (as a guest\n"
		"reads them, backing files included) into it.  Ranges that read as zeroes\n"
		"are skipped, so OUT is sparse.  The default output format is raw.\n"
		"  -c            write qcow2 clusters compressed (the image's\n"
		"                compression_type, zlib unless -o says otherwise)\n"
		"  -o OPTIONS    creation options for OUT, as for create\n"
		"  -l SNAPSHOT   copy IN as it was at this internal snapshot (id or name;\n"
		"                snapshot.name=NAME and snapshot.id=ID also work)\n"
		"  -p            show a progress bar (when stderr is a terminal)\n"
		"\n"
		"Examples:\n"
		"  cellvm-img convert -O raw disk.qcow2 disk.raw\n"
		"  cellvm-img convert -O qcow2 -c -o compression_type=zstd disk.raw small.qcow2\n"
		"  cellvm-img convert -l before-upgrade -O raw disk.qcow2 old.raw\n");
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Does [off, off+len) of IMG read as zeroes by its map alone? */
static int range_is_zero(struct image *img, uint64_t off, uint64_t len, bool *zero)
{
	uint64_t end = off + len;

	while (off < end) {
		struct image_extent e;
		int r = image_map(img, off, end - off, &e);

		if (r < 0)
			return r;
		if (!(e.flags & IMAGE_EXT_ZERO) || (e.flags & IMAGE_EXT_DATA) || !e.length) {
			*zero = false;
			return 0;
		}
		off += e.length;
	}
	*zero = true;
	return 0;
}

struct copy {
	const char *in_path, *out_path;
	struct image *in, *out;
	bool compress;
	uint32_t grain; /* the unit of "is this zero": the output's cluster */
};

/* Writes the non-zero grains of BUF (guest range OFF, LEN) to the output. */
static int write_chunk(struct copy *c, const unsigned char *buf, uint64_t off, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t g = len - i < c->grain ? len - i : c->grain, run;
		int r;

		if (all_zero(buf + i, g)) {
			i += g;
			continue;
		}
		if (c->compress) {
			r = image_write_compressed(c->out, buf + i, g, off + i);
			run = g;
		} else {
			/* Coalesce the run of non-zero grains into one write. */
			run = g;
			while (i + run < len) {
				size_t n = len - i - run < c->grain ? len - i - run : c->grain;
				if (all_zero(buf + i + run, n))
					break;
				run += n;
			}
			r = image_write(c->out, buf + i, run, off + i);
		}
		if (r < 0) {
			img_fail("%s: write at offset %llu failed: %s", c->out_path,
				 (unsigned long long)(off + i), image_error(c->out));
			return -1;
		}
		i += run;
	}
	return 0;
}

static int copy_all(struct copy *c, bool progress)
{
	uint64_t size = image_size(c->in), off;
	size_t chunk = CHUNK > c->grain ? CHUNK : c->grain;
	unsigned char *buf = malloc(chunk);
	struct img_progress prog;
	int ret = 0;

	if (!buf)
		return img_fail("out of memory");
	img_progress_start(&prog, progress);
	for (off = 0; off < size; off += chunk) {
		size_t len = size - off < chunk ? size - off : chunk;
		bool zero;

		if (range_is_zero(c->in, off, len, &zero) < 0 ||
		    (!zero && image_read(c->in, buf, len, off) < 0)) {
			ret = img_fail("%s: read at offset %llu failed: %s", c->in_path,
				       (unsigned long long)off, image_error(c->in));
			break;
		}
		if (!zero && write_chunk(c, buf, off, len) < 0) {
			ret = IMG_EXIT_FAIL;
			break;
		}
		img_progress_update(&prog, off + len, size);
	}
	img_progress_end(&prog);
	free(buf);
	return ret;
}

int img_convert_main(int argc, char **argv)
{
	enum image_format in_fmt = IMAGE_FORMAT_DETECT;
	struct image_create_options o = { .format = IMAGE_FORMAT_RAW };
	struct copy c = { 0 };
	bool have_size = false, progress = false, quiet = false;
	const char *snapshot = NULL;
	char why[256], err[512] = "";
	int ch, ret;

	while ((ch = getopt(argc, argv, "+f:O:co:l:pqU")) != -1) {
		switch (ch) {
		case 'f':
			if (img_parse_format(optarg, &in_fmt) < 0)
				return img_usage_fail("convert", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'O':
			if (img_parse_format(optarg, &o.format) < 0)
				return img_usage_fail("convert", "unknown output format '%s' (raw or qcow2)", optarg);
			break;
		case 'c': c.compress = true; break;
		case 'o':
			if (img_create_parse_opts(optarg, &o, &have_size, why, sizeof(why)))
				return img_usage_fail("convert", "-o: %s", why);
			break;
		case 'l':
			/* qemu's forms: NAME, snapshot.name=NAME, snapshot.id=ID */
			if (!strncmp(optarg, "snapshot.name=", 14))
				snapshot = optarg + 14;
			else if (!strncmp(optarg, "snapshot.id=", 12))
				snapshot = optarg + 12;
			else
				snapshot = optarg;
			break;
		case 'p': progress = true; break;
		case 'q': quiet = true; break;
		case 'U': break;
		default:
			return img_usage_fail("convert", "bad option");
		}
	}
	if (optind + 2 != argc)
		return img_usage_fail("convert", "expected IN and OUT");
	c.in_path = argv[optind];
	c.out_path = argv[optind + 1];
	if (quiet)
		progress = false;
	if (o.backing_file)
		return img_usage_fail("convert", "an output backing file is not supported");
	if (o.format == IMAGE_FORMAT_RAW && img_create_raw_refuses(&o))
		return img_fail("%s: raw images cannot have %s", c.out_path, img_create_raw_refuses(&o));
	if (c.compress && o.format != IMAGE_FORMAT_QCOW2)
		return img_fail("%s: -c (compression) needs -O qcow2", c.out_path);
	if (!strcmp(c.in_path, c.out_path))
		return img_fail("%s: input and output are the same file", c.in_path);

	if ((snapshot ? img_open_snapshot(c.in_path, in_fmt, snapshot, &c.in)
		      : img_open(c.in_path, in_fmt, true, false, &c.in)) < 0)
		return IMG_EXIT_FAIL;
	if (!have_size)
		o.size = image_size(c.in);
	if (image_create(c.out_path, &o, err, sizeof(err)) < 0) {
		image_close(c.in);
		return img_fail("%s", err[0] ? err : c.out_path);
	}
	if (img_open(c.out_path, o.format, false, true, &c.out) < 0) {
		image_close(c.in);
		return IMG_EXIT_FAIL;
	}
	c.grain = o.format == IMAGE_FORMAT_RAW ? RAW_GRAIN : image_cluster_size(c.out);
	if (image_size(c.out) < image_size(c.in)) {
		ret = img_fail("%s: smaller than %s", c.out_path, c.in_path);
		image_close(c.out);
	} else {
		ret = copy_all(&c, progress);
		if (image_close(c.out) < 0 && !ret)
			ret = img_fail("%s: flush failed", c.out_path);
	}
	image_close(c.in);
	return ret;
}
