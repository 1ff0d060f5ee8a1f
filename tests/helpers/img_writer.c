/* img_writer: drives the disk image library for the img_* integration tests.
 *
 *   img_writer ops [-s SEED] [-n COUNT] [--resize] IMAGE REF
 *       A seeded random run of writes, write-zeroes, discards, flushes and
 *       (with --resize) growths on IMAGE through the library, mirrored on
 *       the raw file REF (which starts with IMAGE's contents).  Reads are
 *       checked against REF as it goes.  Exit 0 when every check passed.
 *
 *   img_writer crash [-s SEED] [--threads N] --log LOG IMAGE
 *       Writes, write-zeroes and discards IMAGE in batches, forever (until
 *       killed), from N threads (default 1), each in its own part of the
 *       image.  Before a batch, its operations are appended to LOG and
 *       fsynced; after the batch, image_flush, then "F thread batch" is
 *       appended and fsynced.  So LOG names every operation that may have
 *       reached IMAGE, and which ones were flushed.
 *
 *   img_writer reopen IMAGE
 *       Opens IMAGE for writing and closes it (a dirty lazy-refcount image
 *       is repaired by the open).
 *
 *   img_writer verify --log LOG [-f raw|qcow2] IMAGE
 *       Replays LOG into a model of what each 512-byte sector must read
 *       (flushed batches are durable; an unfinished batch leaves its
 *       sectors unknown) and checks IMAGE against it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/image.h"

enum { SECTOR = 512 };

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: small, seedable, good enough for test sequences. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static void die(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "img_writer: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(2);
}

static struct image *open_image(const char *path, enum image_format fmt, bool readonly)
{
	struct image_options o = { .format = fmt, .readonly = readonly };
	struct image *img;
	char err[512];

	if (image_open(path, &o, &img, err, sizeof(err)) < 0)
		die("%s%s", err, "");
	return img;
}

/* ---- ops: random operations mirrored on a raw reference ----------------- */

static void check_io(int r, struct image *img, const char *what, uint64_t off, uint64_t len)
{
	if (r < 0) {
		fprintf(stderr, "img_writer: %s at %llu+%llu failed: %s\n", what,
			(unsigned long long)off, (unsigned long long)len, image_error(img));
		exit(1);
	}
}

static void ref_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
		die("reference write failed: %s%s", strerror(errno), "");
}

static void ref_pread(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);

	if (n < 0)
		die("reference read failed: %s%s", strerror(errno), "");
	memset((char *)buf + n, 0, len - (size_t)n); /* a sparse tail reads zero */
}

/* A random range inside SIZE: mostly cluster-ish, sometimes unaligned. */
static void pick_range(uint64_t size, size_t max, uint64_t *off, size_t *len)
{
	size_t l;

	if (rnd_below(4) == 0) {
		l = 1 + rnd_below(max);
		*off = rnd_below(size);
	} else {
		l = (1 + rnd_below(max / 4096)) * 4096;
		*off = rnd_below(size / 4096) * 4096;
	}
	if (*off >= size)
		*off = size - 1;
	if (l > size - *off)
		l = (size_t)(size - *off);
	*len = l;
}

static int run_ops(int argc, char **argv)
{
	enum { MAX_IO = 256 * 1024 };
	static const struct option longopts[] = {
		{ "resize", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t seed = 1, count = 1000, size, off;
	bool resize = false;
	unsigned char *a = malloc(MAX_IO), *b = malloc(MAX_IO);
	struct image *img;
	size_t len;
	int c, ref;
	uint64_t n[6] = { 0 };

	while ((c = getopt_long(argc, argv, "s:n:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'n': count = strtoull(optarg, NULL, 0); break;
		case 'r': resize = true; break;
		default: return 2;
		}
	}
	if (optind + 2 != argc || !a || !b)
		die("usage: img_writer ops [-s SEED] [-n COUNT] [--resize] IMAGE REF%s%s", "", "");
	rng_state = seed;
	img = open_image(argv[optind], IMAGE_FORMAT_DETECT, false);
	ref = open(argv[optind + 1], O_RDWR);
	if (ref < 0)
		die("%s: %s", argv[optind + 1], strerror(errno));
	size = image_size(img);

	for (uint64_t i = 0; i < count; i++) {
		unsigned op = (unsigned)rnd_below(100);

		pick_range(size, MAX_IO, &off, &len);
		if (op < 45) {                          /* write */
			for (size_t k = 0; k < len; k += 8) {
				uint64_t v = rnd();
				memcpy(a + k, &v, len - k < 8 ? len - k : 8);
			}
			check_io(image_write(img, a, len, off), img, "write", off, len);
			ref_pwrite(ref, a, len, off);
			n[0]++;
		} else if (op < 55) {                   /* write zeroes */
			check_io(image_write_zeroes(img, off, len, rnd_below(2)), img,
				 "write_zeroes", off, len);
			memset(a, 0, len);
			ref_pwrite(ref, a, len, off);
			n[1]++;
		} else if (op < 65) {                   /* discard: old data or zeroes */
			ref_pread(ref, b, len, off);
			check_io(image_discard(img, off, len), img, "discard", off, len);
			check_io(image_read(img, a, len, off), img, "read after discard", off, len);
			for (size_t k = 0; k < len; k++) {
				if (a[k] != b[k] && a[k] != 0) {
					fprintf(stderr, "img_writer: op %llu: byte %llu reads 0x%02x after "
						"a discard: neither its old value 0x%02x nor zero\n",
						(unsigned long long)i, (unsigned long long)(off + k), a[k], b[k]);
					return 1;
				}
			}
			ref_pwrite(ref, a, len, off);
			n[2]++;
		} else if (op < 70) {                   /* flush */
			check_io(image_flush(img), img, "flush", 0, 0);
			n[3]++;
		} else if (op < 72 && resize) {         /* grow */
			uint64_t grow = rnd_below(4 << 20) & ~(uint64_t)(SECTOR - 1);
			check_io(image_resize(img, size + grow), img, "resize", size, grow);
			if (ftruncate(ref, (off_t)(size + grow)) < 0)
				die("reference resize failed: %s%s", strerror(errno), "");
			size += grow;
			n[4]++;
		} else {                                /* read and compare */
			check_io(image_read(img, a, len, off), img, "read", off, len);
			ref_pread(ref, b, len, off);
			if (memcmp(a, b, len)) {
				size_t k = 0;
				while (a[k] == b[k])
					k++;
				fprintf(stderr, "img_writer: op %llu: byte %llu reads 0x%02x, "
					"the reference has 0x%02x\n", (unsigned long long)i,
					(unsigned long long)(off + k), a[k], b[k]);
				return 1;
			}
			n[5]++;
		}
		if (image_size(img) != size) {
			fprintf(stderr, "img_writer: size %llu, expected %llu\n",
				(unsigned long long)image_size(img), (unsigned long long)size);
			return 1;
		}
	}
	if (image_close(img) < 0)
		die("close (final flush) failed%s%s", "", "");
	close(ref);
	printf("ops: %llu writes, %llu write-zeroes, %llu discards, %llu flushes, "
	       "%llu resizes, %llu reads checked\n",
	       (unsigned long long)n[0], (unsigned long long)n[1], (unsigned long long)n[2],
	       (unsigned long long)n[3], (unsigned long long)n[4], (unsigned long long)n[5]);
	free(a);
	free(b);
	return 0;
}

/* ---- crash: batches logged before they run, flushes logged after -------- */

/* The byte every sector S of write SEQ is filled with: never zero, and
 * different for neighbouring sectors, so a misplaced sector shows. */
static unsigned char pattern(uint64_t seq, uint64_t sector)
{
	return (unsigned char)((seq * 131 + sector) % 251 + 1);
}

static void log_append(int fd, const char *s, size_t n)
{
	if (write(fd, s, n) != (ssize_t)n || fdatasync(fd) < 0)
		die("log write failed: %s%s", strerror(errno), "");
}

struct crash_thread {
	pthread_t tid;
	int id, logfd;
	struct image *img;
	uint64_t first, sectors; /* the thread's own part of the image */
	uint64_t seed;
};

static pthread_mutex_t seq_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t crash_seq;

static uint64_t next_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&seq_lock);
	s = ++crash_seq;
	pthread_mutex_unlock(&seq_lock);
	return s;
}

/* One writer: batches of operations in its own sectors, each batch logged
 * (one append, so batches of different threads do not interleave) before
 * it runs and its flush logged after. */
static void *crash_writer(void *arg)
{
	enum { OPS_PER_BATCH = 8, MAX_SECTORS = 256 };
	struct crash_thread *t = arg;
	unsigned char *buf = malloc(MAX_SECTORS * SECTOR);
	uint64_t state = t->seed, batch = 0;

	if (!buf)
		die("out of memory%s%s", "", "");
	for (;;) {
		struct { char kind; uint64_t sector, count, seq; } ops[OPS_PER_BATCH];
		char line[128 * (OPS_PER_BATCH + 1)];
		size_t n = 0;

		batch++;
		n += (size_t)snprintf(line + n, sizeof(line) - n, "B %d %llu\n", t->id,
				      (unsigned long long)batch);
		for (int i = 0; i < OPS_PER_BATCH; i++) {
			unsigned k;

			/* A per-thread generator: rnd() is not thread-safe. */
			pthread_mutex_lock(&seq_lock);
			rng_state = state;
			k = (unsigned)rnd_below(10);
			ops[i].count = 1 + rnd_below(MAX_SECTORS);
			ops[i].sector = t->first + rnd_below(t->sectors);
			state = rng_state;
			pthread_mutex_unlock(&seq_lock);
			if (ops[i].sector + ops[i].count > t->first + t->sectors)
				ops[i].count = t->first + t->sectors - ops[i].sector;
			ops[i].kind = k < 7 ? 'W' : k < 9 ? 'D' : 'Z';
			ops[i].seq = next_seq();
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%c %llu %llu %llu\n",
					      ops[i].kind, (unsigned long long)ops[i].sector,
					      (unsigned long long)ops[i].count,
					      (unsigned long long)ops[i].seq);
		}
		log_append(t->logfd, line, n);
		for (int i = 0; i < OPS_PER_BATCH; i++) {
			uint64_t off = ops[i].sector * SECTOR, len = ops[i].count * SECTOR;
			int r;

			if (ops[i].kind == 'W') {
				for (uint64_t s = 0; s < ops[i].count; s++)
					memset(buf + s * SECTOR, pattern(ops[i].seq, ops[i].sector + s), SECTOR);
				r = image_write(t->img, buf, len, off);
			} else if (ops[i].kind == 'D') {
				r = image_discard(t->img, off, len);
			} else {
				r = image_write_zeroes(t->img, off, len, true);
			}
			check_io(r, t->img, ops[i].kind == 'W' ? "write" : ops[i].kind == 'D' ?
				 "discard" : "write_zeroes", off, len);
		}
		check_io(image_flush(t->img), t->img, "flush", 0, 0);
		n = (size_t)snprintf(line, sizeof(line), "F %d %llu\n", t->id,
				     (unsigned long long)batch);
		log_append(t->logfd, line, n);
	}
	return NULL;
}

static int run_crash(int argc, char **argv)
{
	enum { MAX_THREADS = 16 };
	static const struct option longopts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct crash_thread th[MAX_THREADS];
	const char *logpath = NULL;
	uint64_t seed = 1, sectors;
	struct image *img;
	struct stat st;
	int c, logfd, nthreads = 1;

	while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'l': logpath = optarg; break;
		case 't': nthreads = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || !logpath || nthreads < 1 || nthreads > MAX_THREADS)
		die("usage: img_writer crash [-s SEED] [--threads N] --log LOG IMAGE%s%s", "", "");
	logfd = open(logpath, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (logfd < 0 || fstat(logfd, &st) < 0)
		die("%s: %s", logpath, strerror(errno));
	/* Write sequence numbers continue across lives: start past the log. */
	crash_seq = (uint64_t)st.st_size;
	img = open_image(argv[optind], IMAGE_FORMAT_DETECT, false);
	sectors = image_size(img) / SECTOR;
	for (int i = 0; i < nthreads; i++) {
		th[i] = (struct crash_thread){
			.id = i, .logfd = logfd, .img = img,
			.first = sectors * (uint64_t)i / (uint64_t)nthreads,
			.seed = seed * 1000003 + (uint64_t)i,
		};
		th[i].sectors = sectors * (uint64_t)(i + 1) / (uint64_t)nthreads - th[i].first;
		if (pthread_create(&th[i].tid, NULL, crash_writer, &th[i]))
			die("pthread_create failed%s%s", "", "");
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i].tid, NULL);
	return 0;
}

/* ---- verify: replay the log into a sector model, check the image --------- */

enum { KNOWN, ZERO_OR_OLD, UNKNOWN };
struct sector_state {
	unsigned char state, value;
};

static int run_verify(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "log", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	enum image_format fmt = IMAGE_FORMAT_DETECT;
	const char *logpath = NULL;
	struct sector_state *m;
	struct image *img;
	uint64_t sectors, counts[3] = { 0 }, batches = 0, flushed = 0;
	unsigned char buf[SECTOR];
	char line[256];
	FILE *log;
	int c;
	/* Each thread's current batch, applied when its F line is seen.
	 * Operation lines belong to the B line before them (a batch is
	 * logged with one append). */
	enum { MAX_THREADS = 16 };
	struct op { char kind; uint64_t sector, count, seq; };
	struct { struct op *ops; size_t n, cap; } pend[MAX_THREADS] = { { 0 } };
	int cur = -1;
	while ((c = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fmt = !strcmp(optarg, "raw") ? IMAGE_FORMAT_RAW : IMAGE_FORMAT_QCOW2;
			break;
		case 'l': logpath = optarg; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc || !logpath)
		die("usage: img_writer verify --log LOG [-f FMT] IMAGE%s%s", "", "");
	img = open_image(argv[optind], fmt, true);
	sectors = image_size(img) / SECTOR;
	m = calloc(sectors, sizeof(*m)); /* a new image reads zero: KNOWN 0 */
	log = fopen(logpath, "r");
	if (!m || !log)
		die("%s: %s", logpath, strerror(errno));

	while (fgets(line, sizeof(line), log)) {
		char kind;
		unsigned long long a, b, sq;
		int t;

		if (!strchr(line, '\n'))
			break; /* a torn last line */
		if (sscanf(line, "B %d %llu", &t, &a) == 2 && t >= 0 && t < MAX_THREADS) {
			/* A batch of T that never saw its F: its sectors are unknown. */
			for (size_t i = 0; i < pend[t].n; i++)
				for (uint64_t k = 0; k < pend[t].ops[i].count; k++)
					m[pend[t].ops[i].sector + k].state = UNKNOWN;
			pend[t].n = 0;
			cur = t;
			batches++;
		} else if (sscanf(line, "F %d %llu", &t, &a) == 2 && t >= 0 && t < MAX_THREADS) {
			for (size_t i = 0; i < pend[t].n; i++) {
				struct op *o = &pend[t].ops[i];
				for (uint64_t k = 0; k < o->count; k++) {
					struct sector_state *p = &m[o->sector + k];
					if (o->kind == 'W')
						*p = (struct sector_state){ KNOWN, pattern(o->seq, o->sector + k) };
					else if (o->kind == 'Z')
						*p = (struct sector_state){ KNOWN, 0 };
					else if (p->state == KNOWN)
						p->state = ZERO_OR_OLD;
				}
			}
			pend[t].n = 0;
			flushed++;
		} else if (sscanf(line, "%c %llu %llu %llu", &kind, &a, &b, &sq) == 4 && cur >= 0) {
			if (a + b > sectors)
				die("log line outside the image: %s%s", line, "");
			if (pend[cur].n == pend[cur].cap) {
				pend[cur].cap = pend[cur].cap ? pend[cur].cap * 2 : 16;
				pend[cur].ops = realloc(pend[cur].ops, pend[cur].cap * sizeof(struct op));
				if (!pend[cur].ops)
					die("out of memory%s%s", "", "");
			}
			pend[cur].ops[pend[cur].n++] = (struct op){ kind, a, b, sq };
		}
	}
	for (int t = 0; t < MAX_THREADS; t++)
		for (size_t i = 0; i < pend[t].n; i++)
			for (uint64_t k = 0; k < pend[t].ops[i].count; k++)
				m[pend[t].ops[i].sector + k].state = UNKNOWN;
	fclose(log);

	for (uint64_t s = 0; s < sectors; s++) {
		int r;

		counts[m[s].state]++;
		if (m[s].state == UNKNOWN)
			continue;
		r = image_read(img, buf, SECTOR, s * SECTOR);
		if (r < 0) {
			fprintf(stderr, "img_writer: read of sector %llu failed: %s\n",
				(unsigned long long)s, image_error(img));
			return 1;
		}
		for (int k = 0; k < SECTOR; k++) {
			if (buf[k] == m[s].value || (m[s].state == ZERO_OR_OLD && buf[k] == 0))
				continue;
			fprintf(stderr, "img_writer: sector %llu byte %d reads 0x%02x; the last "
				"flushed batch left it %s0x%02x\n", (unsigned long long)s, k, buf[k],
				m[s].state == ZERO_OR_OLD ? "zero or " : "", m[s].value);
			return 1;
		}
	}
	image_close(img);
	free(m);
	for (int t = 0; t < MAX_THREADS; t++)
		free(pend[t].ops);
	printf("verify: %llu batches (%llu flushed); sectors: %llu known, %llu zero-or-old, "
	       "%llu unknown\n", (unsigned long long)batches, (unsigned long long)flushed,
	       (unsigned long long)counts[KNOWN], (unsigned long long)counts[ZERO_OR_OLD],
	       (unsigned long long)counts[UNKNOWN]);
	return 0;
}

static int run_reopen(int argc, char **argv)
{
	if (argc != 2)
		die("usage: img_writer reopen IMAGE%s%s", "", "");
	if (image_close(open_image(argv[1], IMAGE_FORMAT_DETECT, false)) < 0)
		die("%s: close failed%s", argv[1], "");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ops"))
		return run_ops(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "crash"))
		return run_crash(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "reopen"))
		return run_reopen(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return run_verify(argc - 1, argv + 1);
	fprintf(stderr, "usage: img_writer ops|crash|reopen|verify ... (see the source's head comment)\n");
	return 2;
}
