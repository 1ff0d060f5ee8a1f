/* A VM's definition as kept in its directory (<root>/<UUID>/config.pvs):
 * the in-memory form, the seed's limits on it, reading and writing the
 * XML file, the VM directories and their lock, and the `cellvm run`
 * command line that runs it.  The format: docs/vm-management.md. */
#ifndef CELLVM_TOOLS_VMCONF_VMCONF_H
#define CELLVM_TOOLS_VMCONF_VMCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The seed's limits (docs/vm-management.md, "Limits"). */
#define VMCONF_MIN_CPUS 1
#define VMCONF_MAX_CPUS 64
#define VMCONF_MIN_MEMORY (16ull << 20)	/* what cellvm run can boot */
#define VMCONF_MAX_MEMORY (1ull << 40)
#define VMCONF_MIN_VIDEO (1ull << 20)
#define VMCONF_MAX_VIDEO (256ull << 20)
#define VMCONF_MIN_DISK (100ull << 20)
#define VMCONF_MAX_DISK (16ull << 40)
#define VMCONF_MAX_IDE 4	/* hard disks and CD/DVD drives together */
#define VMCONF_MAX_SCSI 15	/* likewise */
#define VMCONF_MAX_VIRTIO_BLK 15
#define VMCONF_MAX_DISKS (VMCONF_MAX_IDE + VMCONF_MAX_SCSI + VMCONF_MAX_VIRTIO_BLK)
#define VMCONF_MAX_NETS 15
#define VMCONF_MAX_SERIAL 4
#define VMCONF_NAME_MAX 64
#define VMCONF_PATH_MAX 1024
#define VMCONF_CMDLINE_MAX 2048

#define VMCONF_FILE "config.pvs"
#define VMCONF_LOCK_FILE ".lock"
#define VMCONF_DEFAULT_BRIDGE "br0"

enum vm_distribution { VM_DIST_LINUX, VM_DIST_DEBIAN, VM_DIST_WINDOWS, VM_DIST_OTHER };
enum vm_disk_if { VM_IF_VIRTIO_SCSI, VM_IF_VIRTIO_BLK, VM_IF_IDE };
enum vm_net_kind { VM_NET_BRIDGE, VM_NET_TAP, VM_NET_STREAM };
enum vm_serial_kind { VM_SERIAL_OUTPUT, VM_SERIAL_SOCKET };

/* A hard disk or a CD/DVD drive; in the order of the file (the bus order). */
struct vm_disk {
	bool cdrom;
	enum vm_disk_if iface;
	char image[VMCONF_PATH_MAX];	/* relative: to the VM directory; a CD-ROM's may be "" (empty drive) */
	uint64_t size;			/* hard disks: the virtual size in bytes */
};

struct vm_net {
	enum vm_net_kind kind;
	char backend[VMCONF_PATH_MAX];	/* bridge or TAP name, or the socket path */
	char mac[18];			/* xx:xx:xx:xx:xx:xx */
};

struct vm_serial {
	enum vm_serial_kind kind;
	char path[VMCONF_PATH_MAX];	/* relative: to the VM directory */
};

struct vm_def {
	char uuid[37];
	char name[VMCONF_NAME_MAX + 1];
	enum vm_distribution distribution;
	unsigned cpus;
	uint64_t memory;		/* bytes */
	uint64_t video_memory;		/* bytes, 0: no video card; recorded only (no video device yet) */
	char kernel[VMCONF_PATH_MAX];	/* "" when none */
	char initrd[VMCONF_PATH_MAX];
	char cmdline[VMCONF_CMDLINE_MAX];
	struct vm_disk disks[VMCONF_MAX_DISKS];
	unsigned ndisks;
	struct vm_net nets[VMCONF_MAX_NETS];
	unsigned nnets;
	struct vm_serial serials[VMCONF_MAX_SERIAL];
	unsigned nserials;
};

/* --- names of things (names.c) --------------------------------------- */
const char *vm_distribution_name(enum vm_distribution d);
int vm_distribution_parse(const char *s, enum vm_distribution *out);
const char *vm_disk_if_name(enum vm_disk_if i);
int vm_disk_if_parse(const char *s, enum vm_disk_if *out);
const char *vm_net_kind_name(enum vm_net_kind k);
/* "512M", "2G", "1T", "1048576": bytes with an optional K/M/G/T (binary)
 * suffix.  -1 if malformed. */
int vmconf_parse_size(const char *s, uint64_t *out);
/* The largest unit that is exact: "2G", "1536M", "4095". */
void vmconf_format_size(uint64_t bytes, char *buf, size_t len);
/* A device's name as info shows it and --device-del takes: hdd0, cdrom1,
 * net0, serial3 (the index counts that kind only). */
void vmconf_disk_dev_name(const struct vm_def *def, unsigned i, char *buf, size_t len);

/* --- defaults (defaults.c) -------------------------------------------- */
struct vm_defaults {
	unsigned cpus;
	uint64_t memory, disk_size, video_memory;
	enum vm_disk_if cdrom_if;
};
void vm_defaults_for(enum vm_distribution d, struct vm_defaults *out);
/* A fresh definition with the seed's default hardware: one virtio-scsi
 * hard disk (HDD_IMAGE, HDD_SIZE), an empty CD-ROM, one bridged adapter
 * with a new random MAC, 32 MB video.  New UUID. */
int vm_def_init_default(struct vm_def *def, const char *name, enum vm_distribution d,
			unsigned cpus, uint64_t memory, const char *hdd_image, uint64_t hdd_size,
			char *err, size_t errlen);
/* A random locally administered unicast MAC (52:xx:xx:xx:xx:xx). */
int vmconf_random_mac(char mac[18]);

/* --- limits (limits.c): messages without a location; callers prefix
 * the field ("--cpus: ", "config.pvs:7: <cpus>: "). ------------------- */
int vmconf_check_cpus(unsigned cpus, char *err, size_t errlen);
/* HOST_MEMORY: the host's RAM in bytes; 0 skips that check. */
int vmconf_check_memory(uint64_t bytes, uint64_t host_memory, char *err, size_t errlen);
int vmconf_check_video(uint64_t bytes, char *err, size_t errlen);
int vmconf_check_disk_size(uint64_t bytes, char *err, size_t errlen);
int vmconf_check_name(const char *name, char *err, size_t errlen);
int vmconf_check_mac(const char *mac, char *err, size_t errlen);
/* Whether one more disk (CDROM or not) on IFACE, adapter or serial port
 * fits DEF. */
int vmconf_check_add_disk(const struct vm_def *def, bool cdrom, enum vm_disk_if iface,
			  char *err, size_t errlen);
int vmconf_check_add_net(const struct vm_def *def, char *err, size_t errlen);
int vmconf_check_add_serial(const struct vm_def *def, char *err, size_t errlen);
/* Everything above on the whole definition; the error names the field or
 * device ("hdd2: size ..."). */
int vmconf_validate(const struct vm_def *def, uint64_t host_memory, char *err, size_t errlen);
/* The host's RAM (sysconf pages). */
uint64_t vmconf_host_memory(void);

/* --- config.pvs (pvs_read.c, pvs_write.c) ----------------------------- */
/* Reads and validates PATH (host memory included) into DEF.  Errors name
 * the file, the line and the field: "config.pvs:12: <memory>: '12X' is not
 * a size".  0, or -1 with err. */
int vmconf_read(const char *path, struct vm_def *def, char *err, size_t errlen);
/* As vmconf_read, from memory; NAME is the file name for messages. */
int vmconf_parse(const char *xml, size_t len, const char *name, uint64_t host_memory,
		 struct vm_def *def, char *err, size_t errlen);
/* Validates DEF, then replaces PATH atomically: a temporary file in the
 * same directory, fsync, rename, fsync of the directory.  On any failure
 * PATH is as it was and no temporary file is left. */
int vmconf_write(const char *path, const struct vm_def *def, char *err, size_t errlen);
/* DEF as XML text (malloc'd, NUL-terminated). */
char *vmconf_to_xml(const struct vm_def *def, size_t *len);

/* --- VM directories (vmdir.c, vmdir_lock.c) --------------------------- */
/* --root DIR if given, else $CELLVM_ROOT, else /vz/vmprivate for root, else
 * $XDG_DATA_HOME/cellvm/vmprivate or ~/.local/share/cellvm/vmprivate. */
int vmdir_root(const char *opt_root, char *out, size_t len, char *err, size_t errlen);

/* One VM found in a root. */
struct vm_entry {
	char dir[VMCONF_PATH_MAX];	/* ROOT/UUID */
	char config[VMCONF_PATH_MAX + 16];	/* DIR/config.pvs */
	struct vm_def *def;		/* NULL when config.pvs could not be read */
	char error[VMCONF_PATH_MAX + 512];	/* why, then */
};
/* Every <UUID> directory of ROOT, sorted by name then UUID (broken ones
 * last).  A root that does not exist has none.  0 with *OUT and *N (free with
 * vmdir_list_free), or -1 with err. */
int vmdir_list(const char *root, struct vm_entry **out, unsigned *n, char *err, size_t errlen);
void vmdir_list_free(struct vm_entry *list, unsigned n);
/* The VM named or with the UUID WHO: fills E (E->def set, free with
 * vmdir_entry_free).  With ALLOW_BROKEN a UUID whose config cannot be read
 * is still found (E->def NULL, E->error says why), for delete.  0, or -1
 * with err ("no VM 'x' in ROOT"). */
int vmdir_find(const char *root, const char *who, bool allow_broken, struct vm_entry *e,
	       char *err, size_t errlen);
void vmdir_entry_free(struct vm_entry *e);
/* Makes ROOT (and its parents) when missing. */
int vmdir_make_root(const char *root, char *err, size_t errlen);
/* Removes DIR and everything in it (no symlinks followed). */
int vmdir_remove(const char *dir, char *err, size_t errlen);
/* PATH relative to the VM directory DIR, or PATH itself when absolute. */
void vmdir_resolve(const char *dir, const char *path, char *out, size_t len);

/* The lock of a VM directory (flock(2) on <dir>/.lock): a running
 * supervisor holds it, and so do set and delete while they work.  Returns
 * the fd that holds it (close to release), -EBUSY when another process
 * holds it ("running"), or another -errno with err. */
int vmdir_lock(const char *dir, char *err, size_t errlen);
/* Whether another process holds DIR's lock now. */
bool vmdir_is_locked(const char *dir);
/* The root's own lock, held while create checks names and makes a VM. */
int vmdir_lock_root(const char *root, char *err, size_t errlen);

/* --- disk images (hdd.c) --------------------------------------------- */
/* Creates PATH, an expanding qcow2 image of SIZE bytes (within the limits);
 * refuses a PATH that exists. */
int vmconf_create_hdd(const char *path, uint64_t size, char *err, size_t errlen);
/* The virtual size of an existing image (qcow2 or raw). */
int vmconf_image_size(const char *path, uint64_t *size, char *err, size_t errlen);

/* --- running it (run_argv.c) ------------------------------------------ */
/* The `cellvm run` arguments (no program name) that run DEF from its
 * directory DIR: --kernel --initrd --cmdline --cpus --memory --disk ...
 * --net ... --serial ... --name --uuid.  Devices cellvm cannot run yet
 * (IDE, an empty CD-ROM drive) are left out, each with a line to NOTE (may
 * be NULL).  *ARGV is malloc'd (its strings too; vmconf_argv_free), NULL
 * terminated.  0, or -1 with err (no kernel to boot). */
int vmconf_run_argv(const struct vm_def *def, const char *dir, char ***argv, int *argc,
		    void (*note)(void *ctx, const char *line), void *ctx,
		    char *err, size_t errlen);
void vmconf_argv_free(char **argv);

#endif
