/* The virtio PCI transport (devices/virtio/virtio_pci.c), driven as the
 * Linux driver drives it through BAR accesses, with a model that echoes
 * each request's data back, on a fake guest RAM. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/virtio_pci.h"

#define RAM (1u << 20)
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF_OUT 0x4000
#define BUF_IN 0x5000
#define QSIZE 8

static const struct device_ops ops = {.name = "test", .pci = true};

static uint32_t echo(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
		     const struct iovec *in, unsigned in_num)
{
	(void)ctx;
	(void)q;
	if (!out_num || !in_num)
		return 0;
	size_t n = out[0].iov_len < in[0].iov_len ? out[0].iov_len : in[0].iov_len;
	memcpy(in[0].iov_base, out[0].iov_base, n);
	return (uint32_t)n;
}

static void cfg_read(void *ctx, uint8_t *c)
{
	(void)ctx;
	for (unsigned i = 0; i < 8; i++)
		c[i] = (uint8_t)(0xa0 + i);
}

static const struct virtio_model model = {
	.name = "echo",
	.device_id = 2,
	.pci_class = 0x018000,
	.features = 1u << 5,
	.num_queues = 2,
	.queue_max = QSIZE,
	.config_size = 8,
	.config_read = cfg_read,
	.handle = echo,
};

struct fx {
	struct device d;
	struct virtio_pci vp;
	uint8_t *ram;
	uint16_t avail_idx;
};

/* Each test's device keeps its queue threads to the end of the process;
 * so does this list, which keeps its memory reachable (LeakSanitizer). */
static struct fx *fixtures[16];
static unsigned nfixtures;

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	fixtures[nfixtures++ % 16] = f;
	int memfd = memfd_create("ram", 0);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, RAM), 0);
	f->ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	assert_true(f->ram != MAP_FAILED);
	f->d.ops = &ops;
	f->d.control_fd = -1;
	f->d.fds[0] = memfd;
	f->d.nfds = 1;
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.guest_memory_fd = 0;
	s.guest_memory_size = RAM;
	assert_int_equal(virtio_pci_init(&f->vp, &f->d, &s, &model, NULL), 0);
	return f;
}

static uint64_t rd(struct fx *f, uint64_t off, unsigned size)
{
	return virtio_pci_bar_read(&f->vp, 4, off, size);
}

static void wr(struct fx *f, uint64_t off, unsigned size, uint64_t v)
{
	virtio_pci_bar_write(&f->vp, 4, off, size, v);
}

/* The driver's steps up to FEATURES_OK, asking for FEATURES. */
static bool negotiate(struct fx *f, uint64_t features)
{
	wr(f, 0x14, 1, 1);
	wr(f, 0x14, 1, 3);
	wr(f, 0x08, 4, 0);
	wr(f, 0x0c, 4, (uint32_t)features);
	wr(f, 0x08, 4, 1);
	wr(f, 0x0c, 4, (uint32_t)(features >> 32));
	wr(f, 0x14, 1, 3 | 8);
	return rd(f, 0x14, 1) & 8;
}

static void setup_queue0(struct fx *f, uint16_t vector, uint64_t desc)
{
	wr(f, 0x16, 2, 0);
	wr(f, 0x18, 2, QSIZE);
	wr(f, 0x1a, 2, vector);
	wr(f, 0x20, 8, desc);
	wr(f, 0x28, 4, AVAIL);
	wr(f, 0x2c, 4, 0);
	wr(f, 0x30, 8, USED);
	wr(f, 0x1c, 2, 1);
}

static void put_desc(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = f->ram + DESC + 16 * i;
	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Offers "hello" out and 16 bytes in, then notifies queue 0. */
static void submit(struct fx *f)
{
	memcpy(f->ram + BUF_OUT, "hello", 5);
	memset(f->ram + BUF_IN, 0, 16);
	put_desc(f, 0, BUF_OUT, 5, VIRTQ_DESC_F_NEXT, 1);
	put_desc(f, 1, BUF_IN, 16, VIRTQ_DESC_F_WRITE, 0);
	uint16_t head = 0;
	memcpy(f->ram + AVAIL + 4 + 2 * (f->avail_idx % QSIZE), &head, 2);
	f->avail_idx++;
	__atomic_store_n((uint16_t *)(f->ram + AVAIL + 2), f->avail_idx, __ATOMIC_RELEASE);
	wr(f, 0x3000, 2, 0); /* the ring path of a notification */
}

static uint16_t used_idx(struct fx *f)
{
	return __atomic_load_n((uint16_t *)(f->ram + USED + 2), __ATOMIC_ACQUIRE);
}

static bool wait_used(struct fx *f, uint16_t want)
{
	for (int i = 0; i < 2000 && used_idx(f) != want; i++)
		usleep(1000);
	return used_idx(f) == want;
}

static bool fd_signalled(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 2000) != 1)
		return false;
	uint64_t n;
	return read(fd, &n, sizeof(n)) == sizeof(n) && n >= 1;
}

/* The VmFlags line of /proc/self/smaps for the mapping at ADDR, or "". */
static void smaps_flags(const void *addr, char *flags, size_t len)
{
	FILE *fp = fopen("/proc/self/smaps", "r");
	assert_non_null(fp);
	char line[512];
	bool in = false;
	flags[0] = 0;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, len, "%s", line + 8);
			break;
		}
	}
	fclose(fp);
}

/* The device's mapping of guest RAM asks for transparent huge pages (where
 * the kernel has them), like cellvm-core's. */
static void test_ram_mapping_asks_huge_pages(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	char flags[512];
	smaps_flags(f->vp.mem.region[0].host, flags, sizeof(flags));
	assert_true(flags[0] != 0);
	if (access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0)
		assert_non_null(strstr(flags, " hg"));
	else
		printf("# no transparent huge pages in this kernel: only the mapping checked\n");
}

static void test_pci_identity(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	const uint8_t *c = f->d.pci.config;
	assert_int_equal(c[0] | c[1] << 8, 0x1af4);
	assert_int_equal(c[2] | c[3] << 8, 0x1042);
	assert_int_equal(c[0x08], 1); /* revision 1: modern only */
	assert_true(c[0x06] & 0x10);
	/* The capability list: common, ISR, device, notify, MSI-X. */
	unsigned seen = 0, off = c[0x34];
	for (int n = 0; off && n < 10; n++, off = c[off + 1]) {
		if (c[off] == 0x09) {
			assert_int_equal(c[off + 4], 4); /* all in BAR 4 */
			seen |= 1u << c[off + 3];
		} else if (c[off] == 0x11) {
			assert_int_equal((c[off + 2] | c[off + 3] << 8) & 0x7ff, 2); /* 3 vectors */
			seen |= 1u << 8;
		}
	}
	assert_int_equal(seen, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 8));
	assert_int_equal(f->d.pci.bar[4].size, 0x4000);
	assert_int_equal(f->d.pci.nioev, 2);
	assert_int_equal(f->d.pci.nmsix, 3);
	assert_int_equal(rd(f, 0x2000, 4), 0xa3a2a1a0); /* device config */
}

static void test_features(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	wr(f, 0x00, 4, 0);
	assert_int_equal(rd(f, 0x04, 4) & (1u << 5), 1u << 5);
	assert_true(rd(f, 0x04, 4) & (1u << VIRTIO_RING_F_EVENT_IDX));
	wr(f, 0x00, 4, 1);
	assert_int_equal(rd(f, 0x04, 4), 1); /* VERSION_1 */
	assert_int_equal(rd(f, 0x12, 2), 2);
	/* Something we did not offer: no FEATURES_OK. */
	assert_false(negotiate(f, 1ull << 32 | 1u << 7));
	wr(f, 0x14, 1, 0);
	assert_int_equal(rd(f, 0x14, 1), 0);
	/* Legacy (no VERSION_1): refused too. */
	assert_false(negotiate(f, 1u << 5));
	wr(f, 0x14, 1, 0);
	assert_true(negotiate(f, 1ull << 32 | 1u << 5));
}

static void test_request_msix(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_true(negotiate(f, 1ull << 32));
	device_pci_config_write(&f->d, f->d.pci.msix_cap + 2, 2, 0x8000); /* MSI-X on */
	setup_queue0(f, 1, DESC);
	assert_int_equal(rd(f, 0x1a, 2), 1);
	assert_int_equal(rd(f, 0x1c, 2), 1);
	wr(f, 0x14, 1, 15);
	submit(f);
	assert_true(wait_used(f, 1));
	uint32_t len;
	memcpy(&len, f->ram + USED + 8, 4);
	assert_int_equal(len, 5);
	assert_memory_equal(f->ram + BUF_IN, "hello", 5);
	assert_true(fd_signalled(f->d.pci.msix_fds[1]));
	/* A vector the function does not have reads back as NO_VECTOR. */
	wr(f, 0x1a, 2, 7);
	assert_int_equal(rd(f, 0x1a, 2), 0xffff);
}

static void test_request_intx(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_true(negotiate(f, 1ull << 32));
	setup_queue0(f, 0xffff, DESC);
	wr(f, 0x14, 1, 15);
	submit(f);
	assert_true(wait_used(f, 1));
	assert_true(fd_signalled(f->d.pci.intx_fd));
	assert_int_equal(rd(f, 0x1000, 1), 1); /* queue interrupt; reading clears it */
	assert_int_equal(rd(f, 0x1000, 1), 0);
	assert_false(f->d.pci.intx_level);
}

/* The device raises an interrupt while the guest's handler reads the ISR.
 * Whatever the interleaving, a set ISR bit must leave the line raised: were
 * it lowered, the guest would never be told and its request would hang. */
struct race {
	struct fx *f;
	pthread_barrier_t go, done;
	unsigned rounds;
};

static void *race_device(void *arg)
{
	struct race *r = arg;
	for (unsigned i = 0; i < r->rounds; i++) {
		pthread_barrier_wait(&r->go);
		virtio_pci_config_changed(&r->f->vp);
		pthread_barrier_wait(&r->done);
	}
	return NULL;
}

static void test_intx_raise_during_isr_read(void **state)
{
	(void)state;
	struct race r = {.f = fx_new(), .rounds = 100000};
	assert_true(negotiate(r.f, 1ull << 32));
	wr(r.f, 0x14, 1, 15);
	pthread_barrier_init(&r.go, NULL, 2);
	pthread_barrier_init(&r.done, NULL, 2);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, race_device, &r), 0);
	unsigned lost = 0;
	for (unsigned i = 0; i < r.rounds; i++) {
		virtio_pci_config_changed(&r.f->vp); /* an interrupt already pending */
		pthread_barrier_wait(&r.go);
		rd(r.f, 0x1000, 1);
		pthread_barrier_wait(&r.done);
		if (__atomic_load_n(&r.f->vp.isr, __ATOMIC_SEQ_CST) &&
		    !__atomic_load_n(&r.f->d.pci.intx_level, __ATOMIC_SEQ_CST))
			lost++;
		rd(r.f, 0x1000, 1);
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&r.go);
	pthread_barrier_destroy(&r.done);
	assert_int_equal(lost, 0);
}

static void test_reset_and_again(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_true(negotiate(f, 1ull << 32));
	setup_queue0(f, 0xffff, DESC);
	wr(f, 0x14, 1, 15);
	submit(f);
	assert_true(wait_used(f, 1));
	wr(f, 0x14, 1, 0); /* the driver unloads */
	assert_int_equal(rd(f, 0x14, 1), 0);
	wr(f, 0x16, 2, 0);
	assert_int_equal(rd(f, 0x1c, 2), 0);
	assert_int_equal(rd(f, 0x20, 8), 0);
	/* ... and loads again, with fresh rings. */
	memset(f->ram + AVAIL, 0, 0x2000);
	f->avail_idx = 0;
	assert_true(negotiate(f, 1ull << 32));
	setup_queue0(f, 0xffff, DESC);
	wr(f, 0x14, 1, 15);
	submit(f);
	assert_true(wait_used(f, 1));
	assert_memory_equal(f->ram + BUF_IN, "hello", 5);
}

static void test_hostile_rings(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	assert_true(negotiate(f, 1ull << 32));
	/* Descriptor table outside guest RAM: the queue stays off and the
	 * device asks for a reset. */
	setup_queue0(f, 0xffff, RAM + 0x1000);
	assert_int_equal(rd(f, 0x1c, 2), 0);
	assert_true(rd(f, 0x14, 1) & 64);
	wr(f, 0x14, 1, 0);
	assert_int_equal(rd(f, 0x14, 1), 0);
	/* A descriptor pointing outside RAM: broken queue, NEEDS_RESET, and
	 * nothing was written into RAM. */
	assert_true(negotiate(f, 1ull << 32));
	setup_queue0(f, 0xffff, DESC);
	wr(f, 0x14, 1, 15);
	put_desc(f, 0, RAM - 2, 5, 0, 0);
	uint16_t head = 0;
	memcpy(f->ram + AVAIL + 4, &head, 2);
	__atomic_store_n((uint16_t *)(f->ram + AVAIL + 2), 1, __ATOMIC_RELEASE);
	wr(f, 0x3000, 2, 0);
	for (int i = 0; i < 2000 && !(rd(f, 0x14, 1) & 64); i++)
		usleep(1000);
	assert_true(rd(f, 0x14, 1) & 64);
	assert_int_equal(used_idx(f), 0);
}

/* A device whose queue 0 the test serves itself (the model's
 * `unserved`), with MSI-X on. */
static struct fx *fx_model_driven(void)
{
	static struct virtio_model m;
	m = model;
	m.unserved = 1u << 0;
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	fixtures[nfixtures++ % 16] = f;
	int memfd = memfd_create("ram", 0);
	assert_int_equal(ftruncate(memfd, RAM), 0);
	f->ram = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	f->d.ops = &ops;
	f->d.control_fd = -1;
	f->d.fds[0] = memfd;
	f->d.nfds = 1;
	Cellvm__Setup s = CELLVM__SETUP__INIT;
	s.guest_memory_fd = 0;
	s.guest_memory_size = RAM;
	assert_int_equal(virtio_pci_init(&f->vp, &f->d, &s, &m, NULL), 0);
	return f;
}

/* Serves the one request submit() offered, as a model does. */
static void serve_one(struct fx *f)
{
	struct virtqueue *vq = virtio_pci_queue_begin(&f->vp, 0);
	assert_non_null(vq);
	struct iovec out[4], in[4];
	struct vq_req req = {.out = out, .in = in, .out_cap = 4, .in_cap = 4};
	assert_int_equal(vq_pop(vq, &req), 1);
	assert_int_equal(vq_push(vq, req.head, 7), 0);
	virtio_pci_queue_end(&f->vp, 0);
}

/* A queue the model serves itself: nothing before DRIVER_OK; then pop,
 * push, and the end call publishes and interrupts. */
static void test_model_driven_queue(void **state)
{
	(void)state;
	struct fx *f = fx_model_driven();
	assert_null(virtio_pci_queue_begin(&f->vp, 0));
	assert_true(negotiate(f, 1ull << 32));
	device_pci_config_write(&f->d, f->d.pci.msix_cap + 2, 2, 0x8000);
	setup_queue0(f, 2, DESC);
	assert_null(virtio_pci_queue_begin(&f->vp, 0)); /* no DRIVER_OK yet */
	wr(f, 0x14, 1, 15);
	submit(f);
	usleep(20000);
	assert_int_equal(used_idx(f), 0); /* no thread serves it */
	assert_true(virtio_pci_kick_fd(&f->vp, 0) >= 0);
	serve_one(f);
	assert_int_equal(used_idx(f), 1);
	assert_true(fd_signalled(f->d.pci.msix_fds[2]));
	assert_null(virtio_pci_queue_begin(&f->vp, 5)); /* no such queue */
}

static bool fd_signalled_now(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t n;
	return poll(&p, 1, 0) == 1 && read(fd, &n, sizeof(n)) == sizeof(n);
}

/* A model-driven device, driver up with MSI-X, queue 0 moderated at GAP. */
static struct fx *fx_moderated(uint64_t gap)
{
	struct fx *f = fx_model_driven();
	assert_true(negotiate(f, 1ull << 32));
	device_pci_config_write(&f->d, f->d.pci.msix_cap + 2, 2, 0x8000);
	setup_queue0(f, 2, DESC);
	wr(f, 0x14, 1, 15);
	virtio_pci_set_irq_gap(&f->vp, 0, gap);
	return f;
}

/* Interrupt moderation: the first completion interrupts at once; one
 * within the gap is published at once but its interrupt held until the
 * model releases it when due; a held interrupt the guest no longer wants
 * (VIRTQ_AVAIL_F_NO_INTERRUPT by then) is dropped. */
static void test_irq_gap_holds_interrupts(void **state)
{
	(void)state;
	const uint64_t gap = 10ull * 1000000000; /* no test run is this slow */
	struct fx *f = fx_moderated(gap);
	int irq = f->d.pci.msix_fds[2];

	uint64_t t0 = virtio_pci_now_ns();
	submit(f);
	serve_one(f);
	assert_int_equal(used_idx(f), 1);
	assert_true(fd_signalled_now(irq)); /* after a quiet spell: at once */
	assert_int_equal(virtio_pci_queue_held_until(&f->vp, 0), 0);

	submit(f);
	serve_one(f);
	assert_int_equal(used_idx(f), 2); /* published at once */
	assert_false(fd_signalled_now(irq));
	uint64_t due = virtio_pci_queue_held_until(&f->vp, 0);
	assert_true(due >= t0 + gap && due <= virtio_pci_now_ns() + gap);
	assert_false(virtio_pci_queue_release_held(&f->vp, 0, due - 1));
	assert_false(fd_signalled_now(irq));
	assert_true(virtio_pci_queue_release_held(&f->vp, 0, due));
	assert_true(fd_signalled_now(irq));
	assert_int_equal(virtio_pci_queue_held_until(&f->vp, 0), 0);

	/* Within the gap again (the release counts as the last interrupt). */
	submit(f);
	serve_one(f);
	due = virtio_pci_queue_held_until(&f->vp, 0);
	assert_true(due != 0);
	__atomic_store_n((uint16_t *)(f->ram + AVAIL), VIRTQ_AVAIL_F_NO_INTERRUPT,
			 __ATOMIC_RELEASE);
	assert_false(virtio_pci_queue_release_held(&f->vp, 0, due));
	assert_false(fd_signalled_now(irq));
	assert_int_equal(virtio_pci_queue_held_until(&f->vp, 0), 0);
	assert_int_equal(used_idx(f), 3);
}

/* The model's hold (virtio_pci_queue_hold_irq) keeps a completion's
 * interrupt until its next release, which sends it when nothing else
 * served the queue; an interrupt of another queue that served this one
 * (virtio_pci_queue_irq_served) moves the release to its gap's end. */
static void test_irq_hold_and_served(void **state)
{
	(void)state;
	const uint64_t gap = 10ull * 1000000000;
	struct fx *f = fx_moderated(gap);
	int irq = f->d.pci.msix_fds[2];

	virtio_pci_queue_hold_irq(&f->vp, 0);
	submit(f);
	serve_one(f);
	assert_int_equal(used_idx(f), 1); /* published at once */
	assert_false(fd_signalled_now(irq));
	uint64_t now = virtio_pci_now_ns();
	assert_true(virtio_pci_queue_held_until(&f->vp, 0) <= now);
	assert_true(virtio_pci_queue_release_held(&f->vp, 0, now));
	assert_true(fd_signalled_now(irq));

	/* Served by another queue's interrupt at T (a time after this one's
	 * gap): held until T + gap, then sent, the guest still wanting it. */
	uint64_t t = now + 2 * gap;
	virtio_pci_queue_hold_irq(&f->vp, 0);
	submit(f);
	serve_one(f);
	assert_int_equal(used_idx(f), 2);
	virtio_pci_queue_irq_served(&f->vp, 0, t);
	assert_false(virtio_pci_queue_release_held(&f->vp, 0, t));
	assert_int_equal(virtio_pci_queue_held_until(&f->vp, 0), t + gap);
	assert_false(virtio_pci_queue_release_held(&f->vp, 0, t + gap - 1));
	assert_false(fd_signalled_now(irq));
	assert_true(virtio_pci_queue_release_held(&f->vp, 0, t + gap));
	assert_true(fd_signalled_now(irq));
	assert_int_equal(virtio_pci_queue_held_until(&f->vp, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pci_identity),
		cmocka_unit_test(test_ram_mapping_asks_huge_pages),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_request_msix),
		cmocka_unit_test(test_request_intx),
		cmocka_unit_test(test_intx_raise_during_isr_read),
		cmocka_unit_test(test_reset_and_again),
		cmocka_unit_test(test_hostile_rings),
		cmocka_unit_test(test_model_driven_queue),
		cmocka_unit_test(test_irq_gap_holds_interrupts),
		cmocka_unit_test(test_irq_hold_and_served),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
