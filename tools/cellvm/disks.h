/* A VM's disk device processes (tools/cellvm/disks.c). */
#ifndef CELLVM_TOOLS_CELLVM_DISKS_H
#define CELLVM_TOOLS_CELLVM_DISKS_H

#include "tools/cellvm/supervisor.h"
#include "tools/common/devhost.h"

/* At most one per virtio-blk disk plus the SCSI controller. */
#define VM_MAX_DISK_DEVICES (VM_MAX_DISKS_PER_IF + 1)

/* Starts them into hosts[0..*n); *n counts the ones begun even on failure
 * (to stop them).  0, or -1 with the failing host's err. */
int disks_start(const struct vm_config *cfg, int mem_fd, struct devhost *hosts, unsigned *n);

#endif
