/* The guest-to-host mapping: L1 and L2 lookups, L2 tables allocated or
 * copied (when shared with a snapshot) for writing, and growing the L1
 * table.  Under q->lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2/qcow2.h"

void qcow2_compressed_span(struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len)
{
	uint64_t o = entry & q->coffset_mask & (QCOW2_MAX_OFFSET - 1);
	uint64_t sectors = ((entry >> q->csize_shift) & q->csize_mask) + 1;

	*off = o;
	*len = (o & ~511ull) + sectors * 512 - o;
}

int qcow2_check_l2_entry(struct qcow2 *q, uint64_t entry, uint64_t guest_off)
{
	uint64_t host;

	if (entry & QCOW2_COMPRESSED) {
		uint64_t off, len;
		if (entry & QCOW2_COPIED) {
			qerr(q, "compressed L2 entry 0x%llx for guest offset 0x%llx has the "
			     "copied flag", (unsigned long long)entry, (unsigned long long)guest_off);
			return -EIO;
		}
		qcow2_compressed_span(q, entry, &off, &len);
		if (off == 0 || off >= q->file_size || off + len > q->file_size + 512) {
			qerr(q, "compressed cluster for guest offset 0x%llx at 0x%llx is outside "
			     "the file", (unsigned long long)guest_off, (unsigned long long)off);
			return -EIO;
		}
		return 0;
	}
	host = entry & QCOW2_OFFSET_MASK;
	if (entry & QCOW2_L2_RESERVED & ~(QCOW2_OFFSET_MASK) ||
	    (host & (q->cluster_size - 1))) {
		qerr(q, "L2 entry 0x%llx for guest offset 0x%llx is not cluster aligned",
		     (unsigned long long)entry, (unsigned long long)guest_off);
		return -EIO;
	}
	if ((entry & QCOW2_ZERO) && q->version < 3) {
		qerr(q, "L2 entry 0x%llx for guest offset 0x%llx has the zero flag in a "
		     "version 2 image", (unsigned long long)entry, (unsigned long long)guest_off);
		return -EIO;
	}
	if (host && host >= q->file_size) {
		qerr(q, "L2 entry for guest offset 0x%llx points outside the file (0x%llx)",
		     (unsigned long long)guest_off, (unsigned long long)host);
		return -EIO;
	}
	/* Guest data must never land on the tables we keep in memory (the
	 * cheap overlap checks; L2 tables and refcount blocks are not
	 * looked up here). */
	bool in_l1 = host >= q->l1_offset && host < q->l1_offset + (uint64_t)q->l1_size * 8;
	bool in_reftable = host >= q->reftable_offset &&
			   host < q->reftable_offset + ((uint64_t)q->reftable_clusters << q->cluster_bits);
	if (host && (in_l1 || in_reftable)) {
		qerr(q, "L2 entry for guest offset 0x%llx points into the %s (0x%llx)",
		     (unsigned long long)guest_off, in_l1 ? "L1 table" : "refcount table",
		     (unsigned long long)host);
		return -EIO;
	}
	return 0;
}

static int l1_entry_l2_offset(struct qcow2 *q, uint32_t idx, uint64_t *l2_off)
{
	uint64_t e = q->l1[idx];

	*l2_off = e & QCOW2_OFFSET_MASK;
	if (e & QCOW2_L1_RESERVED) {
		qerr(q, "L1 entry %u (0x%llx) has reserved bits set", idx, (unsigned long long)e);
		return -EIO;
	}
	if (*l2_off)
		return qcow2_check_offset(q, *l2_off, q->cluster_size, "L2 table");
	return 0;
}

int qcow2_get_l2_entries(struct qcow2 *q, uint64_t off, uint64_t *entries, unsigned max,
			 unsigned *got)
{
	uint64_t l1_idx = off >> (q->cluster_bits + q->l2_bits);
	unsigned l2_idx = (unsigned)((off >> q->cluster_bits) & (q->l2_entries - 1));
	unsigned n = q->l2_entries - l2_idx;
	uint64_t l2_off;
	uint64_t *l2;
	int r;

	if (n > max)
		n = max;
	*got = n;
	if (l1_idx >= q->l1_size) {
		memset(entries, 0, n * sizeof(*entries));
		return 0;
	}
	r = l1_entry_l2_offset(q, (uint32_t)l1_idx, &l2_off);
	if (r < 0)
		return r;
	if (!l2_off) {
		memset(entries, 0, n * sizeof(*entries));
		return 0;
	}
	r = qcow2_cache_get(&q->l2_cache, l2_off, false, (void **)&l2);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++)
		entries[i] = be64toh(l2[l2_idx + i]);
	qcow2_cache_put(&q->l2_cache, l2);
	return 0;
}

int qcow2_get_l2_entry(struct qcow2 *q, uint64_t off, uint64_t *entry)
{
	unsigned got;
	return qcow2_get_l2_entries(q, off, entry, 1, &got);
}

static int write_l1_entry(struct qcow2 *q, uint32_t idx)
{
	uint64_t be = htobe64(q->l1[idx]);
	int r = image_pwrite_full(q->fd, &be, 8, q->l1_offset + (uint64_t)idx * 8);

	if (r < 0)
		qerr(q, "writing L1 entry %u failed: %s", idx, strerror(-r));
	return r;
}

int qcow2_get_l2_for_write(struct qcow2 *q, uint64_t off, uint64_t **l2, unsigned *index)
{
	uint64_t l1_idx = off >> (q->cluster_bits + q->l2_bits);
	uint64_t l2_off, new_off, ref;
	uint64_t *old = NULL, *table;
	int r;

	*index = (unsigned)((off >> q->cluster_bits) & (q->l2_entries - 1));
	if (l1_idx >= q->l1_size) {
		qerr(q, "guest offset 0x%llx is beyond the L1 table", (unsigned long long)off);
		return -EIO;
	}
	r = l1_entry_l2_offset(q, (uint32_t)l1_idx, &l2_off);
	if (r < 0)
		return r;
	if (l2_off && !(q->l1[l1_idx] & QCOW2_COPIED)) {
		/* Not flagged as ours: it is, if nothing else refers to it. */
		r = qcow2_get_refcount(q, l2_off >> q->cluster_bits, &ref);
		if (r < 0)
			return r;
		if (ref == 1) {
			q->l1[l1_idx] |= QCOW2_COPIED;
			if ((r = write_l1_entry(q, (uint32_t)l1_idx)) < 0)
				return r;
		}
	}
	if (l2_off && (q->l1[l1_idx] & QCOW2_COPIED))
		return qcow2_cache_get(&q->l2_cache, l2_off, false, (void **)l2);

	/* A new table, empty or a copy of the one shared with a snapshot. */
	r = qcow2_alloc_clusters(q, 1, &new_off, NULL);
	if (r < 0)
		return r;
	if (l2_off) {
		r = qcow2_cache_get(&q->l2_cache, l2_off, false, (void **)&old);
		if (r < 0)
			return r;
	}
	r = qcow2_cache_get(&q->l2_cache, new_off, true, (void **)&table);
	if (r < 0) {
		if (old)
			qcow2_cache_put(&q->l2_cache, old);
		return r;
	}
	if (old) {
		memcpy(table, old, q->cluster_size);
		qcow2_cache_put(&q->l2_cache, old);
	}
	/* Its refcount, then the table itself, then the L1 entry. */
	r = qcow2_cache_flush(&q->rb_cache);
	if (r == 0)
		r = image_pwrite_full(q->fd, table, q->cluster_size, new_off);
	if (r < 0) {
		qcow2_cache_put(&q->l2_cache, table);
		qerr(q, "writing a new L2 table at 0x%llx failed: %s",
		     (unsigned long long)new_off, strerror(-r));
		return r;
	}
	q->l1[l1_idx] = new_off | QCOW2_COPIED;
	r = write_l1_entry(q, (uint32_t)l1_idx);
	if (r == 0 && l2_off)
		r = qcow2_free_range(q, l2_off, q->cluster_size);
	if (r < 0) {
		qcow2_cache_put(&q->l2_cache, table);
		return r;
	}
	*l2 = table;
	return 0;
}

/* Makes the L1 table big enough for NEW_SIZE bytes; writes the new size
 * to the header together with the L1 fields. */
int qcow2_grow_l1(struct qcow2 *q, uint64_t new_size)
{
	uint64_t l2_span = (uint64_t)q->cluster_size << q->l2_bits;
	uint64_t need = (new_size + l2_span - 1) / l2_span;
	uint64_t cur_bytes = qcow2_align_up(q, (uint64_t)q->l1_size * 8);
	uint64_t new_off = q->l1_offset, old_off = q->l1_offset;
	uint64_t *l1;
	uint8_t hdr[24];
	int r;

	if (need < q->l1_size)
		need = q->l1_size;
	if (need * 8 > QCOW2_MAX_L1_BYTES) {
		qerr(q, "size %llu needs an L1 table larger than %u bytes",
		     (unsigned long long)new_size, QCOW2_MAX_L1_BYTES);
		return -EFBIG;
	}
	l1 = calloc(need ? need : 1, 8);
	if (!l1)
		return -ENOMEM;
	memcpy(l1, q->l1, (size_t)q->l1_size * 8);
	for (uint64_t i = 0; i < need; i++)
		l1[i] = htobe64(l1[i]);
	if (need * 8 > cur_bytes || !q->l1_offset) {
		r = qcow2_alloc_clusters(q, qcow2_clusters(q, need * 8), &new_off, NULL);
		if (r == 0)
			r = qcow2_flush_metadata(q);
		if (r == 0) {
			uint64_t bytes = qcow2_align_up(q, need * 8);
			uint8_t *buf = calloc(1, bytes);
			if (!buf)
				r = -ENOMEM;
			else {
				memcpy(buf, l1, need * 8);
				r = image_pwrite_full(q->fd, buf, bytes, new_off);
				free(buf);
			}
		}
	} else if (need > q->l1_size) {
		r = image_pwrite_full(q->fd, l1 + q->l1_size, (need - q->l1_size) * 8,
				      q->l1_offset + (uint64_t)q->l1_size * 8);
	} else {
		r = 0;
	}
	if (r < 0) {
		free(l1);
		qerr(q, "writing the L1 table failed: %s", strerror(-r));
		return r;
	}
	put_be64(hdr, new_size);
	put_be32(hdr + 8, 0);
	put_be32(hdr + 12, (uint32_t)need);
	put_be64(hdr + 16, new_off);
	r = qcow2_write_header_field(q, QH_SIZE, hdr, sizeof(hdr));
	if (r < 0) {
		free(l1);
		return r;
	}
	for (uint64_t i = 0; i < need; i++)
		l1[i] = be64toh(l1[i]);
	free(q->l1);
	q->l1 = l1;
	q->l1_size = (uint32_t)need;
	q->l1_offset = new_off;
	q->size = new_size;
	if (new_off != old_off && old_off && cur_bytes)
		r = qcow2_free_range(q, old_off, cur_bytes);
	return r;
}
