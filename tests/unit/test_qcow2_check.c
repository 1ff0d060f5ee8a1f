/* qcow2 check and repair: planted leaks and too-low refcounts are found
 * (worded as qemu-img check words them) and fixed so that qemu-img check
 * passes; the statistics match qemu-img check's; lazy refcounts set the
 * dirty bit and a dirty image's refcounts are rebuilt on open. */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

static uint64_t get64(const char *path, uint64_t off)
{
	uint64_t v = 0;
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, &v, 8, (off_t)off), 8);
	close(fd);
	return be64toh(v);
}

/* Sets the 16-bit refcount of CLUSTER (first refcount block only). */
static void set_refcount16(const char *path, uint64_t cluster, uint16_t v)
{
	uint64_t rb = get64(path, get64(path, 48));
	int fd = open(path, O_WRONLY);
	v = htobe16(v);
	assert_int_equal(pwrite(fd, &v, 2, (off_t)(rb + cluster * 2)), 2);
	close(fd);
}

struct lines {
	char text[8192];
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;
	strncat(l->text, line, sizeof(l->text) - strlen(l->text) - 2);
	strcat(l->text, "\n");
}

static void make_image(char *path, size_t len)
{
	uint8_t buf[65536];
	tmp_path(path, len, "check");
	assert_int_equal(create_qcow2(path, 8 << 20, 65536, 3, 16), 0);
	struct image *img = open_or_die(path, NULL);
	fill_pattern(buf, sizeof(buf), 1);
	for (int i = 0; i < 8; i++)
		assert_int_equal(image_write(img, buf, sizeof(buf), (uint64_t)i * 3 * 65536), 0);
	assert_int_equal(image_close(img), 0);
}

static void test_leak_found_and_fixed(void **state)
{
	(void)state;
	char path[256];
	struct lines l = { "" };
	struct image_check_result res;

	make_image(path, sizeof(path));
	/* A cluster past the last one in use, counted but unreferenced. */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	uint64_t leak = (uint64_t)st.st_size / 65536;
	assert_int_equal(truncate(path, (off_t)((leak + 1) * 65536)), 0);
	set_refcount16(path, leak, 1);
	assert_int_equal(qemu_check(path), 3); /* qemu-img: leaks only */

	struct image *img = open_or_die(path, NULL);
	assert_int_equal(image_check(img, 0, &res, collect, &l), 0);
	assert_int_equal(res.leaks, 1);
	assert_int_equal(res.corruptions, 0);
	char want[128];
	snprintf(want, sizeof(want), "Leaked cluster %llu refcount=1 reference=0",
		 (unsigned long long)leak);
	assert_non_null(strstr(l.text, want));
	assert_int_equal(image_check(img, IMAGE_FIX_LEAKS, &res, NULL, NULL), 0);
	assert_int_equal(res.leaks_fixed, 1);
	assert_int_equal(res.leaks, 0);
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	unlink(path);
}

static void test_low_refcount_found_and_fixed(void **state)
{
	(void)state;
	char path[256];
	struct lines l = { "" };
	struct image_check_result res;
	uint8_t buf[65536], rd[65536];

	make_image(path, sizeof(path));
	/* The first data cluster loses its refcount: a corruption. */
	uint64_t l2 = get64(path, get64(path, 40)) & 0x00fffffffffffe00ull;
	uint64_t data = get64(path, l2) & 0x00fffffffffffe00ull;
	set_refcount16(path, data / 65536, 0);
	assert_int_equal(qemu_check(path), 2);

	struct image *img = open_or_die(path, NULL);
	assert_int_equal(image_check(img, IMAGE_FIX_LEAKS, &res, collect, &l), 0);
	assert_int_equal(res.corruptions, 2); /* the refcount and the copied flag */
	char want[128];
	snprintf(want, sizeof(want), "ERROR cluster %llu refcount=0 reference=1",
		 (unsigned long long)(data / 65536));
	assert_non_null(strstr(l.text, want));
	assert_non_null(strstr(l.text, "ERROR OFLAG_COPIED data cluster"));
	assert_int_equal(image_check(img, IMAGE_FIX_LEAKS | IMAGE_FIX_ERRORS, &res, NULL, NULL), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.corruptions_fixed, 1);
	fill_pattern(buf, sizeof(buf), 1);
	assert_int_equal(image_read(img, rd, sizeof(rd), 0), 0);
	assert_memory_equal(rd, buf, sizeof(rd));
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	unlink(path);
}

static uint64_t json_num(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	if (!p)
		return UINT64_MAX;
	p = strchr(p, ':');
	return strtoull(p + 1, NULL, 10);
}

/* Our statistics agree with qemu-img check on a qemu-made image with
 * compressed, fragmented and snapshot-shared clusters. */
static void test_statistics_match_qemu(void **state)
{
	(void)state;
	char raw[256], path[256], out[8192];
	uint8_t *data = calloc(1, 4 << 20);
	tmp_path(raw, sizeof(raw), "statraw");
	tmp_path(path, sizeof(path), "stat");
	for (int i = 0; i < 64; i += 2)
		memset(data + i * 65536, i + 1, 65536);
	assert_int_equal(write_file(raw, data, 4 << 20), 0);
	assert_int_equal(sh("qemu-img convert -c -f raw -O qcow2 '%s' '%s'", raw, path), 0);
	assert_int_equal(sh("qemu-img snapshot -c s1 '%s'", path), 0);
	assert_int_equal(sh("qemu-io -c 'write -P 7 3M 200k' -c 'write -P 8 100k 4k' '%s' >/dev/null",
			    path), 0);
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img check --output=json '%s'", path), 0);

	struct image_options ro = { .readonly = true };
	struct image *img = open_or_die(path, &ro);
	struct image_check_result res;
	assert_int_equal(image_check(img, 0, &res, NULL, NULL), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
	assert_int_equal(res.total_clusters, json_num(out, "\"total-clusters\""));
	assert_int_equal(res.allocated_clusters, json_num(out, "\"allocated-clusters\""));
	assert_int_equal(res.fragmented_clusters, json_num(out, "\"fragmented-clusters\""));
	assert_int_equal(res.compressed_clusters, json_num(out, "\"compressed-clusters\""));
	assert_int_equal(res.image_end_offset, json_num(out, "\"image-end-offset\""));
	assert_int_equal(image_close(img), 0);
	unlink(raw);
	unlink(path);
	free(data);
}

static void test_lazy_refcounts_dirty_repair(void **state)
{
	(void)state;
	char path[256], err[512], out[8192];
	uint8_t buf[65536], rd[65536];
	tmp_path(path, sizeof(path), "lazy");
	struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = 8 << 20,
					  .lazy_refcounts = true };
	assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
	fill_pattern(buf, sizeof(buf), 4);

	/* A writer that dies without closing leaves the dirty bit set. */
	pid_t pid = fork();
	if (pid == 0) {
		struct image *img = open_or_die(path, NULL);
		for (int i = 0; i < 16; i++)
			image_write(img, buf, sizeof(buf), (uint64_t)i * 65536 * 2);
		image_flush(img);
		image_write(img, buf, 512, 7 << 20);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img info --output=json '%s'", path), 0);
	assert_non_null(strstr(out, "\"dirty-flag\": true"));

	/* Plant a wrong refcount as lazy refcounts may leave one. */
	uint64_t rb = get64(path, get64(path, 48));
	int fd = open(path, O_WRONLY);
	uint16_t zero = 0;
	assert_int_equal(pwrite(fd, &zero, 2, (off_t)(rb + 5 * 2)), 2);
	close(fd);

	/* Read-only opens are fine and do not repair. */
	struct image_options ro = { .readonly = true };
	struct image *img = open_or_die(path, &ro);
	assert_non_null(img);
	struct image_info info;
	assert_int_equal(image_get_info(img, &info), 0);
	assert_true(info.dirty);
	image_info_free(&info);
	image_close(img);

	img = open_or_die(path, NULL);
	assert_non_null(img);
	assert_int_equal(image_get_info(img, &info), 0);
	assert_false(info.dirty);
	image_info_free(&info);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(image_read(img, rd, sizeof(rd), (uint64_t)i * 65536 * 2), 0);
		assert_memory_equal(rd, buf, sizeof(rd));
	}
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	assert_int_equal(sh_out(out, sizeof(out), "qemu-img info --output=json '%s'", path), 0);
	assert_non_null(strstr(out, "\"dirty-flag\": false"));
	unlink(path);
}

/* image_check reports its progress: several times, never past the total,
 * never backwards, and ends at the total. */
struct progress_seen {
	unsigned calls;
	uint64_t last_done, total;
	bool backwards, past_total;
};

static void record_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_seen *p = ctx;
	if (p->calls && done < p->last_done)
		p->backwards = true;
	if (done > total)
		p->past_total = true;
	p->calls++;
	p->last_done = done;
	p->total = total;
}

static void test_check_reports_progress(void **state)
{
	(void)state;
	char path[256], err[256];
	tmp_path(path, sizeof(path), "progress");
	struct image_create_options o = { .format = IMAGE_FORMAT_QCOW2, .size = 16 << 20,
					  .cluster_size = 512 };
	assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
	struct image *img = open_or_die(path, NULL);
	static uint8_t buf[1 << 20];
	memset(buf, 0x5a, sizeof(buf));
	for (uint64_t off = 0; off < (16u << 20); off += 2u << 20)
		assert_int_equal(image_write(img, buf, sizeof(buf), off), 0);

	struct progress_seen seen = { 0 };
	struct image_check_result res;
	image_set_progress(img, record_progress, &seen);
	assert_int_equal(image_check(img, 0, &res, NULL, NULL), 0);
	assert_int_equal(res.corruptions, 0);
	assert_true(seen.calls > 2);
	assert_false(seen.backwards);
	assert_false(seen.past_total);
	assert_int_equal(seen.last_done, seen.total);

	image_set_progress(img, NULL, NULL); /* off again: no more calls */
	unsigned calls = seen.calls;
	assert_int_equal(image_check(img, 0, &res, NULL, NULL), 0);
	assert_int_equal(seen.calls, calls);
	assert_int_equal(image_close(img), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leak_found_and_fixed),
		cmocka_unit_test(test_low_refcount_found_and_fixed),
		cmocka_unit_test(test_statistics_match_qemu),
		cmocka_unit_test(test_lazy_refcounts_dirty_repair),
		cmocka_unit_test(test_check_reports_progress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
