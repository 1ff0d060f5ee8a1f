/* Raw images and the generic layer: format detection, bounds checks,
 * read/write at odd offsets, discard and zeroes, map (data and holes),
 * resize, info, create, open by fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

static void test_raw_rw_and_bounds(void **state)
{
	(void)state;
	char path[256], err[512];
	uint64_t size = (1 << 20) + 4096, seed = 3;
	uint8_t *model = calloc(1, size), *buf = malloc(100000), *rd = malloc(100000);
	tmp_path(path, sizeof(path), "raw");
	struct image_create_options o = { .format = IMAGE_FORMAT_RAW, .size = size };
	assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
	struct image *img = open_or_die(path, NULL);
	assert_non_null(img);
	assert_int_equal(image_format_of(img), IMAGE_FORMAT_RAW);
	assert_int_equal(image_size(img), size);
	assert_int_equal(image_cluster_size(img), 512);
	for (int i = 0; i < 200; i++) {
		uint64_t len = 1 + rng_next(&seed) % 99999;
		uint64_t off = rng_next(&seed) % (size - len);
		fill_pattern(buf, len, seed);
		assert_int_equal(image_write(img, buf, len, off), 0);
		memcpy(model + off, buf, len);
		assert_int_equal(image_read(img, rd, len, off), 0);
		assert_memory_equal(rd, buf, len);
	}
	assert_int_equal(compare_image(img, model, size), -1);
	assert_int_equal(image_write(img, buf, 2, size - 1), -EINVAL);
	assert_non_null(strstr(image_error(img), "beyond the image size"));
	assert_int_equal(image_read(img, buf, 1, size), -EINVAL);
	assert_int_equal(image_read(img, buf, 1, UINT64_MAX), -EINVAL);
	assert_int_equal(image_discard(img, size - 100, 200), -EINVAL);
	assert_int_equal(image_write_compressed(img, buf, 512, 0), -ENOTSUP);
	assert_int_equal(image_flush(img), 0);
	assert_int_equal(image_close(img), 0);
	unlink(path);
	free(model);
	free(buf);
	free(rd);
}

static void test_raw_zero_discard_map(void **state)
{
	(void)state;
	char path[256];
	uint8_t *buf = malloc(1 << 20), *rd = malloc(1 << 20);
	tmp_path(path, sizeof(path), "rawmap");
	fill_pattern(buf, 1 << 20, 1);
	assert_int_equal(write_file(path, buf, 1 << 20), 0);
	assert_int_equal(truncate(path, 4 << 20), 0); /* a hole after 1 MiB */
	struct image *img = open_or_die(path, NULL);

	struct image_extent ext;
	assert_int_equal(image_map(img, 0, 4 << 20, &ext), 0);
	assert_int_equal(ext.flags & IMAGE_EXT_DATA, IMAGE_EXT_DATA);
	assert_int_equal(ext.length, 1 << 20);
	assert_int_equal(image_map(img, 1 << 20, 3 << 20, &ext), 0);
	assert_true(ext.flags & IMAGE_EXT_ZERO);
	assert_int_equal(ext.length, 3 << 20);

	assert_int_equal(image_write_zeroes(img, 4096, 8192, false), 0);
	assert_int_equal(image_write_zeroes(img, 65536, 65536, true), 0);
	memset(buf + 4096, 0, 8192);
	memset(buf + 65536, 0, 65536);
	assert_int_equal(image_discard(img, 512 << 10, 128 << 10), 0);
	assert_int_equal(image_read(img, rd, 1 << 20, 0), 0);
	/* Discarded range: old data or zeroes. */
	for (uint64_t i = 0; i < (1 << 20); i++)
		assert_true(rd[i] == buf[i] || (i >= (512 << 10) && i < (640 << 10) && rd[i] == 0));
	assert_memory_equal(rd, buf, 512 << 10);

	struct image_info info;
	assert_int_equal(image_get_info(img, &info), 0);
	assert_int_equal(info.format, IMAGE_FORMAT_RAW);
	assert_int_equal(info.virtual_size, 4 << 20);
	assert_true(info.disk_size > 0 && info.disk_size < (2 << 20));
	image_info_free(&info);

	assert_int_equal(image_resize(img, 8 << 20), 0);
	assert_int_equal(image_size(img), 8 << 20);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 8 << 20);
	struct image_check_result res;
	assert_int_equal(image_check(img, 0, &res, NULL, NULL), -ENOTSUP);
	assert_int_equal(image_close(img), 0);
	unlink(path);
	free(buf);
	free(rd);
}

static void test_detection_and_fd(void **state)
{
	(void)state;
	char path[256], err[512];
	struct image *img;
	tmp_path(path, sizeof(path), "detect");
	assert_int_equal(sh("qemu-img create -q -f qcow2 '%s' 1M", path), 0);
	int fd = open(path, O_RDWR);
	assert_int_equal(image_open_fd(fd, "named.qcow2", NULL, &img, err, sizeof(err)), 0);
	assert_int_equal(image_format_of(img), IMAGE_FORMAT_QCOW2);
	assert_int_equal(image_size(img), 1 << 20);
	assert_int_equal(image_close(img), 0);

	/* Forced raw reads the qcow2 file as bytes. */
	struct image_options raw = { .format = IMAGE_FORMAT_RAW, .readonly = true };
	assert_int_equal(image_open(path, &raw, &img, err, sizeof(err)), 0);
	assert_int_equal(image_format_of(img), IMAGE_FORMAT_RAW);
	assert_true(image_readonly(img));
	uint8_t b[4] = { 1 };
	assert_int_equal(image_write(img, b, 4, 0), -EROFS);
	image_close(img);

	/* A raw file cannot be opened as qcow2. */
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(truncate(path, 65536), 0);
	struct image_options q = { .format = IMAGE_FORMAT_QCOW2 };
	assert_int_equal(image_open(path, &q, &img, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "magic"));
	assert_int_equal(image_open("/nonexistent/file", NULL, &img, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/file"));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_rw_and_bounds),
		cmocka_unit_test(test_raw_zero_discard_map),
		cmocka_unit_test(test_detection_and_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
