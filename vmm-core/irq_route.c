/* KVM's GSI routing: the in-kernel irqchip's own lines plus one MSI route
 * per live MSI-X vector of a device function.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so the default routes (GSI
 * 0-15 to both PICs' pins and the IOAPIC, 16-23 to the IOAPIC) are written
 * each time along with the MSI ones.  A masked vector keeps its route but
 * loses its irqfd: what the device signals meanwhile stays in the eventfd's
 * counter, and KVM delivers it when the irqfd is registered again at
 * unmask, which is the MSI-X pending bit's behaviour. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm-core/vm.h"

#define IOAPIC_PINS 24
#define PIC_LINES 16

static void irqchip_route(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip,
			  uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

static void set_irqfd(struct vm *vm, struct msix_vector *mv, bool on)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)mv->fd,
		.gsi = mv->gsi,
		.flags = on ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		control_send_log(vm->control_fd, CELLVM__LOG__LEVEL__ERROR,
				 "KVM_IRQFD(GSI %u, %s): %s", mv->gsi, on ? "on" : "off",
				 strerror(errno));
	else
		mv->irqfd = on;
}

void vm_irq_routes_commit(struct vm *vm)
{
	bool dirty = false;
	size_t nmsi = 0;
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		const struct msix *m = &vm->pcidev[s].msix;
		dirty |= m->dirty;
		for (unsigned v = 0; v < m->nvec; v++)
			nmsi += msix_vector_live(m, v);
	}
	if (!dirty)
		return;
	size_t n = PIC_LINES * 2 + (IOAPIC_PINS - PIC_LINES) + nmsi;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + n * sizeof(r->entries[0]));
	if (!r)
		vm_stop(vm, CELLVM__VM_STOPPED__REASON__ERROR, "out of memory for GSI routes");
	struct kvm_irq_routing_entry *e = r->entries;
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi < PIC_LINES)
			irqchip_route(e++, gsi,
				      gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				      gsi % 8);
		irqchip_route(e++, gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		const struct msix *m = &vm->pcidev[s].msix;
		for (unsigned v = 0; v < m->nvec; v++) {
			if (!msix_vector_live(m, v))
				continue;
			memset(e, 0, sizeof(*e));
			e->gsi = m->vec[v].gsi;
			e->type = KVM_IRQ_ROUTING_MSI;
			e->u.msi.address_lo = m->vec[v].addr_lo;
			e->u.msi.address_hi = m->vec[v].addr_hi;
			e->u.msi.data = m->vec[v].data;
			e++;
		}
	}
	r->nr = (uint32_t)(e - r->entries);
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		vm_stop(vm, CELLVM__VM_STOPPED__REASON__ERROR, "KVM_SET_GSI_ROUTING (%u routes): %s",
			r->nr, strerror(errno));
	free(r);
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		struct msix *m = &vm->pcidev[s].msix;
		for (unsigned v = 0; v < m->nvec; v++) {
			bool live = msix_vector_live(m, v);
			if (live != m->vec[v].irqfd)
				set_irqfd(vm, &m->vec[v], live);
		}
		m->dirty = false;
	}
}
