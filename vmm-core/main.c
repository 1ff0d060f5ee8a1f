/* cellvm-core: the vCPU core of one VM.  Started by the supervisor (never
 * by users) with its control socket as fd 3: takes a CoreSetup, builds the
 * VM, confines itself, says Ready, runs the vCPUs until the VM stops, and
 * reports why with a VmStopped message.  Meanwhile the supervisor may ask
 * for the power button, a pause and a resume. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/control.h"
#include "sandbox/policies.h"
#include "vmm-core/acpi.h"
#include "vmm-core/boot.h"
#include "vmm-core/vm.h"

#define DEFAULT_RING_TIMEOUT_MS 10000
#define MAX_KERNEL_BYTES (256u << 20)

static struct vm vm;
static int fds[CONTROL_MAX_FDS];
static size_t nfds;
static char err[512];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, sizeof(err), fmt, ap);
	va_end(ap);
	return -1;
}

static int setup_fd(int32_t index, const char *what)
{
	if (index < 0 || (size_t)index >= nfds)
		return fail("setup names fd %d for %s; %zu fds came with it", index, what, nfds);
	return fds[index];
}

/* Maps a whole file read-only; the supervisor opened it. */
static const uint8_t *map_file(int fd, size_t max, size_t *len, const char *what)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		fail("%s is not a non-empty regular file", what);
		return NULL;
	}
	if ((uint64_t)st.st_size > max) {
		fail("%s is %lld bytes, more than %zu", what, (long long)st.st_size, max);
		return NULL;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		fail("mapping %s: %s", what, strerror(errno));
		return NULL;
	}
	*len = (size_t)st.st_size;
	return p;
}

static int add_device(const Cellvm__CoreDevice *cd, struct acpi_config *acpi)
{
	if (vm.ndevices >= VM_MAX_DEVICES)
		return fail("more than %d devices", VM_MAX_DEVICES);
	struct vm_device *d = &vm.devices[vm.ndevices];
	snprintf(d->name, sizeof(d->name), "%s", cd->name);
	const Cellvm__Rings *r = cd->rings;
	if (!r)
		return fail("device %s has no rings", d->name);
	int memfd = setup_fd(r->memfd, "rings"), bell = setup_fd(r->doorbell_fd, "a doorbell");
	if (memfd < 0 || bell < 0)
		return -1;
	if (r->count != vm.ncpus)
		return fail("device %s has %u rings for %u vCPUs", d->name, r->count, vm.ncpus);
	char rerr[160];
	if (ring_set_map(&d->rings, memfd, r->count, r->entries, bell, rerr, sizeof(rerr)) < 0)
		return fail("device %s: %s", d->name, rerr);
	for (size_t i = 0; i < cd->n_ranges; i++) {
		const Cellvm__AddrRange *ar = cd->ranges[i];
		bool pio = ar->kind == CELLVM__ADDR_RANGE__KIND__PIO;
		uint64_t limit = pio ? 0x10000 : UINT64_MAX;
		if (vm.nranges >= VM_MAX_RANGES)
			return fail("more than %d address ranges", VM_MAX_RANGES);
		if (!pio && ar->kind != CELLVM__ADDR_RANGE__KIND__MMIO)
			return fail("device %s: range of unknown kind", d->name);
		if (ar->size == 0 || ar->addr > limit || ar->size > limit - ar->addr)
			return fail("device %s: range 0x%llx+0x%llx out of bounds", d->name,
				    (unsigned long long)ar->addr, (unsigned long long)ar->size);
		vm.ranges[vm.nranges++] = (struct vm_range){
			.kind = pio ? RING_PIO : RING_MMIO,
			.base = ar->addr,
			.size = ar->size,
			.device = vm.ndevices,
		};
	}
	for (size_t i = 0; i < cd->n_irqs; i++) {
		int fd = setup_fd(cd->irqs[i]->fd, "an irq eventfd");
		if (fd < 0)
			return -1;
		struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = cd->irqs[i]->gsi};
		if (cd->irqs[i]->gsi >= 24)
			return fail("device %s: GSI %u beyond the IOAPIC's 24", d->name,
				    cd->irqs[i]->gsi);
		if (ioctl(vm.vm_fd, KVM_IRQFD, &irqfd) < 0)
			return fail("device %s: KVM_IRQFD(GSI %u): %s", d->name, irqfd.gsi,
				    strerror(errno));
	}
	if (cd->pci && vm_pci_add(&vm, vm.ndevices, cd->pci_slot, cd->pci, fds, nfds, err,
				  sizeof(err)) < 0) {
		char why[sizeof(err)];
		snprintf(why, sizeof(why), "%s", err);
		return fail("device %s: %s", d->name, why);
	}
	if (strcmp(cd->model, "uart") == 0 && acpi->ncom < 4 && cd->n_ranges && cd->n_irqs)
		acpi->com[acpi->ncom++] = (struct acpi_com){
			.port = (uint16_t)cd->ranges[0]->addr,
			.irq = (uint8_t)cd->irqs[0]->gsi,
		};
	vm.ndevices++;
	return 0;
}

static int load_guest(const Cellvm__CoreSetup *s, const struct acpi_config *acpi)
{
	int kfd = setup_fd(s->kernel_fd, "the kernel");
	if (kfd < 0)
		return -1;
	size_t klen, ilen = 0;
	const uint8_t *kernel = map_file(kfd, MAX_KERNEL_BYTES, &klen, "the kernel"), *initrd = NULL;
	if (!kernel)
		return -1;
	if (s->initrd_fd >= 0) {
		int ifd = setup_fd(s->initrd_fd, "the initrd");
		if (ifd < 0 || !(initrd = map_file(ifd, vm.mem_size, &ilen, "the initrd")))
			return -1;
	}
	uint8_t *tables = vm_gpa(&vm, GUEST_ACPI_ADDR, GUEST_ACPI_MAX);
	if (!tables)
		return fail("guest RAM does not cover the ACPI area");
	char aerr[200];
	if (acpi_build(tables, GUEST_ACPI_ADDR, GUEST_ACPI_MAX, acpi, aerr, sizeof(aerr)) < 0)
		return fail("ACPI tables: %s", aerr);
	struct boot_input in = {
		.kernel = kernel,
		.kernel_len = klen,
		.initrd = initrd,
		.initrd_len = ilen,
		.cmdline = s->cmdline,
		.mem_size = vm.mem_size,
		.rsdp_addr = GUEST_ACPI_ADDR,
	};
	struct boot_entry be;
	char berr[200];
	int rc = boot_load_linux(vm.mem, &in, &be, berr, sizeof(berr));
	munmap((void *)kernel, klen);
	if (initrd)
		munmap((void *)initrd, ilen);
	if (rc < 0)
		return fail("%s", berr);
	return vcpu_set_boot_state(&vm.vcpus[0], be.entry, be.zero_page, be.gdt, err,
				   sizeof(err));
}

static int build_vm(const ControlMsg *m)
{
	if (m->msg_case != CELLVM__CONTROL__MSG_CORE_SETUP)
		return fail("expected a core setup message, got %s", control_msg_name(m->msg_case));
	const Cellvm__CoreSetup *s = m->core_setup;
	if (s->cpus < 1 || s->cpus > GUEST_MAX_CPUS)
		return fail("%u vCPUs: 1 to %d", s->cpus, GUEST_MAX_CPUS);
	if (s->memory_size < GUEST_MIN_MEMORY || s->memory_size > GUEST_MAX_MEMORY ||
	    s->memory_size % 4096)
		return fail("guest RAM of %llu bytes", (unsigned long long)s->memory_size);
	int kvm = setup_fd(s->kvm_fd, "/dev/kvm"), mem = setup_fd(s->memory_fd, "guest RAM");
	if (kvm < 0 || mem < 0)
		return -1;
	struct stat st;
	if (fstat(mem, &st) < 0 || (uint64_t)st.st_size != s->memory_size)
		return fail("guest RAM memfd is not %llu bytes",
			    (unsigned long long)s->memory_size);
	vm.ring_timeout_ns = (s->ring_timeout_ms ? s->ring_timeout_ms : DEFAULT_RING_TIMEOUT_MS) *
			     1000000ull;
	if (vm_create(&vm, kvm, mem, s->memory_size, s->cpus, err, sizeof(err)) < 0)
		return -1;
	struct acpi_config acpi = {.ncpus = s->cpus};
	for (size_t i = 0; i < s->n_devices; i++)
		if (add_device(s->devices[i], &acpi) < 0)
			return -1;
	vm.vcpus = calloc(s->cpus, sizeof(*vm.vcpus));
	if (!vm.vcpus)
		return fail("out of memory");
	for (unsigned i = 0; i < s->cpus; i++)
		if (vcpu_create(&vm, &vm.vcpus[i], i, err, sizeof(err)) < 0)
			return -1;
	return load_guest(s, &acpi);
}

/* Everything the running VM still needs; the rest is closed by the sandbox. */
static int confine(bool sandbox)
{
	if (!sandbox) {
		sandbox_warn_disabled("cellvm-core");
		return 0;
	}
	int keep[3 + GUEST_MAX_CPUS + VM_MAX_DEVICES +
		 PCI_SLOTS * (2 + VM_MAX_IOEVENTFDS + MSIX_MAX_VECTORS)];
	size_t n = 0;
	keep[n++] = vm.control_fd;
	keep[n++] = vm.kvm_fd;
	keep[n++] = vm.vm_fd;
	for (unsigned i = 0; i < vm.ncpus; i++)
		keep[n++] = vm.vcpus[i].fd;
	for (unsigned i = 0; i < vm.ndevices; i++)
		keep[n++] = vm.devices[i].rings.doorbell_fd;
	/* A BAR that moves takes its ioeventfds along; a vector that is masked
	 * and unmasked takes its irqfd off and back. */
	for (unsigned s = 0; s < PCI_SLOTS; s++) {
		const struct vm_pci_dev *pd = &vm.pcidev[s];
		for (unsigned i = 0; pd->present && i < pd->nioev; i++)
			keep[n++] = pd->ioev[i].fd;
		for (unsigned i = 0; pd->present && i < pd->msix.nvec; i++)
			keep[n++] = pd->msix.vec[i].fd;
	}
	struct sandbox_opts o = {
		.keep_fds = keep,
		.nkeep = n,
		.max_memory = vm.mem_size + (4ull << 30),
	};
	return sandbox_enter(&sandbox_policy_core, &o, err, sizeof(err));
}

static void send_ready(void)
{
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Ready r = CELLVM__READY__INIT;
	r.pid = (uint32_t)getpid();
	r.namespaces = "";
	m.msg_case = CELLVM__CONTROL__MSG_READY;
	m.ready = &r;
	control_send(vm.control_fd, &m, NULL, 0);
}

static void send_paused(bool paused)
{
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Paused p = CELLVM__PAUSED__INIT;
	p.paused = paused;
	m.msg_case = CELLVM__CONTROL__MSG_PAUSED;
	m.paused = &p;
	control_send(vm.control_fd, &m, NULL, 0);
}

/* What the supervisor asks of a running VM. */
static void handle_request(Cellvm__Control__MsgCase which)
{
	switch (which) {
	case CELLVM__CONTROL__MSG_POWER_BUTTON:
		vm_press_power_button(&vm);
		break;
	case CELLVM__CONTROL__MSG_PAUSE:
		vm_pause(&vm);
		send_paused(true);
		break;
	case CELLVM__CONTROL__MSG_RESUME:
		vm_resume(&vm);
		send_paused(false);
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	bool sandbox = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-sandbox") == 0) {
			sandbox = false;
		} else {
			fprintf(stderr, "usage: cellvm-core [--no-sandbox]\n"
					"The vCPU core of one VM, started by cellvm with its control\n"
					"socket as fd 3; not meant to be run by hand.\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	vm.control_fd = SANDBOX_CONTROL_FD;
	ControlMsg *m;
	char rerr[200];
	if (control_recv(vm.control_fd, &m, fds, &nfds, CONTROL_MAX_FDS, rerr, sizeof(rerr)) < 0) {
		fprintf(stderr, "cellvm-core: waiting for setup: %s\n", rerr);
		return 2;
	}
	int rc = build_vm(m);
	control_free(m);
	if (rc == 0)
		rc = vm_pause_init(&vm, err, sizeof(err));
	for (unsigned i = 0; rc == 0 && i < vm.ncpus; i++)
		if (sandbox_thread_start(&vm.vcpus[i].thread, vcpu_loop, &vm.vcpus[i]) != 0)
			rc = fail("cannot start vCPU thread %u", i);
	if (rc == 0)
		rc = confine(sandbox);
	if (rc < 0) {
		if (control_send_error(vm.control_fd, "%s", err) < 0)
			fprintf(stderr, "cellvm-core: %s\n", err);
		return 2;
	}
	send_ready();
	vm_start(&vm);
	/* The main thread waits for the supervisor: a shutdown request or the
	 * channel closing both end the VM at once. */
	for (;;) {
		struct pollfd p = {.fd = vm.control_fd, .events = POLLIN};
		if (poll(&p, 1, -1) < 0)
			continue;
		int got[4];
		size_t ngot;
		rc = control_recv(vm.control_fd, &m, got, &ngot, 0, rerr, sizeof(rerr));
		if (rc == -ECONNRESET)
			_exit(0);
		if (rc == 0) {
			bool stop = m->msg_case == CELLVM__CONTROL__MSG_SHUTDOWN;
			handle_request(m->msg_case);
			control_free(m);
			if (stop)
				_exit(0);
		}
	}
}
