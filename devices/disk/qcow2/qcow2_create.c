/* Creating qcow2 images: an empty image (header, its extensions, one
 * refcount table cluster and one refcount block) is written first, then
 * opened and grown to its size with the same code that resizes images, so
 * the L1 table and any preallocation go through the ordinary allocator. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/qcow2/qcow2.h"

static const struct {
	uint8_t type, bit;
	const char *name;
} feature_table[] = {
	{ 0, 0, "dirty bit" },
	{ 0, 1, "corrupt bit" },
	{ 0, 2, "external data file" },
	{ 0, 3, "compression type" },
	{ 0, 4, "extended L2 entries" },
	{ 1, 0, "lazy refcounts" },
	{ 2, 0, "bitmaps" },
	{ 2, 1, "raw external data" },
};

static int check_options(const char *path, const struct image_create_options *o, int compat,
			 uint32_t cs, unsigned rbits, bool zstd, char *err, size_t errlen)
{
	if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1))) {
		snprintf(err, errlen, "%s: cluster size %u must be a power of two from 512 to 2M",
			 path, cs);
		return -EINVAL;
	}
	if (compat != 2 && compat != 3) {
		snprintf(err, errlen, "%s: compat must be 2 (0.10) or 3 (1.1), not %d", path, compat);
		return -EINVAL;
	}
	if (!rbits || rbits > 64 || (rbits & (rbits - 1))) {
		snprintf(err, errlen, "%s: refcount_bits %u must be a power of two from 1 to 64",
			 path, rbits);
		return -EINVAL;
	}
	if (compat == 2 && rbits != 16) {
		snprintf(err, errlen, "%s: version 2 images need refcount_bits 16", path);
		return -EINVAL;
	}
	if (compat == 2 && o->lazy_refcounts) {
		snprintf(err, errlen, "%s: lazy refcounts need compat 3 (1.1)", path);
		return -EINVAL;
	}
	if (o->compression_type && strcmp(o->compression_type, "zlib") &&
	    strcmp(o->compression_type, "zstd")) {
		snprintf(err, errlen, "%s: unknown compression type '%s'", path, o->compression_type);
		return -EINVAL;
	}
	if (zstd && compat == 2) {
		snprintf(err, errlen, "%s: zstd compression needs compat 3 (1.1)", path);
		return -EINVAL;
	}
	if (o->backing_file && strlen(o->backing_file) > 1023) {
		snprintf(err, errlen, "%s: backing file name is longer than 1023 bytes", path);
		return -EINVAL;
	}
	if (o->backing_file && o->prealloc != IMAGE_PREALLOC_OFF) {
		snprintf(err, errlen, "%s: preallocation and a backing file cannot be combined", path);
		return -EINVAL;
	}
	if (o->size > QCOW2_MAX_SIZE) {
		snprintf(err, errlen, "%s: size %llu is too large", path, (unsigned long long)o->size);
		return -EFBIG;
	}
	return 0;
}

/* The size and format of the backing file, opened as the new image will. */
static int probe_backing(const char *path, const char *name, const char *fmt, uint64_t *size,
			 char **fmt_out, char *err, size_t errlen)
{
	struct image_options bo = { .readonly = true, .no_backing = true };
	char full[4096];
	struct image *b;
	int r;

	if (name[0] != '/' && strrchr(path, '/'))
		snprintf(full, sizeof(full), "%.*s/%s", (int)(strrchr(path, '/') - path), path, name);
	else
		snprintf(full, sizeof(full), "%s", name);
	if (fmt && !strcmp(fmt, "raw"))
		bo.format = IMAGE_FORMAT_RAW;
	else if (fmt && !strcmp(fmt, "qcow2"))
		bo.format = IMAGE_FORMAT_QCOW2;
	else if (fmt) {
		snprintf(err, errlen, "%s: unsupported backing format '%s'", path, fmt);
		return -ENOTSUP;
	}
	r = image_open(full, &bo, &b, err, errlen);
	if (r < 0)
		return r;
	*size = image_size(b);
	*fmt_out = strdup(image_format_of(b) == IMAGE_FORMAT_QCOW2 ? "qcow2" : "raw");
	image_close(b);
	return *fmt_out ? 0 : -ENOMEM;
}

static size_t put_ext(uint8_t *p, uint32_t type, const void *data, uint32_t len)
{
	put_be32(p, type);
	put_be32(p + 4, len);
	memcpy(p + 8, data, len);
	memset(p + 8 + len, 0, ((len + 7) & ~7u) - len);
	return 8 + ((len + 7) & ~7u);
}

/* Allocates every cluster of the image (L2 tables and data). */
static int preallocate(struct image *img, bool full)
{
	struct qcow2 *q = img->priv;
	uint64_t cs = q->cluster_size;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	for (uint64_t off = 0; off < q->size && r == 0;) {
		uint64_t *l2, host, n;
		unsigned idx;

		r = qcow2_get_l2_for_write(q, off, &l2, &idx);
		if (r < 0)
			break;
		n = q->l2_entries - idx;
		if (n > qcow2_clusters(q, q->size - off))
			n = qcow2_clusters(q, q->size - off);
		r = qcow2_alloc_clusters(q, n, &host, NULL);
		if (r == 0 && full && fallocate(q->fd, 0, (off_t)host, (off_t)(n * cs)) < 0) {
			for (uint64_t i = 0; i < n && r == 0; i++)
				r = image_pwrite_full(q->fd, q->zero_cluster, cs, host + i * cs);
		}
		for (uint64_t i = 0; i < n && r == 0; i++)
			l2[idx + i] = htobe64((host + i * cs) | QCOW2_COPIED);
		qcow2_cache_dirty(&q->l2_cache, l2);
		qcow2_cache_put(&q->l2_cache, l2);
		off += n * cs;
	}
	pthread_mutex_unlock(&q->lock);
	return r;
}

int qcow2_create(const char *path, const struct image_create_options *o, char *err,
		 size_t errlen)
{
	uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
	int compat = o->compat ? o->compat : 3;
	unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
	bool zstd = o->compression_type && !strcmp(o->compression_type, "zstd");
	uint64_t size = o->size;
	char *backing_fmt = NULL;
	uint8_t *buf = NULL;
	unsigned order = 0;
	int fd = -1, r;

	r = check_options(path, o, compat, cs, rbits, zstd, err, errlen);
	if (r < 0)
		return r;
	while ((1u << order) < rbits)
		order++;
	if (o->backing_file) {
		uint64_t bsize;
		r = probe_backing(path, o->backing_file, o->backing_fmt, &bsize, &backing_fmt, err,
				  errlen);
		if (r < 0)
			return r;
		if (!size)
			size = bsize;
	}

	buf = calloc(3, cs);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	uint8_t *h = buf;
	uint32_t cluster_bits = (uint32_t)__builtin_ctz(cs);
	uint32_t hlen = compat == 3 ? 112 : QCOW2_V2_HEADER_LEN;
	put_be32(h, QCOW2_MAGIC);
	put_be32(h + QH_VERSION, (uint32_t)compat);
	put_be32(h + QH_CLUSTER_BITS, cluster_bits);
	put_be64(h + QH_REFTABLE_OFFSET, cs);
	put_be32(h + QH_REFTABLE_CLUSTERS, 1);
	if (compat == 3) {
		put_be64(h + QH_INCOMPAT, zstd ? QCOW2_INCOMPAT_COMPRESSION : 0);
		put_be64(h + QH_COMPAT, o->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
		put_be32(h + QH_REFCOUNT_ORDER, order);
		put_be32(h + QH_HEADER_LENGTH, hlen);
		h[QH_COMPRESSION_TYPE] = zstd ? 1 : 0;
	}
	size_t pos = hlen;
	size_t name_len = o->backing_file ? strlen(o->backing_file) : 0;
	size_t fmt_len = backing_fmt ? strlen(backing_fmt) : 0;
	size_t table_len = sizeof(feature_table) / sizeof(feature_table[0]) * 48;
	size_t need = pos + (fmt_len ? 8 + ((fmt_len + 7) & ~7u) : 0) + 8 + name_len;
	if (need > cs) {
		snprintf(err, errlen, "%s: the header does not fit in a %u-byte cluster", path, cs);
		r = -EINVAL;
		goto out;
	}
	if (backing_fmt)
		pos += put_ext(h + pos, QCOW2_EXT_BACKING_FMT, backing_fmt, (uint32_t)fmt_len);
	if (compat == 3 && need + 8 + table_len <= cs) {
		uint8_t table[sizeof(feature_table) / sizeof(feature_table[0]) * 48];
		memset(table, 0, sizeof(table));
		for (size_t i = 0; i < sizeof(feature_table) / sizeof(feature_table[0]); i++) {
			table[i * 48] = feature_table[i].type;
			table[i * 48 + 1] = feature_table[i].bit;
			memcpy(table + i * 48 + 2, feature_table[i].name, strlen(feature_table[i].name));
		}
		pos += put_ext(h + pos, QCOW2_EXT_FEATURE_NAMES, table, (uint32_t)table_len);
	}
	pos += 8; /* end of extensions */
	if (name_len) {
		memcpy(h + pos, o->backing_file, name_len);
		put_be64(h + QH_BACKING_OFFSET, pos);
		put_be32(h + QH_BACKING_SIZE, (uint32_t)name_len);
	}
	/* Refcount table -> block at cluster 2, which counts clusters 0..2. */
	put_be64(buf + cs, 2ull * cs);
	for (unsigned c = 0; c < 3; c++) {
		uint8_t *rb = buf + 2 * cs;
		if (order < 3)
			rb[(c << order) / 8] |= (uint8_t)(1u << ((c << order) % 8));
		else
			rb[((c + 1) << (order - 3)) - 1] = 1;
	}

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(-r));
		goto out;
	}
	r = image_pwrite_full(fd, buf, 3ull * cs, 0);
	if (r < 0) {
		snprintf(err, errlen, "%s: writing the header failed: %s", path, strerror(-r));
		goto out;
	}
	close(fd);
	fd = -1;

	/* Grow it to its size through the ordinary code. */
	struct image_options oo = { .format = IMAGE_FORMAT_QCOW2, .no_backing = true };
	struct image *img;
	r = image_open(path, &oo, &img, err, errlen);
	if (r < 0)
		goto out;
	if (size)
		r = image_resize(img, size);
	if (r == 0 && o->prealloc != IMAGE_PREALLOC_OFF)
		r = preallocate(img, o->prealloc == IMAGE_PREALLOC_FULL);
	if (r < 0)
		snprintf(err, errlen, "%s", image_error(img));
	int rc = image_close(img);
	if (r == 0 && rc < 0) {
		r = rc;
		snprintf(err, errlen, "%s: closing failed: %s", path, strerror(-rc));
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(backing_fmt);
	return r;
}
