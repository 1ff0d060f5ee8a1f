/* cellvm-img: error messages, format names, opening images, -o lists. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img/img.h"

int img_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("cellvm-img: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return IMG_EXIT_FAIL;
}

int img_usage_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cellvm-img %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'cellvm-img %s --help')\n", cmd);
	return IMG_EXIT_FAIL;
}

int img_parse_format(const char *s, enum image_format *out)
{
	if (strcmp(s, "raw") == 0)
		*out = IMAGE_FORMAT_RAW;
	else if (strcmp(s, "qcow2") == 0)
		*out = IMAGE_FORMAT_QCOW2;
	else
		return -1;
	return 0;
}

int img_parse_output(const char *s, bool *json)
{
	if (strcmp(s, "json") == 0)
		*json = true;
	else if (strcmp(s, "human") == 0)
		*json = false;
	else
		return -1;
	return 0;
}

const char *img_format_name(enum image_format f)
{
	switch (f) {
	case IMAGE_FORMAT_RAW: return "raw";
	case IMAGE_FORMAT_QCOW2: return "qcow2";
	default: return "unknown";
	}
}

static int open_with(const char *path, const struct image_options *o, struct image **out);

int img_open(const char *path, enum image_format fmt, bool readonly,
	     bool no_backing, struct image **out)
{
	struct image_options o = {
		.format = fmt,
		.readonly = readonly,
		.no_backing = no_backing,
	};

	return open_with(path, &o, out);
}

int img_open_snapshot(const char *path, enum image_format fmt, const char *snapshot,
		      struct image **out)
{
	struct image_options o = {
		.format = fmt,
		.readonly = true,
		.snapshot = snapshot,
	};

	return open_with(path, &o, out);
}

static int open_with(const char *path, const struct image_options *o, struct image **out)
{
	char err[512] = "";
	int r = image_open(path, o, out, err, sizeof(err));

	if (r < 0) {
		/* The library names the file; add it only when it did not. */
		if (!err[0])
			img_fail("%s: %s", path, strerror(-r));
		else if (!strstr(err, path))
			img_fail("%s: %s", path, err);
		else
			img_fail("%s", err);
		return -1;
	}
	return 0;
}

char *img_backing_path(const char *child, const char *name)
{
	const char *slash = strrchr(child, '/');
	char *p;

	if (name[0] == '/' || !slash)
		return strdup(name);
	if (asprintf(&p, "%.*s/%s", (int)(slash - child), child, name) < 0)
		return NULL;
	return p;
}

int img_parse_opts(char *list, int (*fn)(void *ctx, const char *key,
					 const char *value), void *ctx)
{
	char *s = list;
	int r = 0;

	/* In place: the keys and values point into LIST (an argv string, so
	 * they live as long as the program). */
	while (*s && r == 0) {
		char *item = s, *o = s, *value = NULL;

		/* One item, with ",," unescaped to ','. */
		for (; *s; s++) {
			if (*s == ',') {
				if (s[1] != ',')
					break;
				s++;
			}
			if (*s == '=' && !value) {
				*o++ = '\0';
				value = o;
				continue;
			}
			*o++ = *s;
		}
		if (*s == ',')
			s++;
		*o = '\0';
		if (item[0])
			r = fn(ctx, item, value);
	}
	return r;
}

int img_parse_bool(const char *s, bool *out)
{
	if (!s || !strcmp(s, "on") || !strcmp(s, "true") || !strcmp(s, "yes"))
		*out = true;
	else if (!strcmp(s, "off") || !strcmp(s, "false") || !strcmp(s, "no"))
		*out = false;
	else
		return -1;
	return 0;
}
