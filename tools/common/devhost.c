/* The host side of a device process; see devhost.h. */
#include "tools/common/devhost.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define DEVHOST_READY_TIMEOUT_MS 10000

void devhost_init(struct devhost *h, const char *model, const char *instance)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->model, sizeof(h->model), "%s", model);
	snprintf(h->instance, sizeof(h->instance), "%s", instance);
	snprintf(h->label, sizeof(h->label), "cellvm-dev-%s (%s)", model, instance);
	h->nrings = 1;
	h->entries = RING_DEFAULT_ENTRIES;
	h->timeout_ns = 5000000000ull;
	h->pid = -1;
	h->control_fd = h->ring_memfd = h->doorbell_fd = -1;
	h->guest_memory_fd = -1;
}

static int add_fd(struct devhost *h, int fd)
{
	if (h->nfds >= CONTROL_MAX_FDS) {
		snprintf(h->err, sizeof(h->err), "too many fds for one device");
		return -1;
	}
	h->fds[h->nfds] = fd;
	return (int)h->nfds++;
}

int devhost_pass_fd(struct devhost *h, int fd)
{
	if (fd < 0) {
		snprintf(h->err, sizeof(h->err), "no fd to pass: %s", strerror(errno));
		return -1;
	}
	int i = add_fd(h, fd);
	if (i < 0)
		close(fd);
	return i;
}

int devhost_add_range(struct devhost *h, int kind, uint64_t addr, uint64_t size)
{
	if (h->nranges >= DEVICE_MAX_RANGES) {
		snprintf(h->err, sizeof(h->err), "too many address ranges");
		return -1;
	}
	Cellvm__AddrRange *r = &h->ranges[h->nranges++];
	cellvm__addr_range__init(r);
	r->kind = kind;
	r->addr = addr;
	r->size = size;
	return 0;
}

int devhost_add_irq(struct devhost *h, uint32_t gsi)
{
	if (h->nirqs >= DEVICE_MAX_IRQS) {
		snprintf(h->err, sizeof(h->err), "too many irq lines");
		return -1;
	}
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		snprintf(h->err, sizeof(h->err), "eventfd: %s", strerror(errno));
		return -1;
	}
	int idx = add_fd(h, fd);
	if (idx < 0) {
		close(fd);
		return -1;
	}
	/* The device gets the same eventfd; we keep our own reference. */
	int ours = dup(fd);
	Cellvm__IrqLine *l = &h->irqs[h->nirqs];
	cellvm__irq_line__init(l);
	l->gsi = gsi;
	l->fd = idx;
	l->resample_fd = -1;
	h->irq_fds[h->nirqs] = ours;
	h->irq_gsi[h->nirqs] = gsi;
	h->nirqs++;
	return 0;
}

int devhost_add_backend(struct devhost *h, Cellvm__Backend__Kind kind, int in_fd, int out_fd,
			const char *desc)
{
	if (h->nbackends >= DEVHOST_MAX_BACKENDS) {
		snprintf(h->err, sizeof(h->err), "too many backends");
		return -1;
	}
	Cellvm__Backend *b = &h->backends[h->nbackends];
	cellvm__backend__init(b);
	b->kind = kind;
	b->in_fd = in_fd < 0 ? -1 : add_fd(h, in_fd);
	b->out_fd = out_fd < 0 ? -1 : add_fd(h, out_fd);
	snprintf(h->backend_desc[h->nbackends], sizeof(h->backend_desc[0]), "%s", desc);
	b->description = h->backend_desc[h->nbackends];
	h->nbackends++;
	return 0;
}

static int device_gone(void *opaque)
{
	return devhost_reap(opaque, 0);
}

static int make_rings(struct devhost *h)
{
	int fd = ring_set_create(h->nrings, h->entries);
	if (fd < 0) {
		snprintf(h->err, sizeof(h->err), "creating rings: %s", strerror(-fd));
		return -1;
	}
	h->ring_memfd = fd;
	h->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->doorbell_fd < 0) {
		snprintf(h->err, sizeof(h->err), "eventfd: %s", strerror(errno));
		return -1;
	}
	char err[160];
	if (ring_set_map(&h->rings, fd, h->nrings, h->entries, h->doorbell_fd, err,
			 sizeof(err)) < 0) {
		snprintf(h->err, sizeof(h->err), "%s", err);
		return -1;
	}
	for (unsigned i = 0; i < h->nrings; i++) {
		ring_producer_init(&h->prod[i], &h->rings, i, h->timeout_ns);
		h->prod[i].gone = device_gone;
		h->prod[i].gone_opaque = h;
	}
	return 0;
}

static int send_setup(struct devhost *h)
{
	int memfd_idx = add_fd(h, dup(h->ring_memfd));
	int bell_idx = add_fd(h, dup(h->doorbell_fd));
	if (memfd_idx < 0 || bell_idx < 0)
		return -1;
	Cellvm__Rings rings = CELLVM__RINGS__INIT;
	rings.memfd = memfd_idx;
	rings.count = h->nrings;
	rings.entries = h->entries;
	rings.doorbell_fd = bell_idx;
	rings.poll_us = h->poll_us;

	Cellvm__AddrRange *rp[DEVICE_MAX_RANGES];
	Cellvm__IrqLine *ip[DEVICE_MAX_IRQS];
	Cellvm__Backend *bp[DEVHOST_MAX_BACKENDS];
	for (size_t i = 0; i < h->nranges; i++)
		rp[i] = &h->ranges[i];
	for (size_t i = 0; i < h->nirqs; i++)
		ip[i] = &h->irqs[i];
	for (size_t i = 0; i < h->nbackends; i++)
		bp[i] = &h->backends[i];

	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.device = h->model;
	s.instance = h->instance;
	s.n_ranges = h->nranges;
	s.ranges = rp;
	s.n_irqs = h->nirqs;
	s.irqs = ip;
	s.rings = &rings;
	s.n_backends = h->nbackends;
	s.backends = bp;
	s.guest_memory_fd = h->guest_memory_fd;
	s.guest_memory_size = h->guest_memory_size;
	s.n_disks = h->ndisks;
	s.disks = h->disks;
	s.interface = (char *)(h->interface ? h->interface : "");
	s.queues = h->queues;
	s.net = h->net;
	s.test_trap = h->test_trap;
	ControlMsg m = CELLVM__CONTROL__INIT;
	m.msg_case = CELLVM__CONTROL__MSG_SETUP;
	m.setup = &s;
	int rc = control_send(h->control_fd, &m, h->fds, h->nfds);
	for (size_t i = 0; i < h->nfds; i++)
		close(h->fds[i]);
	h->nfds = 0;
	if (rc < 0) {
		snprintf(h->err, sizeof(h->err), "sending setup: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

static void print_log(struct devhost *h, const ControlMsg *m)
{
	if (m->msg_case == CELLVM__CONTROL__MSG_LOG)
		fprintf(stderr, "%s: %s\n", h->label, m->log->text);
	else if (m->msg_case == CELLVM__CONTROL__MSG_ERROR)
		fprintf(stderr, "%s: error: %s\n", h->label, m->error->text);
}

/* Waits for Ready; logs are printed meanwhile; an error or death fails. */
int devhost_wait_ready(struct devhost *h)
{
	for (;;) {
		struct pollfd p = {.fd = h->control_fd, .events = POLLIN};
		int n = poll(&p, 1, DEVHOST_READY_TIMEOUT_MS);
		if (n == 0) {
			snprintf(h->err, sizeof(h->err), "%s not ready after %d ms", h->label,
				 DEVHOST_READY_TIMEOUT_MS);
			return -1;
		}
		ControlMsg *m;
		int fds[CONTROL_MAX_FDS];
		size_t nfds;
		char err[200];
		if (n < 0 || control_recv(h->control_fd, &m, fds, &nfds, CONTROL_MAX_FDS, err,
					  sizeof(err)) < 0) {
			char how[200];
			devhost_reap(h, 2000);
			devhost_describe_end(h, how, sizeof(how));
			snprintf(h->err, sizeof(h->err), "%s before it was ready", how);
			return -1;
		}
		if (m->msg_case != CELLVM__CONTROL__MSG_READY || !m->ready->pci) {
			for (size_t i = 0; i < nfds; i++)
				close(fds[i]);
			nfds = 0;
		}
		switch (m->msg_case) {
		case CELLVM__CONTROL__MSG_READY:
			h->sandboxed = m->ready->sandboxed;
			if (m->ready->pci) {
				h->ready = m;
				memcpy(h->ready_fds, fds, nfds * sizeof(int));
				h->nready_fds = nfds;
				return 0;
			}
			control_free(m);
			return 0;
		case CELLVM__CONTROL__MSG_ERROR:
			snprintf(h->err, sizeof(h->err), "%s: %s", h->label, m->error->text);
			control_free(m);
			devhost_reap(h, 2000);
			return -1;
		case CELLVM__CONTROL__MSG_LOG:
			print_log(h, m);
			control_free(m);
			break;
		default:
			snprintf(h->err, sizeof(h->err), "%s sent %s before ready", h->label,
				 control_msg_name(m->msg_case));
			control_free(m);
			return -1;
		}
	}
}

int devhost_spawn(struct devhost *h, const char *binary, bool sandbox)
{
	char *argv[] = {(char *)binary, sandbox ? NULL : "--no-sandbox", NULL};
	struct sandbox_child child;
	char err[256];
	if (sandbox_spawn(argv, sandbox, &child, err, sizeof(err)) < 0) {
		snprintf(h->err, sizeof(h->err), "%s", err);
		return -1;
	}
	h->pid = child.pid;
	h->control_fd = child.control_fd;
	snprintf(h->namespaces, sizeof(h->namespaces), "%s", child.namespaces);
	return 0;
}

int devhost_start(struct devhost *h, const char *binary, bool sandbox)
{
	if (make_rings(h) < 0 || devhost_spawn(h, binary, sandbox) < 0 || send_setup(h) < 0)
		return -1;
	return devhost_wait_ready(h);
}

int devhost_drain_messages(struct devhost *h)
{
	for (;;) {
		struct pollfd p = {.fd = h->control_fd, .events = POLLIN};
		if (poll(&p, 1, 0) <= 0)
			return 0;
		ControlMsg *m;
		int fds[1];
		size_t nfds;
		char err[200];
		if (control_recv(h->control_fd, &m, fds, &nfds, 0, err, sizeof(err)) < 0)
			return -1;
		print_log(h, m);
		control_free(m);
	}
}

bool devhost_reap(struct devhost *h, int wait_ms)
{
	if (h->exited)
		return true;
	if (h->pid <= 0)
		return false;
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(h->pid, &h->wstatus, WNOHANG);
		if (r == h->pid) {
			h->exited = true;
			return true;
		}
		if (r < 0 || waited >= wait_ms)
			return false;
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
}

void devhost_describe_end(struct devhost *h, char *buf, size_t len)
{
	char how[160] = "still running";
	if (h->exited)
		sandbox_describe_status(h->wstatus, how, sizeof(how));
	snprintf(buf, len, "%s, pid %d: %s", h->label, (int)h->pid, how);
}

int devhost_stop(struct devhost *h)
{
	int rc = 0;
	if (h->pid > 0 && !h->exited) {
		if (h->control_fd >= 0)
			control_send_simple(h->control_fd, CELLVM__CONTROL__MSG_SHUTDOWN);
		if (!devhost_reap(h, 2000)) {
			kill(h->pid, SIGKILL);
			devhost_reap(h, 3000);
			rc = -1;
		}
	}
	if (h->control_fd >= 0)
		devhost_drain_messages(h);
	ring_set_unmap(&h->rings);
	int *fds[] = {&h->control_fd, &h->ring_memfd, &h->doorbell_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	for (size_t i = 0; i < h->nirqs; i++)
		close(h->irq_fds[i]);
	h->nirqs = 0;
	for (size_t i = 0; i < h->nfds; i++)
		close(h->fds[i]);
	h->nfds = 0;
	for (size_t i = 0; i < h->nready_fds; i++)
		close(h->ready_fds[i]);
	h->nready_fds = 0;
	if (h->ready)
		control_free(h->ready);
	h->ready = NULL;
	return rc;
}

int devhost_find_binary(const char *model, char *path, size_t len)
{
	const char *dir = getenv("CELLVM_DEVICE_DIR");
	char self[PATH_MAX];
	if (!dir) {
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return -1;
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (!slash)
			return -1;
		*slash = 0;
		dir = self;
	}
	int n = snprintf(path, len, "%s/cellvm-dev-%s", dir, model);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return access(path, X_OK) == 0 ? 0 : -1;
}

/* One of the Ready message's fd indices, passed on to the core's list. */
static int32_t relay_fd(struct devhost *h, int32_t idx, int *fds, size_t *nfds, size_t max,
			bool *bad)
{
	if (idx < 0)
		return -1;
	if ((size_t)idx >= h->nready_fds || *nfds >= max) {
		*bad = true;
		return -1;
	}
	fds[*nfds] = h->ready_fds[idx];
	return (int32_t)(*nfds)++;
}

int devhost_pci_for_core(struct devhost *h, Cellvm__PciFunction *out, Cellvm__Ioeventfd *io,
			 Cellvm__Ioeventfd **iop, size_t niomax, int32_t *msix, size_t nmsixmax,
			 int *fds, size_t *nfds, size_t max)
{
	const Cellvm__PciFunction *p = h->ready ? h->ready->ready->pci : NULL;
	if (!p || p->n_ioeventfds > niomax || p->n_msix_fds > nmsixmax) {
		snprintf(h->err, sizeof(h->err), "%s declared no usable PCI function", h->label);
		return -1;
	}
	bool bad = false;
	cellvm__pci_function__init(out);
	out->config_fd = relay_fd(h, p->config_fd, fds, nfds, max, &bad);
	out->n_bars = p->n_bars;
	out->bars = p->bars;
	for (size_t i = 0; i < p->n_ioeventfds; i++) {
		io[i] = *p->ioeventfds[i];
		io[i].fd = relay_fd(h, io[i].fd, fds, nfds, max, &bad);
		iop[i] = &io[i];
	}
	out->n_ioeventfds = p->n_ioeventfds;
	out->ioeventfds = iop;
	out->intx_fd = relay_fd(h, p->intx_fd, fds, nfds, max, &bad);
	out->intx_resample_fd = relay_fd(h, p->intx_resample_fd, fds, nfds, max, &bad);
	for (size_t i = 0; i < p->n_msix_fds; i++)
		msix[i] = relay_fd(h, p->msix_fds[i], fds, nfds, max, &bad);
	out->n_msix_fds = p->n_msix_fds;
	out->msix_fds = msix;
	if (bad) {
		snprintf(h->err, sizeof(h->err),
			 "%s: its PCI function names fds it did not send, or the VM has more "
			 "fds than one message carries (%zu)",
			 h->label, max);
		return -1;
	}
	return 0;
}
