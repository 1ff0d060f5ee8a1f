/* A one-line reason for a caller's error buffer. */
#include <stdarg.h>
#include <stdio.h>

#include "vmm-core/errmsg.h"

int errmsg(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
