/* Error text for the sandbox functions. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "sandbox/internal.h"

int sb_fail(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;

	if (err && errlen) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}
