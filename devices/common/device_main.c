/* The life of a device process: setup, sandbox, ready, serve, exit. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/common/device.h"
#include "sandbox/sandbox.h"

/* Exit codes a parent can tell apart. */
enum { EXIT_SETUP = 2, EXIT_PROTOCOL = 3, EXIT_CONTROL_LOST = 4 };

/* How often a polling device also looks at its other fds: rarely enough that
 * the poll() syscall does not show in the rings' tail latency. */
#define POLL_OTHERS_NS 1000000

static int die(struct device *d, int code)
{
	if (control_send_error(d->control_fd, "%s", d->err) < 0)
		fprintf(stderr, "cellvm-dev-%s: %s\n", d->ops->name, d->err);
	device_release(d);
	return code;
}

static int receive_setup(struct device *d)
{
	ControlMsg *m;
	int fds[CONTROL_MAX_FDS];
	size_t nfds;
	char err[200];
	int rc = control_recv(d->control_fd, &m, fds, &nfds, CONTROL_MAX_FDS, err, sizeof(err));
	if (rc < 0) {
		device_fail(d, "waiting for setup: %s", err);
		return -1;
	}
	rc = device_setup(d, m, fds, nfds);
	control_free(m);
	return rc;
}

static int confine(struct device *d, bool sandbox)
{
	if (!sandbox) {
		sandbox_warn_disabled(d->instance);
		return 0;
	}
	int keep[CONTROL_MAX_FDS + 1 + 3 + DEVICE_PCI_MAX_IOEVENTFDS + DEVICE_PCI_MAX_MSIX +
		 DEVICE_MAX_MODEL_FDS];
	size_t nkeep = 0;
	keep[nkeep++] = d->control_fd;
	for (size_t i = 0; i < d->nfds; i++)
		if (d->fds[i] >= 0)
			keep[nkeep++] = d->fds[i];
	for (unsigned i = 0; i < d->nmodel_fds; i++)
		keep[nkeep++] = d->model_fds[i];
	const struct device_pci *p = &d->pci;
	if (p->present) {
		int one[] = {p->config_fd, p->intx_fd, p->resample_fd};
		for (size_t i = 0; i < 3; i++)
			if (one[i] >= 0)
				keep[nkeep++] = one[i];
		for (unsigned i = 0; i < p->nioev; i++)
			keep[nkeep++] = p->ioev[i].fd;
		for (unsigned i = 0; i < p->nmsix; i++)
			keep[nkeep++] = p->msix_fds[i];
	}
	struct sandbox_opts o = {
		.keep_fds = keep,
		.nkeep = nkeep,
		.max_memory = (256ull << 20) + d->extra_memory,
	};
	if (sandbox_enter(d->ops->policy, &o, d->err, sizeof(d->err)) < 0)
		return -1;
	d->sandboxed = true;
	return 0;
}

static int send_ready(struct device *d)
{
	ControlMsg m = CELLVM__CONTROL__INIT;
	Cellvm__Ready r = CELLVM__READY__INIT;
	r.pid = (uint32_t)getpid();
	r.sandboxed = d->sandboxed;
	r.namespaces = ""; /* the spawner knows which it made */
	m.msg_case = CELLVM__CONTROL__MSG_READY;
	m.ready = &r;
	Cellvm__PciFunction pf;
	Cellvm__PciBar bars[DEVICE_PCI_BARS], *barp[DEVICE_PCI_BARS];
	Cellvm__Ioeventfd io[DEVICE_PCI_MAX_IOEVENTFDS], *iop[DEVICE_PCI_MAX_IOEVENTFDS];
	int32_t msix[DEVICE_PCI_MAX_MSIX];
	int fds[3 + DEVICE_PCI_MAX_IOEVENTFDS + DEVICE_PCI_MAX_MSIX];
	size_t nfds = 0;
	if (d->pci.present) {
		device_pci_describe(d, &pf, bars, barp, io, iop, msix, fds, &nfds);
		r.pci = &pf;
	}
	int rc = control_send(d->control_fd, &m, fds, nfds);
	if (rc < 0)
		device_fail(d, "sending ready: %s", strerror(-rc));
	return rc;
}

/* Waits for the doorbell, control or backend fds, or the next timer.
 * Returns 1 to stop, 0 to go on, -1 on error (d->err). */
static int wait_events(struct device *d, int timeout_ms)
{
	struct pollfd p[3 + DEVICE_MAX_POLLFDS];
	p[0] = (struct pollfd){.fd = d->control_fd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = d->rings.doorbell_fd, .events = POLLIN};
	/* INTx resampling: -1 (ignored by poll) unless the device has INTx. */
	p[2] = (struct pollfd){.fd = d->pci.present ? d->pci.resample_fd : -1, .events = POLLIN};
	int nb = d->ops->poll_fds ? d->ops->poll_fds(d, p + 3, DEVICE_MAX_POLLFDS) : 0;
	uint64_t deadline = d->ops->next_deadline ? d->ops->next_deadline(d) : 0;
	if (deadline) {
		uint64_t now = device_now_ns();
		int ms = deadline <= now ? 0 : (int)((deadline - now + 999999) / 1000000);
		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms;
	}
	int n = poll(p, (nfds_t)(3 + nb), timeout_ms);
	if (n < 0 && errno != EINTR) {
		device_fail(d, "poll: %s", strerror(errno));
		return -1;
	}
	/* The doorbell is read later, before the next sleep: serving the
	 * rings first keeps that syscall off the waiting vCPU's path. */
	if (n > 0 && p[1].revents & POLLIN)
		d->doorbell_rang = true;
	if (n > 0 && p[2].revents & POLLIN)
		device_pci_resampled(d);
	if (n > 0 && nb)
		d->ops->poll_events(d, p + 3, nb);
	if (deadline && device_now_ns() >= deadline)
		d->ops->tick(d);
	if (n > 0 && p[0].revents) {
		ControlMsg *m;
		int fds[4];
		size_t nfds;
		char err[200];
		int rc = control_recv(d->control_fd, &m, fds, &nfds, 0, err, sizeof(err));
		if (rc == -ECONNRESET) /* the parent is gone: nothing to serve */
			return 1;
		if (rc < 0) {
			device_fail(d, "%s", err);
			return -1;
		}
		rc = device_handle_control(d, m);
		control_free(m);
		return rc;
	}
	return 0;
}

static int serve(struct device *d)
{
	uint64_t last_work = device_now_ns(), last_others = last_work;
	for (;;) {
		int n = device_serve_rings(d);
		if (n < 0)
			return EXIT_PROTOCOL;
		uint64_t now = device_now_ns();
		if (n > 0)
			last_work = now;
		if (now - last_work < (uint64_t)d->poll_us * 1000) {
			/* Polling: look at the other fds now and then. */
			if (now - last_others < POLL_OTHERS_NS)
				continue;
			last_others = now;
			int rc = wait_events(d, 0);
			if (rc)
				return rc > 0 ? 0 : EXIT_CONTROL_LOST;
			continue;
		}
		if (d->doorbell_rang) {
			uint64_t v;
			if (read(d->rings.doorbell_fd, &v, sizeof(v)) < 0 && errno != EAGAIN) {
				device_fail(d, "doorbell: %s", strerror(errno));
				return EXIT_CONTROL_LOST;
			}
			d->doorbell_rang = false;
		}
		ring_set_sleep_prepare(&d->rings);
		n = device_serve_rings(d); /* what came in before the flag was seen */
		if (n < 0)
			return EXIT_PROTOCOL;
		int rc = wait_events(d, n > 0 ? 0 : -1);
		ring_set_awake(&d->rings);
		if (rc)
			return rc > 0 ? 0 : EXIT_CONTROL_LOST;
		last_work = device_now_ns();
	}
}

int device_main(const struct device_ops *ops, int argc, char **argv)
{
	bool sandbox = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-sandbox") == 0) {
			sandbox = false;
		} else {
			fprintf(stderr,
				"usage: cellvm-dev-%s [--no-sandbox]\n"
				"Started by cellvm or cellvm-devrun with its control socket as fd %d;\n"
				"not meant to be run by hand.\n",
				ops->name, SANDBOX_CONTROL_FD);
			return EXIT_SETUP;
		}
	}
	/* A backend peer that goes away must be an EPIPE the model handles,
	 * not a signal that kills the device. */
	signal(SIGPIPE, SIG_IGN);
	static struct device d; /* large: keep it off the stack */
	d.ops = ops;
	d.control_fd = SANDBOX_CONTROL_FD;
	snprintf(d.instance, sizeof(d.instance), "cellvm-dev-%s", ops->name);
	if (receive_setup(&d) < 0 || confine(&d, sandbox) < 0)
		return die(&d, EXIT_SETUP);
	if (send_ready(&d) < 0) {
		device_release(&d);
		return EXIT_CONTROL_LOST;
	}
	int rc = serve(&d);
	if (rc)
		return die(&d, rc);
	device_release(&d);
	return 0;
}
