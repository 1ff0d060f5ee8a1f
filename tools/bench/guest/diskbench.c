/*
 * diskbench: a small block-device benchmark that runs inside the test guest
 * (built static, added to the guest by tools/bench/guest_initrd.sh).
 *
 * On DEVICE opened with O_DIRECT it measures, in this order unless --tests
 * says otherwise:
 *   seq-read 1M    sequential 1 MiB reads
 *   seq-write 1M   sequential 1 MiB writes
 *   rand-read 4k   4 KiB reads at random 4 KiB-aligned offsets
 *   rand-write 4k  4 KiB writes at random 4 KiB-aligned offsets
 * each at queue depth 1 per job, for --seconds S (default 5) or --bytes N,
 * whichever ends first, over the first --size bytes of the device (default:
 * all of it; sequential tests wrap around).  --jobs N runs N threads per test,
 * each with its own file descriptor (sequential jobs start at evenly spaced
 * offsets).  Write tests end with fdatasync(), which counts in their time.
 * Written data is pseudo-random, not zeros.
 *
 * Output, one line per test:
 *   diskbench: seq-read 1M: 123.4 MiB/s (617.0 MiB in 5.00 s, 1 job)
 *   diskbench: rand-read 4k: 5678 IOPS (22.2 MiB/s, 28390 ops in 5.00 s, 1 job)
 * Any error, including a short read or write, prints "diskbench: error: ..."
 * on stderr and exits 1; bad usage exits 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)
#define MAX_JOBS 64

struct test {
    const char *name;  /* as printed and as --tests takes it */
    size_t bs;         /* request size */
    int write;
    int random;
};

static const struct test tests[] = {
    { "seq-read 1M", 1 << 20, 0, 0 },
    { "seq-write 1M", 1 << 20, 1, 0 },
    { "rand-read 4k", 4096, 0, 1 },
    { "rand-write 4k", 4096, 1, 1 },
};
#define NTESTS (sizeof tests / sizeof tests[0])

static const char *device;
static double seconds = 5;
static uint64_t max_bytes;     /* 0: no byte limit */
static uint64_t region;        /* bytes of the device used */
static int jobs = 1;

static void die(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("diskbench: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: diskbench [--seconds S] [--bytes N[K|M|G]] [--size N[K|M|G]]\n"
            "                 [--jobs N] [--tests LIST] DEVICE\n"
            "  LIST: comma-separated of seq-read,seq-write,rand-read,rand-write\n"
            "        (default: all four, in that order)\n");
    exit(2);
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        usage();
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    }
    if (*end)
        usage();
    return v;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, good enough for offsets and data. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

struct job {
    pthread_t thread;
    const struct test *t;
    int index;
    uint64_t ops;
    uint64_t bytes;
};

static atomic_int stop;
static atomic_uint_fast64_t total_bytes;
static double start_time;

static void *run_job(void *arg)
{
    struct job *j = arg;
    const struct test *t = j->t;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(j->index + 1) ^ (uint64_t)getpid();
    uint64_t blocks = region / t->bs;
    uint64_t pos = blocks * (uint64_t)j->index / (uint64_t)jobs; /* in blocks */
    void *buf;
    int fd;

    if (posix_memalign(&buf, 4096, t->bs))
        die("out of memory for a %zu-byte buffer", t->bs);
    for (size_t i = 0; i < t->bs / 8; i++)
        ((uint64_t *)buf)[i] = next_rand(&seed);
    fd = open(device, (t->write ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0)
        die("open %s with O_DIRECT: %s", device, strerror(errno));

    while (!atomic_load(&stop)) {
        uint64_t block;
        if (t->random) {
            block = next_rand(&seed) % blocks;
        } else {
            block = pos;
            pos = (pos + 1) % blocks;
        }
        off_t off = (off_t)(block * t->bs);
        ssize_t n = t->write ? pwrite(fd, buf, t->bs, off) : pread(fd, buf, t->bs, off);
        if (n < 0)
            die("%s: %s of %zu bytes at offset %" PRIu64 ": %s", t->name,
                t->write ? "write" : "read", t->bs, (uint64_t)off, strerror(errno));
        if ((size_t)n != t->bs)
            die("%s: short %s at offset %" PRIu64 ": %zd of %zu bytes", t->name,
                t->write ? "write" : "read", (uint64_t)off, n, t->bs);
        if (t->write && t->random)
            ((uint64_t *)buf)[0] = next_rand(&seed);  /* not the same block twice */
        j->ops++;
        j->bytes += t->bs;
        uint64_t all = atomic_fetch_add(&total_bytes, t->bs) + t->bs;
        if ((max_bytes && all >= max_bytes) || now() - start_time >= seconds)
            atomic_store(&stop, 1);
    }
    if (t->write && fdatasync(fd) < 0)
        die("%s: fdatasync: %s", t->name, strerror(errno));
    if (close(fd) < 0)
        die("%s: close: %s", t->name, strerror(errno));
    free(buf);
    return NULL;
}

static void run_test(const struct test *t)
{
    struct job js[MAX_JOBS];
    uint64_t ops = 0, bytes = 0;

    if (region < t->bs * (uint64_t)jobs)
        die("%s: %s has %" PRIu64 " bytes to use, too few for %d job(s) of %zu-byte requests",
            t->name, device, region, jobs, t->bs);
    atomic_store(&stop, 0);
    atomic_store(&total_bytes, 0);
    start_time = now();
    for (int i = 0; i < jobs; i++) {
        js[i] = (struct job){ .t = t, .index = i };
        int err = pthread_create(&js[i].thread, NULL, run_job, &js[i]);
        if (err)
            die("pthread_create: %s", strerror(err));
    }
    for (int i = 0; i < jobs; i++) {
        pthread_join(js[i].thread, NULL);
        ops += js[i].ops;
        bytes += js[i].bytes;
    }
    double el = now() - start_time;
    if (el <= 0)
        el = 1e-9;
    if (t->random)
        printf("diskbench: %s: %.0f IOPS (%.1f MiB/s, %" PRIu64 " ops in %.2f s, %d job%s)\n",
               t->name, ops / el, bytes / MIB / el, ops, el, jobs, jobs == 1 ? "" : "s");
    else
        printf("diskbench: %s: %.1f MiB/s (%.1f MiB in %.2f s, %d job%s)\n",
               t->name, bytes / MIB / el, bytes / MIB, el, jobs, jobs == 1 ? "" : "s");
    fflush(stdout);
}

static uint64_t device_size(void)
{
    struct stat st;
    uint64_t size = 0;
    int fd = open(device, O_RDONLY);
    if (fd < 0)
        die("open %s: %s", device, strerror(errno));
    if (fstat(fd, &st) < 0)
        die("stat %s: %s", device, strerror(errno));
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) < 0)
            die("BLKGETSIZE64 on %s: %s", device, strerror(errno));
    } else if (S_ISREG(st.st_mode)) {
        size = (uint64_t)st.st_size;
    } else {
        die("%s is neither a block device nor a file", device);
    }
    close(fd);
    return size;
}

int main(int argc, char **argv)
{
    int want[NTESTS] = { 1, 1, 1, 1 };
    uint64_t size_limit = 0;
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            usage();
        if (!strcmp(a, "--seconds")) {
            char *end;
            seconds = strtod(argv[++i], &end);
            if (*end || !(seconds > 0))
                usage();
        } else if (!strcmp(a, "--bytes")) {
            max_bytes = parse_size(argv[++i]);
        } else if (!strcmp(a, "--size")) {
            size_limit = parse_size(argv[++i]);
        } else if (!strcmp(a, "--jobs")) {
            jobs = atoi(argv[++i]);
            if (jobs < 1 || jobs > MAX_JOBS)
                usage();
        } else if (!strcmp(a, "--tests")) {
            char *list = strdup(argv[++i]), *tok, *save;
            memset(want, 0, sizeof want);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                size_t k;
                for (k = 0; k < NTESTS; k++)
                    if (!strncmp(tok, tests[k].name, strcspn(tests[k].name, " ")) &&
                        strlen(tok) == strcspn(tests[k].name, " "))
                        break;
                if (k == NTESTS)
                    usage();
                want[k] = 1;
            }
            free(list);
        } else {
            usage();
        }
    }
    if (i != argc - 1)
        usage();
    device = argv[i];
    region = device_size();
    if (size_limit && size_limit < region)
        region = size_limit;
    region -= region % (1 << 20);
    for (size_t k = 0; k < NTESTS; k++)
        if (want[k])
            run_test(&tests[k]);
    return 0;
}
