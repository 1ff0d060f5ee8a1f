/* Helpers shared by the disk image tests: temporary files, running
 * qemu-img for cross-checks, a deterministic random generator and an
 * in-memory reference model of the guest-visible disk. */
#ifndef CELLVM_TESTS_UNIT_IMAGE_TEST_UTIL_H
#define CELLVM_TESTS_UNIT_IMAGE_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/disk/image.h"

/* Makes an empty temporary file and returns its path in BUF. */
static inline void tmp_path(char *buf, size_t len, const char *tag)
{
	const char *dir = getenv("TMPDIR");
	snprintf(buf, len, "%s/cellvm-%s-XXXXXX", dir && *dir ? dir : "/tmp", tag);
	int fd = mkstemp(buf);
	if (fd < 0)
		abort();
	close(fd);
}

/* Runs a shell command; returns its exit status (-1 on a signal). */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Output of a shell command (first LEN-1 bytes). */
static inline int sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = fread(out, 1, len - 1, f);
	out[n] = 0;
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline int qemu_check(const char *path)
{
	return sh("qemu-img check -q '%s' >/dev/null 2>&1", path);
}

static inline uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(rng_next(&seed) >> 24);
}

static inline int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, buf, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static inline struct image *open_or_die(const char *path, const struct image_options *o)
{
	struct image *img = NULL;
	char err[512];
	int r = image_open(path, o, &img, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "open %s: %s\n", path, err);
		return NULL;
	}
	return img;
}

static inline int create_qcow2(const char *path, uint64_t size, uint32_t cs, int compat,
			       unsigned rbits)
{
	struct image_create_options o = {
		.format = IMAGE_FORMAT_QCOW2, .size = size, .cluster_size = cs,
		.compat = compat, .refcount_bits = rbits,
	};
	char err[512];
	int r = image_create(path, &o, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "create %s: %s\n", path, err);
	return r;
}

/* Compares the whole image with MODEL; returns the first differing offset
 * or -1. */
static inline long long compare_image(struct image *img, const uint8_t *model, uint64_t size)
{
	uint8_t *buf = malloc(1 << 20);
	long long bad = -1;
	for (uint64_t off = 0; off < size && bad < 0; off += 1 << 20) {
		size_t n = size - off < (1 << 20) ? (size_t)(size - off) : (size_t)(1 << 20);
		if (image_read(img, buf, n, off) < 0) {
			bad = (long long)off;
			break;
		}
		for (size_t i = 0; i < n; i++)
			if (buf[i] != model[off + i]) {
				bad = (long long)(off + i);
				break;
			}
	}
	free(buf);
	return bad;
}

/* Asserts that an image call returned 0, printing the image's error. */
#define assert_img_ok(img, call)                                                  \
	do {                                                                      \
		int r_ = (call);                                                  \
		if (r_ != 0)                                                      \
			fprintf(stderr, "%s: %d %s\n", #call, r_, image_error(img)); \
		assert_int_equal(r_, 0);                                          \
	} while (0)

#endif
