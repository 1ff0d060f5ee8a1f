/* Device side of a VIRTIO 1.x split virtqueue, over guest RAM shared with a
 * guest that may be hostile.
 *
 * The driver (guest) owns the descriptor table and the available ring; the
 * device owns the used ring.  This library walks what the guest offers and
 * turns each request into iovecs pointing into guest RAM, checked against the
 * guest_mem view, and completes requests into the used ring.
 *
 * Threads: one queue is served by one thread at a time (calls on the same
 * struct virtqueue must not overlap).  The guest, however, runs on other
 * CPUs while we read its rings: every field it can write is read exactly
 * once into a local before it is checked and used, and ring indices are read
 * and written with __atomic acquire/release ordering.
 *
 * Errors: each failing call returns a negative errno and leaves a one-line
 * reason in vq_error().  A guest that breaks the protocol makes the queue
 * broken: every later vq_pop()/vq_push() fails with -EIO until vq_reset(), and
 * the device should set DEVICE_NEEDS_RESET.
 *
 * Guest-supplied buffers are only ever referenced through iovecs into guest
 * RAM; the guest can change their contents at any time, so a device must
 * copy a header it parses before validating it.
 */
#ifndef CELLVM_DEVICES_VIRTIO_VIRTQUEUE_H
#define CELLVM_DEVICES_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/virtio/guest_mem.h"

/* Descriptor flags (struct virtq_desc.flags). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
/* Ring flags: avail->flags from the driver, used->flags from the device. */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1
/* Feature bits that change how the ring is walked. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29

#define VQ_MAX_SIZE 32768u
/* One request: at most this many non-empty segments and at most 2^32 bytes
 * (the spec forbids drivers longer chains); an indirect table has at most
 * this many descriptors. */
#define VQ_MAX_SEGS 1024u
#define VQ_MAX_CHAIN_BYTES (1ull << 32)

#define VQ_ERR_LEN 160

/* What the transport tells us when the driver enables the queue. */
struct vq_config {
	uint16_t size;	/* queue size: a power of two, 1..32768 */
	uint64_t desc;	/* GPA of the descriptor table, 16-byte aligned */
	uint64_t avail; /* GPA of the available ring (driver area), 2-aligned */
	uint64_t used;	/* GPA of the used ring (device area), 4-aligned */
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */
};

/* One request popped from the queue.  The caller points out/in at its own
 * iovec arrays and sets out_cap/in_cap; vq_pop() fills the rest.  out are the
 * device-readable segments, in the device-writable ones, in chain order.
 * Zero-length descriptors produce no segment. */
struct vq_req {
	struct iovec *out, *in;
	unsigned out_cap, in_cap;
	uint16_t head; /* give it back to vq_push() */
	unsigned out_num, in_num;
	uint64_t out_bytes, in_bytes;
};

struct virtqueue {
	unsigned index; /* queue number, for messages */
	const struct guest_mem *mem;
	bool ready;  /* configured and enabled */
	bool broken; /* the guest broke the protocol; needs a reset */
	struct vq_config cfg;
	/* Host pointers to the three areas, translated once at enable time. */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;	 /* next available ring entry we will consume */
	uint16_t used_idx;	 /* next used ring entry we will fill */
	uint16_t published_idx;	 /* the used->idx the guest can see */
	uint16_t signalled_used; /* published_idx at the last vq_should_notify() */
	uint32_t inflight;	 /* popped and not yet pushed */
	char err[VQ_ERR_LEN];
};

/* Unconfigured queue number `index` over guest RAM `mem` (which must outlive
 * the queue). */
void vq_init(struct virtqueue *vq, unsigned index, const struct guest_mem *mem);

/* Validate cfg and start serving the queue.  -EINVAL (queue unchanged
 * except for the message) on a bad size, misaligned area, area outside guest
 * RAM, or if the queue is already enabled. */
int vq_enable(struct virtqueue *vq, const struct vq_config *cfg);

/* Back to the unconfigured state of vq_init(): driver reset or reload. */
void vq_reset(struct virtqueue *vq);

/* Take the next available request.  1 with *req filled, 0 if the ring is
 * empty (req untouched), or a negative errno (req partly filled, to
 * ignore): -EINVAL if not enabled or req is unusable, -EIO if already
 * broken, and for guest errors (which make the queue broken) -EFAULT
 * (outside guest RAM), -ELOOP (chain loops or is longer than its table),
 * -E2BIG (too many segments or bytes), -EPROTO (anything else the spec
 * forbids).  Stricter than the spec's letter in one place: an INDIRECT
 * descriptor must be alone in its chain, as the Linux driver makes it. */
int vq_pop(struct virtqueue *vq, struct vq_req *req);

/* Give back the last N requests popped and not pushed: the next vq_pop
 * returns them again (a device that found it cannot finish them yet, e.g.
 * a received packet that needs more buffers than are offered).  -EINVAL
 * if fewer are in flight. */
int vq_unpop(struct virtqueue *vq, unsigned n);

/* Put request `head` in the used ring with `written` bytes written to its
 * in segments.  Not visible to the guest until vq_publish().  -EINVAL if
 * head is out of range or more requests are pushed than were popped, -EIO if
 * the queue is broken. */
int vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);

/* Make every vq_push() so far visible: used->idx with release ordering. */
void vq_publish(struct virtqueue *vq);

/* After vq_publish(): must the guest be interrupted?  With EVENT_IDX, yes
 * when used->idx passed used_event since the last call; otherwise unless the
 * guest set VIRTQ_AVAIL_F_NO_INTERRUPT.  No when nothing was published since
 * the last call.  Call it after every vq_publish(): the 16-bit window it
 * compares cannot tell 65536 completions from none. */
bool vq_should_notify(struct virtqueue *vq);

/* Ask the guest not to notify us (while we drain the queue). */
void vq_disable_notify(struct virtqueue *vq);

/* Ask for notifications again (with EVENT_IDX: at the next buffer we have
 * not consumed).  Returns true if buffers arrived meanwhile, which the caller
 * must then drain, because the guest may have skipped the notification:
 *
 *	for (;;) {
 *		vq_disable_notify(vq);
 *		while ((r = vq_pop(vq, &req)) > 0)
 *			serve(req);
 *		if (r < 0 || !vq_enable_notify(vq))
 *			break;
 *	}
 */
bool vq_enable_notify(struct virtqueue *vq);

bool vq_is_broken(const struct virtqueue *vq);
/* The reason of the last failure ("" if none since vq_init/vq_reset). */
const char *vq_error(const struct virtqueue *vq);

/* The spec's event index rule: is event_idx in the window (old, new]?
 * Everything is 16-bit and wraps. */
static inline bool vq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

#endif
