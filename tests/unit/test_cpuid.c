/* Unit tests of the per-vCPU CPUID table (vmm-core/cpuid.c): the topology
 * leaves agree with each other whatever subset of them the host lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm-core/cpuid.h"

/* A host table like an AMD machine's under KVM: leaf 0xb has only its SMT
 * level (the case that left guests without a core level). */
static struct kvm_cpuid2 *host_table(uint32_t max_leaf)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 16 * sizeof(c->entries[0]));
	struct kvm_cpuid_entry2 *e = c->entries;
	e[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = max_leaf};
	e[1] = (struct kvm_cpuid_entry2){.function = 1, .ebx = 0x00000800, .edx = 1u << 28};
	e[2] = (struct kvm_cpuid_entry2){.function = 4, .index = 0, .eax = 0x121,
					 .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
	e[3] = (struct kvm_cpuid_entry2){.function = 4, .index = 1, .eax = 0x163,
					 .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
	e[4] = (struct kvm_cpuid_entry2){.function = 0xb, .index = 0, .ebx = 1, .ecx = 0x100,
					 .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
	e[5] = (struct kvm_cpuid_entry2){.function = 0x80000008, .ecx = 0x3};
	e[6] = (struct kvm_cpuid_entry2){.function = 0x8000001e, .eax = 7, .ebx = 0x100};
	c->nent = 7;
	if (max_leaf >= 0x1f) {
		e[7] = (struct kvm_cpuid_entry2){.function = 0x1f, .index = 0, .ebx = 2,
						 .ecx = 0x100,
						 .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX};
		c->nent = 8;
	}
	return c;
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t fn,
					   uint32_t index, unsigned *count)
{
	const struct kvm_cpuid_entry2 *found = NULL;
	*count = 0;
	for (unsigned i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == index) {
			found = &c->entries[i];
			(*count)++;
		}
	return found;
}

static const struct kvm_cpuid_entry2 *one(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t index)
{
	unsigned n;
	const struct kvm_cpuid_entry2 *e = find(c, fn, index, &n);
	assert_int_equal(n, 1);
	return e;
}

/* Leaf 0xb (or 0x1f) of vCPU ID among NCPUS: SMT level, core level with
 * the id shift and the count, then the terminating invalid level. */
static void check_ext_topology(const struct kvm_cpuid2 *c, uint32_t fn, unsigned id,
			       unsigned shift, unsigned ncpus)
{
	const struct kvm_cpuid_entry2 *smt = one(c, fn, 0), *core = one(c, fn, 1),
				      *end = one(c, fn, 2);
	assert_int_equal(smt->eax, 0);
	assert_int_equal(smt->ebx, 1);
	assert_int_equal((smt->ecx >> 8) & 0xff, 1); /* level type SMT */
	assert_int_equal(core->eax & 0x1f, shift);
	assert_int_equal(core->ebx & 0xffff, ncpus);
	assert_int_equal((core->ecx >> 8) & 0xff, 2); /* level type core */
	assert_int_equal(core->ecx & 0xff, 1);
	assert_int_equal((end->ecx >> 8) & 0xff, 0); /* invalid: the end */
	assert_int_equal(smt->edx, id);
	assert_int_equal(core->edx, id);
	assert_true(core->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
}

static void test_six_vcpus_agree(void **state)
{
	(void)state;
	struct kvm_cpuid2 *host = host_table(0xd);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(host, 5, 6);
	assert_non_null(c);

	const struct kvm_cpuid_entry2 *l1 = one(c, 1, 0);
	assert_int_equal(l1->ebx >> 24, 5);            /* initial APIC id */
	assert_int_equal((l1->ebx >> 16) & 0xff, 8);   /* ids per package, 2^3 */
	assert_true(l1->edx & (1u << 28));             /* HTT */
	assert_int_equal((one(c, 4, 0)->eax >> 26) + 1, 8);
	assert_int_equal((one(c, 4, 1)->eax >> 26) + 1, 8);
	check_ext_topology(c, 0xb, 5, 3, 6);
	unsigned n;
	assert_null(find(c, 0x1f, 0, &n)); /* the host's max leaf is below 0x1f */
	assert_int_equal((one(c, 0x80000008, 0)->ecx >> 12) & 0xf, 3);
	assert_int_equal(one(c, 0x80000008, 0)->ecx & 0xff, 5);
	assert_int_equal(one(c, 0x8000001e, 0)->eax, 5);
	free(c);
	free(host);
}

static void test_leaf_1f_rebuilt_when_listed(void **state)
{
	(void)state;
	struct kvm_cpuid2 *host = host_table(0x20);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(host, 63, 64);
	assert_non_null(c);
	check_ext_topology(c, 0xb, 63, 6, 64);
	check_ext_topology(c, 0x1f, 63, 6, 64);
	free(c);
	free(host);
}

static void test_one_vcpu_has_no_htt(void **state)
{
	(void)state;
	struct kvm_cpuid2 *host = host_table(0xd);
	struct kvm_cpuid2 *c = cpuid_for_vcpu(host, 0, 1);
	assert_non_null(c);
	const struct kvm_cpuid_entry2 *l1 = one(c, 1, 0);
	assert_false(l1->edx & (1u << 28));
	assert_int_equal(l1->ebx >> 24, 0);
	check_ext_topology(c, 0xb, 0, 0, 1);
	free(c);
	free(host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_six_vcpus_agree),
		cmocka_unit_test(test_leaf_1f_rebuilt_when_listed),
		cmocka_unit_test(test_one_vcpu_has_no_htt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
