/* A bounds-checked view of guest RAM for device processes.
 *
 * A device process maps the guest's RAM memfd once; the guest then hands it
 * guest-physical addresses (ring areas, buffers) that it must never trust.
 * Every such address goes through guest_mem_translate(), which answers a host
 * pointer only when the whole range [gpa, gpa + len) lies inside one region.
 */
#ifndef CELLVM_DEVICES_VIRTIO_GUEST_MEM_H
#define CELLVM_DEVICES_VIRTIO_GUEST_MEM_H

#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
	uint8_t *host; /* where the region is mapped in this process */
	uint64_t gpa;  /* guest-physical address of its first byte */
	uint64_t len;  /* bytes; never 0 */
};

struct guest_mem {
	unsigned nr;
	struct guest_region region[GUEST_MEM_MAX_REGIONS];
};

/* Empty view: every translation fails until regions are added. */
void guest_mem_init(struct guest_mem *m);

/* Add one region.  -EINVAL if it is empty, wraps around the 64-bit guest
 * address space, or overlaps a region already present; -ENOSPC if full. */
int guest_mem_add(struct guest_mem *m, void *host, uint64_t gpa, uint64_t len);

/* The cellvm layout (vmm-core/layout.h): the first min(size, 3 GiB) bytes of
 * the mapping at GPA 0, the rest at GPA 4 GiB. */
int guest_mem_init_ram(struct guest_mem *m, void *host, uint64_t size);

/* Host pointer for [gpa, gpa + len), or NULL unless the range lies wholly in
 * one region.  A range is never stitched across two regions even when they
 * happen to be adjacent in the host mapping: the guest sees a gap there. */
void *guest_mem_translate(const struct guest_mem *m, uint64_t gpa, uint64_t len);

#endif
