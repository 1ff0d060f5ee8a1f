/* Moving a device that owns its mount namespace to an empty, read-only
 * root. */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define ROOT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* Mounts the new root's tmpfs on the first of these that exists; it is only
 * a place to stand while pivoting, all of it disappears afterwards. */
static const char *const mount_points[] = {"/tmp", "/mnt", "/run", "/var/tmp", "/dev"};

int sb_enter_empty_root(char *err, size_t errlen)
{
	/* Nothing we do below may propagate back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sb_fail(err, errlen, "mount(/, MS_REC|MS_PRIVATE): %s", strerror(errno));

	const char *dir = NULL;
	int mount_errno = ENOENT;

	for (size_t i = 0; i < sizeof mount_points / sizeof mount_points[0]; i++) {
		struct stat st;

		if (stat(mount_points[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (mount("cellvm-root", mount_points[i], "tmpfs", ROOT_FLAGS,
			  "size=64k,nr_inodes=16,mode=0755") == 0) {
			dir = mount_points[i];
			break;
		}
		mount_errno = errno;
	}
	if (!dir)
		return sb_fail(err, errlen, "mount tmpfs for the new root: %s",
			       strerror(mount_errno));

	if (chdir(dir) < 0)
		return sb_fail(err, errlen, "chdir(%s): %s", dir, strerror(errno));
	if (mkdir("old", 0700) < 0)
		return sb_fail(err, errlen, "mkdir(%s/old): %s", dir, strerror(errno));
	if (syscall(SYS_pivot_root, ".", "old") < 0)
		return sb_fail(err, errlen, "pivot_root(%s, %s/old): %s", dir, dir,
			       strerror(errno));
	if (chdir("/") < 0)
		return sb_fail(err, errlen, "chdir(/): %s", strerror(errno));
	if (umount2("/old", MNT_DETACH) < 0)
		return sb_fail(err, errlen, "umount2(/old, MNT_DETACH): %s", strerror(errno));
	if (rmdir("/old") < 0)
		return sb_fail(err, errlen, "rmdir(/old): %s", strerror(errno));
	/* A bind remount changes only the per-mount flags; nosuid/nodev/noexec
	 * must be repeated or the kernel refuses to clear them (EPERM). */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | ROOT_FLAGS, NULL) < 0)
		return sb_fail(err, errlen, "remount / read-only: %s", strerror(errno));
	return 0;
}
