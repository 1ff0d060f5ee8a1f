/* libcellvm: the client side of cellvm's VM management, for the cellvm
 * command and for integrators (shared library libcellvm-client.so,
 * pkg-config cellvm-client).  Finds VMs in a root, asks a running VM's
 * supervisor over its control socket (<dir>/control.sock, protobuf-c,
 * proto/mgmt.proto) for its state, a stop (ACPI power button), a kill, a
 * pause or a resume, and attaches to its serial console
 * (<dir>/console.sock).  See docs/vm-management.md.
 *
 * Every function that can fail returns 0 or -1 and then writes a message
 * to ERR (ERRLEN bytes; both may be NULL/0). */
#ifndef CELLVM_CLIENT_H
#define CELLVM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CELLVM_CONTROL_SOCKET "control.sock"
#define CELLVM_CONSOLE_SOCKET "console.sock"
#define CELLVM_LOG_FILE "cellvm.log"
/* The console's detach key: Ctrl-] */
#define CELLVM_CONSOLE_DETACH 0x1d

/* A running VM as its supervisor reports it. */
struct cellvm_state {
	bool paused;
	pid_t pid;		/* the supervisor's */
	uint64_t uptime_ms;
	unsigned cpus;
	uint64_t memory;	/* bytes */
	unsigned boots;		/* 1 + guest reboots */
	char name[65];
	char uuid[37];
};

/* The directory of the VM named, or with the UUID, WHO in ROOT (NULL: the
 * default root: $CELLVM_ROOT, /vz/vmprivate for root, else
 * ~/.local/share/cellvm/vmprivate). */
int cellvm_find(const char *root, const char *who, char *dir, size_t dirlen, char *err,
		size_t errlen);

/* Whether the VM in DIR is running: its lock (DIR/.lock) is held. */
bool cellvm_is_running(const char *dir);

/* The running VM's state.  Fails when it does not run (err says so) or its
 * supervisor does not answer within a few seconds. */
int cellvm_state(const char *dir, struct cellvm_state *st, char *err, size_t errlen);
/* Presses the VM's ACPI power button and returns: the guest powers off
 * when it wants to (see cellvm_wait_stopped). */
int cellvm_stop(const char *dir, char *err, size_t errlen);
/* Ends the VM at once, as pulling the plug. */
int cellvm_kill(const char *dir, char *err, size_t errlen);
/* Holds every vCPU (returns once they all are) / lets them run again. */
int cellvm_pause(const char *dir, char *err, size_t errlen);
int cellvm_resume(const char *dir, char *err, size_t errlen);

/* Waits until the VM in DIR no longer runs: 0, or -1 after TIMEOUT_MS. */
int cellvm_wait_stopped(const char *dir, unsigned timeout_ms);

/* Attaches IN_FD/OUT_FD (e.g. 0 and 1) to the VM's serial console (COM1):
 * the guest's output is written to OUT_FD, what is read from IN_FD goes
 * to the guest.  A terminal on IN_FD is put in raw mode meanwhile.  Ends
 * when CELLVM_CONSOLE_DETACH (Ctrl-]) is read (returns 0), when IN_FD
 * reaches its end (0), or when the VM ends (1).  -1 with err. */
int cellvm_console(const char *dir, int in_fd, int out_fd, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
