/* Split virtqueue tests: the test plays the guest driver on a fake guest RAM
 * (1 MiB at GPA 0, 64 KiB at GPA 4 GiB) and checks what the device side
 * makes of well-formed and hostile rings. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "devices/virtio/guest_mem.h"
#include "devices/virtio/virtqueue.h"
#include "vmm-core/layout.h"

#define RAM_SIZE (1u << 20)
#define HIGH_SIZE (64u << 10)
#define DESC_GPA 0x10000ull
#define AVAIL_GPA 0x20000ull
#define USED_GPA 0x30000ull
#define BUF_GPA 0x40000ull  /* buffers from here on */
#define TABLE_GPA 0x80000ull /* indirect tables from here on */

struct fx {
	uint8_t *ram, *high;
	struct guest_mem mem;
	struct virtqueue vq;
	struct vq_config cfg;
	uint16_t avail_idx; /* the driver's shadow */
	struct iovec out[VQ_MAX_SEGS], in[VQ_MAX_SEGS];
	struct vq_req req;
};

static struct fx *fx_new(uint16_t size, bool event_idx, bool indirect)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->ram = calloc(1, RAM_SIZE);
	f->high = calloc(1, HIGH_SIZE);
	assert_non_null(f->ram);
	assert_non_null(f->high);
	guest_mem_init(&f->mem);
	assert_int_equal(guest_mem_add(&f->mem, f->ram, 0, RAM_SIZE), 0);
	assert_int_equal(guest_mem_add(&f->mem, f->high, GUEST_HIGH_RAM, HIGH_SIZE), 0);
	vq_init(&f->vq, 3, &f->mem);
	f->cfg = (struct vq_config){ .size = size, .desc = DESC_GPA, .avail = AVAIL_GPA,
				     .used = USED_GPA, .event_idx = event_idx,
				     .indirect = indirect };
	assert_int_equal(vq_enable(&f->vq, &f->cfg), 0);
	f->req = (struct vq_req){ .out = f->out, .in = f->in, .out_cap = VQ_MAX_SEGS,
				  .in_cap = VQ_MAX_SEGS };
	return f;
}

static void fx_free(struct fx *f)
{
	free(f->ram);
	free(f->high);
	free(f);
}

static void *gpa(struct fx *f, uint64_t a)
{
	return f->ram + a;
}

static void put16(struct fx *f, uint64_t a, uint16_t v)
{
	memcpy(gpa(f, a), &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t a)
{
	uint16_t v;
	memcpy(&v, gpa(f, a), 2);
	return v;
}

static uint32_t get32(struct fx *f, uint64_t a)
{
	uint32_t v;
	memcpy(&v, gpa(f, a), 4);
	return v;
}

/* Descriptor i of the table at GPA `table`. */
static void set_desc_at(struct fx *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	uint8_t *p = gpa(f, table + 16ull * i);
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void set_desc(struct fx *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* Make head available, as the driver does: ring entry, then idx. */
static void offer(struct fx *f, uint16_t head)
{
	put16(f, AVAIL_GPA + 4 + 2 * (f->avail_idx % f->cfg.size), head);
	f->avail_idx++;
	put16(f, AVAIL_GPA + 2, f->avail_idx);
}

static void set_used_event(struct fx *f, uint16_t v)
{
	put16(f, AVAIL_GPA + 4 + 2 * f->cfg.size, v);
}

static uint16_t used_idx(struct fx *f)
{
	return get16(f, USED_GPA + 2);
}

/* The pop must fail with err, leave the queue broken with a message that
 * contains `words`, and every later pop must fail without looping. */
static void expect_guest_error(struct fx *f, int err, const char *words)
{
	assert_int_equal(vq_pop(&f->vq, &f->req), err);
	assert_true(vq_is_broken(&f->vq));
	assert_non_null(strstr(vq_error(&f->vq), "virtqueue 3: "));
	if (!strstr(vq_error(&f->vq), words))
		fail_msg("error \"%s\" does not say \"%s\"", vq_error(&f->vq), words);
	assert_int_equal(vq_pop(&f->vq, &f->req), -EIO);
	assert_int_equal(vq_push(&f->vq, 0, 0), -EIO);
}

/* --- guest memory view ---------------------------------------------------- */

static void test_guest_mem_translate(void **state)
{
	(void)state;
	struct fx *f = fx_new(16, false, false);
	struct guest_mem *m = &f->mem;

	assert_ptr_equal(guest_mem_translate(m, 0, RAM_SIZE), f->ram);
	assert_ptr_equal(guest_mem_translate(m, 100, 28), f->ram + 100);
	assert_ptr_equal(guest_mem_translate(m, RAM_SIZE - 1, 1), f->ram + RAM_SIZE - 1);
	assert_null(guest_mem_translate(m, RAM_SIZE - 1, 2));	/* straddles the end */
	assert_null(guest_mem_translate(m, RAM_SIZE, 1));	/* in the gap */
	assert_null(guest_mem_translate(m, RAM_SIZE, GUEST_HIGH_RAM)); /* across the gap */
	assert_null(guest_mem_translate(m, 0, RAM_SIZE + 1));
	assert_ptr_equal(guest_mem_translate(m, GUEST_HIGH_RAM + 8, 8), f->high + 8);
	assert_null(guest_mem_translate(m, GUEST_HIGH_RAM - 1, 2));
	assert_null(guest_mem_translate(m, GUEST_HIGH_RAM + HIGH_SIZE - 4, 8));
	/* Sums that wrap around 2^64 must not pass. */
	assert_null(guest_mem_translate(m, UINT64_MAX - 3, 8));
	assert_null(guest_mem_translate(m, 16, UINT64_MAX));
	assert_null(guest_mem_translate(m, GUEST_HIGH_RAM + 16, UINT64_MAX - GUEST_HIGH_RAM));
	/* Overlapping, empty or wrapping regions are refused. */
	assert_int_equal(guest_mem_add(m, f->ram, RAM_SIZE - 1, 16), -EINVAL);
	assert_int_equal(guest_mem_add(m, f->ram, 0x2000000, 0), -EINVAL);
	assert_int_equal(guest_mem_add(m, f->ram, UINT64_MAX - 4, 16), -EINVAL);
	fx_free(f);
}

static void test_guest_mem_cellvm_layout(void **state)
{
	(void)state;
	uint64_t size = GUEST_PCI_HOLE + (1ull << 20);
	/* Only reserved address space: the view never touches it. */
	uint8_t *map = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	struct guest_mem m;

	assert_true(map != MAP_FAILED);
	assert_int_equal(guest_mem_init_ram(&m, map, size), 0);
	assert_int_equal(m.nr, 2);
	assert_ptr_equal(guest_mem_translate(&m, GUEST_PCI_HOLE - 4096, 4096),
			 map + GUEST_PCI_HOLE - 4096);
	assert_null(guest_mem_translate(&m, GUEST_PCI_HOLE - 4096, 8192));
	assert_null(guest_mem_translate(&m, GUEST_PCI_HOLE, 1));
	assert_ptr_equal(guest_mem_translate(&m, GUEST_HIGH_RAM, 1 << 20), map + GUEST_PCI_HOLE);
	assert_null(guest_mem_translate(&m, GUEST_HIGH_RAM + 1, 1 << 20));
	/* Small guests have one region. */
	assert_int_equal(guest_mem_init_ram(&m, map, 64 << 20), 0);
	assert_int_equal(m.nr, 1);
	assert_null(guest_mem_translate(&m, GUEST_HIGH_RAM, 1));
	munmap(map, size);
}

/* --- well-formed requests ----------------------------------------------- */

static void test_single_descriptor(void **state)
{
	(void)state;
	struct fx *f = fx_new(16, false, false);

	assert_int_equal(vq_pop(&f->vq, &f->req), 0);
	set_desc(f, 5, BUF_GPA, 512, 0, 0);
	offer(f, 5);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 5);
	assert_int_equal(f->req.out_num, 1);
	assert_int_equal(f->req.in_num, 0);
	assert_ptr_equal(f->req.out[0].iov_base, gpa(f, BUF_GPA));
	assert_int_equal(f->req.out[0].iov_len, 512);
	assert_int_equal(f->req.out_bytes, 512);
	assert_int_equal(vq_pop(&f->vq, &f->req), 0);
	assert_false(vq_is_broken(&f->vq));
	fx_free(f);
}

/* A device that cannot finish what it popped gives it back: the next pops
 * return the same heads, in order. */
static void test_unpop(void **state)
{
	(void)state;
	struct fx *f = fx_new(16, false, false);

	set_desc(f, 3, BUF_GPA, 64, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, 4, BUF_GPA + 64, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 3);
	offer(f, 4);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 4);
	assert_int_equal(vq_unpop(&f->vq, 3), -EINVAL); /* only 2 in flight */
	assert_int_equal(vq_unpop(&f->vq, 2), 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(vq_unpop(&f->vq, 1), 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 3);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 4);
	assert_int_equal(vq_push(&f->vq, 3, 10), 0);
	assert_int_equal(vq_push(&f->vq, 4, 10), 0);
	assert_int_equal(vq_push(&f->vq, 4, 10), -EINVAL); /* nothing left in flight */
	assert_int_equal(vq_pop(&f->vq, &f->req), 0);
	fx_free(f);
}

static void test_chain_read_then_write(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	/* A block request: header out, data out, data in, status in. */
	set_desc(f, 2, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 7);
	set_desc(f, 7, BUF_GPA + 0x1000, 4096, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, 0, GUEST_HIGH_RAM + 0x100, 200, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, 1, BUF_GPA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 2);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 2);
	assert_int_equal(f->req.out_num, 2);
	assert_int_equal(f->req.in_num, 2);
	assert_ptr_equal(f->req.out[0].iov_base, gpa(f, BUF_GPA));
	assert_ptr_equal(f->req.out[1].iov_base, gpa(f, BUF_GPA + 0x1000));
	assert_ptr_equal(f->req.in[0].iov_base, f->high + 0x100);
	assert_int_equal(f->req.in[0].iov_len, 200);
	assert_ptr_equal(f->req.in[1].iov_base, gpa(f, BUF_GPA + 0x3000));
	assert_int_equal(f->req.out_bytes, 4112);
	assert_int_equal(f->req.in_bytes, 201);
	fx_free(f);
}

static void test_zero_length_descriptor(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	/* An empty descriptor's address is never used, even when it is bogus. */
	set_desc(f, 0, 0xdead00000000ull, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.out_num, 0);
	assert_int_equal(f->req.in_num, 1);
	assert_int_equal(f->req.in_bytes, 8);
	fx_free(f);
}

static void test_indirect_table(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, true);

	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc_at(f, TABLE_GPA, 2, BUF_GPA + 0x100, 32, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc_at(f, TABLE_GPA, 1, BUF_GPA + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	/* The WRITE flag on the INDIRECT descriptor itself is ignored. */
	set_desc(f, 4, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	offer(f, 4);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 4);
	assert_int_equal(f->req.out_num, 1);
	assert_int_equal(f->req.in_num, 2);
	assert_ptr_equal(f->req.out[0].iov_base, gpa(f, BUF_GPA));
	assert_ptr_equal(f->req.in[0].iov_base, gpa(f, BUF_GPA + 0x100));
	assert_ptr_equal(f->req.in[1].iov_base, gpa(f, BUF_GPA + 0x200));
	assert_int_equal(f->req.in_bytes, 33);
	fx_free(f);
}

static void test_push_and_publish(void **state)
{
	(void)state;
	struct fx *f = fx_new(4, false, false);

	for (unsigned i = 0; i < 3; i++) {
		set_desc(f, i, BUF_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
		offer(f, i);
	}
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	/* Out of order completion, batched: nothing visible before publish. */
	assert_int_equal(vq_push(&f->vq, 2, 4), 0);
	assert_int_equal(vq_push(&f->vq, 0, 3), 0);
	assert_int_equal(used_idx(f), 0);
	vq_publish(&f->vq);
	assert_int_equal(used_idx(f), 2);
	assert_int_equal(get32(f, USED_GPA + 4), 2);
	assert_int_equal(get32(f, USED_GPA + 8), 4);
	assert_int_equal(get32(f, USED_GPA + 12), 0);
	assert_int_equal(get32(f, USED_GPA + 16), 3);
	assert_int_equal(vq_push(&f->vq, 1, 0), 0);
	vq_publish(&f->vq);
	assert_int_equal(used_idx(f), 3);
	/* The used ring wraps at the queue size. */
	for (unsigned round = 0; round < 3; round++) {
		offer(f, 3);
		assert_int_equal(vq_pop(&f->vq, &f->req), 1);
		assert_int_equal(vq_push(&f->vq, 3, 100 + round), 0);
		vq_publish(&f->vq);
	}
	assert_int_equal(used_idx(f), 6);
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 1), 3);	   /* entry 5 % 4 */
	assert_int_equal(get32(f, USED_GPA + 4 + 8 * 1 + 4), 102);
	fx_free(f);
}

static void test_push_misuse(void **state)
{
	(void)state;
	struct fx *f = fx_new(4, false, false);

	assert_int_equal(vq_push(&f->vq, 0, 0), -EINVAL); /* nothing popped */
	assert_non_null(strstr(vq_error(&f->vq), "no request in flight"));
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(vq_push(&f->vq, 4, 0), -EINVAL);
	assert_false(vq_is_broken(&f->vq));
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	assert_int_equal(vq_push(&f->vq, 0, 0), -EINVAL);
	fx_free(f);
}

/* --- interrupt and notification suppression ------------------------------ */

/* One request through the queue: offer, pop, push, publish. */
static void cycle(struct fx *f)
{
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(vq_push(&f->vq, 0, 0), 0);
	vq_publish(&f->vq);
}

static void test_need_event_rule(void **state)
{
	(void)state;
	assert_true(vq_need_event(0, 1, 0));
	assert_false(vq_need_event(1, 1, 0));
	assert_true(vq_need_event(5, 10, 3));
	assert_false(vq_need_event(2, 10, 3));
	assert_false(vq_need_event(10, 10, 3));
	/* Across the 16-bit wrap. */
	assert_true(vq_need_event(0xffff, 0x0001, 0xfffe));
	assert_true(vq_need_event(0x0000, 0x0001, 0xfffe));
	assert_false(vq_need_event(0x0001, 0x0001, 0xfffe));
	assert_false(vq_need_event(0xfffd, 0x0001, 0xfffe));
}

static void test_event_idx_notify(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, true, false);

	assert_false(vq_should_notify(&f->vq)); /* nothing published */
	set_used_event(f, 0);
	cycle(f);
	assert_true(vq_should_notify(&f->vq)); /* used idx 0 -> 1 passes event 0 */
	assert_false(vq_should_notify(&f->vq)); /* nothing new */
	set_used_event(f, 3);
	cycle(f);
	assert_false(vq_should_notify(&f->vq)); /* 1 -> 2 */
	/* The avail flags are ignored with EVENT_IDX. */
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	cycle(f);
	cycle(f);
	assert_true(vq_should_notify(&f->vq)); /* 2 -> 4 passes 3 */
	fx_free(f);
}

static void test_event_idx_wraparound(void **state)
{
	(void)state;
	struct fx *f = fx_new(4, true, false);

	/* Through 65534 requests, asking each time as a device does: only the
	 * one that passes used_event interrupts. */
	unsigned notified = 0;
	set_used_event(f, 0x7000);
	while (f->vq.published_idx != 0xfffe) {
		cycle(f);
		notified += vq_should_notify(&f->vq);
	}
	assert_int_equal(notified, 1);
	assert_false(vq_should_notify(&f->vq));
	set_used_event(f, 0xffff);
	cycle(f); /* 0xfffe -> 0xffff: entry 0xffff not yet written */
	assert_false(vq_should_notify(&f->vq));
	cycle(f); /* -> 0x0000 */
	assert_true(vq_should_notify(&f->vq));
	assert_int_equal(used_idx(f), 0);
	set_used_event(f, 1);
	cycle(f);
	assert_false(vq_should_notify(&f->vq));
	cycle(f);
	assert_true(vq_should_notify(&f->vq));
	fx_free(f);
}

static void test_no_interrupt_flag(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	cycle(f);
	assert_true(vq_should_notify(&f->vq));
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	cycle(f);
	assert_false(vq_should_notify(&f->vq));
	put16(f, AVAIL_GPA, 0);
	assert_false(vq_should_notify(&f->vq)); /* nothing new since */
	cycle(f);
	assert_true(vq_should_notify(&f->vq));
	fx_free(f);
}

static void test_no_notify_flag(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	vq_disable_notify(&f->vq);
	assert_int_equal(get16(f, USED_GPA), VIRTQ_USED_F_NO_NOTIFY);
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(get16(f, USED_GPA), 0);
	/* The race the helper is for: a buffer offered while disabled. */
	vq_disable_notify(&f->vq);
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	assert_true(vq_enable_notify(&f->vq));
	assert_int_equal(get16(f, USED_GPA), 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_false(vq_enable_notify(&f->vq));
	fx_free(f);
}

static void test_event_idx_enable_notify(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, true, false);
	uint64_t avail_event = USED_GPA + 4 + 8 * 8;

	put16(f, avail_event, 0x5555);
	vq_disable_notify(&f->vq);
	assert_int_equal(get16(f, USED_GPA), 0); /* flags unused with EVENT_IDX */
	cycle(f);
	cycle(f);
	assert_false(vq_enable_notify(&f->vq));
	assert_int_equal(get16(f, avail_event), 2); /* kick me at the next buffer */
	set_desc(f, 0, BUF_GPA, 4, 0, 0);
	offer(f, 0);
	assert_true(vq_enable_notify(&f->vq));
	fx_free(f);
}

/* --- hostile guests ---------------------------------------------------- */

static void test_desc_outside_ram(void **state)
{
	(void)state;
	static const struct {
		uint64_t addr;
		uint32_t len;
	} bad[] = {
		{ RAM_SIZE, 1 },			/* just past low RAM */
		{ RAM_SIZE - 8, 16 },			/* straddles its end */
		{ RAM_SIZE - 8, 0xffffffff },		/* straddles by far */
		{ GUEST_HIGH_RAM - 4, 8 },		/* straddles into high RAM */
		{ GUEST_HIGH_RAM + HIGH_SIZE - 1, 2 },	/* past high RAM */
		{ UINT64_MAX - 10, 4096 },		/* addr + len wraps */
		{ 0xfee00000, 4 },			/* MMIO, not RAM */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *f = fx_new(8, false, false);
		set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 7);
		set_desc(f, 7, bad[i].addr, bad[i].len, 0, 0);
		offer(f, 0);
		expect_guest_error(f, -EFAULT, "descriptor 7 addr 0x");
		assert_non_null(strstr(vq_error(&f->vq), "is outside guest RAM"));
		fx_free(f);
	}
}

static void test_next_out_of_range(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	set_desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 8);
	offer(f, 1);
	expect_guest_error(f, -EPROTO, "next 8");
	fx_free(f);
}

static void test_head_out_of_range(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	offer(f, 9);
	expect_guest_error(f, -EPROTO, "names descriptor 9");
	fx_free(f);
}

static void test_loops(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	set_desc(f, 3, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 3);
	offer(f, 3);
	expect_guest_error(f, -ELOOP, "longer than its queue");
	fx_free(f);

	/* A longer cycle that does not come back to the head. */
	f = fx_new(8, false, false);
	set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, 3, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	offer(f, 0);
	expect_guest_error(f, -ELOOP, "a loop?");
	fx_free(f);

	/* A cycle of empty descriptors makes no segments but still ends. */
	f = fx_new(8, false, false);
	set_desc(f, 0, 0, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, 0, 0, VIRTQ_DESC_F_NEXT, 0);
	offer(f, 0);
	expect_guest_error(f, -ELOOP, "a loop?");
	fx_free(f);

	/* A chain using every descriptor once is fine. */
	f = fx_new(8, false, false);
	for (unsigned i = 0; i < 8; i++)
		set_desc(f, i, BUF_GPA, 8, i < 7 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.out_num, 8);
	fx_free(f);
}

static void test_indirect_loops(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, true);

	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -ELOOP, "longer than its indirect table");
	fx_free(f);

	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(f, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc_at(f, TABLE_GPA, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 0, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -ELOOP, "indirect table (3 descriptors)");
	fx_free(f);

	/* next beyond the table, though inside the queue size. */
	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "indirect descriptor 0 of head 0 has next 2");
	fx_free(f);
}

static void test_indirect_hostile(void **state)
{
	(void)state;
	struct fx *f;

	/* Nested tables. */
	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "INDIRECT inside an indirect table");
	fx_free(f);

	/* Lengths that are not a non-zero multiple of 16. */
	static const uint32_t bad_len[] = { 0, 8, 24, 17 };
	for (unsigned i = 0; i < 4; i++) {
		f = fx_new(8, false, true);
		set_desc(f, 0, TABLE_GPA, bad_len[i], VIRTQ_DESC_F_INDIRECT, 0);
		offer(f, 0);
		expect_guest_error(f, -EPROTO, "not a non-zero multiple of 16");
		fx_free(f);
	}

	/* The table itself outside RAM, or straddling its end. */
	f = fx_new(8, false, true);
	set_desc(f, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EFAULT, "indirect table of head 0");
	fx_free(f);

	/* Without the feature. */
	f = fx_new(8, false, false);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "not negotiated");
	fx_free(f);

	/* INDIRECT together with NEXT, which the spec forbids the driver. */
	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(f, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "both INDIRECT and NEXT");
	fx_free(f);

	/* An indirect table at the end of a direct chain. */
	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "not the head");
	fx_free(f);
}

static void test_readable_after_writable(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, true);

	set_desc(f, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "descriptor 1 is device-readable after a writable");
	fx_free(f);

	f = fx_new(8, false, true);
	set_desc_at(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc_at(f, TABLE_GPA, 1, BUF_GPA, 8, 0, 0);
	set_desc(f, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -EPROTO, "indirect descriptor 1 of head 0 is device-readable");
	fx_free(f);
}

static void test_avail_idx_jump(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);

	set_desc(f, 0, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	put16(f, AVAIL_GPA + 2, 1 + 9);
	expect_guest_error(f, -EPROTO, "moved from 1 to 10");
	fx_free(f);

	/* Backwards is a jump of nearly 2^16. */
	f = fx_new(8, false, false);
	put16(f, AVAIL_GPA + 2, 0xffff);
	expect_guest_error(f, -EPROTO, "more than the queue size 8");
	fx_free(f);

	/* Exactly a full ring is fine. */
	f = fx_new(8, false, false);
	set_desc(f, 0, BUF_GPA, 8, 0, 0);
	for (unsigned i = 0; i < 8; i++)
		offer(f, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(vq_pop(&f->vq, &f->req), 0);
	fx_free(f);
}

static void test_too_many_segments(void **state)
{
	(void)state;
	struct fx *f = fx_new(2048, false, true);
	unsigned n = VQ_MAX_SEGS + 1;

	/* A direct chain: the queue is large enough to hold it. */
	for (unsigned i = 0; i < n; i++)
		set_desc(f, i, BUF_GPA, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(f, 0);
	expect_guest_error(f, -E2BIG, "more than 1024 segments");
	fx_free(f);

	/* An indirect table longer than that, even of empty descriptors. */
	f = fx_new(8, false, true);
	for (unsigned i = 0; i < n; i++)
		set_desc_at(f, TABLE_GPA, i, 0, 0, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	set_desc(f, 0, TABLE_GPA, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_guest_error(f, -E2BIG, "has 1025 descriptors, more than 1024");
	fx_free(f);

	/* VQ_MAX_SEGS exactly is fine. */
	f = fx_new(8, false, true);
	n = VQ_MAX_SEGS;
	for (unsigned i = 0; i < n; i++)
		set_desc_at(f, TABLE_GPA, i, BUF_GPA, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	set_desc(f, 0, TABLE_GPA, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.out_num, VQ_MAX_SEGS);
	fx_free(f);

	/* More than the caller has room for. */
	f = fx_new(8, false, false);
	f->req.in_cap = 1;
	set_desc(f, 0, BUF_GPA, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, 1, BUF_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_guest_error(f, -E2BIG, "more than 1 writable segments");
	fx_free(f);
}

static void test_chain_over_4gib(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);
	/* A big region that is reserved only: the queue never touches buffers. */
	uint64_t big = 3ull << 31;
	void *map = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(map != MAP_FAILED);
	assert_int_equal(guest_mem_add(&f->mem, map, 1ull << 40, big), 0);
	set_desc(f, 0, 1ull << 40, 0x80000000u, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, 1ull << 40, 0x80000000u, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(f, 2, BUF_GPA, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_guest_error(f, -E2BIG, "longer than 4 GiB");
	munmap(map, big);
	fx_free(f);
}

/* --- configuration and reset ---------------------------------------------- */

static void expect_enable_error(struct fx *f, struct vq_config c, const char *words)
{
	vq_reset(&f->vq);
	assert_int_equal(vq_enable(&f->vq, &c), -EINVAL);
	assert_false(f->vq.ready);
	if (!strstr(vq_error(&f->vq), words))
		fail_msg("error \"%s\" does not say \"%s\"", vq_error(&f->vq), words);
}

static void test_bad_config(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, false, false);
	struct vq_config c = f->cfg;

	assert_int_equal(vq_enable(&f->vq, &c), -EINVAL);
	assert_non_null(strstr(vq_error(&f->vq), "already enabled"));

	static const uint16_t bad_size[] = { 0, 3, 6, 100, 32769, 40000, 65535 };
	for (unsigned i = 0; i < sizeof(bad_size) / sizeof(bad_size[0]); i++) {
		c = f->cfg;
		c.size = bad_size[i];
		expect_enable_error(f, c, "is not a power of two");
	}
	c = f->cfg;
	c.desc += 8;
	expect_enable_error(f, c, "descriptor table at 0x10008 is not 16-byte aligned");
	c = f->cfg;
	c.avail += 1;
	expect_enable_error(f, c, "available ring at 0x20001 is not 2-byte aligned");
	c = f->cfg;
	c.used += 2;
	expect_enable_error(f, c, "used ring at 0x30002 is not 4-byte aligned");
	c = f->cfg;
	c.used = RAM_SIZE - 68; /* 70 bytes: the last 2 past the end */
	expect_enable_error(f, c, "used ring at 0xfffbc size 70 is outside guest RAM");
	c = f->cfg;
	c.avail = RAM_SIZE - 6 - 2 * 8 + 2;
	expect_enable_error(f, c, "outside guest RAM");
	c = f->cfg;
	c.desc = GUEST_HIGH_RAM + HIGH_SIZE - 16 * 4;
	expect_enable_error(f, c, "descriptor table");
	c = f->cfg;
	c.desc = UINT64_MAX - 15;
	expect_enable_error(f, c, "outside guest RAM");

	/* Queue sizes 1 and 32768 are fine, the largest ring areas fitting. */
	vq_reset(&f->vq);
	c = (struct vq_config){ .size = 32768, .desc = 0, .avail = 0x80000, .used = 0x90000 };
	assert_int_equal(vq_enable(&f->vq, &c), 0);
	vq_reset(&f->vq);
	c = f->cfg;
	c.size = 1;
	assert_int_equal(vq_enable(&f->vq, &c), 0);

	/* Popping before enable is a misuse. */
	vq_reset(&f->vq);
	assert_int_equal(vq_pop(&f->vq, &f->req), -EINVAL);
	assert_false(vq_is_broken(&f->vq));
	fx_free(f);
}

static void test_reset_and_reconfigure(void **state)
{
	(void)state;
	struct fx *f = fx_new(8, true, false);

	cycle(f);
	cycle(f);
	put16(f, AVAIL_GPA + 2, 100);
	expect_guest_error(f, -EPROTO, "more than the queue size");

	/* The driver reloads: new rings elsewhere, zeroed, a different size. */
	vq_reset(&f->vq);
	assert_false(vq_is_broken(&f->vq));
	assert_string_equal(vq_error(&f->vq), "");
	assert_int_equal(vq_pop(&f->vq, &f->req), -EINVAL);
	memset(f->ram, 0, BUF_GPA);
	f->avail_idx = 0;
	f->cfg.size = 16;
	f->cfg.event_idx = false;
	assert_int_equal(vq_enable(&f->vq, &f->cfg), 0);
	assert_int_equal(vq_pop(&f->vq, &f->req), 0);
	set_desc(f, 12, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 12);
	assert_int_equal(vq_pop(&f->vq, &f->req), 1);
	assert_int_equal(f->req.head, 12);
	assert_int_equal(vq_push(&f->vq, 12, 8), 0);
	vq_publish(&f->vq);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(get32(f, USED_GPA + 4), 12);
	assert_true(vq_should_notify(&f->vq));
	fx_free(f);
}

/* --- a driver and a device on two threads ------------------------------------
 * The guest side runs as the Linux driver does: batches of requests, kick
 * only when the device asked (avail_event or NO_NOTIFY), wait for an
 * interrupt only after asking for one (used_event or clearing NO_INTERRUPT)
 * and checking again.  A lost kick or interrupt shows as a 5 s timeout. */

#define RACE_REQUESTS 200000u
#define RACE_SIZE 16u

struct race {
	struct fx *f;
	sem_t kick, irq;
	int done;	/* set by the driver when all completed */
	int timeouts;	/* waits that timed out, on either side */
	int bad;	/* wrong completions or device errors */
};

static bool wait5(struct race *r, sem_t *s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	while (sem_timedwait(s, &ts) != 0) {
		if (errno != EINTR) {
			__atomic_add_fetch(&r->timeouts, 1, __ATOMIC_SEQ_CST);
			return false;
		}
	}
	return true;
}

static uint16_t *g16(struct fx *f, uint64_t a)
{
	return (uint16_t *)gpa(f, a);
}

static void *race_device(void *arg)
{
	struct race *r = arg;
	struct fx *f = r->f;
	struct vq_req req = { .out = f->out, .in = f->in, .out_cap = 4, .in_cap = 4 };

	while (!__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
		if (!wait5(r, &r->kick))
			return NULL;
		for (;;) {
			int ret;
			vq_disable_notify(&f->vq);
			while ((ret = vq_pop(&f->vq, &req)) > 0) {
				/* The driver asks for head + 1 bytes to be written. */
				if (req.in_num != 1 || req.in_bytes != req.head + 1u)
					__atomic_add_fetch(&r->bad, 1, __ATOMIC_SEQ_CST);
				vq_push(&f->vq, req.head, req.head + 1);
			}
			vq_publish(&f->vq);
			if (vq_should_notify(&f->vq))
				sem_post(&r->irq);
			if (ret < 0) {
				__atomic_add_fetch(&r->bad, 1, __ATOMIC_SEQ_CST);
				return NULL;
			}
			if (!vq_enable_notify(&f->vq))
				break;
		}
	}
	return NULL;
}

/* The driver: heads are reused as they complete, each request one writable
 * descriptor of head + 1 bytes. */
static void race_driver(struct race *r, bool event_idx)
{
	struct fx *f = r->f;
	uint16_t heads[RACE_SIZE], nfree = RACE_SIZE, avail = 0, last_used = 0;
	uint32_t submitted = 0, completed = 0;
	uint16_t *avail_idx = g16(f, AVAIL_GPA + 2), *used_idx_p = g16(f, USED_GPA + 2);
	uint16_t *avail_flags = g16(f, AVAIL_GPA), *used_flags = g16(f, USED_GPA);
	uint16_t *used_event = g16(f, AVAIL_GPA + 4 + 2 * RACE_SIZE);
	uint16_t *avail_event = g16(f, USED_GPA + 4 + 8 * RACE_SIZE);

	for (unsigned i = 0; i < RACE_SIZE; i++)
		heads[i] = i;
	if (!event_idx)
		__atomic_store_n(avail_flags, VIRTQ_AVAIL_F_NO_INTERRUPT, __ATOMIC_RELAXED);
	while (completed < RACE_REQUESTS) {
		/* Submit a batch of up to 5. */
		uint16_t old = avail;
		for (unsigned n = 0; n < 5 && nfree && submitted < RACE_REQUESTS; n++, submitted++) {
			uint16_t h = heads[--nfree];
			set_desc(f, h, BUF_GPA + 64 * h, h + 1, VIRTQ_DESC_F_WRITE, 0);
			__atomic_store_n(g16(f, AVAIL_GPA + 4 + 2 * (avail % RACE_SIZE)), h,
					 __ATOMIC_RELAXED);
			avail++;
		}
		if (avail != old) {
			__atomic_store_n(avail_idx, avail, __ATOMIC_RELEASE);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			bool kick = event_idx ? vq_need_event(__atomic_load_n(avail_event,
									  __ATOMIC_RELAXED),
							      avail, old)
					      : !(__atomic_load_n(used_flags, __ATOMIC_RELAXED) &
						  VIRTQ_USED_F_NO_NOTIFY);
			if (kick)
				sem_post(&r->kick);
		}
		/* Reap. */
		uint16_t used = __atomic_load_n(used_idx_p, __ATOMIC_ACQUIRE);
		if (used == last_used && (!nfree || submitted == RACE_REQUESTS)) {
			/* Nothing to do: ask for an interrupt, check again, sleep. */
			if (event_idx)
				__atomic_store_n(used_event, last_used, __ATOMIC_RELAXED);
			else
				__atomic_store_n(avail_flags, 0, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			used = __atomic_load_n(used_idx_p, __ATOMIC_ACQUIRE);
			if (used == last_used && !wait5(r, &r->irq))
				break;
			if (!event_idx)
				__atomic_store_n(avail_flags, VIRTQ_AVAIL_F_NO_INTERRUPT,
						 __ATOMIC_RELAXED);
			continue;
		}
		for (; last_used != used; last_used++) {
			uint32_t id = get32(f, USED_GPA + 4 + 8 * (last_used % RACE_SIZE));
			uint32_t len = get32(f, USED_GPA + 8 + 8 * (last_used % RACE_SIZE));
			if (id >= RACE_SIZE || len != id + 1) {
				__atomic_add_fetch(&r->bad, 1, __ATOMIC_SEQ_CST);
				id = 0;
			}
			heads[nfree++] = id;
			completed++;
		}
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	sem_post(&r->kick);
}

static void race_run(bool event_idx)
{
	struct race r = { .f = fx_new(RACE_SIZE, event_idx, false) };
	pthread_t dev;

	sem_init(&r.kick, 0, 0);
	sem_init(&r.irq, 0, 0);
	assert_int_equal(pthread_create(&dev, NULL, race_device, &r), 0);
	race_driver(&r, event_idx);
	if (r.timeouts) /* unstick the device so that it can be joined */
		__atomic_store_n(&r.done, 1, __ATOMIC_RELEASE), sem_post(&r.kick);
	pthread_join(dev, NULL);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.timeouts, 0);
	assert_false(vq_is_broken(&r.f->vq));
	assert_int_equal(used_idx(r.f), (uint16_t)RACE_REQUESTS);
	sem_destroy(&r.kick);
	sem_destroy(&r.irq);
	fx_free(r.f);
}

static void test_two_threads_event_idx(void **state)
{
	(void)state;
	race_run(true);
}

static void test_two_threads_flags(void **state)
{
	(void)state;
	race_run(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guest_mem_translate),
		cmocka_unit_test(test_guest_mem_cellvm_layout),
		cmocka_unit_test(test_single_descriptor),
		cmocka_unit_test(test_unpop),
		cmocka_unit_test(test_chain_read_then_write),
		cmocka_unit_test(test_zero_length_descriptor),
		cmocka_unit_test(test_indirect_table),
		cmocka_unit_test(test_push_and_publish),
		cmocka_unit_test(test_push_misuse),
		cmocka_unit_test(test_need_event_rule),
		cmocka_unit_test(test_event_idx_notify),
		cmocka_unit_test(test_event_idx_wraparound),
		cmocka_unit_test(test_no_interrupt_flag),
		cmocka_unit_test(test_no_notify_flag),
		cmocka_unit_test(test_event_idx_enable_notify),
		cmocka_unit_test(test_desc_outside_ram),
		cmocka_unit_test(test_next_out_of_range),
		cmocka_unit_test(test_head_out_of_range),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_indirect_loops),
		cmocka_unit_test(test_indirect_hostile),
		cmocka_unit_test(test_readable_after_writable),
		cmocka_unit_test(test_avail_idx_jump),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_chain_over_4gib),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_reset_and_reconfigure),
		cmocka_unit_test(test_two_threads_event_idx),
		cmocka_unit_test(test_two_threads_flags),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
