/* The supervisor of one VM: its configuration, and running it. */
#ifndef CELLVM_TOOLS_CELLVM_SUPERVISOR_H
#define CELLVM_TOOLS_CELLVM_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "tools/cellvm/net_backend.h"
#include "tools/cellvm/net_mac.h"

#define VM_MAX_SERIAL 4
#define VM_MAX_DISKS_PER_IF 15 /* the seed: 15 VirtIO disks and 15 SCSI devices */
#define VM_MAX_DISKS (2 * VM_MAX_DISKS_PER_IF)
#define VM_MAX_NETS 15 /* the seed: 15 network adapters */

enum disk_if { DISK_IF_VIRTIO_BLK, DISK_IF_VIRTIO_SCSI };

/* One --disk option. */
struct disk_config {
	const char *path;
	enum disk_if iface;
	bool cdrom;
	bool readonly;
	const char *serial; /* NULL: derived from the disk's name */
	char spec_copy[4096]; /* the option, split in place */
};

/* One --net option. */
struct net_config {
	const char *spec;	/* the option as given, for messages */
	struct net_backend_config backend;
	uint8_t mac[NET_MAC_LEN];
	bool mac_given;		/* else derived (net_options_finish) */
};

struct vm_config {
	const char *name;	/* --name, NULL: none */
	uint8_t uuid[16];	/* --uuid, or a random one made for this run */
	bool uuid_given;
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline;
	unsigned cpus;
	uint64_t memory;     /* bytes */
	const char *serial[VM_MAX_SERIAL]; /* COM1..COM4 backend specs */
	unsigned nserial;
	bool sandbox;
	bool restart_on_reboot;
	const char *bin_dir; /* where cellvm-core and cellvm-dev-* are */
	/* set by `cellvm start` (hidden options): the VM directory's lock,
	 * held for the supervisor's life, and the control socket to make */
	int lock_fd;		/* -1: none */
	const char *control;	/* NULL: no control socket */
	struct disk_config disks[VM_MAX_DISKS];
	unsigned ndisks;
	struct net_config nets[VM_MAX_NETS];
	unsigned nnets;
};

/* Parses one --disk PATH[,if=..][,media=..][,readonly][,serial=..] into
 * cfg.  0, or -1 with err. */
/* host_kvm.c: whether /dev/kvm here has hardware virtualization (vmx or
 * svm) under it, as a stock guest kernel needs. */
bool host_has_hw_virt(void);

int disk_option_parse(struct vm_config *cfg, const char *spec, char *err, size_t errlen);
/* Checks that each disk's image opens (with its backing chain) before any
 * process starts.  0, or -1 with err. */
int disk_options_check(const struct vm_config *cfg, char *err, size_t errlen);

/* Parses one --net SPEC[,mac=..][,model=virtio] into cfg (SPEC: what
 * net_backend_parse takes).  0, or -1 with err. */
int net_option_parse(struct vm_config *cfg, const char *spec, char *err, size_t errlen);
/* After all options: gives each adapter without mac= its derived MAC (from
 * the VM's UUID if --uuid, else its --name, else the run's random UUID)
 * and refuses two adapters with one MAC or one backend.  0, or -1 with
 * err. */
int net_options_finish(struct vm_config *cfg, char *err, size_t errlen);

/* Parses `cellvm run` options into cfg (defaults filled in).  0, 1 when
 * --help was printed, or -1 with err. */
int run_options_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen);

/* Checks everything that can be checked before any VM exists: files,
 * bzImage, sizes against guest RAM and the host.  0, or -1 with err. */
int run_options_check(const struct vm_config *cfg, char *err, size_t errlen);

void run_usage(FILE *f);

/* Runs the VM in the foreground until it stops; returns the exit status
 * for the process: 0 after a guest power-off (or a requested stop), non-zero
 * when anything failed. */
int supervise(const struct vm_config *cfg);

/* "512M", "2G", "1048576" (bytes). -1 if malformed. */
int parse_size(const char *s, uint64_t *out);

#endif
