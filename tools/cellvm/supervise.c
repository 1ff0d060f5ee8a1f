/* Supervising one VM: make its resources, start the device processes and
 * the vCPU core with only their fds, watch them all with libevent, and end
 * (or restart) the VM when the core reports, a process dies, or a signal
 * arrives. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "devices/uart/uart_host.h"
#include "tools/cellvm/console_tee.h"
#include "tools/cellvm/control_server.h"
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
	/* kept across reboots: console relays (console: serial ports) and
	 * the control socket */
	struct console_tee tees[VM_MAX_SERIAL];
	bool has_tee[VM_MAX_SERIAL];
	struct control_server control;
	bool has_control;
	bool paused, pause_answered;
	unsigned boots;
	struct timespec started;
	char uuid[37];
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

/* A console: port's backend is our end of a new connection (the relay). */
static int uart_backend(struct vmrun *r, unsigned i, struct devhost *h)
{
	if (!r->has_tee[i])
		return uart_host_backend(h, r->cfg->serial[i]);
	int fd;
	if (console_tee_attach(&r->tees[i], &fd, h->err, sizeof(h->err)) < 0)
		return -1;
	return devhost_add_backend(h, CELLVM__BACKEND__KIND__SOCKET, fd, -1, "console");
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
		    devhost_add_irq(h, com->irq) < 0 || uart_backend(r, i, h) < 0 ||
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
	if (m->msg_case == CELLVM__CONTROL__MSG_PAUSED) {
		r->paused = m->paused->paused;
		r->pause_answered = true;
		fprintf(stderr, "cellvm: the VM is %s\n", r->paused ? "paused" : "running again");
	} else if (m->msg_case == CELLVM__CONTROL__MSG_VM_STOPPED) {
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
	for (unsigned i = 0; i < VM_MAX_SERIAL; i++)
		if (r->has_tee[i])
			console_tee_detach(&r->tees[i]);
	r->paused = false;
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
	if (!host_has_hw_virt()) {
		fprintf(stderr, "cellvm: /dev/kvm: this host has no hardware virtualization under "
				"it (no vmx or svm CPU flag; a kvm-pvm /dev/kvm runs only guests "
				"built for it), so a stock guest cannot run (tools/kvmhost/run "
				"gives a KVM that can)\n");
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
	r->boots++;
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

/* --- the control socket's requests (tools/cellvm/control_server.c) --- */

#define PAUSE_ANSWER_MS 20000 /* a vCPU may wait up to the ring timeout (10 s) */

static void ctl_state(void *ctx, Cellvm__Mgmt__State *st)
{
	struct vmrun *r = ctx;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	st->paused = r->paused;
	st->pid = (uint32_t)getpid();
	st->uptime_ms = (uint64_t)(now.tv_sec - r->started.tv_sec) * 1000 +
			(uint64_t)((now.tv_nsec - r->started.tv_nsec) / 1000000);
	st->cpus = r->cfg->cpus;
	st->memory = r->cfg->memory;
	st->name = (char *)(r->cfg->name ? r->cfg->name : "");
	st->uuid = r->uuid;
	st->boots = r->boots;
}

static int ctl_power_button(void *ctx, char *err, size_t errlen)
{
	struct vmrun *r = ctx;
	int rc = control_send_simple(r->core.control_fd, CELLVM__CONTROL__MSG_POWER_BUTTON);
	if (rc < 0) {
		snprintf(err, errlen, "telling the core: %s", strerror(-rc));
		return -1;
	}
	fprintf(stderr, "cellvm: power button pressed (a stop was asked for)\n");
	return 0;
}

/* Asks the core and waits for its Paused answer, reading its messages
 * here (the event loop is in this call). */
static int ctl_pause(void *ctx, bool pause, char *err, size_t errlen)
{
	struct vmrun *r = ctx;
	r->pause_answered = false;
	int rc = control_send_simple(r->core.control_fd, pause ? CELLVM__CONTROL__MSG_PAUSE
							       : CELLVM__CONTROL__MSG_RESUME);
	if (rc < 0) {
		snprintf(err, errlen, "telling the core: %s", strerror(-rc));
		return -1;
	}
	for (int waited = 0; !r->pause_answered && r->outcome == RUNNING; waited += 100) {
		if (waited >= PAUSE_ANSWER_MS) {
			snprintf(err, errlen, "the core did not answer the %s within %d s",
				 pause ? "pause" : "resume", PAUSE_ANSWER_MS / 1000);
			return -1;
		}
		struct pollfd p = {.fd = r->core.control_fd, .events = POLLIN};
		if (poll(&p, 1, 100) > 0)
			on_core_message(r->core.control_fd, EV_READ, r);
	}
	if (!r->pause_answered) {
		snprintf(err, errlen, "the VM stopped");
		return -1;
	}
	return 0;
}

static void ctl_kill(void *ctx)
{
	struct vmrun *r = ctx;
	fprintf(stderr, "cellvm: killed on request: stopping the VM\n");
	finish(r, STOPPED);
}

/* The relays of console: ports and the control socket, for the VM's life. */
static int open_managed(struct vmrun *r)
{
	char err[600];
	for (unsigned i = 0; i < r->cfg->nserial; i++) {
		if (!console_tee_spec_ok(r->cfg->serial[i]))
			continue;
		if (console_tee_open(&r->tees[i], r->base, r->cfg->serial[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "cellvm: %s: %s\n", uart_com_ports[i].name, err);
			return -1;
		}
		r->has_tee[i] = true;
	}
	if (r->cfg->control) {
		const struct control_ops ops = {
			.ctx = r,
			.state = ctl_state,
			.power_button = ctl_power_button,
			.pause = ctl_pause,
			.kill = ctl_kill,
		};
		if (control_server_open(&r->control, r->base, r->cfg->control, &ops, err,
					sizeof(err)) < 0) {
			fprintf(stderr, "cellvm: %s\n", err);
			return -1;
		}
		r->has_control = true;
	}
	return 0;
}

static void close_managed(struct vmrun *r)
{
	if (r->has_control)
		control_server_close(&r->control);
	r->has_control = false;
	for (unsigned i = 0; i < VM_MAX_SERIAL; i++)
		if (r->has_tee[i])
			console_tee_close(&r->tees[i]);
	memset(r->has_tee, 0, sizeof(r->has_tee));
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
	clock_gettime(CLOCK_MONOTONIC, &r.started);
	uuid_unparse(cfg->uuid, r.uuid);
	if (open_managed(&r) < 0) {
		close_managed(&r);
		event_base_free(r.base);
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
		close_managed(&r);
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
		close_managed(&r);
		event_base_free(r.base);
		return o == POWEROFF || o == REBOOT || o == STOPPED ? 0 : 1;
	}
}
