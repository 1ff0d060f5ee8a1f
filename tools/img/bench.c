/* cellvm-img bench: a timed run of reads or writes with qemu-img bench's
 * options and summary line.  Depth N means N requests in flight at once:
 * N threads calling the library, which serves them concurrently. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/img/img.h"

void img_bench_help(FILE *f)
{
	fprintf(f,
		"usage: cellvm-img bench [-q] [-w] [-c COUNT] [-d DEPTH] [-f FMT] [-s SIZE]\n"
		"                        [-o OFFSET] [-S STEP] [-t CACHE] [-i AIO] [-n]\n"
		"                        [--pattern=BYTE] [--flush-interval=N] [--no-drain] FILE\n"
		"\n"
		"Sends COUNT requests (default 75000) of SIZE bytes (default 4K), reads or\n"
		"with -w writes of BYTE (default 0), DEPTH at a time (default 64), the\n"
		"first at OFFSET (default 0), each next one STEP bytes further (default\n"
		"SIZE), wrapping at the end of the image, and prints the time taken.\n"
		"  -t CACHE   writeback (default) or unsafe: the host page cache;\n"
		"             writethrough: a flush after every write.  none and\n"
		"             directsync (O_DIRECT) are refused: the image library\n"
		"             has no direct I/O mode.\n"
		"  -i AIO, -n accepted for qemu-img compatibility (requests are\n"
		"             threads here)\n"
		"  --flush-interval=N  a flush after every N requests\n"
		"\n"
		"Examples:\n"
		"  cellvm-img bench -c 100000 -d 32 -s 4K disk.qcow2\n"
		"  cellvm-img bench -w -c 20000 -d 1 -s 64K -S 64K disk.qcow2\n");
}

struct bench {
	struct image *img;
	const char *path;
	bool write, flush_each;
	size_t bufsize;
	uint64_t step, image_size, flush_interval;
	int pattern;
	pthread_mutex_t lock;
	uint64_t next_offset, issued, done, count;
	int error;          /* first failure, -errno */
	uint64_t error_offset;
};

static void *bench_worker(void *arg)
{
	struct bench *b = arg;
	void *buf;

	if (posix_memalign(&buf, 4096, b->bufsize)) {
		pthread_mutex_lock(&b->lock);
		if (!b->error)
			b->error = -ENOMEM;
		pthread_mutex_unlock(&b->lock);
		return NULL;
	}
	memset(buf, b->pattern, b->bufsize);
	for (;;) {
		uint64_t off, n;
		int r;

		pthread_mutex_lock(&b->lock);
		if (b->issued == b->count || b->error) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		off = b->next_offset;
		b->issued++;
		/* As qemu-img 7.2: the next offset wraps modulo the image size. */
		b->next_offset = b->image_size ? (off + b->step) % b->image_size : 0;
		pthread_mutex_unlock(&b->lock);

		if (b->write)
			r = image_write(b->img, buf, b->bufsize, off);
		else
			r = image_read(b->img, buf, b->bufsize, off);
		if (r >= 0 && b->write && b->flush_each)
			r = image_flush(b->img);

		pthread_mutex_lock(&b->lock);
		n = ++b->done;
		if (r < 0 && !b->error) {
			b->error = r;
			b->error_offset = off;
		}
		pthread_mutex_unlock(&b->lock);
		if (r >= 0 && b->flush_interval && n % b->flush_interval == 0) {
			r = image_flush(b->img);
			if (r < 0) {
				pthread_mutex_lock(&b->lock);
				if (!b->error)
					b->error = r, b->error_offset = UINT64_MAX;
				pthread_mutex_unlock(&b->lock);
			}
		}
	}
	free(buf);
	return NULL;
}

static int parse_count(const char *opt, const char *s, uint64_t min, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < min)
		return img_usage_fail("bench", "invalid %s '%s'", opt, s);
	*out = v;
	return 0;
}

int img_bench_main(int argc, char **argv)
{
	enum { OPT_PATTERN = 256, OPT_FLUSH, OPT_NODRAIN };
	static const struct option longopts[] = {
		{ "pattern", required_argument, NULL, OPT_PATTERN },
		{ "flush-interval", required_argument, NULL, OPT_FLUSH },
		{ "no-drain", no_argument, NULL, OPT_NODRAIN },
		{ "force-share", no_argument, NULL, 'U' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .bufsize = 4096, .count = 75000 };
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	uint64_t depth = 64, offset = 0, step = 0, v;
	bool quiet = false;
	struct timespec t0, t1;
	pthread_t *threads;
	char err[200];
	uint64_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+c:d:f:ni:o:qs:S:t:wU", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_count("count", optarg, 1, &b.count))
				return IMG_EXIT_FAIL;
			break;
		case 'd':
			if (parse_count("queue depth", optarg, 1, &depth))
				return IMG_EXIT_FAIL;
			if (depth > 1024)
				return img_usage_fail("bench", "queue depth %llu is more than 1024",
						      (unsigned long long)depth);
			break;
		case 'f':
			if (img_parse_format(optarg, &fmt) < 0)
				return img_usage_fail("bench", "unknown format '%s' (raw or qcow2)", optarg);
			break;
		case 'n': break;
		case 'i':
			if (strcmp(optarg, "threads") && strcmp(optarg, "native") &&
			    strcmp(optarg, "io_uring"))
				return img_usage_fail("bench", "invalid aio mode '%s'", optarg);
			break;
		case 'o':
		case 'S':
		case 's':
			if (img_parse_size(optarg, &v, err, sizeof(err)) < 0)
				return img_usage_fail("bench", "%s", err);
			if (c == 'o')
				offset = v;
			else if (c == 'S')
				step = v;
			else if (v == 0 || v > (1u << 30))
				return img_usage_fail("bench", "buffer size must be 1 byte to 1G");
			else
				b.bufsize = v;
			break;
		case 'q': quiet = true; break;
		case 't':
			if (!strcmp(optarg, "writethrough"))
				b.flush_each = true;
			else if (!strcmp(optarg, "none") || !strcmp(optarg, "directsync"))
				return img_fail("bench: cache mode '%s' needs O_DIRECT, which the "
						"image library does not offer", optarg);
			else if (strcmp(optarg, "writeback") && strcmp(optarg, "unsafe"))
				return img_usage_fail("bench", "invalid cache mode '%s'", optarg);
			break;
		case 'w': b.write = true; break;
		case 'U': break;
		case OPT_PATTERN:
			if (parse_count("pattern", optarg, 0, &v))
				return IMG_EXIT_FAIL;
			if (v > 0xff)
				return img_usage_fail("bench", "pattern must be a byte (0-255)");
			b.pattern = (int)v;
			break;
		case OPT_FLUSH:
			if (parse_count("flush interval", optarg, 0, &b.flush_interval))
				return IMG_EXIT_FAIL;
			break;
		case OPT_NODRAIN: break;
		default:
			return img_usage_fail("bench", "bad option");
		}
	}
	if (optind + 1 != argc)
		return img_usage_fail("bench", optind >= argc ? "no FILE given" : "more than one FILE given");
	if (b.flush_interval && !b.write)
		return img_usage_fail("bench", "--flush-interval is only for writes (-w)");
	if (b.flush_interval && b.flush_interval < depth)
		return img_usage_fail("bench", "--flush-interval %llu is smaller than the depth %llu",
				      (unsigned long long)b.flush_interval, (unsigned long long)depth);
	b.path = argv[optind];
	b.step = step ? step : b.bufsize;
	b.next_offset = offset;
	if (img_open(b.path, fmt, !b.write, false, &b.img) < 0)
		return IMG_EXIT_FAIL;
	b.image_size = image_size(b.img);
	if (!quiet) {
		printf("Sending %llu %s requests, %zu bytes each, %llu in parallel "
		       "(starting at offset %llu, step size %llu)\n",
		       (unsigned long long)b.count, b.write ? "write" : "read", b.bufsize,
		       (unsigned long long)depth, (unsigned long long)offset,
		       (unsigned long long)b.step);
		if (b.flush_interval)
			printf("Sending flush every %llu requests\n",
			       (unsigned long long)b.flush_interval);
	}
	fflush(stdout);
	if (depth > b.count)
		depth = b.count; /* no idle threads */

	threads = calloc(depth, sizeof(*threads));
	pthread_mutex_init(&b.lock, NULL);
	if (!threads) {
		image_close(b.img);
		return img_fail("out of memory");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < depth; i++) {
		if (pthread_create(&threads[i], NULL, bench_worker, &b)) {
			pthread_mutex_lock(&b.lock);
			b.error = b.error ? b.error : -EAGAIN;
			pthread_mutex_unlock(&b.lock);
			break;
		}
	}
	depth = i;
	for (i = 0; i < depth; i++)
		pthread_join(threads[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(threads);
	pthread_mutex_destroy(&b.lock);

	if (b.error) {
		if (b.error_offset == UINT64_MAX)
			img_fail("%s: flush failed: %s", b.path, image_error(b.img));
		else
			img_fail("%s: %s at offset %llu failed: %s", b.path,
				 b.write ? "write" : "read", (unsigned long long)b.error_offset,
				 image_error(b.img));
		image_close(b.img);
		return IMG_EXIT_FAIL;
	}
	if (!quiet)
		printf("Run completed in %.3f seconds.\n",
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (image_close(b.img) < 0)
		return img_fail("%s: flush at close failed", b.path);
	return 0;
}
