/* bench_exit: what one forwarded guest access costs, against its floors and
 * against a socket-based design.
 *
 *   (a) the UART scratch-register read as an in-process call (the floor)
 *   (b) a cache-line ping-pong between two processes (the floor of any
 *       cross-process handoff)
 *   (c) a unix SOCK_SEQPACKET request/reply round trip (crosvm's proxied
 *       devices, OpenBSD vmd's imsg)
 *   (d) ring_read of the scratch register through the exit ring to the real,
 *       sandboxed cellvm-dev-uart process: device polling, device asleep
 *   (e) posted ring writes per second against socket sends per second
 *
 * The producer runs on one CPU, every peer (ping-pong child, socket reader,
 * device) on another.  The two sides of each ratio are measured in
 * alternating chunks, because on a VM the cost of a cache-line transfer
 * changes with where the host puts our vCPUs.  docs/benchmarks.md has
 * results and what limits them.
 *
 * Timing limits are reported, never asserted: the exit status is nonzero
 * only when something could not run or answered wrongly. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#else
#define HAVE_TSC 0
#endif

#include "devices/uart/uart16550.h"
#include "devices/uart/uart_host.h"
#include "tools/common/devhost.h"

#define SCR_PORT (0x3f8 + UART_SCR)
#define SCR_VALUE 0x5a
#define FLOOR_BATCH 1000
#define STOP_WORD UINT64_MAX

/* ---- options ---- */

static struct {
	const char *bin_dir;
	size_t samples;       /* latency samples per figure */
	size_t sleep_samples; /* for the device-asleep reads */
	size_t writes;        /* (e): posted writes and socket sends per run */
	unsigned reps;        /* (e): runs; the median is reported */
	unsigned gap_us;      /* device-asleep reads: idle time before each */
	bool sandbox, pin, quick;
} opt = {
	.samples = 200000,
	.writes = 1000000,
	.reps = 3,
	.gap_us = 50,
	.sandbox = true,
	.pin = true,
};

static int cpu_main = -1, cpu_peer = -1; /* -1: not pinned */

/* ---- time ---- */

static double ns_per_tick = 1.0;
static uint64_t timer_overhead; /* ticks, subtracted from each sample */
static double pause_ns;         /* one pause instruction */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t tick_start(void)
{
#if HAVE_TSC
	_mm_lfence();
	uint64_t t = __rdtsc();
	_mm_lfence();
	return t;
#else
	return mono_ns();
#endif
}

static inline uint64_t tick_end(void)
{
#if HAVE_TSC
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
#else
	return mono_ns();
#endif
}

static inline void cpu_relax(void)
{
#if HAVE_TSC
	_mm_pause();
#endif
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Ticks per ns against CLOCK_MONOTONIC, then the cost of a timer pair. */
static void calibrate(void)
{
#if HAVE_TSC
	uint64_t n0 = mono_ns(), t0 = tick_start();
	uint64_t span = opt.quick ? 20000000 : 50000000;
	while (mono_ns() - n0 < span)
		cpu_relax();
	uint64_t n1 = mono_ns(), t1 = tick_end();
	ns_per_tick = (double)(n1 - n0) / (double)(t1 - t0);
#endif
	enum { N = 20001 };
	static uint64_t d[N];
	for (int i = 0; i < N; i++) {
		uint64_t a = tick_start();
		uint64_t b = tick_end();
		d[i] = b - a;
	}
	qsort(d, N, sizeof(d[0]), cmp_u64);
	timer_overhead = d[N / 2];
	uint64_t p0 = tick_start();
	for (int i = 0; i < 100000; i++)
		cpu_relax();
	pause_ns = (double)(tick_end() - p0) * ns_per_tick / 100000;
}

static double to_ns(uint64_t ticks)
{
	return ticks > timer_overhead ? (double)(ticks - timer_overhead) * ns_per_tick : 0.0;
}

/* Busy-waits ns nanoseconds (a vCPU running guest code stays on its CPU). */
static void spin_ns(uint64_t ns)
{
	uint64_t t0 = tick_start();
	uint64_t ticks = (uint64_t)((double)ns / ns_per_tick);
	while (tick_start() - t0 < ticks)
		cpu_relax();
}

/* ---- results ---- */

struct stat_row {
	size_t n;
	double med, p99, p999;
};

static double pct(const double *sorted, size_t n, double p)
{
	size_t i = (size_t)ceil(p * (double)n);
	return sorted[i ? (i > n ? n : i) - 1 : 0];
}

static struct stat_row summarize(double *ns, size_t n)
{
	qsort(ns, n, sizeof(ns[0]), cmp_double);
	return (struct stat_row){n, pct(ns, n, 0.5), pct(ns, n, 0.99), pct(ns, n, 0.999)};
}

static void print_row(const char *name, struct stat_row r)
{
	printf("  %-56s %8zu %9.1f %9.1f %9.1f\n", name, r.n, r.med, r.p99, r.p999);
	fflush(stdout);
}

static void print_rate(const char *name, size_t n, double ops)
{
	printf("  %-56s %8zu %10.2f M/s  (%.1f ns each)\n", name, n, ops / 1e6, 1e9 / ops);
	fflush(stdout);
}

static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double *alloc_samples(size_t n)
{
	double *p = malloc(n * sizeof(double));
	if (!p) {
		fprintf(stderr, "bench_exit: out of memory\n");
		exit(1);
	}
	return p;
}

static size_t warmup(size_t n)
{
	size_t w = n / 10;
	return w < 100 ? 100 : w;
}

/* ---- CPUs ---- */

static bool pin_to(int cpu)
{
	if (cpu < 0)
		return true;
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	return sched_setaffinity(0, sizeof(s), &s) == 0;
}

/* The first two CPUs we may run on: producer on the first, peer on the
 * second. */
static int allowed_cpus(void)
{
	cpu_set_t s;
	return sched_getaffinity(0, sizeof(s), &s) < 0 ? -1 : CPU_COUNT(&s);
}

static void choose_cpus(void)
{
	cpu_set_t s;
	if (!opt.pin || sched_getaffinity(0, sizeof(s), &s) < 0)
		return;
	int found[2], n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &s))
			found[n++] = c;
	if (n < 2)
		return;
	cpu_main = found[0];
	cpu_peer = found[1];
	if (!pin_to(cpu_main))
		cpu_main = cpu_peer = -1;
}

/* A forked peer: pinned, and gone when we are. */
static pid_t fork_peer(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("bench_exit: fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		pin_to(cpu_peer);
	}
	return pid;
}

static void reap(pid_t pid, const char *what)
{
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fprintf(stderr, "bench_exit: the %s peer did not end cleanly\n", what);
}

/* ---- (a) in-process floor ---- */

static size_t tx_discard(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	return len;
}

static void irq_ignore(void *opaque, bool level)
{
	(void)opaque;
	(void)level;
}

static struct stat_row bench_floor(void)
{
	static struct uart16550 u;
	struct uart_io io = {.opaque = NULL, .tx = tx_discard, .irq = irq_ignore};
	uart_init(&u, &io);
	uart_write(&u, UART_SCR, SCR_VALUE, 0);
	size_t batches = opt.samples / 100 < 100 ? 100 : opt.samples / 100;
	double *s = alloc_samples(batches);
	volatile uint8_t sink;
	size_t w = warmup(batches);
	for (size_t b = 0; b < batches + w; b++) {
		uint64_t t0 = tick_start();
		for (int i = 0; i < FLOOR_BATCH; i++)
			sink = uart_read(&u, UART_SCR, 0);
		uint64_t t1 = tick_end();
		if (b >= w)
			s[b - w] = to_ns(t1 - t0) / FLOOR_BATCH;
	}
	(void)sink;
	struct stat_row r = summarize(s, batches);
	free(s);
	return r;
}

/* ---- (b) cache-line ping-pong ---- */

/* The peer sleeps in read() on a pipe between chunks, so that it and the
 * polling device can take turns on the peer CPU.  Each chunk uses another
 * page (the byte sent says which): the cost of a transfer depends a little
 * on where a line lives. */
#define PP_PAGES 32
static struct {
	char *mem;
	uint64_t *a, *b; /* line A (we write), line B (the peer answers) */
	uint64_t next;
	unsigned chunk;
	int go_fd;
	pid_t pid;
} pp;

static void pp_use_page(unsigned page)
{
	pp.a = (uint64_t *)(pp.mem + (size_t)(page % PP_PAGES) * 4096);
	/* 128 bytes on: not the adjacent-line prefetch partner of A. */
	pp.b = (uint64_t *)((char *)pp.a + 128);
}

static void pp_peer(int go_fd)
{
	uint64_t last = 0;
	unsigned char page;
	while (read(go_fd, &page, 1) == 1) {
		pp_use_page(page);
		for (;;) {
			uint64_t v;
			while ((v = __atomic_load_n(pp.a, __ATOMIC_ACQUIRE)) == last)
				cpu_relax();
			last = v;
			__atomic_store_n(pp.b, v, __ATOMIC_RELEASE);
			if (v == STOP_WORD)
				break;
		}
		last = 0;
	}
	_exit(0);
}

static void pp_start(void)
{
	int fds[2];
	pp.mem = mmap(NULL, PP_PAGES * 4096, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pp.mem == MAP_FAILED || pipe2(fds, O_CLOEXEC) < 0) {
		perror("bench_exit: ping-pong setup");
		exit(1);
	}
	pp.next = 1;
	pp.chunk = 0;
	pp.pid = fork_peer();
	if (pp.pid == 0) {
		close(fds[1]);
		pp_peer(fds[0]);
	}
	close(fds[0]);
	pp.go_fd = fds[1];
}

/* n timed round trips after w untimed ones, then m more timed as a whole
 * (the back-to-back mean, free of the per-sample timer's serialization);
 * returns that batch's ticks.  The peer is asleep again after. */
static uint64_t pp_chunk(double *s, size_t n, size_t w, size_t m)
{
	unsigned char page = (unsigned char)(pp.chunk++ % PP_PAGES);
	pp_use_page(page);
	if (write(pp.go_fd, &page, 1) != 1) {
		perror("bench_exit: ping-pong peer");
		exit(1);
	}
	for (size_t k = 0; k < n + w; k++) {
		uint64_t i = pp.next++;
		uint64_t t0 = tick_start();
		__atomic_store_n(pp.a, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(pp.b, __ATOMIC_ACQUIRE) != i)
			cpu_relax();
		uint64_t t1 = tick_end();
		if (k >= w)
			s[k - w] = to_ns(t1 - t0);
	}
	uint64_t b0 = tick_start();
	for (size_t k = 0; k < m; k++) {
		uint64_t i = pp.next++;
		__atomic_store_n(pp.a, i, __ATOMIC_RELEASE);
		while (__atomic_load_n(pp.b, __ATOMIC_ACQUIRE) != i)
			cpu_relax();
	}
	uint64_t b1 = tick_end();
	__atomic_store_n(pp.a, STOP_WORD, __ATOMIC_RELEASE);
	while (__atomic_load_n(pp.b, __ATOMIC_ACQUIRE) != STOP_WORD)
		cpu_relax();
	return b1 - b0;
}

static void pp_stop(void)
{
	close(pp.go_fd);
	reap(pp.pid, "ping-pong");
	munmap(pp.mem, PP_PAGES * 4096);
}

/* ---- (c), (e) unix SOCK_SEQPACKET ---- */

/* A 32-byte request; the reply is 8 bytes. */
struct sock_msg {
	uint32_t op; /* SOCK_REQ, SOCK_POST, SOCK_END */
	uint32_t pad;
	uint64_t seq;
	uint64_t port;
	uint64_t data;
};
_Static_assert(sizeof(struct sock_msg) == 32, "request size");
enum { SOCK_REQ = 1, SOCK_POST = 2, SOCK_END = 3 };

static int sock_fd = -1;
static pid_t sock_pid = -1;

/* The peer answers SOCK_REQ with 8 bytes, counts SOCK_POST silently and
 * answers SOCK_END with the count; it ends when the socket closes. */
static void sock_peer(int fd)
{
	struct sock_msg m;
	uint64_t posted = 0;
	uint8_t scr = 0;
	for (;;) {
		ssize_t n = recv(fd, &m, sizeof(m), 0);
		if (n == 0)
			_exit(0);
		if (n != (ssize_t)sizeof(m))
			_exit(n < 0 && errno == EINTR ? 0 : 2);
		uint64_t reply;
		switch (m.op) {
		case SOCK_REQ:
			reply = scr; /* a register read, as the device would */
			break;
		case SOCK_POST:
			scr = (uint8_t)m.data;
			posted++;
			continue;
		case SOCK_END:
			reply = posted;
			posted = 0;
			break;
		default:
			_exit(2);
		}
		if (send(fd, &reply, sizeof(reply), 0) != (ssize_t)sizeof(reply))
			_exit(2);
	}
}

static void sock_start(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("bench_exit: socketpair");
		exit(1);
	}
	sock_pid = fork_peer();
	if (sock_pid == 0) {
		close(sv[0]);
		sock_peer(sv[1]);
	}
	close(sv[1]);
	sock_fd = sv[0];
}

static void sock_stop(void)
{
	close(sock_fd);
	reap(sock_pid, "socket");
}

static void sock_send(const struct sock_msg *m)
{
	if (send(sock_fd, m, sizeof(*m), 0) != (ssize_t)sizeof(*m)) {
		perror("bench_exit: send");
		exit(1);
	}
}

static uint64_t sock_reply(void)
{
	uint64_t v;
	if (recv(sock_fd, &v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		perror("bench_exit: recv");
		exit(1);
	}
	return v;
}

/* n timed round trips after w untimed ones; gap_us of busy idling before
 * each (0: back to back). */
static void sock_rtt_chunk(double *s, size_t n, size_t w, unsigned gap_us)
{
	struct sock_msg m = {.op = SOCK_REQ, .port = SCR_PORT};
	for (size_t i = 0; i < n + w; i++) {
		if (gap_us)
			spin_ns(gap_us * 1000ull);
		m.seq = i;
		uint64_t t0 = tick_start();
		sock_send(&m);
		sock_reply();
		uint64_t t1 = tick_end();
		if (i >= w)
			s[i - w] = to_ns(t1 - t0);
	}
}

/* Sends per second, until the peer has them all. */
static double sock_sends_run(void)
{
	struct sock_msg m = {.op = SOCK_POST, .port = SCR_PORT};
	uint64_t t0 = mono_ns();
	for (size_t i = 0; i < opt.writes; i++) {
		m.seq = i;
		m.data = i & 0xff;
		sock_send(&m);
	}
	m.op = SOCK_END;
	sock_send(&m);
	uint64_t got = sock_reply();
	uint64_t t1 = mono_ns();
	if (got != opt.writes) {
		fprintf(stderr, "bench_exit: socket peer got %llu of %zu messages\n",
			(unsigned long long)got, opt.writes);
		exit(1);
	}
	return (double)opt.writes * 1e9 / (double)(t1 - t0);
}

/* ---- (d), (e) the real device over the exit ring ---- */

static struct devhost dev_poll, dev_sleep;
static char device_bin[4096];

static void device_failed(struct devhost *h, const char *what, const char *why)
{
	char how[256];
	devhost_reap(h, 500);
	devhost_drain_messages(h);
	devhost_describe_end(h, how, sizeof(how));
	fprintf(stderr, "bench_exit: %s: %s\nbench_exit: %s\n", what, why, how);
	devhost_stop(h);
	exit(1);
}

static void device_start(struct devhost *h, const char *instance, unsigned poll_us)
{
	static char o_port[] = "--port", v_port[] = "com1", o_be[] = "--backend", v_be[] = "none";
	char *args[] = {o_port, v_port, o_be, v_be};
	devhost_init(h, "uart", instance);
	h->poll_us = poll_us;
	if (uart_host_configure(h, 4, args) < 0) {
		fprintf(stderr, "bench_exit: %s\n", h->err);
		exit(1);
	}
	/* The device inherits the peer CPU; we go back to ours. */
	pin_to(cpu_peer);
	int rc = devhost_start(h, device_bin, opt.sandbox);
	pin_to(cpu_main);
	if (rc < 0) {
		fprintf(stderr, "bench_exit: starting %s: %s\n", device_bin, h->err);
		if (opt.sandbox)
			fprintf(stderr, "bench_exit: (--no-sandbox runs the device unconfined)\n");
		devhost_stop(h);
		exit(1);
	}
	if (ring_post_write(&h->prod[0], RING_PIO, SCR_PORT, 1, SCR_VALUE) < 0)
		device_failed(h, "writing the scratch register", h->prod[0].err);
}

static void device_stop(struct devhost *h)
{
	if (devhost_stop(h) < 0 || !devhost_reap(h, 0) || h->wstatus != 0) {
		char how[256];
		devhost_describe_end(h, how, sizeof(how));
		fprintf(stderr, "bench_exit: the device did not shut down cleanly: %s\n", how);
	}
}

static void check_read(struct devhost *h, int rc, uint64_t v, uint64_t want)
{
	if (rc < 0)
		device_failed(h, "ring_read", h->prod[0].err);
	if (v != want) {
		char why[80];
		snprintf(why, sizeof(why), "read 0x%llx, expected 0x%llx", (unsigned long long)v,
			 (unsigned long long)want);
		device_failed(h, "scratch register", why);
	}
}

/* As pp_chunk, for ring_read of the scratch register. */
static uint64_t ring_poll_chunk(struct devhost *h, double *s, size_t n, size_t w, size_t m)
{
	struct ring_producer *p = &h->prod[0];
	uint64_t v = 0;
	int rc;
	for (size_t i = 0; i < n + w; i++) {
		uint64_t t0 = tick_start();
		rc = ring_read(p, RING_PIO, SCR_PORT, 1, &v);
		uint64_t t1 = tick_end();
		check_read(h, rc, v, SCR_VALUE);
		if (i >= w)
			s[i - w] = to_ns(t1 - t0);
	}
	uint64_t b0 = tick_start();
	for (size_t i = 0; i < m; i++)
		if ((rc = ring_read(p, RING_PIO, SCR_PORT, 1, &v)) < 0 || v != SCR_VALUE)
			break;
	uint64_t b1 = tick_end();
	check_read(h, rc, v, SCR_VALUE);
	return b1 - b0;
}

/* Stops or continues the device and waits until it has. */
static void device_signal(struct devhost *h, int sig)
{
	int st;
	if (kill(h->pid, sig) < 0 ||
	    waitpid(h->pid, &st, sig == SIGSTOP ? WUNTRACED : WCONTINUED) != h->pid ||
	    (sig == SIGSTOP ? !WIFSTOPPED(st) : !WIFCONTINUED(st))) {
		fprintf(stderr, "bench_exit: could not %s the device (pid %d)\n",
			sig == SIGSTOP ? "stop" : "continue", (int)h->pid);
		exit(1);
	}
}

/* Each read finds the device asleep on its doorbell: we wait until it has
 * set need_wakeup, then idle (busy, as a vCPU running guest code) gap_us
 * more so that it is inside poll().  *awake counts reads that found the
 * flag clear all the same. */
static void ring_sleep_chunk(struct devhost *h, uint64_t spin, double *s, size_t n, size_t w,
			     size_t *awake)
{
	struct ring_producer *p = &h->prod[0];
	uint64_t saved = p->spin_ns;
	p->spin_ns = spin;
	for (size_t i = 0; i < n + w; i++) {
		uint64_t deadline = mono_ns() + 1000000000ull;
		while (!__atomic_load_n(&h->rings.hdr->need_wakeup, __ATOMIC_ACQUIRE)) {
			if (mono_ns() > deadline)
				device_failed(h, "waiting for the device to sleep",
					      "need_wakeup never set");
			cpu_relax();
		}
		spin_ns(opt.gap_us * 1000ull);
		bool asleep = __atomic_load_n(&h->rings.hdr->need_wakeup, __ATOMIC_ACQUIRE);
		uint64_t v = 0;
		uint64_t t0 = tick_start();
		int rc = ring_read(p, RING_PIO, SCR_PORT, 1, &v);
		uint64_t t1 = tick_end();
		check_read(h, rc, v, SCR_VALUE);
		if (i >= w) {
			s[i - w] = to_ns(t1 - t0);
			*awake += !asleep;
		}
	}
	p->spin_ns = saved;
}

/* Posted writes per second, until a read after them has its answer (which
 * the device gives only after every write before it). */
static double ring_posts_run(struct devhost *h)
{
	struct ring_producer *p = &h->prod[0];
	uint64_t t0 = mono_ns();
	for (size_t i = 0; i < opt.writes; i++)
		if (ring_post_write(p, RING_PIO, SCR_PORT, 1, i & 0xff) < 0)
			device_failed(h, "ring_post_write", p->err);
	uint64_t v = 0;
	int rc = ring_read(p, RING_PIO, SCR_PORT, 1, &v);
	uint64_t t1 = mono_ns();
	check_read(h, rc, v, (opt.writes - 1) & 0xff);
	/* Back to the value the reads expect.  Not ring_drain: when it has to
	 * sleep it returns with prod_waiting still set, and the device then
	 * calls futex_wake on every pass of its polling loop. */
	if (ring_post_write(p, RING_PIO, SCR_PORT, 1, SCR_VALUE) < 0)
		device_failed(h, "restoring the scratch register", p->err);
	return (double)opt.writes * 1e9 / (double)(t1 - t0);
}

struct results {
	struct stat_row floor, pp, rpoll, sock, sock_gap, rspin, rsleep;
	double pp_mean, rpoll_mean; /* back to back, ns */
	double ring_rate, sock_rate;
	size_t awake;
	uint64_t spin; /* the producer's default spin, ns */
};

/* The device polling: (b) and (d) in alternating chunks, then (e) in
 * alternating runs, so that both sides of each ratio see the same
 * placement of our two vCPUs on the host (it changes from run to run).
 * The device is stopped (SIGSTOP) while the ping-pong peer or the socket
 * reader has the peer CPU; its poll_us outlasts that. */
static void phase_polling(struct devhost *h, struct results *res)
{
	unsigned rounds = opt.quick ? 5 : 20;
	size_t n = opt.samples / rounds, w = n / 10 < 200 ? 200 : n / 10, m = n / 2;
	double *sp = alloc_samples(n * rounds), *sr = alloc_samples(n * rounds);
	uint64_t pp_ticks = 0, rr_ticks = 0;
	pp_start();
	for (unsigned r = 0; r < rounds; r++) {
		device_signal(h, SIGSTOP);
		pp_ticks += pp_chunk(sp + r * n, n, w, m);
		device_signal(h, SIGCONT);
		rr_ticks += ring_poll_chunk(h, sr + r * n, n, w, m);
	}
	pp_stop();
	res->pp_mean = (double)pp_ticks * ns_per_tick / (double)(m * rounds);
	res->rpoll_mean = (double)rr_ticks * ns_per_tick / (double)(m * rounds);
	res->pp = summarize(sp, n * rounds);
	res->rpoll = summarize(sr, n * rounds);
	free(sp);
	free(sr);

	double ring[16], sock[16];
	for (unsigned r = 0; r < opt.reps; r++) {
		device_signal(h, SIGSTOP);
		sock[r] = sock_sends_run();
		device_signal(h, SIGCONT);
		ring[r] = ring_posts_run(h);
	}
	res->ring_rate = median_of(ring, opt.reps);
	res->sock_rate = median_of(sock, opt.reps);
}

/* The device asleep between accesses: (c), (c') and both (d) asleep
 * figures in alternating chunks (the socket peer and the device both sleep
 * when idle, so they can share the peer CPU). */
static void phase_sleeping(struct devhost *h, struct results *res)
{
	unsigned rounds = opt.quick ? 5 : 20;
	size_t n = opt.samples / rounds, w = n / 10 < 100 ? 100 : n / 10;
	size_t ns = opt.sleep_samples / rounds, ws = ns / 10 < 10 ? 10 : ns / 10;
	double *sc = alloc_samples(n * rounds), *sg = alloc_samples(ns * rounds);
	double *sp = alloc_samples(ns * rounds), *ss = alloc_samples(ns * rounds);
	res->awake = 0;
	for (unsigned r = 0; r < rounds; r++) {
		sock_rtt_chunk(sc + r * n, n, w, 0);
		sock_rtt_chunk(sg + r * ns, ns, ws, opt.gap_us);
		ring_sleep_chunk(h, res->spin, sp + r * ns, ns, ws, &res->awake);
		ring_sleep_chunk(h, 0, ss + r * ns, ns, ws, &res->awake);
	}
	res->sock = summarize(sc, n * rounds);
	res->sock_gap = summarize(sg, ns * rounds);
	res->rspin = summarize(sp, ns * rounds);
	res->rsleep = summarize(ss, ns * rounds);
	free(sc);
	free(sg);
	free(sp);
	free(ss);
}

/* The spin time ring_producer_init gives a producer, in ns. */
static uint64_t default_spin(void)
{
	struct ring_set rs;
	struct ring_producer p;
	char err[160];
	int fd = ring_set_create(1, 2);
	if (fd < 0 || ring_set_map(&rs, fd, 1, 2, -1, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_exit: cannot make a ring\n");
		exit(1);
	}
	ring_producer_init(&p, &rs, 0, 0);
	ring_set_unmap(&rs);
	close(fd);
	return p.spin_ns;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_exit [--bin-dir DIR] [--samples N] [--writes N] [--quick]\n"
		"                  [--gap-us N] [--no-pin] [--no-sandbox]\n"
		"\n"
		"Measures a forwarded UART register read through the exit ring to the real\n"
		"cellvm-dev-uart process, against an in-process call, a shared-memory\n"
		"cache-line ping-pong and a unix SOCK_SEQPACKET round trip; and posted ring\n"
		"writes per second against socket sends per second.  Prints medians, p99s\n"
		"and the design's ratios.  Timing never affects the exit status.\n"
		"\n"
		"  --bin-dir DIR  where cellvm-dev-uart is (default: next to this program,\n"
		"                 or $CELLVM_DEVICE_DIR)\n"
		"  --samples N    latency samples per figure (default 200000; the\n"
		"                 device-asleep reads take N/20)\n"
		"  --writes N     posted writes / socket sends per run (default 1000000)\n"
		"  --quick        small counts (about 2 s)\n"
		"  --gap-us N     idle time before each device-asleep read (default 50)\n"
		"  --no-pin       do not pin to CPUs\n"
		"  --no-sandbox   run the device without seccomp and namespaces\n");
}

static bool parse_size(const char *s, size_t min, size_t max, size_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end); /* accepts 1e6 */
	if (errno || end == s || *end || v < (double)min || v > (double)max || v != floor(v))
		return false;
	*out = (size_t)v;
	return true;
}

static const char *verdict(bool ok)
{
	return ok ? "PASS" : "SHORT";
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"bin-dir", required_argument, NULL, 'b'},
		{"samples", required_argument, NULL, 's'},
		{"writes", required_argument, NULL, 'w'},
		{"gap-us", required_argument, NULL, 'g'},
		{"quick", no_argument, NULL, 'q'},
		{"no-pin", no_argument, NULL, 'P'},
		{"no-sandbox", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool samples_set = false, writes_set = false;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		size_t v;
		switch (c) {
		case 'b': opt.bin_dir = optarg; break;
		case 'q': opt.quick = true; break;
		case 'P': opt.pin = false; break;
		case 'n': opt.sandbox = false; break;
		case 's':
		case 'w':
		case 'g':
			if (!parse_size(optarg, c == 'g' ? 0 : 100, 100000000, &v)) {
				fprintf(stderr, "bench_exit: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 's') {
				opt.samples = v;
				samples_set = true;
			} else if (c == 'w') {
				opt.writes = v;
				writes_set = true;
			} else {
				opt.gap_us = (unsigned)v;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (opt.quick) {
		if (!samples_set)
			opt.samples = 10000;
		if (!writes_set)
			opt.writes = 100000;
	}
	opt.sleep_samples = opt.samples / 20 < 100 ? 100 : opt.samples / 20;

	if (opt.bin_dir) {
		int n = snprintf(device_bin, sizeof(device_bin), "%s/cellvm-dev-uart", opt.bin_dir);
		if (n < 0 || (size_t)n >= sizeof(device_bin) || access(device_bin, X_OK) < 0) {
			fprintf(stderr, "bench_exit: no executable cellvm-dev-uart in %s\n",
				opt.bin_dir);
			return 1;
		}
	} else if (devhost_find_binary("uart", device_bin, sizeof(device_bin)) < 0) {
		fprintf(stderr, "bench_exit: cannot find cellvm-dev-uart (use --bin-dir DIR)\n");
		return 1;
	}

	/* Both sides busy-poll: on one CPU each handoff would wait for a
	 * scheduler tick. */
	int ncpu = allowed_cpus();
	if (ncpu >= 0 && ncpu < 2) {
		printf("bench_exit: needs two CPUs, this process may use %d; skipped\n", ncpu);
		return 0;
	}
	choose_cpus();
	calibrate();

	printf("bench_exit: one forwarded UART register access, against its floors\n");
	printf("  cpus online: %ld; /dev/kvm: %s (not needed here)\n", sysconf(_SC_NPROCESSORS_ONLN),
	       access("/dev/kvm", F_OK) == 0 ? "present" : "absent");
	if (cpu_main >= 0)
		printf("  pinned: producer (vCPU side) on cpu %d, peer/device on cpu %d\n", cpu_main,
		       cpu_peer);
	else
		printf("  not pinned%s\n", opt.pin ? " (fewer than two CPUs allowed)" : "");
	printf("  timer: %s, %.3f ns/tick, %.1f ns timer overhead subtracted per sample\n",
	       HAVE_TSC ? "rdtsc" : "clock_gettime", ns_per_tick,
	       (double)timer_overhead * ns_per_tick);
	uint64_t spin = default_spin();
	printf("  pause: %.1f ns; the ring's default producer spin lasts %.1f us\n", pause_ns,
	       spin / 1000.0);
	printf("  device: %s (%s)\n\n", device_bin, opt.sandbox ? "sandboxed" : "NOT sandboxed");
	printf("  %-56s %8s %9s %9s %9s\n", "latency (ns)", "samples", "median", "p99", "p99.9");
	fflush(stdout);

	static struct results res;
	res.spin = spin;
	res.floor = bench_floor();
	print_row("(a) in-process uart_read(SCR), per call", res.floor);

	sock_start();
	device_start(&dev_poll, "bench-poll", 2000000);
	phase_polling(&dev_poll, &res);
	device_stop(&dev_poll);
	print_row("(b) shared-memory cache-line ping-pong", res.pp);
	print_row("(d) ring_read(SCR) via cellvm-dev-uart, device polling", res.rpoll);
	printf("      back to back, not timed singly (mean): ping-pong %.1f, ring_read %.1f\n",
	       res.pp_mean, res.rpoll_mean);

	device_start(&dev_sleep, "bench-sleep", 0);
	phase_sleeping(&dev_sleep, &res);
	device_stop(&dev_sleep);
	sock_stop();
	char label[96];
	print_row("(c) unix SOCK_SEQPACKET request/reply", res.sock);
	snprintf(label, sizeof(label), "(c') the same, %u us idle before each", opt.gap_us);
	print_row(label, res.sock_gap);
	snprintf(label, sizeof(label), "(d) ring_read, device asleep, producer spins %.0f us",
		 res.spin / 1000.0);
	print_row(label, res.rspin);
	print_row("(d) ring_read, device asleep, producer spin 0 (futex)", res.rsleep);
	if (res.awake)
		printf("      (%zu of those reads found need_wakeup clear: device not asleep)\n",
		       res.awake);

	printf("\n  %-56s %8s %14s  (median of %u runs)\n", "throughput", "per run", "rate",
	       opt.reps);
	print_rate("(e) ring_post_write(SCR) to the polling device", opt.writes, res.ring_rate);
	print_rate("(e) unix SOCK_SEQPACKET sends (32 bytes) to a reader", opt.writes,
		   res.sock_rate);

	double r1 = res.rpoll.med / res.pp.med, r2 = res.rsleep.med / res.sock.med,
	       r3 = res.ring_rate / res.sock_rate;
	printf("\n  ratios (medians)\n");
	printf("    forwarded read, device polling / ping-pong        %7.3fx  (target <= 2x)\n",
	       r1);
	printf("      (back-to-back means: %.3fx)\n", res.rpoll_mean / res.pp_mean);
	printf("    forwarded read, device asleep / socket round trip %7.3fx  (target <  1x)\n",
	       r2);
	printf("      (producer spinning: %.3fx; spin 0 against (c'): %.3fx)\n",
	       res.rspin.med / res.sock.med, res.rsleep.med / res.sock_gap.med);
	printf("    posted writes/s / socket sends/s                  %7.2fx  (target >= 10x)\n",
	       r3);
	printf("    forwarded read, device polling / in-process call  %7.0fx  (informational)\n",
	       res.rpoll.med / res.floor.med);
	printf("\n");
	printf("%s forwarded read (polling) <= 2x ping-pong: %.3fx\n", verdict(r1 <= 2.0), r1);
	printf("%s forwarded read (asleep, producer sleeping) < 1x socket round trip: %.3fx\n",
	       verdict(r2 < 1.0), r2);
	printf("%s posted writes >= 10x socket sends: %.2fx\n", verdict(r3 >= 10.0), r3);
	return 0;
}
