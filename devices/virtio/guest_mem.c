/* Bounds-checked guest-physical to host translation (see guest_mem.h). */
#include <errno.h>
#include <string.h>

#include "devices/virtio/guest_mem.h"
#include "vmm-core/layout.h"

void guest_mem_init(struct guest_mem *m)
{
	memset(m, 0, sizeof(*m));
}

int guest_mem_add(struct guest_mem *m, void *host, uint64_t gpa, uint64_t len)
{
	if (!host || len == 0 || gpa + len - 1 < gpa)
		return -EINVAL;
	if (m->nr == GUEST_MEM_MAX_REGIONS)
		return -ENOSPC;
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->region[i];
		/* Inclusive ends: neither range wraps, so these cannot overflow. */
		if (gpa <= r->gpa + r->len - 1 && r->gpa <= gpa + len - 1)
			return -EINVAL;
	}
	m->region[m->nr++] = (struct guest_region){ .host = host, .gpa = gpa, .len = len };
	return 0;
}

int guest_mem_init_ram(struct guest_mem *m, void *host, uint64_t size)
{
	uint64_t low = guest_low_ram(size), high = guest_high_ram(size);
	int ret;

	guest_mem_init(m);
	ret = guest_mem_add(m, host, 0, low);
	if (ret == 0 && high)
		ret = guest_mem_add(m, (uint8_t *)host + low, GUEST_HIGH_RAM, high);
	return ret;
}

void *guest_mem_translate(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->region[i];
		/* Written as differences so a gpa or len near 2^64 cannot wrap. */
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off >= r->len && !(off == r->len && len == 0))
			continue;
		if (len > r->len - off)
			return NULL;
		return r->host + off;
	}
	return NULL;
}
