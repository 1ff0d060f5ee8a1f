/* The virtio 1.x PCI transport (modern only) for a device process: the
 * vendor capabilities, the common configuration, the ISR, the notification
 * area (each queue's notifications arrive by ioeventfd straight at a thread
 * of ours serving that queue), MSI-X or INTx interrupts, and reset.  A
 * device model (virtio-blk, virtio-scsi) supplies a struct virtio_model and
 * sees only requests as iovecs into guest RAM.
 *
 * Layout: BAR 1 (4 KiB) holds the MSI-X table and PBA, which the core
 * emulates; BAR 4 (64-bit, 16 KiB) holds common config at 0x0000, ISR at
 * 0x1000, device config at 0x2000, and notifications at 0x3000 + 4 * queue.
 * Not offered: the PCI configuration access capability (Linux does not use
 * it), packed rings, notification data. */
#ifndef CELLVM_DEVICES_VIRTIO_VIRTIO_PCI_H
#define CELLVM_DEVICES_VIRTIO_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/common/device.h"
#include "devices/virtio/guest_mem.h"
#include "devices/virtio/virtqueue.h"

#define VIRTIO_PCI_MAX_QUEUES 32
#define VIRTIO_PCI_MAX_CONFIG 256
#define VIRTIO_F_VERSION_1 32

struct virtio_model {
	const char *name;     /* for messages: "virtio-blk" */
	uint16_t device_id;   /* virtio device id: 2 block, 8 SCSI */
	uint32_t pci_class;   /* base << 16 | sub << 8 | prog-if */
	uint64_t features;    /* device-type feature bits */
	unsigned num_queues;
	uint16_t queue_max;   /* largest queue size offered */
	uint32_t unserved;    /* queues whose buffers the model keeps (events) */
	unsigned config_size; /* bytes of device configuration */
	/* The whole device configuration, little-endian, into cfg. */
	void (*config_read)(void *ctx, uint8_t *cfg);
	void (*config_write)(void *ctx, unsigned off, const void *buf, unsigned len);
	/* One request of queue Q; returns the bytes written into IN.  Called
	 * on that queue's thread; queues run concurrently. */
	uint32_t (*handle)(void *ctx, unsigned q, const struct iovec *out, unsigned out_num,
			   const struct iovec *in, unsigned in_num);
	void (*reset)(void *ctx); /* the driver reset the device */
	/* At FEATURES_OK, with the driver's features (transport bits
	 * included), before any queue is served: false refuses them (the
	 * driver sees FEATURES_OK stay clear).  NULL: any subset of ours. */
	bool (*set_features)(void *ctx, uint64_t features);
	/* Tests and fuzzing: no queue threads; the caller serves queues with
	 * virtio_pci_serve_queue, deterministically. */
	bool inline_queues;
};

struct virtio_pci_queue {
	struct virtio_pci *vp;
	unsigned index;
	pthread_mutex_t lock; /* held while the queue is served or changed */
	struct virtqueue vq;
	uint16_t size, vector;
	uint64_t desc, driver, device;
	int kick_fd;
	pthread_t thread;
	struct iovec *out, *in;
	/* interrupt moderation (virtio_pci_set_irq_gap), on the model's
	 * thread: CLOCK_MONOTONIC ns */
	uint64_t irq_gap, last_irq, held_until;
};

struct virtio_pci {
	struct device *d;
	const struct virtio_model *model;
	void *ctx;
	struct guest_mem mem;
	pthread_mutex_t lock; /* the common configuration */
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint8_t status, generation;
	uint16_t config_vector, queue_select;
	uint8_t isr; /* atomic */
	struct virtio_pci_queue q[VIRTIO_PCI_MAX_QUEUES];
};

/* Maps guest RAM from the setup, declares the PCI function and starts one
 * thread per served queue.  0, or -1 with device_fail(). */
int virtio_pci_init(struct virtio_pci *vp, struct device *d, const Cellvm__Setup *s,
		    const struct virtio_model *m, void *ctx);
uint64_t virtio_pci_bar_read(struct virtio_pci *vp, unsigned bar, uint64_t off, unsigned size);
void virtio_pci_bar_write(struct virtio_pci *vp, unsigned bar, uint64_t off, unsigned size,
			  uint64_t val);

/* Queues the model serves itself (in `unserved`: a network device's
 * receive queue, filled as packets arrive).  virtio_pci_queue_begin locks
 * queue Q and returns its virtqueue for vq_pop/vq_unpop/vq_push, or NULL
 * (nothing locked) while the queue is not usable: driver not ready, queue
 * not enabled or broken.  virtio_pci_queue_end publishes what was pushed,
 * interrupts the guest if it wants, turns a broken queue into
 * DEVICE_NEEDS_RESET, and unlocks.  The queue's ioeventfd
 * (virtio_pci_kick_fd) is then the model's to poll: the guest added
 * buffers. */
struct virtqueue *virtio_pci_queue_begin(struct virtio_pci *vp, unsigned q);
/* Between begin and end: publishes what was pushed so far and interrupts
 * the guest if it wants, so it can start on it while the model goes on.
 * true when it interrupted (for a model's counters). */
bool virtio_pci_queue_flush(struct virtio_pci *vp, unsigned q);
void virtio_pci_queue_end(struct virtio_pci *vp, unsigned q);

/* Interrupt moderation for a queue the model serves itself: at most one
 * interrupt per GAP_NS (0, the default: none).  An interrupt due sooner
 * than GAP_NS after the last one is held (the used ring is published at
 * once; the guest may poll it) until virtio_pci_queue_release_held, which
 * the model calls at virtio_pci_queue_held_until.  The first interrupt
 * after a quiet spell is never held, so a lone request/reply is not
 * delayed; a stream gets one interrupt per gap for many packets. */
void virtio_pci_set_irq_gap(struct virtio_pci *vp, unsigned q, uint64_t gap_ns);
/* When the held interrupt of queue Q is due (CLOCK_MONOTONIC ns); 0: none. */
uint64_t virtio_pci_queue_held_until(const struct virtio_pci *vp, unsigned q);
/* Sends queue Q's held interrupt if it is due at NOW, no interrupt that
 * served Q came within its gap since (virtio_pci_queue_irq_served: then it
 * is held to the gap's end) and the guest still wants it; true when it
 * interrupted. */
bool virtio_pci_queue_release_held(struct virtio_pci *vp, unsigned q, uint64_t now);
/* Holds queue Q's next interrupt until the model's next
 * virtio_pci_queue_release_held (it is due at once): the model wants to
 * see first whether another interrupt will serve for it. */
void virtio_pci_queue_hold_irq(struct virtio_pci *vp, unsigned q);
/* The guest was just sent an interrupt (of another queue) whose handling
 * serves queue Q as well: Q's gap counts from NOW. */
void virtio_pci_queue_irq_served(struct virtio_pci *vp, unsigned q, uint64_t now);
uint64_t virtio_pci_now_ns(void);
int virtio_pci_kick_fd(const struct virtio_pci *vp, unsigned q);

/* The device configuration changed (link status, ...): a new generation
 * and a configuration interrupt.  Any thread. */
void virtio_pci_config_changed(struct virtio_pci *vp);

/* The device's reset, as when the driver writes status 0 (a VM reset). */
void virtio_pci_reset(struct virtio_pci *vp);
/* Serves queue Q now, on the calling thread (see inline_queues). */
void virtio_pci_serve_queue(struct virtio_pci *vp, unsigned q);

#endif
