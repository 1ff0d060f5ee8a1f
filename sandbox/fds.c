/* Closing every file descriptor a process was not told to keep. */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sandbox/internal.h"

/* Async-signal-safe: also used in sandbox_spawn's child between clone and
 * exec. */
int sb_close_range(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return 0;
	if (close_range(lo, hi, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return -1;
	/* Kernels before 5.9: close one by one up to the fd limit. */
	struct rlimit rl;
	unsigned end = 65536;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < end)
		end = (unsigned)rl.rlim_max;
	for (unsigned fd = lo; fd <= hi && fd < end; fd++)
		close((int)fd);
	return 0;
}

int sb_close_other_fds(const int *keep, size_t nkeep, char *err, size_t errlen)
{
	for (size_t i = 0; i < nkeep; i++)
		if (keep[i] < 0)
			return sb_fail(err, errlen, "keep_fds: invalid fd %d", keep[i]);

	/* Walk the kept fds in increasing order (no sort, no allocation) and
	 * close the gap below each one. */
	unsigned lo = 3;

	for (;;) {
		long next = -1;

		for (size_t i = 0; i < nkeep; i++)
			if ((unsigned)keep[i] >= lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			break;
		if ((unsigned)next > lo && sb_close_range(lo, (unsigned)next - 1) < 0)
			return sb_fail(err, errlen, "close_range(%u, %ld): %s", lo, next - 1,
				       strerror(errno));
		lo = (unsigned)next + 1;
	}
	if (sb_close_range(lo, ~0U) < 0)
		return sb_fail(err, errlen, "close_range(%u, ~0): %s", lo, strerror(errno));
	return 0;
}
