/* The environment given to a spawned device. */
#include <stdlib.h>
#include <string.h>

#include "sandbox/internal.h"
#include "sandbox/spawn_internal.h"

extern char **environ;

static char ns_entry[] = SANDBOX_NS_ENV "=1";

static int has_name(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

char **sb_env_build(size_t *ns_slot)
{
	size_t n = 0;

	while (environ && environ[n])
		n++;

	/* +1 ASAN_OPTIONS, +1 SANDBOX_NS_ENV, +1 NULL */
	char **envp = calloc(n + 3, sizeof *envp);

	if (!envp)
		return NULL;

	size_t k = 0;
	const char *asan_old = NULL;

	for (size_t i = 0; i < n; i++) {
		if (has_name(environ[i], SANDBOX_NS_ENV))
			continue;
		if (SB_ASAN && has_name(environ[i], "ASAN_OPTIONS")) {
			asan_old = environ[i] + strlen("ASAN_OPTIONS=");
			continue;
		}
		envp[k++] = environ[i];
	}

	if (SB_ASAN) {
		/* LeakSanitizer's check at exit stops the process with ptrace
		 * from a clone()d helper; under the device's seccomp filter that
		 * is a SIGSYS kill at the end of every clean exit.  Later flags
		 * win, so appending overrides a detect_leaks=1 given by the user. */
		const char *add = "detect_leaks=0";
		size_t len = strlen("ASAN_OPTIONS=") + (asan_old ? strlen(asan_old) + 1 : 0) +
			     strlen(add) + 1;
		char *s = malloc(len);

		if (!s) {
			free(envp);
			return NULL;
		}
		strcpy(s, "ASAN_OPTIONS=");
		if (asan_old && *asan_old) {
			strcat(s, asan_old);
			strcat(s, ":");
		}
		strcat(s, add);
		envp[k++] = s;
	}

	*ns_slot = k;
	envp[k++] = ns_entry;
	envp[k] = NULL;
	return envp;
}

void sb_env_free(char **envp)
{
	if (!envp)
		return;
	for (size_t i = 0; envp[i]; i++)
		if (has_name(envp[i], "ASAN_OPTIONS") && SB_ASAN) {
			free(envp[i]);
			break;
		}
	free(envp);
}
