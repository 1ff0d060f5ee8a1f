/* Resource limits of a confined device. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "sandbox/internal.h"

/* Sets soft and hard limit to `want`, never above the current hard limit
 * (raising it needs privilege we do not want to rely on). */
static int cap_limit(int resource, const char *name, rlim_t want, char *err, size_t errlen)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0)
		return sb_fail(err, errlen, "getrlimit(%s): %s", name, strerror(errno));
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = want;
	if (setrlimit(resource, &rl) < 0)
		return sb_fail(err, errlen, "setrlimit(%s, %llu): %s", name,
			       (unsigned long long)want, strerror(errno));
	return 0;
}

int sb_set_limits(const struct sandbox_opts *opts, char *err, size_t errlen)
{
	if (cap_limit(RLIMIT_CORE, "RLIMIT_CORE", 0, err, errlen) < 0)
		return -1;

	rlim_t nofile = opts ? opts->max_fds : 0;

	if (nofile == 0) {
		int highest = 2;

		for (size_t i = 0; opts && i < opts->nkeep; i++)
			if (opts->keep_fds[i] > highest)
				highest = opts->keep_fds[i];
		nofile = (rlim_t)highest + 16;
	}
	if (cap_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", nofile, err, errlen) < 0)
		return -1;

	/* Sanitizer builds map terabytes of shadow memory (reserved, not used)
	 * at start-up and keep mapping more: any sane RLIMIT_AS would make
	 * their allocator fail, so the limit is skipped there. */
	if (opts && opts->max_memory && !SB_BIG_SHADOW &&
	    cap_limit(RLIMIT_AS, "RLIMIT_AS", (rlim_t)opts->max_memory, err, errlen) < 0)
		return -1;

	/* RLIMIT_NPROC is not set: it counts processes per real uid and is
	 * not enforced for CAP_SYS_ADMIN/CAP_SYS_RESOURCE, which uid 0 of our
	 * user namespace (or host root) has.  The seccomp filter forbids
	 * clone/clone3/fork/vfork instead. */
	return 0;
}
