/* Whether this host's /dev/kvm sits on hardware virtualization.  Some
 * hosts offer a /dev/kvm without it (kvm-pvm runs only guest kernels built
 * for it): a stock guest then hangs in its first instructions, without a
 * word, so the supervisor asks first. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tools/cellvm/supervisor.h"

/* true when a "flags" line of /proc/cpuinfo has vmx or svm, or when it
 * cannot be read (then KVM itself is the judge). */
bool host_has_hw_virt(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return true;
	char line[8192];
	bool flags_seen = false, found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		flags_seen = true;
		for (char *tok = strtok(line, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
			if (!strcmp(tok, "vmx") || !strcmp(tok, "svm"))
				found = true;
	}
	fclose(f);
	return found || !flags_seen;
}
