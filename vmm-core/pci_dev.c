/* PCI functions of device processes, on the core's side: the function's
 * configuration page, BAR placement at setup and when the guest moves them,
 * the ioeventfds that follow the BARs, INTx by a resampling irqfd, and the
 * BAR accesses that the core answers itself (MSI-X) or forwards. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vmm-core/vm.h"

#define PCI_PAGE_SIZE 4096
#define PCI_IO_START 0xc000u
#define PCI_IO_END 0x10000u
#define PCI_MMIO_END 0xfec00000ull /* the IOAPIC; the DSDT's window ends below */

static int fd_at(const int *fds, size_t nfds, int32_t i, const char *what, char *err,
		 size_t errlen)
{
	if (i < 0 || (size_t)i >= nfds) {
		snprintf(err, errlen, "PCI function names fd %d for %s; %zu came", i, what, nfds);
		return -1;
	}
	return fds[i];
}

/* Firmware's job: give each BAR a naturally aligned home in the PCI hole
 * (memory) or above 0xc000 (I/O). */
static int place_bar(struct vm *vm, struct pci_function *f, unsigned n, char *err,
		     size_t errlen)
{
	struct pci_bar *b = &f->bar[n];
	uint8_t *reg = f->config + PCI_CFG_BAR0 + 4 * n;
	uint64_t addr;
	if (b->kind & PCI_BAR_IO) {
		addr = (vm->pci_io_next + b->size - 1) & ~(b->size - 1);
		if (addr + b->size > PCI_IO_END) {
			snprintf(err, errlen, "no I/O space left for a %llu-byte BAR",
				 (unsigned long long)b->size);
			return -1;
		}
		vm->pci_io_next = (uint32_t)(addr + b->size);
	} else {
		addr = (vm->pci_mmio_next + b->size - 1) & ~(b->size - 1);
		if (addr + b->size > PCI_MMIO_END) {
			snprintf(err, errlen, "no MMIO space left for a %llu-byte BAR",
				 (unsigned long long)b->size);
			return -1;
		}
		vm->pci_mmio_next = addr + b->size;
	}
	uint32_t lo = (uint32_t)addr | (reg[0] & 0xf);
	memcpy(reg, &lo, 4);
	if (b->kind & PCI_BAR_MEM64) {
		uint32_t hi = (uint32_t)(addr >> 32);
		memcpy(reg + 4, &hi, 4);
	}
	return 0;
}

static int add_bars(struct vm *vm, struct pci_function *f, const Cellvm__PciFunction *p,
		    char *err, size_t errlen)
{
	uint16_t cmd = 0;
	for (size_t i = 0; i < p->n_bars; i++) {
		const Cellvm__PciBar *b = p->bars[i];
		uint8_t kind = b->kind == CELLVM__PCI_BAR__KIND__IO ? PCI_BAR_IO
			       : b->kind == CELLVM__PCI_BAR__KIND__MEM64 ? PCI_BAR_MEM64
									 : 0;
		if (b->prefetchable && !(kind & PCI_BAR_IO))
			kind |= PCI_BAR_PREFETCH;
		bool taken = b->index < PCI_BARS &&
			     (f->bar[b->index].size || (b->index > 0 && f->bar[b->index - 1].size &&
							(f->bar[b->index - 1].kind & PCI_BAR_MEM64)));
		if (b->kind == CELLVM__PCI_BAR__KIND__KIND_NONE || b->kind > CELLVM__PCI_BAR__KIND__MEM64 ||
		    taken || (kind & PCI_BAR_MEM64 && b->index + 1 < PCI_BARS && f->bar[b->index + 1].size) ||
		    pci_function_set_bar(f, b->index, b->size, kind) < 0) {
			snprintf(err, errlen, "BAR %u: bad or overlapping (size %llu, kind %d)",
				 b->index, (unsigned long long)b->size, b->kind);
			return -1;
		}
		if (place_bar(vm, f, b->index, err, errlen) < 0)
			return -1;
		cmd |= kind & PCI_BAR_IO ? PCI_CMD_IO : PCI_CMD_MEMORY;
	}
	f->config[PCI_CFG_COMMAND] = (uint8_t)cmd; /* decoding on, as firmware leaves it */
	return 0;
}

static int add_ioeventfds(struct vm_pci_dev *pd, const struct pci_function *f,
			  const Cellvm__PciFunction *p, const int *fds, size_t nfds, char *err,
			  size_t errlen)
{
	if (p->n_ioeventfds > VM_MAX_IOEVENTFDS) {
		snprintf(err, errlen, "%zu ioeventfds, at most %d", p->n_ioeventfds,
			 VM_MAX_IOEVENTFDS);
		return -1;
	}
	for (size_t i = 0; i < p->n_ioeventfds; i++) {
		const Cellvm__Ioeventfd *io = p->ioeventfds[i];
		int fd = fd_at(fds, nfds, io->fd, "an ioeventfd", err, errlen);
		if (fd < 0)
			return -1;
		uint64_t bsize = io->bar < PCI_BARS ? f->bar[io->bar].size : 0;
		if ((io->size != 1 && io->size != 2 && io->size != 4 && io->size != 8) ||
		    io->offset >= bsize || io->size > bsize - io->offset) {
			snprintf(err, errlen, "ioeventfd at BAR %u offset 0x%llx/%u is outside its BAR",
				 io->bar, (unsigned long long)io->offset, io->size);
			return -1;
		}
		pd->ioev[pd->nioev++] = (struct vm_ioeventfd){
			.bar = io->bar, .offset = io->offset, .size = io->size, .fd = fd};
	}
	return 0;
}

static int add_intx(struct vm *vm, struct vm_pci_dev *pd, struct pci_function *f, unsigned slot,
		    const Cellvm__PciFunction *p, const int *fds, size_t nfds, char *err,
		    size_t errlen)
{
	pd->intx_fd = pd->resample_fd = -1;
	if (p->intx_fd < 0)
		return 0;
	int fd = fd_at(fds, nfds, p->intx_fd, "INTx", err, errlen);
	int rfd = fd < 0 ? -1 : fd_at(fds, nfds, p->intx_resample_fd, "INTx resample", err, errlen);
	if (rfd < 0)
		return -1;
	unsigned gsi = pci_intx_gsi(slot, 0);
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = gsi,
		.flags = KVM_IRQFD_FLAG_RESAMPLE,
		.resamplefd = (uint32_t)rfd,
	};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		snprintf(err, errlen, "KVM_IRQFD(GSI %u, level): %s", gsi, strerror(errno));
		return -1;
	}
	pd->intx_fd = fd;
	pd->resample_fd = rfd;
	f->config[PCI_CFG_INTERRUPT_LINE] = (uint8_t)gsi;
	f->config[PCI_CFG_INTERRUPT_PIN] = 1; /* INTA */
	return 0;
}

int vm_pci_add(struct vm *vm, unsigned device, unsigned slot, const Cellvm__PciFunction *p,
	       const int *fds, size_t nfds, char *err, size_t errlen)
{
	if (slot < 1 || slot >= PCI_SLOTS || vm->pci.slot[slot].present) {
		snprintf(err, errlen, "PCI slot %u is not free (1..%d)", slot, PCI_SLOTS - 1);
		return -1;
	}
	int cfd = fd_at(fds, nfds, p->config_fd, "the configuration page", err, errlen);
	if (cfd < 0)
		return -1;
	struct stat st;
	if (fstat(cfd, &st) < 0 || st.st_size < PCI_PAGE_SIZE) {
		snprintf(err, errlen, "the configuration page is not a %d-byte memfd", PCI_PAGE_SIZE);
		return -1;
	}
	void *page = mmap(NULL, PCI_PAGE_SIZE, PROT_READ, MAP_SHARED, cfd, 0);
	if (page == MAP_FAILED) {
		snprintf(err, errlen, "mapping the configuration page: %s", strerror(errno));
		return -1;
	}
	if (!vm->pci_mmio_next) {
		vm->pci_mmio_next = GUEST_PCI_HOLE;
		vm->pci_io_next = PCI_IO_START;
		vm->next_gsi = 24;
	}
	struct pci_function *f = &vm->pci.slot[slot];
	struct vm_pci_dev *pd = &vm->pcidev[slot];
	memset(f, 0, sizeof(*f));
	memset(pd, 0, sizeof(*pd));
	f->page = page;
	f->device = (int)device;
	/* What the guest may write of the bytes we own. */
	f->wmask[PCI_CFG_COMMAND] = PCI_CMD_IO | PCI_CMD_MEMORY | 0x04; /* + bus master */
	f->wmask[PCI_CFG_COMMAND + 1] = 0x04;				   /* INTx disable */
	f->wmask[PCI_CFG_INTERRUPT_LINE] = 0xff;
	pd->device = device;
	pd->page = page;
	if (add_bars(vm, f, p, err, errlen) < 0 ||
	    add_ioeventfds(pd, f, p, fds, nfds, err, errlen) < 0 ||
	    add_intx(vm, pd, f, slot, p, fds, nfds, err, errlen) < 0)
		return -1;
	if (msix_parse(&pd->msix, page, f->bar, (unsigned)p->n_msix_fds, err, errlen) < 0)
		return -1;
	for (unsigned v = 0; v < pd->msix.nvec; v++) {
		int fd = fd_at(fds, nfds, p->msix_fds[v], "an MSI-X vector", err, errlen);
		if (fd < 0)
			return -1;
		pd->msix.vec[v].fd = fd;
		pd->msix.vec[v].gsi = vm->next_gsi++;
	}
	pd->present = true;
	f->present = true;
	vm_pci_remap(vm, slot);
	return 0;
}

static void set_ioeventfd(struct vm *vm, const struct pci_bar *b, struct vm_ioeventfd *io,
			  bool on)
{
	uint64_t addr = on ? b->addr + io->offset : io->addr;
	struct kvm_ioeventfd req = {
		.addr = addr,
		.len = io->size,
		.fd = io->fd,
		.flags = (b->kind & PCI_BAR_IO ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &req) < 0) {
		/* Two BARs the guest overlapped, say: the writes then come
		 * through the exit ring, which the device also serves. */
		control_send_log(vm->control_fd, CELLVM__LOG__LEVEL__WARNING,
				 "KVM_IOEVENTFD(0x%llx/%u, %s): %s", (unsigned long long)addr,
				 io->size, on ? "on" : "off", strerror(errno));
		if (on)
			return;
	}
	io->assigned = on;
	io->addr = on ? addr : 0;
}

void vm_pci_remap(struct vm *vm, unsigned slot)
{
	struct vm_pci_dev *pd = &vm->pcidev[slot];
	const struct pci_function *f = &vm->pci.slot[slot];
	pthread_rwlock_wrlock(&vm->pci.map_lock);
	unsigned changed = pci_function_decode(&vm->pci, slot);
	for (unsigned i = 0; i < pd->nioev; i++) {
		struct vm_ioeventfd *io = &pd->ioev[i];
		const struct pci_bar *b = &f->bar[io->bar];
		if (!(changed & (1u << io->bar)) && io->assigned == b->mapped)
			continue;
		if (io->assigned)
			set_ioeventfd(vm, b, io, false);
		if (b->mapped)
			set_ioeventfd(vm, b, io, true);
	}
	pthread_rwlock_unlock(&vm->pci.map_lock);
}

void vm_pci_config_written(struct vm *vm, unsigned slot)
{
	struct vm_pci_dev *pd = &vm->pcidev[slot];
	if (!pd->msix.nvec)
		return;
	unsigned c = pd->msix.cap + 2;
	pthread_mutex_lock(&vm->irq_lock);
	msix_set_control(&pd->msix, (uint16_t)(pd->page[c] | pd->page[c + 1] << 8));
	vm_irq_routes_commit(vm);
	pthread_mutex_unlock(&vm->irq_lock);
}
