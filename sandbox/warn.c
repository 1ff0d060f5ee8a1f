/* The --no-sandbox warning. */
#include <stdio.h>

#include "sandbox/sandbox.h"

void sandbox_warn_disabled(const char *who)
{
	fprintf(stderr,
		"cellvm: WARNING: %s runs WITHOUT its sandbox (--no-sandbox): no seccomp "
		"filter, no namespaces, no fd or rlimit confinement. For debugging only; "
		"never run an untrusted guest like this.\n",
		who && *who ? who : "this device");
	fflush(stderr);
}
