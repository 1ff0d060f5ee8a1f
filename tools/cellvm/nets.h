/* A VM's network adapters: their backends and device processes
 * (tools/cellvm/nets.c). */
#ifndef CELLVM_TOOLS_CELLVM_NETS_H
#define CELLVM_TOOLS_CELLVM_NETS_H

#include "tools/cellvm/net_backend.h"
#include "tools/cellvm/supervisor.h"
#include "tools/common/devhost.h"

/* nets_open's answer when a stop signal came while it waited. */
#define NETS_STOPPED 1

/* Opens every adapter's backend into b[0..*n), once per run of cellvm
 * (they outlive guest reboots); a stream server waits here, for ever, for
 * its peer.  0; -1 with err; or NETS_STOPPED when SIGINT, SIGTERM or
 * SIGHUP came during a wait (err names it).  *n counts the backends
 * opened, to close, even on failure. */
int nets_open(const struct vm_config *cfg, struct net_backend *b, unsigned *n, char *err,
	      size_t errlen);

/* Starts one cellvm-dev-net per adapter into hosts[0..*n), each with its
 * own copy of its backend's fd; *n counts the ones begun even on failure
 * (to stop them).  0, or -1 with the failing host's err. */
int nets_start(const struct vm_config *cfg, int mem_fd, const struct net_backend *b,
	       struct devhost *hosts, unsigned *n);

/* Closes the backends (deleting the TAPs made for bridge=). */
void nets_close(struct net_backend *b, unsigned *n);

#endif
