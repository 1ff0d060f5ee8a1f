/* Seccomp policy of the vCPU core once its VM is built (on top of
 * sandbox_policy_base): the KVM ioctls of the run loop and of the register
 * dump in error reports, and the three that follow the guest's PCI
 * programming (MSI-X routes and their irqfds, ioeventfds that move with a
 * BAR); nothing that creates vCPUs, memory or devices. */
#include <linux/kvm.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "sandbox/policies.h"

static const struct sandbox_rule core_rules[] = {
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_RUN},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_GET_REGS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_GET_SREGS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_SET_GSI_ROUTING},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_IRQFD},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_IOEVENTFD},
};

const struct sandbox_policy sandbox_policy_core = {
	.name = "core",
	.rules = core_rules,
	.nrules = sizeof core_rules / sizeof core_rules[0],
};
