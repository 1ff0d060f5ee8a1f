/* Seccomp policy of the network device (on top of sandbox_policy_base):
 * frames on the socket it was given (recv/send are recvfrom/sendto) and
 * one TAP ioctl, TUNSETOFFLOAD, to tell the kernel which offloads the
 * guest takes.  No socket creation, no other ioctl: the supervisor made
 * and configured the TAP or connected the socket. */
#include <linux/if_tun.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "sandbox/policies.h"

#define ANY(name) {SCMP_SYS(name), SB_ARG_ANY, 0, 0}

static const struct sandbox_rule net_rules[] = {
	ANY(recvfrom),
	ANY(sendto),
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TUNSETOFFLOAD},
};

const struct sandbox_policy sandbox_policy_net = {
	.name = "net",
	.rules = net_rules,
	.nrules = sizeof net_rules / sizeof net_rules[0],
};
