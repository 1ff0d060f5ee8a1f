/* The guest's PCI bus: configuration mechanism #1 (the address register at
 * 0xcf8, the addressed dword at 0xcfc-0xcff) over bus 0's 32 slots, one
 * function each, with the host bridge in slot 0.  Configuration space is
 * kept here, with a mask of the bits a guest may write. */
#include <string.h>

#include "ipc/exit_ring.h"
#include "vmm-core/pci.h"

#define CFG_VENDOR 0x00
#define CFG_DEVICE 0x02
#define CFG_COMMAND 0x04
#define CFG_REVISION 0x08
#define CFG_CLASS 0x09 /* prog-if, subclass, base class */
#define CFG_CACHE_LINE 0x0c
#define CFG_LATENCY 0x0d
#define CFG_HEADER_TYPE 0x0e
#define CFG_BAR0 0x10
#define CFG_INTERRUPT_LINE 0x3c

#define CMD_IO 0x0001
#define CMD_MEMORY 0x0002
#define CMD_BUS_MASTER 0x0004
#define CMD_INTX_DISABLE 0x0400

#define ADDR_ENABLE 0x80000000u

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool pci_core_owned(unsigned reg)
{
	return (reg >= CFG_COMMAND && reg < CFG_COMMAND + 2) ||
	       (reg >= CFG_BAR0 && reg < CFG_BAR0 + 4 * PCI_BARS) ||
	       (reg >= 0x30 && reg < 0x34) || /* expansion ROM: none */
	       reg == CFG_INTERRUPT_LINE || reg == PCI_CFG_INTERRUPT_PIN;
}

void pci_function_init(struct pci_function *f, uint16_t vendor, uint16_t device,
		       uint32_t class_code, uint8_t revision)
{
	memset(f, 0, sizeof(*f));
	f->present = true;
	put16(f->config + CFG_VENDOR, vendor);
	put16(f->config + CFG_DEVICE, device);
	f->config[CFG_REVISION] = revision;
	f->config[CFG_CLASS] = (uint8_t)class_code;
	f->config[CFG_CLASS + 1] = (uint8_t)(class_code >> 8);
	f->config[CFG_CLASS + 2] = (uint8_t)(class_code >> 16);
	f->config[CFG_HEADER_TYPE] = 0; /* type 0, single function */
	put16(f->wmask + CFG_COMMAND, CMD_IO | CMD_MEMORY | CMD_BUS_MASTER | CMD_INTX_DISABLE);
	f->wmask[CFG_CACHE_LINE] = 0xff;
	f->wmask[CFG_LATENCY] = 0xff;
	f->wmask[CFG_INTERRUPT_LINE] = 0xff;
}

int pci_function_set_bar(struct pci_function *f, unsigned n, uint64_t size, uint8_t kind)
{
	bool io = kind & PCI_BAR_IO, wide = kind & PCI_BAR_MEM64;
	if (n > 5 || (wide && (io || n > 4)) || size & (size - 1) ||
	    size < (io ? 4u : 16u) || (io && size > 0x10000) || (!wide && size > (1ull << 31)))
		return -1;
	uint64_t mask = ~(size - 1);
	uint8_t *cfg = f->config + CFG_BAR0 + 4 * n, *wm = f->wmask + CFG_BAR0 + 4 * n;
	put32(cfg, kind & (io ? PCI_BAR_IO : PCI_BAR_MEM64 | PCI_BAR_PREFETCH));
	put32(wm, (uint32_t)mask & (io ? ~3u : ~15u));
	if (wide) {
		put32(cfg + 4, 0);
		put32(wm + 4, (uint32_t)(mask >> 32));
	}
	f->bar[n] = (struct pci_bar){.size = size, .kind = kind};
	return 0;
}

void pci_bus_init(struct pci_bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	pthread_rwlock_init(&bus->map_lock, NULL);
	pci_function_init(&bus->slot[0], PCI_HOST_VENDOR, PCI_HOST_DEVICE, 0x060000, 0);
}

/* The function the address register selects, or NULL: disabled, another
 * bus, another function, or an empty slot. */
static struct pci_function *selected(struct pci_bus *bus)
{
	uint32_t a = bus->address;
	unsigned busnr = (a >> 16) & 0xff, slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
	if (!(a & ADDR_ENABLE) || busnr != 0 || fn != 0 || !bus->slot[slot].present)
		return NULL;
	return &bus->slot[slot];
}

static uint8_t config_byte(const struct pci_function *f, unsigned reg)
{
	if (!f->page || pci_core_owned(reg))
		return f->config[reg];
	return f->page[reg];
}

enum pci_access pci_port_access(struct pci_bus *bus, uint16_t port, bool write, uint8_t size,
				uint32_t *val, struct pci_write *w)
{
	if (port == PORT_PCI_ADDRESS && size == 4) {
		pthread_mutex_lock(&bus->lock);
		if (write)
			bus->address = *val & 0x80fffffcu; /* reserved bits read as 0 */
		else
			*val = bus->address;
		pthread_mutex_unlock(&bus->lock);
		return PCI_DONE;
	}
	if (port < PORT_PCI_DATA || port > PORT_PCI_DATA + 3)
		return PCI_NOT_MINE;
	unsigned in_dword = port - PORT_PCI_DATA;
	if (in_dword + size > 4) { /* crosses the dword: no such access on hardware */
		if (!write)
			*val = 0xffffffffu;
		return PCI_DONE;
	}
	enum pci_access rc = PCI_DONE;
	pthread_mutex_lock(&bus->lock);
	struct pci_function *f = selected(bus);
	unsigned reg = (bus->address & 0xfc) + in_dword;
	if (!f) {
		if (!write)
			*val = 0xffffffffu;
	} else if (write) {
		bool changed = false;
		for (unsigned i = 0; i < size; i++) {
			uint8_t b = (uint8_t)(*val >> (8 * i)), m = f->wmask[reg + i];
			uint8_t old = f->config[reg + i];
			f->config[reg + i] = (uint8_t)((old & ~m) | (b & m));
			if (f->config[reg + i] != old &&
			    (reg + i < CFG_COMMAND + 2 ||
			     (reg + i >= CFG_BAR0 && reg + i < CFG_BAR0 + 4 * PCI_BARS)))
				changed = true;
		}
		if (f->page) {
			*w = (struct pci_write){
				.slot = (unsigned)(f - bus->slot),
				.reg = reg,
				.size = size,
				.val = *val,
				.decode_changed = changed,
			};
			rc = PCI_DEVICE_WRITE;
		}
	} else {
		uint32_t v = 0;
		for (unsigned i = 0; i < size; i++)
			v |= (uint32_t)config_byte(f, reg + i) << (8 * i);
		*val = v;
	}
	pthread_mutex_unlock(&bus->lock);
	return rc;
}

unsigned pci_function_decode(struct pci_bus *bus, unsigned slot)
{
	struct pci_function *f = &bus->slot[slot];
	unsigned changed = 0;
	pthread_mutex_lock(&bus->lock);
	uint16_t cmd = (uint16_t)(f->config[CFG_COMMAND] | f->config[CFG_COMMAND + 1] << 8);
	for (unsigned n = 0; n < PCI_BARS; n++) {
		struct pci_bar *b = &f->bar[n];
		if (!b->size)
			continue;
		bool io = b->kind & PCI_BAR_IO;
		const uint8_t *reg = f->config + CFG_BAR0 + 4 * n;
		uint64_t addr = get32(reg) & (io ? ~3u : ~15u);
		if (b->kind & PCI_BAR_MEM64)
			addr |= (uint64_t)get32(reg + 4) << 32;
		uint64_t limit = io ? 0x10000 : 1ull << 52; /* a guest-physical address */
		bool on = (cmd & (io ? PCI_CMD_IO : PCI_CMD_MEMORY)) && addr != 0 &&
			  addr < limit && b->size <= limit - addr;
		if (on != b->mapped || (on && addr != b->addr))
			changed |= 1u << n;
		b->mapped = on;
		b->addr = on ? addr : 0;
	}
	pthread_mutex_unlock(&bus->lock);
	return changed;
}

bool pci_bar_lookup(struct pci_bus *bus, uint8_t kind, uint64_t addr, uint8_t size,
		    unsigned *slot, unsigned *bar, uint64_t *offset)
{
	bool io = kind == RING_PIO;
	for (unsigned s = 1; s < PCI_SLOTS; s++) {
		const struct pci_function *f = &bus->slot[s];
		if (!f->present || !f->page)
			continue;
		for (unsigned n = 0; n < PCI_BARS; n++) {
			const struct pci_bar *b = &f->bar[n];
			if (!b->mapped || io != !!(b->kind & PCI_BAR_IO) || addr < b->addr ||
			    addr - b->addr >= b->size || size > b->size - (addr - b->addr))
				continue;
			*slot = s;
			*bar = n;
			*offset = addr - b->addr;
			return true;
		}
	}
	return false;
}
