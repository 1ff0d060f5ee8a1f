/* cellvm start: runs a VM from its directory under a detached supervisor
 * (`cellvm run`, double fork, setsid) that holds the VM's lock for its
 * life; waits until the VM runs, or shows why it did not. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

#define START_TIMEOUT_MS 60000
#define LOG_TAIL_LINES 15

static void start_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm start NAME|UUID [--root DIR] [--foreground]\n"
		"\n"
		"Starts the VM under a supervisor (`cellvm run`) that keeps running after\n"
		"this command returns, holding the VM's lock (so a second start is\n"
		"refused) and listening on ROOT/UUID/control.sock (state, stop, pause,\n"
		"resume).  Its messages are appended to ROOT/UUID/cellvm.log.  COM1's\n"
		"output goes to its serial output file (console.txt when the VM has no\n"
		"serial port), and `cellvm console NAME` attaches to it.  Returns once the\n"
		"VM runs; if it fails to start, prints the end of cellvm.log.\n"
		"\n"
		"Options:\n"
		"  --root DIR     the VM root (cellvm create --help)\n"
		"  --foreground   run the supervisor in this process (for systemd: the\n"
		"                 command lasts as long as the VM, messages on stderr)\n"
		"\n"
		"Exit status: 0 started (with --foreground: the VM ended well), 1 no such\n"
		"VM, already running, or it failed to start, 2 bad options.\n"
		"\n"
		"Example:\n"
		"  cellvm start web1 && cellvm console web1\n");
}

static const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return "cellvm";
	path[n] = 0;
	return path;
}

/* The log's lines after the last "--- cellvm start" mark (this start's). */
static void print_log_tail(const char *log)
{
	FILE *f = fopen(log, "r");
	if (!f)
		return;
	char *lines[LOG_TAIL_LINES] = {0}, buf[1024];
	unsigned n = 0;
	while (fgets(buf, sizeof(buf), f)) {
		if (!strncmp(buf, "--- cellvm start", 16)) {
			for (unsigned i = 0; i < LOG_TAIL_LINES; i++) {
				free(lines[i]);
				lines[i] = NULL;
			}
			n = 0;
		}
		free(lines[n % LOG_TAIL_LINES]);
		lines[n % LOG_TAIL_LINES] = strdup(buf);
		n++;
	}
	fclose(f);
	fprintf(stderr, "--- the end of %s:\n", log);
	for (unsigned i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++) {
		fputs(lines[i % LOG_TAIL_LINES] ? lines[i % LOG_TAIL_LINES] : "", stderr);
		free(lines[i % LOG_TAIL_LINES]);
		lines[i % LOG_TAIL_LINES] = NULL;
	}
}

/* In the grandchild: stdio to /dev/null and the log, then exec. */
static void exec_supervisor(char **argv, int lock_fd, const char *log, bool detach)
{
	if (detach) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		close(in);
		close(out);
		time_t now = time(NULL);
		fprintf(stderr, "--- cellvm start (pid %d) %s", (int)getpid(), ctime(&now));
	}
	int flags = fcntl(lock_fd, F_GETFD);
	fcntl(lock_fd, F_SETFD, flags & ~FD_CLOEXEC); /* the supervisor keeps it */
	execv(argv[0], argv);
	fprintf(stderr, "cellvm start: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int wait_running(const char *name, const char *dir, const char *log)
{
	char err[1024];
	for (int waited = 0; waited < START_TIMEOUT_MS; waited += 100) {
		struct cellvm_state st;
		if (!cellvm_is_running(dir)) {
			fprintf(stderr, "cellvm start: VM '%s' failed to start\n", name);
			print_log_tail(log);
			return CMD_FAILED;
		}
		if (cellvm_state(dir, &st, err, sizeof(err)) == 0) {
			printf("Started VM '%s' (supervisor pid %d); console: cellvm console %s\n",
			       name, (int)st.pid, name);
			return CMD_OK;
		}
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000000}, NULL);
	}
	return cmd_fail("start", CMD_FAILED,
			"VM '%s' did not answer on %s/%s within %d s (it may still start; see %s)",
			name, dir, CELLVM_CONTROL_SOCKET, START_TIMEOUT_MS / 1000, log);
}

int cmd_start(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *opt_root = NULL;
	bool foreground = false;
	char root[VMCONF_PATH_MAX], err[2048], log[VMCONF_PATH_MAX + 32];
	struct vm_entry e;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': opt_root = optarg; break;
		case 'f': foreground = true; break;
		case 'h':
			start_usage(stdout);
			return CMD_OK;
		default:
			start_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind + 1 != argc) {
		start_usage(stderr);
		return CMD_USAGE;
	}
	rc = cmd_find_vm("start", opt_root, argv[optind], false, root, sizeof(root), &e);
	if (rc)
		return rc;
	int lock = vmdir_lock(e.dir, err, sizeof(err));
	if (lock < 0) {
		rc = lock == -EBUSY ? cmd_fail("start", CMD_FAILED,
					       "VM '%s' is already running (%s/%s is held)",
					       e.def->name, e.dir, VMCONF_LOCK_FILE)
				    : cmd_fail("start", CMD_FAILED, "%s", err);
		vmdir_entry_free(&e);
		return rc;
	}
	char **sv = start_argv(self_exe(), &e, lock, err, sizeof(err));
	if (!sv) {
		close(lock);
		vmdir_entry_free(&e);
		return cmd_fail("start", CMD_FAILED, "VM '%s': %s", argv[optind], err);
	}
	snprintf(log, sizeof(log), "%s/%s", e.dir, CELLVM_LOG_FILE);
	if (foreground)
		exec_supervisor(sv, lock, log, false);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* A session of its own, and not our child: it outlives us. */
		setsid();
		if (fork() != 0)
			_exit(0);
		exec_supervisor(sv, lock, log, true);
	}
	vmconf_argv_free(sv);
	close(lock); /* the supervisor's copy holds it now */
	if (pid < 0) {
		rc = cmd_fail("start", CMD_FAILED, "fork: %s", strerror(errno));
	} else {
		waitpid(pid, NULL, 0);
		rc = wait_running(e.def->name, e.dir, log);
	}
	vmdir_entry_free(&e);
	return rc;
}
