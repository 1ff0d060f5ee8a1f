/* What image.c (dispatch, raw) and the format backends share: the image
 * object, its per-format operations, error reporting and a few helpers for
 * file I/O that cope with EINTR and short transfers. */
#ifndef CELLVM_DEVICES_DISK_IMAGE_INTERNAL_H
#define CELLVM_DEVICES_DISK_IMAGE_INTERNAL_H

#include <pthread.h>
#include <sys/types.h>

#include "devices/disk/image.h"

/* Backing chains deeper than this are refused (also stops loops). */
#define IMAGE_MAX_CHAIN 64

struct image_ops {
	int (*read)(struct image *, void *, size_t, uint64_t);
	int (*write)(struct image *, const void *, size_t, uint64_t);
	int (*flush)(struct image *);
	int (*discard)(struct image *, uint64_t, uint64_t);
	int (*write_zeroes)(struct image *, uint64_t, uint64_t, bool);
	int (*write_compressed)(struct image *, const void *, size_t, uint64_t);
	int (*resize)(struct image *, uint64_t);
	int (*map)(struct image *, uint64_t, uint64_t, struct image_extent *);
	int (*get_info)(struct image *, struct image_info *);
	int (*check)(struct image *, unsigned, struct image_check_result *,
		     void (*)(void *, const char *), void *);
	int (*close)(struct image *); /* flushes, frees the backend's state */
};

/* The files already open in a chain, to refuse a backing loop. */
struct image_chain {
	int depth;
	dev_t dev[IMAGE_MAX_CHAIN + 1];
	ino_t ino[IMAGE_MAX_CHAIN + 1];
};

struct image {
	const struct image_ops *ops;
	enum image_format format;
	char *name;
	int fd;
	bool readonly;
	uint64_t size;
	uint32_t cluster_size;
	struct image_options opts;    /* a copy; opener and cache sizes */
	pthread_mutex_t err_lock;
	char err[512];
	void *priv;                   /* the backend's state */
	image_progress_fn progress;   /* image_set_progress */
	void *progress_ctx;
};

void image_set_error(struct image *img, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Full-length pread/pwrite: retry on EINTR and short transfers.  Reads
 * stop at end of file and return the bytes read; writes return 0 or
 * -errno. */
ssize_t image_pread_full(int fd, void *buf, size_t len, uint64_t off);
int image_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* Opens the backing image NAME of CHILD (read-only), through the opener
 * when there is one.  FMT may be NULL (probe). */
int image_open_backing(struct image *child, const char *name, const char *fmt,
		       const struct image_chain *chain, struct image **out);

/* Reads from a backing image: the part past its end reads as zeroes. */
int image_read_backing(struct image *backing, void *buf, size_t len, uint64_t off);

/* The qcow2 backend (devices/disk/qcow2/). */
int qcow2_open(struct image *img, const struct image_chain *chain);
int qcow2_create(const char *path, const struct image_create_options *opts,
		 char *err, size_t errlen);
bool qcow2_probe(const void *buf, size_t len);

#endif
