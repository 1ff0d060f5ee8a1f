/* A VM's network adapters: the supervisor opens each backend (the device
 * cannot: no network, no files) and starts one sandboxed cellvm-dev-net
 * per adapter with a copy of the backend's fd, its MAC and its guest RAM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "tools/cellvm/nets.h"

/* A stream server's wait for its peer, which may be long (the peer may be
 * a VM not started yet).  The supervisor's stop signals are not watched
 * yet, so they are taken here: blocked, and read from a signalfd. */
static int wait_for_peer(struct net_backend *b, unsigned i, char *err, size_t errlen)
{
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &stop, &old) < 0) {
		snprintf(err, errlen, "net%u: blocking signals: %s", i, strerror(errno));
		return -1;
	}
	/* Said once the signals are ours: a script may stop us on it. */
	fprintf(stderr, "cellvm: net%u: waiting for a peer on %s\n", i, b->path);
	int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
	int rc;
	if (sfd < 0) {
		snprintf(err, errlen, "net%u: signalfd: %s", i, strerror(errno));
		rc = -1;
		goto out;
	}
	struct pollfd p[2] = {{.fd = b->listen_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	do
		rc = poll(p, 2, -1);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		snprintf(err, errlen, "net%u: stream %s: waiting: %s", i, b->path, strerror(errno));
		rc = -1;
	} else if (p[1].revents) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			si.ssi_signo = SIGINT;
		snprintf(err, errlen, "%s", strsignal((int)si.ssi_signo));
		rc = NETS_STOPPED;
	} else {
		char why[256];
		rc = net_backend_accept(b, 0, why, sizeof(why));
		if (rc < 0)
			snprintf(err, errlen, "net%u: %s", i, why);
	}
	close(sfd);
out:
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int nets_open(const struct vm_config *cfg, struct net_backend *b, unsigned *n, char *err,
	      size_t errlen)
{
	*n = 0;
	for (unsigned i = 0; i < cfg->nnets; i++) {
		const struct net_config *nc = &cfg->nets[i];
		char why[512];
		if (net_backend_open(&nc->backend, &b[i], why, sizeof(why)) < 0) {
			snprintf(err, errlen, "net%u (--net %s): %s", i, nc->spec, why);
			return -1;
		}
		(*n)++;
		if (nc->backend.server) {
			int rc = wait_for_peer(&b[i], i, err, errlen);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

void nets_close(struct net_backend *b, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		net_backend_close(&b[i]);
	*n = 0;
}

static int start_one(struct devhost *h, const struct vm_config *cfg, int mem_fd, unsigned i,
		     const struct net_backend *b)
{
	const struct net_config *nc = &cfg->nets[i];
	char instance[8];
	snprintf(instance, sizeof(instance), "net%u", i);
	devhost_init(h, "net", instance);
	snprintf(h->label, sizeof(h->label), "cellvm-dev-net (%s: %s)", instance, b->desc);
	h->nrings = cfg->cpus;
	h->queues = 1;
	h->guest_memory_fd = devhost_pass_fd(h, dup(mem_fd));
	h->guest_memory_size = cfg->memory;
	Cellvm__NetAdapter na = CELLVM__NET_ADAPTER__INIT;
	na.fd = devhost_pass_fd(h, net_backend_dup_fd(b));
	if (h->guest_memory_fd < 0 || na.fd < 0) {
		snprintf(h->err, sizeof(h->err), "%s: out of fds: %s", h->label, strerror(errno));
		return -1;
	}
	na.kind = b->kind == NET_BACKEND_STREAM ? CELLVM__NET_ADAPTER__KIND__STREAM
						: CELLVM__NET_ADAPTER__KIND__TAP;
	uint8_t mac[NET_MAC_LEN];
	memcpy(mac, nc->mac, sizeof(mac));
	na.mac.data = mac;
	na.mac.len = sizeof(mac);
	na.backend = (char *)b->desc;
	h->net = &na;
	char bin[4200];
	snprintf(bin, sizeof(bin), "%s/cellvm-dev-net", cfg->bin_dir);
	int rc = devhost_start(h, bin, cfg->sandbox);
	h->net = NULL; /* it was on our stack */
	return rc;
}

int nets_start(const struct vm_config *cfg, int mem_fd, const struct net_backend *b,
	       struct devhost *hosts, unsigned *n)
{
	*n = 0;
	for (unsigned i = 0; i < cfg->nnets; i++) {
		int rc = start_one(&hosts[i], cfg, mem_fd, i, &b[i]);
		(*n)++;
		if (rc < 0)
			return -1;
	}
	return 0;
}
