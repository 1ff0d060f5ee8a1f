/* The host side of one device process, as the core's supervisor (and
 * cellvm-devrun, and the benchmarks) see it: the resources made for it,
 * its spawn and setup, its exit rings, and how it ended. */
#ifndef CELLVM_TOOLS_COMMON_DEVHOST_H
#define CELLVM_TOOLS_COMMON_DEVHOST_H

#include <stdbool.h>
#include <sys/types.h>

#include "devices/common/device.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"

#define DEVHOST_MAX_BACKENDS 4

struct devhost {
	/* what the caller fills in, directly or through the helpers below */
	char model[16];     /* "uart" */
	char label[320];    /* for messages: "cellvm-dev-uart (com1)" */
	char instance[32];  /* "com1" */
	unsigned nrings;    /* vCPUs; default 1 */
	unsigned entries;   /* per ring; default RING_DEFAULT_ENTRIES */
	unsigned poll_us;   /* device spin before sleeping */
	uint64_t timeout_ns; /* for reads and a full ring; default 5 s */
	char test_trap[32];

	Cellvm__AddrRange ranges[DEVICE_MAX_RANGES];
	size_t nranges;
	Cellvm__IrqLine irqs[DEVICE_MAX_IRQS];
	int irq_fds[DEVICE_MAX_IRQS]; /* our ends: eventfds the device writes */
	uint32_t irq_gsi[DEVICE_MAX_IRQS];
	size_t nirqs;
	Cellvm__Backend backends[DEVHOST_MAX_BACKENDS];
	char backend_desc[DEVHOST_MAX_BACKENDS][128];
	size_t nbackends;
	int fds[CONTROL_MAX_FDS]; /* sent with the setup; closed after */
	size_t nfds;
	/* disk devices: the images (fd fields index fds), interface, queues */
	Cellvm__DiskImage **disks;
	size_t ndisks;
	const char *interface;
	unsigned queues;
	/* network devices: the adapter (its fd field indexes fds) */
	Cellvm__NetAdapter *net;
	int guest_memory_fd; /* index into fds, or -1 */
	uint64_t guest_memory_size;

	/* what devhost_start makes */
	pid_t pid;
	int control_fd;
	bool sandboxed;
	char namespaces[64];
	int ring_memfd, doorbell_fd;
	struct ring_set rings;
	struct ring_producer prod[RING_MAX_RINGS];
	bool exited;
	int wstatus;
	char err[640];
	/* A PCI device's Ready: its function and the fds that came with it
	 * (what the core needs), kept until devhost_stop. */
	ControlMsg *ready;
	int ready_fds[CONTROL_MAX_FDS];
	size_t nready_fds;
};

void devhost_init(struct devhost *h, const char *model, const char *instance);
/* Each returns 0, or -1 with h->err. */
int devhost_add_range(struct devhost *h, int kind, uint64_t addr, uint64_t size);
int devhost_add_irq(struct devhost *h, uint32_t gsi);
/* Adds FD (now owned by the devhost) to the fds sent with the setup;
 * returns its index, or -1 with h->err. */
int devhost_pass_fd(struct devhost *h, int fd);
/* Takes ownership of in_fd/out_fd (-1 for none). */
int devhost_add_backend(struct devhost *h, Cellvm__Backend__Kind kind, int in_fd, int out_fd,
			const char *desc);

/* Spawns `binary` (a path), sandboxed unless told not, sends the setup and
 * waits for the device to say it is ready.  0, or -1 with h->err saying
 * what went wrong (the device's own error message, or how it died). */
int devhost_start(struct devhost *h, const char *binary, bool sandbox);

/* The steps of devhost_start, for processes with a setup of their own (the
 * vCPU core): spawn, then (after the caller sent its setup) wait for Ready. */
int devhost_spawn(struct devhost *h, const char *binary, bool sandbox);
int devhost_wait_ready(struct devhost *h);

/* For the core's setup: the PCI function the device declared in its
 * Ready, with its fds appended to fds[*nfds..] (at most max in all) and
 * the indices renumbered to match.  The arrays must hold the function's
 * ioeventfds and MSI-X vectors.  0, or -1 with h->err. */
int devhost_pci_for_core(struct devhost *h, Cellvm__PciFunction *out, Cellvm__Ioeventfd *io,
			 Cellvm__Ioeventfd **iop, size_t niomax, int32_t *msix, size_t nmsixmax,
			 int *fds, size_t *nfds, size_t max);

/* Receives and prints (to stderr, prefixed) any log or error messages the
 * device sent, without blocking.  Returns -1 if the channel is gone. */
int devhost_drain_messages(struct devhost *h);

/* Has the process ended?  Fills h->wstatus and returns true if so. */
bool devhost_reap(struct devhost *h, int wait_ms);
/* "cellvm-dev-uart (com1, pid 12): killed by SIGSYS: seccomp violation ..." */
void devhost_describe_end(struct devhost *h, char *buf, size_t len);
/* Asks the device to shut down, waits (then kills), frees everything. */
int devhost_stop(struct devhost *h);

/* The device binary `cellvm-dev-MODEL` next to the running executable, or
 * in $CELLVM_DEVICE_DIR. */
int devhost_find_binary(const char *model, char *path, size_t len);

#endif
