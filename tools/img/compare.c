/* cellvm-img compare: do two images read the same?  qemu-img compare's
 * messages and exit status: 0 equal, 1 different, 2 error. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img/img.h"

enum { CMP_EQUAL = 0, CMP_DIFFER = 1, CMP_ERROR = 2 };
enum { CHUNK = 1 << 20, SECTOR = 512 };

void img_compare_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img compare [-q] [-s] [-p] [-f FMT] [-F FMT] FILE1 FILE2\n"
		"\n"
		"Compares what a guest would read from FILE1 and FILE2 (backing files\n"
		"included).  Images of different sizes are equal when the larger one\n"
		"reads as zeroes past the end of the smaller.  -s (strict) also fails on\n"
		"a size difference or where one image has a range allocated and the\n"
		"other does not.  -f and -F give FILE1's and FILE2's formats.\n"
		"\n"
		"Exit status: 0 the images are equal, 1 they differ (the first differing\n"
		"512-byte sector is named), 2 an error.\n"
		"\n"
		"Examples:\n"
		"  cellvm-img compare disk.qcow2 disk.raw\n"
		"  cellvm-img compare -f qcow2 -F raw -s a.qcow2 b.img\n");
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* The first offset in [0, n) where A and B differ, rounded down to a
 * sector; -1 when equal. */
static int64_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i += SECTOR) {
		size_t len = n - i < SECTOR ? n - i : SECTOR;
		if (memcmp(a + i, b + i, len))
			return (int64_t)i;
	}
	return -1;
}

static int64_t first_nonzero(const unsigned char *a, size_t n)
{
	for (size_t i = 0; i < n; i += SECTOR) {
		size_t len = n - i < SECTOR ? n - i : SECTOR;
		if (!all_zero(a + i, len))
			return (int64_t)i;
	}
	return -1;
}

/* Extent status at OFF, clipped to LEN: is it known zero, is it allocated. */
static int status_at(struct image *img, uint64_t off, uint64_t len,
		     uint64_t *run, bool *zero, bool *alloc)
{
	struct image_extent e;
	int r = image_map(img, off, len, &e);

	if (r < 0)
		return r;
	*run = e.length && e.length < len ? e.length : len;
	*zero = (e.flags & IMAGE_EXT_ZERO) && !(e.flags & IMAGE_EXT_DATA);
	*alloc = (e.flags & IMAGE_EXT_ALLOCATED) || e.depth > 0;
	return 0;
}

struct side {
	const char *path;
	struct image *img;
	uint64_t size;
};

static int read_fail(struct side *s, uint64_t off)
{
	img_fail("%s: read at offset %llu failed: %s", s->path,
		 (unsigned long long)off, image_error(s->img));
	return CMP_ERROR;
}

static int compare_images(struct side *a, struct side *b, bool strict, bool quiet,
			  struct img_progress *prog)
{
	uint64_t common = a->size < b->size ? a->size : b->size;
	uint64_t total = a->size > b->size ? a->size : b->size;
	unsigned char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
	uint64_t off = 0;
	int ret = CMP_EQUAL;

	if (!ba || !bb) {
		free(ba), free(bb);
		return img_fail("out of memory"), CMP_ERROR;
	}
	while (off < common && ret == CMP_EQUAL) {
		uint64_t len = common - off < CHUNK ? common - off : CHUNK, ra, rb;
		bool za, zb, aa, ab;
		int64_t d;

		if (status_at(a->img, off, len, &ra, &za, &aa) < 0) {
			ret = read_fail(a, off);
			break;
		}
		if (status_at(b->img, off, len, &rb, &zb, &ab) < 0) {
			ret = read_fail(b, off);
			break;
		}
		len = ra < rb ? ra : rb;
		if (strict && aa != ab) {
			if (!quiet)
				printf("Strict mode: Offset %llu block status mismatch!\n",
				       (unsigned long long)off);
			ret = CMP_DIFFER;
			break;
		}
		if (!(za && zb)) {
			if (image_read(a->img, ba, len, off) < 0) {
				ret = read_fail(a, off);
				break;
			}
			if (image_read(b->img, bb, len, off) < 0) {
				ret = read_fail(b, off);
				break;
			}
			d = first_diff(ba, bb, len);
			if (d >= 0) {
				if (!quiet)
					printf("Content mismatch at offset %llu!\n",
					       (unsigned long long)(off + (uint64_t)d));
				ret = CMP_DIFFER;
				break;
			}
		}
		off += len;
		img_progress_update(prog, off, total);
	}
	/* Past the smaller image, the larger one must read as zeroes. */
	{
		struct side *big = a->size > b->size ? a : b;

		while (off < total && ret == CMP_EQUAL) {
			uint64_t len = total - off < CHUNK ? total - off : CHUNK, run;
			bool zero, alloc;
			int64_t d;

			if (status_at(big->img, off, len, &run, &zero, &alloc) < 0) {
				ret = read_fail(big, off);
				break;
			}
			if (!zero) {
				if (image_read(big->img, ba, run, off) < 0) {
					ret = read_fail(big, off);
					break;
				}
				d = first_nonzero(ba, run);
				if (d >= 0) {
					if (!quiet)
						printf("Content mismatch at offset %llu!\n",
						       (unsigned long long)(off + (uint64_t)d));
					ret = CMP_DIFFER;
					break;
				}
			}
			off += run;
			img_progress_update(prog, off, total);
		}
	}
	free(ba);
	free(bb);
	return ret;
}

int img_compare_main(int argc, char **argv)
{
	enum image_format fa = IMAGE_FORMAT_DETECT, fb = IMAGE_FORMAT_DETECT;
	struct side a = { 0 }, b = { 0 };
	struct img_progress prog;
	bool strict = false, quiet = false, progress = false;
	int c, ret;

	while ((c = getopt(argc, argv, "+f:F:spqU")) != -1) {
		switch (c) {
		case 'f':
		case 'F':
			if (img_parse_format(optarg, c == 'f' ? &fa : &fb) < 0) {
				img_usage_fail("compare", "unknown format '%s' (raw or qcow2)", optarg);
				return CMP_ERROR;
			}
			break;
		case 's': strict = true; break;
		case 'p': progress = true; break;
		case 'q': quiet = true; break;
		case 'U': break;
		default:
			img_usage_fail("compare", "bad option");
			return CMP_ERROR;
		}
	}
	if (optind + 2 != argc) {
		img_usage_fail("compare", "expected two files");
		return CMP_ERROR;
	}
	a.path = argv[optind];
	b.path = argv[optind + 1];
	if (img_open(a.path, fa, true, false, &a.img) < 0)
		return CMP_ERROR;
	if (img_open(b.path, fb, true, false, &b.img) < 0) {
		image_close(a.img);
		return CMP_ERROR;
	}
	a.size = image_size(a.img);
	b.size = image_size(b.img);
	if (a.size != b.size) {
		if (strict) {
			if (!quiet)
				printf("Strict mode: Image size mismatch!\n");
			ret = CMP_DIFFER;
			goto out;
		}
		if (!quiet)
			printf("Warning: Image size mismatch!\n");
	}
	img_progress_start(&prog, progress);
	ret = compare_images(&a, &b, strict, quiet, &prog);
	img_progress_end(&prog);
	if (ret == CMP_EQUAL && !quiet)
		printf("Images are identical.\n");
out:
	image_close(a.img);
	image_close(b.img);
	return ret;
}
