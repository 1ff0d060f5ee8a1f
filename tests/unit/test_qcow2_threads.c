/* qcow2 under concurrency and crashes: threads writing, reading,
 * discarding and zeroing their own regions of one image (plus readers of
 * a shared region) end with every region matching its model; a writer
 * killed with SIGKILL at random moments leaves an image in which qemu-img
 * check finds no corruption and every flushed write is intact. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/image_test_util.h"

#define NTHREADS 4
#define REGION (2ull << 20)
#define SHARED (1ull << 20)

struct worker {
	struct image *img;
	int id;
	uint8_t *model;     /* this thread's region */
	const uint8_t *shared;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 1000 + (uint64_t)w->id, base = SHARED + (uint64_t)w->id * REGION;
	uint8_t *buf = malloc(200000), *rd = malloc(200000);

	for (int i = 0; i < 400; i++) {
		uint64_t len = 1 + rng_next(&seed) % 150000;
		uint64_t off = rng_next(&seed) % (REGION - len);
		switch (rng_next(&seed) % 8) {
		case 0:
			if (image_discard(w->img, base + off, len) < 0)
				w->failures++;
			/* Whole clusters inside read zero (no backing file). */
			for (uint64_t c = (off + 65535) & ~65535ull; c + 65536 <= off + len; c += 65536)
				memset(w->model + c, 0, 65536);
			break;
		case 1:
			if (image_write_zeroes(w->img, base + off, len, i & 1) < 0)
				w->failures++;
			memset(w->model + off, 0, len);
			break;
		case 2:
		case 3: {
			/* Readers of the shared region see it unchanged. */
			uint64_t so = rng_next(&seed) % (SHARED - 4096);
			if (image_read(w->img, rd, 4096, so) < 0 || memcmp(rd, w->shared + so, 4096))
				w->failures++;
			break;
		}
		default:
			fill_pattern(buf, len, seed);
			if (image_write(w->img, buf, len, base + off) < 0)
				w->failures++;
			memcpy(w->model + off, buf, len);
			if (image_read(w->img, rd, len, base + off) < 0 || memcmp(rd, buf, len))
				w->failures++;
		}
	}
	free(buf);
	free(rd);
	return NULL;
}

static void test_concurrent_regions(void **state)
{
	(void)state;
	char path[256];
	uint64_t size = SHARED + NTHREADS * REGION;
	uint8_t *shared = malloc(SHARED);
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];

	tmp_path(path, sizeof(path), "threads");
	assert_int_equal(create_qcow2(path, size, 65536, 3, 16), 0);
	struct image *img = open_or_die(path, NULL);
	fill_pattern(shared, SHARED, 42);
	/* Half of the shared region compressed: readers decompress at once. */
	for (uint64_t c = 0; c < SHARED / 2; c += 65536) {
		for (uint64_t k = 0; k < 65536; k++)
			shared[c + k] = (uint8_t)(k / 64 + c / 65536);
		assert_int_equal(image_write_compressed(img, shared + c, 65536, c), 0);
	}
	assert_int_equal(image_write(img, shared + SHARED / 2, SHARED / 2, SHARED / 2), 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .img = img, .id = i, .model = calloc(1, REGION),
					.shared = shared };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].failures, 0);
		uint8_t *rd = malloc(REGION);
		assert_int_equal(image_read(img, rd, REGION, SHARED + (uint64_t)i * REGION), 0);
		assert_memory_equal(rd, w[i].model, REGION);
		free(rd);
		free(w[i].model);
	}
	assert_int_equal(image_close(img), 0);
	assert_int_equal(qemu_check(path), 0);
	unlink(path);
	free(shared);
}

/* The child writes, discards and flushes; after each flush it reports how
 * many writes are durable.  Killed at a random moment. */
static void compressible(uint8_t *p, uint64_t len, uint32_t i)
{
	for (uint64_t k = 0; k < len; k++)
		p[k] = (uint8_t)(k / 64 + i);
}

static void crash_child(const char *path, int report_fd, uint64_t seed)
{
	struct image *img = open_or_die(path, NULL);
	uint32_t cs = image_cluster_size(img);
	uint8_t *buf = malloc(200000 + cs);
	for (uint32_t i = 0;; i++) {
		uint64_t len = 1 + rng_next(&seed) % 150000;
		uint64_t off = rng_next(&seed) % ((8ull << 20) - len);
		if (i % 7 == 3) {
			image_discard(img, off, len);
		} else if (i % 11 == 6) {
			compressible(buf, cs, i);
			image_write_compressed(img, buf, cs, off / cs * cs);
		} else {
			fill_pattern(buf, len, seed);
			image_write(img, buf, len, off);
		}
		if (i % 5 == 4) {
			image_flush(img);
			if (write(report_fd, &i, sizeof(i)) != sizeof(i))
				_exit(1);
		}
	}
}

static void test_sigkill_leaves_no_corruption(void **state)
{
	(void)state;
	static const uint32_t cs[] = { 65536, 4096, 512, 512 };
	static const unsigned rbits[] = { 16, 16, 64, 2 };
	for (int round = 0; round < 16; round++) {
		char path[256];
		int pipefd[2];
		tmp_path(path, sizeof(path), "crash");
		assert_int_equal(create_qcow2(path, 8ull << 20, cs[round % 4], 3, rbits[round % 4]), 0);
		if (round % 3 == 2 && rbits[round % 4] > 2)
			assert_int_equal(sh("qemu-img snapshot -c s '%s'", path), 0);
		assert_int_equal(pipe(pipefd), 0);
		pid_t pid = fork();
		if (pid == 0) {
			close(pipefd[0]);
			crash_child(path, pipefd[1], 31 + (uint64_t)round);
		}
		close(pipefd[1]);
		struct timespec ts = { 0, (long)(5 + round * 37 % 300) * 1000000L };
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		close(pipefd[0]);
		int rc = qemu_check(path);
		if (rc != 0 && rc != 3)
			sh("qemu-img check '%s'", path);
		assert_true(rc == 0 || rc == 3); /* 3: leaked clusters only */
		/* And we can open, repair leaks and use it. */
		struct image *img = open_or_die(path, NULL);
		assert_non_null(img);
		struct image_check_result res;
		assert_int_equal(image_check(img, IMAGE_FIX_LEAKS, &res, NULL, NULL), 0);
		assert_int_equal(res.corruptions, 0);
		assert_int_equal(image_close(img), 0);
		assert_int_equal(qemu_check(path), 0);
		unlink(path);
	}
}

/* Flushed data survives the kill: replay the child's writes up to its
 * last report and compare. */
static void test_flushed_writes_survive(void **state)
{
	(void)state;
	char path[256];
	int pipefd[2];
	uint64_t seed = 555;
	tmp_path(path, sizeof(path), "durable");
	assert_int_equal(create_qcow2(path, 8ull << 20, 65536, 3, 16), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		crash_child(path, pipefd[1], seed);
	}
	close(pipefd[1]);
	uint32_t last = 0, v;
	int got = 0;
	while (got < 30 && read(pipefd[0], &v, sizeof(v)) == sizeof(v)) {
		last = v;
		got++;
	}
	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);
	close(pipefd[0]);

	/* Rebuild what was durable at the last flush the parent saw.  Later
	 * writes may or may not have landed, so only check ranges that no
	 * later operation touched. */
	uint8_t *model = calloc(1, 8 << 20), *touched = calloc(1, 8 << 20);
	uint8_t *buf = malloc(200000);
	for (uint32_t i = 0; i <= last + 200; i++) {
		uint64_t len = 1 + rng_next(&seed) % 150000;
		uint64_t off = rng_next(&seed) % ((8ull << 20) - len);
		if (i > last) {
			memset(touched + off, 1, len);
			if (i % 7 != 3 && i % 11 == 6)
				memset(touched + off / 65536 * 65536, 1, 65536);
			continue;
		}
		if (i % 7 == 3) {
			for (uint64_t c = (off + 65535) & ~65535ull; c + 65536 <= off + len; c += 65536)
				memset(model + c, 0, 65536);
		} else if (i % 11 == 6) {
			compressible(model + off / 65536 * 65536, 65536, i);
		} else {
			fill_pattern(buf, len, seed);
			memcpy(model + off, buf, len);
		}
	}
	struct image *img = open_or_die(path, NULL);
	uint8_t *rd = malloc(8 << 20);
	assert_int_equal(image_read(img, rd, 8 << 20, 0), 0);
	uint64_t checked = 0;
	for (uint64_t i = 0; i < (8u << 20); i++) {
		if (touched[i])
			continue;
		checked++;
		if (rd[i] != model[i]) {
			fprintf(stderr, "byte 0x%llx differs\n", (unsigned long long)i);
			fail();
		}
	}
	assert_true(checked > 0);
	assert_int_equal(image_close(img), 0);
	unlink(path);
	free(model);
	free(touched);
	free(buf);
	free(rd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_regions),
		cmocka_unit_test(test_sigkill_leaves_no_corruption),
		cmocka_unit_test(test_flushed_writes_survive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
