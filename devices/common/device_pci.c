/* A device process's PCI function: the published configuration space and
 * the eventfds behind its notifications and interrupts. */
#include "devices/common/device_pci.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/common/device.h"
#include "vmm-core/pci.h"

#define CFG_STATUS 0x06
#define CFG_HEADER_TYPE 0x0e
#define CFG_SUBSYS_VENDOR 0x2c
#define CFG_CAP_PTR 0x34
#define STATUS_CAP_LIST 0x10
#define CAP_ID_MSIX 0x11
#define MSIX_ENABLE_MASKALL_HI 0xc0 /* bits 15 and 14 of the message control */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

int device_pci_init(struct device *d, uint16_t vendor, uint16_t device_id, uint32_t class_code,
		    uint8_t revision, uint16_t subsys_vendor, uint16_t subsys_id)
{
	struct device_pci *p = &d->pci;
	memset(p, 0, sizeof(*p));
	p->intx_fd = p->resample_fd = p->config_fd = -1;
	int fd = memfd_create("cellvm-pci-config", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, DEVICE_PCI_PAGE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		device_fail(d, "configuration page: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p->config = mmap(NULL, DEVICE_PCI_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p->config == MAP_FAILED) {
		p->config = NULL;
		close(fd);
		device_fail(d, "mapping the configuration page: %s", strerror(errno));
		return -1;
	}
	p->config_fd = fd;
	p->present = true;
	uint8_t *c = p->config;
	put16(c + 0x00, vendor);
	put16(c + 0x02, device_id);
	c[0x08] = revision;
	c[0x09] = (uint8_t)class_code;
	c[0x0a] = (uint8_t)(class_code >> 8);
	c[0x0b] = (uint8_t)(class_code >> 16);
	c[CFG_HEADER_TYPE] = 0;
	put16(c + CFG_SUBSYS_VENDOR, subsys_vendor);
	put16(c + CFG_SUBSYS_VENDOR + 2, subsys_id);
	p->next_cap = 0x40;
	return 0;
}

int device_pci_add_bar(struct device *d, unsigned n, uint64_t size, Cellvm__PciBar__Kind kind,
		       bool prefetchable)
{
	if (n >= DEVICE_PCI_BARS || size == 0 || (size & (size - 1))) {
		device_fail(d, "BAR %u of %llu bytes", n, (unsigned long long)size);
		return -1;
	}
	d->pci.bar[n] = (struct device_pci_bar){.size = size, .kind = kind,
						.prefetchable = prefetchable};
	return 0;
}

int device_pci_add_cap(struct device *d, uint8_t id, const void *body, unsigned len)
{
	struct device_pci *p = &d->pci;
	unsigned off = p->next_cap, total = (2 + len + 3) & ~3u;
	if (off + total > DEVICE_PCI_CONFIG) {
		device_fail(d, "PCI capabilities do not fit in configuration space");
		return -1;
	}
	uint8_t *c = p->config;
	c[off] = id;
	c[off + 1] = 0;
	memcpy(c + off + 2, body, len);
	if (p->last_cap)
		c[p->last_cap] = (uint8_t)off;
	else
		c[CFG_CAP_PTR] = (uint8_t)off;
	c[CFG_STATUS] |= STATUS_CAP_LIST;
	p->last_cap = off + 1;
	p->next_cap = off + total;
	return (int)off;
}

void device_pci_writable(struct device *d, unsigned off, const uint8_t *mask, unsigned len)
{
	for (unsigned i = 0; i < len && off + i < DEVICE_PCI_CONFIG; i++)
		d->pci.wmask[off + i] |= mask[i];
}

static int new_eventfd(struct device *d, const char *what)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		device_fail(d, "eventfd for %s: %s", what, strerror(errno));
	return fd;
}

int device_pci_add_ioeventfd(struct device *d, unsigned bar, uint64_t offset, uint32_t size)
{
	struct device_pci *p = &d->pci;
	if (p->nioev == DEVICE_PCI_MAX_IOEVENTFDS || bar >= DEVICE_PCI_BARS ||
	    offset + size > p->bar[bar].size) {
		device_fail(d, "ioeventfd at BAR %u offset 0x%llx", bar, (unsigned long long)offset);
		return -1;
	}
	int fd = new_eventfd(d, "a queue notification");
	if (fd < 0)
		return -1;
	p->ioev[p->nioev++] = (struct device_pci_ioeventfd){
		.bar = bar, .offset = offset, .size = size, .fd = fd};
	return fd;
}

int device_pci_add_intx(struct device *d)
{
	struct device_pci *p = &d->pci;
	p->intx_fd = new_eventfd(d, "INTx");
	p->resample_fd = p->intx_fd < 0 ? -1 : new_eventfd(d, "INTx resample");
	return p->resample_fd < 0 ? -1 : 0;
}

int device_pci_add_msix(struct device *d, unsigned nvec, unsigned bar, uint32_t table_off,
			uint32_t pba_off)
{
	struct device_pci *p = &d->pci;
	if (nvec == 0 || nvec > DEVICE_PCI_MAX_MSIX || bar >= DEVICE_PCI_BARS) {
		device_fail(d, "MSI-X with %u vectors in BAR %u", nvec, bar);
		return -1;
	}
	for (unsigned v = 0; v < nvec; v++) {
		p->msix_fds[v] = new_eventfd(d, "an MSI-X vector");
		if (p->msix_fds[v] < 0)
			return -1;
		p->nmsix = v + 1;
	}
	uint8_t body[10];
	put16(body, (uint16_t)(nvec - 1));
	uint32_t t = table_off | bar, b = pba_off | bar;
	memcpy(body + 2, &t, 4);
	memcpy(body + 6, &b, 4);
	int off = device_pci_add_cap(d, CAP_ID_MSIX, body, sizeof(body));
	if (off < 0)
		return -1;
	p->msix_cap = (unsigned)off;
	p->wmask[off + 3] = MSIX_ENABLE_MASKALL_HI;
	return 0;
}

void device_pci_msix_notify(struct device *d, unsigned v)
{
	uint64_t one = 1;
	if (v < d->pci.nmsix && write(d->pci.msix_fds[v], &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		device_log(d, CELLVM__LOG__LEVEL__ERROR, "MSI-X vector %u: %s", v, strerror(errno));
}

bool device_pci_msix_enabled(const struct device *d)
{
	const struct device_pci *p = &d->pci;
	return p->nmsix && (__atomic_load_n(&p->config[p->msix_cap + 3], __ATOMIC_RELAXED) & 0x80);
}

static void intx_signal(struct device *d)
{
	uint64_t one = 1;
	if (write(d->pci.intx_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		device_log(d, CELLVM__LOG__LEVEL__ERROR, "INTx: %s", strerror(errno));
}

/* Level-triggered through KVM: a signal raises the line until the guest's
 * EOI, which lowers it and signals the resample eventfd; if we still want
 * it high then, we signal again (device_pci_resampled). */
void device_pci_set_intx(struct device *d, bool level)
{
	if (d->pci.intx_fd < 0)
		return;
	bool was = __atomic_exchange_n(&d->pci.intx_level, level, __ATOMIC_SEQ_CST);
	if (level && !was)
		intx_signal(d);
}

void device_pci_resampled(struct device *d)
{
	uint64_t n;
	if (read(d->pci.resample_fd, &n, sizeof(n)) < 0)
		return;
	if (__atomic_load_n(&d->pci.intx_level, __ATOMIC_SEQ_CST))
		intx_signal(d);
}

void device_pci_config_write(struct device *d, unsigned reg, unsigned size, uint32_t val)
{
	struct device_pci *p = &d->pci;
	for (unsigned i = 0; i < size && reg + i < DEVICE_PCI_CONFIG; i++) {
		unsigned r = reg + i;
		if (pci_core_owned(r)) /* the core keeps these; never ours to publish */
			continue;
		uint8_t b = (uint8_t)(val >> (8 * i)), old = p->config[r];
		uint8_t nv = (uint8_t)((old & ~p->wmask[r]) | (b & p->wmask[r]));
		nv &= (uint8_t)~(b & p->w1c[r]);
		__atomic_store_n(&p->config[r], nv, __ATOMIC_RELAXED);
	}
}

uint32_t device_pci_config_read(const struct device *d, unsigned reg, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size && reg + i < DEVICE_PCI_CONFIG; i++)
		v |= (uint32_t)d->pci.config[reg + i] << (8 * i);
	return v;
}

static int32_t pass(int *fds, size_t *nfds, int fd)
{
	fds[*nfds] = fd;
	return (int32_t)(*nfds)++;
}

void device_pci_describe(struct device *d, Cellvm__PciFunction *f, Cellvm__PciBar *bars,
			 Cellvm__PciBar **barp, Cellvm__Ioeventfd *io, Cellvm__Ioeventfd **iop,
			 int32_t *msix, int *fds, size_t *nfds)
{
	struct device_pci *p = &d->pci;
	cellvm__pci_function__init(f);
	f->config_fd = pass(fds, nfds, p->config_fd);
	for (unsigned n = 0; n < DEVICE_PCI_BARS; n++) {
		if (!p->bar[n].size)
			continue;
		Cellvm__PciBar *b = &bars[f->n_bars];
		cellvm__pci_bar__init(b);
		b->index = n;
		b->size = p->bar[n].size;
		b->kind = p->bar[n].kind;
		b->prefetchable = p->bar[n].prefetchable;
		barp[f->n_bars++] = b;
	}
	f->bars = barp;
	for (unsigned i = 0; i < p->nioev; i++) {
		cellvm__ioeventfd__init(&io[i]);
		io[i].bar = p->ioev[i].bar;
		io[i].offset = p->ioev[i].offset;
		io[i].size = p->ioev[i].size;
		io[i].fd = pass(fds, nfds, p->ioev[i].fd);
		iop[i] = &io[i];
	}
	f->n_ioeventfds = p->nioev;
	f->ioeventfds = iop;
	f->intx_fd = p->intx_fd < 0 ? -1 : pass(fds, nfds, p->intx_fd);
	f->intx_resample_fd = p->resample_fd < 0 ? -1 : pass(fds, nfds, p->resample_fd);
	for (unsigned v = 0; v < p->nmsix; v++)
		msix[v] = pass(fds, nfds, p->msix_fds[v]);
	f->n_msix_fds = p->nmsix;
	f->msix_fds = msix;
}

void device_pci_release(struct device *d)
{
	struct device_pci *p = &d->pci;
	if (!p->present)
		return;
	int *fds[] = {&p->config_fd, &p->intx_fd, &p->resample_fd};
	for (size_t i = 0; i < 3; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	for (unsigned i = 0; i < p->nioev; i++)
		close(p->ioev[i].fd);
	for (unsigned i = 0; i < p->nmsix; i++)
		close(p->msix_fds[i]);
	if (p->config)
		munmap(p->config, DEVICE_PCI_PAGE);
	memset(p, 0, sizeof(*p));
}
