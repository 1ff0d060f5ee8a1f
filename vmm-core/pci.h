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

#define PCI_BARS 6
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_BAR0 0x10
#define PCI_CFG_CAP_PTR 0x34
#define PCI_CFG_INTERRUPT_LINE 0x3c
#define PCI_CFG_INTERRUPT_PIN 0x3d
#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEMORY 0x0002

/* A BAR as the core places and decodes it. */
struct pci_bar {
	uint64_t size;	 /* 0: no BAR at this index (or the high half of one) */
	uint8_t kind;	 /* PCI_BAR_IO, PCI_BAR_MEM64, PCI_BAR_PREFETCH bits */
	uint64_t addr;	 /* where the guest decodes it now */
	bool mapped;	 /* decoding enabled, at a non-zero address */
};

/* One function's configuration space, and which of its bits the guest may
 * change: a write stores (old & ~wmask) | (new & wmask), so a BAR sized
 * by its mask answers the all-ones probe with its size, as hardware does.
 *
 * A device process's function: the core keeps only the bytes it owns
 * (command, BARs, expansion ROM, interrupt line and pin: pci_core_owned);
 * every other byte is read from the page the device publishes, and every
 * write also goes to the device. */
struct pci_function {
	bool present;
	uint8_t config[PCI_CONFIG_SIZE];
	uint8_t wmask[PCI_CONFIG_SIZE];
	const volatile uint8_t *page; /* the device's configuration space; NULL: all ours */
	int device;		      /* vm->devices index, for a device's function */
	struct pci_bar bar[PCI_BARS]; /* decoded state, under the bus's map_lock */
};

struct pci_bus {
	pthread_mutex_t lock; /* one address register for every vCPU, as on hardware */
	uint32_t address;
	struct pci_function slot[PCI_SLOTS];
	/* Where BARs decode: vCPUs look up under read, BAR moves take write. */
	pthread_rwlock_t map_lock;
};

/* What a configuration access was, for the caller to finish. */
enum pci_access {
	PCI_NOT_MINE,	  /* not a PCI configuration port */
	PCI_DONE,	  /* answered here */
	PCI_DEVICE_WRITE, /* applied to our bytes; must also reach the device */
};

struct pci_write {
	unsigned slot;
	unsigned reg; /* configuration register offset of the first byte */
	uint8_t size;
	uint32_t val;
	bool decode_changed; /* the command register or a BAR changed */
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

/* A vCPU's access to PORT.  PCI_NOT_MINE when the port is not PCI's (0xcf8
 * is PCI's only as a dword: byte 0xcf9 is the reset register).  A write to
 * a device process's function returns PCI_DEVICE_WRITE with *w filled. */
enum pci_access pci_port_access(struct pci_bus *bus, uint16_t port, bool write, uint8_t size,
				uint32_t *val, struct pci_write *w);

/* Is configuration byte REG one the core keeps for a device's function? */
bool pci_core_owned(unsigned reg);

/* Recomputes where slot's BARs decode, from its command register and BARs.
 * Call with map_lock held for writing.  Returns a bitmask of the BARs whose
 * decoding changed. */
unsigned pci_function_decode(struct pci_bus *bus, unsigned slot);

/* The device BAR that decodes [addr, addr+size) of KIND (RING_PIO or
 * RING_MMIO).  Call with map_lock held for reading.  true with slot, bar and
 * offset filled. */
bool pci_bar_lookup(struct pci_bus *bus, uint8_t kind, uint64_t addr, uint8_t size,
		    unsigned *slot, unsigned *bar, uint64_t *offset);

#endif
