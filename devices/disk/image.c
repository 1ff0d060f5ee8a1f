/* Disk images: opening (format detection, backing chains), the bounds
 * checks every request goes through, and the raw backend.  qcow2 lives in
 * devices/disk/qcow2/. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "devices/disk/image_internal.h"

static const struct image_ops raw_ops;

void image_set_error(struct image *img, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&img->err_lock);
	snprintf(img->err, sizeof(img->err), "%s: %s", img->name, msg);
	pthread_mutex_unlock(&img->err_lock);
}

const char *image_error(struct image *img)
{
	return img->err;
}

ssize_t image_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int image_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* --- raw ------------------------------------------------------------------ */

static int raw_read(struct image *img, void *buf, size_t len, uint64_t off)
{
	ssize_t n = image_pread_full(img->fd, buf, len, off);

	if (n < 0) {
		image_set_error(img, "read of %zu bytes at 0x%llx failed: %s", len,
				(unsigned long long)off, strerror((int)-n));
		return (int)n;
	}
	/* The file shrank under us: the rest reads as zeroes. */
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

static int raw_write(struct image *img, const void *buf, size_t len, uint64_t off)
{
	int r = image_pwrite_full(img->fd, buf, len, off);

	if (r < 0)
		image_set_error(img, "write of %zu bytes at 0x%llx failed: %s", len,
				(unsigned long long)off, strerror(-r));
	return r;
}

static int raw_flush(struct image *img)
{
	if (fdatasync(img->fd) < 0) {
		int e = errno;
		image_set_error(img, "fdatasync failed: %s", strerror(e));
		return -e;
	}
	return 0;
}

static int raw_discard(struct image *img, uint64_t off, uint64_t len)
{
	if (fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) < 0) {
		/* Discard is advisory: a file system without holes keeps the data. */
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0;
		int e = errno;
		image_set_error(img, "discard at 0x%llx failed: %s", (unsigned long long)off,
				strerror(e));
		return -e;
	}
	return 0;
}

static const char zero_chunk[65536];

static int raw_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap)
{
	if (fallocate(img->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (may_unmap && fallocate(img->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)off, (off_t)len) == 0)
		return 0;
	while (len) {
		size_t n = len < sizeof(zero_chunk) ? (size_t)len : sizeof(zero_chunk);
		int r = raw_write(img, zero_chunk, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

static int raw_resize(struct image *img, uint64_t size)
{
	if (ftruncate(img->fd, (off_t)size) < 0) {
		int e = errno;
		image_set_error(img, "resize to %llu bytes failed: %s",
				(unsigned long long)size, strerror(e));
		return -e;
	}
	img->size = size;
	return 0;
}

static int raw_map(struct image *img, uint64_t off, uint64_t len, struct image_extent *ext)
{
	off_t data = lseek(img->fd, (off_t)off, SEEK_DATA);
	uint64_t end = off + len;

	memset(ext, 0, sizeof(*ext));
	ext->offset = off;
	ext->has_host_offset = true;
	ext->host_offset = off;
	if (data < 0 && errno != ENXIO) {
		/* No SEEK_DATA here: call everything data. */
		ext->length = len;
		ext->flags = IMAGE_EXT_DATA | IMAGE_EXT_ALLOCATED;
		return 0;
	}
	if (data < 0 || (uint64_t)data > off) {
		uint64_t hole_end = data < 0 ? end : (uint64_t)data;
		ext->length = (hole_end < end ? hole_end : end) - off;
		ext->flags = IMAGE_EXT_ZERO | IMAGE_EXT_ALLOCATED;
		return 0;
	}
	off_t hole = lseek(img->fd, (off_t)off, SEEK_HOLE);
	uint64_t data_end = hole < 0 ? end : (uint64_t)hole;
	ext->length = (data_end < end ? data_end : end) - off;
	if (ext->length == 0)
		ext->length = len;
	ext->flags = IMAGE_EXT_DATA | IMAGE_EXT_ALLOCATED;
	return 0;
}

static int raw_get_info(struct image *img, struct image_info *info)
{
	(void)img;
	(void)info;
	return 0;
}

static int raw_check(struct image *img, unsigned fix, struct image_check_result *res,
		     void (*report)(void *, const char *), void *ctx)
{
	(void)fix;
	(void)res;
	(void)report;
	(void)ctx;
	image_set_error(img, "raw images have no metadata to check");
	return -ENOTSUP;
}

static int raw_write_compressed(struct image *img, const void *buf, size_t len, uint64_t off)
{
	(void)buf;
	(void)len;
	(void)off;
	image_set_error(img, "raw images cannot store compressed clusters");
	return -ENOTSUP;
}

static int raw_close(struct image *img)
{
	return img->readonly ? 0 : raw_flush(img);
}

static const struct image_ops raw_ops = {
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.write_compressed = raw_write_compressed,
	.resize = raw_resize,
	.map = raw_map,
	.get_info = raw_get_info,
	.check = raw_check,
	.close = raw_close,
};

static int raw_open(struct image *img)
{
	off_t end = lseek(img->fd, 0, SEEK_END);

	if (end < 0) {
		int e = errno;
		image_set_error(img, "cannot find the size: %s", strerror(e));
		return -e;
	}
	img->ops = &raw_ops;
	img->format = IMAGE_FORMAT_RAW;
	img->size = (uint64_t)end;
	img->cluster_size = 512;
	return 0;
}

static int raw_create(const char *path, const struct image_create_options *o, char *err,
		      size_t errlen)
{
	int fd, r = 0;

	if (o->backing_file) {
		snprintf(err, errlen, "%s: raw images cannot have a backing file", path);
		return -EINVAL;
	}
	if (o->prealloc == IMAGE_PREALLOC_METADATA) {
		snprintf(err, errlen, "%s: raw images have no metadata to preallocate", path);
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(-r));
		return r;
	}
	if (ftruncate(fd, (off_t)o->size) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot set the size: %s", path, strerror(-r));
	} else if (o->prealloc == IMAGE_PREALLOC_FULL && o->size) {
		if (fallocate(fd, 0, 0, (off_t)o->size) < 0) {
			for (uint64_t off = 0; off < o->size && !r; off += sizeof(zero_chunk)) {
				uint64_t n = o->size - off;
				r = image_pwrite_full(fd, zero_chunk,
						      n < sizeof(zero_chunk) ? n : sizeof(zero_chunk),
						      off);
			}
			if (r)
				snprintf(err, errlen, "%s: preallocation failed: %s", path,
					 strerror(-r));
		}
	}
	if (close(fd) < 0 && !r) {
		r = -errno;
		snprintf(err, errlen, "%s: close failed: %s", path, strerror(-r));
	}
	return r;
}

/* --- opening ---------------------------------------------------------------- */

static int image_open_chain(int fd, const char *name, const struct image_options *opts,
			    const struct image_chain *parent, struct image **out, char *err,
			    size_t errlen)
{
	struct image_options defaults = { 0 };
	struct image_chain chain = { 0 };
	struct image *img;
	struct stat st;
	unsigned char magic[8];
	int r;

	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: fstat failed: %s", name, strerror(-r));
		close(fd);
		return r;
	}
	if (parent) {
		chain = *parent;
		for (int i = 0; i < chain.depth; i++) {
			if (chain.dev[i] == st.st_dev && chain.ino[i] == st.st_ino) {
				snprintf(err, errlen, "%s: backing file loop", name);
				close(fd);
				return -ELOOP;
			}
		}
		if (chain.depth >= IMAGE_MAX_CHAIN) {
			snprintf(err, errlen, "%s: backing chain deeper than %d images", name,
				 IMAGE_MAX_CHAIN);
			close(fd);
			return -ELOOP;
		}
	}
	chain.dev[chain.depth] = st.st_dev;
	chain.ino[chain.depth] = st.st_ino;
	chain.depth++;

	img = calloc(1, sizeof(*img));
	if (!img || !(img->name = strdup(name))) {
		free(img);
		snprintf(err, errlen, "%s: out of memory", name);
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&img->err_lock, NULL);
	img->fd = fd;
	img->opts = *opts;
	img->opts.snapshot = NULL; /* not owned; qcow2 uses it during open only */
	img->readonly = opts->readonly || opts->snapshot;

	ssize_t n = image_pread_full(fd, magic, sizeof(magic), 0);
	if (n < 0) {
		r = (int)n;
		image_set_error(img, "cannot read the header: %s", strerror(-r));
		goto fail;
	}
	bool is_qcow2 = qcow2_probe(magic, (size_t)n);
	switch (opts->format) {
	case IMAGE_FORMAT_DETECT:
		break;
	case IMAGE_FORMAT_RAW:
		is_qcow2 = false;
		break;
	case IMAGE_FORMAT_QCOW2:
		if (!is_qcow2) {
			image_set_error(img, "not a qcow2 image (bad magic)");
			r = -EINVAL;
			goto fail;
		}
		break;
	default:
		image_set_error(img, "unknown image format %d", (int)opts->format);
		r = -EINVAL;
		goto fail;
	}
	if (is_qcow2) {
		img->opts.snapshot = opts->snapshot;
		r = qcow2_open(img, &chain);
		img->opts.snapshot = NULL;
	} else {
		if (opts->snapshot) {
			image_set_error(img, "raw images have no snapshots");
			r = -EINVAL;
			goto fail;
		}
		r = raw_open(img);
	}
	if (r < 0)
		goto fail;
	*out = img;
	return 0;
fail:
	snprintf(err, errlen, "%s", img->err[0] ? img->err : "open failed");
	close(fd);
	pthread_mutex_destroy(&img->err_lock);
	free(img->name);
	free(img);
	return r;
}

int image_open_fd(int fd, const char *name, const struct image_options *opts,
		  struct image **out, char *err, size_t errlen)
{
	return image_open_chain(fd, name ? name : "image", opts, NULL, out, err, errlen);
}

int image_open(const char *path, const struct image_options *opts, struct image **out,
	       char *err, size_t errlen)
{
	bool ro = opts && (opts->readonly || opts->snapshot);
	int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	*out = NULL;
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -e;
	}
	return image_open_fd(fd, path, opts, out, err, errlen);
}

int image_open_backing(struct image *child, const char *name, const char *fmt,
		       const struct image_chain *chain, struct image **out)
{
	struct image_options o = { 0 };
	char path[PATH_MAX], err[512];
	int fd, r;

	if (name[0] != '/' && strchr(child->name, '/')) {
		const char *slash = strrchr(child->name, '/');
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - child->name), child->name,
			 name);
	} else {
		snprintf(path, sizeof(path), "%s", name);
	}
	if (!fmt || !*fmt)
		o.format = IMAGE_FORMAT_DETECT;
	else if (!strcmp(fmt, "raw"))
		o.format = IMAGE_FORMAT_RAW;
	else if (!strcmp(fmt, "qcow2"))
		o.format = IMAGE_FORMAT_QCOW2;
	else {
		image_set_error(child, "backing file %s has unsupported format '%s'", name, fmt);
		return -ENOTSUP;
	}
	o.readonly = true;
	o.l2_cache_bytes = child->opts.l2_cache_bytes;
	o.refcount_cache_bytes = child->opts.refcount_cache_bytes;
	o.open_backing = child->opts.open_backing;
	o.opener_ctx = child->opts.opener_ctx;
	if (o.open_backing)
		fd = o.open_backing(o.opener_ctx, name, child->name, false);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno ? errno : ENOENT;
		image_set_error(child, "cannot open backing file %s: %s", path, strerror(e));
		return -e;
	}
	r = image_open_chain(fd, path, &o, chain, out, err, sizeof(err));
	if (r < 0)
		image_set_error(child, "backing file: %s", err);
	return r;
}

int image_read_backing(struct image *backing, void *buf, size_t len, uint64_t off)
{
	uint64_t size = backing->size;
	size_t n = len;

	if (off >= size) {
		memset(buf, 0, len);
		return 0;
	}
	if (size - off < len) {
		n = (size_t)(size - off);
		memset((char *)buf + n, 0, len - n);
	}
	return backing->ops->read(backing, buf, n, off);
}

int image_close(struct image *img)
{
	int r;

	if (!img)
		return 0;
	r = img->ops->close(img);
	if (img->fd >= 0)
		close(img->fd);
	pthread_mutex_destroy(&img->err_lock);
	free(img->name);
	free(img);
	return r;
}

enum image_format image_format_of(const struct image *img)
{
	return img->format;
}

uint64_t image_size(const struct image *img)
{
	return img->size;
}

bool image_readonly(const struct image *img)
{
	return img->readonly;
}

uint32_t image_cluster_size(const struct image *img)
{
	return img->cluster_size;
}

/* --- requests: bounds checks, then the backend ------------------------------ */

static int check_range(struct image *img, const char *what, uint64_t off, uint64_t len,
		       bool writing)
{
	if (writing && img->readonly) {
		image_set_error(img, "%s: the image is open read-only", what);
		return -EROFS;
	}
	if (off > img->size || len > img->size - off) {
		image_set_error(img, "%s of %llu bytes at 0x%llx is beyond the image size %llu",
				what, (unsigned long long)len, (unsigned long long)off,
				(unsigned long long)img->size);
		return -EINVAL;
	}
	return 0;
}

int image_read(struct image *img, void *buf, size_t len, uint64_t offset)
{
	int r = check_range(img, "read", offset, len, false);
	if (r < 0 || !len)
		return r;
	return img->ops->read(img, buf, len, offset);
}

int image_write(struct image *img, const void *buf, size_t len, uint64_t offset)
{
	int r = check_range(img, "write", offset, len, true);
	if (r < 0 || !len)
		return r;
	return img->ops->write(img, buf, len, offset);
}

int image_flush(struct image *img)
{
	if (img->readonly)
		return 0;
	return img->ops->flush(img);
}

int image_discard(struct image *img, uint64_t offset, uint64_t len)
{
	int r = check_range(img, "discard", offset, len, true);
	if (r < 0 || !len)
		return r;
	return img->ops->discard(img, offset, len);
}

int image_write_zeroes(struct image *img, uint64_t offset, uint64_t len, bool may_unmap)
{
	int r = check_range(img, "write_zeroes", offset, len, true);
	if (r < 0 || !len)
		return r;
	return img->ops->write_zeroes(img, offset, len, may_unmap);
}

int image_write_compressed(struct image *img, const void *buf, size_t len, uint64_t offset)
{
	int r = check_range(img, "compressed write", offset, len, true);
	if (r < 0)
		return r;
	if (offset % img->cluster_size ||
	    (len != img->cluster_size && offset + len != img->size) || len > img->cluster_size) {
		image_set_error(img, "compressed write at 0x%llx of %zu bytes is not one whole "
				"cluster", (unsigned long long)offset, len);
		return -EINVAL;
	}
	return img->ops->write_compressed(img, buf, len, offset);
}

int image_resize(struct image *img, uint64_t new_size)
{
	if (img->readonly) {
		image_set_error(img, "resize: the image is open read-only");
		return -EROFS;
	}
	return img->ops->resize(img, new_size);
}

int image_map(struct image *img, uint64_t offset, uint64_t len, struct image_extent *ext)
{
	int r = check_range(img, "map", offset, len, false);
	if (r < 0)
		return r;
	if (!len) {
		image_set_error(img, "map of an empty range at 0x%llx", (unsigned long long)offset);
		return -EINVAL;
	}
	return img->ops->map(img, offset, len, ext);
}

int image_get_info(struct image *img, struct image_info *info)
{
	struct stat st;
	int r;

	memset(info, 0, sizeof(*info));
	info->format = img->format;
	info->virtual_size = img->size;
	if (fstat(img->fd, &st) == 0)
		info->disk_size = (uint64_t)st.st_blocks * 512;
	r = img->ops->get_info(img, info);
	if (r < 0)
		image_info_free(info);
	return r;
}

void image_info_free(struct image_info *info)
{
	free(info->backing_file);
	free(info->backing_fmt);
	for (unsigned i = 0; i < info->nb_snapshots && info->snapshots; i++) {
		free(info->snapshots[i].id);
		free(info->snapshots[i].name);
	}
	free(info->snapshots);
	info->backing_file = info->backing_fmt = NULL;
	info->snapshots = NULL;
	info->nb_snapshots = 0;
}

int image_check(struct image *img, unsigned fix, struct image_check_result *res,
		void (*report)(void *ctx, const char *line), void *report_ctx)
{
	memset(res, 0, sizeof(*res));
	if (fix && img->readonly) {
		image_set_error(img, "check: cannot repair an image open read-only");
		return -EROFS;
	}
	return img->ops->check(img, fix, res, report, report_ctx);
}

void image_set_progress(struct image *img, image_progress_fn progress, void *ctx)
{
	img->progress = progress;
	img->progress_ctx = ctx;
}

int image_create(const char *path, const struct image_create_options *opts, char *err,
		 size_t errlen)
{
	struct image_create_options o = *opts;

	/* Sizes are whole 512-byte sectors (rounded up, as qemu-img does). */
	if (o.size > UINT64_MAX - 511) {
		snprintf(err, errlen, "%s: size %llu is too large", path, (unsigned long long)o.size);
		return -EFBIG;
	}
	o.size = (o.size + 511) & ~511ull;
	switch (o.format) {
	case IMAGE_FORMAT_RAW:
		return raw_create(path, &o, err, errlen);
	case IMAGE_FORMAT_QCOW2:
		return qcow2_create(path, &o, err, errlen);
	default:
		snprintf(err, errlen, "%s: create needs a format (raw or qcow2)", path);
		return -EINVAL;
	}
}
