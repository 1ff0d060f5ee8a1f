/* Seccomp policy of the 16550 UART device (on top of sandbox_policy_base). */
#include <fcntl.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "sandbox/policies.h"

static const struct sandbox_rule uart_rules[] = {
	/* console backend: a listening socket (accept4), a terminal in raw
	 * mode whose settings are restored on exit */
	{SCMP_SYS(accept4), SB_ARG_ANY, 0, 0},
	{SCMP_SYS(shutdown), SB_ARG_ANY, 0, 0},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TCGETS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TCSETS},
	{SCMP_SYS(ioctl), SB_ARG_EQ, 1, TCSETSW},
	{SCMP_SYS(fcntl), SB_ARG_EQ, 1, F_GETFL},
	{SCMP_SYS(fcntl), SB_ARG_EQ, 1, F_SETFL},
};

const struct sandbox_policy sandbox_policy_uart = {
	.name = "uart",
	.rules = uart_rules,
	.nrules = sizeof uart_rules / sizeof uart_rules[0],
};
