/* What the VM management commands share: messages, the root, paths. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cellvm/vm_commands.h"
#include "tools/libcellvm/cellvm.h"

int cmd_fail(const char *cmd, int status, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cellvm %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int cmd_root(const char *cmd, const char *opt_root, char *root, size_t len)
{
	char err[512];
	if (vmdir_root(opt_root, root, len, err, sizeof(err)) < 0)
		return cmd_fail(cmd, CMD_USAGE, "%s", err);
	return CMD_OK;
}

int cmd_find_vm(const char *cmd, const char *opt_root, const char *who, bool allow_broken,
		char *root, size_t len, struct vm_entry *e)
{
	char err[2048];
	int rc = cmd_root(cmd, opt_root, root, len);
	if (rc)
		return rc;
	if (vmdir_find(root, who, allow_broken, e, err, sizeof(err)) < 0)
		return cmd_fail(cmd, CMD_FAILED, "%s", err);
	return CMD_OK;
}

const char *cmd_vm_state(const char *dir)
{
	struct cellvm_state st;
	if (!vmdir_is_locked(dir))
		return "stopped";
	if (cellvm_state(dir, &st, NULL, 0) == 0 && st.paused)
		return "paused";
	return "running";
}

int cmd_parse_uint(const char *s, unsigned *out)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 9)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*out = (unsigned)v;
	return 0;
}

int cmd_store_path(const char *given, char *out, size_t len)
{
	char cwd[VMCONF_PATH_MAX];
	int n;

	if (!strchr(given, '/') || given[0] == '/') {
		n = snprintf(out, len, "%s", given);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -1;
		n = snprintf(out, len, "%s/%s", cwd, given[0] == '.' && given[1] == '/' ?
			     given + 2 : given);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

void cmd_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
