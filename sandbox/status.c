/* Describing how a device process ended. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "sandbox/sandbox.h"

void sandbox_describe_status(int wstatus, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	if (WIFEXITED(wstatus)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
	} else if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		const char *core = WCOREDUMP(wstatus) ? ", core dumped" : "";

		/* SECCOMP_RET_KILL_PROCESS is reported as death by SIGSYS. */
		if (sig == SIGSYS)
			snprintf(buf, len,
				 "killed by SIGSYS: seccomp violation (a forbidden syscall)%s",
				 core);
		else
			snprintf(buf, len, "killed by signal %d (%s)%s", sig, strsignal(sig),
				 core);
	} else if (WIFSTOPPED(wstatus)) {
		snprintf(buf, len, "stopped by signal %d (%s)", WSTOPSIG(wstatus),
			 strsignal(WSTOPSIG(wstatus)));
	} else if (WIFCONTINUED(wstatus)) {
		snprintf(buf, len, "continued");
	} else {
		snprintf(buf, len, "unknown wait status 0x%x", (unsigned)wstatus);
	}
}
