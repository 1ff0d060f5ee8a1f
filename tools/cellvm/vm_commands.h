/* The VM management commands (create, list, info, set, delete, start,
 * stop, restart, pause, resume, console) on VM
 * directories in a root (tools/vmconf).  Each takes its own argv (argv[0]
 * is the command's name) and returns the process's exit status. */
#ifndef CELLVM_TOOLS_CELLVM_VM_COMMANDS_H
#define CELLVM_TOOLS_CELLVM_VM_COMMANDS_H

#include <stdint.h>
#include <stdio.h>

#include "tools/vmconf/vmconf.h"

enum { CMD_OK = 0, CMD_FAILED = 1, CMD_USAGE = 2 };

int cmd_create(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_console(int argc, char **argv);

/* The `cellvm run` argv (NULL terminated, vmconf_argv_free) that start
 * execs for the VM E, its lock held by LOCK_FD (start_argv.c). */
char **start_argv(const char *self, const struct vm_entry *e, int lock_fd, char *err,
		  size_t errlen);

/* --- shared (cmd_common.c) --- */
/* "cellvm CMD: message" on stderr; returns STATUS. */
int cmd_fail(const char *cmd, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The root from --root (may be NULL) or the defaults; CMD_OK or prints. */
int cmd_root(const char *cmd, const char *opt_root, char *root, size_t len);
/* The VM WHO (a name or UUID) under that root: CMD_OK with ROOT and *E
 * filled (vmdir_entry_free), or prints why.  ALLOW_BROKEN: vmdir_find's. */
int cmd_find_vm(const char *cmd, const char *opt_root, const char *who, bool allow_broken,
		char *root, size_t len, struct vm_entry *e);
/* "stopped" when the VM's lock is free; when held, "paused" or "running"
 * as its supervisor says ("running" while it does not answer yet). */
const char *cmd_vm_state(const char *dir);
/* A CPU count: digits only.  -1 if not. */
int cmd_parse_uint(const char *s, unsigned *out);
/* A path as the user gave it, as stored: a bare file name stays (relative
 * to the VM directory), a path with a '/' is made absolute from the
 * current directory.  -1 if too long. */
int cmd_store_path(const char *given, char *out, size_t len);
/* S as a JSON string, quotes included. */
void cmd_json_string(FILE *f, const char *s);

#endif
