/* See harness_common.h. */
#include "tools/fuzz/harness_common.h"

const char *fuzz_name = "harness";
bool fuzz_trace;

static const char *env_of(const char *env, const char *what)
{
	char var[96];
	snprintf(var, sizeof(var), "CELLVM_FUZZ_%s_%s", env, what);
	return getenv(var);
}

void fuzz_setup(const char *name, const char *env, void (*write_seeds)(const char *dir))
{
	fuzz_name = name;
	const char *seeds = env_of(env, "WRITE_SEEDS");
	if (seeds && write_seeds) {
		write_seeds(seeds);
		exit(0);
	}
	const char *tr = env_of(env, "TRACE");
	fuzz_trace = tr && *tr && strcmp(tr, "0") != 0;
}
