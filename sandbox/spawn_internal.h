/* Pieces of sandbox_spawn; not part of the API. */
#ifndef CELLVM_SANDBOX_SPAWN_INTERNAL_H
#define CELLVM_SANDBOX_SPAWN_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

/* The environment for a device: the caller's, without SANDBOX_NS_ENV,
 * with detect_leaks=0 added to ASAN_OPTIONS in ASan builds, and with
 * SANDBOX_NS_ENV=1 as the last entry at envp[*ns_slot] (the child sets that
 * slot to NULL when no namespaces were made: it cannot allocate).  Freed
 * with sb_env_free.  NULL on allocation failure. */
char **sb_env_build(size_t *ns_slot);
void sb_env_free(char **envp);

/* Writes /proc/PID/setgroups ("deny"), uid_map and gid_map so that 0 in the
 * child's new user namespace is our euid/egid.  0 or -1 with err. */
int sb_write_id_maps(pid_t pid, char *err, size_t errlen);

#endif
