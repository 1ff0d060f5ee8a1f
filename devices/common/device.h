/* The frame every device process runs in: take the setup from the control
 * channel, map the exit rings, confine itself, then serve ring entries,
 * control messages and the device's own backend fds until told to stop.
 * A device model supplies a struct device_ops; devices/NAME/main.c is one
 * call to device_main. */
#ifndef CELLVM_DEVICES_COMMON_DEVICE_H
#define CELLVM_DEVICES_COMMON_DEVICE_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/common/device_pci.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"

#define DEVICE_MAX_RANGES 8
#define DEVICE_MAX_IRQS 8
#define DEVICE_MAX_POLLFDS 8
#define DEVICE_MAX_MODEL_FDS 64

struct device;
struct sandbox_policy;

struct device_ops {
	const char *name; /* the model, as in Setup.device: "uart" */
	const struct sandbox_policy *policy;
	/* Builds the model from the setup (already checked for ranges, irqs
	 * and rings).  Returns 0, or -1 with device_fail() called. */
	int (*setup)(struct device *d, const Cellvm__Setup *s);
	/* One validated access inside one of the device's ranges. */
	uint64_t (*read)(struct device *d, const struct exit_access *a);
	void (*write)(struct device *d, const struct exit_access *a);
	void (*reset)(struct device *d);
	/* Backend fds to wait on, with the events wanted now. */
	int (*poll_fds)(struct device *d, struct pollfd *p, int max);
	void (*poll_events)(struct device *d, const struct pollfd *p, int n);
	/* Absolute CLOCK_MONOTONIC ns of the next timer, 0 if none. */
	uint64_t (*next_deadline)(struct device *d);
	void (*tick)(struct device *d);
	/* Before the process exits: give back what the host lent (terminal). */
	void (*teardown)(struct device *d);

	/* PCI devices (setup calls device_pci_init): no fixed ranges; the core
	 * sends accesses to their BARs (offset within the BAR, already checked
	 * against its size) and the configuration writes, after they were
	 * applied to the published page. */
	bool pci;
	uint64_t (*bar_read)(struct device *d, unsigned bar, uint64_t off, unsigned size);
	void (*bar_write)(struct device *d, unsigned bar, uint64_t off, unsigned size,
			  uint64_t val);
	void (*config_written)(struct device *d, unsigned reg, unsigned size);
};

struct device_range {
	uint8_t kind;
	uint64_t base, size;
};

struct device {
	const struct device_ops *ops;
	void *priv;
	int control_fd;
	char instance[32];
	bool sandboxed;

	struct device_range ranges[DEVICE_MAX_RANGES];
	unsigned nranges;
	int irq_fds[DEVICE_MAX_IRQS];
	bool irq_level[DEVICE_MAX_IRQS];
	unsigned nirqs;

	struct device_pci pci;
	uint64_t extra_memory; /* the sandbox's memory limit grows by this (guest RAM) */
	/* fds a model opened or duplicated at setup (owned by the model) that
	 * must survive confinement */
	int model_fds[DEVICE_MAX_MODEL_FDS];
	unsigned nmodel_fds;

	struct ring_set rings;
	struct ring_consumer cons[RING_MAX_RINGS];
	unsigned poll_us;
	bool doorbell_rang; /* readable; drained before the next sleep */

	/* fds that came with the setup; -1 once closed */
	int fds[CONTROL_MAX_FDS];
	size_t nfds;

	char test_trap[32];
	uint64_t accesses;
	char err[256];
};

/* The whole device process.  argv may hold --no-sandbox. */
int device_main(const struct device_ops *ops, int argc, char **argv);

/* Applies a Setup message (and its fds, which the device then owns).
 * 0, or -1 with d->err set. */
int device_setup(struct device *d, const ControlMsg *m, int *fds, size_t nfds);
/* Serves every ring until all are empty.  Returns how many entries it
 * served, or -EPROTO with d->err set. */
int device_serve_rings(struct device *d);
/* One validated access, as a ring entry brings it: to a range, a BAR or
 * configuration space.  0 with *val the answer to a read, or -1 with
 * d->err when the device has no such address (a protocol error). */
int device_access(struct device *d, const struct exit_access *a, uint64_t *val);
/* Handles one control message.  1 when told to shut down, 0 to go on,
 * -1 with d->err on a protocol error. */
int device_handle_control(struct device *d, const ControlMsg *m);
void device_release(struct device *d);

/* For models: the fd a Setup field names, or -1 with device_fail(). */
int device_fd(struct device *d, int32_t index, const char *what);
/* For models, at setup: FD (the model's) stays open in the sandbox.  -1
 * with device_fail() when there are too many. */
int device_keep_fd(struct device *d, int fd);
/* For models: records why setup failed. */
void device_fail(struct device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For models: logs through the control channel (stderr before setup). */
void device_log(struct device *d, Cellvm__Log__Level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* For models: drives interrupt line `line`.  Lines are edge-triggered
 * eventfds (KVM irqfds): a rising edge writes the eventfd. */
void device_set_irq(struct device *d, unsigned line, bool level);
uint64_t device_now_ns(void);

/* Test builds only (devices/common/test_trap_hooks.c). */
bool device_test_trap_available(void);
void device_test_trap(const char *what);

#endif
