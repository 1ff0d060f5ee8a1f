/* qcow2 internals shared by the files of devices/disk/qcow2/.
 *
 * Locking: q->lock (a mutex) guards every piece of metadata state: the L1
 * table, both caches, refcounts and allocation.  q->io_lock is held shared
 * by reads and by writes into clusters that are already allocated and
 * owned, while their data pread/pwrite runs outside q->lock; anything that
 * allocates or frees clusters holds it exclusively, so that a cluster is
 * never freed and handed out again while another thread still has I/O in
 * flight to it.
 *
 * Crash order (a process killed at any point leaves at worst leaked
 * clusters): refcount blocks are written before the L2 tables that need
 * them (the L2 cache flushes the refcount cache first), a new L2 table is
 * on disk before the L1 entry points to it (L1 is written through), guest
 * data is written before the L2 entry that points to it, and a refcount is
 * only decreased after every table that dropped the cluster has been
 * written and fdatasync'd (decrements wait in q->pending_free; a cluster
 * being freed is not reused until then).  So a kill or a power loss at any
 * point leaves at worst leaked clusters. */
#ifndef CELLVM_DEVICES_DISK_QCOW2_QCOW2_H
#define CELLVM_DEVICES_DISK_QCOW2_QCOW2_H

#include <endian.h>
#include <pthread.h>
#include <stdint.h>

#include "devices/disk/image_internal.h"

#define QCOW2_MAGIC 0x514649fbu /* "QFI\xfb" */

/* Header field offsets (big endian on disk). */
#define QH_VERSION 4
#define QH_BACKING_OFFSET 8
#define QH_BACKING_SIZE 16
#define QH_CLUSTER_BITS 20
#define QH_SIZE 24
#define QH_CRYPT 32
#define QH_L1_SIZE 36
#define QH_L1_OFFSET 40
#define QH_REFTABLE_OFFSET 48
#define QH_REFTABLE_CLUSTERS 56
#define QH_NB_SNAPSHOTS 60
#define QH_SNAPSHOTS_OFFSET 64
#define QH_INCOMPAT 72
#define QH_COMPAT 80
#define QH_AUTOCLEAR 88
#define QH_REFCOUNT_ORDER 96
#define QH_HEADER_LENGTH 100
#define QH_COMPRESSION_TYPE 104
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104

#define QCOW2_INCOMPAT_DIRTY (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ull << 4)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURE_NAMES 0x6803f857u

/* L1 and L2 entries. */
#define QCOW2_COPIED (1ull << 63)
#define QCOW2_COMPRESSED (1ull << 62)
#define QCOW2_ZERO 1ull
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull /* bits 9..55 */
#define QCOW2_L1_RESERVED 0x7f000000000001ffull
#define QCOW2_L2_RESERVED 0x3f000000000001feull
#define QCOW2_MAX_OFFSET (1ull << 56)

/* Limits that keep a hostile header from making us allocate gigabytes. */
#define QCOW2_MAX_L1_BYTES (32u << 20)
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_SNAPSHOTS 65536
#define QCOW2_MAX_SNAPSHOT_TABLE (64u << 20)
#define QCOW2_MAX_SIZE (1ull << 55) /* virtual size; keeps every sum in range */

/* A cache of cluster-sized tables (L2 tables or refcount blocks), least
 * recently used evicted first. */
struct qcow2_cache_entry {
	uint64_t offset;      /* 0: empty */
	uint64_t last_use;
	int pins;
	bool dirty;
	int next;             /* hash chain */
};

struct qcow2;
struct qcow2_cache {
	struct qcow2 *q;
	const char *what;     /* "L2 table", "refcount block" for messages */
	unsigned count, nbuckets;
	struct qcow2_cache_entry *e;
	int *bucket;
	uint8_t *mem;
	uint64_t clock;
	/* Called before a dirty entry is written (ordering dependency). */
	int (*before_write)(struct qcow2 *);
};

struct qcow2_snapshot {
	uint64_t l1_offset;
	uint32_t l1_size;
	char *id, *name;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t vm_state_size;
	uint64_t disk_size;
	uint64_t icount;
};

struct qcow2 {
	struct image *img;
	int fd;

	/* The header. */
	uint32_t version;
	uint32_t cluster_bits, cluster_size;
	uint64_t size;
	uint64_t l1_offset;
	uint32_t l1_size;
	uint64_t reftable_offset;
	uint32_t reftable_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t snapshots_len;          /* bytes, as parsed */
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	uint8_t compression_type;   /* 0 zlib, 1 zstd */
	char *backing_file, *backing_fmt;
	char *feature_names;        /* the feature name table, 48-byte entries */
	uint32_t feature_names_len;

	/* Derived. */
	uint32_t l2_bits, l2_entries;    /* entries per L2 table */
	uint32_t rb_bits, rb_entries;    /* refcounts per refcount block */
	uint64_t refcount_max;
	uint32_t csize_shift;            /* compressed descriptor: sectors field */
	uint64_t csize_mask, coffset_mask;

	uint64_t *l1;                    /* host order, l1_size entries */
	uint64_t *reftable;              /* host order */
	uint64_t reftable_size;          /* entries */
	struct qcow2_snapshot *snaps;
	bool at_snapshot;                /* opened read-only at a snapshot */

	struct qcow2_cache l2_cache, rb_cache;
	struct image *backing;

	pthread_mutex_t lock;
	pthread_rwlock_t io_lock;
	uint64_t free_hint;              /* no free cluster below this index */
	uint64_t file_size;              /* the file's size as we made it */
	uint64_t open_file_size;         /* ... and when we opened it */
	uint64_t zero_from;              /* clusters at or after this offset read zero */
	uint64_t alloc_end;              /* end of the highest cluster we allocated */
	uint64_t comp_offset, comp_end;  /* unused tail of the last compressed cluster */
	bool dirty_on_disk;              /* we set the dirty bit */
	uint64_t *check_refs;            /* during repair: references the check counted */
	uint64_t *pending_free;          /* clusters whose refcount drops at the next sync */
	size_t nb_pending, pending_cap;
	uint64_t check_nb;
	uint8_t *zero_cluster;
};

static inline uint64_t be64_at(const void *p)
{
	uint64_t v;
	__builtin_memcpy(&v, p, 8);
	return be64toh(v);
}
static inline uint32_t be32_at(const void *p)
{
	uint32_t v;
	__builtin_memcpy(&v, p, 4);
	return be32toh(v);
}
static inline uint16_t be16_at(const void *p)
{
	uint16_t v;
	__builtin_memcpy(&v, p, 2);
	return be16toh(v);
}
static inline void put_be64(void *p, uint64_t v)
{
	v = htobe64(v);
	__builtin_memcpy(p, &v, 8);
}
static inline void put_be32(void *p, uint32_t v)
{
	v = htobe32(v);
	__builtin_memcpy(p, &v, 4);
}
static inline void put_be16(void *p, uint16_t v)
{
	v = htobe16(v);
	__builtin_memcpy(p, &v, 2);
}

static inline uint64_t qcow2_align_up(struct qcow2 *q, uint64_t v)
{
	return (v + q->cluster_size - 1) & ~(uint64_t)(q->cluster_size - 1);
}
static inline uint64_t qcow2_clusters(struct qcow2 *q, uint64_t bytes)
{
	return (bytes + q->cluster_size - 1) >> q->cluster_bits;
}

#define qerr(q, ...) image_set_error((q)->img, __VA_ARGS__)

/* qcow2_header.c */
int qcow2_write_header_field(struct qcow2 *q, unsigned off, const void *val, size_t len);
int qcow2_mark_dirty(struct qcow2 *q);
int qcow2_mark_clean(struct qcow2 *q);
/* An offset read from the file: aligned to the cluster, below 2^56 and,
 * with LEN, inside the file. */
int qcow2_check_offset(struct qcow2 *q, uint64_t off, uint64_t len, const char *what);

/* qcow2_cache.c */
int qcow2_cache_init(struct qcow2_cache *c, struct qcow2 *q, size_t bytes, const char *what,
		     int (*before_write)(struct qcow2 *));
void qcow2_cache_destroy(struct qcow2_cache *c);
/* Returns the table at OFF, pinned: read from disk, or zero-filled when
 * FRESH (a newly allocated table). */
int qcow2_cache_get(struct qcow2_cache *c, uint64_t off, bool fresh, void **table);
void qcow2_cache_put(struct qcow2_cache *c, void *table);
void qcow2_cache_dirty(struct qcow2_cache *c, void *table);
int qcow2_cache_flush(struct qcow2_cache *c);
bool qcow2_cache_has_dirty(struct qcow2_cache *c);
/* Forgets OFF (the cluster was freed); a dirty copy is dropped. */
void qcow2_cache_forget(struct qcow2_cache *c, uint64_t off);
void qcow2_cache_forget_all(struct qcow2_cache *c);

/* qcow2_refcount.c */
int qcow2_get_refcount(struct qcow2 *q, uint64_t cluster, uint64_t *ref);
/* Adds DELTA to the refcount of CLUSTER (in the cache). */
int qcow2_update_refcount(struct qcow2 *q, uint64_t cluster, int64_t delta);
int qcow2_set_refcount(struct qcow2 *q, uint64_t cluster, uint64_t ref);
/* Allocates N contiguous clusters (refcount 1); *OFF their host offset.
 * *FRESH (may be NULL): they were never written, so they read as zeroes. */
int qcow2_alloc_clusters(struct qcow2 *q, uint64_t n, uint64_t *off, bool *fresh);
/* Drops one reference to each cluster touched by [OFF, OFF+LEN).  The
 * decrement is deferred to the next qcow2_sync_frees, which runs only
 * after every table that dropped the cluster is on stable storage: so a
 * crash or a power loss can leak the cluster but never leave it counted
 * free while still referenced.  Until then it is not reused. */
int qcow2_free_range(struct qcow2 *q, uint64_t off, uint64_t len);
/* Writes the tables, fdatasyncs, applies the deferred decrements. */
int qcow2_sync_frees(struct qcow2 *q);
/* Refcount cache then L2 cache: the safe order. */
int qcow2_flush_metadata(struct qcow2 *q);
/* Makes the file cover [0, END) (grown in batches). */
int qcow2_grow_file(struct qcow2 *q, uint64_t end);
int qcow2_load_reftable(struct qcow2 *q);

/* qcow2_cluster.c */
/* The L2 entry for guest offset OFF (0 when unallocated), read-only. */
int qcow2_get_l2_entry(struct qcow2 *q, uint64_t off, uint64_t *entry);
/* Up to MAX consecutive entries from OFF on, within one L2 table. */
int qcow2_get_l2_entries(struct qcow2 *q, uint64_t off, uint64_t *entries, unsigned max,
			 unsigned *got);
/* An L2 table for OFF that this image owns alone (allocated or copied as
 * needed), pinned in the cache; *INDEX is OFF's slot. */
int qcow2_get_l2_for_write(struct qcow2 *q, uint64_t off, uint64_t **l2, unsigned *index);
/* Checks a data cluster entry read from an L2 table. */
int qcow2_check_l2_entry(struct qcow2 *q, uint64_t entry, uint64_t guest_off);
/* The compressed descriptor: host offset and byte span. */
void qcow2_compressed_span(struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len);
int qcow2_grow_l1(struct qcow2 *q, uint64_t new_size);

/* qcow2_compress.c */
int qcow2_decompress(struct qcow2 *q, const void *in, size_t in_len, void *out, size_t out_len);
/* Returns the compressed length, or 0 when it does not shrink below LIMIT. */
ssize_t qcow2_compress(struct qcow2 *q, const void *in, size_t in_len, void *out, size_t limit);
int qcow2_read_compressed(struct qcow2 *q, uint64_t entry, void *cluster);

/* qcow2_snapshot.c */
int qcow2_read_snapshots(struct qcow2 *q);
void qcow2_free_snapshots(struct qcow2 *q);
int qcow2_find_snapshot(struct qcow2 *q, const char *id_or_name);

/* qcow2_io.c */
int qcow2_read(struct image *img, void *buf, size_t len, uint64_t off);
int qcow2_write(struct image *img, const void *buf, size_t len, uint64_t off);
int qcow2_flush(struct image *img);
int qcow2_discard(struct image *img, uint64_t off, uint64_t len);
int qcow2_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap);
int qcow2_write_compressed(struct image *img, const void *buf, size_t len, uint64_t off);
int qcow2_resize(struct image *img, uint64_t size);
int qcow2_map(struct image *img, uint64_t off, uint64_t len, struct image_extent *ext);

/* qcow2_check.c */
int qcow2_check(struct image *img, unsigned fix, struct image_check_result *res,
		void (*report)(void *, const char *), void *ctx);
/* Recomputes every refcount and writes the right ones (dirty images). */
int qcow2_rebuild_refcounts(struct qcow2 *q);

#endif
