/* Crash safety at every write: this test defines pwrite and pwritev, so
 * the engine's writes go through a counter, and a child process running
 * a fixed workload (writes that copy on write from a snapshot, discards,
 * zeroes, compressed clusters, refcount blocks and refcount table growth,
 * L1 growth by resize, flushes) kills itself before its K-th write.  For
 * every K, qemu-img check must find no corruption (leaks are allowed). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

static long write_count, kill_at = -1;

static void count_write(void)
{
	if (++write_count == kill_at)
		raise(SIGKILL);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	count_write();
	return syscall(SYS_pwrite64, fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	count_write();
	return syscall(SYS_pwritev, fd, iov, cnt, (unsigned long)off, 0ul);
}

#define SIZE (2ull << 20)

static void workload(const char *path)
{
	struct image *img = open_or_die(path, NULL);
	uint8_t *buf = malloc(100000);
	uint64_t seed = 8;
	uint32_t cs = image_cluster_size(img);

	if (!img)
		_exit(2);
	for (int i = 0; i < 40; i++) {
		uint64_t len = 1 + rng_next(&seed) % 20000;
		uint64_t off = rng_next(&seed) % (SIZE - len);
		fill_pattern(buf, len, seed);
		switch (i % 8) {
		case 3:
			image_discard(img, off, len);
			break;
		case 5:
			image_write_zeroes(img, off, len, i & 1);
			break;
		case 6:
			for (uint32_t k = 0; k < cs; k++)
				buf[k] = (uint8_t)(k / 32);
			image_write_compressed(img, buf, cs, off / cs * cs);
			break;
		case 7:
			image_flush(img);
			break;
		default:
			image_write(img, buf, len, off);
		}
		if (i == 20)
			image_resize(img, 64ull << 20);
	}
	image_close(img);
	free(buf);
}

/* Variant 0: 512-byte clusters, 64-bit refcounts, an internal snapshot.
 * Variant 1: 4 KiB clusters, 2-bit refcounts, lazy refcounts, a raw
 * backing file (partial writes copy from it). */
static void make_base(const char *path, const char *backing, int variant)
{
	uint8_t *buf = malloc(SIZE);
	char err[512];
	fill_pattern(buf, SIZE, 3);
	if (variant == 0) {
		assert_int_equal(create_qcow2(path, SIZE, 512, 3, 64), 0);
		struct image *img = open_or_die(path, NULL);
		assert_int_equal(image_write(img, buf, SIZE / 2, 0), 0);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(sh("qemu-img snapshot -c s1 '%s'", path), 0);
	} else {
		assert_int_equal(write_file(backing, buf, SIZE), 0);
		struct image_create_options o = {
			.format = IMAGE_FORMAT_QCOW2, .cluster_size = 4096, .refcount_bits = 2,
			.lazy_refcounts = true, .backing_file = backing, .backing_fmt = "raw",
		};
		assert_int_equal(image_create(path, &o, err, sizeof(err)), 0);
	}
	free(buf);
}

static long run_child(const char *path, long at)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		write_count = 0;
		kill_at = at;
		workload(path);
		if (write(pipefd[1], &write_count, sizeof(write_count)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	long n = -1;
	if (read(pipefd[0], &n, sizeof(n)) != sizeof(n))
		n = -1;
	close(pipefd[0]);
	int st;
	waitpid(pid, &st, 0);
	return n;
}

static void kill_before_every_write(int variant)
{
	char base[256], path[256], backing[256];
	tmp_path(base, sizeof(base), "cpbase");
	tmp_path(path, sizeof(path), "cp");
	tmp_path(backing, sizeof(backing), "cpbacking");
	make_base(base, backing, variant);

	assert_int_equal(sh("cp '%s' '%s'", base, path), 0);
	long total = run_child(path, -1);
	assert_true(total > 50);
	assert_int_equal(qemu_check(path), 0);

	/* CRASH_STEP=1 tries every write (slow). */
	const char *env_step = getenv("CRASH_STEP");
	long step = env_step ? atol(env_step) : total / 200 + 1, checked = 0;
	for (long k = 1; k <= total; k += step) {
		assert_int_equal(sh("cp '%s' '%s'", base, path), 0);
		assert_int_equal(run_child(path, k), -1); /* it died */
		int rc = qemu_check(path);
		if (rc != 0 && rc != 3) {
			fprintf(stderr, "killed before write %ld of %ld:\n", k, total);
			sh("qemu-img check '%s' 2>&1 | head -20", path);
		}
		assert_true(rc == 0 || rc == 3);
		if (variant == 1) {
			/* Dirty (lazy refcounts): our next open rebuilds every
			 * refcount, leaks included. */
			struct image *img = open_or_die(path, NULL);
			assert_non_null(img);
			assert_int_equal(image_close(img), 0);
			assert_int_equal(qemu_check(path), 0);
		}
		checked++;
	}
	fprintf(stderr, "%ld crash points checked (%ld writes)\n", checked, total);
	unlink(base);
	unlink(path);
	unlink(backing);
}

static void test_kill_before_every_write_snapshot(void **state)
{
	(void)state;
	kill_before_every_write(0);
}

static void test_kill_before_every_write_backing_lazy(void **state)
{
	(void)state;
	kill_before_every_write(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill_before_every_write_snapshot),
		cmocka_unit_test(test_kill_before_every_write_backing_lazy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
