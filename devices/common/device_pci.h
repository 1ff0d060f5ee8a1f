/* The PCI side of a device process: the configuration space it publishes
 * (a memfd page the core reads the guest's configuration reads from), the
 * BARs and capabilities it declares, the eventfds it hands the core (queue
 * notifications by ioeventfd, MSI-X vectors and INTx by irqfd), and the
 * configuration writes the core forwards.  The core owns the command
 * register, the BARs and the interrupt line/pin (vmm-core/pci_dev.c). */
#ifndef CELLVM_DEVICES_COMMON_DEVICE_PCI_H
#define CELLVM_DEVICES_COMMON_DEVICE_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/control.pb-c.h"

#define DEVICE_PCI_PAGE 4096
#define DEVICE_PCI_CONFIG 256
#define DEVICE_PCI_BARS 6
#define DEVICE_PCI_MAX_IOEVENTFDS 32
#define DEVICE_PCI_MAX_MSIX 64

struct device;

struct device_pci_bar {
	uint64_t size; /* 0: none */
	Cellvm__PciBar__Kind kind;
	bool prefetchable;
};

struct device_pci_ioeventfd {
	unsigned bar;
	uint64_t offset;
	uint32_t size;
	int fd;
};

struct device_pci {
	bool present;
	int config_fd;
	uint8_t *config; /* the published page */
	uint8_t wmask[DEVICE_PCI_CONFIG], w1c[DEVICE_PCI_CONFIG];
	unsigned next_cap;   /* where the next capability goes */
	unsigned last_cap;   /* offset of the last one's next pointer, 0 if none */
	struct device_pci_bar bar[DEVICE_PCI_BARS];
	struct device_pci_ioeventfd ioev[DEVICE_PCI_MAX_IOEVENTFDS];
	unsigned nioev;
	int intx_fd, resample_fd;
	bool intx_level;
	int msix_fds[DEVICE_PCI_MAX_MSIX];
	unsigned nmsix, msix_cap;
};

/* Each returns 0 (or what it says), or -1 with device_fail() called. */
int device_pci_init(struct device *d, uint16_t vendor, uint16_t device_id, uint32_t class_code,
		    uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id);
int device_pci_add_bar(struct device *d, unsigned n, uint64_t size, Cellvm__PciBar__Kind kind,
		       bool prefetchable);
/* Appends a capability: ID, then BODY (LEN bytes, the bytes after the ID
 * and next pointer).  Returns its offset in configuration space. */
int device_pci_add_cap(struct device *d, uint8_t id, const void *body, unsigned len);
/* Lets the guest write MASK's bits of configuration bytes [off, off+len). */
void device_pci_writable(struct device *d, unsigned off, const uint8_t *mask, unsigned len);
/* A guest write of SIZE bytes at OFFSET in BAR that KVM turns into a signal
 * of the returned eventfd (or -1). */
int device_pci_add_ioeventfd(struct device *d, unsigned bar, uint64_t offset, uint32_t size);
/* INTA, level-triggered. */
int device_pci_add_intx(struct device *d);
/* An MSI-X capability with NVEC vectors whose table and PBA the core
 * emulates at the given offsets of BAR. */
int device_pci_add_msix(struct device *d, unsigned nvec, unsigned bar, uint32_t table_off,
			uint32_t pba_off);

/* Interrupts: MSI-X vector V (any thread); INTx level (any thread). */
void device_pci_msix_notify(struct device *d, unsigned v);
bool device_pci_msix_enabled(const struct device *d);
void device_pci_set_intx(struct device *d, bool level);

/* Framework internals (device.c, device_main.c). */
void device_pci_config_write(struct device *d, unsigned reg, unsigned size, uint32_t val);
uint32_t device_pci_config_read(const struct device *d, unsigned reg, unsigned size);
void device_pci_resampled(struct device *d);
/* Fills a PciFunction for the Ready message; fds go into fds[*nfds..]. */
void device_pci_describe(struct device *d, Cellvm__PciFunction *p, Cellvm__PciBar *bars,
			 Cellvm__PciBar **barp, Cellvm__Ioeventfd *io, Cellvm__Ioeventfd **iop,
			 int32_t *msix, int *fds, size_t *nfds);
void device_pci_release(struct device *d);

#endif
