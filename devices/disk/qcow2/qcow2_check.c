/* The consistency check (as qemu-img check): every reference from the
 * header, the active and snapshot L1/L2 tables, the snapshot table and the
 * refcount structures is counted and compared with the stored refcounts;
 * leaks and (with IMAGE_FIX_ERRORS) refcounts that are too low are fixed
 * by rewriting the refcount, as are wrong copied flags.  The same walk
 * rebuilds the refcounts of an image left dirty (lazy refcounts). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2/qcow2.h"

struct check {
	struct qcow2 *q;
	struct image_check_result *res;
	void (*report)(void *, const char *);
	void *ctx;
	uint64_t *refs;       /* references counted, per cluster of the file */
	uint64_t nb;
	uint64_t next_contiguous;
	uint64_t done, total; /* progress: L1 entries walked, then clusters compared */
	uint8_t *l2;          /* one L2 table */
};

static void say(struct check *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct check *ck, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!ck->report)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ck->report(ck->ctx, line);
}

/* Counts MULT references to each cluster of [OFF, OFF+LEN). */
static void count_n(struct check *ck, uint64_t off, uint64_t len, uint64_t mult,
		    const char *what)
{
	struct qcow2 *q = ck->q;

	if (!len)
		return;
	for (uint64_t c = off >> q->cluster_bits; c <= (off + len - 1) >> q->cluster_bits; c++) {
		if (c >= ck->nb) {
			say(ck, "ERROR %s at 0x%" PRIx64 " is beyond the end of the file", what, off);
			ck->res->corruptions++;
			return;
		}
		ck->refs[c] += mult;
	}
}

static void count(struct check *ck, uint64_t off, uint64_t len, const char *what)
{
	count_n(ck, off, len, 1, what);
}

/* Walks one L2 table that MULT L1 entries point to. */
static void walk_l2(struct check *ck, uint64_t l2_off, uint64_t mult, bool active)
{
	struct qcow2 *q = ck->q;
	ssize_t n = image_pread_full(q->fd, ck->l2, q->cluster_size, l2_off);

	if (n != (ssize_t)q->cluster_size) {
		say(ck, "ERROR cannot read the L2 table at 0x%" PRIx64, l2_off);
		ck->res->check_errors++;
		return;
	}
	if (active) /* fragmentation is counted within each L2 table, as qemu-img does */
		ck->next_contiguous = 0;
	for (uint32_t i = 0; i < q->l2_entries; i++) {
		uint64_t e = be64_at(ck->l2 + i * 8);

		if (e & QCOW2_COMPRESSED) {
			uint64_t off, len;
			if (e & QCOW2_COPIED) {
				say(ck, "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set "
				    "for compressed clusters", e & q->coffset_mask);
				ck->res->corruptions++;
			}
			qcow2_compressed_span(q, e, &off, &len);
			if (active) {
				ck->res->allocated_clusters += mult;
				ck->res->compressed_clusters += mult;
				/* Sub-cluster sized: fragmented by nature. */
				ck->res->fragmented_clusters += mult;
			}
			count_n(ck, off, len, mult, "compressed cluster");
			continue;
		}
		uint64_t off = e & QCOW2_OFFSET_MASK;
		if ((e & 0x1feull) || (off & (q->cluster_size - 1))) {
			say(ck, "ERROR offset=%" PRIx64 ": Cluster is not properly aligned; L2 entry "
			    "corrupted.", (uint64_t)(e & 0x00fffffffffffffeull));
			ck->res->corruptions++;
			continue;
		}
		if (!off)
			continue;
		if (active) {
			ck->res->allocated_clusters += mult;
			if (ck->next_contiguous && off != ck->next_contiguous)
				ck->res->fragmented_clusters++;
			ck->next_contiguous = off + q->cluster_size;
		}
		count_n(ck, off, q->cluster_size, mult, "data cluster");
	}
}

/* Valid tables only: a bad L1 entry is reported (once, on the first
 * pass) and skipped. */
static bool l2_usable(struct check *ck, uint64_t off, bool say_why)
{
	struct qcow2 *q = ck->q;

	if (off & (q->cluster_size - 1)) {
		if (say_why) {
			say(ck, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry "
			    "corrupted", off);
			ck->res->corruptions++;
		}
		return false;
	}
	if (off + q->cluster_size > q->file_size) {
		if (say_why) {
			say(ck, "ERROR l2_offset=%" PRIx64 ": L2 table is outside the file", off);
			ck->res->corruptions++;
		}
		return false;
	}
	return true;
}

/* Each distinct L2 table is read once and its references counted as
 * many times as this L1 table points to it: the same totals as walking
 * every entry, without letting a hostile table of repeated entries make
 * the check quadratic. */
static void step(struct check *ck, uint64_t n)
{
	struct image *img = ck->q->img;
	ck->done += n;
	if (img->progress)
		img->progress(img->progress_ctx, ck->done, ck->total);
}

static void walk_l1(struct check *ck, const uint64_t *l1, uint32_t size, bool active)
{
	struct qcow2 *q = ck->q;
	uint32_t *uses = calloc(ck->nb ? ck->nb : 1, sizeof(*uses));

	if (!uses) {
		ck->res->check_errors++;
		return;
	}
	for (uint32_t i = 0; i < size; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off || !l2_usable(ck, off, true))
			continue;
		count(ck, off, q->cluster_size, "L2 table");
		uses[off >> q->cluster_bits]++;
	}
	for (uint32_t i = 0; i < size; i++) {
		uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
		if ((i & 63) == 63)
			step(ck, 64);
		if (!off || !l2_usable(ck, off, false) || !uses[off >> q->cluster_bits])
			continue;
		walk_l2(ck, off, uses[off >> q->cluster_bits], active);
		uses[off >> q->cluster_bits] = 0;
	}
	free(uses);
}

static int read_l1(struct qcow2 *q, uint64_t off, uint32_t size, uint64_t **out)
{
	uint64_t *l1 = calloc(size ? size : 1, 8);

	if (!l1)
		return -ENOMEM;
	if (size && (off + (uint64_t)size * 8 > q->file_size ||
		     image_pread_full(q->fd, l1, (size_t)size * 8, off) != (ssize_t)size * 8)) {
		free(l1);
		return -EIO;
	}
	for (uint32_t i = 0; i < size; i++)
		l1[i] = be64toh(l1[i]);
	*out = l1;
	return 0;
}

static void count_everything(struct check *ck)
{
	struct qcow2 *q = ck->q;
	uint64_t *l1;

	count(ck, 0, q->cluster_size, "header");
	count(ck, q->l1_offset, (uint64_t)q->l1_size * 8, "L1 table");
	walk_l1(ck, q->l1, q->l1_size, true);

	if (q->nb_snapshots)
		count(ck, q->snapshots_offset, q->snapshots_len, "snapshot table");
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct qcow2_snapshot *s = &q->snaps[i];
		if (read_l1(q, s->l1_offset, s->l1_size, &l1) < 0) {
			say(ck, "ERROR snapshot %s: cannot read its L1 table", s->id);
			ck->res->corruptions++;
			continue;
		}
		count(ck, s->l1_offset, (uint64_t)s->l1_size * 8, "snapshot L1 table");
		walk_l1(ck, l1, s->l1_size, false);
		free(l1);
	}

	count(ck, q->reftable_offset, (uint64_t)q->reftable_clusters << q->cluster_bits,
	      "refcount table");
	for (uint64_t i = 0; i < q->reftable_size; i++) {
		uint64_t off = q->reftable[i] & ~(uint64_t)511;
		if (!q->reftable[i])
			continue;
		if (q->reftable[i] & (q->cluster_size - 1)) {
			say(ck, "ERROR refcount block %" PRIu64 " is not cluster aligned; refcount "
			    "table entry corrupted", i);
			ck->res->corruptions++;
			continue;
		}
		if (off + q->cluster_size > q->file_size) {
			say(ck, "ERROR refcount block %" PRIu64 " is outside image", i);
			ck->res->corruptions++;
			continue;
		}
		count(ck, off, q->cluster_size, "refcount block");
	}
}

/* The stored refcount of CLUSTER; one in a refcount block that cannot be
 * read (its table entry is reported as corrupt) counts as 0, as in
 * qemu-img check, so the check goes on and counts what depends on it. */
static uint64_t stored_refcount(struct qcow2 *q, uint64_t cluster)
{
	uint64_t ref;
	return qcow2_get_refcount(q, cluster, &ref) < 0 ? 0 : ref;
}

/* Copied flags of the active tables: set exactly when the refcount is 1. */
static int check_copied(struct check *ck, unsigned fix)
{
	struct qcow2 *q = ck->q;
	int r;

	for (uint32_t i = 0; i < q->l1_size; i++) {
		uint64_t l2_off = q->l1[i] & QCOW2_OFFSET_MASK, ref, *l2;
		if (!l2_off || (l2_off & (q->cluster_size - 1)) ||
		    l2_off + q->cluster_size > q->file_size)
			continue;
		ref = stored_refcount(q, l2_off >> q->cluster_bits);
		if ((ref == 1) != !!(q->l1[i] & QCOW2_COPIED)) {
			say(ck, "%s OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64
			    " refcount=%" PRIu64, fix & IMAGE_FIX_ERRORS ? "Repairing" : "ERROR", i,
			    q->l1[i], ref);
			if (fix & IMAGE_FIX_ERRORS) {
				uint64_t be;
				q->l1[i] ^= QCOW2_COPIED;
				be = htobe64(q->l1[i]);
				r = image_pwrite_full(q->fd, &be, 8, q->l1_offset + (uint64_t)i * 8);
				if (r < 0)
					return r;
				ck->res->corruptions_fixed++;
			} else {
				ck->res->corruptions++;
			}
		}
		if ((r = qcow2_cache_get(&q->l2_cache, l2_off, false, (void **)&l2)) < 0)
			return r;
		for (uint32_t j = 0; j < q->l2_entries; j++) {
			uint64_t e = be64toh(l2[j]), off = e & QCOW2_OFFSET_MASK;
			if ((e & QCOW2_COMPRESSED) || !off || (off & (q->cluster_size - 1)))
				continue;
			ref = stored_refcount(q, off >> q->cluster_bits);
			if ((ref == 1) == !!(e & QCOW2_COPIED))
				continue;
			say(ck, "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64,
			    fix & IMAGE_FIX_ERRORS ? "Repairing" : "ERROR", e, ref);
			if (fix & IMAGE_FIX_ERRORS) {
				l2[j] = htobe64(e ^ QCOW2_COPIED);
				qcow2_cache_dirty(&q->l2_cache, l2);
				ck->res->corruptions_fixed++;
			} else {
				ck->res->corruptions++;
			}
		}
		qcow2_cache_put(&q->l2_cache, l2);
		if (r < 0)
			return r;
	}
	return 0;
}

static int run_check(struct qcow2 *q, unsigned fix, struct image_check_result *res,
		     void (*report)(void *, const char *), void *ctx)
{
	struct check ck = { .q = q, .res = res, .report = report, .ctx = ctx };
	uint64_t highest = 0;
	int r;

	if (q->at_snapshot) {
		qerr(q, "check: the image is open at a snapshot");
		return -EINVAL;
	}
	if (!q->img->readonly &&
	    ((r = qcow2_sync_frees(q)) < 0 || (r = qcow2_flush_metadata(q)) < 0))
		return r;
	ck.nb = qcow2_clusters(q, q->file_size);
	ck.refs = calloc(ck.nb ? ck.nb : 1, sizeof(uint64_t));
	ck.l2 = malloc(q->cluster_size);
	if (!ck.refs || !ck.l2) {
		free(ck.refs);
		free(ck.l2);
		return -ENOMEM;
	}
	res->total_clusters = qcow2_clusters(q, q->size);
	ck.total = q->l1_size + ck.nb;
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		ck.total += q->snaps[i].l1_size;
	count_everything(&ck);

	/* Repairs may add refcount blocks: the allocator must know what is in
	 * use, and count what it adds. */
	q->check_refs = ck.refs;
	q->check_nb = ck.nb;
	for (uint64_t c = 0; c < ck.nb; c++) {
		uint64_t ref = stored_refcount(q, c);
		if ((c & 4095) == 4095)
			step(&ck, 4096);
		if (ref || ck.refs[c])
			highest = c + 1;
		if (ref == ck.refs[c])
			continue;
		bool low = ref < ck.refs[c];
		bool fixing = low ? (fix & IMAGE_FIX_ERRORS) : (fix & IMAGE_FIX_LEAKS);
		say(&ck, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
		    fixing ? "Repairing" : low ? "ERROR" : "Leaked", c, ref, ck.refs[c]);
		if (fixing && qcow2_set_refcount(q, c, ck.refs[c]) == 0) {
			if (low)
				res->corruptions_fixed++;
			else
				res->leaks_fixed++;
			continue;
		}
		if (low)
			res->corruptions++;
		else
			res->leaks++;
	}
	q->check_refs = NULL;
	ck.done = ck.total - 1;
	step(&ck, 1);
	r = check_copied(&ck, fix);
	if (r == 0 && fix)
		r = qcow2_flush_metadata(q);
	res->image_end_offset = highest << q->cluster_bits;
	free(ck.refs);
	free(ck.l2);
	return r;
}

int qcow2_check(struct image *img, unsigned fix, struct image_check_result *res,
		void (*report)(void *, const char *), void *ctx)
{
	struct qcow2 *q = img->priv;
	int r;

	pthread_rwlock_wrlock(&q->io_lock);
	pthread_mutex_lock(&q->lock);
	r = run_check(q, fix, res, report, ctx);
	pthread_mutex_unlock(&q->lock);
	pthread_rwlock_unlock(&q->io_lock);
	return r;
}

int qcow2_rebuild_refcounts(struct qcow2 *q)
{
	struct image_check_result res;
	int r;

	memset(&res, 0, sizeof(res));
	r = run_check(q, IMAGE_FIX_LEAKS | IMAGE_FIX_ERRORS, &res, NULL, NULL);
	if (r == 0 && res.corruptions) {
		qerr(q, "the image was not closed cleanly and %llu corruptions could not be "
		     "repaired", (unsigned long long)res.corruptions);
		r = -EIO;
	}
	return r;
}
