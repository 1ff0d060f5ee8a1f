/* Shared between libcellvm's files; not part of its API. */
#ifndef CELLVM_TOOLS_LIBCELLVM_INTERNAL_H
#define CELLVM_TOOLS_LIBCELLVM_INTERNAL_H

#include <stddef.h>

/* Formats into ERR (may be NULL) and returns -1. */
int lcv_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A stream connection to DIR/NAME; -1 with err ("not running" when its
 * lock is free). */
int lcv_connect(const char *dir, const char *name, char *err, size_t errlen);

#endif
