/* The lock of a VM directory: flock(2) on <dir>/.lock.  A running
 * supervisor holds it for the VM's life; set and delete take it while they
 * work, so neither can change a VM that is running or starting.  flock, so
 * that `flock DIR/.lock CMD` in a shell holds it too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tools/vmconf/vmconf.h"

static int lock_file(const char *file, bool wait, char *err, size_t errlen)
{
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", file, strerror(e));
		return -e;
	}
	if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			snprintf(err, errlen, "%s is held by another process", file);
			return -EBUSY;
		}
		snprintf(err, errlen, "%s: flock: %s", file, strerror(e));
		return -e;
	}
	return fd;
}

int vmdir_lock(const char *dir, char *err, size_t errlen)
{
	char file[VMCONF_PATH_MAX + 16];
	snprintf(file, sizeof(file), "%s/%s", dir, VMCONF_LOCK_FILE);
	return lock_file(file, false, err, errlen);
}

int vmdir_lock_root(const char *root, char *err, size_t errlen)
{
	char file[VMCONF_PATH_MAX + 16];
	snprintf(file, sizeof(file), "%s/%s", root, VMCONF_LOCK_FILE);
	/* Waits: another create is only checking names for a moment. */
	return lock_file(file, true, err, errlen);
}

bool vmdir_is_locked(const char *dir)
{
	char file[VMCONF_PATH_MAX + 16];
	bool locked = false;

	snprintf(file, sizeof(file), "%s/%s", dir, VMCONF_LOCK_FILE);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* no lock file: never started */
	/* A shared probe: it only fails against an exclusive holder. */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		locked = errno == EWOULDBLOCK;
	close(fd);
	return locked;
}
