/* Playing the core and a guest driver against an in-process PCI device
 * (see dev_harness.h). */
#include "tools/fuzz/dev_harness.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

void dh_rings(struct dev_harness *h, unsigned entries, int fds[2], Cellvm__Rings *rings)
{
	fds[0] = ring_set_create(1, entries);
	FUZZ_CHECK(fds[0] >= 0, "ring_set_create: %s", strerror(-fds[0]));
	fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	FUZZ_MUST(fds[1] >= 0);
	char err[160];
	FUZZ_CHECK(ring_set_map(&h->rs, fds[0], 1, entries, fds[1], err, sizeof(err)) == 0,
		 "ring_set_map: %s", err);
	ring_producer_init(&h->prod, &h->rs, 0, 0);
	h->prod.spin_ns = 0; /* the device answers nothing through the ring here */
	cellvm__rings__init(rings);
	rings->memfd = 0;
	rings->count = 1;
	rings->entries = entries;
	rings->doorbell_fd = 1;
}

void dh_setup_done(struct dev_harness *h)
{
	memcpy(h->cfg0, h->d->pci.config, DEVICE_PCI_CONFIG);
	memcpy(h->wmask, h->d->pci.wmask, DEVICE_PCI_CONFIG);
}

void dh_release(struct dev_harness *h)
{
	ring_set_unmap(&h->rs);
}

bool dh_bar_declared(const struct dev_harness *h, unsigned bar, uint64_t off, unsigned size)
{
	uint64_t bsize = bar < DEVICE_PCI_BARS ? h->d->pci.bar[bar].size : 0;
	return off < bsize && size <= bsize - off;
}

void dh_drain_control(struct dev_harness *h)
{
	for (;;) {
		ControlMsg *m;
		int fds[1];
		size_t nfds;
		char err[200];
		int rc = control_recv(h->ctl, &m, fds, &nfds, 0, err, sizeof(err));
		if (rc == -EAGAIN)
			return;
		FUZZ_CHECK(rc == 0, "the device sent a bad control message: %s", err);
		FUZZ_CHECK(m->msg_case == CELLVM__CONTROL__MSG_LOG, "the device sent %s",
			 control_msg_name(m->msg_case));
		FUZZ_TRACE("  log: %s\n", m->log->text);
		control_free(m);
	}
}

DH_NO_COVERAGE void dh_check_config(const struct dev_harness *h)
{
	const uint8_t *c = h->d->pci.config;
	for (unsigned i = 0; i < DEVICE_PCI_CONFIG; i++)
		FUZZ_CHECK(!((c[i] ^ h->cfg0[i]) & ~h->wmask[i]),
			 "config byte 0x%x changed 0x%02x -> 0x%02x outside its mask 0x%02x", i,
			 h->cfg0[i], c[i], h->wmask[i]);
}

void dh_post(struct dev_harness *h, uint8_t kind, uint64_t addr, unsigned size, uint64_t val)
{
	if (h->stop)
		return;
	int rc = ring_post_write(&h->prod, kind, addr, (uint8_t)size, val);
	FUZZ_CHECK(rc == 0, "ring_post_write: %d %s", rc, h->prod.err);
	bool ok = kind == RING_CONFIG ||
		  dh_bar_declared(h, RING_BAR_INDEX(addr), RING_BAR_OFFSET(addr), size);
	h->d->err[0] = 0;
	int n = device_serve_rings(h->d);
	FUZZ_TRACE("  %s write 0x%llx/%u = 0x%llx: %d%s%s\n", kind == RING_CONFIG ? "config" : "BAR",
		 (unsigned long long)addr, size, (unsigned long long)val, n, n < 0 ? " " : "",
		 n < 0 ? h->d->err : "");
	FUZZ_CHECK(ok ? n == 1 : n == -EPROTO, "served %d for a%s access: %s", n,
		 ok ? " declared" : "n undeclared", h->d->err);
	dh_drain_control(h);
	if (n < 0) {
		h->stop = true;
		return;
	}
	uint64_t off = RING_BAR_OFFSET(addr);
	if (kind == RING_BAR && RING_BAR_INDEX(addr) == DH_BAR_VIRTIO && off >= DH_NOTIFY_OFF &&
	    h->notified)
		h->notified(h, (unsigned)(off - DH_NOTIFY_OFF) / 4);
}

void dh_bar_write(struct dev_harness *h, unsigned bar, uint64_t off, unsigned size, uint64_t val)
{
	dh_post(h, RING_BAR, RING_BAR_ADDR(bar, off), size, val);
}

bool dh_access_read(struct dev_harness *h, uint8_t kind, uint64_t addr, unsigned size,
		    uint64_t *val)
{
	struct exit_access a = {.kind = kind, .dir = RING_READ, .size = (uint8_t)size, .addr = addr};
	bool ok = kind == RING_CONFIG ||
		  dh_bar_declared(h, RING_BAR_INDEX(addr), RING_BAR_OFFSET(addr), size);
	h->d->err[0] = 0;
	int rc = device_access(h->d, &a, val);
	FUZZ_TRACE("  %s read 0x%llx/%u: %d 0x%llx%s%s\n", kind == RING_CONFIG ? "config" : "BAR",
		 (unsigned long long)addr, size, rc, (unsigned long long)*val, rc ? " " : "",
		 rc ? h->d->err : "");
	FUZZ_CHECK(ok ? rc == 0 : rc == -1, "device_access %d for a%s read", rc,
		 ok ? " declared" : "n undeclared");
	if (rc) {
		FUZZ_CHECK(h->d->err[0], "device_access failed without a message");
		h->stop = true;
		return false;
	}
	FUZZ_CHECK(size == 8 || !(*val >> (8 * size)), "read of %u bytes answered 0x%llx", size,
		 (unsigned long long)*val);
	dh_drain_control(h);
	return true;
}

uint64_t dh_bar_read(struct dev_harness *h, unsigned bar, uint64_t off, unsigned size)
{
	uint64_t v = ~0ull;
	dh_access_read(h, RING_BAR, RING_BAR_ADDR(bar, off), size, &v);
	return v;
}

void dh_common_w(struct dev_harness *h, unsigned off, unsigned size, uint64_t v)
{
	dh_bar_write(h, DH_BAR_VIRTIO, off, size, v);
}

uint8_t dh_status(struct dev_harness *h)
{
	return (uint8_t)dh_bar_read(h, DH_BAR_VIRTIO, 0x14, 1);
}

void dh_put_le(struct dev_harness *h, uint64_t gpa, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n && gpa + i < h->ram_size; i++)
		h->ram[gpa + i] = (uint8_t)(v >> (8 * i));
}

uint64_t dh_get_le(const struct dev_harness *h, uint64_t gpa, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n && gpa + i < h->ram_size; i++)
		v |= (uint64_t)h->ram[gpa + i] << (8 * i);
	return v;
}

void dh_write_desc(struct dev_harness *h, const struct dh_ring *r, unsigned slot, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next)
{
	uint64_t g = r->desc + 16 * (slot % r->size);
	dh_put_le(h, g, addr, 8);
	dh_put_le(h, g + 8, len, 4);
	dh_put_le(h, g + 12, flags, 2);
	dh_put_le(h, g + 14, next, 2);
}

void dh_push_avail(struct dev_harness *h, const struct dh_ring *r, uint16_t head)
{
	if (r->avail + 4 + 2 * r->size > h->ram_size)
		return;
	uint16_t *idxp = (uint16_t *)(h->ram + r->avail + 2);
	uint16_t idx = __atomic_load_n(idxp, __ATOMIC_RELAXED);
	dh_put_le(h, r->avail + 4 + 2 * (idx % r->size), head, 2);
	__atomic_store_n(idxp, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

uint16_t dh_used_idx(const struct dev_harness *h, const struct dh_ring *r)
{
	if (r->used + 4 > h->ram_size)
		return 0;
	return __atomic_load_n((uint16_t *)(h->ram + r->used + 2), __ATOMIC_ACQUIRE);
}

void dh_used_elem(const struct dev_harness *h, const struct dh_ring *r, uint16_t i, uint32_t *id,
		  uint32_t *len)
{
	uint64_t e = r->used + 4 + 8 * (uint64_t)(i % r->size);
	*id = (uint32_t)dh_get_le(h, e, 4);
	*len = (uint32_t)dh_get_le(h, e + 4, 4);
}

static void set_addr(struct dev_harness *h, unsigned off, uint64_t gpa, bool addr64)
{
	if (addr64) {
		dh_common_w(h, off, 8, gpa);
	} else {
		dh_common_w(h, off, 4, (uint32_t)gpa);
		dh_common_w(h, off + 4, 4, gpa >> 32);
	}
}

uint64_t dh_virtio_init(struct dev_harness *h, const struct dh_init *in, uint8_t *status)
{
	dh_common_w(h, 0x14, 1, 0);
	dh_common_w(h, 0x14, 1, DH_ST_ACK);
	dh_common_w(h, 0x14, 1, DH_ST_ACK | DH_ST_DRIVER);
	uint64_t dev = 0;
	for (unsigned i = 0; i < 2; i++) {
		dh_common_w(h, 0x00, 4, i);
		dev |= dh_bar_read(h, DH_BAR_VIRTIO, 0x04, 4) << (32 * i);
	}
	uint64_t want = (in->all ? dev : in->want) & ~in->clear & dev;
	for (unsigned i = 0; i < 2; i++) {
		dh_common_w(h, 0x08, 4, i);
		dh_common_w(h, 0x0c, 4, (uint32_t)(want >> (32 * i)));
	}
	dh_common_w(h, 0x14, 1, DH_ST_ACK | DH_ST_DRIVER | DH_ST_FEATURES_OK);
	uint8_t st = (uint8_t)dh_bar_read(h, DH_BAR_VIRTIO, 0x14, 1);
	if (status)
		*status = st;
	if (in->msix) {
		dh_post(h, RING_CONFIG, h->d->pci.msix_cap + 2, 2, 0x8000);
		dh_common_w(h, 0x10, 2, 0);
	}
	for (unsigned q = 0; q < in->nq; q++) {
		const struct dh_ring *r = &in->rings[q];
		dh_common_w(h, 0x16, 2, q);
		dh_common_w(h, 0x18, 2, r->size);
		if (in->msix)
			dh_common_w(h, 0x1a, 2, q + 1);
		set_addr(h, 0x20, r->desc, in->addr64);
		set_addr(h, 0x28, r->avail, in->addr64);
		set_addr(h, 0x30, r->used, in->addr64);
		dh_common_w(h, 0x1c, 2, 1);
	}
	dh_common_w(h, 0x14, 1, DH_ST_ACK | DH_ST_DRIVER | DH_ST_FEATURES_OK | DH_ST_DRIVER_OK);
	return want;
}

static unsigned count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	FUZZ_MUST(dir);
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		char path[300], target[300] = "";
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, target, sizeof(target) - 1);
		if (k > 0)
			target[k] = 0;
		n += !strncmp(target, "/memfd:", 7) || !strncmp(target, "anon_inode:", 11) ||
		     !strncmp(target, "socket:", 7);
	}
	closedir(dir);
	return n;
}

void dh_check_fds(unsigned long every)
{
	static unsigned long inputs;
	static unsigned base;
	if (inputs++ % every)
		return;
	unsigned n = count_fds();
	if (!base)
		base = n;
	FUZZ_CHECK(n <= base, "%u fds open after %lu inputs, %u after the first", n, inputs, base);
}
