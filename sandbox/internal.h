/* Helpers shared by the sandbox/ sources; not part of the API. */
#ifndef CELLVM_SANDBOX_INTERNAL_H
#define CELLVM_SANDBOX_INTERNAL_H

#include <stddef.h>

#include "sandbox/sandbox.h"

/* Sanitizer builds.  ASan (and TSan/MSan) reserve terabytes of shadow
 * address space at start-up, so RLIMIT_AS cannot be applied to them, and
 * LeakSanitizer's exit-time check needs syscalls (ptrace, clone) that the
 * seccomp filter forbids. */
#if defined(__SANITIZE_ADDRESS__)
#define SB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SB_ASAN 1
#endif
#endif
#ifndef SB_ASAN
#define SB_ASAN 0
#endif

#if SB_ASAN || defined(__SANITIZE_THREAD__)
#define SB_BIG_SHADOW 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define SB_BIG_SHADOW 1
#endif
#endif
#ifndef SB_BIG_SHADOW
#define SB_BIG_SHADOW 0
#endif

/* err.c: formats into err (if any) and returns -1.  Keeps errno. */
int sb_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* fds.c: closes every fd in [lo, hi] (hi = ~0U: to the end).  0 or -1/errno. */
int sb_close_range(unsigned lo, unsigned hi);
/* Closes every fd but 0, 1, 2 and keep[].  0 or -1 with err. */
int sb_close_other_fds(const int *keep, size_t nkeep, char *err, size_t errlen);

/* limits.c: RLIMIT_CORE, RLIMIT_NOFILE, RLIMIT_AS.  0 or -1 with err. */
int sb_set_limits(const struct sandbox_opts *opts, char *err, size_t errlen);

/* root.c: in a mount namespace of our own, moves to an empty read-only
 * tmpfs root.  0 or -1 with err. */
int sb_enter_empty_root(char *err, size_t errlen);

/* filter.c: builds and loads base + device (+ tgkill on our own pid).
 * 0 or -1 with err. */
int sb_load_filter(const struct sandbox_policy *device, char *err, size_t errlen);

#endif
