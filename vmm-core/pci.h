/* The guest's PCI bus: configuration mechanism #1 over bus 0 (vmm-core/pci.c). */
#ifndef CELLVM_VMM_CORE_PCI_H
#define CELLVM_VMM_CORE_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_SLOTS 32
#define PCI_CONFIG_SIZE 256
#define PORT_PCI_ADDRESS 0xcf8 /* 32-bit configuration address */
#define PORT_PCI_DATA 0xcfc    /* 0xcfc-0xcff: the addressed dword */

/* The host bridge at 00:00.0: Red Hat's "generic PCIe host bridge" ids,
 * which no guest driver claims or quirks. */
#define PCI_HOST_VENDOR 0x1b36
#define PCI_HOST_DEVICE 0x0008

/* INTx routing, as the DSDT's _PRT gives it: slot S's pin P (INTA = 0)
 * is GSI 16 + (S + P) mod 8 on the IOAPIC, level-triggered, active low
 * (what ACPI assumes of a GSI named directly).  The rotation spreads
 * single-function devices, which all use INTA, over the eight lines. */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_GSIS 8
static inline unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_GSIS;
}

/* BAR kinds, as bits 0..3 of the BAR register. */
#define PCI_BAR_IO 0x1
#define PCI_BAR_MEM64 0x4
#define PCI_BAR_PREFETCH 0x8

/* One function's configuration space, and which of its bits the guest may
 * change: a write stores (old & ~wmask) | (new & wmask), so a BAR sized
 * by its mask answers the all-ones probe with its size, as hardware does. */
struct pci_function {
	bool present;
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];
};

struct pci_bus {
	pthread_mutex_t lock; /* one address register for every vCPU, as on hardware */
	uint32_t address;
	struct pci_function slot[PCI_SLOTS];
};

/* An empty bus with the host bridge in slot 0. */
void pci_bus_init(struct pci_bus *bus);

/* A type-0 function: ids, class (base << 16 | sub << 8 | prog-if), and the
 * command register bits a guest may set (I/O, memory, bus master). */
void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision);
/* BAR N (0..5) of SIZE bytes (a power of two; I/O at least 4, memory at
 * least 16) and KIND; a 64-bit BAR takes N and N + 1.  Returns -1 on a
 * size or index that cannot be. */
int pci_function_set_bar(struct pci_function *f, unsigned n, uint64_t size, uint8_t kind);

/* A vCPU's access to PORT.  Returns false when the port is not PCI's
 * (0xcf8 is PCI's only as a dword: byte 0xcf9 is the reset register). */
bool pci_port_access(struct pci_bus *bus, uint16_t port, bool write, uint8_t size,
		     uint32_t *val);

#endif
