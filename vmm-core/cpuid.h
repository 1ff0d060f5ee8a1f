/* The CPUID table of one vCPU (vmm-core/cpuid.c). */
#ifndef CELLVM_VMM_CORE_CPUID_H
#define CELLVM_VMM_CORE_CPUID_H

#include <linux/kvm.h>

/* SUP (KVM_GET_SUPPORTED_CPUID's table) with the topology of vCPU ID of
 * NCPUS written into leaves 0x1, 0x4, 0xb, 0x1f, 0x80000008 and 0x8000001e.
 * Returns a malloc'd table for KVM_SET_CPUID2, or NULL when out of memory. */
struct kvm_cpuid2 *cpuid_for_vcpu(const struct kvm_cpuid2 *sup, unsigned id, unsigned ncpus);

#endif
