/* Building and loading a device's seccomp allowlist with libseccomp. */
#include <errno.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/internal.h"

static int add_rule(scmp_filter_ctx ctx, const char *policy, size_t i,
		    const struct sandbox_rule *r, char *err, size_t errlen)
{
	struct scmp_arg_cmp cmp;
	unsigned ncmp = 0;
	int rc;

	switch (r->op) {
	case SB_ARG_ANY:
		break;
	case SB_ARG_EQ:
		cmp = (struct scmp_arg_cmp){.arg = r->arg, .op = SCMP_CMP_EQ, .datum_a = r->value};
		ncmp = 1;
		break;
	case SB_ARG_MASK_ZERO:
		/* (arg & value) == 0 */
		cmp = (struct scmp_arg_cmp){.arg = r->arg, .op = SCMP_CMP_MASKED_EQ,
					    .datum_a = r->value, .datum_b = 0};
		ncmp = 1;
		break;
	default:
		return sb_fail(err, errlen, "policy %s rule %zu: unknown argument op %d", policy,
			       i, (int)r->op);
	}
	if (ncmp && r->arg > 5)
		return sb_fail(err, errlen, "policy %s rule %zu: argument index %u > 5", policy,
			       i, r->arg);

	rc = ncmp ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 1, cmp)
		  : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r->nr, 0);
	/* The same rule twice (base and device) is not an error. */
	if (rc < 0 && rc != -EEXIST) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);

		sb_fail(err, errlen, "seccomp_rule_add(policy %s rule %zu, %s): %s", policy, i,
			name ? name : "unknown syscall", strerror(-rc));
		free(name);
		return -1;
	}
	return 0;
}

static int add_policy(scmp_filter_ctx ctx, const struct sandbox_policy *p, char *err,
		      size_t errlen)
{
	const char *name = p->name ? p->name : "?";

	for (size_t i = 0; i < p->nrules; i++)
		if (add_rule(ctx, name, i, &p->rules[i], err, errlen) < 0)
			return -1;
	return 0;
}

int sb_load_filter(const struct sandbox_policy *device, char *err, size_t errlen)
{
	/* abort() sends SIGABRT with tgkill(getpid(), gettid(), ...); allow
	 * tgkill on our own pid only, which is known just now (in a new pid
	 * namespace it is 1). */
	const struct sandbox_rule tgkill_self = {
		SCMP_SYS(tgkill), SB_ARG_EQ, 0, (uint64_t)getpid(),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc;

	if (!ctx)
		return sb_fail(err, errlen, "seccomp_init: failed (out of memory?)");
	/* Syscalls of another ABI (i386 via int 0x80, x32) are not in the
	 * allowlist either: kill the whole process, not just the thread. */
	/* Every thread of the process gets the filter, not only the caller
	 * (the vCPU core confines itself with its vCPU threads running). */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (rc < 0) {
		sb_fail(err, errlen, "seccomp_attr_set(CTL_TSYNC): %s", strerror(-rc));
		goto out;
	}
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc < 0) {
		sb_fail(err, errlen, "seccomp_attr_set(ACT_BADARCH): %s", strerror(-rc));
		goto out;
	}

	rc = -1;
	if (add_policy(ctx, &sandbox_policy_base, err, errlen) < 0)
		goto out;
	if (device && add_policy(ctx, device, err, errlen) < 0)
		goto out;

	if (add_rule(ctx, "base", sandbox_policy_base.nrules, &tgkill_self, err, errlen) < 0)
		goto out;

	rc = seccomp_load(ctx);
	if (rc < 0) {
		sb_fail(err, errlen, "seccomp_load: %s", strerror(-rc));
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc < 0 ? -1 : 0;
}
