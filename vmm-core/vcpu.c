/* vCPUs: creation with the CPUID of vmm-core/cpuid.c, reset-like MSR and
 * LAPIC state, the boot state for the 32-bit Linux entry, and the run loop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ipc/control.h"
#include "vmm-core/cpuid.h"
#include "vmm-core/vm.h"

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING 0x1
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_DELIVERY_EXTINT 0x700
#define LAPIC_DELIVERY_NMI 0x400

static int set_cpuid(struct vm *vm, struct vcpu *v, char *err, size_t errlen)
{
	struct kvm_cpuid2 *c = cpuid_for_vcpu(vm->cpuid, v->id, vm->ncpus);
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (rc < 0) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_CPUID2: %s", v->id, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_msrs_lapic_fpu(struct vcpu *v, char *err, size_t errlen)
{
	/* struct kvm_msrs ends in a flexible array: one entry after it. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = 1;
	msrs.hdr.entries[0].index = MSR_IA32_MISC_ENABLE;
	msrs.hdr.entries[0].data = MISC_ENABLE_FAST_STRING;
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs) != 1) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_MSRS: %s", v->id, strerror(errno));
		return -1;
	}
	/* Virtual-wire mode on the boot vCPU, as firmware leaves it: PIC
	 * interrupts through LINT0, NMI through LINT1.  The others keep their
	 * reset state (LVTs masked): an AP with LINT0 open could take a PIC
	 * interrupt while it is being brought up, before it has an IDT. */
	if (v->id == 0) {
		struct kvm_lapic_state lapic;
		if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0) {
			snprintf(err, errlen, "vCPU %u: KVM_GET_LAPIC: %s", v->id,
				 strerror(errno));
			return -1;
		}
		uint32_t lint0 = LAPIC_DELIVERY_EXTINT, lint1 = LAPIC_DELIVERY_NMI;
		memcpy(&lapic.regs[LAPIC_LVT_LINT0], &lint0, 4);
		memcpy(&lapic.regs[LAPIC_LVT_LINT1], &lint1, 4);
		if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0) {
			snprintf(err, errlen, "vCPU %u: KVM_SET_LAPIC: %s", v->id,
				 strerror(errno));
			return -1;
		}
	}
	struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		snprintf(err, errlen, "vCPU %u: KVM_SET_FPU: %s", v->id, strerror(errno));
		return -1;
	}
	return 0;
}

int vcpu_create(struct vm *vm, struct vcpu *v, unsigned id, char *err, size_t errlen)
{
	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -1;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		snprintf(err, errlen, "vCPU %u: mmap kvm_run: %s", id, strerror(errno));
		return -1;
	}
	if (set_cpuid(vm, v, err, errlen) < 0 || set_msrs_lapic_fpu(v, err, errlen) < 0)
		return -1;
	for (unsigned d = 0; d < vm->ndevices; d++) {
		ring_producer_init(&v->prod[d], &vm->devices[d].rings, id, vm->ring_timeout_ns);
	}
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.l = 0,
		.g = 1,
	};
}

int vcpu_set_boot_state(struct vcpu *v, uint64_t entry, uint64_t zero_page, uint64_t gdt,
			char *err, size_t errlen)
{
	struct kvm_sregs sr;
	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	flat_segment(&sr.cs, 0x10, 0xb); /* execute/read, accessed */
	flat_segment(&sr.ds, 0x18, 0x3); /* read/write, accessed */
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.gdt.base = gdt;
	sr.gdt.limit = 4 * 8 - 1;
	sr.idt.base = 0;
	sr.idt.limit = 0;
	sr.cr0 = 0x11; /* PE, ET; paging off */
	sr.cr4 = 0;
	sr.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	struct kvm_regs r = {
		.rip = entry,
		.rsi = zero_page,
		.rflags = 0x2, /* interrupts off */
	};
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void vm_stop(struct vm *vm, int reason, const char *fmt, ...)
{
	static int stopping;
	if (__atomic_exchange_n(&stopping, 1, __ATOMIC_SEQ_CST))
		for (;;)
			pause(); /* another vCPU is ending the VM */
	char text[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__VmStopped st = CELLVM__VM_STOPPED__INIT;
	st.reason = reason;
	st.text = text;
	m.msg_case = CELLVM__CONTROL__MSG_VM_STOPPED;
	m.vm_stopped = &st;
	if (control_send(vm->control_fd, &m, NULL, 0) < 0)
		fprintf(stderr, "cellvm-core: VM stopped: %s\n", text);
	_exit(reason == CELLVM__VM_STOPPED__REASON__ERROR ? 1 : 0);
}

void vcpu_fail(struct vcpu *v, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	struct kvm_regs r;
	struct kvm_sregs s;
	char regs[1024] = "registers unavailable";
	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0 && ioctl(v->fd, KVM_GET_SREGS, &s) == 0)
		snprintf(regs, sizeof(regs),
			 "rip=%016llx rsp=%016llx rflags=%08llx\n"
			 "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
			 "  rsi=%016llx rdi=%016llx rbp=%016llx\n"
			 "  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n"
			 "  cs=%04x base=%llx ss=%04x",
			 r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
			 s.cr0, s.cr2, s.cr3, s.cr4, s.efer, s.cs.selector, s.cs.base,
			 s.ss.selector);
	vm_stop(v->vm, CELLVM__VM_STOPPED__REASON__ERROR, "vCPU %u: %s\n  %s", v->id, what,
		regs);
}

void vm_start(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->started = true;
	pthread_cond_broadcast(&vm->start_cond);
	pthread_mutex_unlock(&vm->lock);
}

void *vcpu_loop(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	pthread_mutex_lock(&vm->lock);
	while (!vm->started)
		pthread_cond_wait(&vm->start_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	for (;;) {
		vcpu_pause_point(v);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vcpu_fail(v, "KVM_RUN: %s", strerror(errno));
		}
		struct kvm_run *run = v->run;
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			vcpu_handle_io(v);
			break;
		case KVM_EXIT_MMIO:
			vcpu_handle_mmio(v);
			break;
		case KVM_EXIT_HLT:
		case KVM_EXIT_INTR:
		case KVM_EXIT_IRQ_WINDOW_OPEN:
			break;
		case KVM_EXIT_SHUTDOWN:
			vcpu_fail(v, "triple fault (KVM_EXIT_SHUTDOWN)");
		case KVM_EXIT_FAIL_ENTRY:
			vcpu_fail(v, "VM entry failed, reason 0x%llx",
				  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		case KVM_EXIT_INTERNAL_ERROR:
			vcpu_fail(v, "KVM internal error, suberror %u", run->internal.suberror);
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				vm_stop(vm, CELLVM__VM_STOPPED__REASON__POWEROFF, "power off");
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vm_stop(vm, CELLVM__VM_STOPPED__REASON__REBOOT, "reset");
			vcpu_fail(v, "system event %u", run->system_event.type);
		default:
			vcpu_fail(v, "unexpected KVM exit %u", run->exit_reason);
		}
	}
}
