/* sandbox_enter: confines the calling device process.  The order matters:
 * fds first (nothing below may leak), then no_new_privs and rlimits, then
 * the empty root (needs mount/pivot_root), and the seccomp filter last (it
 * forbids everything before it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox/internal.h"

int sandbox_enter(const struct sandbox_policy *device, const struct sandbox_opts *opts,
		  char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';

	if (sb_close_other_fds(opts ? opts->keep_fds : NULL, opts ? opts->nkeep : 0, err,
			       errlen) < 0)
		return -1;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sb_fail(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));

	if (sb_set_limits(opts, err, errlen) < 0)
		return -1;

	/* No core dumps, no ptrace attach by same-uid processes, /proc/self
	 * owned by root. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sb_fail(err, errlen, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));

	/* sandbox_spawn sets SANDBOX_NS_ENV only when it made new mount, pid
	 * and uts namespaces, which makes us pid 1.  The pid check keeps a
	 * stray variable from making us remount the host's mount tree. */
	const char *ns = getenv(SANDBOX_NS_ENV);

	if (ns && strcmp(ns, "1") == 0) {
		if (getpid() != 1)
			return sb_fail(err, errlen,
				       "%s=1 but this process is not pid 1 of its own pid "
				       "namespace: refusing to change mounts",
				       SANDBOX_NS_ENV);
		if (sb_enter_empty_root(err, errlen) < 0)
			return -1;
		if (sethostname("cellvm", 6) < 0)
			return sb_fail(err, errlen, "sethostname: %s", strerror(errno));
	}

	return sb_load_filter(device, err, errlen);
}
