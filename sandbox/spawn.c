/* sandbox_spawn: starts a device binary, in new namespaces where the host
 * allows, with only /dev/null on stdin/stdout, the inherited stderr and the
 * control socket as fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/spawn_internal.h"

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | \
		  CLONE_NEWUTS)

/* What the child needs between clone and exec (a copy of our memory). */
struct child_plan {
	char *const *argv;
	char **envp;
	size_t ns_slot;
	int control;  /* child's end of the control socketpair */
	int devnull;
	int release;  /* child's end of the release socketpair, or -1 */
	int release_peer; /* the parent's end, closed in the child */
	pid_t parent;
	bool in_ns;   /* new namespaces were made (we are pid 1, getppid() is 0) */
	sigset_t mask; /* the caller's signal mask */
};

/* Only async-signal-safe calls from here to exec: the parent may have other
 * threads, whose locks (malloc, stdio) stay taken in this copy. */
static void put(char *buf, size_t *at, size_t cap, const char *s)
{
	while (*s && *at < cap)
		buf[(*at)++] = *s++;
}

static __attribute__((noreturn)) void child_fail(const char *what, const char *path, int e)
{
	char line[512];
	size_t n = 0;

	put(line, &n, sizeof line - 1, "cellvm: ");
	put(line, &n, sizeof line - 1, what);
	put(line, &n, sizeof line - 1, path);
	put(line, &n, sizeof line - 1, ": ");
	put(line, &n, sizeof line - 1, strerrordesc_np(e) ? strerrordesc_np(e) : "error");
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nothing more to do */
	}
	_exit(127);
}

static __attribute__((noreturn)) void child_run(const struct child_plan *p)
{
	/* The parent's signal handlers make no sense here (and would run on
	 * its copied state): every signal to its default action, and (below,
	 * just before exec) none blocked, whatever the caller's mask was.
	 * sandbox_spawn blocked them all around the clone until now. */
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail("sandbox: prctl(PR_SET_PDEATHSIG) for ", p->argv[0], errno);
	/* The parent may have died before PR_SET_PDEATHSIG took effect.  In a
	 * new pid namespace getppid() is 0; the release socket tells instead
	 * (EOF when the parent is gone). */
	if (!p->in_ns && getppid() != p->parent)
		_exit(127);
	if (p->release >= 0) {
		char go;

		close(p->release_peer);
		ssize_t n;

		do
			n = read(p->release, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(127);
	}

	/* Move our two fds out of the way of 0, 1, 3 before dup2. */
	int control = fcntl(p->control, F_DUPFD_CLOEXEC, 10);
	int devnull = fcntl(p->devnull, F_DUPFD_CLOEXEC, 10);

	if (control < 0 || devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
	    dup2(devnull, STDOUT_FILENO) < 0 || dup2(control, SANDBOX_CONTROL_FD) < 0)
		child_fail("sandbox: cannot set up the fds of ", p->argv[0], errno);
	/* dup2 leaves FD_CLOEXEC clear on 0, 1 and 3; everything else goes. */
	if (sb_close_range(SANDBOX_CONTROL_FD + 1, ~0U) < 0)
		child_fail("sandbox: close_range for ", p->argv[0], errno);

	if (!p->in_ns)
		p->envp[p->ns_slot] = NULL;

	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	execve(p->argv[0], p->argv, p->envp);
	child_fail("cannot run ", p->argv[0], errno);
}

/* fork() for the namespace flags: the child continues on a copy of our
 * stack, like fork, without glibc's atfork handlers. */
static pid_t clone_ns(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int sandbox_spawn(char *const argv[], bool use_ns, struct sandbox_child *child, char *err,
		  size_t errlen)
{
	int sv[2] = {-1, -1}, rel[2] = {-1, -1}, devnull = -1;
	struct child_plan plan = {.argv = argv, .release = -1};
	const char *made = "";
	int rc = -1;

	if (err && errlen)
		err[0] = '\0';
	if (!child) {
		errno = EINVAL;
		return sb_fail(err, errlen, "sandbox_spawn: no sandbox_child given");
	}
	child->pid = -1;
	child->control_fd = -1;
	child->namespaces[0] = '\0';
	if (!argv || !argv[0] || argv[0][0] == '\0') {
		errno = EINVAL;
		return sb_fail(err, errlen, "sandbox_spawn: no program given");
	}

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		sb_fail(err, errlen, "socketpair(control): %s", strerror(errno));
		goto out;
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		sb_fail(err, errlen, "open /dev/null: %s", strerror(errno));
		goto out;
	}
	/* The child waits on this until its id maps are written.  A socket
	 * rather than a pipe: send(MSG_NOSIGNAL) cannot raise SIGPIPE here. */
	if (use_ns && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rel) < 0) {
		sb_fail(err, errlen, "socketpair(release): %s", strerror(errno));
		goto out;
	}
	plan.envp = sb_env_build(&plan.ns_slot);
	if (!plan.envp) {
		errno = ENOMEM;
		sb_fail(err, errlen, "building the environment: %s", strerror(errno));
		goto out;
	}
	plan.control = sv[1];
	plan.devnull = devnull;
	plan.release = rel[1];
	plan.release_peer = rel[0];
	plan.parent = getpid();

	/* No signal handler may run in the child before it resets them. */
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &plan.mask);

	pid_t pid = -1;
	int ns_errno = 0, user_errno = 0;

	if (use_ns) {
		plan.in_ns = true;
		pid = clone_ns(NS_FLAGS);
		if (pid == 0)
			child_run(&plan);
		if (pid > 0) {
			made = "user,mnt,pid,ipc,net,uts";
		} else {
			user_errno = errno;
			/* Root may make the other namespaces without a user
			 * namespace (it then stays root of the host). */
			if (geteuid() == 0) {
				pid = clone_ns(NS_FLAGS & ~CLONE_NEWUSER);
				if (pid == 0)
					child_run(&plan);
				if (pid > 0)
					made = "mnt,pid,ipc,net,uts";
				else
					ns_errno = errno;
			} else {
				ns_errno = user_errno;
			}
		}
	}
	if (pid < 0) {
		plan.in_ns = false;
		pid = fork();
		if (pid == 0)
			child_run(&plan);
	}
	int fork_errno = errno;

	pthread_sigmask(SIG_SETMASK, &plan.mask, NULL);
	if (pid < 0) {
		errno = fork_errno;
		sb_fail(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}

	/* exactly one line when the host refused something */
	if (use_ns && strcmp(made, "mnt,pid,ipc,net,uts") == 0)
		fprintf(stderr,
			"cellvm: sandbox: the host refused a new user namespace (clone: %s); "
			"device runs in new mnt,pid,ipc,net,uts namespaces as the host's root\n",
			strerror(user_errno));
	else if (use_ns && made[0] == '\0')
		fprintf(stderr,
			"cellvm: sandbox: the host refused new namespaces (clone: %s); device "
			"runs in the host's namespaces\n",
			strerror(ns_errno));

	close_fd(&sv[1]);
	close_fd(&rel[1]);
	if (strcmp(made, "user,mnt,pid,ipc,net,uts") == 0 &&
	    sb_write_id_maps(pid, err, errlen) < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (rel[0] >= 0 && send(rel[0], "g", 1, MSG_NOSIGNAL) != 1) {
		/* It died already; the caller will see how from waitpid. */
	}

	child->pid = pid;
	child->control_fd = sv[0];
	sv[0] = -1;
	snprintf(child->namespaces, sizeof child->namespaces, "%s", made);
	rc = 0;
out:
	close_fd(&sv[0]);
	close_fd(&sv[1]);
	close_fd(&rel[0]);
	close_fd(&rel[1]);
	close_fd(&devnull);
	sb_env_free(plan.envp);
	return rc;
}
