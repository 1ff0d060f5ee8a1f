/* libFuzzer harness: the disk image library on a hostile image file.
 *
 * One input is one image file.  It goes into a memfd, which image_open_fd
 * opens as qcow2 (the format the library must parse; raw has nothing to
 * parse).  A backing file, if the header names one, is a 1 MiB memfd of a
 * byte pattern handed out by the opener, so the backing paths run too.
 *
 * Then, on an image that opened: image_get_info, reads at the start, the
 * middle and the end, a walk of image_map, image_check; writes (plain,
 * zeroes, discard, compressed), a flush, a check with leak repair, close.
 * Every call may fail; what is checked (abort on violation):
 *  - image_open_fd fails with a negative errno and a message, or succeeds;
 *  - a failing call leaves a message in image_error;
 *  - image_map makes progress and stays inside the range asked for;
 *  - a read after a successful write returns what was written;
 *  - the image file never grows past a bound (no runaway allocation).
 *
 * Seeds (tools/fuzz/corpus/qcow2/) are small images made by qemu-img; see
 * tools/fuzz/README.md for how they were made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/image.h"

enum { IO_MAX = 64 * 1024, MAP_STEPS = 64, BACKING_SIZE = 1 << 20 };

static void must(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_qcow2: invariant violated: %s\n", what);
		abort();
	}
}

static int open_backing(void *ctx, const char *name, const char *child, bool writable)
{
	static unsigned char pattern[4096];
	int fd = memfd_create("fuzz-backing", MFD_CLOEXEC);

	(void)ctx, (void)name, (void)child, (void)writable;
	if (fd < 0)
		return -1;
	memset(pattern, 0x42, sizeof(pattern));
	for (int i = 0; i < BACKING_SIZE / (int)sizeof(pattern); i++) {
		if (write(fd, pattern, sizeof(pattern)) != (ssize_t)sizeof(pattern)) {
			close(fd);
			errno = EIO;
			return -1;
		}
	}
	return fd;
}

static void failed_has_message(struct image *img, int r)
{
	if (r < 0)
		must(image_error(img) && image_error(img)[0], "a failed call left no message");
}

static void read_at(struct image *img, unsigned char *buf, uint64_t off, size_t len)
{
	uint64_t size = image_size(img);

	if (off >= size)
		return;
	if (len > size - off)
		len = (size_t)(size - off);
	failed_has_message(img, image_read(img, buf, len, off));
}

static void map_walk(struct image *img)
{
	uint64_t size = image_size(img), off = 0;

	for (int i = 0; i < MAP_STEPS && off < size; i++) {
		struct image_extent e;
		int r = image_map(img, off, size - off, &e);

		failed_has_message(img, r);
		if (r < 0)
			return;
		must(e.offset == off, "image_map answered for another offset");
		must(e.length > 0, "image_map made no progress");
		must(e.length <= size - off, "image_map went past the range");
		off += e.length;
	}
}

static void writes(struct image *img, unsigned char *buf, unsigned char *back)
{
	uint64_t size = image_size(img);
	uint32_t cs = image_cluster_size(img);
	size_t len = size < 8192 ? (size_t)size : 8192;
	uint64_t off = size / 3 & ~(uint64_t)511;
	int r;

	if (!len)
		return;
	if (off + len > size)
		off = size - len;
	memset(buf, 0xa5, len);
	r = image_write(img, buf, len, off);
	failed_has_message(img, r);
	if (r >= 0 && image_read(img, back, len, off) >= 0)
		must(memcmp(buf, back, len) == 0, "a read after a write returned other data");
	failed_has_message(img, image_write_zeroes(img, 0, len, true));
	failed_has_message(img, image_discard(img, size / 2, len));
	if (cs && cs <= IO_MAX && cs <= size) {
		memset(buf, 0x3c, cs);
		failed_has_message(img, image_write_compressed(img, buf, cs, 0));
	}
	failed_has_message(img, image_flush(img));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char buf[IO_MAX], back[IO_MAX];
	struct image_options o = {
		.format = IMAGE_FORMAT_QCOW2,
		.open_backing = open_backing,
		.l2_cache_bytes = 64 * 1024,
		.refcount_cache_bytes = 16 * 1024,
	};
	struct image_check_result res;
	struct image_info info;
	struct image *img;
	struct stat st;
	char err[256] = "";
	int fd, r;

	fd = memfd_create("fuzz.qcow2", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	r = image_open_fd(fd, "fuzz.qcow2", &o, &img, err, sizeof(err));
	if (r < 0) {
		must(r > -4096, "image_open_fd returned a non-errno failure");
		must(err[0] != '\0', "image_open_fd failed without a message");
		return 0; /* the library closed FD */
	}
	if (image_get_info(img, &info) == 0)
		image_info_free(&info);
	read_at(img, buf, 0, IO_MAX);
	read_at(img, buf, image_size(img) / 2, 4096);
	read_at(img, buf, image_size(img) > 4096 ? image_size(img) - 4096 : 0, 4096);
	map_walk(img);
	memset(&res, 0, sizeof(res));
	failed_has_message(img, image_check(img, 0, &res, NULL, NULL));
	writes(img, buf, back);
	failed_has_message(img, image_check(img, IMAGE_FIX_LEAKS, &res, NULL, NULL));
	map_walk(img);
	/* Growth is bounded by what the operations above could allocate. */
	if (fstat(fd, &st) == 0)
		must((uint64_t)st.st_size < (uint64_t)size + (64u << 20),
		     "the image file grew by more than 64 MiB");
	image_close(img);
	return 0;
}
