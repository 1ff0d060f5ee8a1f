/* qcow2 internal snapshots (made by qemu-img snapshot -c) and backing
 * files: writes after a snapshot copy on write so the snapshot keeps its
 * data; opening at a snapshot; read-through to backing chains of raw and
 * qcow2 files, partial-cluster writes filled from the backing file,
 * discard and zeroes hiding the backing file, loops refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <libgen.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

#define SIZE (4ull << 20)

static void test_snapshot_cow(void **state)
{
	(void)state;
	for (int compat = 2; compat <= 3; compat++) {
		char path[256], raw[256];
		uint8_t *a = malloc(SIZE), *b = malloc(SIZE), *buf = malloc(SIZE);
		uint64_t seed = 77;

		tmp_path(path, sizeof(path), "snap");
		tmp_path(raw, sizeof(raw), "snapraw");
		assert_int_equal(create_qcow2(path, SIZE, 65536, compat, 16), 0);
		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		fill_pattern(a, SIZE, 1);
		memset(a + (3 << 20), 0, 1 << 20); /* some clusters stay unallocated */
		assert_img_ok(img, image_write(img, a, 3 << 20, 0));
		assert_int_equal(image_close(img), 0);
		assert_int_equal(sh("qemu-img snapshot -c snap1 '%s'", path), 0);

		/* Writes after the snapshot: partial and whole clusters. */
		img = open_or_die(path, NULL);
		assert_non_null(img);
		memcpy(b, a, SIZE);
		for (int i = 0; i < 60; i++) {
			uint64_t len = 1 + rng_next(&seed) % 150000;
			uint64_t off = rng_next(&seed) % (SIZE - len);
			fill_pattern(buf, len, seed);
			assert_img_ok(img, image_write(img, buf, len, off));
			memcpy(b + off, buf, len);
		}
		if (compat == 3) {
			assert_img_ok(img, image_discard(img, 1 << 20, 256 << 10));
			memset(b + (1 << 20), 0, 256 << 10);
			assert_img_ok(img, image_write_zeroes(img, 2 << 20, 128 << 10, true));
			memset(b + (2 << 20), 0, 128 << 10);
		}
		assert_int_equal(compare_image(img, b, SIZE), -1);
		struct image_info info;
		assert_int_equal(image_get_info(img, &info), 0);
		assert_int_equal(info.nb_snapshots, 1);
		assert_string_equal(info.snapshots[0].name, "snap1");
		assert_int_equal(info.snapshots[0].disk_size, SIZE);
		{
			/* The same snapshot fields as qemu-img info. */
			static char out[16384];
			char want[128];
			assert_int_equal(sh_out(out, sizeof(out), "qemu-img info -U --output=json '%s'",
						path), 0);
			snprintf(want, sizeof(want), "\"date-sec\": %u", info.snapshots[0].date_sec);
			assert_non_null(strstr(out, want));
			snprintf(want, sizeof(want), "\"date-nsec\": %u", info.snapshots[0].date_nsec);
			assert_non_null(strstr(out, want));
			snprintf(want, sizeof(want), "\"id\": \"%s\"", info.snapshots[0].id);
			assert_non_null(strstr(out, want));
			snprintf(want, sizeof(want), "\"vm-state-size\": %llu",
				 (unsigned long long)info.snapshots[0].vm_state_size);
			assert_non_null(strstr(out, want));
		}
		image_info_free(&info);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(qemu_check(path), 0);

		/* The snapshot still has the old data, seen by us and by qemu. */
		struct image_options so = { .snapshot = "snap1" };
		img = open_or_die(path, &so);
		assert_non_null(img);
		assert_true(image_readonly(img));
		assert_int_equal(compare_image(img, a, SIZE), -1);
		assert_int_equal(image_write(img, buf, 512, 0), -EROFS);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(write_file(raw, a, SIZE), 0);
		assert_int_equal(sh("qemu-img convert -l snap1 -O raw '%s' '%s.out' && cmp -s '%s' '%s.out'",
				    path, raw, raw, raw), 0);
		assert_int_equal(sh("qemu-img snapshot -a snap1 '%s'", path), 0);
		assert_int_equal(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, path), 0);
		struct image_options bad = { .snapshot = "nope" };
		struct image *x;
		char err[512];
		assert_int_equal(image_open(path, &bad, &x, err, sizeof(err)), -ENOENT);
		assert_non_null(strstr(err, "nope"));
		sh("rm -f '%s.out'", raw);
		unlink(path);
		unlink(raw);
		free(a);
		free(b);
		free(buf);
	}
}

static void test_backing_chain(void **state)
{
	(void)state;
	char base[256], mid[256], top[256], raw[256], err[512];
	uint64_t bsize = 3ull * 1024 * 1024 + 1536; /* not cluster aligned */
	uint8_t *model = calloc(1, SIZE), *buf = malloc(1 << 20);

	tmp_path(base, sizeof(base), "base");
	tmp_path(mid, sizeof(mid), "mid");
	tmp_path(top, sizeof(top), "top");
	tmp_path(raw, sizeof(raw), "chainraw");
	fill_pattern(model, bsize, 5);
	assert_int_equal(write_file(base, model, bsize), 0);

	/* mid: made by qemu-img, with a relative backing name, one write. */
	assert_int_equal(sh("qemu-img create -q -f qcow2 -b '%s' -F raw '%s' %llu", basename(base),
			    mid, (unsigned long long)SIZE), 0);
	assert_int_equal(sh("qemu-io -c 'write -P 0x3c 100k 8k' '%s' >/dev/null", mid), 0);
	memset(model + 100 * 1024, 0x3c, 8192);

	/* top: made by us on mid, size taken from it. */
	struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .backing_file = mid,
					  .backing_fmt = "qcow2" };
	assert_int_equal(image_create(top, &o, err, sizeof(err)), 0);
	struct image *img = open_or_die(top, NULL);
	assert_non_null(img);
	assert_int_equal(image_size(img), SIZE);
	/* Past the base file's end reads zero. */
	assert_int_equal(compare_image(img, model, SIZE), -1);

	struct image_extent ext;
	assert_img_ok(img, image_map(img, 100 * 1024, 8192, &ext));
	assert_int_equal(ext.depth, 1);
	assert_true(ext.flags & IMAGE_EXT_DATA);
	assert_img_ok(img, image_map(img, 0, 4096, &ext));
	assert_int_equal(ext.depth, 2);

	/* Partial-cluster writes keep the rest of the cluster from below. */
	fill_pattern(buf, 3000, 9);
	assert_img_ok(img, image_write(img, buf, 3000, 70000));
	memcpy(model + 70000, buf, 3000);
	assert_img_ok(img, image_write(img, buf, 3000, bsize - 1000));
	memcpy(model + bsize - 1000, buf, 3000);
	/* Discard and zeroes must not let the backing data show through. */
	assert_img_ok(img, image_discard(img, 1 << 20, 1 << 20));
	memset(model + (1 << 20), 0, 1 << 20);
	assert_img_ok(img, image_write_zeroes(img, 5000, 200000, false));
	memset(model + 5000, 0, 200000);
	assert_int_equal(compare_image(img, model, SIZE), -1);
	assert_img_ok(img, image_map(img, 5ull << 19, 4096, &ext));
	assert_int_equal(ext.depth, 2);
	assert_img_ok(img, image_map(img, 1 << 20, 1 << 20, &ext));
	assert_int_equal(ext.depth, 0);
	assert_true(ext.flags & IMAGE_EXT_ZERO);
	assert_int_equal(image_close(img), 0);

	assert_int_equal(qemu_check(top), 0);
	assert_int_equal(write_file(raw, model, SIZE), 0);
	assert_int_equal(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, top), 0);
	char out[8192];
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img info --output=json '%s'", top), 0);
	assert_non_null(strstr(out, "\"backing-filename-format\": \"qcow2\""));

	struct image_options nb = { .no_backing = true, .readonly = true };
	img = open_or_die(top, &nb);
	assert_non_null(img);
	struct image_info info;
	assert_int_equal(image_get_info(img, &info), 0);
	assert_string_equal(info.backing_file, mid);
	assert_string_equal(info.backing_fmt, "qcow2");
	image_info_free(&info);
	assert_int_equal(image_close(img), 0);

	unlink(base);
	unlink(mid);
	unlink(top);
	unlink(raw);
	free(model);
	free(buf);
}

static void test_backing_loop_refused(void **state)
{
	(void)state;
	char a[256], b[256], err[512];
	struct image *img;

	tmp_path(a, sizeof(a), "loopa");
	tmp_path(b, sizeof(b), "loopb");
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b '%s' -F qcow2 '%s' 1M", b, a), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b '%s' -F qcow2 '%s' 1M", a, b), 0);
	assert_int_equal(image_open(a, NULL, &img, err, sizeof(err)), -ELOOP);
	assert_non_null(strstr(err, "loop"));
	/* A missing backing file is an error that names it. */
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b /nonexistent/x.raw -F raw '%s' 1M", a),
			 0);
	assert_true(image_open(a, NULL, &img, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "/nonexistent/x.raw"));
	unlink(a);
	unlink(b);
}

static int opened_names;
static int test_opener(void *ctx, const char *name, const char *child, bool writable)
{
	(void)child;
	(void)writable;
	if (strcmp(name, "not-a-real-path"))
		return -1;
	opened_names++;
	return open((const char *)ctx, O_RDONLY);
}

static void test_backing_opener(void **state)
{
	(void)state;
	char base[256], top[256];
	uint8_t data[4096], rd[4096];
	tmp_path(base, sizeof(base), "obase");
	tmp_path(top, sizeof(top), "otop");
	fill_pattern(data, sizeof(data), 3);
	assert_int_equal(write_file(base, data, sizeof(data)), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -u -b not-a-real-path -F raw '%s' 4096",
			    top), 0);
	struct image_options o = { .open_backing = test_opener, .opener_ctx = base };
	struct image *img = open_or_die(top, &o);
	assert_non_null(img);
	assert_int_equal(opened_names, 1);
	assert_int_equal(image_read(img, rd, sizeof(rd), 0), 0);
	assert_memory_equal(rd, data, sizeof(rd));
	assert_int_equal(image_close(img), 0);
	unlink(base);
	unlink(top);
}

/* We and qemu take turns writing one image (with snapshots taken and
 * deleted by qemu in between); both always see the same data. */
static void test_alternating_with_qemu(void **state)
{
	(void)state;
	char path[256], raw[256];
	uint64_t seed = 4711;
	uint8_t *model = calloc(1, SIZE), *buf = malloc(200000);

	tmp_path(path, sizeof(path), "alt");
	tmp_path(raw, sizeof(raw), "altraw");
	assert_int_equal(create_qcow2(path, SIZE, 4096, 3, 16), 0);
	for (int round = 0; round < 6; round++) {
		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		assert_int_equal(compare_image(img, model, SIZE), -1);
		for (int i = 0; i < 30; i++) {
			uint64_t len = 1 + rng_next(&seed) % 100000;
			uint64_t off = rng_next(&seed) % (SIZE - len);
			fill_pattern(buf, len, seed);
			assert_img_ok(img, image_write(img, buf, len, off));
			memcpy(model + off, buf, len);
		}
		assert_int_equal(image_close(img), 0);
		assert_int_equal(qemu_check(path), 0);

		char cmd[1024] = "";
		for (int i = 0; i < 5; i++) {
			uint64_t off = (rng_next(&seed) % (SIZE / 512 - 300)) * 512;
			uint64_t len = (1 + rng_next(&seed) % 256) * 512;
			int pat = (int)(rng_next(&seed) & 0xff);
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
				 " -c 'write -P %d %llu %llu'", pat, (unsigned long long)off,
				 (unsigned long long)len);
			memset(model + off, pat, len);
		}
		assert_int_equal(sh("qemu-io%s '%s' >/dev/null", cmd, path), 0);
		if (round == 1 || round == 3)
			assert_int_equal(sh("qemu-img snapshot -c r%d '%s'", round, path), 0);
		if (round == 4)
			assert_int_equal(sh("qemu-img snapshot -d r1 '%s'", path), 0);
	}
	assert_int_equal(qemu_check(path), 0);
	assert_int_equal(write_file(raw, model, SIZE), 0);
	assert_int_equal(sh("qemu-img compare -q -f raw -F qcow2 '%s' '%s'", raw, path), 0);
	unlink(path);
	unlink(raw);
	free(model);
	free(buf);
}

/* image_map walks an image the way qemu-img map --output=json does:
 * the same extents, depths, zero/data flags and host offsets. */
static void compare_map_with_qemu(const char *path)
{
	static char out[65536];
	struct image_options ro = { .readonly = true };
	struct image *img = open_or_die(path, &ro);
	assert_non_null(img);
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img map --output=json '%s'", path), 0);
	char *line = out;
	uint64_t off = 0;
	while ((line = strstr(line, "{ \"start\""))) {
		unsigned long long start, length, hoff = 0;
		int depth;
		char zero[8], data[8];
		assert_int_equal(sscanf(line, "{ \"start\": %llu, \"length\": %llu, \"depth\": %d, "
					"\"present\": %*[a-z], \"zero\": %7[a-z], \"data\": %7[a-z]",
					&start, &length, &depth, zero, data), 5);
		char *end = strchr(line, '}');
		char *o = strstr(line, "\"offset\": ");
		bool has_off = o && o < end;
		if (has_off)
			hoff = strtoull(o + 10, NULL, 10);
		bool compressed = strstr(line, "\"compressed\": true") &&
				  strstr(line, "\"compressed\": true") < end;

		struct image_extent e;
		assert_int_equal(start, off);
		assert_img_ok(img, image_map(img, off, image_size(img) - off, &e));
		if (e.length != length || e.depth != depth)
			fprintf(stderr, "at %llu: qemu %llu depth %d, we %llu depth %d\n", start, length,
				depth, (unsigned long long)e.length, e.depth);
		assert_int_equal(e.length, length);
		assert_int_equal(e.depth, depth);
		assert_int_equal(!!(e.flags & IMAGE_EXT_ZERO), !strcmp(zero, "true"));
		assert_int_equal(!!(e.flags & IMAGE_EXT_DATA), !strcmp(data, "true"));
		/* qemu-img 7.2 does not print "compressed"; newer ones do. */
		if (strstr(out, "\"compressed\""))
			assert_int_equal(!!(e.flags & IMAGE_EXT_COMPRESSED), compressed);
		if (!(e.flags & IMAGE_EXT_COMPRESSED)) {
			assert_int_equal(e.has_host_offset, has_off);
			if (has_off)
				assert_int_equal(e.host_offset, hoff);
		}
		off += length;
		line = end;
	}
	assert_int_equal(off, image_size(img));
	image_close(img);
}

static void test_map_matches_qemu(void **state)
{
	(void)state;
	char base[256], top[256], comp[256];
	tmp_path(base, sizeof(base), "mapbase");
	tmp_path(top, sizeof(top), "maptop");
	tmp_path(comp, sizeof(comp), "mapcomp");
	assert_int_equal(sh("qemu-img create -q -f raw '%s' 4M && qemu-io -f raw -c 'write -P 1 0 1M' "
			    "-c 'write -P 2 2M 64k' '%s' >/dev/null", base, base), 0);
	assert_int_equal(sh("qemu-img create -q -f qcow2 -b '%s' -F raw '%s' && qemu-io "
			    "-c 'write -P 3 512k 128k' -c 'write -z 3M 128k' -c 'write -z -u 3584k 64k' "
			    "'%s' >/dev/null", base, top, top), 0);
	compare_map_with_qemu(top);
	assert_int_equal(sh("qemu-img convert -c -O qcow2 '%s' '%s'", top, comp), 0);
	compare_map_with_qemu(comp);
	/* And on an image we wrote. */
	struct image *img = open_or_die(top, NULL);
	uint8_t buf[70000];
	fill_pattern(buf, sizeof(buf), 1);
	assert_img_ok(img, image_write(img, buf, sizeof(buf), 1000));
	assert_img_ok(img, image_write_zeroes(img, 2 << 20, 256 << 10, false));
	assert_img_ok(img, image_discard(img, 1 << 20, 128 << 10));
	assert_int_equal(image_close(img), 0);
	compare_map_with_qemu(top);
	unlink(base);
	unlink(top);
	unlink(comp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot_cow),
		cmocka_unit_test(test_backing_chain),
		cmocka_unit_test(test_backing_loop_refused),
		cmocka_unit_test(test_backing_opener),
		cmocka_unit_test(test_alternating_with_qemu),
		cmocka_unit_test(test_map_matches_qemu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
