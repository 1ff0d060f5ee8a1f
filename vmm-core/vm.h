/* The VM as the core holds it: KVM fds, guest RAM, vCPUs, and where each
 * port or MMIO range goes. */
#ifndef CELLVM_VMM_CORE_VM_H
#define CELLVM_VMM_CORE_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ipc/control.h"
#include "ipc/exit_ring.h"
#include "vmm-core/layout.h"
#include "vmm-core/msix.h"
#include "vmm-core/pci.h"
#include "vmm-core/pm1.h"

#define VM_MAX_DEVICES 32
#define VM_MAX_RANGES 64

struct vm_device {
	char name[48];
	struct ring_set rings;
};

/* One port or MMIO range and the device behind it. */
struct vm_range {
	uint8_t kind; /* RING_PIO or RING_MMIO */
	uint64_t base, size;
	unsigned device;
};

#define VM_MAX_IOEVENTFDS 32

/* A guest write that KVM turns into an eventfd signal while its BAR is
 * mapped. */
struct vm_ioeventfd {
	unsigned bar;
	uint64_t offset;
	uint32_t size;
	int fd;
	bool assigned; /* registered with KVM at addr */
	uint64_t addr;
};

/* A device process's PCI function, beyond its configuration space. */
struct vm_pci_dev {
	bool present;
	unsigned device; /* vm->devices index */
	const volatile uint8_t *page;
	struct vm_ioeventfd ioev[VM_MAX_IOEVENTFDS];
	unsigned nioev;
	struct msix msix; /* under vm->irq_lock */
	int intx_fd, resample_fd;
};

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	struct ring_producer prod[VM_MAX_DEVICES];
};

struct vm {
	int kvm_fd, vm_fd;
	uint8_t *mem; /* all guest RAM, one mapping of the memfd */
	uint64_t mem_size;
	unsigned ncpus;
	size_t run_size;
	struct kvm_cpuid2 *cpuid; /* what KVM supports, before per-vCPU topology */

	struct vm_device devices[VM_MAX_DEVICES];
	unsigned ndevices;
	struct vm_range ranges[VM_MAX_RANGES];
	unsigned nranges;
	uint64_t ring_timeout_ns;

	struct vcpu *vcpus;

	/* vCPU threads wait here until the core is confined */
	pthread_mutex_t lock;
	pthread_cond_t start_cond;
	bool started;

	struct pci_bus pci; /* configuration space, under its own lock */
	struct vm_pci_dev pcidev[PCI_SLOTS];
	pthread_mutex_t cfg_lock; /* one configuration write to a device at a time */
	pthread_mutex_t irq_lock; /* MSI-X tables and the GSI routing */
	uint32_t next_gsi;	  /* for MSI-X vectors: 24 up */
	uint64_t pci_mmio_next;	  /* BAR placement at setup */
	uint32_t pci_io_next;

	/* pause and resume (pause.c), under lock: vCPUs hold in
	 * vcpu_pause_point while pause_requested; nheld counts them */
	bool pause_requested;
	unsigned nheld;
	pthread_cond_t pause_cond, held_cond;

	/* core-handled state, under lock */
	struct pm1_evt pm1;
	bool sci_asserted;
	uint8_t reset_reg;
	uint64_t unclaimed; /* accesses nobody claims */
	int control_fd;
};

/* Checks /dev/kvm and every capability used, creates the VM with its
 * in-kernel irqchip and PIT, and maps guest RAM.  0, or -1 with err. */
int vm_create(struct vm *vm, int kvm_fd, int mem_fd, uint64_t mem_size, unsigned ncpus,
	      char *err, size_t errlen);

/* Host address of guest physical [gpa, gpa+len), or NULL if not all RAM. */
void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len);

/* Creates vCPU `id` with CPUID topology, MSRs and LAPIC as at reset. */
int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id, char *err, size_t errlen);
/* The boot vCPU: 32-bit protected mode at the kernel's entry. */
int vcpu_set_boot_state(struct vcpu *v, uint64_t entry, uint64_t zero_page, uint64_t gdt,
			char *err, size_t errlen);
/* The vCPU thread: waits for vm_start, then runs the guest until the VM
 * stops. */
void *vcpu_loop(void *arg);
void vm_start(struct vm *vm);

/* PCI functions of device processes (pci_dev.c).  vm_pci_add: the
 * function a device declared, in SLOT, with FDS the fds of the message that
 * carried it.  0 or -1 with err. */
int vm_pci_add(struct vm *vm, unsigned device, unsigned slot, const Cellvm__PciFunction *p,
	       const int *fds, size_t nfds, char *err, size_t errlen);
/* The guest changed slot's command register or a BAR. */
void vm_pci_remap(struct vm *vm, unsigned slot);
/* The device applied a configuration write: pick up its MSI-X control. */
void vm_pci_config_written(struct vm *vm, unsigned slot);
/* An access to a device function's BAR: MSI-X here, the rest forwarded. */
uint64_t vm_pci_bar_access(struct vcpu *v, unsigned slot, unsigned bar, uint64_t off,
			   uint8_t size, bool write, uint64_t val);
/* Makes KVM's GSI routing and the MSI-X irqfds match the tables (irq_route.c).
 * Call with irq_lock held. */
void vm_irq_routes_commit(struct vm *vm);

/* The power button and the SCI (power.c).  vm_press_power_button takes
 * the lock; vm_sci_update wants it held (after a PM1 register write). */
void vm_press_power_button(struct vm *vm);
void vm_sci_update(struct vm *vm);

/* Pause and resume (pause.c).  vm_pause returns once every vCPU is out of
 * KVM_RUN and held; vm_resume lets them go.  vcpu_pause_point is where a
 * vCPU thread holds, before each KVM_RUN.  vm_pause_init installs the
 * signal that kicks a vCPU out of KVM_RUN (before any thread starts). */
int vm_pause_init(struct vm *vm, char *err, size_t errlen);
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
void vcpu_pause_point(struct vcpu *v);

/* Exit handling (exits.c). */
void vcpu_handle_io(struct vcpu *v);
void vcpu_handle_mmio(struct vcpu *v);

/* Ends the VM: tells the supervisor why, then exits the process.  Only the
 * first caller's reason counts. */
void vm_stop(struct vm *vm, int reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* vm_stop with an error that includes the vCPU's registers. */
void vcpu_fail(struct vcpu *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
