/* Port and MMIO exits: the few ports the core answers itself (PCI
 * configuration, ACPI PM1a, the reset ports), the ranges and PCI BARs
 * forwarded to device processes over their exit rings, and everything else
 * (reads all-ones, writes dropped). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ipc/control.h"
#include "vmm-core/vm.h"

#define PM1_SLP_EN (1u << 13)
#define PM1_SCI_EN 1u
#define RESET_CPU_RESET 0x04
#define I8042_PULSE_RESET 0xfe
#define PORT_POST 0x80 /* POST codes; Linux also writes it as an I/O delay */
#define UNCLAIMED_LOG_MAX 8

static void reboot(struct vm *vm, const char *how)
{
	vm_stop(vm, CELLVM__VM_STOPPED__REASON__REBOOT, "reset by %s", how);
}

/* Ports handled here.  Returns true if the port is the core's. */
static bool core_port(struct vcpu *v, uint16_t port, bool write, uint8_t size, uint32_t *val)
{
	struct vm *vm = v->vm;
	if (port >= PORT_PM1A_EVT && port < PORT_PM1A_EVT + 4) {
		/* PM1 status (the power button) and enable. */
		pthread_mutex_lock(&vm->lock);
		if (write) {
			pm1_evt_write(&vm->pm1, port - PORT_PM1A_EVT, size, *val);
			vm_sci_update(vm);
		} else {
			*val = pm1_evt_read(&vm->pm1, port - PORT_PM1A_EVT, size);
		}
		pthread_mutex_unlock(&vm->lock);
		return true;
	}
	if (port >= PORT_PM1A_CNT && port < PORT_PM1A_CNT + 2) {
		if (!write) {
			*val = port == PORT_PM1A_CNT ? PM1_SCI_EN : 0; /* ACPI mode, always */
			return true;
		}
		uint32_t cnt = port == PORT_PM1A_CNT ? *val : *val << 8;
		if (size == 1 && port == PORT_PM1A_CNT)
			return true; /* SLP_EN lives in the high byte */
		if ((cnt & PM1_SLP_EN) && ((cnt >> 10) & 7) == ACPI_S5_SLP_TYP)
			vm_stop(vm, CELLVM__VM_STOPPED__REASON__POWEROFF, "ACPI power off (S5)");
		return true;
	}
	if (port == PORT_RESET && size == 1) {
		pthread_mutex_lock(&vm->lock);
		if (write)
			vm->reset_reg = (uint8_t)*val;
		else
			*val = vm->reset_reg;
		pthread_mutex_unlock(&vm->lock);
		if (write && (*val & RESET_CPU_RESET))
			reboot(vm, "port 0xcf9");
		return true;
	}
	if (port == PORT_I8042_CMD && write && size == 1) {
		if ((*val & 0xff) == I8042_PULSE_RESET)
			reboot(vm, "the keyboard controller (port 0x64)");
		return true;
	}
	if (port == PORT_POST) {
		if (!write)
			*val = 0xff;
		return true;
	}
	return false;
}

static int find_range(struct vm *vm, uint8_t kind, uint64_t addr, uint8_t size)
{
	for (unsigned i = 0; i < vm->nranges; i++) {
		const struct vm_range *r = &vm->ranges[i];
		if (r->kind == kind && addr >= r->base && addr - r->base < r->size &&
		    size <= r->size - (addr - r->base))
			return (int)i;
	}
	return -1;
}

static void unclaimed(struct vcpu *v, const char *kind, uint64_t addr, uint8_t size, bool write)
{
	uint64_t n = __atomic_fetch_add(&v->vm->unclaimed, 1, __ATOMIC_RELAXED);
	if (n < UNCLAIMED_LOG_MAX)
		control_send_log(v->vm->control_fd, CELLVM__LOG__LEVEL__DEBUG,
				 "unclaimed %s %s 0x%llx/%u%s", kind, write ? "write" : "read",
				 (unsigned long long)addr, size,
				 n + 1 == UNCLAIMED_LOG_MAX ? " (no more of these are logged)" : "");
}

static void device_gone(struct vcpu *v, unsigned device, const struct ring_producer *p)
	__attribute__((noreturn));
static void device_gone(struct vcpu *v, unsigned device, const struct ring_producer *p)
{
	vm_stop(v->vm, CELLVM__VM_STOPPED__REASON__ERROR, "device %s: %s",
		v->vm->devices[device].name, p->err);
}

/* One access to a device: posted write or waited read. */
static uint64_t forward(struct vcpu *v, unsigned device, uint8_t kind, uint64_t addr,
			uint8_t size, bool write, uint64_t data)
{
	struct ring_producer *p = &v->prod[device];
	int rc;
	if (write) {
		rc = ring_post_write(p, kind, addr, size, data);
	} else {
		rc = ring_read(p, kind, addr, size, &data);
		if (rc == -EFAULT) /* the device refused the access: all-ones */
			return ~0ull;
	}
	if (rc < 0)
		device_gone(v, device, p);
	return data;
}

/* A configuration write to a device's function: the BARs we own follow
 * at once; the device gets the write, and the dword read back after it
 * makes sure it was applied before the guest's next access. */
static void config_write(struct vcpu *v, const struct pci_write *w)
{
	struct vm *vm = v->vm;
	unsigned device = vm->pcidev[w->slot].device;
	struct ring_producer *p = &v->prod[device];
	uint64_t back;
	pthread_mutex_lock(&vm->cfg_lock);
	if (w->decode_changed)
		vm_pci_remap(vm, w->slot);
	int rc = ring_post_write(p, RING_CONFIG, w->reg, w->size, w->val);
	if (rc == 0)
		rc = ring_read(p, RING_CONFIG, w->reg & ~3u, 4, &back);
	pthread_mutex_unlock(&vm->cfg_lock);
	if (rc < 0 && rc != -EFAULT)
		device_gone(v, device, p);
	vm_pci_config_written(vm, w->slot);
}

uint64_t vm_pci_bar_access(struct vcpu *v, unsigned slot, unsigned bar, uint64_t off,
			   uint8_t size, bool write, uint64_t val)
{
	struct vm *vm = v->vm;
	struct vm_pci_dev *pd = &vm->pcidev[slot];
	if (msix_claims(&pd->msix, bar, off, size)) {
		pthread_mutex_lock(&vm->irq_lock);
		if (write) {
			msix_write(&pd->msix, bar, off, size, val);
			vm_irq_routes_commit(vm);
		} else {
			val = msix_read(&pd->msix, bar, off, size);
		}
		pthread_mutex_unlock(&vm->irq_lock);
		return val;
	}
	return forward(v, pd->device, RING_BAR, RING_BAR_ADDR(bar, off), size, write, val);
}

/* A device function's BAR, if one decodes the access. */
static bool pci_bar_exit(struct vcpu *v, uint8_t kind, uint64_t addr, uint8_t size, bool write,
			 uint64_t *val)
{
	unsigned slot, bar;
	uint64_t off;
	pthread_rwlock_rdlock(&v->vm->pci.map_lock);
	bool hit = pci_bar_lookup(&v->vm->pci, kind, addr, size, &slot, &bar, &off);
	pthread_rwlock_unlock(&v->vm->pci.map_lock);
	if (hit)
		*val = vm_pci_bar_access(v, slot, bar, off, size, write, *val);
	return hit;
}

void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint16_t port = run->io.port;
	uint8_t size = run->io.size;
	bool write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	if (size != 1 && size != 2 && size != 4)
		vcpu_fail(v, "port access of size %u", size);
	/* A rep ins/outs comes as `count` accesses to the same port. */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint32_t val = 0;
		memcpy(&val, data, size);
		struct pci_write w;
		enum pci_access pa = pci_port_access(&v->vm->pci, port, write, size, &val, &w);
		if (pa == PCI_DEVICE_WRITE) {
			config_write(v, &w);
			continue;
		}
		if (pa == PCI_DONE || core_port(v, port, write, size, &val)) {
			if (!write)
				memcpy(data, &val, size);
			continue;
		}
		int ri = find_range(v->vm, RING_PIO, port, size);
		uint64_t got = val;
		if (ri >= 0) {
			got = forward(v, v->vm->ranges[ri].device, RING_PIO, port, size, write, val);
		} else if (!pci_bar_exit(v, RING_PIO, port, size, write, &got)) {
			unclaimed(v, "port", port, size, write);
			got = ~0ull;
		}
		if (!write)
			memcpy(data, &got, size);
	}
}

void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t addr = run->mmio.phys_addr;
	uint8_t size = (uint8_t)run->mmio.len;
	bool write = run->mmio.is_write;
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		/* Wider accesses (SSE moves to MMIO) have no device here yet. */
		unclaimed(v, "mmio", addr, size, write);
		if (!write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		return;
	}
	uint64_t val = 0;
	memcpy(&val, run->mmio.data, size);
	int ri = find_range(v->vm, RING_MMIO, addr, size);
	uint64_t got = val;
	if (ri >= 0) {
		got = forward(v, v->vm->ranges[ri].device, RING_MMIO, addr, size, write, val);
	} else if (!pci_bar_exit(v, RING_MMIO, addr, size, write, &got)) {
		unclaimed(v, "mmio", addr, size, write);
		got = ~0ull;
	}
	if (!write)
		memcpy(run->mmio.data, &got, size);
}
