/* Creating the KVM VM: capabilities, irqchip, PIT, guest RAM. */
#include "vmm-core/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* Below the IOAPIC, inside the PCI hole: what KVM needs for its real-mode
 * emulation on Intel (three pages of TSS, one identity-map page). */
#define KVM_TSS_ADDR 0xfffbd000ul
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
	{KVM_CAP_HLT, "KVM_CAP_HLT"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
	{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
	{KVM_CAP_IRQFD_RESAMPLE, "KVM_CAP_IRQFD_RESAMPLE"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
	{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE"},
};

static int check_kvm(int kvm_fd, unsigned ncpus, char *err, size_t errlen)
{
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "/dev/kvm: API version %d, need %d", v, KVM_API_VERSION);
		return -1;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks %s", required_caps[i].name);
			return -1;
		}
	int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && (unsigned)max < ncpus) {
		snprintf(err, errlen, "KVM allows %d vCPUs per VM, %u asked", max, ncpus);
		return -1;
	}
	return 0;
}

static int get_cpuid(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned n = 128; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			break;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			/* The TSC-deadline timer is emulated by KVM's LAPIC but
			 * not listed as supported (it depends on the irqchip). */
			if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0)
				for (unsigned i = 0; i < c->nent; i++)
					if (c->entries[i].function == 1)
						c->entries[i].ecx |= 1u << 24;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG) {
			snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
			return -1;
		}
	}
	snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: too many entries");
	return -1;
}

/* GSI routing as on a PC, and as the MADT says: ISA IRQ 0 (the PIT) reaches
 * IOAPIC pin 2, and IRQ 2 is the PIC cascade, not an interrupt.  KVM's
 * default sends GSI 0 to pin 0, where the guest never looks: it would then
 * calibrate its LAPIC timer without PIT ticks and keep time badly. */
static int set_gsi_routing(struct vm *vm, char *err, size_t errlen)
{
	enum { IOAPIC_PINS = 24, PIC_IRQS = 16 };
	struct kvm_irq_routing *r =
		calloc(1, sizeof(*r) + (IOAPIC_PINS + PIC_IRQS) * sizeof(r->entries[0]));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	unsigned n = 0;
	for (unsigned gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi},
		};
	}
	for (unsigned gsi = 0; gsi < PIC_IRQS; gsi++) {
		if (gsi == 2)
			continue;
		r->entries[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = {.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
							 : KVM_IRQCHIP_PIC_SLAVE,
				      .pin = gsi % 8},
		};
	}
	r->nr = n;
	int rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r);
	free(r);
	if (rc < 0) {
		snprintf(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int add_slot(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host,
		    char *err, size_t errlen)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION(slot %u, %llu MiB): %s", slot,
			 (unsigned long long)(size >> 20), strerror(errno));
		return -1;
	}
	return 0;
}

int vm_create(struct vm *vm, int kvm_fd, int mem_fd, uint64_t mem_size, unsigned ncpus,
	      char *err, size_t errlen)
{
	vm->kvm_fd = kvm_fd;
	vm->mem_size = mem_size;
	vm->ncpus = ncpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->cfg_lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	pci_bus_init(&vm->pci);
	pthread_cond_init(&vm->start_cond, NULL);
	if (check_kvm(kvm_fd, ncpus, err, errlen) < 0)
		return -1;
	int rs = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (rs <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	vm->run_size = (size_t)rs;
	vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0) {
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		snprintf(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (set_gsi_routing(vm, err, errlen) < 0)
		return -1;
	struct kvm_pit_config pit = {.flags = 0};
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem_fd,
		       0);
	if (vm->mem == MAP_FAILED) {
		snprintf(err, errlen, "mapping %llu MiB of guest RAM: %s",
			 (unsigned long long)(mem_size >> 20), strerror(errno));
		return -1;
	}
	/* 2 MiB pages where the host allows them for shared memory
	 * (transparent_hugepage/shmem_enabled "advise" or "always"): a fault
	 * per 2 MiB of guest RAM instead of per 4 KiB, and fewer TLB misses.
	 * Advice only; a host without THP keeps 4 KiB pages. */
	(void)madvise(vm->mem, mem_size, MADV_HUGEPAGE);
	uint64_t low = guest_low_ram(mem_size), high = guest_high_ram(mem_size);
	if (add_slot(vm, 0, 0, low, vm->mem, err, errlen) < 0)
		return -1;
	if (high && add_slot(vm, 1, GUEST_HIGH_RAM, high, vm->mem + low, err, errlen) < 0)
		return -1;
	return get_cpuid(vm, err, errlen);
}

void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t low = guest_low_ram(vm->mem_size), high = guest_high_ram(vm->mem_size);
	if (gpa < low && len <= low - gpa)
		return vm->mem + gpa;
	if (gpa >= GUEST_HIGH_RAM && gpa - GUEST_HIGH_RAM < high &&
	    len <= high - (gpa - GUEST_HIGH_RAM))
		return vm->mem + low + (gpa - GUEST_HIGH_RAM);
	return NULL;
}
