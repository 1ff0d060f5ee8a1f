/* Seccomp policies of the device processes (sandbox_policy_base, the rules
 * every device gets, is declared in sandbox/sandbox.h). */
#ifndef CELLVM_SANDBOX_POLICIES_H
#define CELLVM_SANDBOX_POLICIES_H

#include "sandbox/sandbox.h"

/* 16550 UART: accept4 (listening-socket console), ioctl TCGETS/TCSETS/
 * TCSETSW (terminal raw mode and its restore), fcntl F_GETFL/F_SETFL,
 * shutdown. */
extern const struct sandbox_policy sandbox_policy_uart;

/* The vCPU core after its VM is built: ioctl KVM_RUN, KVM_GET_REGS and
 * KVM_GET_SREGS only. */
extern const struct sandbox_policy sandbox_policy_core;

#endif
