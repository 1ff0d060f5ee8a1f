/* Test builds only: at the first guest access, make a syscall the device's
 * seccomp policy forbids, so tests can prove the filter kills the process. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/common/device.h"

bool device_test_trap_available(void)
{
	return true;
}

void device_test_trap(const char *what)
{
	if (strcmp(what, "socket") == 0)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (strcmp(what, "open") == 0)
		syscall(SYS_openat, AT_FDCWD, "/etc/passwd", 0);
	else if (strcmp(what, "execve") == 0)
		syscall(SYS_execve, "/bin/sh", NULL, NULL);
	else
		abort();
}
