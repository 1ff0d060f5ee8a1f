/* Device side of a split virtqueue (see virtqueue.h).
 *
 * Layout in guest RAM (VIRTIO 1.x, split virtqueues), N = queue size, all
 * little-endian (we only build for x86-64, so no byte swapping):
 *   descriptor table  16 * N bytes:  u64 addr, u32 len, u16 flags, u16 next
 *   available ring    6 + 2 * N:     u16 flags, u16 idx, u16 ring[N], u16 used_event
 *   used ring         6 + 8 * N:     u16 flags, u16 idx, {u32 id, u32 len}[N],
 *                                    u16 avail_event
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/virtqueue.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtqueue.c assumes a little-endian host, as the ring is little-endian"
#endif

#define DESC_SIZE 16u

/* A descriptor as copied out of guest RAM: checked and used only here. */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

_Static_assert(sizeof(struct desc) == DESC_SIZE, "descriptor layout");

static uint16_t *avail_flags(const struct virtqueue *vq)
{
	return (uint16_t *)vq->avail;
}

static uint16_t *avail_idx(const struct virtqueue *vq)
{
	return (uint16_t *)(vq->avail + 2);
}

static uint16_t *avail_ring(const struct virtqueue *vq, uint16_t i)
{
	return (uint16_t *)(vq->avail + 4 + 2 * (size_t)(i & (vq->cfg.size - 1)));
}

static uint16_t *used_event(const struct virtqueue *vq)
{
	return (uint16_t *)(vq->avail + 4 + 2 * (size_t)vq->cfg.size);
}

static uint16_t *used_flags(const struct virtqueue *vq)
{
	return (uint16_t *)vq->used;
}

static uint16_t *used_idx(const struct virtqueue *vq)
{
	return (uint16_t *)(vq->used + 2);
}

static uint32_t *used_elem(const struct virtqueue *vq, uint16_t i)
{
	return (uint32_t *)(vq->used + 4 + 8 * (size_t)(i & (vq->cfg.size - 1)));
}

static uint16_t *avail_event(const struct virtqueue *vq)
{
	return (uint16_t *)(vq->used + 4 + 8 * (size_t)vq->cfg.size);
}

static void set_error(struct virtqueue *vq, const char *fmt, va_list ap)
{
	int n = snprintf(vq->err, sizeof(vq->err), "virtqueue %u: ", vq->index);
	if (n < 0 || (size_t)n >= sizeof(vq->err))
		return;
	vsnprintf(vq->err + n, sizeof(vq->err) - n, fmt, ap);
}

/* A mistake of our caller: reported, the queue keeps working. */
__attribute__((format(printf, 3, 4))) static int misuse(struct virtqueue *vq, int err,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(vq, fmt, ap);
	va_end(ap);
	return -err;
}

/* The guest broke the protocol: the queue stays broken until reset. */
__attribute__((format(printf, 3, 4))) static int guest_error(struct virtqueue *vq, int err,
							       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_error(vq, fmt, ap);
	va_end(ap);
	vq->broken = true;
	return -err;
}

void vq_init(struct virtqueue *vq, unsigned index, const struct guest_mem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->index = index;
	vq->mem = mem;
}

void vq_reset(struct virtqueue *vq)
{
	vq_init(vq, vq->index, vq->mem);
}

/* Translate one ring area, or say why not. */
static int map_area(struct virtqueue *vq, const char *what, uint64_t gpa, uint64_t len,
		    uint64_t align, uint8_t **host)
{
	if (gpa & (align - 1))
		return misuse(vq, EINVAL, "%s at 0x%" PRIx64 " is not %" PRIu64 "-byte aligned",
			      what, gpa, align);
	*host = guest_mem_translate(vq->mem, gpa, len);
	if (!*host)
		return misuse(vq, EINVAL, "%s at 0x%" PRIx64 " size %" PRIu64
			      " is outside guest RAM", what, gpa, len);
	return 0;
}

int vq_enable(struct virtqueue *vq, const struct vq_config *cfg)
{
	uint64_t n = cfg->size;
	uint8_t *desc, *avail, *used;
	int ret;

	if (vq->ready)
		return misuse(vq, EINVAL, "already enabled");
	if (n == 0 || n > VQ_MAX_SIZE || (n & (n - 1)))
		return misuse(vq, EINVAL, "queue size %" PRIu64
			      " is not a power of two between 1 and %u", n, VQ_MAX_SIZE);
	if ((ret = map_area(vq, "descriptor table", cfg->desc, DESC_SIZE * n, 16, &desc)) ||
	    (ret = map_area(vq, "available ring", cfg->avail, 6 + 2 * n, 2, &avail)) ||
	    (ret = map_area(vq, "used ring", cfg->used, 6 + 8 * n, 4, &used)))
		return ret;

	vq_reset(vq);
	vq->cfg = *cfg;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->ready = true;
	return 0;
}

/* Copy descriptor i of table out of guest RAM.  memcpy into a local: the
 * guest may rewrite the descriptor while we look at it, so every check and
 * use afterwards is on our copy.  The compiler barrier stops the compiler
 * from dropping the copy and reading guest RAM again at each use (an
 * indirect table need not be aligned, so no atomic loads here). */
static struct desc read_desc(const uint8_t *table, unsigned i)
{
	struct desc d;
	memcpy(&d, table + (size_t)i * DESC_SIZE, sizeof(d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return d;
}

/* State of one chain walk in vq_pop(). */
struct walk {
	struct vq_req *req;
	uint16_t head;
	bool indirect;	 /* now inside an indirect table */
	bool seen_write; /* a device-writable segment came already */
};

static const char *where(const struct walk *w, char *buf, size_t len, unsigned i)
{
	if (w->indirect)
		snprintf(buf, len, "indirect descriptor %u of head %u", i, w->head);
	else
		snprintf(buf, len, "descriptor %u", i);
	return buf;
}

/* One data descriptor (not INDIRECT): check it and append its segment. */
static int add_segment(struct virtqueue *vq, struct walk *w, unsigned i, const struct desc *d)
{
	struct vq_req *req = w->req;
	char at[64];
	void *p;

	if (d->flags & VIRTQ_DESC_F_WRITE)
		w->seen_write = true;
	else if (w->seen_write)
		return guest_error(vq, EPROTO, "%s is device-readable after a writable one",
				   where(w, at, sizeof(at), i));
	/* The spec does not forbid empty descriptors: they carry nothing, so
	 * they make no segment and their address is not looked at. */
	if (d->len == 0)
		return 0;
	p = guest_mem_translate(vq->mem, d->addr, d->len);
	if (!p)
		return guest_error(vq, EFAULT, "%s addr 0x%" PRIx64 " len %" PRIu32
				   " is outside guest RAM", where(w, at, sizeof(at), i), d->addr,
				   d->len);
	if (req->out_num + req->in_num >= VQ_MAX_SEGS)
		return guest_error(vq, E2BIG, "head %u has more than %u segments", w->head,
				   VQ_MAX_SEGS);
	if (req->out_bytes + req->in_bytes + d->len > VQ_MAX_CHAIN_BYTES)
		return guest_error(vq, E2BIG, "head %u is longer than 4 GiB", w->head);
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		if (req->in_num == req->in_cap)
			return guest_error(vq, E2BIG, "head %u has more than %u writable segments",
					   w->head, req->in_cap);
		req->in[req->in_num++] = (struct iovec){ .iov_base = p, .iov_len = d->len };
		req->in_bytes += d->len;
	} else {
		if (req->out_num == req->out_cap)
			return guest_error(vq, E2BIG, "head %u has more than %u readable segments",
					   w->head, req->out_cap);
		req->out[req->out_num++] = (struct iovec){ .iov_base = p, .iov_len = d->len };
		req->out_bytes += d->len;
	}
	return 0;
}

/* Walk the chain starting at descriptor `head` into req.
 *
 * The walk bounds itself: in a table of n descriptors a chain that visits
 * more than n of them must revisit one, so counting steps is loop detection
 * without remembering where we were.  An indirect table is entered at most
 * once (nested tables are forbidden) and has at most VQ_MAX_SEGS entries, so
 * a walk takes at most queue size + VQ_MAX_SEGS steps. */
static int walk_chain(struct virtqueue *vq, uint16_t head, struct vq_req *req)
{
	struct walk w = { .req = req, .head = head };
	const uint8_t *table = vq->desc;
	unsigned n = vq->cfg.size, i = head, steps = 0;
	char at[64];

	for (;;) {
		struct desc d = read_desc(table, i);

		if (++steps > n)
			return guest_error(vq, ELOOP, "chain of head %u is longer than its %s"
					   " (%u descriptors): a loop?", head,
					   w.indirect ? "indirect table" : "queue", n);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->cfg.indirect)
				return guest_error(vq, EPROTO, "%s is INDIRECT but the feature"
						   " was not negotiated", where(&w, at, sizeof(at), i));
			if (w.indirect)
				return guest_error(vq, EPROTO, "%s is INDIRECT inside an indirect table",
						   where(&w, at, sizeof(at), i));
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return guest_error(vq, EPROTO, "descriptor %u has both INDIRECT and NEXT",
						   i);
			/* NEXT is refused above, so only a chain's last descriptor could
			 * still be INDIRECT after data ones; the spec's layout has the
			 * table stand for the whole request, and so do we. */
			if (steps != 1)
				return guest_error(vq, EPROTO, "descriptor %u is INDIRECT but not the"
						   " head of its chain (head %u)", i, head);
			if (d.len == 0 || d.len % DESC_SIZE)
				return guest_error(vq, EPROTO, "indirect table of head %u has length %"
						   PRIu32 ", not a non-zero multiple of 16", head, d.len);
			/* Bounded so that a table of empty descriptors, which make no
			 * segments, cannot make one pop walk millions of them. */
			if (d.len / DESC_SIZE > VQ_MAX_SEGS)
				return guest_error(vq, E2BIG, "indirect table of head %u has %" PRIu32
						   " descriptors, more than %u", head,
						   d.len / DESC_SIZE, VQ_MAX_SEGS);
			table = guest_mem_translate(vq->mem, d.addr, d.len);
			if (!table)
				return guest_error(vq, EFAULT, "indirect table of head %u addr 0x%"
						   PRIx64 " len %" PRIu32 " is outside guest RAM",
						   head, d.addr, d.len);
			w.indirect = true;
			n = d.len / DESC_SIZE;
			i = 0;
			steps = 0;
			continue;
		}
		int ret = add_segment(vq, &w, i, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return guest_error(vq, EPROTO, "%s has next %u, beyond its %s of %u",
					   where(&w, at, sizeof(at), i), d.next,
					   w.indirect ? "indirect table" : "queue", n);
		i = d.next;
	}
}

int vq_pop(struct virtqueue *vq, struct vq_req *req)
{
	uint16_t idx, pending, head;
	int ret;

	if (!vq->ready)
		return misuse(vq, EINVAL, "vq_pop on a queue that is not enabled");
	if (vq->broken)
		return -EIO;
	if ((req->out_cap && !req->out) || (req->in_cap && !req->in))
		return misuse(vq, EINVAL, "vq_pop with a NULL iovec array");

	/* Acquire: the ring entries and descriptors the guest wrote before
	 * moving idx are visible once we see the new idx. */
	idx = __atomic_load_n(avail_idx(vq), __ATOMIC_ACQUIRE);
	pending = idx - vq->last_avail;
	if (pending == 0)
		return 0;
	if (pending > vq->cfg.size)
		return guest_error(vq, EPROTO, "available idx moved from %u to %u, more than"
				   " the queue size %u", vq->last_avail, idx, vq->cfg.size);

	head = __atomic_load_n(avail_ring(vq, vq->last_avail), __ATOMIC_RELAXED);
	if (head >= vq->cfg.size)
		return guest_error(vq, EPROTO, "available ring entry %u names descriptor %u,"
				   " beyond the queue size %u", vq->last_avail, head, vq->cfg.size);

	req->head = head;
	req->out_num = req->in_num = 0;
	req->out_bytes = req->in_bytes = 0;
	ret = walk_chain(vq, head, req);
	if (ret)
		return ret;
	vq->last_avail++;
	vq->inflight++;
	return 1;
}

int vq_unpop(struct virtqueue *vq, unsigned n)
{
	if (n > vq->inflight)
		return misuse(vq, EINVAL, "vq_unpop of %u requests, %u in flight", n, vq->inflight);
	vq->last_avail = (uint16_t)(vq->last_avail - n);
	vq->inflight -= n;
	return 0;
}

int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	uint32_t *elem;

	if (!vq->ready)
		return misuse(vq, EINVAL, "vq_push on a queue that is not enabled");
	if (vq->broken)
		return -EIO;
	if (head >= vq->cfg.size)
		return misuse(vq, EINVAL, "vq_push of head %u, beyond the queue size %u", head,
			      vq->cfg.size);
	/* More completions than requests would overwrite used entries the guest
	 * has not read yet. */
	if (vq->inflight == 0)
		return misuse(vq, EINVAL, "vq_push of head %u with no request in flight", head);

	elem = used_elem(vq, vq->used_idx);
	__atomic_store_n(&elem[0], (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&elem[1], written, __ATOMIC_RELAXED);
	vq->used_idx++;
	vq->inflight--;
	return 0;
}

void vq_publish(struct virtqueue *vq)
{
	if (!vq->ready || vq->published_idx == vq->used_idx)
		return;
	/* Release: the used elements are visible before the idx that covers
	 * them. */
	__atomic_store_n(used_idx(vq), vq->used_idx, __ATOMIC_RELEASE);
	vq->published_idx = vq->used_idx;
}

bool vq_should_notify(struct virtqueue *vq)
{
	uint16_t old = vq->signalled_used, new = vq->published_idx;

	if (!vq->ready || old == new)
		return false;
	/* Our store to used->idx must be globally visible before we read the
	 * guest's flags or used_event: otherwise the guest could have read the
	 * old idx, decided to wait, and we read its old used_event and skip
	 * the interrupt it is waiting for.  Store-load needs a full fence. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq->signalled_used = new;
	if (vq->cfg.event_idx) {
		uint16_t event = __atomic_load_n(used_event(vq), __ATOMIC_RELAXED);
		return vq_need_event(event, new, old);
	}
	return !(__atomic_load_n(avail_flags(vq), __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

void vq_disable_notify(struct virtqueue *vq)
{
	if (!vq->ready)
		return;
	/* With EVENT_IDX the guest notifies only when its idx crosses
	 * avail_event; not moving avail_event any more is enough. */
	if (!vq->cfg.event_idx)
		__atomic_store_n(used_flags(vq), (uint16_t)VIRTQ_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
}

bool vq_enable_notify(struct virtqueue *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->cfg.event_idx)
		__atomic_store_n(avail_event(vq), vq->last_avail, __ATOMIC_RELAXED);
	else
		__atomic_store_n(used_flags(vq), (uint16_t)0, __ATOMIC_RELAXED);
	/* Store-load again: the guest must see notifications wanted before we
	 * look at avail->idx, or a buffer added in between goes unnoticed by
	 * both sides. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(avail_idx(vq), __ATOMIC_ACQUIRE) != vq->last_avail;
}

bool vq_is_broken(const struct virtqueue *vq)
{
	return vq->broken;
}

const char *vq_error(const struct virtqueue *vq)
{
	return vq->err;
}
