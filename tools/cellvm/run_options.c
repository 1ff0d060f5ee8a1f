/* `cellvm run` options: parsing, defaults, and the checks made before any
 * VM exists. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "tools/cellvm/console_tee.h"
#include "tools/cellvm/supervisor.h"
#include "vmm-core/boot.h"
#include "vmm-core/layout.h"

#define DEFAULT_MEMORY (512ull << 20)
#define DEFAULT_CMDLINE "console=ttyS0"
#define MAX_KERNEL_BYTES (256u << 20)

void run_usage(FILE *f)
{
	fprintf(f,
		"usage: cellvm run --kernel PATH [OPTIONS]\n"
		"\n"
		"Runs one VM in the foreground: boots a Linux bzImage directly, with a\n"
		"vCPU core process and one sandboxed process per device.  The command\n"
		"ends when the VM does, with status 0 after the guest powers off.\n"
		"\n"
		"Options:\n"
		"  --kernel PATH        the guest kernel (a bzImage)\n"
		"  --initrd PATH        an initial ramdisk\n"
		"  --cmdline STR        the kernel command line (default \"" DEFAULT_CMDLINE "\")\n"
		"  --cpus N             vCPUs, 1 to 64 (default 1)\n"
		"  --memory SIZE        guest RAM, 16M to 1T and no more than the host has\n"
		"                       (K/M/G/T suffixes; default 512M)\n"
		"  --serial SPEC        a serial port, up to four (COM1..COM4, in order):\n"
		"                         stdio            this terminal (raw mode while running)\n"
		"                         file:PATH        append the guest's output to PATH\n"
		"                         unix:PATH        connect to a listening unix socket\n"
		"                         unix:PATH,server listen on PATH, one client at a time\n"
		"                         none             a port with nothing attached\n"
		"                         console:FILE,SOCKET\n"
		"                                          append the output to FILE, and relay\n"
		"                                          the port to one client of the unix\n"
		"                                          socket SOCKET (cellvm console)\n"
		"                       without --serial: COM1 on stdio\n"
		"  --disk PATH[,if=virtio-blk|virtio-scsi][,media=disk|cdrom][,readonly][,serial=S]\n"
		"                       a disk image (qcow2 or raw, detected; an ISO is raw),\n"
		"                       each served by its own sandboxed cellvm-dev-disk\n"
		"                       process; up to 15 per interface.  Default if=virtio-scsi\n"
		"                       (one controller, a target per disk, in order: /dev/sda..,\n"
		"                       CD/DVD drives /dev/sr0..); virtio-blk: /dev/vda.. in order.\n"
		"                       media=cdrom is a read-only CD/DVD drive on virtio-scsi.\n"
		"  --net SPEC[,mac=XX:XX:XX:XX:XX:XX][,model=virtio]\n"
		"                       a virtio-net adapter (up to 15, in option order), each\n"
		"                       served by its own sandboxed cellvm-dev-net process.\n"
		"                       SPEC is its backend:\n"
		"                         tap=NAME           an existing TAP interface\n"
		"                         bridge=BR[,ifname=NAME]\n"
		"                                            a new TAP on bridge BR, deleted when\n"
		"                                            the VM ends (needs CAP_NET_ADMIN)\n"
		"                         stream=PATH        connect to a unix stream socket\n"
		"                                            (QEMU's -netdev stream framing)\n"
		"                         stream=PATH,server listen on PATH; the VM starts when\n"
		"                                            its one peer connects\n"
		"                       TAP kinds also take offload=csum+tso4+tso6+ecn+ufo.\n"
		"                       mac= must be unicast; by default it is 52: and 5 bytes\n"
		"                       of a hash (FNV-1a 64) of the VM's --uuid, else its\n"
		"                       --name, else a UUID made for this run, and the\n"
		"                       adapter's index: the same each run for a named VM.\n"
		"  --name NAME          the VM's name (for default MACs when there is no --uuid)\n"
		"  --uuid UUID          the VM's UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)\n"
		"  --on-reboot restart|stop\n"
		"                       what a guest reboot does (default restart)\n"
		"  --no-sandbox         run the core and devices without seccomp and\n"
		"                       namespaces (debugging only)\n"
		"\n"
		"How it ends:\n"
		"  0   the guest powered off (ACPI S5), or SIGINT/SIGTERM stopped the VM\n"
		"  1   the VM failed: a triple fault or KVM error (the vCPU's registers are\n"
		"      printed), or a process of the VM died (which, and how, is printed)\n"
		"  2   bad options or files, or a network backend that cannot be opened;\n"
		"      nothing was started\n"
		"Every process of the VM dies with the supervisor, even on SIGKILL.\n"
		"\n"
		"Example:\n"
		"  cellvm run --kernel vmlinuz --initrd initrd.img --cpus 4 --memory 2G \\\n"
		"             --serial stdio --serial file:/tmp/com2.txt\n"
		"  cellvm run --kernel vmlinuz --initrd initrd.img --name web1 \\\n"
		"             --net bridge=br0 --net tap=tap1,mac=52:54:00:12:34:56\n");
}

int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

static bool serial_spec_ok(const char *s)
{
	return !strcmp(s, "stdio") || !strcmp(s, "none") ||
	       (!strncmp(s, "file:", 5) && s[5]) || (!strncmp(s, "unix:", 5) && s[5]) ||
	       console_tee_spec_ok(s);
}

/* Where cellvm-core and cellvm-dev-* are: next to cellvm in a build
 * ($(BUILD)/bin), else ../libexec/cellvm from it (make install). */
static const char *self_dir(void)
{
	static char dir[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", dir, PATH_MAX - 1);
	if (n <= 0)
		return ".";
	dir[n] = 0;
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	char core[sizeof(dir) + 16];
	snprintf(core, sizeof(core), "%s/cellvm-core", dir);
	if (access(core, X_OK) != 0 && slash) {
		char *up = strrchr(dir, '/');
		if (up) {
			*up = 0;
			strcat(dir, "/libexec/cellvm");
		}
	}
	return dir;
}

int run_options_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"initrd", required_argument, NULL, 'i'},
		{"cmdline", required_argument, NULL, 'c'},
		{"cpus", required_argument, NULL, 'p'},
		{"memory", required_argument, NULL, 'm'},
		{"serial", required_argument, NULL, 's'},
		{"on-reboot", required_argument, NULL, 'r'},
		{"disk", required_argument, NULL, 'd'},
		{"net", required_argument, NULL, 'N'},
		{"name", required_argument, NULL, 'a'},
		{"uuid", required_argument, NULL, 'u'},
		{"no-sandbox", no_argument, NULL, 'n'},
		/* for cellvm start; not in --help */
		{"lock-fd", required_argument, NULL, 'L'},
		{"control", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = DEFAULT_CMDLINE;
	cfg->cpus = 1;
	cfg->memory = DEFAULT_MEMORY;
	cfg->sandbox = true;
	cfg->restart_on_reboot = true;
	cfg->lock_fd = -1;
	cfg->bin_dir = getenv("CELLVM_BIN_DIR") ? getenv("CELLVM_BIN_DIR") : self_dir();
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'k': cfg->kernel = optarg; break;
		case 'i': cfg->initrd = optarg; break;
		case 'c': cfg->cmdline = optarg; break;
		case 'n': cfg->sandbox = false; break;
		case 'h':
			run_usage(stdout);
			printf("\nInternal programs (cellvm-core, cellvm-dev-*) from: %s\n"
			       "(next to cellvm, else ../libexec/cellvm; $CELLVM_BIN_DIR overrides)\n",
			       cfg->bin_dir);
			return 1;
		case 'p': {
			errno = 0;
			unsigned long n = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > GUEST_MAX_CPUS) {
				snprintf(err, errlen, "--cpus %s: a VM has 1 to %d vCPUs", optarg,
					 GUEST_MAX_CPUS);
				return -1;
			}
			cfg->cpus = (unsigned)n;
			break;
		}
		case 'm':
			if (parse_size(optarg, &cfg->memory) < 0) {
				snprintf(err, errlen, "--memory %s: not a size (e.g. 512M, 2G)",
					 optarg);
				return -1;
			}
			break;
		case 's':
			if (cfg->nserial == VM_MAX_SERIAL) {
				snprintf(err, errlen, "at most %d --serial ports (COM1..COM4)",
					 VM_MAX_SERIAL);
				return -1;
			}
			if (!serial_spec_ok(optarg)) {
				snprintf(err, errlen,
					 "--serial %s: expected stdio, file:PATH, unix:PATH[,server], "
					 "console:FILE,SOCKET or none",
					 optarg);
				return -1;
			}
			cfg->serial[cfg->nserial++] = optarg;
			break;
		case 'd':
			if (disk_option_parse(cfg, optarg, err, errlen) < 0)
				return -1;
			break;
		case 'N':
			if (net_option_parse(cfg, optarg, err, errlen) < 0)
				return -1;
			break;
		case 'a':
			if (!*optarg) {
				snprintf(err, errlen, "--name: empty");
				return -1;
			}
			cfg->name = optarg;
			break;
		case 'u':
			if (uuid_parse(optarg, cfg->uuid) < 0) {
				snprintf(err, errlen,
					 "--uuid %s: not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex)",
					 optarg);
				return -1;
			}
			cfg->uuid_given = true;
			break;
		case 'L': {
			unsigned long fd = strtoul(optarg, &end, 10);
			if (*end || end == optarg || fd < 3 || fd > 65535 ||
			    fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) {
				snprintf(err, errlen, "--lock-fd %s: not an open file descriptor",
					 optarg);
				return -1;
			}
			cfg->lock_fd = (int)fd; /* kept open (and locked) until we exit */
			break;
		}
		case 'C':
			cfg->control = optarg;
			break;
		case 'r':
			if (strcmp(optarg, "restart") && strcmp(optarg, "stop")) {
				snprintf(err, errlen, "--on-reboot %s: restart or stop", optarg);
				return -1;
			}
			cfg->restart_on_reboot = !strcmp(optarg, "restart");
			break;
		default:
			snprintf(err, errlen, "run: unknown or incomplete option '%s' (cellvm run --help)",
				 argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errlen, "run: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!cfg->kernel) {
		snprintf(err, errlen, "run: --kernel is required (cellvm run --help)");
		return -1;
	}
	if (cfg->nserial == 0)
		cfg->serial[cfg->nserial++] = "stdio";
	if (!cfg->uuid_given)
		uuid_generate(cfg->uuid);
	return net_options_finish(cfg, err, errlen);
}

static int read_file(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
		     size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: not a regular file of at most %zu MiB", path, max >> 20);
		close(fd);
		return -1;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	ssize_t n = *buf ? read(fd, *buf, *len) : -1;
	close(fd);
	if (n != (ssize_t)*len) {
		snprintf(err, errlen, "%s: short read", path);
		free(*buf);
		return -1;
	}
	return 0;
}

int run_options_check(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (disk_options_check(cfg, err, errlen) < 0)
		return -1;
	if (cfg->memory < GUEST_MIN_MEMORY || cfg->memory > GUEST_MAX_MEMORY ||
	    cfg->memory % 4096) {
		snprintf(err, errlen,
			 "--memory: %llu bytes; a VM has 16 MiB to 1 TiB, in whole pages",
			 (unsigned long long)cfg->memory);
		return -1;
	}
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;
		if (cfg->memory > host) {
			snprintf(err, errlen, "--memory: %llu MiB is more than the host's %llu MiB",
				 (unsigned long long)(cfg->memory >> 20),
				 (unsigned long long)(host >> 20));
			return -1;
		}
	}
	uint8_t *img;
	size_t len;
	if (read_file(cfg->kernel, MAX_KERNEL_BYTES, &img, &len, err, errlen) < 0)
		return -1;
	struct bzimage_info bz;
	char why[200];
	int rc = bzimage_parse(img, len, &bz, why, sizeof(why));
	free(img);
	if (rc < 0) {
		snprintf(err, errlen, "--kernel %s: %s", cfg->kernel, why);
		return -1;
	}
	if (strlen(cfg->cmdline) > bz.cmdline_size || strlen(cfg->cmdline) >= GUEST_CMDLINE_MAX) {
		snprintf(err, errlen, "--cmdline: %zu bytes, the kernel takes at most %u",
			 strlen(cfg->cmdline), bz.cmdline_size);
		return -1;
	}
	uint64_t low = guest_low_ram(cfg->memory);
	uint64_t kernel_end = bz.footprint_end;
	if (kernel_end > low) {
		snprintf(err, errlen, "--memory: the kernel needs %llu MiB, the VM has %llu MiB",
			 (unsigned long long)(kernel_end >> 20), (unsigned long long)(low >> 20));
		return -1;
	}
	if (cfg->initrd) {
		struct stat st;
		errno = 0;
		if (stat(cfg->initrd, &st) < 0 || !S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "--initrd %s: %s", cfg->initrd,
				 errno ? strerror(errno) : "not a regular file");
			return -1;
		}
		uint64_t top = low < (uint64_t)bz.initrd_addr_max + 1 ? low
								       : (uint64_t)bz.initrd_addr_max + 1;
		if ((uint64_t)st.st_size + kernel_end > top) {
			snprintf(err, errlen,
				 "--initrd %s: %llu MiB does not fit in guest RAM below %llu MiB "
				 "with the kernel",
				 cfg->initrd, (unsigned long long)(st.st_size >> 20),
				 (unsigned long long)(top >> 20));
			return -1;
		}
	}
	return 0;
}
