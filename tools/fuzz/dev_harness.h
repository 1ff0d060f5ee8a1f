/* Driving a PCI device process in-process the way the core does, for the
 * fuzz harnesses (fuzz_disk, fuzz_net) and the unit tests that play a
 * guest's driver (test_net_dev): an exit ring the harness posts BAR and
 * configuration writes into and the device serves with
 * device_serve_rings, reads through device_access, the control channel
 * (only Log messages allowed), guest RAM in a memfd and the split-ring
 * layout a driver writes, and the virtio driver's init sequence.
 *
 * Every check aborts (FUZZ_CHECK, harness_common.h). */
#ifndef CELLVM_TOOLS_FUZZ_DEV_HARNESS_H
#define CELLVM_TOOLS_FUZZ_DEV_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/fuzz/harness_common.h"
#include "devices/common/device.h"
#include "ipc/control.h"
#include "ipc/exit_ring.h"

/* Byte loops not worth instrumenting (gcc has no such attribute). */
#ifdef __clang__
#define DH_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define DH_NO_COVERAGE
#endif

/* virtio PCI, as devices/virtio/virtio_pci.c lays it out */
#define DH_BAR_MSIX 1
#define DH_BAR_VIRTIO 4
#define DH_NOTIFY_OFF 0x3000u
#define DH_DEVCFG_OFF 0x2000u
#define DH_ISR_OFF 0x1000u
#define DH_ST_ACK 1
#define DH_ST_DRIVER 2
#define DH_ST_DRIVER_OK 4
#define DH_ST_FEATURES_OK 8
#define DH_ST_NEEDS_RESET 64

struct dev_harness {
	struct device *d;
	int ctl;                /* our end of the control channel */
	struct ring_set rs;
	struct ring_producer prod;
	uint8_t cfg0[DEVICE_PCI_CONFIG], wmask[DEVICE_PCI_CONFIG];
	uint8_t *ram;           /* the guest's view of guest RAM */
	uint64_t ram_size;
	bool stop;              /* the device refused an access: the core would kill it */
	/* Called after a write of a queue notification was served (queue q). */
	void (*notified)(struct dev_harness *h, unsigned q);
	void *ctx;
};

/* The ring set (FDS[0] memfd, FDS[1] doorbell, for the Setup) and our
 * producer on it; RINGS is filled for the Setup (memfd 0, doorbell 1). */
void dh_rings(struct dev_harness *h, unsigned entries, int fds[2], Cellvm__Rings *rings);
/* After a successful setup: remembers the configuration space and masks. */
void dh_setup_done(struct dev_harness *h);
/* Unmaps our side of the rings. */
void dh_release(struct dev_harness *h);

/* Whether [off, off+size) lies in one of the device's BARs. */
bool dh_bar_declared(const struct dev_harness *h, unsigned bar, uint64_t off, unsigned size);
/* A write posted through the ring and served (RING_BAR or RING_CONFIG). */
void dh_post(struct dev_harness *h, uint8_t kind, uint64_t addr, unsigned size, uint64_t val);
void dh_bar_write(struct dev_harness *h, unsigned bar, uint64_t off, unsigned size, uint64_t val);
/* A read as ring_consume would hand it over.  false: refused. */
bool dh_access_read(struct dev_harness *h, uint8_t kind, uint64_t addr, unsigned size,
		    uint64_t *val);
uint64_t dh_bar_read(struct dev_harness *h, unsigned bar, uint64_t off, unsigned size);
void dh_common_w(struct dev_harness *h, unsigned off, unsigned size, uint64_t v);
uint8_t dh_status(struct dev_harness *h);

/* Only Log messages from the device; each is traced. */
void dh_drain_control(struct dev_harness *h);
/* Configuration space changed only in writable bits. */
void dh_check_config(const struct dev_harness *h);

/* Guest RAM, bounded by its size. */
void dh_put_le(struct dev_harness *h, uint64_t gpa, uint64_t v, unsigned n);
uint64_t dh_get_le(const struct dev_harness *h, uint64_t gpa, unsigned n);

/* A split ring where the driver put it. */
struct dh_ring {
	uint64_t desc, avail, used;
	uint16_t size;
};
void dh_write_desc(struct dev_harness *h, const struct dh_ring *r, unsigned slot, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next);
/* The next avail entry, and avail->idx + 1. */
void dh_push_avail(struct dev_harness *h, const struct dh_ring *r, uint16_t head);
uint16_t dh_used_idx(const struct dev_harness *h, const struct dh_ring *r);
/* Used entry I (mod size): id and len. */
void dh_used_elem(const struct dev_harness *h, const struct dh_ring *r, uint16_t i, uint32_t *id,
		  uint32_t *len);

/* The driver's init sequence: reset, ACKNOWLEDGE, DRIVER, features (ALL:
 * all the device offers, else WANT; minus CLEAR; only what is offered),
 * FEATURES_OK and the status read back, then with MSIX the MSI-X
 * capability enabled and config vector 0, NQ queues at RINGS (each vector
 * q + 1 with MSIX), DRIVER_OK.  The caller zeroes the ring areas (a
 * driver's fresh rings).  Returns the features written; *status is the
 * status read after FEATURES_OK (NULL: not wanted). */
struct dh_init {
	uint64_t want, clear;
	bool all, msix, addr64;
	unsigned nq;
	const struct dh_ring *rings;
};
uint64_t dh_virtio_init(struct dev_harness *h, const struct dh_init *in, uint8_t *status);

/* A leak check across device lives, for the harness to call once per
 * input: every EVERY inputs, no more fds of the kinds a device makes or
 * dups (memfds, eventfds, sockets) are open than after the first
 * (libFuzzer's own stay open; a leak of one per input shows at once). */
void dh_check_fds(unsigned long every);

#endif
