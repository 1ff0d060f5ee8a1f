/* cellvm-img map: which layer of the backing chain stores each guest range
 * and where in its file, from image_map; JSON as qemu-img map's. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/img/img.h"

void img_map_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img map [--output=human|json] [-f raw|qcow2]\n"
		"                      [--start-offset=OFFSET] [--max-length=LEN] FILE\n"
		"\n"
		"Prints, for each run of the guest's address space, which image of the\n"
		"chain holds it (depth 0 is FILE itself) and where in that file.  The\n"
		"human form lists only ranges with stored data; JSON lists every range\n"
		"with start, length, depth, present, zero, data and, when the data has\n"
		"a place in a file, offset.\n"
		"\n"
		"Examples:\n"
		"  cellvm-img map disk.qcow2\n"
		"  cellvm-img map --output=json overlay.qcow2\n");
}

enum { MAX_CHAIN = 64 };

struct chain {
	int n;
	char *name[MAX_CHAIN];
	uint64_t size[MAX_CHAIN];
	int fd[MAX_CHAIN];  /* opened when first needed, for holes */
	enum image_format fmt[MAX_CHAIN];
	struct image *layer[MAX_CHAIN]; /* alone, without its backing files */
};

/* The names and sizes of FILE's backing chain, read layer by layer. */
static int walk_chain(const char *path, enum image_format fmt, struct chain *c)
{
	char *p = strdup(path);

	c->n = 0;
	while (p && c->n < MAX_CHAIN) {
		struct image *img;
		struct image_info info;

		if (img_open(p, fmt, true, true, &img) < 0) {
			free(p);
			return -1;
		}
		if (image_get_info(img, &info) < 0) {
			img_fail("%s: %s", p, image_error(img));
			image_close(img);
			free(p);
			return -1;
		}
		c->name[c->n] = p;
		c->size[c->n] = info.virtual_size;
		c->fd[c->n] = -1;
		c->fmt[c->n] = fmt;
		c->layer[c->n] = NULL;
		c->n++;
		p = info.backing_file ? img_backing_path(p, info.backing_file) : NULL;
		fmt = IMAGE_FORMAT_DETECT;
		if (info.backing_fmt)
			img_parse_format(info.backing_fmt, &fmt);
		image_info_free(&info);
		image_close(img);
	}
	free(p);
	return 0;
}

struct run {
	uint64_t start, length, offset;
	int depth;
	bool present, zero, data, has_offset;
};

/* Stored data can sit in a hole of its host file (preallocation=metadata):
 * it reads as zeroes, and qemu reports it as zero.  Shortens R to the part
 * that is uniformly hole or data and sets R->zero for a hole. */
static void host_holes(struct chain *c, struct run *r)
{
	off_t data, hole, start = (off_t)r->offset;
	int fd;

	if (!r->data || r->zero || !r->has_offset || r->depth >= c->n)
		return;
	if (c->fd[r->depth] < 0)
		c->fd[r->depth] = open(c->name[r->depth], O_RDONLY | O_CLOEXEC);
	fd = c->fd[r->depth];
	if (fd < 0)
		return;
	data = lseek(fd, start, SEEK_DATA);
	if (data < 0 && errno != ENXIO)
		return; /* no SEEK_DATA here: all data */
	if (data < 0 || data > start) {
		/* a hole first (ENXIO: up to the end of the file) */
		if (data > start && (uint64_t)(data - start) < r->length)
			r->length = (uint64_t)(data - start);
		r->zero = true;
		return;
	}
	hole = lseek(fd, start, SEEK_HOLE);
	if (hole > start && (uint64_t)(hole - start) < r->length)
		r->length = (uint64_t)(hole - start);
}

/* The library marks only the top image's own ranges ALLOCATED.  A zero
 * range at DEPTH > 0 may still be allocated in that layer (a zero cluster
 * there): qemu calls that present.  Ask the layer alone. */
static void backing_present(struct chain *c, struct run *r)
{
	struct image_extent e;

	if (r->present || r->depth <= 0 || r->depth >= c->n)
		return;
	if (!c->layer[r->depth]) {
		struct image_options o = { .format = c->fmt[r->depth], .readonly = true,
					   .no_backing = true };
		char err[256];

		if (image_open(c->name[r->depth], &o, &c->layer[r->depth], err, sizeof(err)) < 0)
			return;
	}
	if (image_map(c->layer[r->depth], r->start, r->length, &e) < 0 || !e.length)
		return;
	if (e.length < r->length)
		r->length = e.length;
	r->present = e.flags & IMAGE_EXT_ALLOCATED;
}

static bool can_merge(const struct run *a, const struct run *b)
{
	return a->depth == b->depth && a->present == b->present && a->zero == b->zero &&
	       a->data == b->data && a->has_offset == b->has_offset &&
	       (!a->has_offset || a->offset + a->length == b->offset);
}

/* Returns -1 when the human form cannot show R (data without a place in a
 * file: compressed clusters), as qemu-img map refuses those too. */
static int print_run(const struct run *r, bool json, bool first, const struct chain *c)
{
	if (json) {
		printf("%s{ \"start\": %llu, \"length\": %llu, \"depth\": %d, \"present\": %s, "
		       "\"zero\": %s, \"data\": %s", first ? "[" : ",\n",
		       (unsigned long long)r->start, (unsigned long long)r->length, r->depth,
		       r->present ? "true" : "false", r->zero ? "true" : "false",
		       r->data ? "true" : "false");
		if (r->has_offset)
			printf(", \"offset\": %llu", (unsigned long long)r->offset);
		printf("}");
		return 0;
	}
	if (r->data && !r->has_offset) {
		fflush(stdout);
		img_fail("%s: contains compressed clusters, which have no offset to show; "
			 "use --output=json", c->name[0]);
		return -1;
	}
	if (!r->data)
		return 0;
	printf("%#-16llx%#-16llx%#-16llx%s\n", (unsigned long long)r->start,
	       (unsigned long long)r->length, (unsigned long long)r->offset,
	       r->depth < c->n ? c->name[r->depth] : "?");
	return 0;
}

int img_map_main(int argc, char **argv)
{
	enum { OPT_OUTPUT = 256, OPT_START, OPT_MAXLEN };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "start-offset", required_argument, NULL, OPT_START },
		{ "max-length", required_argument, NULL, OPT_MAXLEN },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	uint64_t start = 0, maxlen = UINT64_MAX, end, off;
	struct chain chain;
	struct image *img;
	struct run cur = { 0 };
	bool json = false, have = false, first = true;
	char err[200];
	int c, status = 0;

	while ((c = getopt_long(argc, argv, "+f:U", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("map", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'U': break;
		case OPT_OUTPUT:
			if (img_parse_output(optarg, &json) < 0)
				return img_usage_fail("map", "--output must be human or json, not '%s'", optarg);
			break;
		case OPT_START:
		case OPT_MAXLEN:
			if (img_parse_size(optarg, c == OPT_START ? &start : &maxlen, err, sizeof(err)) < 0)
				return img_usage_fail("map", "%s", err);
			break;
		default:
			return img_usage_fail("map", "bad option");
		}
	}
	if (optind + 1 != argc)
		return img_usage_fail("map", optind >= argc ? "no FILE given" : "more than one FILE given");
	if (walk_chain(argv[optind], fmt, &chain) < 0)
		return IMG_EXIT_FAIL;
	if (img_open(argv[optind], fmt, true, false, &img) < 0) {
		status = IMG_EXIT_FAIL;
		goto out;
	}
	end = image_size(img);
	if (maxlen < end - (start < end ? start : end))
		end = start + maxlen;
	if (!json)
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
	for (off = start; off < end;) {
		struct image_extent e;
		struct run r;
		int ret = image_map(img, off, end - off, &e);

		if (ret < 0 || e.length == 0 || e.offset != off) {
			status = img_fail("%s: map at offset %llu failed: %s", argv[optind],
					  (unsigned long long)off,
					  ret < 0 ? image_error(img) : "no progress");
			break;
		}
		if (e.length > end - off)
			e.length = end - off;
		r = (struct run){
			.start = off, .length = e.length, .depth = e.depth,
			/* The library marks only FILE's own ranges ALLOCATED;
			 * a backing file's data is "present" for qemu too. */
			.present = (e.flags & (IMAGE_EXT_ALLOCATED | IMAGE_EXT_DATA)) ||
				   e.has_host_offset,
			.zero = e.flags & IMAGE_EXT_ZERO,
			.data = e.flags & IMAGE_EXT_DATA,
			.has_offset = e.has_host_offset, .offset = e.host_offset,
		};
		host_holes(&chain, &r);
		backing_present(&chain, &r);
		if (!r.present) {
			/* Unallocated everywhere: qemu names the deepest layer
			 * that still covers the range. */
			r.depth = 0;
			while (r.depth + 1 < chain.n && chain.size[r.depth + 1] > off)
				r.depth++;
		}
		if (have && can_merge(&cur, &r)) {
			cur.length += r.length;
		} else {
			if (have && print_run(&cur, json, first, &chain) < 0) {
				status = IMG_EXIT_FAIL;
				have = false;
				break;
			}
			if (have)
				first = false;
			cur = r;
			have = true;
		}
		off += r.length;
	}
	if (have && status == 0) {
		if (print_run(&cur, json, first, &chain) < 0)
			status = IMG_EXIT_FAIL;
		first = false;
	}
	if (json && first && status == 0)
		/* An empty range: qemu prints one empty extent. */
		printf("[{ \"start\": %llu, \"length\": 0, \"depth\": 0, \"present\": false, "
		       "\"zero\": false, \"data\": false}]\n", (unsigned long long)start);
	else if (json)
		printf(first ? "[]\n" : "]\n");
	image_close(img);
out:
	for (int i = 0; i < chain.n; i++) {
		free(chain.name[i]);
		if (chain.fd[i] >= 0)
			close(chain.fd[i]);
		if (chain.layer[i])
			image_close(chain.layer[i]);
	}
	return status;
}
