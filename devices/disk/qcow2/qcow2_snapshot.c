/* The internal snapshot table: parsed (with its extra data) for image
 * info, for opening an image at a snapshot and for the refcount check. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2/qcow2.h"

void qcow2_free_snapshots(struct qcow2 *q)
{
	for (uint32_t i = 0; q->snaps && i < q->nb_snapshots; i++) {
		free(q->snaps[i].id);
		free(q->snaps[i].name);
	}
	free(q->snaps);
	q->snaps = NULL;
}

int qcow2_read_snapshots(struct qcow2 *q)
{
	uint64_t off = q->snapshots_offset;
	uint8_t fixed[40];

	if (!q->nb_snapshots)
		return 0;
	q->snaps = calloc(q->nb_snapshots, sizeof(*q->snaps));
	if (!q->snaps)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		struct qcow2_snapshot *s = &q->snaps[i];
		uint8_t extra[24] = { 0 };

		if (off - q->snapshots_offset > QCOW2_MAX_SNAPSHOT_TABLE ||
		    off + sizeof(fixed) > q->file_size ||
		    image_pread_full(q->fd, fixed, sizeof(fixed), off) != sizeof(fixed)) {
			qerr(q, "snapshot %u at 0x%llx is outside the file", i,
			     (unsigned long long)off);
			return -EIO;
		}
		s->l1_offset = be64_at(fixed);
		s->l1_size = be32_at(fixed + 8);
		uint16_t id_len = be16_at(fixed + 12), name_len = be16_at(fixed + 14);
		s->date_sec = be32_at(fixed + 16);
		s->date_nsec = be32_at(fixed + 20);
		s->vm_clock_nsec = be64_at(fixed + 24);
		s->vm_state_size = be32_at(fixed + 32);
		uint32_t extra_len = be32_at(fixed + 36);
		s->disk_size = q->size;
		s->icount = UINT64_MAX;
		if (extra_len > 1024) {
			qerr(q, "snapshot %u has %u bytes of extra data (too many)", i, extra_len);
			return -EIO;
		}
		off += sizeof(fixed);
		uint32_t want = extra_len < sizeof(extra) ? extra_len : sizeof(extra);
		if (off + extra_len + id_len + name_len > q->file_size ||
		    image_pread_full(q->fd, extra, want, off) != (ssize_t)want) {
			qerr(q, "snapshot %u at 0x%llx is outside the file", i,
			     (unsigned long long)(off - sizeof(fixed)));
			return -EIO;
		}
		if (extra_len >= 8)
			s->vm_state_size = be64_at(extra);
		if (extra_len >= 16)
			s->disk_size = be64_at(extra + 8);
		if (extra_len >= 24)
			s->icount = be64_at(extra + 16);
		off += extra_len;
		s->id = calloc(1, id_len + 1u);
		s->name = calloc(1, name_len + 1u);
		if (!s->id || !s->name)
			return -ENOMEM;
		if (image_pread_full(q->fd, s->id, id_len, off) != id_len ||
		    image_pread_full(q->fd, s->name, name_len, off + id_len) != name_len) {
			qerr(q, "snapshot %u: cannot read its id and name", i);
			return -EIO;
		}
		off += id_len + name_len;
		off = (off + 7) & ~7ull;

		if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
			qerr(q, "snapshot %s: L1 table of %u entries is too large", s->id,
			     s->l1_size);
			return -EFBIG;
		}
		if (s->disk_size > QCOW2_MAX_SIZE) {
			qerr(q, "snapshot %s: size %llu is too large", s->id,
			     (unsigned long long)s->disk_size);
			return -EFBIG;
		}
		uint64_t l2_span = (uint64_t)q->cluster_size << q->l2_bits;
		if (s->l1_size < (s->disk_size + l2_span - 1) / l2_span) {
			qerr(q, "snapshot %s: L1 table too small for its size", s->id);
			return -EIO;
		}
		int r = qcow2_check_offset(q, s->l1_offset, (uint64_t)s->l1_size * 8,
					   "snapshot L1 table");
		if (r < 0 && s->l1_size)
			return r;
	}
	q->snapshots_len = off - q->snapshots_offset;
	return 0;
}

/* Looks up by id first, then by name (as qemu-img does). */
int qcow2_find_snapshot(struct qcow2 *q, const char *id_or_name)
{
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snaps[i].id, id_or_name))
			return (int)i;
	for (uint32_t i = 0; i < q->nb_snapshots; i++)
		if (!strcmp(q->snaps[i].name, id_or_name))
			return (int)i;
	return -1;
}
