/* MSI-X of device processes' PCI functions, kept by the core: the guest
 * programs the vector table here (never in the device), and each unmasked
 * vector becomes a KVM GSI route to an MSI plus an irqfd on the eventfd the
 * device signals (vmm-core/irq_route.c). */
#ifndef CELLVM_VMM_CORE_MSIX_H
#define CELLVM_VMM_CORE_MSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm-core/pci.h"

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16
#define PCI_CAP_ID_MSIX 0x11
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSIX_VECTOR_MASKED 1u

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the table entry */
	int fd;				       /* the device's eventfd */
	uint32_t gsi;
	bool irqfd; /* the eventfd is a KVM irqfd now (the vector is live) */
};

struct msix {
	unsigned nvec; /* 0: the function has no MSI-X */
	unsigned cap;  /* capability offset in configuration space */
	unsigned table_bar, pba_bar;
	uint64_t table_off, pba_off;
	bool enabled, masked; /* from the message control register */
	bool dirty;	      /* something a route depends on changed */
	struct msix_vector vec[MSIX_MAX_VECTORS];
};

/* Finds the MSI-X capability in a device's configuration space (untrusted)
 * and checks it against the function's BARs and the NFDS eventfds the
 * device gave.  No capability and no fds: 0 with m->nvec = 0.  -1 with err
 * on anything inconsistent. */
int msix_parse(struct msix *m, const volatile uint8_t *config, const struct pci_bar *bars,
	       unsigned nfds, char *err, size_t errlen);

/* Does the access fall in the table or the PBA? */
bool msix_claims(const struct msix *m, unsigned bar, uint64_t off, uint8_t size);
uint64_t msix_read(const struct msix *m, unsigned bar, uint64_t off, uint8_t size);
void msix_write(struct msix *m, unsigned bar, uint64_t off, uint8_t size, uint64_t val);
/* The message control register as the configuration space has it now. */
void msix_set_control(struct msix *m, uint16_t control);
/* Should vector V be delivered (enabled, not masked)? */
bool msix_vector_live(const struct msix *m, unsigned v);

#endif
