/* Exit rings: the PIO/MMIO accesses one vCPU sends to one device process.
 *
 * One memfd per device holds a small header and one ring per vCPU.  Each ring
 * has a single producer (the vCPU thread) and a single consumer (the device).
 * Writes are posted: the producer does not wait.  A read waits for its answer
 * in the ring's response slot, which also orders it after the writes before
 * it, since the consumer handles entries in order.
 *
 * Wake-ups: the device sets need_wakeup before it sleeps on the doorbell
 * eventfd; a producer rings the doorbell only when it finds the flag set, so
 * a busy device is not woken per entry.  A reading producer spins briefly on
 * the response, then sleeps on a futex in the response slot.  A producer that
 * finds its ring full waits the same way on the ring's tail.
 *
 * Both sides treat the shared memory as untrusted: an entry is copied once,
 * then the copy is validated; anything malformed is -EPROTO with a message.
 */
#ifndef CELLVM_IPC_EXIT_RING_H
#define CELLVM_IPC_EXIT_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RING_CACHELINE 64
#define RING_MAGIC 0x63766d72u /* "cvmr" */
#define RING_VERSION 1
#define RING_MAX_RINGS 64     /* one per vCPU */
#define RING_MAX_ENTRIES 4096 /* a power of two */
#define RING_DEFAULT_ENTRIES 64
#define RING_CHECK_NS 20000000ull /* 20 ms */

/* PIO and MMIO carry the guest address.  A PCI device gets its accesses
 * relative to its own function instead, so that the guest may move its BARs
 * without the device knowing: RING_BAR's addr is RING_BAR_ADDR(bar, offset),
 * RING_CONFIG's the configuration space register.  The core reads a
 * configuration dword back after each write, so that it knows the device
 * applied the write before the guest goes on. */
enum ring_kind { RING_PIO = 1, RING_MMIO = 2, RING_BAR = 3, RING_CONFIG = 4 };
#define RING_BAR_SHIFT 56
#define RING_BAR_ADDR(bar, off) (((uint64_t)(bar) << RING_BAR_SHIFT) | (off))
#define RING_BAR_INDEX(addr) ((unsigned)((addr) >> RING_BAR_SHIFT))
#define RING_BAR_OFFSET(addr) ((addr) & ((1ull << RING_BAR_SHIFT) - 1))
#define RING_CONFIG_SIZE 256
enum ring_dir { RING_WRITE = 0, RING_READ = 1 };
enum ring_status { RING_OK = 0, RING_EFAULT = 1 };

/* One access, as handed to the device after validation. */
struct exit_access {
	uint8_t kind; /* enum ring_kind */
	uint8_t dir;  /* enum ring_dir */
	uint8_t size; /* 1, 2, 4 or 8 */
	uint64_t addr;
	uint64_t data; /* for writes */
};

/* ---- shared-memory layout (both processes map it) ---- */

struct ring_entry {
	uint32_t seq; /* == the ring index of this entry */
	uint8_t kind, dir, size, pad;
	uint64_t addr;
	uint64_t data;
	uint64_t reserved;
};

struct ring_set_hdr {
	uint32_t magic, version, count, entries;
	uint8_t pad0[RING_CACHELINE - 16];
	uint32_t need_wakeup; /* consumer sets before sleeping */
	uint8_t pad1[RING_CACHELINE - 4];
};

struct ring_hdr {
	/* producer's line */
	uint32_t head;         /* next index the producer will fill */
	uint32_t prod_waiting; /* producer sleeps on tail (ring full) */
	uint8_t pad0[RING_CACHELINE - 8];
	/* consumer's line */
	uint32_t tail; /* next index the consumer will take */
	uint8_t pad1[RING_CACHELINE - 4];
	/* response line: the answer to the last read */
	uint32_t resp_seq;     /* seq of the answered read + 1; futex word */
	uint32_t resp_waiting; /* producer sleeps on resp_seq */
	uint32_t resp_status;  /* enum ring_status */
	uint32_t pad2;
	uint64_t resp_data;
	uint8_t pad3[RING_CACHELINE - 24];
	/* then `entries` struct ring_entry */
};

/* ---- a mapped set of rings ---- */

struct ring_set {
	void *base;
	size_t bytes;
	unsigned count, entries;
	struct ring_set_hdr *hdr;
	int doorbell_fd; /* eventfd, owned by the caller */
};

size_t ring_set_bytes(unsigned count, unsigned entries);
/* Creates a memfd of the right size, sealed against resizing, with the
 * header written.  Returns the fd or -errno. */
int ring_set_create(unsigned count, unsigned entries);
/* Maps a memfd made by ring_set_create; checks its size and header against
 * what the caller was told.  0 or -errno; err gets a message. */
int ring_set_map(struct ring_set *rs, int memfd, unsigned count, unsigned entries,
		 int doorbell_fd, char *err, size_t errlen);
void ring_set_unmap(struct ring_set *rs);
struct ring_hdr *ring_set_ring(const struct ring_set *rs, unsigned idx);

/* ---- producer side (a vCPU thread of the core; or devrun, bench) ---- */

struct ring_producer {
	struct ring_set *rs;
	struct ring_hdr *r;
	struct ring_entry *e;
	uint32_t mask;
	uint32_t head;      /* local copy */
	uint32_t tail_seen; /* last tail read from the consumer */
	uint64_t spin_ns;   /* how long to spin before sleeping; 0: sleep at once */
	uint64_t timeout_ns;
	/* Optional: asked every RING_CHECK_NS while sleeping; nonzero means the
	 * device is gone and the call fails with -EPIPE at once. */
	int (*gone)(void *opaque);
	void *gone_opaque;
	char err[160]; /* why the last call failed */
};

void ring_producer_init(struct ring_producer *p, struct ring_set *rs, unsigned idx,
			uint64_t timeout_ns);
/* Posts a write; waits only when the ring is full.  0, -ETIMEDOUT, -EPROTO,
 * -EPIPE. */
int ring_post_write(struct ring_producer *p, uint8_t kind, uint64_t addr, uint8_t size,
		    uint64_t data);
/* Posts a read and waits for the answer.  0, -ETIMEDOUT, -EPROTO, -EPIPE, or
 * -EFAULT when the device answered that the access failed. */
int ring_read(struct ring_producer *p, uint8_t kind, uint64_t addr, uint8_t size,
	      uint64_t *data);
/* Waits until the consumer has taken every posted entry. */
int ring_drain(struct ring_producer *p);

/* ---- consumer side (the device process) ---- */

struct ring_consumer {
	struct ring_set *rs;
	struct ring_hdr *r;
	struct ring_entry *e;
	uint32_t mask;
	uint32_t tail;      /* local copy */
	uint32_t head_seen; /* last head read from the producer */
	uint32_t pending_read; /* seq + 1 of a read taken but not answered, 0 if none */
	char err[160];
};

void ring_consumer_init(struct ring_consumer *c, struct ring_set *rs, unsigned idx);
/* Takes the next entry: 1 with *a filled, 0 when the ring is empty, -EPROTO
 * when the producer wrote something malformed (c->err says what).  A read
 * must be answered with ring_complete before the next ring_consume. */
int ring_consume(struct ring_consumer *c, struct exit_access *a);
void ring_complete(struct ring_consumer *c, uint64_t data, enum ring_status status);
/* Wakes a producer waiting for room; call after a batch of ring_consume. */
void ring_consumer_flush(struct ring_consumer *c);
bool ring_empty(const struct ring_consumer *c);

/* The device is about to sleep on the doorbell: set need_wakeup, then the
 * caller must check every ring again before it sleeps. */
void ring_set_sleep_prepare(struct ring_set *rs);
/* The device is awake: producers may stop ringing. */
void ring_set_awake(struct ring_set *rs);

#endif
