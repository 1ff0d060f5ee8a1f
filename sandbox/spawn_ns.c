/* The id maps of a spawned device's new user namespace. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/internal.h"
#include "sandbox/spawn_internal.h"

static int write_file(pid_t pid, const char *name, const char *text, bool missing_ok,
		      char *err, size_t errlen)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);

	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0) {
		if (missing_ok && errno == ENOENT)
			return 0;
		return sb_fail(err, errlen, "open %s: %s", path, strerror(errno));
	}

	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int saved = errno;

	close(fd);
	if (n != (ssize_t)len) {
		errno = n < 0 ? saved : EIO;
		return sb_fail(err, errlen, "write %s: %s", path, strerror(errno));
	}
	return 0;
}

int sb_write_id_maps(pid_t pid, char *err, size_t errlen)
{
	char map[64];

	/* Without "deny" an unprivileged parent may not write gid_map (and the
	 * device could drop supplementary groups to gain access). */
	if (write_file(pid, "setgroups", "deny", true, err, errlen) < 0)
		return -1;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)geteuid());
	if (write_file(pid, "uid_map", map, false, err, errlen) < 0)
		return -1;
	snprintf(map, sizeof map, "0 %u 1\n", (unsigned)getegid());
	return write_file(pid, "gid_map", map, false, err, errlen);
}
