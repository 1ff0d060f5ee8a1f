/* The CPUID table of one vCPU: what KVM supports, with a topology that
 * agrees in every leaf (one package of ncpus cores, one thread each; the
 * APIC id is the vCPU index). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm-core/cpuid.h"

static unsigned id_bits(unsigned n)
{
	unsigned s = 0;
	while ((1u << s) < n)
		s++;
	return s;
}

/* Leaves 0x1, 0x4, 0xb/0x1f (Intel) and 0x80000008, 0x8000001e
 * (AMD) must agree, or the guest's topology code guesses.  0xb and 0x1f
 * are built whole by put_ext_topology. */
static void set_topology(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus)
{
	unsigned shift = id_bits(ncpus);
	switch (e->function) {
	case 0x1:
		e->ebx = (e->ebx & 0xffff) | (id << 24) | ((1u << shift) << 16);
		if (ncpus > 1)
			e->edx |= 1u << 28; /* HTT: more than one logical CPU */
		else
			e->edx &= ~(1u << 28);
		e->ecx |= 1u << 31; /* running under a hypervisor */
		break;
	case 0x4:
		if (e->eax & 0x1f) { /* a cache level is described */
			unsigned level = (e->eax >> 5) & 7;
			unsigned sharing = level >= 3 ? (1u << shift) - 1 : 0;
			e->eax = (e->eax & 0x3fff) | (sharing << 14) | (((1u << shift) - 1) << 26);
		}
		break;
	case 0x80000008:
		e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (ncpus - 1);
		break;
	case 0x8000001e:
		e->eax = id;
		e->ebx = id & 0xff; /* core id; one thread per core */
		e->ecx = 0;
		break;
	}
}

/* Leaves 0xb and 0x1f, levels SMT (one thread per core), core (every
 * vCPU) and the terminating invalid level.  Built whole rather than edited:
 * hosts may list fewer levels (AMD ones often just the first), and a guest
 * that finds no core level puts every vCPU in a package of its own. */
static void put_ext_topology(struct kvm_cpuid2 *c, uint32_t fn, unsigned id, unsigned ncpus)
{
	for (unsigned level = 0; level < 3; level++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];
		memset(e, 0, sizeof(*e));
		e->function = fn;
		e->index = level;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = id;
		e->ecx = level;
		if (level == 0) {
			e->ebx = 1;
			e->ecx |= 1u << 8;
		} else if (level == 1) {
			e->eax = id_bits(ncpus);
			e->ebx = ncpus;
			e->ecx |= 2u << 8;
		}
	}
}

struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *sup, unsigned id, unsigned ncpus)
{
	struct kvm_cpuid2 *c = malloc(sizeof(*c) + (sup->nent + 6) * sizeof(c->entries[0]));
	if (!c)
		return NULL;
	uint32_t max_leaf = 0;
	c->nent = 0;
	c->padding = 0;
	for (unsigned i = 0; i < sup->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &sup->entries[i];
		if (e->function == 0)
			max_leaf = e->eax;
		if (e->function == 0xb || e->function == 0x1f)
			continue;
		c->entries[c->nent] = *e;
		set_topology(&c->entries[c->nent++], id, ncpus);
	}
	if (max_leaf >= 0xb)
		put_ext_topology(c, 0xb, id, ncpus);
	if (max_leaf >= 0x1f)
		put_ext_topology(c, 0x1f, id, ncpus);
	return c;
}
