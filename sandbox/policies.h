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
 * KVM_GET_SREGS, and KVM_SET_GSI_ROUTING, KVM_IRQFD and KVM_IOEVENTFD for
 * the guest's MSI-X and BAR programming. */
extern const struct sandbox_policy sandbox_policy_core;

/* Disk device: pread/pwrite(v), fdatasync/fsync, fallocate, ftruncate,
 * fstat on the image fds it holds. */
extern const struct sandbox_policy sandbox_policy_disk;

/* Network device: recvfrom/sendto on its stream socket, ioctl
 * TUNSETOFFLOAD on its TAP. */
extern const struct sandbox_policy sandbox_policy_net;

#endif
