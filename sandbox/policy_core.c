/* Seccomp policy of the vCPU core once its VM is built (on top of
 * sandbox_policy_base): the KVM ioctls of the run loop and of the register
 * dump in error reports, and the three that follow the guest's PCI
 * programming (MSI-X routes and their irqfds, ioeventfds that move with a
 * BAR); KVM_IRQ_LINE for the SCI (the power button) and tgkill with
 * SIGUSR1, which kicks a vCPU thread out of KVM_RUN to pause it; nothing
 * that creates vCPUs, memory or devices. */
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>

#include "sandbox/policies.h"

static const struct sandbox_rule core_rules[] = {
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_RUN},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_GET_REGS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_GET_SREGS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_SET_GSI_ROUTING},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_IRQFD},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_IOEVENTFD},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, KVM_IRQ_LINE},
	{SCMP_SYS(tgkill), SB_ARG_EQ, 2, SIGUSR1},
};

const struct sandbox_policy sandbox_policy_core = {
	.name = "core",
	.rules = core_rules,
	.nrules = sizeof core_rules / sizeof core_rules[0],
};
