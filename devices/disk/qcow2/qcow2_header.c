/* qcow2 open and close: the header and its extensions, validated field by
 * field, feature bits, the backing file, the dirty bit and image info.
 * The header is never rewritten as a whole: fields we change are written
 * in place, so extensions we do not know stay exactly as they were. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/disk/qcow2/qcow2.h"

static int qcow2_close(struct image *img);
static int qcow2_get_info(struct image *img, struct image_info *info);

static const struct image_ops qcow2_ops = {
	.read = qcow2_read,
	.write = qcow2_write,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.write_compressed = qcow2_write_compressed,
	.resize = qcow2_resize,
	.map = qcow2_map,
	.get_info = qcow2_get_info,
	.check = qcow2_check,
	.close = qcow2_close,
};

bool qcow2_probe(const void *buf, size_t len)
{
	return len >= 4 && be32_at(buf) == QCOW2_MAGIC;
}

int qcow2_check_offset(struct qcow2 *q, uint64_t off, uint64_t len, const char *what)
{
	if (off & (q->cluster_size - 1)) {
		qerr(q, "%s at 0x%llx is not aligned to a cluster", what, (unsigned long long)off);
		return -EIO;
	}
	if (off >= QCOW2_MAX_OFFSET) {
		qerr(q, "%s at 0x%llx is beyond 2^56", what, (unsigned long long)off);
		return -EIO;
	}
	if (len && (off == 0 || off + len > q->file_size)) {
		qerr(q, "%s at 0x%llx is %s", what, (unsigned long long)off,
		     off ? "outside the file" : "in the header cluster");
		return -EIO;
	}
	return 0;
}

int qcow2_write_header_field(struct qcow2 *q, unsigned off, const void *val, size_t len)
{
	int r = image_pwrite_full(q->fd, val, len, off);
	if (r < 0)
		qerr(q, "writing the header at offset %u failed: %s", off, strerror(-r));
	return r;
}

static int write_incompat(struct qcow2 *q)
{
	uint8_t v[8];
	put_be64(v, q->incompat);
	return qcow2_write_header_field(q, QH_INCOMPAT, v, 8);
}

/* Lazy refcounts: the image is marked dirty before the first write so that
 * refcounts left stale by a crash are rebuilt on the next open. */
int qcow2_mark_dirty(struct qcow2 *q)
{
	int r;

	if (q->dirty_on_disk || q->version < 3 || !(q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS))
		return 0;
	q->incompat |= QCOW2_INCOMPAT_DIRTY;
	r = write_incompat(q);
	if (r == 0 && fdatasync(q->fd) < 0)
		r = -errno;
	if (r == 0)
		q->dirty_on_disk = true;
	return r;
}

int qcow2_mark_clean(struct qcow2 *q)
{
	int r;

	if (!(q->incompat & QCOW2_INCOMPAT_DIRTY))
		return 0;
	r = qcow2_flush_metadata(q);
	if (r == 0 && fdatasync(q->fd) < 0)
		r = -errno;
	if (r < 0)
		return r;
	q->incompat &= ~QCOW2_INCOMPAT_DIRTY;
	r = write_incompat(q);
	if (r == 0 && fdatasync(q->fd) < 0)
		r = -errno;
	q->dirty_on_disk = false;
	return r;
}

/* The name of incompatible feature BIT from the feature name table. */
static void feature_name(struct qcow2 *q, int type, unsigned bit, char *name, size_t len)
{
	snprintf(name, len, "bit %u", bit);
	for (uint32_t i = 0; i + 48 <= q->feature_names_len; i += 48) {
		const char *e = q->feature_names + i;
		if ((uint8_t)e[0] == type && (uint8_t)e[1] == bit) {
			snprintf(name, len, "%.46s", e + 2);
			return;
		}
	}
}

static int read_extensions(struct qcow2 *q, const uint8_t *hdr, uint32_t start, uint32_t end)
{
	uint32_t off = start;

	while (off + 8 <= end) {
		uint32_t type = be32_at(hdr + off), len = be32_at(hdr + off + 4);
		const uint8_t *data = hdr + off + 8;

		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off - 8) {
			qerr(q, "header extension 0x%08x at offset %u is longer than the header "
			     "cluster", type, off);
			return -EINVAL;
		}
		if (type == QCOW2_EXT_BACKING_FMT) {
			free(q->backing_fmt);
			q->backing_fmt = strndup((const char *)data, len);
			if (!q->backing_fmt)
				return -ENOMEM;
		} else if (type == QCOW2_EXT_FEATURE_NAMES) {
			free(q->feature_names);
			q->feature_names = malloc(len ? len : 1);
			if (!q->feature_names)
				return -ENOMEM;
			memcpy(q->feature_names, data, len);
			q->feature_names_len = len;
		}
		off += 8 + ((len + 7) & ~7u);
	}
	return 0;
}

static int validate_features(struct qcow2 *q, bool writable)
{
	uint64_t known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |
			 QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2;
	char name[64];

	for (unsigned b = 0; b < 64; b++) {
		if ((q->incompat >> b & 1) && !(known >> b & 1)) {
			feature_name(q, 0, b, name, sizeof(name));
			qerr(q, "unsupported incompatible feature: %s", name);
			return -ENOTSUP;
		}
	}
	if (q->incompat & QCOW2_INCOMPAT_EXTL2) {
		qerr(q, "extended L2 entries are not supported");
		return -ENOTSUP;
	}
	if (q->incompat & QCOW2_INCOMPAT_DATA_FILE) {
		qerr(q, "external data files are not supported");
		return -ENOTSUP;
	}
	if (q->incompat & QCOW2_INCOMPAT_CORRUPT && writable) {
		qerr(q, "the image is marked corrupt; it can only be opened read-only");
		return -EIO;
	}
	if (!!(q->incompat & QCOW2_INCOMPAT_COMPRESSION) != (q->compression_type != 0)) {
		qerr(q, "compression type %u does not match the compression feature bit",
		     q->compression_type);
		return -EINVAL;
	}
	if (q->compression_type > 1) {
		qerr(q, "unknown compression type %u", q->compression_type);
		return -ENOTSUP;
	}
	return 0;
}

static int parse_header(struct qcow2 *q, const uint8_t *h, size_t hlen, bool writable)
{
	uint64_t l2_span, l1_needed;
	uint32_t backing_size;
	uint64_t backing_off;

	if (hlen < QCOW2_V2_HEADER_LEN || be32_at(h) != QCOW2_MAGIC) {
		qerr(q, "not a qcow2 image (bad magic or short header)");
		return -EINVAL;
	}
	q->version = be32_at(h + QH_VERSION);
	if (q->version != 2 && q->version != 3) {
		qerr(q, "unsupported qcow2 version %u", q->version);
		return -ENOTSUP;
	}
	q->cluster_bits = be32_at(h + QH_CLUSTER_BITS);
	if (q->cluster_bits < 9 || q->cluster_bits > 21) {
		qerr(q, "cluster_bits %u is outside 9..21", q->cluster_bits);
		return -EINVAL;
	}
	q->cluster_size = 1u << q->cluster_bits;
	if (be32_at(h + QH_CRYPT) != 0) {
		qerr(q, "encrypted images are not supported (crypt_method %u)",
		     be32_at(h + QH_CRYPT));
		return -ENOTSUP;
	}
	q->size = be64_at(h + QH_SIZE);
	q->l1_size = be32_at(h + QH_L1_SIZE);
	q->l1_offset = be64_at(h + QH_L1_OFFSET);
	q->reftable_offset = be64_at(h + QH_REFTABLE_OFFSET);
	q->reftable_clusters = be32_at(h + QH_REFTABLE_CLUSTERS);
	q->nb_snapshots = be32_at(h + QH_NB_SNAPSHOTS);
	q->snapshots_offset = be64_at(h + QH_SNAPSHOTS_OFFSET);
	backing_off = be64_at(h + QH_BACKING_OFFSET);
	backing_size = be32_at(h + QH_BACKING_SIZE);

	if (q->version == 2) {
		q->header_length = QCOW2_V2_HEADER_LEN;
		q->refcount_order = 4;
	} else {
		if (hlen < QCOW2_V3_HEADER_LEN) {
			qerr(q, "short version 3 header");
			return -EINVAL;
		}
		q->incompat = be64_at(h + QH_INCOMPAT);
		q->compat = be64_at(h + QH_COMPAT);
		q->autoclear = be64_at(h + QH_AUTOCLEAR);
		q->refcount_order = be32_at(h + QH_REFCOUNT_ORDER);
		q->header_length = be32_at(h + QH_HEADER_LENGTH);
		if (q->header_length < QCOW2_V3_HEADER_LEN || q->header_length % 8 ||
		    q->header_length > q->cluster_size) {
			qerr(q, "header_length %u is invalid", q->header_length);
			return -EINVAL;
		}
		if (q->header_length > QH_COMPRESSION_TYPE)
			q->compression_type = h[QH_COMPRESSION_TYPE];
	}
	if (q->refcount_order > 6) {
		qerr(q, "refcount_order %u is above 6", q->refcount_order);
		return -EINVAL;
	}
	if (q->size > QCOW2_MAX_SIZE) {
		qerr(q, "virtual size %llu is too large", (unsigned long long)q->size);
		return -EFBIG;
	}

	q->l2_bits = q->cluster_bits - 3;
	q->l2_entries = 1u << q->l2_bits;
	q->rb_bits = q->cluster_bits + 3 - q->refcount_order;
	q->rb_entries = 1u << q->rb_bits;
	q->refcount_max = q->refcount_order == 6 ? UINT64_MAX : (1ull << (1u << q->refcount_order)) - 1;
	q->csize_shift = 62 - (q->cluster_bits - 8);
	q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
	q->coffset_mask = (1ull << q->csize_shift) - 1;

	l2_span = (uint64_t)q->cluster_size * q->l2_entries;
	l1_needed = (q->size + l2_span - 1) / l2_span;
	if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		qerr(q, "L1 table of %u entries is too large", q->l1_size);
		return -EFBIG;
	}
	if (q->l1_size < l1_needed) {
		qerr(q, "L1 table of %u entries is too small for %llu bytes", q->l1_size,
		     (unsigned long long)q->size);
		return -EINVAL;
	}
	int r = 0;
	if (q->l1_size &&
	    (r = qcow2_check_offset(q, q->l1_offset, (uint64_t)q->l1_size * 8, "L1 table")) < 0)
		return r;
	if (!q->reftable_clusters) {
		qerr(q, "the refcount table is empty");
		return -EINVAL;
	}
	if (((uint64_t)q->reftable_clusters << q->cluster_bits) > QCOW2_MAX_REFTABLE_BYTES) {
		qerr(q, "refcount table of %u clusters is too large", q->reftable_clusters);
		return -EFBIG;
	}
	r = qcow2_check_offset(q, q->reftable_offset,
			       (uint64_t)q->reftable_clusters << q->cluster_bits, "refcount table");
	if (r < 0)
		return r;
	if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
		qerr(q, "%u snapshots are too many", q->nb_snapshots);
		return -EINVAL;
	}
	if (q->nb_snapshots &&
	    (r = qcow2_check_offset(q, q->snapshots_offset, 40, "snapshot table")) < 0)
		return r;
	if (backing_off) {
		if (backing_size == 0 || backing_size > 1023 || backing_off > q->cluster_size ||
		    backing_size > q->cluster_size - backing_off || backing_off + backing_size > hlen) {
			qerr(q, "backing file name at %llu (%u bytes) is invalid",
			     (unsigned long long)backing_off, backing_size);
			return -EINVAL;
		}
		q->backing_file = strndup((const char *)h + backing_off, backing_size);
		if (!q->backing_file)
			return -ENOMEM;
	}
	uint32_t ext_end = hlen > q->cluster_size ? q->cluster_size : (uint32_t)hlen;
	if (backing_off && backing_off < ext_end)
		ext_end = (uint32_t)backing_off;
	r = read_extensions(q, h, q->header_length, ext_end);
	if (r < 0)
		return r;
	return validate_features(q, writable);
}

static int load_l1(struct qcow2 *q, uint64_t off, uint32_t size)
{
	uint32_t alloc = size ? size : 1;
	ssize_t n;

	free(q->l1);
	q->l1 = calloc(alloc, 8);
	if (!q->l1)
		return -ENOMEM;
	n = image_pread_full(q->fd, q->l1, (size_t)size * 8, off);
	if (n < 0 || (size_t)n != (size_t)size * 8) {
		qerr(q, "cannot read the L1 table at 0x%llx", (unsigned long long)off);
		return -EIO;
	}
	for (uint32_t i = 0; i < size; i++)
		q->l1[i] = be64toh(q->l1[i]);
	q->l1_size = size;
	return 0;
}

static void qcow2_free(struct qcow2 *q)
{
	if (!q)
		return;
	if (q->backing)
		image_close(q->backing);
	qcow2_cache_destroy(&q->l2_cache);
	qcow2_cache_destroy(&q->rb_cache);
	qcow2_free_snapshots(q);
	free(q->l1);
	free(q->reftable);
	free(q->backing_file);
	free(q->backing_fmt);
	free(q->feature_names);
	free(q->zero_cluster);
	free(q->pending_free);
	pthread_mutex_destroy(&q->lock);
	pthread_rwlock_destroy(&q->io_lock);
	free(q);
}

static int flush_refcounts_first(struct qcow2 *q)
{
	return qcow2_cache_flush(&q->rb_cache);
}

int qcow2_open(struct image *img, const struct image_chain *chain)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	pthread_rwlockattr_t rwa;
	uint8_t *hdr = NULL;
	struct stat st;
	ssize_t n;
	int r;

	if (!q)
		return -ENOMEM;
	q->img = img;
	q->fd = img->fd;
	pthread_mutex_init(&q->lock, NULL);
	/* Writers (allocations) must not starve behind a stream of reads. */
	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&q->io_lock, &rwa);
	pthread_rwlockattr_destroy(&rwa);
	img->priv = q;

	if (fstat(q->fd, &st) < 0) {
		r = -errno;
		qerr(q, "fstat failed: %s", strerror(-r));
		goto fail;
	}
	q->file_size = q->open_file_size = (uint64_t)st.st_size;

	/* The header cluster, or what there is of it.  cluster_bits is
	 * validated by parse_header; until then it only sizes the read. */
	uint8_t first[32] = { 0 };
	n = image_pread_full(q->fd, first, sizeof(first), 0);
	uint32_t cb = n >= 24 ? be32_at(first + QH_CLUSTER_BITS) : 9;
	size_t hbytes = cb >= 9 && cb <= 21 ? 1u << cb : 512;
	hdr = calloc(1, hbytes);
	if (!hdr) {
		r = -ENOMEM;
		goto fail;
	}
	n = image_pread_full(q->fd, hdr, hbytes, 0);
	if (n < 0) {
		r = (int)n;
		qerr(q, "cannot read the header: %s", strerror(-r));
		goto fail;
	}
	q->cluster_size = 512;
	q->cluster_bits = 9;
	r = parse_header(q, hdr, (size_t)n, !img->readonly);
	if (r < 0)
		goto fail;
	q->zero_from = qcow2_align_up(q, q->file_size);
	q->free_hint = 1;

	if ((r = qcow2_cache_init(&q->l2_cache, q, img->opts.l2_cache_bytes ?: (1u << 20),
				  "L2 table", flush_refcounts_first)) < 0 ||
	    (r = qcow2_cache_init(&q->rb_cache, q,
				  img->opts.refcount_cache_bytes ?: (256u << 10),
				  "refcount block", NULL)) < 0)
		goto fail;
	q->zero_cluster = calloc(1, q->cluster_size);
	if (!q->zero_cluster) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = load_l1(q, q->l1_offset, q->l1_size)) < 0)
		goto fail;
	if ((r = qcow2_load_reftable(q)) < 0)
		goto fail;
	if ((r = qcow2_read_snapshots(q)) < 0)
		goto fail;

	if (img->opts.snapshot) {
		int i = qcow2_find_snapshot(q, img->opts.snapshot);
		if (i < 0) {
			qerr(q, "no snapshot '%s'", img->opts.snapshot);
			r = -ENOENT;
			goto fail;
		}
		if ((r = load_l1(q, q->snaps[i].l1_offset, q->snaps[i].l1_size)) < 0)
			goto fail;
		q->size = q->snaps[i].disk_size;
		q->at_snapshot = true;
	}

	img->ops = &qcow2_ops;
	img->format = IMAGE_FORMAT_QCOW2;
	/* Guests see whole sectors (as qemu does with an odd size). */
	img->size = q->size & ~511ull;
	img->cluster_size = q->cluster_size;

	if (q->backing_file && !img->opts.no_backing) {
		r = image_open_backing(img, q->backing_file, q->backing_fmt, chain, &q->backing);
		if (r < 0)
			goto fail;
	}

	if (!img->readonly) {
		if (q->autoclear) {
			/* Features we do not maintain: tell their readers so. */
			uint8_t zero[8] = { 0 };
			q->autoclear = 0;
			if ((r = qcow2_write_header_field(q, QH_AUTOCLEAR, zero, 8)) < 0)
				goto fail;
		}
		if (q->incompat & QCOW2_INCOMPAT_DIRTY) {
			if ((r = qcow2_rebuild_refcounts(q)) < 0)
				goto fail;
			if ((r = qcow2_mark_clean(q)) < 0)
				goto fail;
		}
	}
	free(hdr);
	return 0;
fail:
	free(hdr);
	img->priv = NULL;
	qcow2_free(q);
	return r;
}

int qcow2_flush(struct image *img)
{
	struct qcow2 *q = img->priv;
	int r;

	pthread_mutex_lock(&q->lock);
	r = qcow2_cache_flush(&q->rb_cache);
	/* Against power loss too: refcounts reach the disk before the L2
	 * tables that depend on them. */
	if (r == 0 && qcow2_cache_has_dirty(&q->l2_cache)) {
		if (fdatasync(q->fd) < 0)
			r = -errno;
		if (r == 0)
			r = qcow2_cache_flush(&q->l2_cache);
	}
	/* Clusters dropped by those tables can now be counted free. */
	if (r == 0 && q->nb_pending) {
		r = qcow2_sync_frees(q);
		if (r == 0)
			r = qcow2_cache_flush(&q->rb_cache);
	}
	pthread_mutex_unlock(&q->lock);
	if (r == 0 && fdatasync(q->fd) < 0) {
		r = -errno;
		qerr(q, "fdatasync failed: %s", strerror(-r));
	}
	return r;
}

static int qcow2_close(struct image *img)
{
	struct qcow2 *q = img->priv;
	int r = 0;

	if (!img->readonly) {
		r = qcow2_flush(img);
		if (r == 0)
			r = qcow2_mark_clean(q);
		/* Give back the space grown ahead of need. */
		uint64_t end = q->alloc_end > q->open_file_size ? q->alloc_end : q->open_file_size;
		if (r == 0 && q->file_size > end && ftruncate(q->fd, (off_t)end) < 0)
			r = -errno;
	}
	qcow2_free(q);
	img->priv = NULL;
	return r;
}

static int qcow2_get_info(struct image *img, struct image_info *info)
{
	struct qcow2 *q = img->priv;

	info->cluster_size = q->cluster_size;
	info->version = (int)q->version;
	if (q->backing_file && !(info->backing_file = strdup(q->backing_file)))
		return -ENOMEM;
	if (q->backing_fmt && !(info->backing_fmt = strdup(q->backing_fmt)))
		return -ENOMEM;
	info->lazy_refcounts = q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
	info->dirty = q->incompat & QCOW2_INCOMPAT_DIRTY;
	info->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
	info->extended_l2 = q->incompat & QCOW2_INCOMPAT_EXTL2;
	info->refcount_bits = 1u << q->refcount_order;
	info->compression_type = q->compression_type ? "zstd" : "zlib";
	if (q->nb_snapshots) {
		info->snapshots = calloc(q->nb_snapshots, sizeof(*info->snapshots));
		if (!info->snapshots)
			return -ENOMEM;
		info->nb_snapshots = q->nb_snapshots;
		for (uint32_t i = 0; i < q->nb_snapshots; i++) {
			struct image_snapshot_info *s = &info->snapshots[i];
			s->id = strdup(q->snaps[i].id);
			s->name = strdup(q->snaps[i].name);
			if (!s->id || !s->name)
				return -ENOMEM;
			s->vm_state_size = q->snaps[i].vm_state_size;
			s->date_sec = q->snaps[i].date_sec;
			s->date_nsec = q->snaps[i].date_nsec;
			s->vm_clock_nsec = q->snaps[i].vm_clock_nsec;
			s->disk_size = q->snaps[i].disk_size;
			s->icount = q->snaps[i].icount;
		}
	}
	return 0;
}
