/* qcow2 engine: images we create pass qemu-img check and agree with
 * qemu-img info; random writes at odd offsets match a reference model for
 * several cluster sizes and every refcount width; images qemu-img made
 * (v2, v3, compressed, zstd) read correctly; compressed writes, discard,
 * zeroes, resize. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

static void test_create_matches_qemu_info(void **state)
{
	(void)state;
	static const struct {
		uint32_t cs;
		int compat;
		unsigned rbits;
		bool lazy;
		const char *ctype;
	} cases[] = {
		{ 65536, 3, 16, false, NULL },  { 512, 3, 1, false, NULL },
		{ 4096, 2, 16, false, NULL },   { 2u << 20, 3, 64, true, NULL },
		{ 65536, 3, 8, false, "zstd" },
	};
	char path[256], out[8192], err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tmp_path(path, sizeof(path), "info");
		struct image_create_options o = {
			.format = IMAGE_FORMAT_QCOW2, .size = 100ull << 20, .cluster_size = cases[i].cs,
			.compat = cases[i].compat, .refcount_bits = cases[i].rbits,
			.lazy_refcounts = cases[i].lazy, .compression_type = cases[i].ctype,
		};
		assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
		assert_int_equal(qemu_check(path), 0);
		assert_int_equal(sh_out(out, sizeof(out), "qemu-img info --output=json '%s'", path), 0);
		char want[128];
		snprintf(want, sizeof(want), "\"cluster-size\": %u", cases[i].cs);
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "\"virtual-size\": 104857600"));
		snprintf(want, sizeof(want), "\"compat\": \"%s\"", cases[i].compat == 3 ? "1.1" : "0.10");
		assert_non_null(strstr(out, want));
		snprintf(want, sizeof(want), "\"refcount-bits\": %u", cases[i].rbits);
		assert_non_null(strstr(out, want));
		if (cases[i].compat == 3) {
			snprintf(want, sizeof(want), "\"lazy-refcounts\": %s",
				 cases[i].lazy ? "true" : "false");
			assert_non_null(strstr(out, want));
			snprintf(want, sizeof(want), "\"compression-type\": \"%s\"",
				 cases[i].ctype ? cases[i].ctype : "zlib");
			assert_non_null(strstr(out, want));
		}

		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		struct image_info info;
		assert_int_equal(image_get_info(img, &info), 0);
		assert_int_equal(info.cluster_size, cases[i].cs);
		assert_int_equal(info.version, cases[i].compat);
		assert_int_equal(info.refcount_bits, cases[i].rbits);
		assert_int_equal(info.lazy_refcounts, cases[i].lazy);
		assert_int_equal(info.virtual_size, 100ull << 20);
		image_info_free(&info);
		assert_int_equal(image_close(img), 0);
		unlink(path);
	}
}

static void test_create_refuses_bad_options(void **state)
{
	(void)state;
	char path[256], err[512];
	tmp_path(path, sizeof(path), "bad");
	struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = 1 << 20 };

	o.cluster_size = 1000;
	assert_int_equal(image_create(path, &o, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cluster size"));
	o.cluster_size = 0;
	o.compat = 2;
	o.lazy_refcounts = true;
	assert_int_equal(image_create(path, &o, err, sizeof(err)), -EINVAL);
	o.lazy_refcounts = false;
	o.refcount_bits = 8;
	assert_int_equal(image_create(path, &o, err, sizeof(err)), -EINVAL);
	o.compat = 3;
	o.refcount_bits = 3;
	assert_int_equal(image_create(path, &o, err, sizeof(err)), -EINVAL);
	unlink(path);
}

/* Random writes, discards and zeroes of odd lengths at odd offsets
 * against a model; then the image is reopened, checked by qemu-img and
 * compared with a raw copy. */
static void random_rw(uint32_t cs, int compat, unsigned rbits, uint64_t seed)
{
	char path[256], raw[256];
	uint64_t size = 3ull * 1024 * 1024 + 7 * 512;
	uint8_t *model = calloc(1, size), *buf = malloc(4 * cs + 8192), *rd = malloc(4 * cs + 8192);

	tmp_path(path, sizeof(path), "rw");
	tmp_path(raw, sizeof(raw), "rwraw");
	assert_int_equal(create_qcow2(path, size, cs, compat, rbits), 0);
	struct image *img = open_or_die(path, NULL);
	assert_non_null(img);
	for (int i = 0; i < 300; i++) {
		uint64_t maxlen = 3 * cs + 1000 < size / 2 ? 3 * cs + 1000 : size / 2;
		uint64_t len = 1 + rng_next(&seed) % maxlen;
		uint64_t off = rng_next(&seed) % (size - len);
		if (i % 9 == 2 && size / cs > 1) {
			/* A compressed cluster (packed with the previous ones). */
			uint64_t c = (rng_next(&seed) % (size / cs)) * cs;
			for (uint64_t k = 0; k < cs; k++)
				model[c + k] = (uint8_t)(k / 64 + i);
			assert_img_ok(img, image_write_compressed(img, model + c, cs, c));
		} else if (i % 9 == 4) {
			/* Discard: whole clusters inside read zero afterwards. */
			assert_img_ok(img, image_discard(img, off, len));
			for (uint64_t c = (off + cs - 1) / cs * cs; c + cs <= off + len; c += cs)
				memset(model + c, 0, cs);
		} else if (i % 9 == 7) {
			assert_img_ok(img, image_write_zeroes(img, off, len, i & 1));
			memset(model + off, 0, len);
		} else {
			fill_pattern(buf, len, seed + (uint64_t)i);
			assert_img_ok(img, image_write(img, buf, len, off));
			memcpy(model + off, buf, len);
		}
		uint64_t roff = rng_next(&seed) % (size - len);
		assert_img_ok(img, image_read(img, rd, len, roff));
		assert_memory_equal(rd, model + roff, len);
	}
	assert_int_equal(compare_image(img, model, size), -1);
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	img = open_or_die(path, NULL);
	assert_non_null(img);
	assert_int_equal(compare_image(img, model, size), -1);
	struct image_check_result res;
	assert_int_equal(image_check(img, 0, &res, NULL, NULL), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
	assert_int_equal(image_close(img), 0);
	assert_int_equal(write_file(raw, model, size), 0);
	assert_int_equal(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, path), 0);
	unlink(path);
	unlink(raw);
	free(model);
	free(buf);
	free(rd);
}

static void test_random_rw_cluster_sizes(void **state)
{
	(void)state;
	random_rw(512, 3, 16, 1);
	random_rw(4096, 3, 16, 2);
	random_rw(65536, 3, 16, 3);
	random_rw(65536, 2, 16, 4);
	random_rw(2u << 20, 3, 16, 5);
}

static void test_random_rw_refcount_widths(void **state)
{
	(void)state;
	for (unsigned order = 0; order <= 6; order++) {
		random_rw(512, 3, 1u << order, 10 + order);
		random_rw(4096, 3, 1u << order, 20 + order);
	}
}

/* Images written by qemu read back as qemu wrote them. */
static void test_reads_qemu_images(void **state)
{
	(void)state;
	static const char *variants[] = {
		"-o compat=0.10", "-o compat=1.1", "-c -o compat=1.1",
		"-c -o compat=1.1,compression_type=zstd", "-c -o compat=0.10,cluster_size=4096",
		"-o cluster_size=512,refcount_bits=1",
	};
	char raw[256], path[256];
	uint64_t size = 2ull << 20;
	uint8_t *model = calloc(1, size);

	/* Compressible and incompressible runs, and holes. */
	for (uint64_t off = 0; off < size; off += 65536) {
		if ((off / 65536) % 3 == 0)
			continue;
		if ((off / 65536) % 3 == 1)
			memset(model + off, (int)(off >> 16), 65536);
		else
			fill_pattern(model + off, 65536, off);
	}
	tmp_path(raw, sizeof(raw), "qraw");
	tmp_path(path, sizeof(path), "qimg");
	assert_int_equal(write_file(raw, model, size), 0);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		assert_int_equal(sh("qemu-img convert -f raw -O qcow2 %s '%s' '%s'", variants[i], raw,
				    path), 0);
		struct image_options ro = { .readonly = true };
		struct image *img = open_or_die(path, &ro);
		assert_non_null(img);
		assert_int_equal(compare_image(img, model, size), -1);
		assert_int_equal(image_close(img), 0);
	}
	unlink(raw);
	unlink(path);
	free(model);
}

static void test_write_compressed(void **state)
{
	(void)state;
	const char *types[] = { NULL, "zstd" };
	char path[256], raw[256], err[512];
	uint32_t cs = 65536;
	uint64_t size = 16 * 65536 + 4096; /* last cluster partial */
	uint8_t *model = calloc(1, size);

	for (int t = 0; t < 2; t++) {
		tmp_path(path, sizeof(path), "comp");
		tmp_path(raw, sizeof(raw), "compraw");
		struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = size,
						  .compression_type = types[t] };
		assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		memset(model, 0, size);
		for (uint64_t off = 0; off < size; off += cs) {
			uint64_t len = size - off < cs ? size - off : cs;
			if ((off / cs) % 4 == 3)
				fill_pattern(model + off, len, off); /* incompressible */
			else
				for (uint64_t k = 0; k < len; k++)
					model[off + k] = (uint8_t)((k / 100) + off / cs);
			assert_int_equal(image_write_compressed(img, model + off, len, off), 0);
		}
		/* Overwrite part of a compressed cluster: copy on write. */
		memset(model + 65536 + 1000, 0xee, 3000);
		assert_int_equal(image_write(img, model + 65536 + 1000, 3000, 65536 + 1000), 0);
		assert_int_equal(compare_image(img, model, size), -1);
		struct image_extent ext;
		assert_int_equal(image_map(img, 0, size, &ext), 0);
		assert_true(ext.flags & IMAGE_EXT_COMPRESSED);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(qemu_check(path), 0);
		assert_int_equal(write_file(raw, model, size), 0);
		assert_int_equal(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, path), 0);
		unlink(path);
		unlink(raw);
	}
	free(model);
}

static void test_discard_and_zeroes(void **state)
{
	(void)state;
	for (int compat = 2; compat <= 3; compat++) {
		char path[256];
		uint64_t size = 4ull << 20;
		uint8_t *model = malloc(size), *buf = malloc(size);
		tmp_path(path, sizeof(path), "zero");
		assert_int_equal(create_qcow2(path, size, 65536, compat, 16), 0);
		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		fill_pattern(model, size, 99);
		assert_int_equal(image_write(img, model, size, 0), 0);

		/* Zeroes in place (unaligned edges), then with unmap. */
		assert_int_equal(image_write_zeroes(img, 1000, 200000, false), 0);
		memset(model + 1000, 0, 200000);
		assert_int_equal(image_write_zeroes(img, 1 << 20, 300000, true), 0);
		memset(model + (1 << 20), 0, 300000);
		/* Discard frees whole clusters; they read old data or zeroes. */
		assert_int_equal(image_discard(img, 2 << 20, 1 << 20), 0);
		memset(model + (2 << 20), 0, 1 << 20);
		assert_int_equal(compare_image(img, model, size), -1);
		struct image_extent ext;
		if (compat == 3) {
			/* Zeroed in place: one zero extent that keeps its clusters. */
			assert_img_ok(img, image_map(img, 65536, 3 * 65536, &ext));
			assert_int_equal(ext.flags, IMAGE_EXT_ZERO | IMAGE_EXT_ALLOCATED);
			assert_int_equal(ext.length, 2 * 65536);
			assert_true(ext.has_host_offset);
		}
		assert_int_equal(image_map(img, 2 << 20, 1 << 20, &ext), 0);
		assert_true(ext.flags & IMAGE_EXT_ZERO);
		assert_int_equal(ext.length, 1 << 20);
		/* Freed clusters are reused (after the flush that makes the frees
		 * safe) without leaking their old data. */
		assert_int_equal(image_flush(img), 0);
		memset(buf, 0x5a, 512);
		assert_int_equal(image_write(img, buf, 512, 3 << 20), 0);
		memcpy(model + (3 << 20), buf, 512);
		assert_int_equal(image_write(img, buf, 512, (2 << 20) + 4096), 0);
		memcpy(model + (2 << 20) + 4096, buf, 512);
		assert_int_equal(compare_image(img, model, size), -1);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(qemu_check(path), 0);
		img = open_or_die(path, NULL);
		assert_int_equal(compare_image(img, model, size), -1);
		assert_int_equal(image_close(img), 0);
		unlink(path);
		free(model);
		free(buf);
	}
}

static void test_resize_grows(void **state)
{
	(void)state;
	char path[256];
	uint64_t size = 1ull << 20, big = 3ull << 30;
	uint8_t buf[4096];
	tmp_path(path, sizeof(path), "resize");
	/* 512-byte clusters: 3 GiB needs an L1 table of many clusters. */
	assert_int_equal(create_qcow2(path, size, 512, 3, 16), 0);
	struct image *img = open_or_die(path, NULL);
	assert_non_null(img);
	fill_pattern(buf, sizeof(buf), 7);
	assert_int_equal(image_write(img, buf, sizeof(buf), size - 1000), -EINVAL);
	assert_int_equal(image_write(img, buf, sizeof(buf), 4096), 0);
	assert_int_equal(image_resize(img, big), 0);
	assert_int_equal(image_size(img), big);
	assert_int_equal(image_write(img, buf, sizeof(buf), big - sizeof(buf)), 0);
	assert_int_equal(image_resize(img, size), -ENOTSUP);
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	char out[4096];
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img info --output=json '%s'", path), 0);
	assert_non_null(strstr(out, "\"virtual-size\": 3221225472"));
	img = open_or_die(path, NULL);
	uint8_t rd[4096];
	assert_int_equal(image_read(img, rd, sizeof(rd), 4096), 0);
	assert_memory_equal(rd, buf, sizeof(buf));
	assert_int_equal(image_read(img, rd, sizeof(rd), big - sizeof(rd)), 0);
	assert_memory_equal(rd, buf, sizeof(buf));
	assert_int_equal(image_close(img), 0);
	unlink(path);
}

static void test_prealloc(void **state)
{
	(void)state;
	for (int mode = IMAGE_PREALLOC_METADATA; mode <= IMAGE_PREALLOC_FULL; mode++) {
		char path[256], err[512], out[8192];
		tmp_path(path, sizeof(path), "prealloc");
		struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = 8ull << 20,
						  .prealloc = (enum image_prealloc)mode };
		assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
		assert_int_equal(qemu_check(path), 0);
		assert_int_equal(sh_out(out, sizeof(out), "qemu-img map --output=json '%s'", path), 0);
		assert_null(strstr(out, "\"data\": false"));
		struct image *img = open_or_die(path, NULL);
		uint8_t zero[4096] = { 0 }, rd[4096];
		assert_int_equal(image_read(img, rd, sizeof(rd), 5 << 20), 0);
		assert_memory_equal(rd, zero, sizeof(rd));
		assert_int_equal(image_close(img), 0);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_matches_qemu_info),
		cmocka_unit_test(test_create_refuses_bad_options),
		cmocka_unit_test(test_random_rw_cluster_sizes),
		cmocka_unit_test(test_random_rw_refcount_widths),
		cmocka_unit_test(test_reads_qemu_images),
		cmocka_unit_test(test_write_compressed),
		cmocka_unit_test(test_discard_and_zeroes),
		cmocka_unit_test(test_resize_grows),
		cmocka_unit_test(test_prealloc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
