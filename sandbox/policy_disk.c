/* Seccomp policy of the disk device (on top of sandbox_policy_base): I/O
 * at offsets on the image files it was given, making them durable,
 * punching holes (discard) and growing them (qcow2 allocation).  No
 * opening of files: the supervisor opened the images and their backing
 * chains. */
#include <seccomp.h>

#include "sandbox/policies.h"

#define ANY(name) {SCMP_SYS(name), SB_ARG_ANY, 0, 0}

static const struct sandbox_rule disk_rules[] = {
	ANY(pread64),
	ANY(pwrite64),
	ANY(preadv),
	ANY(pwritev),
	ANY(fdatasync),
	ANY(fsync),
	ANY(fallocate),
	ANY(ftruncate),
	ANY(fstat),
	ANY(newfstatat),
};

const struct sandbox_policy sandbox_policy_disk = {
	.name = "disk",
	.rules = disk_rules,
	.nrules = sizeof disk_rules / sizeof disk_rules[0],
};
