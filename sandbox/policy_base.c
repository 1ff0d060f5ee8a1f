/* The syscalls every device process needs once it is set up: I/O on the
 * fds it holds, waiting, memory without PROT_EXEC, time, exit.  tgkill on
 * its own pid is added by sandbox_enter (the pid is known only there).
 * Deliberately absent: open/openat, socket/connect/bind, execve/execveat,
 * clone/clone3/fork/vfork, ptrace, kill, mount, ioctl, fcntl, pread/pwrite. */
#include <seccomp.h>
#include <sys/mman.h>

#include "sandbox/internal.h"

#define ANY(name) {SCMP_SYS(name), SB_ARG_ANY, 0, 0}

static const struct sandbox_rule base_rules[] = {
	/* I/O on fds it already holds */
	ANY(read),
	ANY(write),
	ANY(readv),
	ANY(writev),
	ANY(sendmsg),
	ANY(recvmsg),
	ANY(lseek),
	ANY(close),
	/* waiting */
	ANY(poll),
	ANY(ppoll),
	ANY(epoll_wait),
	ANY(epoll_pwait),
	ANY(futex),
	ANY(sched_yield),
	ANY(nanosleep),
	ANY(clock_nanosleep),
	ANY(restart_syscall),
	/* memory, never executable (arg 2 is prot for both) */
	ANY(brk),
	{SCMP_SYS(mmap), SB_ARG_MASK_ZERO, 2, PROT_EXEC},
	{SCMP_SYS(mprotect), SB_ARG_MASK_ZERO, 2, PROT_EXEC},
	ANY(munmap),
	ANY(mremap),
	ANY(madvise),
	/* signals, time, identity */
	ANY(rt_sigreturn),
	ANY(rt_sigprocmask),
	ANY(clock_gettime),
	ANY(getpid),
	ANY(gettid),
	ANY(getrandom),
	/* exit */
	ANY(exit),
	ANY(exit_group),
#if SB_ASAN
	/* ASan builds only: __asan_handle_no_return, run before every
	 * noreturn call (exit, _exit, abort, longjmp), asks for the current
	 * alternate signal stack; it never sets one after start-up, so only
	 * the query sigaltstack(NULL, &old) is allowed. */
	{SCMP_SYS(sigaltstack), SB_ARG_EQ, 0, 0},
#endif
};

const struct sandbox_policy sandbox_policy_base = {
	.name = "base",
	.rules = base_rules,
	.nrules = sizeof base_rules / sizeof base_rules[0],
};
