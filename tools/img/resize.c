/* cellvm-img resize: a new virtual size, absolute or relative. */
#include <getopt.h>
#include <string.h>

#include "tools/img/img.h"

void img_resize_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img resize [-q] [-f raw|qcow2] [--shrink] FILE [+|-]SIZE\n"
		"\n"
		"Sets FILE's virtual size to SIZE, or grows (+) or shrinks (-) it by SIZE.\n"
		"Shrinking needs --shrink (data past the new end is lost); qcow2 images\n"
		"can only grow.\n"
		"\n"
		"Examples:\n"
		"  cellvm-img resize disk.qcow2 +10G\n"
		"  cellvm-img resize --shrink disk.raw 1G\n");
}

int img_resize_main(int argc, char **argv)
{
	enum { OPT_SHRINK = 256 };
	static const struct option longopts[] = {
		{ "shrink", no_argument, NULL, OPT_SHRINK },
		{ NULL, 0, NULL, 0 },
	};
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	bool shrink = false, quiet = false;
	const char *path, *arg;
	uint64_t delta, cur, want;
	struct image *img;
	char err[200];
	int c, sign = 0;

	/* "-1G" is a size, not an option: stop option parsing at FILE. */
	while ((c = getopt_long(argc, argv, "+f:q", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("resize", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'q': quiet = true; break;
		case OPT_SHRINK: shrink = true; break;
		default:
			return img_usage_fail("resize", "bad option");
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind + 2 != argc)
		return img_usage_fail("resize", "expected FILE and SIZE");
	path = argv[optind];
	arg = argv[optind + 1];
	if (arg[0] == '+' || arg[0] == '-')
		sign = *arg++ == '+' ? 1 : -1;
	if (img_parse_size(arg, &delta, err, sizeof(err)) < 0)
		return img_usage_fail("resize", "%s", err);

	if (img_open(path, fmt, false, false, &img) < 0)
		return IMG_EXIT_FAIL;
	cur = image_size(img);
	if (sign > 0) {
		want = cur + delta;
		if (want < cur) {
			image_close(img);
			return img_fail("%s: new size overflows", path);
		}
	} else if (sign < 0) {
		if (delta > cur) {
			image_close(img);
			return img_fail("%s: cannot shrink a %llu-byte image by %llu bytes", path,
					(unsigned long long)cur, (unsigned long long)delta);
		}
		want = cur - delta;
	} else {
		want = delta;
	}
	if (want < cur && !shrink) {
		image_close(img);
		return img_fail("%s: shrinking to %llu bytes loses data; use --shrink to do it anyway",
				path, (unsigned long long)want);
	}
	if (want != cur && image_resize(img, want) < 0) {
		img_fail("%s: resize to %llu bytes failed: %s", path,
			 (unsigned long long)want, image_error(img));
		image_close(img);
		return IMG_EXIT_FAIL;
	}
	if (image_close(img) < 0)
		return img_fail("%s: flushing after the resize failed", path);
	if (!quiet)
		printf("Image resized.\n");
	return 0;
}
