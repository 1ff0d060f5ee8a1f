/* Confinement of device processes.
 *
 * Two halves:
 *  - sandbox_spawn (in the trusted parent: supervisor, devrun): starts a
 *    device binary in new user/mount/pid/ipc/net/uts namespaces where the host
 *    allows, with only stdin/stdout/stderr (to /dev/null unless told) and the
 *    control socket as fd 3.
 *  - sandbox_enter (in the device, after setup, before it touches anything the
 *    guest controls): closes every fd it was not told to keep, sets rlimits
 *    and no_new_privs, moves to an empty read-only root when in its own mount
 *    namespace, and loads the device's seccomp allowlist (default: kill).
 */
#ifndef CELLVM_SANDBOX_SANDBOX_H
#define CELLVM_SANDBOX_SANDBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_CONTROL_FD 3
/* Set in a device's environment by sandbox_spawn when it made namespaces. */
#define SANDBOX_NS_ENV "CELLVM_SANDBOX_NS"

/* One allowed syscall, optionally only for some argument values. */
enum sandbox_arg_op {
	SB_ARG_ANY = 0,
	SB_ARG_EQ,        /* args[arg] == value */
	SB_ARG_MASK_ZERO, /* (args[arg] & value) == 0, e.g. PROT_EXEC not set */
};

struct sandbox_rule {
	int nr; /* syscall number */
	enum sandbox_arg_op op;
	unsigned arg;
	uint64_t value;
};

struct sandbox_policy {
	const char *name; /* "uart" */
	const struct sandbox_rule *rules;
	size_t nrules;
};

/* Rules every device needs (I/O on held fds, poll, futex, memory without
 * PROT_EXEC, exit). */
extern const struct sandbox_policy sandbox_policy_base;

struct sandbox_opts {
	const int *keep_fds; /* besides 0, 1, 2 */
	size_t nkeep;
	uint64_t max_memory; /* RLIMIT_AS in bytes; 0 = leave as is */
	unsigned max_fds;    /* RLIMIT_NOFILE; 0 = highest kept fd + 16 */
};

/* Confines the calling process under base + device policies.  Returns 0, or
 * -1 with err filled; the caller must then exit. */
int sandbox_enter(const struct sandbox_policy *device, const struct sandbox_opts *opts,
		  char *err, size_t errlen);

/* pthread_create for a process about to call sandbox_enter: returns once
 * the new thread runs FN.  Threads are made before confinement (which
 * forbids clone), and a new thread's own start-up makes syscalls the
 * policies do not allow (glibc registers rseq and the robust futex list),
 * so confinement must wait until it is past that.  0 or an errno. */
int sandbox_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Prints the loud --no-sandbox warning for `who` on stderr. */
void sandbox_warn_disabled(const char *who);

struct sandbox_child {
	pid_t pid;
	int control_fd; /* parent's end of the SOCK_SEQPACKET control socketpair */
	char namespaces[64]; /* "user,mnt,pid,ipc,net,uts", or "" */
};

/* Starts argv[0] (a path) with argv.  If use_ns, tries new namespaces and
 * falls back (with one log line on stderr naming what the host refused) to
 * none.  stdin/stdout of the child are /dev/null.  The child dies with the
 * parent (PR_SET_PDEATHSIG).  0 or -1 with err filled. */
int sandbox_spawn(char *const argv[], bool use_ns, struct sandbox_child *child, char *err,
		  size_t errlen);

/* Describes how a child ended: "exited with status 2", "killed by signal 9
 * (Killed)", "killed by SIGSYS: seccomp violation (a forbidden syscall)". */
void sandbox_describe_status(int wstatus, char *buf, size_t len);

#endif
