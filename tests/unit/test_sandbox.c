/* Tests of sandbox/: sandbox_enter (fds, rlimits, no_new_privs, seccomp
 * allow/kill), sandbox_spawn (fds, namespaces, fallbacks, parent death,
 * exec failure), the empty root in a spawned device, and the status and
 * warning texts.
 *
 * Every confined process is a child (fork, or sandbox_spawn of this same
 * binary with --sandbox-helper MODE); the test process itself is never
 * confined.  Children never return into cmocka: they _exit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "sandbox/policies.h"
#include "sandbox/sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_BIG_SHADOW 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define TEST_BIG_SHADOW 1
#endif
#endif
#ifndef TEST_BIG_SHADOW
#define TEST_BIG_SHADOW 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

#define ALL_NS "user,mnt,pid,ipc,net,uts"

/* ------------------------------------------------------------------ helpers */

static pid_t test_pid; /* the test process, for "another process" syscalls */

static int wait_for(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			fail_msg("waitpid(%d): %s", (int)pid, strerror(errno));
	return st;
}

/* waitpid with a deadline; kills the child and fails past it. */
static int wait_for_ms(pid_t pid, int ms)
{
	int st;

	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			fail_msg("waitpid(%d): %s", (int)pid, strerror(errno));
		if (waited >= ms) {
			kill(pid, SIGKILL);
			wait_for(pid);
			fail_msg("child %d still running after %d ms", (int)pid, ms);
		}
		usleep(10 * 1000);
	}
}

static void assert_status(int st, const char *want)
{
	char got[128];

	sandbox_describe_status(st, got, sizeof got);
	if (strcmp(got, want) != 0)
		fail_msg("child %s, expected: %s", got, want);
}

static void assert_sigsys(int st)
{
	assert_status(st, "killed by SIGSYS: seccomp violation (a forbidden syscall)");
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/* Whole file into buf (NUL-terminated); length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static ssize_t slurp_pid(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	return slurp(path, buf, len);
}

/* Reads all of fd until EOF (or the deadline) into buf. */
static size_t read_all(int fd, char *buf, size_t len, int ms)
{
	size_t got = 0;

	while (got + 1 < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;

		ssize_t n = read(fd, buf + got, len - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

/* One SEQPACKET message within ms, NUL-terminated; its length, 0 at EOF. */
static size_t recv_msg(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		fail_msg("no message on the control socket within %d ms", ms);

	ssize_t n = recv(fd, buf, len - 1, 0);

	if (n < 0)
		fail_msg("recv: %s", strerror(errno));
	buf[n] = '\0';
	return (size_t)n;
}

static void write_str(int fd, const char *s)
{
	size_t len = strlen(s);

	if (write(fd, s, len) != (ssize_t)len)
		_exit(98);
}

/* In a forked child: default signal dispositions (cmocka catches some),
 * then sandbox_enter with the uart policy. */
static void child_enter_opts(const struct sandbox_opts *opts)
{
	char err[256];

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (sandbox_enter(&sandbox_policy_uart, opts, err, sizeof err) < 0) {
		dprintf(2, "sandbox_enter: %s\n", err);
		_exit(99);
	}
}

static void child_enter(const int *keep, size_t nkeep)
{
	struct sandbox_opts o = {.keep_fds = keep, .nkeep = nkeep};

	child_enter_opts(&o);
}

/* stderr into a pipe, for checking what was printed. */
static int stderr_begin(int *saved)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(stderr);
	*saved = dup(STDERR_FILENO);
	assert_true(*saved >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
	close(p[1]);
	return p[0];
}

static void stderr_end(int saved)
{
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/* Does the host let us make all the namespaces?  Tried directly, so that a
 * test only skips when the host refuses, never when sandbox_spawn breaks. */
static bool host_allows_namespaces(void)
{
	pid_t pid = (pid_t)syscall(SYS_clone,
				   CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
					   CLONE_NEWNET | CLONE_NEWUTS | SIGCHLD,
				   0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return false;
	wait_for(pid);
	return true;
}

/* A device thread made just before sandbox_enter (as device setup does)
 * must survive it: a new thread's own start-up (rseq, set_robust_list) is
 * forbidden by the policy, so device_thread_start returns only after it.
 * Both threads on one CPU make the race certain: without the wait, the
 * filter is loaded before the new thread ever runs. */
static int thread_wake_fd;

static void *blocked_thread(void *arg)
{
	(void)arg;
	char c;
	return read(thread_wake_fd, &c, 1) == 1 ? (void *)1 : NULL;
}

/* One try, in a child; its exit status (0: the thread survived). */
static int thread_start_then_sandbox(void)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
		if (sched_setaffinity(0, sizeof(one), &one) < 0)
			_exit(97);
		thread_wake_fd = p[0];
		pthread_t t;
		if (sandbox_thread_start(&t, blocked_thread, NULL) != 0)
			_exit(96);
		int keep[] = {p[0], p[1]};
		child_enter(keep, 2);
		void *ret = NULL;
		if (write(p[1], "x", 1) != 1 || pthread_join(t, &ret) != 0 || ret != (void *)1)
			_exit(95);
		_exit(0);
	}
	close(p[0]);
	close(p[1]);
	return wait_for(pid);
}

static void test_thread_started_before_sandbox(void **state)
{
	(void)state;
	/* Which thread runs first after clone is the scheduler's choice:
	 * without the wait about one try in three dies, so 20 tries catch it. */
	for (int i = 0; i < 20; i++) {
		int st = thread_start_then_sandbox();
		if (WIFSIGNALED(st))
			fail_msg("try %d: the child died of signal %d (SIGSYS: the thread's "
				 "start-up met the filter)", i, WTERMSIG(st));
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
}

static const char *self_exe(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);

	assert_true(n > 0);
	path[n] = '\0';
	return path;
}

static bool has_fd(const int *fds, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* The fds of pid, sorted by readdir order; count. */
static size_t list_fds(pid_t pid, int *fds, size_t max)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);

	DIR *d = opendir(path);
	size_t n = 0;

	if (!d)
		fail_msg("opendir %s: %s", path, strerror(errno));
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.' && n < max)
			fds[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

/* ----------------------------------------------- sandbox_enter: allowed work */

static void test_enter_allowed_work(void **state)
{
	(void)state;
	int p[2];

	assert_int_equal(pipe(p), 0);

	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		child_enter(&p[1], 1);

		char out[256];
		size_t n = 0;

		/* memory: heap (brk or mmap), anonymous RW mapping, mprotect
		 * to read-only */
		char *big = malloc(4 << 20);

		if (!big)
			_exit(10);
		memset(big, 1, 4 << 20);
		free(big);

		char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (m == MAP_FAILED || mprotect(m, 4096, PROT_READ) < 0 || munmap(m, 8192) < 0)
			_exit(11);

		/* the uart's ioctls and fcntls (a pipe is not a terminal) */
		struct termios t;
		int r = ioctl(p[1], TCGETS, &t);

		n += (size_t)snprintf(out + n, sizeof out - n, "tcgets=%s ",
				      r < 0 && errno == ENOTTY ? "ENOTTY" : "?");
		int fl = fcntl(p[1], F_GETFL);

		n += (size_t)snprintf(out + n, sizeof out - n, "setfl=%d ",
				      fcntl(p[1], F_SETFL, fl | O_NONBLOCK));

		/* time, randomness, waiting */
		struct timespec ts = {0, 1000000};
		char rnd[8];

		if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0 || getrandom(rnd, sizeof rnd, 0) < 0)
			_exit(12);
		ts = (struct timespec){0, 1000000};
		nanosleep(&ts, NULL);
		struct pollfd pf = {.fd = p[1], .events = POLLOUT};

		n += (size_t)snprintf(out + n, sizeof out - n, "poll=%d ", poll(&pf, 1, 0));
		snprintf(out + n, sizeof out - n, "hello from the sandbox");
		write_str(p[1], out);
		_exit(0);
	}
	close(p[1]);

	char buf[512];

	read_all(p[0], buf, sizeof buf, 10000);
	close(p[0]);
	assert_status(wait_for(pid), "exited with status 0");
	assert_string_equal(buf, "tcgets=ENOTTY setfl=0 poll=1 hello from the sandbox");
}

/* abort() needs tgkill on its own pid, added by sandbox_enter. */
static void test_enter_abort_allowed(void **state)
{
	(void)state;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_enter(NULL, 0);
		abort();
	}
	assert_status(wait_for(pid), "killed by signal 6 (Aborted)");
}

/* A device policy may repeat base rules, and name a syscall several times
 * with different argument values: each is its own rule. */
static void test_enter_repeated_rules(void **state)
{
	(void)state;
	static const struct sandbox_rule rules[] = {
		{SCMP_SYS(write), SB_ARG_ANY, 0, 0},     /* also in base */
		{SCMP_SYS(write), SB_ARG_EQ, 0, 2},      /* narrower than base */
		{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TCGETS}, /* twice the same */
		{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TCGETS},
		{SCMP_SYS(ioctl), SB_ARG_EQ, 1, FIONREAD},
	};
	static const struct sandbox_policy pol = {"repeat", rules, 5};
	int p[2];

	assert_int_equal(pipe(p), 0);

	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sandbox_opts o = {.keep_fds = &p[1], .nkeep = 1};
		char err[256];
		int n = -1;

		close(p[0]);
		if (sandbox_enter(&pol, &o, err, sizeof err) < 0) {
			dprintf(p[1], "sandbox_enter: %s", err);
			_exit(99);
		}
		ioctl(p[1], FIONREAD, &n);
		write_str(p[1], "alive");
		ioctl(p[1], TIOCGWINSZ, &n); /* not in the policy */
		_exit(0);
	}
	close(p[1]);

	char buf[512];

	read_all(p[0], buf, sizeof buf, 10000);
	close(p[0]);
	assert_string_equal(buf, "alive");
	assert_sigsys(wait_for(pid));
}

/* ----------------------------------------- sandbox_enter: forbidden syscalls */

static void expect_sigsys(void (*forbidden)(void))
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_enter(NULL, 0);
		forbidden();
		_exit(0); /* survived: the filter let it through */
	}
	assert_sigsys(wait_for(pid));
}

static void do_socket(void) { socket(AF_UNIX, SOCK_STREAM, 0); }
static void do_openat(void) { openat(AT_FDCWD, "/etc/passwd", O_RDONLY); }
static void do_execve(void)
{
	char *const argv[] = {"/bin/true", NULL};

	execve(argv[0], argv, argv + 1);
}
static void do_fork(void)
{
	if (fork() == 0)
		_exit(0);
}
static void do_clone3(void) { syscall(SYS_clone3, NULL, 0); }
static void do_mmap_exec(void)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
static void do_mprotect_exec(void)
{
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		_exit(20); /* exits, so the test fails: the RW mmap must work */
	mprotect(m, 4096, PROT_READ | PROT_EXEC);
}
static void do_ioctl_other(void)
{
	int n;

	ioctl(STDERR_FILENO, FIONREAD, &n);
}
static void do_fcntl_other(void) { fcntl(STDERR_FILENO, F_GETFD); }
static void do_kill(void) { kill(getpid(), 0); }
static void do_tgkill_other(void) { syscall(SYS_tgkill, test_pid, test_pid, 0); }
static void do_ptrace(void) { ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static void do_pread(void)
{
	char c;

	pread(STDERR_FILENO, &c, 1, 0);
}

static void test_forbid_socket(void **s) { (void)s; expect_sigsys(do_socket); }
static void test_forbid_openat(void **s) { (void)s; expect_sigsys(do_openat); }
static void test_forbid_execve(void **s) { (void)s; expect_sigsys(do_execve); }
static void test_forbid_fork(void **s) { (void)s; expect_sigsys(do_fork); }
static void test_forbid_clone3(void **s) { (void)s; expect_sigsys(do_clone3); }
static void test_forbid_mmap_exec(void **s) { (void)s; expect_sigsys(do_mmap_exec); }
static void test_forbid_mprotect_exec(void **s) { (void)s; expect_sigsys(do_mprotect_exec); }
static void test_forbid_ioctl_other(void **s) { (void)s; expect_sigsys(do_ioctl_other); }
static void test_forbid_fcntl_other(void **s) { (void)s; expect_sigsys(do_fcntl_other); }
static void test_forbid_kill(void **s) { (void)s; expect_sigsys(do_kill); }
static void test_forbid_tgkill_other(void **s) { (void)s; expect_sigsys(do_tgkill_other); }
static void test_forbid_ptrace(void **s) { (void)s; expect_sigsys(do_ptrace); }
static void test_forbid_pread(void **s) { (void)s; expect_sigsys(do_pread); }

/* ------------------------- sandbox_enter: what /proc shows of a confined child */

#define KEEP_GO 21  /* child reads "go" from it */
#define KEEP_ACK 60 /* child writes "ready" to it */
#define STRAY 40    /* open before sandbox_enter, not kept */

struct waiting_child {
	pid_t pid;
	int go; /* write "go" here to let it exit 0 */
};

/* A child that opens stray fds, enters the sandbox keeping KEEP_GO and
 * KEEP_ACK (plus opts' limits), says "ready" and waits for "go". */
static void start_waiting_child(struct waiting_child *wc, uint64_t max_memory, unsigned max_fds)
{
	int go[2], ack[2];

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(ack, O_CLOEXEC), 0);
	wc->pid = fork();
	assert_true(wc->pid >= 0);
	if (wc->pid == 0) {
		if (dup2(go[0], KEEP_GO) < 0 || dup2(ack[1], KEEP_ACK) < 0 ||
		    dup2(ack[1], STRAY) < 0 || open("/dev/null", O_RDONLY) < 0)
			_exit(97);

		static const int keep[] = {KEEP_ACK, KEEP_GO}; /* unsorted on purpose */
		struct sandbox_opts o = {.keep_fds = keep,
					 .nkeep = 2,
					 .max_memory = max_memory,
					 .max_fds = max_fds};

		child_enter_opts(&o);
		write_str(KEEP_ACK, "ready");

		char b[8];

		if (read(KEEP_GO, b, sizeof b) <= 0)
			_exit(96);
		_exit(0);
	}
	close(go[0]);
	close(ack[1]);

	char buf[sizeof "ready"]; /* stops after 5 bytes: it keeps the pipe open */

	read_all(ack[0], buf, sizeof buf, 10000);
	close(ack[0]);
	if (strcmp(buf, "ready") != 0) {
		kill(wc->pid, SIGKILL);
		assert_status(wait_for(wc->pid), "(child did not get ready)");
	}
	wc->go = go[1];
}

static void finish_waiting_child(struct waiting_child *wc)
{
	write_str(wc->go, "go");
	close(wc->go);
	assert_status(wait_for(wc->pid), "exited with status 0");
}

static void test_enter_proc_status(void **state)
{
	(void)state;
	struct waiting_child wc;
	char status[8192];

	start_waiting_child(&wc, 0, 0);
	assert_true(slurp_pid(wc.pid, "status", status, sizeof status) > 0);
	/* 2 = SECCOMP_MODE_FILTER */
	assert_non_null(strstr(status, "\nSeccomp:\t2\n"));
	assert_non_null(strstr(status, "\nNoNewPrivs:\t1\n"));
	finish_waiting_child(&wc);
}

static void test_enter_closes_fds(void **state)
{
	(void)state;
	struct waiting_child wc;
	int fds[64];

	start_waiting_child(&wc, 0, 0);

	size_t n = list_fds(wc.pid, fds, 64);
	static const int allowed[] = {0, 1, 2, KEEP_GO, KEEP_ACK};

	for (size_t i = 0; i < n; i++)
		if (!has_fd(allowed, 5, fds[i]))
			fail_msg("fd %d is still open after sandbox_enter", fds[i]);
	assert_true(has_fd(fds, n, KEEP_GO));
	assert_true(has_fd(fds, n, KEEP_ACK));
	assert_false(has_fd(fds, n, STRAY));
	finish_waiting_child(&wc);
}

static const char *limit_line(const char *limits, const char *name, char *out, size_t len)
{
	const char *l = strstr(limits, name);

	if (!l)
		fail_msg("no %s in /proc/PID/limits", name);
	l += strlen(name);

	/* "soft hard unit" -> "soft hard" */
	char soft[32], hard[32];

	if (sscanf(l, "%31s %31s", soft, hard) != 2)
		fail_msg("cannot parse %s", name);
	snprintf(out, len, "%s %s", soft, hard);
	return out;
}

static void test_enter_default_limits(void **state)
{
	(void)state;
	struct waiting_child wc;
	char limits[4096], got[80], as_before[80];

	assert_true(slurp("/proc/self/limits", limits, sizeof limits) > 0);
	limit_line(limits, "Max address space", as_before, sizeof as_before);

	start_waiting_child(&wc, 0, 0);
	assert_true(slurp_pid(wc.pid, "limits", limits, sizeof limits) > 0);
	assert_string_equal(limit_line(limits, "Max core file size", got, sizeof got), "0 0");
	/* highest kept fd (60) + 16 */
	assert_string_equal(limit_line(limits, "Max open files", got, sizeof got), "76 76");
	assert_string_equal(limit_line(limits, "Max address space", got, sizeof got), as_before);
	finish_waiting_child(&wc);
}

static void test_enter_given_limits(void **state)
{
	(void)state;
	struct waiting_child wc;
	char limits[4096], got[80], as_before[80];
	const uint64_t tib = 1ULL << 40;

	assert_true(slurp("/proc/self/limits", limits, sizeof limits) > 0);
	limit_line(limits, "Max address space", as_before, sizeof as_before);

	start_waiting_child(&wc, tib, 100);
	assert_true(slurp_pid(wc.pid, "limits", limits, sizeof limits) > 0);
	assert_string_equal(limit_line(limits, "Max open files", got, sizeof got), "100 100");
	limit_line(limits, "Max address space", got, sizeof got);
	if (TEST_BIG_SHADOW)
		assert_string_equal(got, as_before); /* skipped under ASan */
	else
		assert_string_equal(got, "1099511627776 1099511627776");
	finish_waiting_child(&wc);
}

/* ------------------------------------------------ sandbox_enter: failures */

static void enter_failure(const int *keep, size_t nkeep, bool ns_env, const char *want)
{
	int p[2];

	assert_int_equal(pipe(p), 0);

	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (ns_env)
			setenv(SANDBOX_NS_ENV, "1", 1);

		int k[4];
		size_t n = 0;

		for (; n < nkeep; n++)
			k[n] = keep[n];
		k[n++] = p[1];

		struct sandbox_opts o = {.keep_fds = k, .nkeep = n};
		char err[256] = "unchanged";
		int rc = sandbox_enter(&sandbox_policy_uart, &o, err, sizeof err);

		dprintf(p[1], "rc=%d %s", rc, err);
		_exit(0);
	}
	close(p[1]);

	char buf[512];

	read_all(p[0], buf, sizeof buf, 10000);
	close(p[0]);
	assert_status(wait_for(pid), "exited with status 0");
	if (!strstr(buf, want))
		fail_msg("got \"%s\", expected it to contain \"%s\"", buf, want);
	assert_true(strncmp(buf, "rc=-1 ", 6) == 0);
}

static void test_enter_rejects_bad_fd(void **state)
{
	(void)state;
	static const int bad[] = {-1};

	enter_failure(bad, 1, false, "keep_fds: invalid fd -1");
}

/* SANDBOX_NS_ENV in a process that is not pid 1 of its own namespaces must
 * not touch the (host's) mount tree. */
static void test_enter_ns_env_needs_pid1(void **state)
{
	(void)state;
	char before[65536], after[65536];

	assert_true(slurp("/proc/self/mountinfo", before, sizeof before) > 0);
	enter_failure(NULL, 0, true, "is not pid 1 of its own pid namespace");
	assert_true(slurp("/proc/self/mountinfo", after, sizeof after) > 0);
	assert_string_equal(before, after);
}

/* ------------------------------------------------------------ sandbox_spawn */

static void spawn_ok(char *const argv[], bool use_ns, struct sandbox_child *c)
{
	char err[256];

	if (sandbox_spawn(argv, use_ns, c, err, sizeof err) < 0)
		fail_msg("sandbox_spawn: %s", err);
	assert_true(c->pid > 0);
	assert_true(c->control_fd >= 0);
	assert_true(fcntl(c->control_fd, F_GETFD) & FD_CLOEXEC);
}

static void own_ns(const char *name, char *out, size_t len)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/self/ns/%s", name);

	ssize_t n = readlink(path, out, len - 1);

	assert_true(n > 0);
	out[n] = '\0';
}

/* value of "key=" in "k1=v1 k2=v2 ..." */
static const char *field(const char *text, const char *key, char *out, size_t len)
{
	char pat[32];

	snprintf(pat, sizeof pat, " %s=", key);

	const char *p = strstr(text, pat);

	if (!p)
		fail_msg("no %s in \"%s\"", key, text);
	p += strlen(pat);

	size_t n = strcspn(p, " \n");

	snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return out;
}

#define NS_SCRIPT                                                                      \
	"printf ' pid=%s uid=%s env=%s user=%s mnt=%s pid_ns=%s net=%s ipc=%s uts=%s "  \
	"asan=%s \\n' \"$$\" \"$(id -u)\" \"${" SANDBOX_NS_ENV "-unset}\" "               \
	"\"$(readlink /proc/self/ns/user)\" \"$(readlink /proc/self/ns/mnt)\" "          \
	"\"$(readlink /proc/self/ns/pid)\" \"$(readlink /proc/self/ns/net)\" "           \
	"\"$(readlink /proc/self/ns/ipc)\" \"$(readlink /proc/self/ns/uts)\" "           \
	"\"${ASAN_OPTIONS-unset}\" >&3"

/* Runs NS_SCRIPT under sandbox_spawn; its report (all messages until EOF). */
static void spawn_report(bool use_ns, struct sandbox_child *c, char *out, size_t len, int *st)
{
	char *const argv[] = {"/bin/sh", "-c", NS_SCRIPT, NULL};
	size_t got = 0;

	spawn_ok(argv, use_ns, c);
	out[0] = ' ';
	got = 1;
	for (;;) {
		size_t n = recv_msg(c->control_fd, out + got, len - got, 10000);

		if (n == 0)
			break;
		got += n;
	}
	close(c->control_fd);
	*st = wait_for(c->pid);
}

static void test_spawn_namespaces(void **state)
{
	(void)state;
	if (!host_allows_namespaces())
		skip();

	struct sandbox_child c;
	char out[2048], v[128], mine[128];
	int st;

	spawn_report(true, &c, out, sizeof out, &st);
	assert_status(st, "exited with status 0");
	assert_string_equal(c.namespaces, ALL_NS);
	assert_string_equal(field(out, "pid", v, sizeof v), "1");
	assert_string_equal(field(out, "uid", v, sizeof v), "0");
	assert_string_equal(field(out, "env", v, sizeof v), "1");

	static const char *const ns[][2] = {{"user", "user"}, {"mnt", "mnt"},
					    {"pid_ns", "pid"}, {"net", "net"},
					    {"ipc", "ipc"},   {"uts", "uts"}};

	for (size_t i = 0; i < 6; i++) {
		field(out, ns[i][0], v, sizeof v);
		own_ns(ns[i][1], mine, sizeof mine);
		assert_true(strncmp(v, ns[i][1], strlen(ns[i][1])) == 0);
		if (strcmp(v, mine) == 0)
			fail_msg("the device shares the %s namespace %s", ns[i][1], mine);
	}
	field(out, "asan", v, sizeof v);
	if (TEST_ASAN)
		assert_non_null(strstr(v, "detect_leaks=0"));
}

/* Without use_ns: the host's namespaces, no SANDBOX_NS_ENV even if ours has
 * it (sandbox_enter would otherwise pivot the host's root). */
static void test_spawn_without_ns(void **state)
{
	(void)state;
	struct sandbox_child c;
	char out[2048], v[128], mine[128];
	int st;

	setenv(SANDBOX_NS_ENV, "1", 1);
	spawn_report(false, &c, out, sizeof out, &st);
	unsetenv(SANDBOX_NS_ENV);
	assert_status(st, "exited with status 0");
	assert_string_equal(c.namespaces, "");
	assert_string_equal(field(out, "env", v, sizeof v), "unset");
	assert_string_not_equal(field(out, "pid", v, sizeof v), "1");
	own_ns("net", mine, sizeof mine);
	assert_string_equal(field(out, "net", v, sizeof v), mine);
}

/* The spawned process holds exactly 0, 1 (/dev/null), 2 and 3 (socket). */
static void check_spawn_fds(bool use_ns)
{
	char *const argv[] = {"/bin/sleep", "30", NULL};
	struct sandbox_child c;
	char comm[64] = "", link[256];

	/* an fd of ours without O_CLOEXEC must not leak into the device */
	int leak = dup2(STDERR_FILENO, 50);

	assert_int_equal(leak, 50);
	spawn_ok(argv, use_ns, &c);
	close(leak);

	/* Wait until it sleeps: right after exec the loader still has the
	 * libraries it maps open. */
	char sc[256] = "", want1[16], want2[16];

	snprintf(want1, sizeof want1, "%d ", SYS_clock_nanosleep);
	snprintf(want2, sizeof want2, "%d ", SYS_nanosleep);
	for (int i = 0; i < 500; i++) {
		slurp_pid(c.pid, "comm", comm, sizeof comm);
		slurp_pid(c.pid, "syscall", sc, sizeof sc);
		if (strcmp(comm, "sleep\n") == 0 &&
		    (strncmp(sc, want1, strlen(want1)) == 0 || strncmp(sc, want2, strlen(want2)) == 0))
			break;
		usleep(10 * 1000);
	}
	assert_string_equal(comm, "sleep\n");

	int fds[64];
	size_t n = list_fds(c.pid, fds, 64);
	static const int allowed[] = {0, 1, 2, SANDBOX_CONTROL_FD};

	for (size_t i = 0; i < n; i++)
		if (!has_fd(allowed, 4, fds[i]))
			fail_msg("fd %d leaked into the spawned device", fds[i]);
	for (int fd = 0; fd <= 3; fd++) {
		char path[64];

		if (fd == 2)
			continue;
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)c.pid, fd);

		ssize_t len = readlink(path, link, sizeof link - 1);

		assert_true(len > 0);
		link[len] = '\0';
		if (fd == 3)
			assert_true(strncmp(link, "socket:[", 8) == 0);
		else
			assert_string_equal(link, "/dev/null");
	}

	if (use_ns) {
		char status[8192];

		/* the last NSpid is its pid in the innermost namespace */
		assert_true(slurp_pid(c.pid, "status", status, sizeof status) > 0);

		const char *l = strstr(status, "\nNSpid:");

		assert_non_null(l);
		assert_true(strncmp(l + strcspn(l + 1, "\n") - 1, "\t1\n", 3) == 0);
	}

	kill(c.pid, SIGKILL);
	assert_status(wait_for(c.pid), "killed by signal 9 (Killed)");
	close(c.control_fd);
}

static void test_spawn_fds(void **state)
{
	(void)state;
	check_spawn_fds(false);
	if (host_allows_namespaces())
		check_spawn_fds(true);
}

/* The hostname in pid's uts namespace (read by a forked child that joins
 * it), into out; 0 or -1. */
static int uts_hostname(pid_t pid, char *out, size_t len)
{
	char path[64];
	int p[2];

	snprintf(path, sizeof path, "/proc/%d/ns/uts", (int)pid);
	if (pipe(p) < 0)
		return -1;

	pid_t k = fork();

	if (k < 0)
		return -1;
	if (k == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		char name[256] = "";

		if (fd < 0 || setns(fd, CLONE_NEWUTS) < 0 || gethostname(name, sizeof name) < 0)
			_exit(1);
		write_str(p[1], name);
		_exit(0);
	}
	close(p[1]);
	read_all(p[0], out, len, 5000);
	close(p[0]);

	int st;

	while (waitpid(k, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Spawns this binary as a helper that enters its sandbox and waits, then
 * checks from outside: the only mount left is "/" as a read-only tmpfs, the
 * root is empty, the filter is on; then lets it exit (exit(), so atexit
 * handlers and the sanitizer runtime's exit path must pass the filter).
 * No cmocka asserts (also run in forked children): 0, or -1 with why. */
static int check_empty_root_helper(const char *exe, char *ns, size_t nslen, char *why,
				   size_t len)
{
	char *const argv[] = {(char *)exe, "--sandbox-helper", "wait", NULL};
	struct sandbox_child c;
	char msg[512], path[64];
	static char text[65536];
	int rc = -1;

	if (sandbox_spawn(argv, true, &c, why, len) < 0)
		return -1;
	snprintf(ns, nslen, "%s", c.namespaces);

	struct pollfd p = {.fd = c.control_fd, .events = POLLIN};
	ssize_t n = poll(&p, 1, 10000) == 1 ? recv(c.control_fd, msg, sizeof msg - 1, 0) : -1;

	msg[n > 0 ? n : 0] = '\0';
	if (strcmp(msg, "ready") != 0) {
		snprintf(why, len, "helper said \"%s\"", msg);
		goto out;
	}
	if (slurp_pid(c.pid, "mountinfo", text, sizeof text) <= 0 ||
	    strchr(text, '\n') != text + strlen(text) - 1 || !strstr(text, " / / ro,") ||
	    !strstr(text, " - tmpfs ")) {
		snprintf(why, len, "mountinfo of the device: %s", text);
		goto out;
	}

	snprintf(path, sizeof path, "/proc/%d/root", (int)c.pid);

	DIR *d = opendir(path);

	if (!d) {
		snprintf(why, len, "opendir %s: %s", path, strerror(errno));
		goto out;
	}
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			snprintf(why, len, "the new root is not empty: %s", e->d_name);
			closedir(d);
			goto out;
		}
	closedir(d);

	if (slurp_pid(c.pid, "status", text, sizeof text) <= 0 ||
	    !strstr(text, "\nSeccomp:\t2\n")) {
		snprintf(why, len, "no seccomp filter in the device's status");
		goto out;
	}
	if (uts_hostname(c.pid, text, sizeof text) < 0 || strcmp(text, "cellvm") != 0) {
		snprintf(why, len, "hostname in the device's uts namespace: \"%s\"", text);
		goto out;
	}
	if (send(c.control_fd, "go", 2, MSG_NOSIGNAL) != 2) {
		snprintf(why, len, "send: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		kill(c.pid, SIGKILL);

	int st;

	while (waitpid(c.pid, &st, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		char how[128];

		sandbox_describe_status(st, how, sizeof how);
		snprintf(why, len, "the device %s", how);
		rc = -1;
	}
	close(c.control_fd);
	return rc;
}

static void test_spawn_enter_empty_root(void **state)
{
	(void)state;
	if (!host_allows_namespaces())
		skip();

	char ns[64], why[65536 + 64];

	if (check_empty_root_helper(self_exe(), ns, sizeof ns, why, sizeof why) < 0)
		fail_msg("%s", why);
	assert_string_equal(ns, ALL_NS);
}

/* The same as host root without a user namespace (the fallback when the
 * host refuses only user namespaces): a seccomp filter in a forked child
 * makes clone(CLONE_NEWUSER) fail. */
static void test_spawn_enter_empty_root_no_userns(void **state)
{
	(void)state;
	if (!host_allows_namespaces() || geteuid() != 0)
		skip();

	const char *exe = self_exe();
	int p[2];

	assert_int_equal(pipe(p), 0);

	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);

		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		if (!ctx ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(90);
		seccomp_release(ctx);

		/* Our own mount namespace, with every mount shared: without
		 * MS_PRIVATE first, what the device mounts and unmounts would
		 * propagate back here (on a host whose / is shared, to the
		 * host). */
		static char before[65536], after[65536];

		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0 ||
		    slurp("/proc/self/mountinfo", before, sizeof before) <= 0)
			_exit(91);

		int saved, err_fd = stderr_begin(&saved);
		char ns[64] = "", why[1024] = "";
		int rc = check_empty_root_helper(exe, ns, sizeof ns, why, sizeof why);

		stderr_end(saved);
		close(err_fd);
		if (slurp("/proc/self/mountinfo", after, sizeof after) <= 0)
			_exit(92);
		if (rc == 0 && strcmp(before, after) != 0) {
			rc = -1;
			snprintf(why, sizeof why, "our mounts changed:\n%.900s", after);
		}
		dprintf(p[1], "rc=%d ns=%s why=%s", rc, ns, why);
		_exit(0);
	}
	close(p[1]);

	char buf[70000];

	read_all(p[0], buf, sizeof buf, 20000);
	close(p[0]);
	assert_status(wait_for(pid), "exited with status 0");
	assert_string_equal(buf, "rc=0 ns=mnt,pid,ipc,net,uts why=");
}

static void test_spawn_enter_then_forbidden(void **state)
{
	(void)state;
	char *const argv[] = {(char *)self_exe(), "--sandbox-helper", "openat", NULL};
	struct sandbox_child c;

	spawn_ok(argv, true, &c);
	assert_sigsys(wait_for(c.pid));
	close(c.control_fd);
}

static void check_exec_failure(bool use_ns)
{
	char *const argv[] = {"/nonexistent/cellvm-dev-nothing", NULL};
	struct sandbox_child c;
	int saved, out = stderr_begin(&saved);
	char text[512];

	spawn_ok(argv, use_ns, &c);
	int st = wait_for(c.pid);

	stderr_end(saved);
	read_all(out, text, sizeof text, 1000);
	close(out);
	close(c.control_fd);
	assert_status(st, "exited with status 127");
	assert_non_null(strstr(text, "cellvm: cannot run /nonexistent/cellvm-dev-nothing: "
				     "No such file or directory\n"));
}

static void test_spawn_exec_failure(void **state)
{
	(void)state;
	check_exec_failure(false);
	check_exec_failure(true);
}

static void test_spawn_rejects_empty_argv(void **state)
{
	(void)state;
	char *const argv[] = {NULL};
	struct sandbox_child c;
	char err[128] = "";

	assert_int_equal(sandbox_spawn(argv, true, &c, err, sizeof err), -1);
	assert_int_equal(c.pid, -1);
	assert_int_equal(c.control_fd, -1);
	assert_true(err[0] != '\0');
}

/* Fallbacks: in a forked child, a seccomp filter makes clone() with the
 * given namespace flag fail with EPERM, as a restrictive host would; the
 * child reports what sandbox_spawn made, printed and what the device saw. */
static void check_fallback(unsigned long refused_flag, const char *want_ns,
			   const char *want_line)
{
	int p[2];

	assert_int_equal(pipe(p), 0);

	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);

		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		if (!ctx ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, refused_flag, refused_flag)) < 0 ||
		    seccomp_load(ctx) < 0)
			_exit(90);
		seccomp_release(ctx);
		setenv(SANDBOX_NS_ENV, "1", 1);

		int saved, err_fd = stderr_begin(&saved);
		struct sandbox_child c;
		char report[2048], errtext[1024];
		int st;

		spawn_report(true, &c, report, sizeof report, &st);
		stderr_end(saved);
		read_all(err_fd, errtext, sizeof errtext, 1000);
		dprintf(p[1], "ns=%s|st=%d|err=%s|out=%s", c.namespaces, st, errtext, report);
		_exit(0);
	}
	close(p[1]);

	char buf[4096], v[128];

	read_all(p[0], buf, sizeof buf, 20000);
	close(p[0]);
	assert_status(wait_for(pid), "exited with status 0");

	char *out = strstr(buf, "|out=");

	assert_non_null(out);

	char want[256];

	snprintf(want, sizeof want, "ns=%s|st=0|err=%s|", want_ns, want_line);
	if (strncmp(buf, want, strlen(want)) != 0)
		fail_msg("got \"%s\", expected it to start with \"%s\"", buf, want);
	if (want_ns[0]) {
		assert_string_equal(field(out, "pid", v, sizeof v), "1");
		assert_string_equal(field(out, "env", v, sizeof v), "1");
	} else {
		assert_string_not_equal(field(out, "pid", v, sizeof v), "1");
		assert_string_equal(field(out, "env", v, sizeof v), "unset");
	}
}

static void test_spawn_fallback_no_userns(void **state)
{
	(void)state;
	if (!host_allows_namespaces())
		skip();
	if (geteuid() != 0) {
		check_fallback(CLONE_NEWUSER, "",
			       "cellvm: sandbox: the host refused new namespaces (clone: Operation "
			       "not permitted); device runs in the host's namespaces\n");
		return;
	}
	check_fallback(CLONE_NEWUSER, "mnt,pid,ipc,net,uts",
		       "cellvm: sandbox: the host refused a new user namespace (clone: "
		       "Operation not permitted); device runs in new mnt,pid,ipc,net,uts "
		       "namespaces as the host's root\n");
}

static void test_spawn_fallback_no_ns(void **state)
{
	(void)state;
	check_fallback(CLONE_NEWNS, "",
		       "cellvm: sandbox: the host refused new namespaces (clone: Operation not "
		       "permitted); device runs in the host's namespaces\n");
}

/* The device dies with its parent (PR_SET_PDEATHSIG). */
static void check_parent_death(bool use_ns)
{
	int p[2];

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	assert_int_equal(pipe(p), 0);

	pid_t mid = fork();

	assert_true(mid >= 0);
	if (mid == 0) {
		char *const argv[] = {"/bin/sleep", "30", NULL};
		struct sandbox_child c;
		char err[256];

		close(p[0]);
		if (sandbox_spawn(argv, use_ns, &c, err, sizeof err) < 0)
			_exit(1);
		dprintf(p[1], "%d", (int)c.pid);
		/* give it time to exec, then die without waiting for it */
		usleep(100 * 1000);
		_exit(0);
	}
	close(p[1]);

	char buf[32];

	read_all(p[0], buf, sizeof buf, 10000);
	close(p[0]);
	assert_status(wait_for(mid), "exited with status 0");

	/* reparented to us (subreaper): must be killed, not sleep on */
	pid_t dev = (pid_t)atoi(buf);

	assert_true(dev > 0);
	assert_status(wait_for_ms(dev, 5000), "killed by signal 9 (Killed)");
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

static void test_spawn_dies_with_parent(void **state)
{
	(void)state;
	check_parent_death(false);
	check_parent_death(true);
}

/* ------------------------------------------------------ status and warning */

static void test_describe_status(void **state)
{
	(void)state;
	char buf[128];

	sandbox_describe_status(W_EXITCODE(0, 0), buf, sizeof buf);
	assert_string_equal(buf, "exited with status 0");
	sandbox_describe_status(W_EXITCODE(2, 0), buf, sizeof buf);
	assert_string_equal(buf, "exited with status 2");
	sandbox_describe_status(W_EXITCODE(0, SIGKILL), buf, sizeof buf);
	assert_string_equal(buf, "killed by signal 9 (Killed)");
	sandbox_describe_status(W_EXITCODE(0, SIGSEGV), buf, sizeof buf);
	assert_string_equal(buf, "killed by signal 11 (Segmentation fault)");
	sandbox_describe_status(W_EXITCODE(0, SIGSYS), buf, sizeof buf);
	assert_string_equal(buf, "killed by SIGSYS: seccomp violation (a forbidden syscall)");

	/* a real seccomp kill reads the same */
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		child_enter(NULL, 0);
		syscall(SYS_getppid);
		_exit(0);
	}
	sandbox_describe_status(wait_for(pid), buf, sizeof buf);
	assert_string_equal(buf, "killed by SIGSYS: seccomp violation (a forbidden syscall)");

	/* truncated, always terminated */
	memset(buf, 'x', sizeof buf);
	sandbox_describe_status(W_EXITCODE(3, 0), buf, 7);
	assert_string_equal(buf, "exited");
	sandbox_describe_status(W_EXITCODE(3, 0), buf, 0);
}

static void test_warn_disabled(void **state)
{
	(void)state;
	int saved, out = stderr_begin(&saved);
	char text[512];

	sandbox_warn_disabled("cellvm-dev-uart");
	stderr_end(saved);
	read_all(out, text, sizeof text, 1000);
	close(out);
	assert_non_null(strstr(text, "WARNING"));
	assert_non_null(strstr(text, "cellvm-dev-uart runs WITHOUT its sandbox"));
	assert_non_null(strstr(text, "--no-sandbox"));
	assert_non_null(strstr(text, "no seccomp filter"));
	assert_non_null(strstr(text, "debugging"));
	assert_int_equal(text[strlen(text) - 1], '\n');
}

/* --------------------------------------------------------- policy tables */

static void test_policy_tables(void **state)
{
	(void)state;
	static const int never[] = {
		SCMP_SYS(open),   SCMP_SYS(openat),  SCMP_SYS(openat2), SCMP_SYS(socket),
		SCMP_SYS(connect), SCMP_SYS(bind),   SCMP_SYS(execve),  SCMP_SYS(execveat),
		SCMP_SYS(clone),  SCMP_SYS(clone3),  SCMP_SYS(fork),    SCMP_SYS(vfork),
		SCMP_SYS(ptrace), SCMP_SYS(kill),    SCMP_SYS(tkill),   SCMP_SYS(tgkill),
		SCMP_SYS(mount),  SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(ioctl),
		SCMP_SYS(fcntl),  SCMP_SYS(prctl),   SCMP_SYS(seccomp), SCMP_SYS(unshare),
		SCMP_SYS(setns),  SCMP_SYS(process_vm_writev),
	};
	const struct sandbox_policy *pols[] = {&sandbox_policy_base, &sandbox_policy_uart};

	assert_string_equal(sandbox_policy_base.name, "base");
	assert_string_equal(sandbox_policy_uart.name, "uart");
	for (size_t k = 0; k < 2; k++) {
		const struct sandbox_policy *pol = pols[k];

		for (size_t i = 0; i < pol->nrules; i++) {
			const struct sandbox_rule *r = &pol->rules[i];

			assert_true(r->nr >= 0); /* resolved for this architecture */
			if (r->nr == SCMP_SYS(mmap) || r->nr == SCMP_SYS(mprotect)) {
				assert_int_equal(r->op, SB_ARG_MASK_ZERO);
				assert_int_equal(r->arg, 2);
				assert_int_equal(r->value, PROT_EXEC);
			}
			if (pol == &sandbox_policy_uart &&
			    (r->nr == SCMP_SYS(ioctl) || r->nr == SCMP_SYS(fcntl))) {
				assert_int_equal(r->op, SB_ARG_EQ);
				assert_int_equal(r->arg, 1);
				continue;
			}
			for (size_t j = 0; j < sizeof never / sizeof never[0]; j++)
				if (r->nr == never[j])
					fail_msg("policy %s allows forbidden syscall %d", pol->name,
						 r->nr);
		}
	}
}

/* ------------------------------------------- helper mode (spawned by tests) */

static int helper(const char *mode)
{
	static const int keep[] = {SANDBOX_CONTROL_FD};
	struct sandbox_opts o = {.keep_fds = keep, .nkeep = 1, .max_memory = 1ULL << 40};
	char err[256];

	if (sandbox_enter(&sandbox_policy_uart, &o, err, sizeof err) < 0) {
		dprintf(SANDBOX_CONTROL_FD, "sandbox_enter: %s", err);
		return 2;
	}
	if (strcmp(mode, "openat") == 0) {
		openat(AT_FDCWD, "/", O_RDONLY);
		return 3;
	}
	write_str(SANDBOX_CONTROL_FD, "ready");

	char b[16];

	if (read(SANDBOX_CONTROL_FD, b, sizeof b) <= 0)
		return 4;
	/* exit(), not _exit: atexit handlers and the sanitizer runtime's exit
	 * path must pass the filter too.  (No printf to stdout here: stdio's
	 * first use of a buffered stream calls fstat, which is forbidden.) */
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--sandbox-helper") == 0)
		return helper(argv[2]);

	test_pid = getpid();

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enter_allowed_work),
		cmocka_unit_test(test_enter_abort_allowed),
		cmocka_unit_test(test_enter_repeated_rules),
		cmocka_unit_test(test_forbid_socket),
		cmocka_unit_test(test_forbid_openat),
		cmocka_unit_test(test_forbid_execve),
		cmocka_unit_test(test_forbid_fork),
		cmocka_unit_test(test_forbid_clone3),
		cmocka_unit_test(test_forbid_mmap_exec),
		cmocka_unit_test(test_forbid_mprotect_exec),
		cmocka_unit_test(test_forbid_ioctl_other),
		cmocka_unit_test(test_forbid_fcntl_other),
		cmocka_unit_test(test_forbid_kill),
		cmocka_unit_test(test_forbid_tgkill_other),
		cmocka_unit_test(test_forbid_ptrace),
		cmocka_unit_test(test_forbid_pread),
		cmocka_unit_test(test_enter_proc_status),
		cmocka_unit_test(test_enter_closes_fds),
		cmocka_unit_test(test_enter_default_limits),
		cmocka_unit_test(test_enter_given_limits),
		cmocka_unit_test(test_enter_rejects_bad_fd),
		cmocka_unit_test(test_enter_ns_env_needs_pid1),
		cmocka_unit_test(test_spawn_namespaces),
		cmocka_unit_test(test_spawn_without_ns),
		cmocka_unit_test(test_spawn_fds),
		cmocka_unit_test(test_spawn_enter_empty_root),
		cmocka_unit_test(test_spawn_enter_empty_root_no_userns),
		cmocka_unit_test(test_spawn_enter_then_forbidden),
		cmocka_unit_test(test_spawn_exec_failure),
		cmocka_unit_test(test_spawn_rejects_empty_argv),
		cmocka_unit_test(test_spawn_fallback_no_userns),
		cmocka_unit_test(test_spawn_fallback_no_ns),
		cmocka_unit_test(test_spawn_dies_with_parent),
		cmocka_unit_test(test_describe_status),
		cmocka_unit_test(test_warn_disabled),
		cmocka_unit_test(test_policy_tables),
		cmocka_unit_test(test_thread_started_before_sandbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
