/* qcow2 guest I/O: reads, writes (in place, or allocating with copy on
 * write), discard, zeroes, compressed writes, resize and map.
 *
 * The hot paths (reads, and writes to clusters this image owns) look the
 * mapping up under q->lock and do their data pread/pwrite outside it,
 * holding q->io_lock shared.  Allocating and freeing run with io_lock held
 * exclusively (see qcow2.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <linux/falloc.h>
#include <fcntl.h>

#include "devices/disk/qcow2/qcow2.h"

enum cluster_type { C_UNALLOC, C_ZERO, C_NORMAL, C_COMPRESSED };

/* Entries looked up per lock round trip. */
#define RUN_MAX 256

static enum cluster_type type_of(uint64_t e)
{
	if (e & QCOW2_COMPRESSED)
		return C_COMPRESSED;
	if (e & QCOW2_ZERO)
		return C_ZERO;
	if (e & QCOW2_OFFSET_MASK)
		return C_NORMAL;
	return C_UNALLOC;
}

/* A run of clusters from OFF with one type and, for data, contiguous host
 * offsets.  Returns its length in bytes (at most LEN) in *RUN_LEN. */
static int lookup_run(struct qcow2 *q, uint64_t off, uint64_t len, bool for_write,
		      uint64_t *first, uint64_t *run_len)
{
	uint64_t entries[RUN_MAX];
	uint64_t in_off = off & (q->cluster_size - 1);
	uint64_t nclusters = (in_off + len + q->cluster_size - 1) >> q->cluster_bits;
	unsigned got, n = 1;
	int r;

	r = qcow2_get_l2_entries(q, off, entries, nclusters < RUN_MAX ? (unsigned)nclusters : RUN_MAX,
				 &got);
	if (r < 0)
		return r;
	r = qcow2_check_l2_entry(q, entries[0], off);
	if (r < 0)
		return r;
	*first = entries[0];
	enum cluster_type t = type_of(entries[0]);
	if (for_write && !(t == C_NORMAL && (entries[0] & QCOW2_COPIED))) {
		n = 1;
	} else if (t != C_COMPRESSED) {
		for (; n < got; n++) {
			uint64_t e = entries[n];
			if (type_of(e) != t)
				break;
			if (t == C_NORMAL &&
			    ((e & QCOW2_OFFSET_MASK) !=
				     (entries[0] & QCOW2_OFFSET_MASK) + ((uint64_t)n << q->cluster_bits) ||
			     (for_write && !(e & QCOW2_COPIED))))
				break;
			if (qcow2_check_l2_entry(q, e, off + ((uint64_t)n << q->cluster_bits)) < 0)
				break;
		}
	}
	uint64_t bytes = ((uint64_t)n << q->cluster_bits) - in_off;
	*run_len = bytes < len ? bytes : len;
	return 0;
}

int qcow2_read(struct image *img, void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->priv;
	uint8_t *p = buf, *cluster = NULL;
	int r = 0;

	pthread_rwlock_rdlock(&q->io_lock);
	while (len) {
		uint64_t e, n;

		pthread_mutex_lock(&q->lock);
		r = lookup_run(q, off, len, false, &e, &n);
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			break;
		switch (type_of(e)) {
		case C_UNALLOC:
			if (q->backing)
				r = image_read_backing(q->backing, p, n, off);
			else
				memset(p, 0, n);
			if (r < 0)
				qerr(q, "reading the backing file: %s", image_error(q->backing));
			break;
		case C_ZERO:
			memset(p, 0, n);
			break;
		case C_NORMAL: {
			uint64_t host = (e & QCOW2_OFFSET_MASK) + (off & (q->cluster_size - 1));
			ssize_t got = image_pread_full(q->fd, p, n, host);
			if (got < 0) {
				r = (int)got;
				qerr(q, "read of %llu bytes at 0x%llx failed: %s",
				     (unsigned long long)n, (unsigned long long)host, strerror(-r));
			} else if ((uint64_t)got < n) {
				memset(p + got, 0, n - (uint64_t)got); /* past the end of the file */
			}
			break;
		}
		case C_COMPRESSED:
			if (!cluster && !(cluster = malloc(q->cluster_size))) {
				r = -ENOMEM;
				break;
			}
			r = qcow2_read_compressed(q, e, cluster);
			if (r == 0)
				memcpy(p, cluster + (off & (q->cluster_size - 1)), n);
			break;
		}
		if (r < 0)
			break;
		p += n;
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&q->io_lock);
	free(cluster);
	return r;
}

static int pwritev_full(struct qcow2 *q, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt) {
		ssize_t n = pwritev(q->fd, iov, cnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)n;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Drops the reference an L2 entry held. */
static int free_entry(struct qcow2 *q, uint64_t e)
{
	enum cluster_type t = type_of(e);

	if (t == C_COMPRESSED) {
		uint64_t off, len;
		qcow2_compressed_span(q, e, &off, &len);
		return qcow2_free_range(q, off, len);
	}
	if (e & QCOW2_OFFSET_MASK)
		return qcow2_free_range(q, e & QCOW2_OFFSET_MASK, q->cluster_size);
	return 0;
}

/* Is this entry's cluster ours alone?  Fixes a missing copied flag. */
static int owned(struct qcow2 *q, uint64_t *l2, unsigned idx, bool *own)
{
	uint64_t e = be64toh(l2[idx]), ref;
	int r;

	*own = false;
	if (type_of(e) == C_COMPRESSED || !(e & QCOW2_OFFSET_MASK))
		return 0;
	if (e & QCOW2_COPIED) {
		*own = true;
		return 0;
	}
	r = qcow2_get_refcount(q, (e & QCOW2_OFFSET_MASK) >> q->cluster_bits, &ref);
	if (r < 0)
		return r;
	if (ref == 1) {
		l2[idx] = htobe64(e | QCOW2_COPIED);
		qcow2_cache_dirty(&q->l2_cache, l2);
		*own = true;
	}
	return 0;
}

/* Writes [OFF, OFF+LEN) within one guest cluster that needs a new (or
 * zero-flagged) host cluster.  Under io_lock (exclusive) and q->lock. */
static int write_allocating(struct qcow2 *q, const uint8_t *data, uint64_t len, uint64_t off)
{
	uint64_t cs = q->cluster_size, start = off & ~(cs - 1), in_off = off - start;
	uint64_t *l2, e, host;
	uint8_t *src = NULL;
	unsigned idx;
	bool own, fresh = false, reuse;
	int r;

	r = qcow2_get_l2_for_write(q, start, &l2, &idx);
	if (r < 0)
		return r;
	e = be64toh(l2[idx]);
	if ((r = qcow2_check_l2_entry(q, e, start)) < 0 || (r = owned(q, l2, idx, &own)) < 0)
		goto out;
	e = be64toh(l2[idx]);
	if (own && type_of(e) == C_NORMAL) {
		/* Another writer allocated it meanwhile. */
		r = image_pwrite_full(q->fd, data, len, (e & QCOW2_OFFSET_MASK) + in_off);
		goto out;
	}
	reuse = own && type_of(e) == C_ZERO; /* preallocated zero cluster */
	if (reuse) {
		host = e & QCOW2_OFFSET_MASK;
	} else {
		r = qcow2_alloc_clusters(q, 1, &host, &fresh);
		if (r < 0)
			goto out;
	}

	if (len < cs) {
		/* What the rest of the cluster holds now. */
		enum cluster_type t = type_of(e);
		uint64_t valid = q->size - start < cs ? q->size - start : cs;
		if (t == C_NORMAL || t == C_COMPRESSED || (t == C_UNALLOC && q->backing)) {
			src = malloc(cs);
			if (!src) {
				r = -ENOMEM;
				goto out;
			}
			memset(src, 0, cs);
			if (t == C_NORMAL) {
				ssize_t n = image_pread_full(q->fd, src, cs, e & QCOW2_OFFSET_MASK);
				r = n < 0 ? (int)n : 0;
			} else if (t == C_COMPRESSED) {
				r = qcow2_read_compressed(q, e, src);
			} else {
				r = image_read_backing(q->backing, src, valid, start);
			}
			if (r < 0)
				goto out;
			memcpy(src + in_off, data, len);
			r = image_pwrite_full(q->fd, src, cs, host);
		} else if (fresh) {
			r = image_pwrite_full(q->fd, data, len, host + in_off);
		} else {
			struct iovec iov[3] = {
				{ q->zero_cluster, in_off },
				{ (void *)data, len },
				{ q->zero_cluster, cs - in_off - len },
			};
			r = pwritev_full(q, iov, 3, host);
		}
	} else {
		r = image_pwrite_full(q->fd, data, len, host);
	}
	if (r < 0) {
		qerr(q, "write of a new cluster at 0x%llx failed: %s", (unsigned long long)host,
		     strerror(-r));
		goto out;
	}
	l2[idx] = htobe64(host | QCOW2_COPIED);
	qcow2_cache_dirty(&q->l2_cache, l2);
	if (!reuse)
		r = free_entry(q, e);
out:
	free(src);
	qcow2_cache_put(&q->l2_cache, l2);
	return r;
}

static int start_writing(struct qcow2 *q)
{
	int r = 0;

	if (!q->dirty_on_disk && (q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS)) {
		pthread_mutex_lock(&q->lock);
		r = qcow2_mark_dirty(q);
		pthread_mutex_unlock(&q->lock);
	}
	return r;
}

int qcow2_write(struct image *img, const void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->priv;
	const uint8_t *p = buf;
	int r = start_writing(q);

	if (r < 0)
		return r;
	pthread_rwlock_rdlock(&q->io_lock);
	while (len) {
		uint64_t e, n;

		pthread_mutex_lock(&q->lock);
		r = lookup_run(q, off, len, true, &e, &n);
		pthread_mutex_unlock(&q->lock);
		if (r < 0)
			break;
		if (type_of(e) == C_NORMAL && (e & QCOW2_COPIED)) {
			uint64_t host = (e & QCOW2_OFFSET_MASK) + (off & (q->cluster_size - 1));
			r = image_pwrite_full(q->fd, p, n, host);
			if (r < 0) {
				qerr(q, "write of %llu bytes at 0x%llx failed: %s",
				     (unsigned long long)n, (unsigned long long)host, strerror(-r));
				break;
			}
		} else {
			pthread_rwlock_unlock(&q->io_lock);
			pthread_rwlock_wrlock(&q->io_lock);
			pthread_mutex_lock(&q->lock);
			r = write_allocating(q, p, n, off);
			pthread_mutex_unlock(&q->lock);
			pthread_rwlock_unlock(&q->io_lock);
			pthread_rwlock_rdlock(&q->io_lock);
			if (r < 0)
				break;
		}
		p += n;
		off += n;
		len -= n;
	}
	pthread_rwlock_unlock(&q->io_lock);
	return r;
}

/* Rewrites the entries of whole clusters [OFF, OFF+LEN): ZERO_FLAG makes
 * them read zero, else they become unallocated.  KEEP_OWNED leaves an
 * owned host cluster allocated (flagged zero).  Freed clusters are dropped
 * after the tables are written; with PUNCH their space is given back. */
static int clear_clusters(struct qcow2 *q, uint64_t off, uint64_t len, bool zero_flag,
			  bool keep_owned, bool punch)
{
	uint64_t cs = q->cluster_size;
	uint64_t *freed = malloc(q->l2_entries * sizeof(uint64_t));
	int r = 0;

	if (!freed)
		return -ENOMEM;
	pthread_rwlock_wrlock(&q->io_lock);
	pthread_mutex_lock(&q->lock);
	while (len && r == 0) {
		uint64_t *l2, e, probe;
		unsigned idx, nfreed = 0;
		bool own;

		/* Nothing to do where nothing is stored and reads are zero. */
		r = qcow2_get_l2_entry(q, off, &probe);
		if (r < 0)
			break;
		if ((type_of(probe) == C_UNALLOC && !(zero_flag && q->backing)) ||
		    (type_of(probe) == C_ZERO && !(probe & QCOW2_OFFSET_MASK))) {
			off += cs;
			len -= cs;
			continue;
		}
		r = qcow2_get_l2_for_write(q, off, &l2, &idx);
		if (r < 0)
			break;
		for (; idx < q->l2_entries && len; idx++, off += cs, len -= cs) {
			e = be64toh(l2[idx]);
			if ((r = qcow2_check_l2_entry(q, e, off)) < 0)
				break;
			if ((r = owned(q, l2, idx, &own)) < 0)
				break;
			e = be64toh(l2[idx]);
			uint64_t ne = zero_flag ? QCOW2_ZERO : 0;
			if (keep_owned && own) {
				ne = e | QCOW2_ZERO;
			} else if (type_of(e) == C_NORMAL || type_of(e) == C_ZERO ||
				   type_of(e) == C_COMPRESSED) {
				if (e & (QCOW2_OFFSET_MASK | QCOW2_COMPRESSED))
					freed[nfreed++] = e;
			}
			if (ne != e) {
				l2[idx] = htobe64(ne);
				qcow2_cache_dirty(&q->l2_cache, l2);
			}
		}
		qcow2_cache_put(&q->l2_cache, l2);
		for (unsigned i = 0; i < nfreed && r == 0; i++) {
			uint64_t host = freed[i] & QCOW2_OFFSET_MASK, ref = 0;
			/* Our cluster alone: give its space back now (reads of the
			 * old entry, should it survive a crash, see zeroes, which a
			 * discard allows). */
			if (punch && type_of(freed[i]) != C_COMPRESSED &&
			    qcow2_get_refcount(q, host >> q->cluster_bits, &ref) == 0 && ref == 1)
				fallocate(q->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)host,
					  (off_t)cs);
			r = free_entry(q, freed[i]);
		}
	}
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&q->io_lock);
	free(freed);
	return r;
}

int qcow2_discard(struct image *img, uint64_t off, uint64_t len)
{
	struct qcow2 *q = img->priv;
	uint64_t cs = q->cluster_size;
	uint64_t start = (off + cs - 1) & ~(cs - 1), end = off + len;
	int r;

	/* The image's last, partial cluster counts as whole. */
	if (end != q->img->size)
		end &= ~(cs - 1);
	else
		end = qcow2_align_up(q, end);
	if (end <= start)
		return 0;
	/* Version 2 cannot say "zero": keep the data rather than expose the
	 * backing file's. */
	if (q->backing && q->version < 3)
		return 0;
	if ((r = start_writing(q)) < 0)
		return r;
	return clear_clusters(q, start, end - start, q->backing != NULL, false, true);
}

static int write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t n = len < q->cluster_size ? len : q->cluster_size;
		int r = qcow2_write(q->img, q->zero_cluster, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* A partial cluster: needs bytes written unless it already reads zero. */
static int zero_partial(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t e;
	int r;

	pthread_mutex_lock(&q->lock);
	r = qcow2_get_l2_entry(q, off, &e);
	pthread_mutex_unlock(&q->lock);
	if (r < 0)
		return r;
	if (type_of(e) == C_ZERO || (type_of(e) == C_UNALLOC && !q->backing))
		return 0;
	return write_zero_bytes(q, off, len);
}

int qcow2_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap)
{
	struct qcow2 *q = img->priv;
	uint64_t cs = q->cluster_size, end = off + len;
	uint64_t start = (off + cs - 1) & ~(cs - 1);
	uint64_t whole_end = end == q->img->size ? qcow2_align_up(q, end) : end & ~(cs - 1);
	int r;

	if ((r = start_writing(q)) < 0)
		return r;
	if (q->version < 3 || whole_end <= start) {
		/* No zero flag (or no whole cluster): zero bytes where needed. */
		while (len) {
			uint64_t n = cs - (off & (cs - 1));
			if (n > len)
				n = len;
			if ((r = zero_partial(q, off, n)) < 0)
				return r;
			off += n;
			len -= n;
		}
		return 0;
	}
	if (start > off && (r = zero_partial(q, off, start - off)) < 0)
		return r;
	if (whole_end < end && (r = zero_partial(q, whole_end, end - whole_end)) < 0)
		return r;
	return clear_clusters(q, start, whole_end - start, true, !may_unmap, false);
}

int qcow2_write_compressed(struct image *img, const void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = img->priv;
	uint64_t cs = q->cluster_size, *l2 = NULL, e, host;
	uint8_t *in = NULL, *out = NULL;
	unsigned idx;
	ssize_t clen;
	int r;

	if ((r = start_writing(q)) < 0)
		return r;
	in = calloc(1, cs);
	out = malloc(cs);
	if (!in || !out) {
		r = -ENOMEM;
		goto done;
	}
	memcpy(in, buf, len);
	clen = qcow2_compress(q, in, cs, out, cs - 512);
	if (clen <= 0) {
		/* Incompressible: store it as is. */
		r = clen < 0 ? (int)clen : qcow2_write(img, buf, len, off);
		goto done;
	}
	pthread_rwlock_wrlock(&q->io_lock);
	pthread_mutex_lock(&q->lock);
	r = qcow2_get_l2_for_write(q, off, &l2, &idx);
	if (r < 0)
		goto unlock;
	e = be64toh(l2[idx]);
	if ((r = qcow2_check_l2_entry(q, e, off)) < 0)
		goto unlock;
	bool pack = q->comp_offset && q->comp_end - q->comp_offset >= (uint64_t)clen;
	uint64_t first = q->comp_offset / cs, last = (q->comp_offset + (uint64_t)clen - 1) / cs;
	for (uint64_t c = first; pack && c <= last; c++) {
		/* Narrow refcounts (1 bit) may not count one more user. */
		uint64_t ref;
		if ((r = qcow2_get_refcount(q, c, &ref)) < 0)
			goto unlock;
		pack = ref < q->refcount_max;
	}
	if (pack) {
		/* Pack it after the previous compressed cluster. */
		host = q->comp_offset;
		for (uint64_t c = first; c <= last && r == 0; c++)
			r = qcow2_update_refcount(q, c, 1);
	} else {
		uint64_t n = ((uint64_t)clen + cs - 1) / cs;
		r = qcow2_alloc_clusters(q, n, &host, NULL);
		q->comp_end = host + n * cs;
	}
	if (r < 0)
		goto unlock;
	r = image_pwrite_full(q->fd, out, (size_t)clen, host);
	if (r < 0) {
		qerr(q, "writing compressed data at 0x%llx failed: %s", (unsigned long long)host,
		     strerror(-r));
		goto unlock;
	}
	q->comp_offset = host + (uint64_t)clen;
	uint64_t sectors = ((host + (uint64_t)clen - 1) >> 9) - (host >> 9);
	l2[idx] = htobe64(QCOW2_COMPRESSED | (sectors << q->csize_shift) | host);
	qcow2_cache_dirty(&q->l2_cache, l2);
	r = free_entry(q, e);
unlock:
	if (l2)
		qcow2_cache_put(&q->l2_cache, l2);
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&q->io_lock);
done:
	free(in);
	free(out);
	return r;
}

int qcow2_resize(struct image *img, uint64_t size)
{
	struct qcow2 *q = img->priv;
	uint64_t old = img->size;
	int r;

	if (size < old) {
		qerr(q, "shrinking a qcow2 image (from %llu to %llu bytes) is not supported",
		     (unsigned long long)old, (unsigned long long)size);
		return -ENOTSUP;
	}
	if (size > QCOW2_MAX_SIZE) {
		qerr(q, "size %llu is too large", (unsigned long long)size);
		return -EFBIG;
	}
	if (size % 512) {
		qerr(q, "the new size %llu is not a multiple of 512", (unsigned long long)size);
		return -EINVAL;
	}
	if (size == old)
		return 0;
	pthread_rwlock_wrlock(&q->io_lock);
	pthread_mutex_lock(&q->lock);
	r = qcow2_grow_l1(q, size);
	if (r == 0)
		img->size = size;
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&q->io_lock);
	if (r < 0)
		return r;
	/* The new area reads zero: not the tail of a last partial cluster,
	 * nor what a larger backing file has there. */
	uint64_t zero_end = qcow2_align_up(q, old);
	if (q->backing && q->backing->size > zero_end)
		zero_end = q->backing->size;
	if (zero_end > size)
		zero_end = size;
	if (zero_end > old)
		r = qcow2_write_zeroes(img, old, zero_end - old, false);
	return r;
}

int qcow2_map(struct image *img, uint64_t off, uint64_t len, struct image_extent *ext)
{
	struct qcow2 *q = img->priv;
	uint64_t cs = q->cluster_size, first_e = 0, total = 0;
	uint64_t entries[RUN_MAX];
	enum cluster_type t0 = C_UNALLOC;
	int r = 0;

	memset(ext, 0, sizeof(*ext));
	ext->offset = off;
	pthread_mutex_lock(&q->lock);
	/* Cluster by cluster: same type, and for clusters with a host
	 * offset, contiguous in the file. */
	while (total < len && r == 0) {
		uint64_t pos = off + total, left = len - total;
		uint64_t want = ((pos & (cs - 1)) + left + cs - 1) / cs;
		unsigned got;
		bool done = false;

		r = qcow2_get_l2_entries(q, pos, entries, want < RUN_MAX ? (unsigned)want : RUN_MAX,
					 &got);
		for (unsigned i = 0; r == 0 && i < got; i++) {
			uint64_t e = entries[i], cpos = (pos & ~(cs - 1)) + (uint64_t)i * cs;
			if ((r = qcow2_check_l2_entry(q, e, cpos)) < 0)
				break;
			enum cluster_type t = type_of(e);
			if (total == 0) {
				t0 = t;
				first_e = e;
			} else {
				uint64_t expect = (first_e & QCOW2_OFFSET_MASK) + cpos - (off & ~(cs - 1));
				/* Compressed clusters have no usable host offset. */
				bool hosted = t != C_COMPRESSED && (e & QCOW2_OFFSET_MASK);
				bool first_hosted = t0 != C_COMPRESSED && (first_e & QCOW2_OFFSET_MASK);
				if (t != t0 || hosted != first_hosted ||
				    (hosted && (e & QCOW2_OFFSET_MASK) != expect)) {
					done = true;
					break;
				}
			}
			uint64_t n = cs - ((off + total) & (cs - 1));
			total += n < len - total ? n : len - total;
			if (total >= len) {
				done = true;
				break;
			}
		}
		if (done)
			break;
	}
	pthread_mutex_unlock(&q->lock);
	if (r < 0 && total == 0)
		return r;
	r = 0;
	ext->length = total;
	switch (t0) {
	case C_NORMAL:
		ext->flags = IMAGE_EXT_DATA | IMAGE_EXT_ALLOCATED;
		ext->has_host_offset = true;
		ext->host_offset = (first_e & QCOW2_OFFSET_MASK) + (off & (q->cluster_size - 1));
		break;
	case C_ZERO:
		ext->flags = IMAGE_EXT_ZERO | IMAGE_EXT_ALLOCATED;
		if (first_e & QCOW2_OFFSET_MASK) {
			ext->has_host_offset = true;
			ext->host_offset = (first_e & QCOW2_OFFSET_MASK) + (off & (q->cluster_size - 1));
		}
		break;
	case C_COMPRESSED:
		ext->flags = IMAGE_EXT_DATA | IMAGE_EXT_ALLOCATED | IMAGE_EXT_COMPRESSED;
		break;
	case C_UNALLOC:
		if (!q->backing) {
			ext->flags = IMAGE_EXT_ZERO;
			break;
		}
		if (off >= q->backing->size) {
			ext->flags = IMAGE_EXT_ZERO;
			ext->depth = 1;
			break;
		}
		{
			struct image_extent be;
			uint64_t blen = total;
			if (off + blen > q->backing->size)
				blen = q->backing->size - off;
			r = q->backing->ops->map(q->backing, off, blen, &be);
			if (r < 0) {
				qerr(q, "mapping the backing file: %s", image_error(q->backing));
				return r;
			}
			*ext = be;
			ext->flags &= ~(unsigned)IMAGE_EXT_ALLOCATED;
			ext->depth = be.depth + 1;
		}
		break;
	}
	return 0;
}
