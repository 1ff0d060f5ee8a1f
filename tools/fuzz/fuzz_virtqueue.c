/* libFuzzer harness: the split virtqueue library (devices/virtio/virtqueue.c)
 * against a guest whose RAM and queue configuration are the fuzzer's bytes.
 *
 * Guest RAM is two regions as in cellvm's layout: LOW_SIZE bytes at GPA 0 and
 * HIGH_SIZE bytes at GPA 4 GiB, each its own heap allocation of exactly that
 * size, so any access past a region lands in an ASan redzone.
 *
 * One input:
 *
 *   bytes 0-1   u16 size: with CFG_RAW_SIZE the queue size as is (most are
 *               invalid), else 1 << (size % 9)
 *   byte  2     CFG_* flags
 *   byte  3     number of operations
 *   bytes 4-9   u16 desc, avail, used: the areas' GPAs (gpa_of())
 *   bytes 10-11 iovec room for out and in segments with CFG_SMALL_CAPS (% 8),
 *               else VQ_MAX_SEGS each
 *   then        4 bytes per operation: op, a, b, c (see the OP_* list)
 *   then        guest RAM: low RAM from GPA 0, then high RAM; the rest zero
 *
 * Invariants checked (abort on violation):
 *  - vq_enable returns 0 or -EINVAL with a message;
 *  - vq_pop returns 1, 0 or one of its documented errors; a guest error
 *    leaves the queue broken with a message and later pops fail with -EIO;
 *  - a popped request has head < size, segment counts within the caller's
 *    room, non-empty segments wholly inside one RAM region, and byte totals
 *    that are the sum of the segments, at most 4 GiB; every segment is read
 *    (out) or written (in) in full, so ASan sees any bad pointer;
 *  - no library call writes guest RAM outside the used ring;
 *  - after vq_publish, used->idx is what the library says it published;
 *  - without guest activity, a round of pops ends within queue-size
 *    successes (no loop);
 *  - vq_push of a popped head succeeds unless the queue is broken or raw
 *    pushes used up the in-flight count.
 *
 * CELLVM_FUZZ_VIRTQUEUE_TRACE=1 prints each operation and its result.
 * CELLVM_FUZZ_VIRTQUEUE_WRITE_SEEDS=DIR writes the seed corpus (tools/fuzz/
 * corpus/virtqueue) into DIR and exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/fuzz/harness_common.h"
#include "devices/virtio/guest_mem.h"
#include "devices/virtio/virtqueue.h"
#include "vmm-core/layout.h"

#define LOW_SIZE (16u << 10)
#define HIGH_SIZE (4u << 10)
#define HDR_SIZE 12
#define MAX_HEADS 4096

enum {
	CFG_EVENT_IDX = 1,
	CFG_INDIRECT = 2,
	CFG_RAW_SIZE = 4,
	CFG_SMALL_CAPS = 8,
};

enum {
	OP_POP,	       /* pop one request */
	OP_PUSH,       /* push popped head number a % count, written len b << c */
	OP_PUBLISH,    /* vq_publish */
	OP_NOTIFY,     /* vq_should_notify */
	OP_DISABLE,    /* vq_disable_notify */
	OP_ENABLE,     /* vq_enable_notify */
	OP_POKE,       /* the guest writes byte c at RAM offset a | b << 8 */
	OP_KICK,       /* the guest adds 1 + a % 4 to avail->idx */
	OP_DRAIN,      /* disable, pop all, enable, repeat: the device's loop */
	OP_RESET,      /* vq_reset and enable again, event_idx toggled by a & 1 */
	OP_PUSH_RAW,   /* vq_push of head a | b << 8 as given */
	OP_COUNT,
};

#define CHECK FUZZ_CHECK

struct harness {
	uint8_t *low, *high;
	uint8_t snap_low[LOW_SIZE], snap_high[HIGH_SIZE];
	struct guest_mem mem;
	struct virtqueue vq;
	struct vq_config cfg;
	bool enabled;
	struct iovec out[VQ_MAX_SEGS], in[VQ_MAX_SEGS];
	unsigned out_cap, in_cap;
	uint16_t heads[MAX_HEADS]; /* popped, not yet pushed (the first ones) */
	unsigned nheads;
	uint64_t sink;
};

static uint64_t gpa_of(uint16_t v)
{
	/* High bit: into (and past) high RAM; else low RAM and a little past. */
	return (v & 0x8000) ? GUEST_HIGH_RAM + (v & 0x7fff) : v;
}

static void snapshot(struct harness *h)
{
	memcpy(h->snap_low, h->low, LOW_SIZE);
	memcpy(h->snap_high, h->high, HIGH_SIZE);
}

/* Every byte that changed since snapshot() must be in the used ring. */
static void check_writes(struct harness *h, const char *what)
{
	if (!memcmp(h->low, h->snap_low, LOW_SIZE) && !memcmp(h->high, h->snap_high, HIGH_SIZE))
		return;
	uint64_t used = h->cfg.used, end = used + 6 + 8ull * h->cfg.size;
	for (unsigned i = 0; i < LOW_SIZE; i++)
		if (h->low[i] != h->snap_low[i])
			CHECK(h->enabled && i >= used && i < end, "%s wrote low RAM at 0x%x", what, i);
	for (unsigned i = 0; i < HIGH_SIZE; i++)
		if (h->high[i] != h->snap_high[i])
			CHECK(h->enabled && GUEST_HIGH_RAM + i >= used && GUEST_HIGH_RAM + i < end,
			      "%s wrote high RAM at +0x%x", what, i);
}

static bool in_region(const uint8_t *base, size_t size, const struct iovec *v)
{
	const uint8_t *p = v->iov_base;
	return p >= base && p <= base + size && v->iov_len <= (size_t)(base + size - p);
}

static void check_segments(struct harness *h, const struct iovec *v, unsigned n, uint64_t bytes,
			   bool write)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		CHECK(v[i].iov_len > 0, "empty segment %u", i);
		CHECK(in_region(h->low, LOW_SIZE, &v[i]) || in_region(h->high, HIGH_SIZE, &v[i]),
		      "segment %u %p+%zu outside guest RAM", i, v[i].iov_base, v[i].iov_len);
		sum += v[i].iov_len;
		/* Touch it all: a bad pointer is then ASan's to report. */
		uint8_t *p = v[i].iov_base;
		for (size_t j = 0; j < v[i].iov_len; j++) {
			if (write)
				p[j] = (uint8_t)(j ^ 0x5a);
			else
				h->sink += p[j];
		}
	}
	CHECK(sum == bytes, "segments sum to %llu, request says %llu", (unsigned long long)sum,
	      (unsigned long long)bytes);
}

static const int pop_errors[] = { -EIO, -EFAULT, -ELOOP, -E2BIG, -EPROTO };

/* One vq_pop with its invariants; returns its result. */
static int pop_one(struct harness *h)
{
	struct vq_req req = { .out = h->out, .in = h->in, .out_cap = h->out_cap,
			      .in_cap = h->in_cap };
	bool was_broken = vq_is_broken(&h->vq);

	snapshot(h);
	int r = vq_pop(&h->vq, &req);
	check_writes(h, "vq_pop");
	FUZZ_TRACE("pop -> %d %s\n", r, r < 0 ? vq_error(&h->vq) : "");
	if (!h->enabled) {
		CHECK(r == -EINVAL, "pop on a disabled queue returned %d", r);
		return r;
	}
	if (was_broken) {
		CHECK(r == -EIO, "pop on a broken queue returned %d", r);
		return r;
	}
	if (r < 0) {
		bool known = false;
		for (unsigned i = 0; i < sizeof(pop_errors) / sizeof(pop_errors[0]); i++)
			known |= r == pop_errors[i];
		CHECK(known && r != -EIO, "pop returned %d", r);
		CHECK(vq_is_broken(&h->vq), "guest error %d did not break the queue", r);
		CHECK(vq_error(&h->vq)[0], "guest error %d without a message", r);
		return r;
	}
	CHECK(r == 0 || r == 1, "pop returned %d", r);
	if (r == 0)
		return 0;
	CHECK(req.head < h->cfg.size, "head %u", req.head);
	CHECK(req.out_num <= h->out_cap && req.in_num <= h->in_cap, "%u/%u segments",
	      req.out_num, req.in_num);
	CHECK(req.out_num + req.in_num <= VQ_MAX_SEGS, "%u segments", req.out_num + req.in_num);
	CHECK(req.out_bytes + req.in_bytes <= VQ_MAX_CHAIN_BYTES, "too long");
	check_segments(h, req.out, req.out_num, req.out_bytes, false);
	check_segments(h, req.in, req.in_num, req.in_bytes, true);
	if (h->nheads < MAX_HEADS)
		h->heads[h->nheads++] = req.head;
	return 1;
}

static void enable(struct harness *h)
{
	int r = vq_enable(&h->vq, &h->cfg);
	FUZZ_TRACE("enable size %u desc 0x%llx avail 0x%llx used 0x%llx ev %d ind %d -> %d %s\n",
	      h->cfg.size, (unsigned long long)h->cfg.desc, (unsigned long long)h->cfg.avail,
	      (unsigned long long)h->cfg.used, h->cfg.event_idx, h->cfg.indirect, r,
	      vq_error(&h->vq));
	CHECK(r == 0 || r == -EINVAL, "vq_enable returned %d", r);
	CHECK(r == 0 || vq_error(&h->vq)[0], "vq_enable failed without a message");
	h->enabled = r == 0;
	h->nheads = 0;
}

static void guest_write(struct harness *h, unsigned off, uint8_t v)
{
	off %= LOW_SIZE + HIGH_SIZE;
	if (off < LOW_SIZE)
		h->low[off] = v;
	else
		h->high[off - LOW_SIZE] = v;
}

static void run_op(struct harness *h, const uint8_t *op)
{
	unsigned a = op[1], b = op[2], c = op[3];
	int r;

	switch (op[0] % OP_COUNT) {
	case OP_POP:
		pop_one(h);
		break;
	case OP_PUSH:
		if (h->nheads == 0)
			break;
		{
			unsigned k = a % h->nheads;
			uint16_t head = h->heads[k];
			h->heads[k] = h->heads[--h->nheads];
			uint32_t inflight = h->vq.inflight;
			snapshot(h);
			r = vq_push(&h->vq, head, (uint32_t)b << (c % 32));
			check_writes(h, "vq_push");
			FUZZ_TRACE("push %u -> %d\n", head, r);
			/* OP_PUSH_RAW may have used up the in-flight count. */
			CHECK(r == 0 || (r == -EIO && vq_is_broken(&h->vq)) ||
				      (r == -EINVAL && inflight == 0),
			      "push returned %d", r);
			CHECK(r != 0 || h->vq.inflight == inflight - 1, "in flight %u -> %u", inflight,
			      h->vq.inflight);
		}
		break;
	case OP_PUSH_RAW:
		snapshot(h);
		r = vq_push(&h->vq, (uint16_t)(a | b << 8), c);
		check_writes(h, "vq_push");
		FUZZ_TRACE("push raw %u -> %d\n", a | b << 8, r);
		CHECK(r == 0 || r == -EINVAL || r == -EIO, "push returned %d", r);
		break;
	case OP_PUBLISH: {
		uint16_t before = h->vq.published_idx;
		snapshot(h);
		vq_publish(&h->vq);
		check_writes(h, "vq_publish");
		CHECK(!h->enabled || h->vq.published_idx == h->vq.used_idx, "publish left some out");
		if (h->enabled && h->vq.published_idx != before) {
			uint16_t idx;
			memcpy(&idx, guest_mem_translate(&h->mem, h->cfg.used + 2, 2), 2);
			CHECK(idx == h->vq.published_idx, "used idx %u, published %u", idx,
			      h->vq.published_idx);
		}
		break;
	}
	case OP_NOTIFY:
		snapshot(h);
		r = vq_should_notify(&h->vq);
		check_writes(h, "vq_should_notify");
		FUZZ_TRACE("notify -> %d\n", r);
		break;
	case OP_DISABLE:
		snapshot(h);
		vq_disable_notify(&h->vq);
		check_writes(h, "vq_disable_notify");
		break;
	case OP_ENABLE:
		snapshot(h);
		r = vq_enable_notify(&h->vq);
		check_writes(h, "vq_enable_notify");
		FUZZ_TRACE("enable_notify -> %d\n", r);
		break;
	case OP_POKE:
		guest_write(h, a | b << 8, (uint8_t)c);
		break;
	case OP_KICK:
		if (h->enabled) {
			uint8_t *p = guest_mem_translate(&h->mem, h->cfg.avail + 2, 2);
			uint16_t idx;
			memcpy(&idx, p, 2);
			idx += 1 + a % 4;
			memcpy(p, &idx, 2);
		}
		break;
	case OP_DRAIN:
		for (unsigned round = 0; round < 4; round++) {
			unsigned got = 0;
			snapshot(h);
			vq_disable_notify(&h->vq);
			check_writes(h, "vq_disable_notify");
			while ((r = pop_one(h)) > 0)
				CHECK(++got <= h->cfg.size, "more than %u pops in one round",
				      h->cfg.size);
			snapshot(h);
			bool more = vq_enable_notify(&h->vq);
			check_writes(h, "vq_enable_notify");
			if (r < 0 || !more)
				break;
		}
		break;
	case OP_RESET:
		vq_reset(&h->vq);
		CHECK(!vq_is_broken(&h->vq) && !vq_error(&h->vq)[0], "reset left state");
		h->enabled = false;
		h->cfg.event_idx ^= a & 1;
		enable(h);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[HDR_SIZE] = { 0 };
	memcpy(hdr, data, size < HDR_SIZE ? size : HDR_SIZE);
	data += size < HDR_SIZE ? size : HDR_SIZE;
	size -= size < HDR_SIZE ? size : HDR_SIZE;

	struct harness *h = calloc(1, sizeof(*h));
	h->low = calloc(1, LOW_SIZE);
	h->high = calloc(1, HIGH_SIZE);
	if (!h || !h->low || !h->high)
		abort();
	guest_mem_init(&h->mem);
	CHECK(guest_mem_add(&h->mem, h->low, 0, LOW_SIZE) == 0, "low");
	CHECK(guest_mem_add(&h->mem, h->high, GUEST_HIGH_RAM, HIGH_SIZE) == 0, "high");

	uint16_t raw_size = hdr[0] | hdr[1] << 8;
	uint8_t flags = hdr[2];
	h->cfg = (struct vq_config){
		.size = (flags & CFG_RAW_SIZE) ? raw_size : (uint16_t)(1u << (raw_size % 9)),
		.desc = gpa_of(hdr[4] | hdr[5] << 8),
		.avail = gpa_of(hdr[6] | hdr[7] << 8),
		.used = gpa_of(hdr[8] | hdr[9] << 8),
		.event_idx = flags & CFG_EVENT_IDX,
		.indirect = flags & CFG_INDIRECT,
	};
	h->out_cap = (flags & CFG_SMALL_CAPS) ? hdr[10] % 8 : VQ_MAX_SEGS;
	h->in_cap = (flags & CFG_SMALL_CAPS) ? hdr[11] % 8 : VQ_MAX_SEGS;

	size_t ops_len = 4 * (size_t)hdr[3];
	if (ops_len > size)
		ops_len = size & ~(size_t)3;
	const uint8_t *ops = data;
	data += ops_len;
	size -= ops_len;
	memcpy(h->low, data, size < LOW_SIZE ? size : LOW_SIZE);
	if (size > LOW_SIZE)
		memcpy(h->high, data + LOW_SIZE,
		       size - LOW_SIZE < HIGH_SIZE ? size - LOW_SIZE : HIGH_SIZE);

	vq_init(&h->vq, 0, &h->mem);
	enable(h);
	for (size_t i = 0; i < ops_len; i += 4)
		run_op(h, ops + i);

	free(h->low);
	free(h->high);
	free(h);
	return 0;
}

/* --- seed corpus ----------------------------------------------------------
 * Well-formed and hostile queues, built as a driver would lay them out. */

struct seed {
	uint8_t hdr[HDR_SIZE];
	uint8_t ops[4 * 255];
	unsigned nops;
	uint8_t ram[LOW_SIZE + HIGH_SIZE]; /* low RAM, then high RAM */
	uint16_t avail_idx;
};

/* Seed geometry: desc at 0x0, avail at 0x1000, used at 0x2000, buffers from
 * 0x3000, indirect tables at 0x3800. */
#define S_DESC 0x0000
#define S_AVAIL 0x1000
#define S_USED 0x2000
#define S_BUF 0x3000
#define S_TABLE 0x3800

static void s_hdr(struct seed *s, uint16_t size_sel, uint8_t flags)
{
	memset(s, 0, sizeof(*s));
	s->hdr[0] = size_sel & 0xff;
	s->hdr[1] = size_sel >> 8;
	s->hdr[2] = flags;
	s->hdr[4] = S_DESC & 0xff, s->hdr[5] = S_DESC >> 8;
	s->hdr[6] = S_AVAIL & 0xff, s->hdr[7] = S_AVAIL >> 8;
	s->hdr[8] = S_USED & 0xff, s->hdr[9] = S_USED >> 8;
}

static void s_op(struct seed *s, uint8_t op, uint8_t a, uint8_t b, uint8_t c)
{
	uint8_t *o = s->ops + 4 * s->nops++;
	o[0] = op, o[1] = a, o[2] = b, o[3] = c;
}

static void s_desc(struct seed *s, unsigned table, unsigned i, uint64_t addr, uint32_t len,
		   uint16_t flags, uint16_t next)
{
	uint8_t *p = s->ram + table + 16 * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Make head available (queue size n). */
static void s_offer(struct seed *s, unsigned n, uint16_t head)
{
	memcpy(s->ram + S_AVAIL + 4 + 2 * (s->avail_idx % n), &head, 2);
	s->avail_idx++;
	memcpy(s->ram + S_AVAIL + 2, &s->avail_idx, 2);
}

static void s_write(const struct seed *s, const char *dir, const char *name)
{
	size_t ram_len = sizeof(s->ram);
	while (ram_len && !s->ram[ram_len - 1])
		ram_len--;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f, "cannot create %s", path);
	uint8_t hdr[HDR_SIZE];
	memcpy(hdr, s->hdr, HDR_SIZE);
	hdr[3] = s->nops;
	fwrite(hdr, 1, HDR_SIZE, f);
	fwrite(s->ops, 4, s->nops, f);
	fwrite(s->ram, 1, ram_len, f);
	CHECK(fclose(f) == 0, "cannot write %s", path);
}

/* Pop everything, complete it, tell the guest: what a device does. */
static void s_serve(struct seed *s)
{
	s_op(s, OP_DRAIN, 0, 0, 0);
	for (unsigned i = 0; i < 4; i++)
		s_op(s, OP_PUSH, 0, 0x10, 2);
	s_op(s, OP_PUBLISH, 0, 0, 0);
	s_op(s, OP_NOTIFY, 0, 0, 0);
}

static void write_seeds(const char *dir)
{
	static struct seed s;
	const uint16_t F_NEXT = VIRTQ_DESC_F_NEXT, F_WRITE = VIRTQ_DESC_F_WRITE,
		       F_IND = VIRTQ_DESC_F_INDIRECT;

	mkdir(dir, 0755);
	/* size 8, one readable buffer */
	s_hdr(&s, 3, 0);
	s_desc(&s, S_DESC, 0, S_BUF, 64, 0, 0);
	s_offer(&s, 8, 0);
	s_op(&s, OP_POP, 0, 0, 0);
	s_op(&s, OP_PUSH, 0, 0, 0);
	s_op(&s, OP_PUBLISH, 0, 0, 0);
	s_op(&s, OP_NOTIFY, 0, 0, 0);
	s_write(&s, dir, "single");

	/* a block-like request: out header, out data, in data in high RAM, in status */
	s_hdr(&s, 4, CFG_EVENT_IDX);
	s_desc(&s, S_DESC, 2, S_BUF, 16, F_NEXT, 7);
	s_desc(&s, S_DESC, 7, S_BUF + 0x100, 512, F_NEXT, 0);
	s_desc(&s, S_DESC, 0, GUEST_HIGH_RAM + 0x80, 1024, F_NEXT | F_WRITE, 1);
	s_desc(&s, S_DESC, 1, S_BUF + 0x400, 1, F_WRITE, 0);
	s_offer(&s, 16, 2);
	s_serve(&s);
	s_op(&s, OP_KICK, 0, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "chain-event-idx");

	/* an indirect table of three */
	s_hdr(&s, 3, CFG_INDIRECT);
	s_desc(&s, S_TABLE, 0, S_BUF, 16, F_NEXT, 1);
	s_desc(&s, S_TABLE, 1, S_BUF + 0x40, 32, F_NEXT | F_WRITE, 2);
	s_desc(&s, S_TABLE, 2, GUEST_HIGH_RAM, 1, F_WRITE, 0);
	s_desc(&s, S_DESC, 5, S_TABLE, 48, F_IND, 0);
	s_offer(&s, 8, 5);
	s_offer(&s, 8, 5);
	s_serve(&s);
	s_write(&s, dir, "indirect");

	/* a full ring of two-descriptor chains, served in batches */
	s_hdr(&s, 3, CFG_EVENT_IDX | CFG_INDIRECT);
	for (unsigned i = 0; i < 4; i++) {
		s_desc(&s, S_DESC, i, S_BUF + 0x20 * i, 8, F_NEXT, 4 + i);
		s_desc(&s, S_DESC, 4 + i, S_BUF + 0x200 + 0x20 * i, 8, F_WRITE, 0);
		s_offer(&s, 8, i);
	}
	s_op(&s, OP_POP, 0, 0, 0);
	s_op(&s, OP_POP, 0, 0, 0);
	s_op(&s, OP_PUSH, 1, 8, 0);
	s_op(&s, OP_PUBLISH, 0, 0, 0);
	s_op(&s, OP_NOTIFY, 0, 0, 0);
	s_serve(&s);
	s_op(&s, OP_KICK, 3, 0, 0);
	s_serve(&s);
	s_op(&s, OP_RESET, 1, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "full-ring");

	/* no EVENT_IDX: NO_INTERRUPT set by the guest, notifications toggled */
	s_hdr(&s, 3, 0);
	s_desc(&s, S_DESC, 0, S_BUF, 8, 0, 0);
	s_offer(&s, 8, 0);
	s.ram[S_AVAIL] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	s_op(&s, OP_DISABLE, 0, 0, 0);
	s_serve(&s);
	s_op(&s, OP_KICK, 0, 0, 0);
	s_op(&s, OP_ENABLE, 0, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "flags");

	/* hostile: a loop, an idx jump, a nested table, readable after writable */
	s_hdr(&s, 3, 0);
	s_desc(&s, S_DESC, 0, S_BUF, 8, F_NEXT, 1);
	s_desc(&s, S_DESC, 1, S_BUF, 8, F_NEXT, 0);
	s_offer(&s, 8, 0);
	s_serve(&s);
	s_op(&s, OP_RESET, 0, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "loop");

	s_hdr(&s, 3, 0);
	s_desc(&s, S_DESC, 0, S_BUF, 8, 0, 0);
	s_offer(&s, 8, 0);
	s_op(&s, OP_POP, 0, 0, 0);
	s_op(&s, OP_KICK, 3, 0, 0);
	s_op(&s, OP_KICK, 3, 0, 0);
	s_op(&s, OP_KICK, 3, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "idx-jump");

	s_hdr(&s, 3, CFG_INDIRECT);
	s_desc(&s, S_TABLE, 0, S_TABLE + 0x100, 16, F_IND, 0);
	s_desc(&s, S_DESC, 0, S_TABLE, 16, F_IND, 0);
	s_offer(&s, 8, 0);
	s_serve(&s);
	s_write(&s, dir, "nested-indirect");

	s_hdr(&s, 3, CFG_SMALL_CAPS);
	s.hdr[10] = 1, s.hdr[11] = 1;
	s_desc(&s, S_DESC, 0, S_BUF, 8, F_NEXT | F_WRITE, 1);
	s_desc(&s, S_DESC, 1, S_BUF, 8, F_NEXT, 2);
	s_desc(&s, S_DESC, 2, S_BUF, 8, 0, 0);
	s_offer(&s, 8, 0);
	s_serve(&s);
	s_write(&s, dir, "read-after-write");

	/* a descriptor straddling the end of low RAM, and one in the gap */
	s_hdr(&s, 3, 0);
	s_desc(&s, S_DESC, 0, LOW_SIZE - 4, 8, 0, 0);
	s_desc(&s, S_DESC, 1, LOW_SIZE, 8, 0, 0);
	s_offer(&s, 8, 0);
	s_offer(&s, 8, 1);
	s_serve(&s);
	s_op(&s, OP_RESET, 0, 0, 0);
	s_op(&s, OP_POKE, 0, 0, 0); /* make descriptor 0 start at 0 */
	s_op(&s, OP_POKE, 1, 0, 0);
	s_op(&s, OP_KICK, 0, 0, 0);
	s_serve(&s);
	s_write(&s, dir, "outside-ram");

	/* bad configurations: a raw size of 3, misaligned used ring */
	s_hdr(&s, 3, CFG_RAW_SIZE);
	s_serve(&s);
	s_write(&s, dir, "size-3");
	s_hdr(&s, 3, 0);
	s.hdr[8] = 0x02, s.hdr[9] = 0x20;
	s_serve(&s);
	s_write(&s, dir, "misaligned-used");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_virtqueue", "VIRTQUEUE", write_seeds);
	return 0;
}
