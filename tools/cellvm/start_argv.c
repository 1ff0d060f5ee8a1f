/* The `cellvm run` command line of a managed VM: vmconf_run_argv's, with
 * COM1 relayed (console:FILE,<dir>/console.sock: the output still goes to
 * its .txt file, and `cellvm console` can attach) and the hidden options
 * that hand the supervisor the VM's lock and its control socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

#define DEFAULT_CONSOLE_FILE "console.txt"

static char *fmt(const char *f, const char *a, const char *b)
{
	char *s;
	return asprintf(&s, f, a, b) < 0 ? NULL : s;
}

/* Devices left out (IDE, an empty CD-ROM drive). */
static void note(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "cellvm start: note: %s\n", line);
}

char **start_argv(const char *self, const struct vm_entry *e, int lock_fd, char *err,
		  size_t errlen)
{
	char **run;
	int n;
	if (vmconf_run_argv(e->def, e->dir, &run, &n, note, NULL, err, errlen) < 0)
		return NULL;
	char **v = calloc((size_t)n + 16, sizeof(*v));
	if (!v) {
		vmconf_argv_free(run);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	int k = 0;
	v[k++] = strdup(self);
	v[k++] = strdup("run");
	bool relayed = false;
	for (int i = 0; i < n; i++) {
		/* The first file: port is COM1's: relay it. */
		if (!relayed && !strcmp(run[i], "--serial") && i + 1 < n) {
			v[k++] = strdup(run[i++]);
			if (!strncmp(run[i], "file:", 5)) {
				v[k++] = fmt("console:%s,%s/" CELLVM_CONSOLE_SOCKET, run[i] + 5, e->dir);
				relayed = true;
			} else {
				v[k++] = strdup(run[i]); /* a socket COM1: left as it is */
			}
			relayed = true;
			continue;
		}
		v[k++] = strdup(run[i]);
	}
	if (!relayed) {
		/* No serial port configured: COM1 to console.txt. */
		v[k++] = strdup("--serial");
		v[k++] = fmt("console:%s/" DEFAULT_CONSOLE_FILE ",%s/" CELLVM_CONSOLE_SOCKET, e->dir,
			     e->dir);
	}
	char fd[16];
	snprintf(fd, sizeof(fd), "%d", lock_fd);
	v[k++] = strdup("--lock-fd");
	v[k++] = strdup(fd);
	v[k++] = strdup("--control");
	v[k++] = fmt("%s/%s", e->dir, CELLVM_CONTROL_SOCKET);
	vmconf_argv_free(run);
	for (int i = 0; i < k; i++)
		if (!v[i]) {
			vmconf_argv_free(v);
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
	return v;
}
