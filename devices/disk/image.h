/* Disk images behind one interface: raw files (ISO images are raw) and
 * qcow2 (v2 and v3).  Used by the disk device process and by cellvm-img.
 *
 * Everything read from an image file is untrusted: a corrupt image gives an
 * error with a message (image_error), never a crash, a hang or a write
 * outside the image's valid metadata.
 *
 * Threads: image_read, image_write, image_write_zeroes, image_discard,
 * image_flush and image_map may be called from several threads at once on
 * one image (the disk device serves requests concurrently).  The other
 * calls need the caller to hold off I/O.
 *
 * Return values: 0 (or a count) on success, -errno on failure.  On a
 * failure, image_error() describes it in one line ("img.qcow2: L2 table at
 * 0x... is outside the file"). */
#ifndef CELLVM_DEVICES_DISK_IMAGE_H
#define CELLVM_DEVICES_DISK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image;

enum image_format {
	IMAGE_FORMAT_DETECT = 0, /* open: qcow2 if the magic says so, else raw */
	IMAGE_FORMAT_RAW,
	IMAGE_FORMAT_QCOW2,
};

/* Opens the backing file NAME that the image at PATH_OF_CHILD refers to;
 * returns an fd (read-only unless WRITABLE) or -1 with errno set.  The
 * device process has no filesystem: the supervisor opens the chain and the
 * device's opener hands out those fds.  NULL opener: NAME is opened as a
 * path, relative names against the directory of PATH_OF_CHILD (as qemu). */
typedef int (*image_backing_opener)(void *ctx, const char *name,
				    const char *path_of_child, bool writable);

struct image_options {
	enum image_format format;     /* IMAGE_FORMAT_DETECT by default */
	bool readonly;
	bool no_backing;              /* do not open backing files (info, check) */
	const char *snapshot;         /* open read-only at this internal snapshot (id or name) */
	size_t l2_cache_bytes;        /* 0: the default, 1 MiB */
	size_t refcount_cache_bytes;  /* 0: the default, 256 KiB */
	image_backing_opener open_backing;
	void *opener_ctx;
};

/* Opens PATH (or FD, which the image then owns; NAME is used in messages
 * and to resolve relative backing names).  OPTS may be NULL.  On failure
 * returns -errno and writes a one-line reason to ERR. */
int image_open(const char *path, const struct image_options *opts,
	       struct image **out, char *err, size_t errlen);
int image_open_fd(int fd, const char *name, const struct image_options *opts,
		  struct image **out, char *err, size_t errlen);
/* Flushes (unless read-only), clears the dirty bit, frees everything.
 * Returns the flush's result; the image is freed either way. */
int image_close(struct image *img);

const char *image_error(struct image *img);
enum image_format image_format_of(const struct image *img);
uint64_t image_size(const struct image *img);       /* virtual size in bytes */
bool image_readonly(const struct image *img);

/* Guest-visible I/O at any offset and length within image_size().
 * Reads of unallocated areas return the backing file's data, or zeroes. */
int image_read(struct image *img, void *buf, size_t len, uint64_t offset);
int image_write(struct image *img, const void *buf, size_t len, uint64_t offset);
/* Makes every write that completed before the call durable (metadata
 * caches written out in a safe order, then fdatasync). */
int image_flush(struct image *img);
/* Discard: frees whole clusters where it can; afterwards the range reads
 * either its old data or zeroes, never a backing file's data (qcow2 v3
 * marks discarded clusters zero when there is a backing file). */
int image_discard(struct image *img, uint64_t offset, uint64_t len);
/* The range reads as zeroes afterwards; MAY_UNMAP lets it free clusters. */
int image_write_zeroes(struct image *img, uint64_t offset, uint64_t len, bool may_unmap);
/* Writes one whole cluster compressed (convert -c); qcow2 only, offset
 * cluster-aligned, len the cluster size (or the rest of the image). */
int image_write_compressed(struct image *img, const void *buf, size_t len, uint64_t offset);
/* Grows (or, for raw, also shrinks) the virtual size. */
int image_resize(struct image *img, uint64_t new_size);
uint32_t image_cluster_size(const struct image *img); /* 512 for raw */

/* What backs the guest range at OFFSET: fills EXT for the longest run
 * starting at OFFSET (at most LEN bytes) whose status is uniform. */
enum {
	IMAGE_EXT_DATA = 1,        /* reads return stored data (not known zero) */
	IMAGE_EXT_ZERO = 2,        /* reads return zeroes */
	IMAGE_EXT_ALLOCATED = 4,   /* described by this image, not a backing file */
	IMAGE_EXT_COMPRESSED = 8,
};
struct image_extent {
	uint64_t offset, length;
	unsigned flags;
	int depth;                 /* 0: this image, 1: its backing file, ... */
	bool has_host_offset;
	uint64_t host_offset;      /* in the file at DEPTH, when has_host_offset */
};
int image_map(struct image *img, uint64_t offset, uint64_t len, struct image_extent *ext);

struct image_snapshot_info {
	char *id, *name;
	uint64_t vm_state_size;
	uint32_t date_sec, date_nsec;
	uint64_t vm_clock_nsec;
	uint64_t disk_size;
	uint64_t icount;           /* UINT64_MAX when absent */
};
struct image_info {
	enum image_format format;
	uint64_t virtual_size;
	uint64_t disk_size;        /* bytes the file takes on the host (st_blocks) */
	uint32_t cluster_size;     /* qcow2 only */
	int version;               /* qcow2: 2 or 3 */
	char *backing_file, *backing_fmt;  /* NULL when none */
	bool lazy_refcounts, dirty, corrupt, extended_l2;
	unsigned refcount_bits;
	const char *compression_type;      /* "zlib" or "zstd" */
	unsigned nb_snapshots;
	struct image_snapshot_info *snapshots;
};
int image_get_info(struct image *img, struct image_info *info);
void image_info_free(struct image_info *info);

enum image_prealloc { IMAGE_PREALLOC_OFF = 0, IMAGE_PREALLOC_METADATA, IMAGE_PREALLOC_FULL };
struct image_create_options {
	enum image_format format;   /* RAW or QCOW2 */
	uint64_t size;              /* virtual size; with a backing file 0 means its size */
	uint32_t cluster_size;      /* 0: 64 KiB */
	int compat;                 /* 2 (0.10) or 3 (1.1); 0: 3 */
	const char *backing_file, *backing_fmt;
	bool lazy_refcounts;        /* v3 only */
	unsigned refcount_bits;     /* 0: 16 */
	const char *compression_type; /* NULL: zlib */
	enum image_prealloc prealloc;
};
/* Creates (or truncates) PATH.  Refuses bad combinations with a reason. */
int image_create(const char *path, const struct image_create_options *opts,
		 char *err, size_t errlen);

/* Consistency check, as qemu-img check: refcounts recomputed from every
 * L1/L2 table, snapshot and metadata structure and compared. */
enum { IMAGE_FIX_LEAKS = 1, IMAGE_FIX_ERRORS = 2 };
struct image_check_result {
	uint64_t corruptions, leaks, check_errors;
	uint64_t corruptions_fixed, leaks_fixed;
	uint64_t total_clusters, allocated_clusters, fragmented_clusters, compressed_clusters;
	uint64_t image_end_offset;
};
/* REPORT (may be NULL) gets one line per problem found, as qemu-img check
 * prints them ("Leaked cluster 5 refcount=1 reference=0"). */
int image_check(struct image *img, unsigned fix, struct image_check_result *res,
		void (*report)(void *ctx, const char *line), void *report_ctx);

/* Long operations (image_check) call PROGRESS now and then with how far
 * they are: DONE of TOTAL units.  NULL turns it off. */
typedef void (*image_progress_fn)(void *ctx, uint64_t done, uint64_t total);
void image_set_progress(struct image *img, image_progress_fn progress, void *ctx);

#endif
