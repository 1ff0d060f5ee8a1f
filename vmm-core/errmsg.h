/* A one-line reason for a caller's error buffer (vmm-core/errmsg.c). */
#ifndef CELLVM_VMM_CORE_ERRMSG_H
#define CELLVM_VMM_CORE_ERRMSG_H

#include <stddef.h>

/* Writes the message into ERR (if any) and returns -1, so that a failing
 * check reads `return errmsg(err, errlen, "...", ...);`. */
int errmsg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
