/* A write-back cache of cluster-sized metadata tables (L2 tables, refcount
 * blocks).  Tables are stored in big-endian disk order; callers convert
 * entries as they touch them.  All calls are made under q->lock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/disk/qcow2/qcow2.h"

static void *table_of(struct qcow2_cache *c, int i)
{
	return c->mem + ((size_t)i << c->q->cluster_bits);
}

static int index_of(struct qcow2_cache *c, const void *table)
{
	return (int)(((const uint8_t *)table - c->mem) >> c->q->cluster_bits);
}

static unsigned bucket_of(struct qcow2_cache *c, uint64_t off)
{
	uint64_t h = (off >> c->q->cluster_bits) * 0x9e3779b97f4a7c15ull;
	return (unsigned)(h >> 32) % c->nbuckets;
}

int qcow2_cache_init(struct qcow2_cache *c, struct qcow2 *q, size_t bytes, const char *what,
		     int (*before_write)(struct qcow2 *))
{
	memset(c, 0, sizeof(*c));
	c->q = q;
	c->what = what;
	c->before_write = before_write;
	c->count = (unsigned)(bytes >> q->cluster_bits);
	/* Enough room for the tables one request can pin at once. */
	if (c->count < 4)
		c->count = 4;
	if (c->count > 65536)
		c->count = 65536;
	c->nbuckets = c->count * 2 + 1;
	c->e = calloc(c->count, sizeof(*c->e));
	c->bucket = malloc(c->nbuckets * sizeof(int));
	c->mem = aligned_alloc(4096, (size_t)c->count << q->cluster_bits);
	if (!c->e || !c->bucket || !c->mem) {
		qcow2_cache_destroy(c);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < c->nbuckets; i++)
		c->bucket[i] = -1;
	return 0;
}

void qcow2_cache_destroy(struct qcow2_cache *c)
{
	free(c->e);
	free(c->bucket);
	free(c->mem);
	c->e = NULL;
	c->bucket = NULL;
	c->mem = NULL;
}

static void unhash(struct qcow2_cache *c, int i)
{
	int *link = &c->bucket[bucket_of(c, c->e[i].offset)];

	while (*link != -1) {
		if (*link == i) {
			*link = c->e[i].next;
			break;
		}
		link = &c->e[*link].next;
	}
	c->e[i].offset = 0;
	c->e[i].dirty = false;
}

static int write_entry(struct qcow2_cache *c, int i)
{
	struct qcow2 *q = c->q;
	int r;

	if (!c->e[i].dirty)
		return 0;
	if (c->before_write) {
		r = c->before_write(q);
		if (r < 0)
			return r;
	}
	r = image_pwrite_full(q->fd, table_of(c, i), q->cluster_size, c->e[i].offset);
	if (r < 0) {
		qerr(q, "writing the %s at 0x%llx failed: %s", c->what,
		     (unsigned long long)c->e[i].offset, strerror(-r));
		return r;
	}
	c->e[i].dirty = false;
	return 0;
}

int qcow2_cache_get(struct qcow2_cache *c, uint64_t off, bool fresh, void **table)
{
	struct qcow2 *q = c->q;
	unsigned b = bucket_of(c, off);
	int victim = -1;

	for (int i = c->bucket[b]; i != -1; i = c->e[i].next) {
		if (c->e[i].offset == off) {
			c->e[i].last_use = ++c->clock;
			c->e[i].pins++;
			if (fresh)
				memset(table_of(c, i), 0, q->cluster_size);
			*table = table_of(c, i);
			return 0;
		}
	}
	for (unsigned i = 0; i < c->count; i++) {
		if (c->e[i].pins)
			continue;
		if (!c->e[i].offset) {
			victim = (int)i;
			break;
		}
		if (victim < 0 || c->e[i].last_use < c->e[victim].last_use)
			victim = (int)i;
	}
	if (victim < 0) {
		qerr(q, "%s cache: every entry is in use", c->what);
		return -ENOMEM;
	}
	if (c->e[victim].offset) {
		int r = write_entry(c, victim);
		if (r < 0)
			return r;
		unhash(c, victim);
	}
	if (fresh) {
		memset(table_of(c, victim), 0, q->cluster_size);
	} else {
		ssize_t n = image_pread_full(q->fd, table_of(c, victim), q->cluster_size, off);
		if (n < 0) {
			qerr(q, "reading the %s at 0x%llx failed: %s", c->what,
			     (unsigned long long)off, strerror((int)-n));
			return (int)n;
		}
		if ((size_t)n < q->cluster_size) {
			qerr(q, "the %s at 0x%llx is beyond the end of the file", c->what,
			     (unsigned long long)off);
			return -EIO;
		}
	}
	c->e[victim].offset = off;
	c->e[victim].dirty = false;
	c->e[victim].pins = 1;
	c->e[victim].last_use = ++c->clock;
	c->e[victim].next = c->bucket[b];
	c->bucket[b] = victim;
	*table = table_of(c, victim);
	return 0;
}

void qcow2_cache_put(struct qcow2_cache *c, void *table)
{
	c->e[index_of(c, table)].pins--;
}

void qcow2_cache_dirty(struct qcow2_cache *c, void *table)
{
	c->e[index_of(c, table)].dirty = true;
}

int qcow2_cache_flush(struct qcow2_cache *c)
{
	int r;

	for (unsigned i = 0; i < c->count; i++) {
		if (c->e[i].offset && c->e[i].dirty) {
			r = write_entry(c, (int)i);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void qcow2_cache_forget(struct qcow2_cache *c, uint64_t off)
{
	unsigned b = bucket_of(c, off);

	for (int i = c->bucket[b]; i != -1; i = c->e[i].next) {
		if (c->e[i].offset == off) {
			unhash(c, i);
			return;
		}
	}
}

void qcow2_cache_forget_all(struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->count; i++)
		c->e[i].offset = 0, c->e[i].dirty = false, c->e[i].pins = 0;
	for (unsigned i = 0; i < c->nbuckets; i++)
		c->bucket[i] = -1;
}

bool qcow2_cache_has_dirty(struct qcow2_cache *c)
{
	for (unsigned i = 0; i < c->count; i++)
		if (c->e[i].offset && c->e[i].dirty)
			return true;
	return false;
}
