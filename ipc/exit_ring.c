/* Exit rings; see exit_ring.h for the protocol. */
#include "ipc/exit_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ipc/futex.h"

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define LOAD_RLX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define STORE_RLX(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)

/* How long a producer spins before it sleeps on a futex: long enough to
 * cover a device waking from its doorbell (~10-25 us on the VMs measured in
 * docs/benchmarks.md), shorter than KVM's own halt-polling window (200 us). */
#define RING_SPIN_NS_DEFAULT 50000
/* Iterations between clock reads while spinning. */
#define RING_SPIN_CLOCK_EVERY 64

_Static_assert(sizeof(struct ring_entry) == 32, "ring entry layout");
_Static_assert(sizeof(struct ring_set_hdr) == 2 * RING_CACHELINE, "set header layout");
_Static_assert(sizeof(struct ring_hdr) == 3 * RING_CACHELINE, "ring header layout");

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static bool valid_geometry(unsigned count, unsigned entries)
{
	return count >= 1 && count <= RING_MAX_RINGS && entries >= 2 &&
	       entries <= RING_MAX_ENTRIES && (entries & (entries - 1)) == 0;
}

static size_t ring_bytes(unsigned entries)
{
	return sizeof(struct ring_hdr) + (size_t)entries * sizeof(struct ring_entry);
}

size_t ring_set_bytes(unsigned count, unsigned entries)
{
	return sizeof(struct ring_set_hdr) + (size_t)count * ring_bytes(entries);
}

int ring_set_create(unsigned count, unsigned entries)
{
	if (!valid_geometry(count, entries))
		return -EINVAL;
	size_t bytes = ring_set_bytes(count, entries);
	int fd = memfd_create("cellvm-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0)
		goto fail;
	struct ring_set_hdr hdr = {
		.magic = RING_MAGIC,
		.version = RING_VERSION,
		.count = count,
		.entries = entries,
	};
	if (pwrite(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		goto fail;
	/* Neither side may change the size under the other's mapping. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

int ring_set_map(struct ring_set *rs, int memfd, unsigned count, unsigned entries,
		 int doorbell_fd, char *err, size_t errlen)
{
	memset(rs, 0, sizeof(*rs));
	rs->doorbell_fd = -1;
	if (!valid_geometry(count, entries)) {
		snprintf(err, errlen, "bad ring geometry: %u rings of %u entries", count, entries);
		return -EINVAL;
	}
	size_t bytes = ring_set_bytes(count, entries);
	struct stat st;
	if (fstat(memfd, &st) < 0) {
		snprintf(err, errlen, "ring memfd: %s", strerror(errno));
		return -errno;
	}
	if ((uint64_t)st.st_size != bytes) {
		snprintf(err, errlen, "ring memfd is %lld bytes, expected %zu", (long long)st.st_size,
			 bytes);
		return -EINVAL;
	}
	int seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
		snprintf(err, errlen, "ring memfd is not sealed against resizing");
		return -EINVAL;
	}
	void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (base == MAP_FAILED) {
		snprintf(err, errlen, "mmap rings: %s", strerror(errno));
		return -errno;
	}
	struct ring_set_hdr *h = base;
	if (LOAD_RLX(&h->magic) != RING_MAGIC || LOAD_RLX(&h->version) != RING_VERSION ||
	    LOAD_RLX(&h->count) != count || LOAD_RLX(&h->entries) != entries) {
		snprintf(err, errlen, "ring header does not match the setup");
		munmap(base, bytes);
		return -EINVAL;
	}
	rs->base = base;
	rs->bytes = bytes;
	rs->count = count;
	rs->entries = entries;
	rs->hdr = h;
	rs->doorbell_fd = doorbell_fd;
	return 0;
}

void ring_set_unmap(struct ring_set *rs)
{
	if (rs->base)
		munmap(rs->base, rs->bytes);
	rs->base = NULL;
	rs->hdr = NULL;
}

struct ring_hdr *ring_set_ring(const struct ring_set *rs, unsigned idx)
{
	return (struct ring_hdr *)((char *)rs->base + sizeof(struct ring_set_hdr) +
				   (size_t)idx * ring_bytes(rs->entries));
}

static struct ring_entry *ring_entries(struct ring_hdr *r)
{
	return (struct ring_entry *)(r + 1);
}

/* ---- producer ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void ring_producer_init(struct ring_producer *p, struct ring_set *rs, unsigned idx,
			uint64_t timeout_ns)
{
	memset(p, 0, sizeof(*p));
	p->rs = rs;
	p->r = ring_set_ring(rs, idx);
	p->e = ring_entries(p->r);
	p->mask = rs->entries - 1;
	p->head = LOAD_RLX(&p->r->head);
	p->tail_seen = p->head;
	p->spin_ns = RING_SPIN_NS_DEFAULT;
	p->timeout_ns = timeout_ns;
}

/* Whether a wait should still spin at iteration i (the clock is read only
 * now and then); `until` is the wait's own state. */
static bool spinning(const struct ring_producer *p, unsigned i, uint64_t *until)
{
	if (i == 0) {
		*until = p->spin_ns ? now_ns() + p->spin_ns : 0;
		return *until != 0;
	}
	if (*until && i % RING_SPIN_CLOCK_EVERY == 0 && now_ns() >= *until)
		*until = 0;
	return *until != 0;
}

/* Sleeps on a futex until woken, the deadline, or the gone() check says the
 * device died.  0, or -EPIPE. */
static int producer_sleep(struct ring_producer *p, uint32_t *word, uint32_t expected,
			  uint64_t remaining)
{
	if (p->gone && remaining > RING_CHECK_NS)
		remaining = RING_CHECK_NS;
	futex_wait_shared(word, expected, remaining);
	if (p->gone && p->gone(p->gone_opaque)) {
		snprintf(p->err, sizeof(p->err), "the device process is gone");
		return -EPIPE;
	}
	return 0;
}

static void ring_doorbell(struct ring_set *rs)
{
	/* Only the producer that clears the flag rings: one eventfd write per
	 * sleep of the device, however many vCPUs post meanwhile. */
	if (__atomic_exchange_n(&rs->hdr->need_wakeup, 0, __ATOMIC_SEQ_CST)) {
		uint64_t one = 1;
		if (write(rs->doorbell_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN means the counter is saturated: the device is
			 * awake anyway.  Anything else is the caller's fd. */
		}
	}
}

/* Reads the consumer's tail and checks it is plausible. */
static int producer_tail(struct ring_producer *p, uint32_t *tail)
{
	uint32_t t = LOAD_ACQ(&p->r->tail);
	if ((uint32_t)(p->head - t) > p->rs->entries) {
		snprintf(p->err, sizeof(p->err),
			 "device moved the ring tail to %u with head at %u", t, p->head);
		return -EPROTO;
	}
	*tail = t;
	return 0;
}

/* Waits until the consumer leaves room for one entry.  The consumer's tail
 * is read only when the last one seen says the ring is full, so a producer
 * that keeps ahead does not pull the consumer's cache line per entry. */
static int producer_wait_room(struct ring_producer *p)
{
	if (p->head - p->tail_seen < p->rs->entries)
		return 0;
	uint32_t tail;
	int rc = producer_tail(p, &tail);
	if (rc)
		return rc;
	p->tail_seen = tail;
	if (p->head - tail < p->rs->entries)
		return 0;
	uint64_t deadline = now_ns() + p->timeout_ns, until;
	for (unsigned i = 0;; i++) {
		if ((rc = producer_tail(p, &tail)))
			return rc;
		if (p->head - tail < p->rs->entries)
			break;
		if (spinning(p, i, &until)) {
			cpu_relax();
			continue;
		}
		STORE_RLX(&p->r->prod_waiting, 1);
		FENCE();
		if ((rc = producer_tail(p, &tail)))
			return rc;
		if (p->head - tail < p->rs->entries)
			break;
		ring_doorbell(p->rs);
		uint64_t now = now_ns();
		if (now >= deadline) {
			snprintf(p->err, sizeof(p->err), "ring full for %llu ms: device stuck",
				 (unsigned long long)(p->timeout_ns / 1000000));
			return -ETIMEDOUT;
		}
		if ((rc = producer_sleep(p, &p->r->tail, tail, deadline - now)))
			return rc;
	}
	STORE_RLX(&p->r->prod_waiting, 0);
	p->tail_seen = tail;
	return 0;
}

static int producer_post(struct ring_producer *p, uint8_t kind, uint8_t dir, uint64_t addr,
			 uint8_t size, uint64_t data, uint32_t *seq)
{
	int rc = producer_wait_room(p);
	if (rc)
		return rc;
	struct ring_entry *e = &p->e[p->head & p->mask];
	e->seq = p->head;
	e->kind = kind;
	e->dir = dir;
	e->size = size;
	e->pad = 0;
	e->addr = addr;
	e->data = data;
	e->reserved = 0;
	*seq = p->head;
	p->head++;
	STORE_REL(&p->r->head, p->head);
	FENCE(); /* the head store before the need_wakeup load */
	if (LOAD_RLX(&p->rs->hdr->need_wakeup))
		ring_doorbell(p->rs);
	return 0;
}

int ring_post_write(struct ring_producer *p, uint8_t kind, uint64_t addr, uint8_t size,
		    uint64_t data)
{
	uint32_t seq;
	return producer_post(p, kind, RING_WRITE, addr, size, data, &seq);
}

int ring_read(struct ring_producer *p, uint8_t kind, uint64_t addr, uint8_t size,
	      uint64_t *data)
{
	uint32_t seq;
	uint32_t before = LOAD_ACQ(&p->r->resp_seq);
	int rc = producer_post(p, kind, RING_READ, addr, size, 0, &seq);
	if (rc)
		return rc;
	uint32_t want = seq + 1;
	uint64_t deadline = 0, until;
	for (unsigned i = 0;; i++) {
		uint32_t got = LOAD_ACQ(&p->r->resp_seq);
		if (got == want)
			break;
		if (got != before) {
			snprintf(p->err, sizeof(p->err),
				 "device answered sequence %u, expected %u", got, want);
			return -EPROTO;
		}
		if (spinning(p, i, &until)) {
			cpu_relax();
			continue;
		}
		STORE_RLX(&p->r->resp_waiting, 1);
		FENCE(); /* the flag store before the resp_seq load */
		if (LOAD_ACQ(&p->r->resp_seq) != before)
			continue;
		uint64_t now = now_ns();
		if (!deadline)
			deadline = now + p->timeout_ns;
		if (now >= deadline) {
			snprintf(p->err, sizeof(p->err),
				 "no answer to a read of 0x%llx within %llu ms: device stuck",
				 (unsigned long long)addr,
				 (unsigned long long)(p->timeout_ns / 1000000));
			return -ETIMEDOUT;
		}
		if ((rc = producer_sleep(p, &p->r->resp_seq, before, deadline - now)))
			return rc;
	}
	STORE_RLX(&p->r->resp_waiting, 0);
	uint32_t status = LOAD_RLX(&p->r->resp_status);
	*data = LOAD_RLX(&p->r->resp_data);
	if (status == RING_EFAULT) {
		*data = ~0ull;
		snprintf(p->err, sizeof(p->err), "device refused the read of 0x%llx",
			 (unsigned long long)addr);
		return -EFAULT;
	}
	if (status != RING_OK) {
		snprintf(p->err, sizeof(p->err), "device answered with unknown status %u", status);
		return -EPROTO;
	}
	if (size < 8)
		*data &= (1ull << (size * 8)) - 1;
	return 0;
}

static int drain_wait(struct ring_producer *p)
{
	uint64_t deadline = now_ns() + p->timeout_ns;
	for (;;) {
		uint32_t tail;
		int rc = producer_tail(p, &tail);
		if (rc || tail == p->head)
			return rc;
		STORE_RLX(&p->r->prod_waiting, 1);
		FENCE();
		ring_doorbell(p->rs);
		if ((rc = producer_tail(p, &tail)) || tail == p->head)
			return rc;
		uint64_t now = now_ns();
		if (now >= deadline) {
			snprintf(p->err, sizeof(p->err), "device did not drain its ring");
			return -ETIMEDOUT;
		}
		if ((rc = producer_sleep(p, &p->r->tail, tail, deadline - now)))
			return rc;
	}
}

int ring_drain(struct ring_producer *p)
{
	int rc = drain_wait(p);
	/* Cleared on every way out: a flag left set would make the device
	 * futex_wake on every pass. */
	STORE_RLX(&p->r->prod_waiting, 0);
	return rc;
}

/* ---- consumer ---- */

void ring_consumer_init(struct ring_consumer *c, struct ring_set *rs, unsigned idx)
{
	memset(c, 0, sizeof(*c));
	c->rs = rs;
	c->r = ring_set_ring(rs, idx);
	c->e = ring_entries(c->r);
	c->mask = rs->entries - 1;
	c->tail = LOAD_RLX(&c->r->tail);
	c->head_seen = c->tail;
}

bool ring_empty(const struct ring_consumer *c)
{
	return LOAD_ACQ(&c->r->head) == c->tail;
}

int ring_consume(struct ring_consumer *c, struct exit_access *a)
{
	if (c->pending_read) {
		snprintf(c->err, sizeof(c->err), "read %u taken but not answered",
			 c->pending_read - 1);
		return -EPROTO;
	}
	if (c->tail == c->head_seen) {
		/* Read the producer's head only when what was seen is used up. */
		uint32_t head = LOAD_ACQ(&c->r->head);
		if (head == c->tail)
			return 0;
		if ((uint32_t)(head - c->tail) > c->rs->entries) {
			snprintf(c->err, sizeof(c->err),
				 "ring head %u is more than %u entries past tail %u", head,
				 c->rs->entries, c->tail);
			return -EPROTO;
		}
		c->head_seen = head;
	}
	/* Copy once; validate only the copy. */
	struct ring_entry e;
	memcpy(&e, &c->e[c->tail & c->mask], sizeof(e));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (e.seq != c->tail) {
		snprintf(c->err, sizeof(c->err), "entry %u carries sequence %u", c->tail, e.seq);
		return -EPROTO;
	}
	if (e.kind < RING_PIO || e.kind > RING_CONFIG) {
		snprintf(c->err, sizeof(c->err), "entry %u: bad kind %u", c->tail, e.kind);
		return -EPROTO;
	}
	if (e.dir != RING_WRITE && e.dir != RING_READ) {
		snprintf(c->err, sizeof(c->err), "entry %u: bad direction %u", c->tail, e.dir);
		return -EPROTO;
	}
	if (e.size != 1 && e.size != 2 && e.size != 4 && e.size != 8) {
		snprintf(c->err, sizeof(c->err), "entry %u: bad size %u", c->tail, e.size);
		return -EPROTO;
	}
	if (e.kind == RING_PIO && (e.addr > 0xffff || e.size == 8)) {
		snprintf(c->err, sizeof(c->err), "entry %u: bad port access 0x%llx/%u", c->tail,
			 (unsigned long long)e.addr, e.size);
		return -EPROTO;
	}
	if ((e.kind == RING_BAR && RING_BAR_INDEX(e.addr) > 5) ||
	    (e.kind == RING_CONFIG && (e.size > 4 || e.addr >= RING_CONFIG_SIZE ||
				       (e.addr & 3) + e.size > 4))) {
		snprintf(c->err, sizeof(c->err), "entry %u: bad PCI access 0x%llx/%u", c->tail,
			 (unsigned long long)e.addr, e.size);
		return -EPROTO;
	}
	a->kind = e.kind;
	a->dir = e.dir;
	a->size = e.size;
	a->addr = e.addr;
	a->data = e.size == 8 ? e.data : e.data & ((1ull << (e.size * 8)) - 1);
	if (e.dir == RING_READ)
		c->pending_read = e.seq + 1;
	c->tail++;
	STORE_REL(&c->r->tail, c->tail);
	return 1;
}

void ring_complete(struct ring_consumer *c, uint64_t data, enum ring_status status)
{
	if (!c->pending_read)
		return;
	STORE_RLX(&c->r->resp_data, data);
	STORE_RLX(&c->r->resp_status, (uint32_t)status);
	STORE_REL(&c->r->resp_seq, c->pending_read);
	c->pending_read = 0;
	FENCE(); /* the resp_seq store before the resp_waiting load */
	/* Only the producer clears the flag: clearing it here could race with
	 * the producer setting it for its next read. */
	if (LOAD_RLX(&c->r->resp_waiting))
		futex_wake_shared(&c->r->resp_seq);
}

void ring_consumer_flush(struct ring_consumer *c)
{
	FENCE(); /* the tail store before the prod_waiting load */
	if (LOAD_RLX(&c->r->prod_waiting))
		futex_wake_shared(&c->r->tail);
}

void ring_set_sleep_prepare(struct ring_set *rs)
{
	STORE_RLX(&rs->hdr->need_wakeup, 1);
	FENCE(); /* the flag store before the caller re-reads the heads */
}

void ring_set_awake(struct ring_set *rs)
{
	STORE_RLX(&rs->hdr->need_wakeup, 0);
}
