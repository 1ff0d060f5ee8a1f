/* Supervising one VM: make its resources, start the device processes and
 * the vCPU core with only their fds, watch them all with libevent, and end
 * (or restart) the VM when the core reports, a process dies, or a signal
 * arrives. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/uart/uart_host.h"
#include "tools/cellvm/disks.h"
#include "tools/cellvm/nets.h"
#include "tools/cellvm/supervisor.h"
#include "tools/common/devhost.h"
#include "vmm-core/layout.h"

enum outcome { RUNNING, POWEROFF, REBOOT, FAILED, STOPPED };

struct vmrun {
	const struct vm_config *cfg;
	struct event_base *base;
	struct devhost core;
	struct devhost uarts[VM_MAX_SERIAL];
	unsigned nuarts;
	struct devhost disks[VM_MAX_DISK_DEVICES];
	unsigned ndisks;
	struct devhost nets[VM_MAX_NETS];
	unsigned nnets;
	/* the adapters' backends: opened once, kept across reboots, closed
	 * (a bridge's TAP deleted) on every way out of supervise */
	struct net_backend backends[VM_MAX_NETS];
	unsigned nbackends;
	/* every device process: the uarts, the disks, then the nets (PCI
	 * slots go in this order) */
	struct devhost *dev[VM_MAX_SERIAL + VM_MAX_DISK_DEVICES + VM_MAX_NETS];
	unsigned ndev;
	int mem_fd, kvm_fd, kernel_fd, initrd_fd;
	enum outcome outcome;
	struct event *events[5 + VM_MAX_SERIAL + VM_MAX_DISK_DEVICES + VM_MAX_NETS];
	unsigned nevents;
};

#define MAX_DEVICES (VM_MAX_SERIAL + VM_MAX_DISK_DEVICES + VM_MAX_NETS)

static void finish(struct vmrun *r, enum outcome o)
{
	if (r->outcome == RUNNING)
		r->outcome = o;
	event_base_loopbreak(r->base);
}

static int guest_memory(uint64_t size)
{
	int fd = memfd_create("cellvm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int start_uarts(struct vmrun *r)
{
	const struct vm_config *cfg = r->cfg;
	char bin[4200];
	snprintf(bin, sizeof(bin), "%s/cellvm-dev-uart", cfg->bin_dir);
	for (unsigned i = 0; i < cfg->nserial; i++) {
		struct devhost *h = &r->uarts[i];
		const struct uart_port_info *com = &uart_com_ports[i];
		devhost_init(h, "uart", com->name);
		h->nrings = cfg->cpus;
		if (devhost_add_range(h, CELLVM__ADDR_RANGE__KIND__PIO, com->port, 8) < 0 ||
		    devhost_add_irq(h, com->irq) < 0 || uart_host_backend(h, cfg->serial[i]) < 0 ||
		    devhost_start(h, bin, cfg->sandbox) < 0) {
			fprintf(stderr, "cellvm: %s: %s\n", com->name, h->err);
			r->nuarts = i + 1;
			return -1;
		}
		r->nuarts = i + 1;
	}
	return 0;
}

/* Every device process, before the core: the core's setup carries what
 * they declared. */
static int start_devices(struct vmrun *r)
{
	int rc = start_uarts(r);
	for (unsigned i = 0; i < r->nuarts; i++)
		r->dev[r->ndev++] = &r->uarts[i];
	if (rc < 0)
		return -1;
	rc = disks_start(r->cfg, r->mem_fd, r->disks, &r->ndisks);
	for (unsigned i = 0; i < r->ndisks; i++)
		r->dev[r->ndev++] = &r->disks[i];
	if (rc < 0) {
		fprintf(stderr, "cellvm: %s\n", r->disks[r->ndisks - 1].err);
		return -1;
	}
	rc = nets_start(r->cfg, r->mem_fd, r->backends, r->nets, &r->nnets);
	for (unsigned i = 0; i < r->nnets; i++)
		r->dev[r->ndev++] = &r->nets[i];
	if (rc < 0) {
		fprintf(stderr, "cellvm: %s\n", r->nets[r->nnets - 1].err);
		return -1;
	}
	return 0;
}

/* Adds fd to the list sent with the core's setup; returns its index. */
static int32_t pass(int *fds, size_t *n, int fd)
{
	fds[*n] = fd;
	return (int32_t)(*n)++;
}

static int send_core_setup(struct vmrun *r)
{
	const struct vm_config *cfg = r->cfg;
	int fds[CONTROL_MAX_FDS];
	size_t nfds = 0;
	Cellvm__CoreSetup s = CELLVM__CORE_SETUP__INIT;
	s.kvm_fd = pass(fds, &nfds, r->kvm_fd);
	s.memory_fd = pass(fds, &nfds, r->mem_fd);
	s.memory_size = cfg->memory;
	s.cpus = cfg->cpus;
	s.kernel_fd = pass(fds, &nfds, r->kernel_fd);
	s.initrd_fd = r->initrd_fd < 0 ? -1 : pass(fds, &nfds, r->initrd_fd);
	s.cmdline = (char *)cfg->cmdline;

	static Cellvm__CoreDevice devs[MAX_DEVICES], *devp[MAX_DEVICES];
	static Cellvm__Rings rings[MAX_DEVICES];
	static Cellvm__AddrRange *ranges[MAX_DEVICES][DEVICE_MAX_RANGES];
	static Cellvm__IrqLine irqs[MAX_DEVICES][DEVICE_MAX_IRQS], *irqp[MAX_DEVICES][DEVICE_MAX_IRQS];
	static Cellvm__PciFunction pci[MAX_DEVICES];
	static Cellvm__Ioeventfd io[MAX_DEVICES][DEVICE_PCI_MAX_IOEVENTFDS];
	static Cellvm__Ioeventfd *iop[MAX_DEVICES][DEVICE_PCI_MAX_IOEVENTFDS];
	static int32_t msix[MAX_DEVICES][DEVICE_PCI_MAX_MSIX];
	unsigned slot = 1;
	for (unsigned i = 0; i < r->ndev; i++) {
		struct devhost *h = r->dev[i];
		cellvm__core_device__init(&devs[i]);
		cellvm__rings__init(&rings[i]);
		devs[i].name = h->label;
		devs[i].model = h->model;
		if (nfds + 2 > CONTROL_MAX_FDS) {
			fprintf(stderr, "cellvm: more devices than one setup message carries\n");
			return -1;
		}
		rings[i].memfd = pass(fds, &nfds, h->ring_memfd);
		rings[i].count = h->nrings;
		rings[i].entries = h->entries;
		rings[i].doorbell_fd = pass(fds, &nfds, h->doorbell_fd);
		devs[i].rings = &rings[i];
		for (size_t k = 0; k < h->nranges; k++)
			ranges[i][k] = &h->ranges[k];
		devs[i].n_ranges = h->nranges;
		devs[i].ranges = ranges[i];
		for (size_t k = 0; k < h->nirqs; k++) {
			cellvm__irq_line__init(&irqs[i][k]);
			irqs[i][k].gsi = h->irq_gsi[k];
			irqs[i][k].fd = pass(fds, &nfds, h->irq_fds[k]);
			irqs[i][k].resample_fd = -1;
			irqp[i][k] = &irqs[i][k];
		}
		devs[i].n_irqs = h->nirqs;
		devs[i].irqs = irqp[i];
		if (h->ready) {
			if (devhost_pci_for_core(h, &pci[i], io[i], iop[i], DEVICE_PCI_MAX_IOEVENTFDS,
						 msix[i], DEVICE_PCI_MAX_MSIX, fds, &nfds,
						 CONTROL_MAX_FDS) < 0) {
				fprintf(stderr, "cellvm: %s\n", h->err);
				return -1;
			}
			devs[i].pci = &pci[i];
			devs[i].pci_slot = slot++;
		}
		devp[i] = &devs[i];
	}
	s.n_devices = r->ndev;
	s.devices = devp;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_CORE_SETUP;
	m.core_setup = &s;
	int rc = control_send(r->core.control_fd, &m, fds, nfds);
	if (rc < 0)
		fprintf(stderr, "cellvm: sending the core its setup: %s\n", strerror(-rc));
	return rc;
}

static int start_core(struct vmrun *r)
{
	char bin[4200];
	snprintf(bin, sizeof(bin), "%s/cellvm-core", r->cfg->bin_dir);
	devhost_init(&r->core, "core", "vm");
	snprintf(r->core.label, sizeof(r->core.label), "cellvm-core");
	if (devhost_spawn(&r->core, bin, r->cfg->sandbox) < 0 || send_core_setup(r) < 0 ||
	    devhost_wait_ready(&r->core) < 0) {
		if (r->core.err[0])
			fprintf(stderr, "cellvm: %s\n", r->core.err);
		return -1;
	}
	return 0;
}

static void print_message(struct devhost *h, const ControlMsg *m)
{
	if (m->msg_case == CELLVM__CONTROL__MSG_LOG) {
		if (m->log->level != CELLVM__LOG__LEVEL__DEBUG || getenv("CELLVM_DEBUG"))
			fprintf(stderr, "%s: %s\n", h->label, m->log->text);
	} else if (m->msg_case == CELLVM__CONTROL__MSG_ERROR) {
		fprintf(stderr, "%s: error: %s\n", h->label, m->error->text);
	}
}

static void on_core_message(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct vmrun *r = arg;
	ControlMsg *m;
	int fds[1];
	size_t nfds;
	char err[200];
	if (control_recv(r->core.control_fd, &m, fds, &nfds, 0, err, sizeof(err)) < 0) {
		/* The core is gone; SIGCHLD says how. */
		return;
	}
	if (m->msg_case == CELLVM__CONTROL__MSG_VM_STOPPED) {
		const Cellvm__VmStopped *st = m->vm_stopped;
		switch (st->reason) {
		case CELLVM__VM_STOPPED__REASON__POWEROFF:
			fprintf(stderr, "cellvm: the guest powered off\n");
			finish(r, POWEROFF);
			break;
		case CELLVM__VM_STOPPED__REASON__REBOOT:
			fprintf(stderr, "cellvm: the guest rebooted (%s)\n", st->text);
			finish(r, REBOOT);
			break;
		default:
			fprintf(stderr, "cellvm: the VM failed: %s\n", st->text);
			finish(r, FAILED);
		}
	} else {
		print_message(&r->core, m);
	}
	control_free(m);
}

static void on_device_message(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct vmrun *r = arg;
	for (unsigned i = 0; i < r->ndev; i++) {
		struct devhost *h = r->dev[i];
		if (h->control_fd != fd)
			continue;
		ControlMsg *m;
		int fds[1];
		size_t nfds;
		char err[200];
		if (control_recv(fd, &m, fds, &nfds, 0, err, sizeof(err)) < 0)
			return; /* SIGCHLD will say how it ended */
		print_message(h, m);
		control_free(m);
	}
}

/* A child ended: the core after reporting, or anything unexpectedly. */
static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct vmrun *r = arg;
	char how[600];
	for (unsigned i = 0; i < r->ndev; i++) {
		struct devhost *h = r->dev[i];
		if (!h->exited && devhost_reap(h, 0)) {
			devhost_describe_end(h, how, sizeof(how));
			fprintf(stderr, "cellvm: %s; stopping the VM\n", how);
			finish(r, FAILED);
		}
	}
	if (!r->core.exited && devhost_reap(&r->core, 0)) {
		/* Its VmStopped message, if any, may still be unread. */
		on_core_message(r->core.control_fd, EV_READ, r);
		if (r->outcome == RUNNING) {
			devhost_describe_end(&r->core, how, sizeof(how));
			fprintf(stderr, "cellvm: %s; stopping the VM\n", how);
			finish(r, FAILED);
		}
	}
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct vmrun *r = arg;
	fprintf(stderr, "cellvm: %s: stopping the VM\n", strsignal((int)sig));
	finish(r, STOPPED);
}

static int watch(struct vmrun *r, evutil_socket_t fd, short what, event_callback_fn cb)
{
	struct event *ev = event_new(r->base, fd, what, cb, r);
	if (!ev || event_add(ev, NULL) < 0)
		return -1;
	r->events[r->nevents++] = ev;
	return 0;
}

static void teardown(struct vmrun *r)
{
	for (unsigned i = 0; i < r->nevents; i++)
		event_free(r->events[i]);
	r->nevents = 0;
	if (r->core.pid > 0) {
		if (!r->core.exited)
			kill(r->core.pid, SIGKILL);
		devhost_reap(&r->core, 2000);
		devhost_stop(&r->core);
	}
	for (unsigned i = 0; i < r->ndev; i++)
		devhost_stop(r->dev[i]);
	r->nuarts = r->ndisks = r->nnets = r->ndev = 0;
	int *fds[] = {&r->mem_fd, &r->kvm_fd, &r->kernel_fd, &r->initrd_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static int open_inputs(struct vmrun *r)
{
	const struct vm_config *cfg = r->cfg;
	r->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (r->kvm_fd < 0) {
		fprintf(stderr, "cellvm: /dev/kvm: %s%s\n", strerror(errno),
			errno == ENOENT ? " (no KVM here; tools/kvmhost/run gives one)" : "");
		return -1;
	}
	r->mem_fd = guest_memory(cfg->memory);
	if (r->mem_fd < 0) {
		fprintf(stderr, "cellvm: guest RAM: %s\n", strerror(errno));
		return -1;
	}
	r->kernel_fd = open(cfg->kernel, O_RDONLY | O_CLOEXEC);
	if (r->kernel_fd < 0) {
		fprintf(stderr, "cellvm: %s: %s\n", cfg->kernel, strerror(errno));
		return -1;
	}
	if (cfg->initrd && (r->initrd_fd = open(cfg->initrd, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "cellvm: %s: %s\n", cfg->initrd, strerror(errno));
		return -1;
	}
	return 0;
}

/* One boot of the VM, from nothing to its end. */
static enum outcome run_once(struct vmrun *r)
{
	r->outcome = RUNNING;
	r->mem_fd = r->kvm_fd = r->kernel_fd = r->initrd_fd = -1;
	memset(&r->core, 0, sizeof(r->core));
	r->core.pid = -1;
	r->core.control_fd = -1;
	if (open_inputs(r) < 0 || start_devices(r) < 0 || start_core(r) < 0) {
		teardown(r);
		return FAILED;
	}
	if (watch(r, r->core.control_fd, EV_READ | EV_PERSIST, on_core_message) < 0)
		r->outcome = FAILED;
	for (unsigned i = 0; i < r->ndev; i++)
		if (watch(r, r->dev[i]->control_fd, EV_READ | EV_PERSIST, on_device_message) < 0)
			r->outcome = FAILED;
	if (watch(r, SIGCHLD, EV_SIGNAL | EV_PERSIST, on_sigchld) < 0 ||
	    watch(r, SIGINT, EV_SIGNAL | EV_PERSIST, on_stop_signal) < 0 ||
	    watch(r, SIGTERM, EV_SIGNAL | EV_PERSIST, on_stop_signal) < 0 ||
	    watch(r, SIGHUP, EV_SIGNAL | EV_PERSIST, on_stop_signal) < 0)
		r->outcome = FAILED;
	if (r->outcome == RUNNING) {
		on_sigchld(SIGCHLD, EV_SIGNAL, r); /* a child that died before we watched */
		if (r->outcome == RUNNING)
			event_base_dispatch(r->base);
	}
	enum outcome o = r->outcome;
	teardown(r);
	return o;
}

int supervise(const struct vm_config *cfg)
{
	struct vmrun r = {.cfg = cfg};
	/* Children die with us (PR_SET_PDEATHSIG in sandbox_spawn); make sure
	 * an orphaned grandchild would be ours to reap, too. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	if (!r.base) {
		fprintf(stderr, "cellvm: libevent: cannot create an event base\n");
		return 1;
	}
	char err[640];
	int rc = nets_open(cfg, r.backends, &r.nbackends, err, sizeof(err));
	if (rc != 0) {
		if (rc == NETS_STOPPED)
			fprintf(stderr, "cellvm: %s: stopping the VM\n", err);
		else
			fprintf(stderr, "cellvm: %s\n", err);
		nets_close(r.backends, &r.nbackends);
		event_base_free(r.base);
		/* A backend that cannot be had is a bad option: nothing ran. */
		return rc == NETS_STOPPED ? 0 : 2;
	}
	for (;;) {
		enum outcome o = run_once(&r);
		if (o == REBOOT && cfg->restart_on_reboot) {
			fprintf(stderr, "cellvm: restarting the VM\n");
			continue;
		}
		nets_close(r.backends, &r.nbackends);
		event_base_free(r.base);
		return o == POWEROFF || o == REBOOT || o == STOPPED ? 0 : 1;
	}
}
