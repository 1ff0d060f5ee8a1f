/* Refcounts and cluster allocation: the refcount table (kept in memory),
 * refcount blocks (through the refcount cache) in every width from 1 to
 * 64 bits, new refcount blocks and a growing refcount table, the free
 * cluster search and freeing in a crash-safe order.  Under q->lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/disk/qcow2/qcow2.h"

static uint64_t rb_read(struct qcow2 *q, const uint8_t *rb, uint64_t i)
{
	switch (q->refcount_order) {
	case 0:
	case 1:
	case 2: {
		/* Sub-byte widths: entry 0 is in the low bits of byte 0. */
		unsigned bits = 1u << q->refcount_order;
		uint64_t bit = i * bits;
		return (rb[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	case 3:
		return rb[i];
	case 4:
		return be16_at(rb + i * 2);
	case 5:
		return be32_at(rb + i * 4);
	default:
		return be64_at(rb + i * 8);
	}
}

static void rb_write(struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v)
{
	switch (q->refcount_order) {
	case 0:
	case 1:
	case 2: {
		unsigned bits = 1u << q->refcount_order;
		uint64_t bit = i * bits;
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
		rb[bit / 8] = (uint8_t)((rb[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
		break;
	}
	case 3:
		rb[i] = (uint8_t)v;
		break;
	case 4:
		put_be16(rb + i * 2, (uint16_t)v);
		break;
	case 5:
		put_be32(rb + i * 4, (uint32_t)v);
		break;
	default:
		put_be64(rb + i * 8, v);
		break;
	}
}

int qcow2_load_reftable(struct qcow2 *q)
{
	uint64_t bytes = (uint64_t)q->reftable_clusters << q->cluster_bits;
	ssize_t n;

	if (bytes > QCOW2_MAX_REFTABLE_BYTES) {
		qerr(q, "refcount table of %u clusters is too large", q->reftable_clusters);
		return -EINVAL;
	}
	q->reftable = malloc(bytes ? bytes : 8);
	if (!q->reftable)
		return -ENOMEM;
	n = image_pread_full(q->fd, q->reftable, bytes, q->reftable_offset);
	if (n < 0 || (uint64_t)n != bytes) {
		qerr(q, "cannot read the refcount table at 0x%llx",
		     (unsigned long long)q->reftable_offset);
		return -EIO;
	}
	q->reftable_size = bytes / 8;
	for (uint64_t i = 0; i < q->reftable_size; i++)
		q->reftable[i] = be64toh(q->reftable[i]);
	return 0;
}

/* The refcount block covering range IDX, or 0 when there is none. */
static int refblock_offset(struct qcow2 *q, uint64_t idx, uint64_t *off)
{
	*off = 0;
	if (idx >= q->reftable_size)
		return 0;
	uint64_t e = q->reftable[idx];
	if (!e)
		return 0;
	if (e & ~QCOW2_OFFSET_MASK & (q->cluster_size - 1)) {
		qerr(q, "refcount table entry %llu (0x%llx) has reserved bits set",
		     (unsigned long long)idx, (unsigned long long)e);
		return -EIO;
	}
	int r = qcow2_check_offset(q, e & ~(uint64_t)(q->cluster_size - 1), q->cluster_size,
				   "refcount block");
	if (r < 0)
		return r;
	*off = e & ~(uint64_t)(q->cluster_size - 1);
	return 0;
}

int qcow2_get_refcount(struct qcow2 *q, uint64_t cluster, uint64_t *ref)
{
	uint64_t rb_off;
	void *rb;
	int r = refblock_offset(q, cluster >> q->rb_bits, &rb_off);

	*ref = 0;
	if (r < 0 || !rb_off)
		return r;
	r = qcow2_cache_get(&q->rb_cache, rb_off, false, &rb);
	if (r < 0)
		return r;
	*ref = rb_read(q, rb, cluster & (q->rb_entries - 1));
	qcow2_cache_put(&q->rb_cache, rb);
	return 0;
}

static bool in_use_by_check(struct qcow2 *q, uint64_t c)
{
	return q->check_refs && c < q->check_nb && q->check_refs[c];
}

static bool in_range(uint64_t c, uint64_t off, uint64_t len, unsigned bits)
{
	return len && c >= off >> bits && c <= (off + len - 1) >> bits;
}

/* Whether an entry of TABLE (N entries, offsets in QCOW2_OFFSET_MASK)
 * points at cluster C. */
static bool table_points_at(struct qcow2 *q, const uint64_t *table, uint64_t n, uint64_t c)
{
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = table[i] & QCOW2_OFFSET_MASK;
		if (off && off >> q->cluster_bits == c)
			return true;
	}
	return false;
}

/* A cluster with refcount 0 may still hold the tables we know of when the
 * image is corrupt (a hostile file can say a refcount block or an L2 table
 * is free): never hand those out, or guest data and metadata would share
 * a cluster.  Only clusters inside the file are looked up (nothing of ours
 * lives past its end), so appending to an image costs nothing here. */
static bool known_metadata(struct qcow2 *q, uint64_t c)
{
	if (in_range(c, q->l1_offset, (uint64_t)q->l1_size * 8, q->cluster_bits) ||
	    in_range(c, q->reftable_offset, (uint64_t)q->reftable_clusters << q->cluster_bits,
		     q->cluster_bits) ||
	    (q->nb_snapshots && in_range(c, q->snapshots_offset, q->snapshots_len, q->cluster_bits)))
		return true;
	if (c >= qcow2_clusters(q, q->file_size))
		return false;
	if (table_points_at(q, q->reftable, q->reftable_size, c) ||
	    table_points_at(q, q->l1, q->l1_size, c))
		return true;
	for (uint32_t i = 0; q->snaps && i < q->nb_snapshots; i++)
		if (in_range(c, q->snaps[i].l1_offset, (uint64_t)q->snaps[i].l1_size * 8,
			     q->cluster_bits))
			return true;
	return false;
}

/* A repair allocates refcount blocks while it compares: count them too. */
static void check_note(struct qcow2 *q, uint64_t c, int delta)
{
	if (q->check_refs && c < q->check_nb)
		q->check_refs[c] += (uint64_t)(int64_t)delta;
}

static void note_allocated(struct qcow2 *q, uint64_t end)
{
	if (end > q->alloc_end)
		q->alloc_end = end;
	if (end > q->zero_from)
		q->zero_from = end;
}

/* The refcount table is full: writes a larger one (and the refcount blocks
 * it and the new range IDX need) after the end of the file, switches the
 * header to it, then frees the old one. */
static int grow_reftable(struct qcow2 *q, uint64_t idx)
{
	uint64_t cs = q->cluster_size, old = q->reftable_size;
	uint64_t entries = old * 2 > idx + 1 ? old * 2 : idx + 1;
	uint64_t start = qcow2_clusters(q, q->file_size > q->alloc_end ? q->file_size : q->alloc_end);
	uint64_t T, end, nblocks = 0, *table = NULL;
	uint64_t *ranges = NULL;
	uint8_t *blocks = NULL;
	uint64_t idx_block = 0; /* cluster for range IDX when outside the new area */
	int r;

	if (q->check_refs && start < q->check_nb)
		start = q->check_nb;
	for (;;) {
		T = (entries * 8 + cs - 1) / cs;
		end = start + T + nblocks;
		uint64_t first = start >> q->rb_bits, last = (end - 1) >> q->rb_bits;
		uint64_t need = 0;
		for (uint64_t i = first; i <= last; i++)
			if (i >= old || !q->reftable[i])
				need++;
		bool idx_inside = idx >= first && idx <= last;
		if (!idx_inside && (idx >= old || !q->reftable[idx]))
			need++;
		if (last >= entries || (!idx_inside && idx >= entries)) {
			entries = (last > idx ? last : idx) + 1 + entries / 4;
			continue;
		}
		if (need == nblocks)
			break;
		nblocks = need;
	}
	if (entries * 8 > QCOW2_MAX_REFTABLE_BYTES) {
		qerr(q, "refcount table would grow beyond %u bytes", QCOW2_MAX_REFTABLE_BYTES);
		return -EFBIG;
	}
	T = (entries * 8 + cs - 1) / cs;
	entries = T * cs / 8;
	table = calloc(T, cs);
	ranges = calloc(nblocks ? nblocks : 1, sizeof(*ranges));
	blocks = calloc(nblocks ? nblocks : 1, cs);
	if (!table || !ranges || !blocks) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < old; i++)
		table[i] = q->reftable[i];

	/* New blocks first (start .. start+n-1), then the table. */
	uint64_t n = 0, first = start >> q->rb_bits, last = (end - 1) >> q->rb_bits;
	for (uint64_t i = first; i <= last; i++) {
		if (i >= old || !q->reftable[i]) {
			ranges[n] = i;
			table[i] = (start + n) * cs;
			n++;
		}
	}
	if (n < nblocks) {
		/* Range IDX lies elsewhere: its block is its first usable cluster. */
		uint64_t c = idx << q->rb_bits;
		while (c == 0 || in_use_by_check(q, c))
			c++;
		idx_block = c;
		ranges[n] = idx;
		table[idx] = c * cs;
		n++;
	}
	uint64_t table_start = start + (idx_block ? n - 1 : n);
	/* Every new cluster gets refcount 1: in a new block or an old one. */
	for (uint64_t c = start; c < table_start + T; c++) {
		check_note(q, c, 1);
		uint64_t ri = c >> q->rb_bits;
		bool done = false;
		for (uint64_t k = 0; k < n; k++) {
			if (ranges[k] == ri) {
				rb_write(q, blocks + k * cs, c & (q->rb_entries - 1), 1);
				done = true;
			}
		}
		if (!done) {
			r = qcow2_update_refcount(q, c, 1);
			if (r < 0)
				goto out;
		}
	}
	if (idx_block)
		check_note(q, idx_block, 1);
	if (idx_block)
		rb_write(q, blocks + (n - 1) * cs, idx_block & (q->rb_entries - 1), 1);

	r = qcow2_flush_metadata(q);
	for (uint64_t k = 0; k < n && r == 0; k++) {
		r = image_pwrite_full(q->fd, blocks + k * cs, cs, table[ranges[k]]);
	}
	for (uint64_t i = 0; i < entries; i++)
		table[i] = htobe64(table[i]);
	if (r == 0)
		r = image_pwrite_full(q->fd, table, T * cs, table_start * cs);
	if (r == 0) {
		uint8_t hdr[12];
		put_be64(hdr, table_start * cs);
		put_be32(hdr + 8, (uint32_t)T);
		r = qcow2_write_header_field(q, QH_REFTABLE_OFFSET, hdr, sizeof(hdr));
	}
	if (r < 0) {
		qerr(q, "growing the refcount table failed: %s", strerror(-r));
		goto out;
	}
	for (uint64_t i = 0; i < entries; i++)
		table[i] = be64toh(table[i]);

	uint64_t old_off = q->reftable_offset, old_clusters = q->reftable_clusters;
	free(q->reftable);
	q->reftable = table;
	table = NULL;
	q->reftable_size = entries;
	q->reftable_offset = table_start * cs;
	q->reftable_clusters = (uint32_t)T;
	uint64_t new_end = (table_start + T) * cs;
	if (new_end > q->file_size)
		q->file_size = new_end;
	note_allocated(q, new_end);
	if (idx_block) {
		note_allocated(q, (idx_block + 1) * cs);
		if ((idx_block + 1) * cs > q->file_size)
			q->file_size = (idx_block + 1) * cs;
	}
	for (uint64_t c = old_off / cs; c < old_off / cs + old_clusters; c++)
		check_note(q, c, -1);
	r = qcow2_free_range(q, old_off, old_clusters * cs);
out:
	free(table);
	free(ranges);
	free(blocks);
	return r;
}

/* Range IDX has no refcount block: makes one inside the range (so that it
 * counts itself), avoiding cluster AVOID. */
static int make_refblock(struct qcow2 *q, uint64_t idx, uint64_t avoid)
{
	uint64_t cs = q->cluster_size, c = idx << q->rb_bits;
	uint8_t *block;
	uint64_t be;
	int r;

	if (idx >= q->reftable_size)
		return grow_reftable(q, idx);
	while (c == 0 || c == avoid || in_use_by_check(q, c))
		c++;
	if (c >> q->rb_bits != idx) {
		qerr(q, "no room for a refcount block in range %llu", (unsigned long long)idx);
		return -ENOSPC;
	}
	block = calloc(1, cs);
	if (!block)
		return -ENOMEM;
	rb_write(q, block, c & (q->rb_entries - 1), 1);
	r = image_pwrite_full(q->fd, block, cs, c * cs);
	free(block);
	be = htobe64(c * cs);
	if (r == 0)
		r = image_pwrite_full(q->fd, &be, 8, q->reftable_offset + idx * 8);
	if (r < 0) {
		qerr(q, "writing a new refcount block at 0x%llx failed: %s",
		     (unsigned long long)(c * cs), strerror(-r));
		return r;
	}
	q->reftable[idx] = c * cs;
	check_note(q, c, 1);
	if ((c + 1) * cs > q->file_size)
		q->file_size = (c + 1) * cs;
	note_allocated(q, (c + 1) * cs);
	return 0;
}

int qcow2_set_refcount(struct qcow2 *q, uint64_t cluster, uint64_t ref)
{
	uint64_t idx = cluster >> q->rb_bits, rb_off;
	void *rb;
	int r;

	if (ref > q->refcount_max) {
		qerr(q, "refcount of cluster %llu would exceed %llu", (unsigned long long)cluster,
		     (unsigned long long)q->refcount_max);
		return -EIO;
	}
	r = refblock_offset(q, idx, &rb_off);
	if (r < 0)
		return r;
	if (!rb_off) {
		if (!ref)
			return 0;
		r = make_refblock(q, idx, cluster);
		if (r < 0)
			return r;
		r = refblock_offset(q, idx, &rb_off);
		if (r < 0)
			return r;
	}
	r = qcow2_cache_get(&q->rb_cache, rb_off, false, &rb);
	if (r < 0)
		return r;
	rb_write(q, rb, cluster & (q->rb_entries - 1), ref);
	qcow2_cache_dirty(&q->rb_cache, rb);
	qcow2_cache_put(&q->rb_cache, rb);
	if (!ref && cluster < q->free_hint)
		q->free_hint = cluster;
	return 0;
}

int qcow2_update_refcount(struct qcow2 *q, uint64_t cluster, int64_t delta)
{
	uint64_t ref;
	int r = qcow2_get_refcount(q, cluster, &ref);

	if (r < 0)
		return r;
	if (delta < 0 && ref < (uint64_t)-delta) {
		qerr(q, "refcount of cluster %llu (offset 0x%llx) would drop below zero",
		     (unsigned long long)cluster, (unsigned long long)(cluster << q->cluster_bits));
		return -EIO;
	}
	if (delta > 0 && q->refcount_max - ref < (uint64_t)delta) {
		qerr(q, "refcount of cluster %llu would exceed %llu (refcount_bits %u)",
		     (unsigned long long)cluster, (unsigned long long)q->refcount_max,
		     1u << q->refcount_order);
		return -EMLINK;
	}
	return qcow2_set_refcount(q, cluster, ref + (uint64_t)delta);
}

int qcow2_grow_file(struct qcow2 *q, uint64_t end)
{
	uint64_t batch, target;

	if (end <= q->file_size)
		return 0;
	/* Grow in steps so that allocating writes do not each ftruncate. */
	batch = q->file_size / 8;
	if (batch < (1u << 20))
		batch = 1u << 20;
	batch = qcow2_align_up(q, batch);
	target = qcow2_align_up(q, end) + batch;
	if (ftruncate(q->fd, (off_t)target) < 0) {
		int e = errno;
		qerr(q, "growing the file to %llu bytes failed: %s", (unsigned long long)target,
		     strerror(e));
		return -e;
	}
	q->file_size = target;
	return 0;
}

/* [A, A+TOTAL) is free and touches NB ranges without a refcount block:
 * their blocks go in the last NB clusters of the area, and every cluster
 * of the area gets refcount 1 (in a new block or through the cache). */
static int place_refblocks(struct qcow2 *q, uint64_t a, uint64_t total, uint64_t nb)
{
	uint64_t cs = q->cluster_size, first = a >> q->rb_bits;
	uint64_t last = (a + total - 1) >> q->rb_bits, k = 0;
	uint64_t *ranges = calloc(nb, sizeof(*ranges));
	uint8_t *blocks = calloc(nb, cs);
	int r = 0;

	if (!ranges || !blocks) {
		r = -ENOMEM;
		goto out;
	}
	for (uint64_t i = first; i <= last && k < nb; i++)
		if (!q->reftable[i])
			ranges[k++] = i;
	for (uint64_t c = a; c < a + total && r == 0; c++) {
		uint64_t ri = c >> q->rb_bits;
		bool mine = false;
		for (k = 0; k < nb; k++) {
			if (ranges[k] == ri) {
				rb_write(q, blocks + k * cs, c & (q->rb_entries - 1), 1);
				mine = true;
				break;
			}
		}
		if (!mine)
			r = qcow2_update_refcount(q, c, 1);
	}
	/* The blocks and the refcounts kept in older blocks, then the table
	 * entries that point to them. */
	uint64_t base = a + total - nb;
	if (r == 0)
		r = qcow2_cache_flush(&q->rb_cache);
	for (k = 0; k < nb && r == 0; k++)
		r = image_pwrite_full(q->fd, blocks + k * cs, cs, (base + k) * cs);
	for (k = 0; k < nb && r == 0; k++) {
		uint64_t be = htobe64((base + k) * cs);
		r = image_pwrite_full(q->fd, &be, 8, q->reftable_offset + ranges[k] * 8);
		if (r == 0) {
			q->reftable[ranges[k]] = (base + k) * cs;
			check_note(q, base + k, 1);
		}
	}
	if (r < 0)
		qerr(q, "writing new refcount blocks at 0x%llx failed: %s",
		     (unsigned long long)(base * cs), strerror(-r));
out:
	free(ranges);
	free(blocks);
	return r;
}

int qcow2_alloc_clusters(struct qcow2 *q, uint64_t n, uint64_t *off, bool *fresh)
{
	uint64_t max_cluster = QCOW2_MAX_OFFSET >> q->cluster_bits;
	uint64_t extra = 0; /* room for new refcount blocks after the run */
	int r;

	for (;;) {
		uint64_t start = q->free_hint, run = 0, c, ref;
		bool hint_moves = true;

		if (start == 0)
			start = 1;
		for (c = start; run < n + extra; c++) {
			if (c >= max_cluster) {
				qerr(q, "no free cluster below 2^56 bytes");
				return -ENOSPC;
			}
			r = qcow2_get_refcount(q, c, &ref);
			if (r < 0)
				return r;
			if (ref && c >= qcow2_clusters(q, q->file_size)) {
				/* Nothing can live past the end of the file: a count
				 * there is stale (or hostile, and scanning a huge
				 * table of them would never end). */
				r = qcow2_set_refcount(q, c, 0);
				if (r < 0)
					return r;
				ref = 0;
			}
			if (ref == 0 && !in_use_by_check(q, c) && !known_metadata(q, c)) {
				run++;
			} else {
				if (run)
					hint_moves = false;
				run = 0;
				if (hint_moves)
					q->free_hint = c + 1;
			}
		}
		uint64_t a = c - n - extra;
		/* Before the file grows, recycle what was freed. */
		if (q->nb_pending && ((a + n + extra) << q->cluster_bits) > q->file_size) {
			r = qcow2_sync_frees(q);
			if (r < 0)
				return r;
			extra = 0;
			continue;
		}
		/* Every range must have its refcount block before the increment. */
		uint64_t need = 0, max_idx = 0;
		for (uint64_t i = a >> q->rb_bits; i <= (a + n + extra - 1) >> q->rb_bits; i++) {
			uint64_t rb_off;
			if (i >= q->reftable_size) {
				need++;
				max_idx = i;
				continue;
			}
			r = refblock_offset(q, i, &rb_off);
			if (r < 0)
				return r;
			if (!rb_off) {
				need++;
				max_idx = i;
			}
		}
		if (need && max_idx >= q->reftable_size) {
			r = grow_reftable(q, max_idx);
			if (r < 0)
				return r;
			extra = 0;
			continue;
		}
		if (need != extra) {
			extra = need;
			continue;
		}
		if (need) {
			r = place_refblocks(q, a, n + extra, extra);
		} else {
			for (uint64_t i = 0; i < n && r == 0; i++)
				r = qcow2_update_refcount(q, a + i, 1);
		}
		if (r < 0)
			return r;
		if (hint_moves)
			q->free_hint = a + n + extra;
		r = qcow2_grow_file(q, (a + n + extra) << q->cluster_bits);
		if (r < 0)
			return r;
		if (fresh)
			*fresh = (a << q->cluster_bits) >= q->zero_from;
		note_allocated(q, (a + n + extra) << q->cluster_bits);
		*off = a << q->cluster_bits;
		return 0;
	}
}

int qcow2_flush_metadata(struct qcow2 *q)
{
	int r = qcow2_cache_flush(&q->rb_cache);
	if (r == 0)
		r = qcow2_cache_flush(&q->l2_cache);
	return r;
}

/* Deferred frees beyond this many clusters are applied at once. */
#define PENDING_MAX 16384

int qcow2_sync_frees(struct qcow2 *q)
{
	int r;

	if (!q->nb_pending)
		return 0;
	r = qcow2_flush_metadata(q);
	if (r == 0 && fdatasync(q->fd) < 0) {
		r = -errno;
		qerr(q, "fdatasync failed: %s", strerror(-r));
	}
	for (size_t i = 0; i < q->nb_pending && r == 0; i++) {
		uint64_t c = q->pending_free[i], ref;
		r = qcow2_update_refcount(q, c, -1);
		if (r == 0 && qcow2_get_refcount(q, c, &ref) == 0 && ref == 0)
			qcow2_cache_forget(&q->l2_cache, c << q->cluster_bits);
	}
	q->nb_pending = 0;
	return r;
}

int qcow2_free_range(struct qcow2 *q, uint64_t off, uint64_t len)
{
	uint64_t first, last;

	if (!len)
		return 0;
	first = off >> q->cluster_bits;
	last = (off + len - 1) >> q->cluster_bits;
	/* Compressed data is never packed into a cluster that was freed. */
	if (q->comp_end && off < q->comp_end &&
	    off + len > (q->comp_offset & ~(uint64_t)(q->cluster_size - 1)))
		q->comp_offset = q->comp_end = 0;
	for (uint64_t c = first; c <= last; c++) {
		if (q->nb_pending == q->pending_cap) {
			size_t cap = q->pending_cap ? q->pending_cap * 2 : 256;
			uint64_t *p = realloc(q->pending_free, cap * sizeof(*p));
			if (!p)
				return -ENOMEM;
			q->pending_free = p;
			q->pending_cap = cap;
		}
		q->pending_free[q->nb_pending++] = c;
	}
	if (q->nb_pending >= PENDING_MAX)
		return qcow2_sync_frees(q);
	return 0;
}
