/* Setup, ring serving and control handling shared by every device process. */
#include "devices/common/device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t device_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void device_fail(struct device *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
}

void device_log(struct device *d, Cellvm__Log__Level level, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (d->control_fd < 0 || control_send_log(d->control_fd, level, "%s", text) < 0)
		fprintf(stderr, "cellvm-dev-%s: %s\n", d->ops->name, text);
}

int device_fd(struct device *d, int32_t index, const char *what)
{
	if (index < 0 || (size_t)index >= d->nfds || d->fds[index] < 0) {
		device_fail(d, "setup names fd %d for %s; %zu fds came with it", index, what,
			    d->nfds);
		return -1;
	}
	return d->fds[index];
}

int device_keep_fd(struct device *d, int fd)
{
	if (d->nmodel_fds == DEVICE_MAX_MODEL_FDS) {
		device_fail(d, "more than %d fds to keep", DEVICE_MAX_MODEL_FDS);
		return -1;
	}
	d->model_fds[d->nmodel_fds++] = fd;
	return 0;
}

void device_set_irq(struct device *d, unsigned line, bool level)
{
	if (line >= d->nirqs)
		return;
	bool rising = level && !d->irq_level[line];
	d->irq_level[line] = level;
	if (rising) {
		uint64_t one = 1;
		if (write(d->irq_fds[line], &one, sizeof(one)) < 0 && errno != EAGAIN)
			device_log(d, CELLVM__LOG__LEVEL__ERROR, "irq %u: %s", line,
				   strerror(errno));
	}
}

static int setup_ranges(struct device *d, const Cellvm__Setup *s)
{
	if ((s->n_ranges == 0 && !d->ops->pci) || s->n_ranges > DEVICE_MAX_RANGES) {
		device_fail(d, "setup has %zu address ranges (1..%d)", s->n_ranges,
			    DEVICE_MAX_RANGES);
		return -1;
	}
	for (size_t i = 0; i < s->n_ranges; i++) {
		const Cellvm__AddrRange *r = s->ranges[i];
		uint64_t limit = r->kind == CELLVM__ADDR_RANGE__KIND__PIO ? 0x10000 : UINT64_MAX;
		if (r->kind != CELLVM__ADDR_RANGE__KIND__PIO &&
		    r->kind != CELLVM__ADDR_RANGE__KIND__MMIO) {
			device_fail(d, "range %zu has unknown kind %d", i, r->kind);
			return -1;
		}
		if (r->size == 0 || r->addr > limit || r->size > limit - r->addr) {
			device_fail(d, "range %zu (0x%llx+0x%llx) is empty or out of bounds", i,
				    (unsigned long long)r->addr, (unsigned long long)r->size);
			return -1;
		}
		d->ranges[i] = (struct device_range){
			.kind = r->kind == CELLVM__ADDR_RANGE__KIND__PIO ? RING_PIO : RING_MMIO,
			.base = r->addr,
			.size = r->size,
		};
	}
	d->nranges = (unsigned)s->n_ranges;
	return 0;
}

static int setup_irqs(struct device *d, const Cellvm__Setup *s)
{
	if (s->n_irqs > DEVICE_MAX_IRQS) {
		device_fail(d, "setup has %zu irq lines (at most %d)", s->n_irqs, DEVICE_MAX_IRQS);
		return -1;
	}
	for (size_t i = 0; i < s->n_irqs; i++) {
		int fd = device_fd(d, s->irqs[i]->fd, "an irq line");
		if (fd < 0)
			return -1;
		d->irq_fds[i] = fd;
		d->irq_level[i] = false;
	}
	d->nirqs = (unsigned)s->n_irqs;
	return 0;
}

static int setup_rings(struct device *d, const Cellvm__Setup *s)
{
	const Cellvm__Rings *r = s->rings;
	if (!r) {
		device_fail(d, "setup has no rings");
		return -1;
	}
	int memfd = device_fd(d, r->memfd, "the rings");
	int bell = memfd < 0 ? -1 : device_fd(d, r->doorbell_fd, "the doorbell");
	if (bell < 0)
		return -1;
	char err[160];
	if (ring_set_map(&d->rings, memfd, r->count, r->entries, bell, err, sizeof(err)) < 0) {
		device_fail(d, "%s", err);
		return -1;
	}
	for (unsigned i = 0; i < r->count; i++)
		ring_consumer_init(&d->cons[i], &d->rings, i);
	d->poll_us = r->poll_us > 10000000 ? 10000000 : r->poll_us;
	return 0;
}

int device_setup(struct device *d, const ControlMsg *m, int *fds, size_t nfds)
{
	memcpy(d->fds, fds, nfds * sizeof(int));
	d->nfds = nfds;
	if (m->msg_case != CELLVM__CONTROL__MSG_SETUP) {
		device_fail(d, "expected a setup message, got %s", control_msg_name(m->msg_case));
		return -1;
	}
	const Cellvm__Setup *s = m->setup;
	if (strcmp(s->device, d->ops->name) != 0) {
		device_fail(d, "setup is for a '%s' device, this is '%s'", s->device,
			    d->ops->name);
		return -1;
	}
	snprintf(d->instance, sizeof(d->instance), "%s", s->instance[0] ? s->instance : s->device);
	if (s->test_trap[0]) {
		if (!device_test_trap_available()) {
			device_fail(d, "test_trap '%s': test hooks are not compiled into this build",
				    s->test_trap);
			return -1;
		}
		snprintf(d->test_trap, sizeof(d->test_trap), "%s", s->test_trap);
	}
	if (setup_ranges(d, s) || setup_irqs(d, s) || setup_rings(d, s))
		return -1;
	return d->ops->setup(d, s);
}

/* Is [addr, addr+size) inside one of the device's ranges of that kind? */
static bool access_in_range(const struct device *d, const struct exit_access *a)
{
	for (unsigned i = 0; i < d->nranges; i++) {
		const struct device_range *r = &d->ranges[i];
		if (r->kind == a->kind && a->addr >= r->base && a->addr - r->base < r->size &&
		    a->size <= r->size - (a->addr - r->base))
			return true;
	}
	return false;
}

/* A PCI access: to a BAR the device declared, or a configuration write
 * (or the read-back that follows one).  false if it is neither. */
static bool serve_pci(struct device *d, const struct exit_access *a, uint64_t *val)
{
	if (!d->pci.present)
		return false;
	if (a->kind == RING_CONFIG) {
		if (a->dir == RING_READ) {
			*val = device_pci_config_read(d, (unsigned)a->addr, a->size);
		} else {
			device_pci_config_write(d, (unsigned)a->addr, a->size, (uint32_t)a->data);
			if (d->ops->config_written)
				d->ops->config_written(d, (unsigned)a->addr, a->size);
		}
		return true;
	}
	unsigned bar = RING_BAR_INDEX(a->addr);
	uint64_t off = RING_BAR_OFFSET(a->addr), size = d->pci.bar[bar].size;
	if (a->kind != RING_BAR || off >= size || a->size > size - off)
		return false;
	if (a->dir == RING_READ)
		*val = d->ops->bar_read(d, bar, off, a->size);
	else
		d->ops->bar_write(d, bar, off, a->size, a->data);
	return true;
}

int device_access(struct device *d, const struct exit_access *a, uint64_t *val)
{
	*val = ~0ull;
	if (a->kind == RING_BAR || a->kind == RING_CONFIG) {
		if (serve_pci(d, a, val))
			return 0;
	} else if (access_in_range(d, a)) {
		if (a->dir == RING_READ)
			*val = d->ops->read(d, a);
		else
			d->ops->write(d, a);
		return 0;
	}
	/* The core only forwards what the device claimed: this is a broken
	 * or hostile producer. */
	device_fail(d, "access to %s 0x%llx/%u outside the device's ranges",
		    a->kind == RING_PIO ? "port" : a->kind == RING_MMIO ? "address" : "PCI",
		    (unsigned long long)a->addr, a->size);
	return -1;
}

static int serve_ring(struct device *d, struct ring_consumer *c)
{
	int served = 0;
	struct exit_access a;
	int rc;
	while ((rc = ring_consume(c, &a)) > 0) {
		served++;
		d->accesses++;
		if (d->test_trap[0])
			device_test_trap(d->test_trap);
		uint64_t val;
		int bad = device_access(d, &a, &val);
		if (a.dir == RING_READ)
			ring_complete(c, val, bad ? RING_EFAULT : RING_OK);
		if (bad)
			return -EPROTO;
	}
	if (served)
		ring_consumer_flush(c);
	if (rc < 0) {
		device_fail(d, "ring: %s", c->err);
		return rc;
	}
	return served;
}

int device_serve_rings(struct device *d)
{
	int total = 0;
	for (unsigned i = 0; i < d->rings.count; i++) {
		int n = serve_ring(d, &d->cons[i]);
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

int device_handle_control(struct device *d, const ControlMsg *m)
{
	switch (m->msg_case) {
	case CELLVM__CONTROL__MSG_RESET:
		if (d->ops->reset)
			d->ops->reset(d);
		return 0;
	case CELLVM__CONTROL__MSG_SHUTDOWN:
		return 1;
	default:
		device_fail(d, "unexpected %s message on the control channel",
			    control_msg_name(m->msg_case));
		return -1;
	}
}

void device_release(struct device *d)
{
	if (d->ops->teardown)
		d->ops->teardown(d);
	ring_set_unmap(&d->rings);
	device_pci_release(d);
	for (size_t i = 0; i < d->nfds; i++)
		if (d->fds[i] >= 0)
			close(d->fds[i]);
	d->nfds = 0;
}
