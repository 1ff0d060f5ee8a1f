/* The virtio 1.x PCI transport of a device process (see virtio_pci.h). */
#include "devices/virtio/virtio_pci.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define PCI_VENDOR_REDHAT_QUMRANET 0x1af4
#define PCI_DEVICE_VIRTIO_MODERN 0x1040 /* + the virtio device id */
#define PCI_CAP_VENDOR 0x09

#define BAR_MSIX 1
#define BAR_VIRTIO 4
#define BAR_VIRTIO_SIZE 0x4000
#define COMMON_OFF 0x0000
#define COMMON_LEN 0x38
#define ISR_OFF 0x1000
#define DEVCFG_OFF 0x2000
#define NOTIFY_OFF 0x3000
#define NOTIFY_MULT 4
#define MSIX_PBA_OFF 0x800

enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };

#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8
#define STATUS_NEEDS_RESET 64
#define NO_VECTOR 0xffff
#define ISR_QUEUE 1
#define ISR_CONFIG 2

static uint64_t offered(const struct virtio_pci *vp)
{
	return vp->model->features | 1ull << VIRTIO_F_VERSION_1 |
	       1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_RING_F_EVENT_IDX;
}

/* Buffers are the device's only once the driver is done setting up
 * (DRIVER_OK with FEATURES_OK), and not while it needs a reset. */
static bool driver_ok(const struct virtio_pci *vp)
{
	uint8_t st = __atomic_load_n(&vp->status, __ATOMIC_ACQUIRE);
	return (st & (STATUS_DRIVER_OK | STATUS_FEATURES_OK | STATUS_NEEDS_RESET)) ==
	       (STATUS_DRIVER_OK | STATUS_FEATURES_OK);
}

/* An interrupt for VECTOR (MSI-X), or the ISR bit on INTx. */
static void interrupt(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (device_pci_msix_enabled(vp->d)) {
		if (vector != NO_VECTOR)
			device_pci_msix_notify(vp->d, vector);
		return;
	}
	__atomic_fetch_or(&vp->isr, isr_bit, __ATOMIC_SEQ_CST);
	device_pci_set_intx(vp->d, true);
}

/* The guest broke a queue's rules: the spec's answer is DEVICE_NEEDS_RESET
 * and a configuration interrupt; the driver then resets the device. */
static void needs_reset(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	device_log(vp->d, CELLVM__LOG__LEVEL__WARNING, "%s queue %u: %s; device needs a reset",
		   vp->model->name, q->index, vq_error(&q->vq));
	pthread_mutex_lock(&vp->lock);
	__atomic_fetch_or(&vp->status, STATUS_NEEDS_RESET, __ATOMIC_SEQ_CST);
	uint16_t vector = vp->config_vector;
	pthread_mutex_unlock(&vp->lock);
	interrupt(vp, vector, ISR_CONFIG);
}

/* Serves everything available on queue Q, then asks for notifications
 * again (and serves what slipped in meanwhile). */
static void serve_queue(struct virtio_pci_queue *q)
{
	struct virtio_pci *vp = q->vp;
	struct vq_req req = {.out = q->out, .in = q->in, .out_cap = VQ_MAX_SEGS,
			     .in_cap = VQ_MAX_SEGS};
	bool broken = false;
	if (!driver_ok(vp))
		return;
	pthread_mutex_lock(&q->lock);
	if (!q->vq.ready || vq_is_broken(&q->vq)) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	for (;;) {
		vq_disable_notify(&q->vq);
		int rc;
		while ((rc = vq_pop(&q->vq, &req)) > 0) {
			uint32_t len = vp->model->handle(vp->ctx, q->index, req.out, req.out_num,
							 req.in, req.in_num);
			if (vq_push(&q->vq, req.head, len) < 0) {
				rc = -EIO;
				break;
			}
			vq_publish(&q->vq);
			if (vq_should_notify(&q->vq))
				interrupt(vp, q->vector, ISR_QUEUE);
		}
		if (rc < 0) {
			broken = true;
			break;
		}
		if (!vq_enable_notify(&q->vq))
			break;
	}
	pthread_mutex_unlock(&q->lock);
	if (broken)
		needs_reset(vp, q);
}

struct virtqueue *virtio_pci_queue_begin(struct virtio_pci *vp, unsigned q)
{
	if (q >= vp->model->num_queues || !driver_ok(vp))
		return NULL;
	struct virtio_pci_queue *vq = &vp->q[q];
	pthread_mutex_lock(&vq->lock);
	if (!vq->vq.ready || vq_is_broken(&vq->vq)) {
		pthread_mutex_unlock(&vq->lock);
		return NULL;
	}
	return &vq->vq;
}

uint64_t virtio_pci_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Publishes what was pushed; interrupts when the guest wants it and
 * moderation does not hold it (queue locked). */
static bool publish(struct virtio_pci *vp, struct virtio_pci_queue *vq)
{
	uint64_t now = 0;
	if (vq_is_broken(&vq->vq))
		return false;
	vq_publish(&vq->vq);
	if (vq->held_until)
		return false; /* the held interrupt will cover this too */
	if (vq->irq_gap) {
		now = virtio_pci_now_ns();
		/* Held whether or not the guest wants it now: vq_should_notify
		 * looks at everything published since the last interrupt when
		 * the hold ends. */
		if ((int64_t)(now - vq->last_irq) < (int64_t)vq->irq_gap) {
			vq->held_until = vq->last_irq + vq->irq_gap;
			return false;
		}
	}
	if (!vq_should_notify(&vq->vq))
		return false;
	interrupt(vp, vq->vector, ISR_QUEUE);
	vq->last_irq = now;
	return true;
}

bool virtio_pci_queue_flush(struct virtio_pci *vp, unsigned q)
{
	return publish(vp, &vp->q[q]);
}

void virtio_pci_queue_end(struct virtio_pci *vp, unsigned q)
{
	struct virtio_pci_queue *vq = &vp->q[q];
	bool broken = vq_is_broken(&vq->vq);
	publish(vp, vq);
	pthread_mutex_unlock(&vq->lock);
	if (broken)
		needs_reset(vp, vq);
}

void virtio_pci_set_irq_gap(struct virtio_pci *vp, unsigned q, uint64_t gap_ns)
{
	vp->q[q].irq_gap = gap_ns;
}

uint64_t virtio_pci_queue_held_until(const struct virtio_pci *vp, unsigned q)
{
	return vp->q[q].held_until;
}

bool virtio_pci_queue_release_held(struct virtio_pci *vp, unsigned q, uint64_t now)
{
	struct virtio_pci_queue *vq = &vp->q[q];
	if (!vq->held_until || now < vq->held_until)
		return false;
	if ((int64_t)(now - vq->last_irq) < (int64_t)vq->irq_gap) {
		vq->held_until = vq->last_irq + vq->irq_gap;
		return false;
	}
	vq->held_until = 0;
	if (!virtio_pci_queue_begin(vp, q))
		return false; /* reset or broken meanwhile: nothing to tell */
	bool sent = vq_should_notify(&vq->vq);
	if (sent) {
		interrupt(vp, vq->vector, ISR_QUEUE);
		vq->last_irq = now;
	}
	pthread_mutex_unlock(&vq->lock);
	return sent;
}

void virtio_pci_queue_hold_irq(struct virtio_pci *vp, unsigned q)
{
	struct virtio_pci_queue *vq = &vp->q[q];
	if (!vq->held_until)
		vq->held_until = virtio_pci_now_ns();
}

void virtio_pci_queue_irq_served(struct virtio_pci *vp, unsigned q, uint64_t now)
{
	vp->q[q].last_irq = now;
}

void virtio_pci_config_changed(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	vp->generation++;
	uint16_t vector = vp->config_vector;
	bool live = vp->status & STATUS_DRIVER_OK;
	pthread_mutex_unlock(&vp->lock);
	if (live)
		interrupt(vp, vector, ISR_CONFIG);
}

int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned q)
{
	return q < vp->model->num_queues ? vp->q[q].kick_fd : -1;
}

void virtio_pci_serve_queue(struct virtio_pci *vp, unsigned q)
{
	if (q < vp->model->num_queues && !(vp->model->unserved & (1u << q)))
		serve_queue(&vp->q[q]);
}

static void *queue_thread(void *arg)
{
	struct virtio_pci_queue *q = arg;
	for (;;) {
		struct pollfd p = {.fd = q->kick_fd, .events = POLLIN};
		if (poll(&p, 1, -1) < 0)
			continue;
		uint64_t n;
		if (read(q->kick_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			continue;
		serve_queue(q);
	}
	return NULL;
}

/* Wakes the queue's thread (what an ioeventfd does). */
static void kick(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	uint64_t one = 1;
	if (write(q->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		device_log(vp->d, CELLVM__LOG__LEVEL__ERROR, "queue kick: %s", strerror(errno));
}

static void reset(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->model->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];
		pthread_mutex_lock(&q->lock); /* waits for a request being served */
		vq_reset(&q->vq);
		q->last_irq = q->held_until = 0;
		q->size = vp->model->queue_max;
		q->vector = NO_VECTOR;
		q->desc = q->driver = q->device = 0;
		pthread_mutex_unlock(&q->lock);
	}
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	__atomic_store_n(&vp->status, 0, __ATOMIC_RELEASE);
	vp->config_vector = NO_VECTOR;
	vp->queue_select = 0;
	__atomic_store_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
	device_pci_set_intx(vp->d, false);
	if (vp->model->reset)
		vp->model->reset(vp->ctx);
}

void virtio_pci_reset(struct virtio_pci *vp)
{
	pthread_mutex_lock(&vp->lock);
	reset(vp);
	pthread_mutex_unlock(&vp->lock);
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The common configuration as the driver sees it now (vp->lock held). */
static void common_render(struct virtio_pci *vp, uint8_t *c)
{
	memset(c, 0, COMMON_LEN);
	put(c + 0x00, vp->dfselect, 4);
	put(c + 0x04, vp->dfselect < 2 ? (uint32_t)(offered(vp) >> (32 * vp->dfselect)) : 0, 4);
	put(c + 0x08, vp->gfselect, 4);
	put(c + 0x0c, vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0,
	    4);
	put(c + 0x10, vp->config_vector, 2);
	put(c + 0x12, vp->model->num_queues, 2);
	c[0x14] = vp->status;
	c[0x15] = vp->generation;
	put(c + 0x16, vp->queue_select, 2);
	if (vp->queue_select < vp->model->num_queues) {
		const struct virtio_pci_queue *q = &vp->q[vp->queue_select];
		put(c + 0x18, q->size, 2);
		put(c + 0x1a, q->vector, 2);
		put(c + 0x1c, q->vq.ready, 2);
		put(c + 0x1e, q->index, 2); /* queue_notify_off */
		put(c + 0x20, q->desc, 8);
		put(c + 0x28, q->driver, 8);
		put(c + 0x30, q->device, 8);
	}
}

static uint16_t checked_vector(struct virtio_pci *vp, uint64_t v)
{
	return v < vp->d->pci.nmsix ? (uint16_t)v : NO_VECTOR;
}

static void set_status(struct virtio_pci *vp, uint8_t st)
{
	if (st == 0) {
		reset(vp);
		return;
	}
	if ((st & STATUS_FEATURES_OK) && !(vp->status & STATUS_FEATURES_OK)) {
		/* Only what we offered, and the modern interface. */
		bool ok = !(vp->driver_features & ~offered(vp)) &&
			  (vp->driver_features >> VIRTIO_F_VERSION_1 & 1);
		if (ok && vp->model->set_features)
			ok = vp->model->set_features(vp->ctx, vp->driver_features);
		if (!ok) {
			device_log(vp->d, CELLVM__LOG__LEVEL__WARNING,
				   "%s: driver features 0x%llx refused", vp->model->name,
				   (unsigned long long)vp->driver_features);
			st &= (uint8_t)~STATUS_FEATURES_OK;
		}
	}
	bool go = (st & STATUS_DRIVER_OK) && !(vp->status & STATUS_DRIVER_OK);
	__atomic_store_n(&vp->status, (uint8_t)(st | (vp->status & STATUS_NEEDS_RESET)),
			 __ATOMIC_RELEASE);
	/* Buffers offered before DRIVER_OK wait for it. */
	for (unsigned i = 0; go && i < vp->model->num_queues; i++)
		kick(vp, &vp->q[i]);
}

static void queue_enable(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	struct vq_config cfg = {
		.size = q->size,
		.desc = q->desc,
		.avail = q->driver,
		.used = q->device,
		.event_idx = vp->driver_features >> VIRTIO_RING_F_EVENT_IDX & 1,
		.indirect = vp->driver_features >> VIRTIO_RING_F_INDIRECT_DESC & 1,
	};
	pthread_mutex_lock(&q->lock);
	int rc = q->vq.ready ? 0 : vq_enable(&q->vq, &cfg);
	pthread_mutex_unlock(&q->lock);
	if (rc < 0) {
		device_log(vp->d, CELLVM__LOG__LEVEL__WARNING, "%s queue %u: %s", vp->model->name,
			   q->index, vq_error(&q->vq));
		__atomic_fetch_or(&vp->status, STATUS_NEEDS_RESET, __ATOMIC_SEQ_CST);
		return;
	}
	kick(vp, q); /* buffers may be waiting already */
}

/* A write to one common configuration field (or half of a 64-bit one). */
static void common_write(struct virtio_pci *vp, unsigned off, unsigned size, uint64_t val)
{
	struct virtio_pci_queue *q =
		vp->queue_select < vp->model->num_queues ? &vp->q[vp->queue_select] : NULL;
	/* Ring addresses: 32 or 64 bits at a time, only while disabled. */
	if (off >= 0x20 && off < 0x38) {
		if (!q || q->vq.ready || (size != 4 && size != 8) || off % size)
			return;
		uint64_t *a = off < 0x28 ? &q->desc : off < 0x30 ? &q->driver : &q->device;
		if (size == 8)
			*a = val;
		else if (off % 8)
			*a = (*a & 0xffffffffull) | val << 32;
		else
			*a = (*a & ~0xffffffffull) | (uint32_t)val;
		return;
	}
	switch (off) {
	case 0x00: vp->dfselect = (uint32_t)val; break;
	case 0x08: vp->gfselect = (uint32_t)val; break;
	case 0x0c:
		if (vp->gfselect < 2 && !(vp->status & STATUS_FEATURES_OK)) {
			unsigned sh = 32 * vp->gfselect;
			vp->driver_features = (vp->driver_features & ~(0xffffffffull << sh)) |
					      (uint64_t)(uint32_t)val << sh;
		}
		break;
	case 0x10: vp->config_vector = checked_vector(vp, val); break;
	case 0x14: set_status(vp, (uint8_t)val); break;
	case 0x16: vp->queue_select = (uint16_t)val; break;
	case 0x18:
		if (q && !q->vq.ready)
			q->size = (uint16_t)val; /* vq_enable checks it */
		break;
	case 0x1a:
		if (q) {
			pthread_mutex_lock(&q->lock);
			q->vector = checked_vector(vp, val);
			pthread_mutex_unlock(&q->lock);
		}
		break;
	case 0x1c:
		if (q && val == 1)
			queue_enable(vp, q);
		break;
	default: break; /* read-only fields */
	}
}

uint64_t virtio_pci_bar_read(struct virtio_pci *vp, unsigned bar, uint64_t off, unsigned size)
{
	if (bar != BAR_VIRTIO)
		return 0;
	uint8_t buf[VIRTIO_PCI_MAX_CONFIG];
	if (off < COMMON_OFF + COMMON_LEN) {
		if (off + size > COMMON_LEN)
			return 0;
		pthread_mutex_lock(&vp->lock);
		common_render(vp, buf);
		pthread_mutex_unlock(&vp->lock);
		return get(buf + off, size);
	}
	if (off == ISR_OFF) { /* reading it acknowledges */
		uint8_t isr = __atomic_exchange_n(&vp->isr, 0, __ATOMIC_SEQ_CST);
		device_pci_set_intx(vp->d, false);
		/* An interrupt() between the two found the line still high and
		 * did not signal; it must not be lost. */
		if (__atomic_load_n(&vp->isr, __ATOMIC_SEQ_CST))
			device_pci_set_intx(vp->d, true);
		return isr;
	}
	if (off >= DEVCFG_OFF && off + size <= DEVCFG_OFF + vp->model->config_size) {
		vp->model->config_read(vp->ctx, buf);
		return get(buf + (off - DEVCFG_OFF), size);
	}
	return 0;
}

void virtio_pci_bar_write(struct virtio_pci *vp, unsigned bar, uint64_t off, unsigned size,
			  uint64_t val)
{
	if (bar != BAR_VIRTIO)
		return;
	if (off < COMMON_OFF + COMMON_LEN) {
		pthread_mutex_lock(&vp->lock);
		common_write(vp, (unsigned)off, size, val);
		pthread_mutex_unlock(&vp->lock);
	} else if (off >= DEVCFG_OFF && off + size <= DEVCFG_OFF + vp->model->config_size) {
		uint8_t b[8];
		put(b, val, size);
		if (vp->model->config_write)
			vp->model->config_write(vp->ctx, (unsigned)(off - DEVCFG_OFF), b, size);
	} else if (off >= NOTIFY_OFF && off < NOTIFY_OFF + NOTIFY_MULT * vp->model->num_queues) {
		/* A notification that came through the exit ring instead of its
		 * ioeventfd (the BAR is being moved, or overlaps another). */
		kick(vp, &vp->q[(off - NOTIFY_OFF) / NOTIFY_MULT]);
	}
}

static int add_vendor_cap(struct device *d, uint8_t type, uint32_t off, uint32_t len, bool notify)
{
	uint8_t body[18] = {0};
	body[0] = notify ? 20 : 16; /* cap_len, from the capability's first byte */
	body[1] = type;
	body[2] = BAR_VIRTIO;
	put(body + 6, off, 4);
	put(body + 10, len, 4);
	put(body + 14, NOTIFY_MULT, 4);
	return device_pci_add_cap(d, PCI_CAP_VENDOR, body, notify ? 18 : 14);
}

static int map_guest_ram(struct virtio_pci *vp, struct device *d, const Cellvm__Setup *s)
{
	int fd = device_fd(d, s->guest_memory_fd, "guest RAM");
	if (fd < 0)
		return -1;
	if (s->guest_memory_size == 0 || s->guest_memory_size > (1ull << 40)) {
		device_fail(d, "guest RAM of %llu bytes", (unsigned long long)s->guest_memory_size);
		return -1;
	}
	void *ram = mmap(NULL, s->guest_memory_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ram == MAP_FAILED) {
		device_fail(d, "mapping guest RAM: %s", strerror(errno));
		return -1;
	}
	/* Huge pages, as cellvm-core asks for its own mapping (vmm-core/vm.c):
	 * shared memory gets them per mapping that asks.  Without this, a
	 * page the device touches first (a receive buffer in fresh guest RAM)
	 * becomes a 4 KiB page, and its 2 MiB never a huge page for the guest. */
	(void)madvise(ram, s->guest_memory_size, MADV_HUGEPAGE);
	d->extra_memory += s->guest_memory_size;
	if (guest_mem_init_ram(&vp->mem, ram, s->guest_memory_size) < 0) {
		device_fail(d, "guest RAM layout");
		return -1;
	}
	return 0;
}

int virtio_pci_init(struct virtio_pci *vp, struct device *d, const Cellvm__Setup *s,
		    const struct virtio_model *m, void *ctx)
{
	memset(vp, 0, sizeof(*vp));
	vp->d = d;
	vp->model = m;
	vp->ctx = ctx;
	pthread_mutex_init(&vp->lock, NULL);
	if (m->num_queues == 0 || m->num_queues > VIRTIO_PCI_MAX_QUEUES ||
	    m->config_size > VIRTIO_PCI_MAX_CONFIG) {
		device_fail(d, "%s: %u queues", m->name, m->num_queues);
		return -1;
	}
	if (map_guest_ram(vp, d, s) < 0 ||
	    device_pci_init(d, PCI_VENDOR_REDHAT_QUMRANET, PCI_DEVICE_VIRTIO_MODERN + m->device_id,
			    m->pci_class, 1, PCI_VENDOR_REDHAT_QUMRANET, m->device_id) < 0 ||
	    device_pci_add_bar(d, BAR_MSIX, 0x1000, CELLVM__PCI_BAR__KIND__MEM32, false) < 0 ||
	    device_pci_add_bar(d, BAR_VIRTIO, BAR_VIRTIO_SIZE, CELLVM__PCI_BAR__KIND__MEM64, false) < 0 ||
	    add_vendor_cap(d, CAP_COMMON, COMMON_OFF, COMMON_LEN, false) < 0 ||
	    add_vendor_cap(d, CAP_ISR, ISR_OFF, 1, false) < 0 ||
	    (m->config_size && add_vendor_cap(d, CAP_DEVICE, DEVCFG_OFF, m->config_size, false) < 0) ||
	    add_vendor_cap(d, CAP_NOTIFY, NOTIFY_OFF, NOTIFY_MULT * m->num_queues, true) < 0 ||
	    device_pci_add_msix(d, m->num_queues + 1, BAR_MSIX, 0, MSIX_PBA_OFF) < 0 ||
	    device_pci_add_intx(d) < 0)
		return -1;
	vp->config_vector = NO_VECTOR;
	for (unsigned i = 0; i < m->num_queues; i++) {
		struct virtio_pci_queue *q = &vp->q[i];
		q->vp = vp;
		q->index = i;
		q->size = m->queue_max;
		q->vector = NO_VECTOR;
		pthread_mutex_init(&q->lock, NULL);
		vq_init(&q->vq, i, &vp->mem);
		q->kick_fd = device_pci_add_ioeventfd(d, BAR_VIRTIO, NOTIFY_OFF + NOTIFY_MULT * i, 2);
		if (q->kick_fd < 0)
			return -1;
		if (m->unserved & (1u << i))
			continue;
		q->out = calloc(VQ_MAX_SEGS, sizeof(*q->out));
		q->in = calloc(VQ_MAX_SEGS, sizeof(*q->in));
		if (!q->out || !q->in ||
		    (!m->inline_queues && sandbox_thread_start(&q->thread, queue_thread, q) != 0)) {
			device_fail(d, "%s: cannot start the thread of queue %u", m->name, i);
			return -1;
		}
	}
	return 0;
}
