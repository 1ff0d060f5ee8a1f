/* tools/vmconf: config.pvs round trip, every limit at its bound and one
 * past it, broken files naming the line and the field, the atomic write
 * keeping the old file when a write fails, the VM directory lock, finding
 * VMs, and the `cellvm run` argv. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/vmconf/vmconf.h"

#define HOST_2T (2ull << 40)

static char tmpdir[256];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_vmconf.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char err[512];
	(void)state;
	return vmdir_remove(tmpdir, err, sizeof(err));
}

static struct vm_def *new_def(void)
{
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[256];
	assert_non_null(d);
	assert_int_equal(vm_def_init_default(d, "web & <db> \"1\"", VM_DIST_DEBIAN, 4, 3ull << 30,
					     "harddisk.hdd", 100ull << 20, err, sizeof(err)), 0);
	return d;
}

/* A definition with every kind of device and every field set. */
static struct vm_def *full_def(void)
{
	struct vm_def *d = new_def();
	snprintf(d->kernel, sizeof(d->kernel), "/boot/vmlinuz");
	snprintf(d->initrd, sizeof(d->initrd), "initrd.img");
	snprintf(d->cmdline, sizeof(d->cmdline), "console=ttyS0 root=/dev/sda1 x=\"a<b>&c\"");
	d->disks[d->ndisks++] = (struct vm_disk){ .iface = VM_IF_VIRTIO_BLK, .size = 16ull << 40,
						  .image = "/srv/big.hdd" };
	d->disks[d->ndisks++] = (struct vm_disk){ .cdrom = true, .iface = VM_IF_VIRTIO_SCSI,
						  .image = "debian.iso" };
	d->nets[d->nnets++] = (struct vm_net){ .kind = VM_NET_TAP, .backend = "tap7",
					       .mac = "52:54:00:12:34:56" };
	d->nets[d->nnets++] = (struct vm_net){ .kind = VM_NET_STREAM, .backend = "/run/link",
					       .mac = "02:00:00:00:00:01" };
	d->serials[d->nserials++] = (struct vm_serial){ .kind = VM_SERIAL_OUTPUT,
							.path = "serial0.txt" };
	d->serials[d->nserials++] = (struct vm_serial){ .kind = VM_SERIAL_SOCKET,
							.path = "/run/vm.sock" };
	d->video_memory = 256ull << 20;
	return d;
}

static void assert_def_equal(const struct vm_def *a, const struct vm_def *b)
{
	assert_string_equal(a->uuid, b->uuid);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->distribution, b->distribution);
	assert_int_equal(a->cpus, b->cpus);
	assert_int_equal(a->memory, b->memory);
	assert_int_equal(a->video_memory, b->video_memory);
	assert_string_equal(a->kernel, b->kernel);
	assert_string_equal(a->initrd, b->initrd);
	assert_string_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->ndisks, b->ndisks);
	for (unsigned i = 0; i < a->ndisks; i++) {
		assert_int_equal(a->disks[i].cdrom, b->disks[i].cdrom);
		assert_int_equal(a->disks[i].iface, b->disks[i].iface);
		assert_string_equal(a->disks[i].image, b->disks[i].image);
		assert_int_equal(a->disks[i].size, b->disks[i].size);
	}
	assert_int_equal(a->nnets, b->nnets);
	for (unsigned i = 0; i < a->nnets; i++) {
		assert_int_equal(a->nets[i].kind, b->nets[i].kind);
		assert_string_equal(a->nets[i].backend, b->nets[i].backend);
		assert_string_equal(a->nets[i].mac, b->nets[i].mac);
	}
	assert_int_equal(a->nserials, b->nserials);
	for (unsigned i = 0; i < a->nserials; i++) {
		assert_int_equal(a->serials[i].kind, b->serials[i].kind);
		assert_string_equal(a->serials[i].path, b->serials[i].path);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	struct vm_def *d = full_def(), *back = calloc(1, sizeof(*back));
	char path[512], err[1024];

	snprintf(path, sizeof(path), "%s/config.pvs", tmpdir);
	assert_int_equal(vmconf_write(path, d, err, sizeof(err)), 0);
	assert_int_equal(vmconf_read(path, back, err, sizeof(err)), 0);
	assert_def_equal(d, back);
	/* The defaults the seed asks for. */
	assert_int_equal(back->disks[0].iface, VM_IF_VIRTIO_SCSI);
	assert_false(back->disks[0].cdrom);
	assert_true(back->disks[1].cdrom);
	assert_int_equal(back->disks[1].iface, VM_IF_IDE); /* debian */
	assert_int_equal(back->nets[0].kind, VM_NET_BRIDGE);
	assert_string_equal(back->nets[0].backend, VMCONF_DEFAULT_BRIDGE);
	assert_int_equal(vmconf_check_mac(back->nets[0].mac, err, sizeof(err)), 0);
	free(d);
	free(back);
}

static void test_default_cdrom_per_distribution(void **state)
{
	(void)state;
	static const struct {
		enum vm_distribution d;
		enum vm_disk_if cdrom;
	} cases[] = {
		{ VM_DIST_WINDOWS, VM_IF_IDE }, { VM_DIST_DEBIAN, VM_IF_IDE },
		{ VM_DIST_LINUX, VM_IF_VIRTIO_SCSI }, { VM_DIST_OTHER, VM_IF_VIRTIO_SCSI },
	};
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[256];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vm_def_init_default(d, "a", cases[i].d, 0, 0, "h.hdd", 0, err,
						     sizeof(err)), 0);
		assert_int_equal(d->disks[1].iface, cases[i].cdrom);
		assert_int_equal(d->video_memory, 32ull << 20);
		assert_int_equal(vmconf_validate(d, 0, err, sizeof(err)), 0);
	}
	free(d);
}

static void test_scalar_limits(void **state)
{
	(void)state;
	char err[256];

	assert_int_equal(vmconf_check_cpus(1, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_cpus(64, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_cpus(0, err, sizeof(err)), -1);
	assert_int_equal(vmconf_check_cpus(65, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "65 CPUs"));

	assert_int_equal(vmconf_check_memory(1ull << 40, HOST_2T, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_memory((1ull << 40) + 4096, HOST_2T, err, sizeof(err)), -1);
	assert_int_equal(vmconf_check_memory(16ull << 20, HOST_2T, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_memory((16ull << 20) - 4096, HOST_2T, err, sizeof(err)), -1);
	assert_int_equal(vmconf_check_memory((1ull << 30) + 1, HOST_2T, err, sizeof(err)), -1);
	/* The host's RAM is a bound too. */
	assert_int_equal(vmconf_check_memory(4ull << 30, 4ull << 30, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_memory((4ull << 30) + 4096, 4ull << 30, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than the host's RAM"));

	assert_int_equal(vmconf_check_video(256ull << 20, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_video(257ull << 20, err, sizeof(err)), -1);
	assert_int_equal(vmconf_check_video(1ull << 20, err, sizeof(err)), 0);

	assert_int_equal(vmconf_check_disk_size(100ull << 20, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_disk_size((100ull << 20) - 512, err, sizeof(err)), -1);
	assert_int_equal(vmconf_check_disk_size(16ull << 40, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_disk_size((16ull << 40) + 512, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "100M to 16T"));
}

static void test_device_count_limits(void **state)
{
	(void)state;
	static const struct {
		enum vm_disk_if iface;
		bool cdrom;
		unsigned max;
	} buses[] = {
		{ VM_IF_IDE, false, 4 }, { VM_IF_IDE, true, 4 }, { VM_IF_VIRTIO_SCSI, false, 15 },
		{ VM_IF_VIRTIO_SCSI, true, 15 }, { VM_IF_VIRTIO_BLK, false, 15 },
	};
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[256];

	for (size_t b = 0; b < sizeof(buses) / sizeof(buses[0]); b++) {
		memset(d, 0, sizeof(*d));
		for (unsigned i = 0; i < buses[b].max; i++) {
			assert_int_equal(vmconf_check_add_disk(d, buses[b].cdrom, buses[b].iface, err,
							       sizeof(err)), 0);
			d->disks[d->ndisks++] = (struct vm_disk){ .iface = buses[b].iface };
		}
		assert_int_equal(vmconf_check_add_disk(d, buses[b].cdrom, buses[b].iface, err,
						       sizeof(err)), -1);
		assert_non_null(strstr(err, vm_disk_if_name(buses[b].iface)));
	}
	memset(d, 0, sizeof(*d));
	assert_int_equal(vmconf_check_add_disk(d, true, VM_IF_VIRTIO_BLK, err, sizeof(err)), -1);

	for (unsigned i = 0; i < 15; i++, d->nnets++)
		assert_int_equal(vmconf_check_add_net(d, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_add_net(d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "15 network adapters"));
	for (unsigned i = 0; i < 4; i++, d->nserials++)
		assert_int_equal(vmconf_check_add_serial(d, err, sizeof(err)), 0);
	assert_int_equal(vmconf_check_add_serial(d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4 serial ports"));
	free(d);
}

/* A config with BODY inside <vm> after identity; the identity is lines
 * 2-5, so BODY starts on line 6. */
static int parse_body(const char *body, uint64_t host, struct vm_def *d, char *err, size_t len)
{
	char xml[16384];
	snprintf(xml, sizeof(xml),
		 "<vm version=\"1\">\n"
		 "<identity>\n"
		 "<uuid>0c6e2a5c-3f0b-4f6e-9d7a-1b2c3d4e5f60</uuid>\n"
		 "<name>t</name>\n"
		 "</identity>\n"
		 "%s"
		 "</vm>\n", body);
	return vmconf_parse(xml, strlen(xml), "config.pvs", host, d, err, len);
}

static void expect_error(const char *body, uint64_t host, const char *want)
{
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[1024];
	assert_int_equal(parse_body(body, host, d, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	free(d);
}

static void expect_ok(const char *body, uint64_t host)
{
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[1024];
	if (parse_body(body, host, d, err, sizeof(err)) < 0)
		fail_msg("refused: %s", err);
	free(d);
}

static void test_bad_fields_name_line_and_field(void **state)
{
	(void)state;
	expect_ok("<cpus>64</cpus>\n<memory>1T</memory>\n", HOST_2T);
	expect_error("<cpus>2</cpus>\n\n\n\n\n\n<memory>12X</memory>\n", 0,
		     "config.pvs:12: <memory>: '12X' is not a size");
	expect_error("<cpus>65</cpus>\n<memory>1G</memory>\n", 0, "config.pvs:6: <cpus>: 65 CPUs");
	expect_error("<cpus>0</cpus>\n<memory>1G</memory>\n", 0, "config.pvs:6: <cpus>: 0 CPUs");
	expect_error("<cpus>two</cpus>\n<memory>1G</memory>\n", 0,
		     "config.pvs:6: <cpus>: 'two' is not a number");
	expect_error("<cpus>1</cpus>\n<memory>1025G</memory>\n", HOST_2T,
		     "config.pvs:7: <memory>: 1025G: a VM has 16M to 1T");
	expect_error("<cpus>1</cpus>\n<memory>2G</memory>\n", 1ull << 30,
		     "config.pvs:7: <memory>: 2G is more than the host's RAM");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n"
		     "<video><memory>257M</memory></video>\n</devices>\n", 0,
		     "config.pvs:9: <memory>: 257M: video memory is 1M to 256M");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<hdd>\n"
		     "<image>a.hdd</image>\n<size>99M</size>\n</hdd>\n</devices>\n", 0,
		     "config.pvs:11: <size>: 99M: a hard disk is 100M to 16T");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<hdd>\n"
		     "<image>a.hdd</image>\n<size>17T</size>\n</hdd>\n</devices>\n", 0,
		     "config.pvs:11: <size>: 17T");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<hdd>\n"
		     "<image>a.hdd</image>\n<interface>scsi</interface>\n<size>1G</size>\n"
		     "</hdd>\n</devices>\n", 0,
		     "config.pvs:11: <interface>: 'scsi': expected virtio-scsi, virtio-blk or ide");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<net>\n"
		     "<bridge>br0</bridge>\n<mac>01:00:00:00:00:01</mac>\n</net>\n</devices>\n", 0,
		     "config.pvs:11: <mac>: 01:00:00:00:00:01 is a multicast address");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<net>\n"
		     "<mac>52:00:00:00:00:01</mac>\n</net>\n</devices>\n", 0,
		     "config.pvs:9: <net>: <bridge>, <tap> or <stream> is missing");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<colour>red</colour>\n", 0,
		     "config.pvs:8: <colour>: unknown element in <vm>");
	expect_error("<cpus>1</cpus>\n<cpus>2</cpus>\n<memory>1G</memory>\n", 0,
		     "config.pvs:7: <cpus>: given twice");
	expect_error("<cpus>1</cpus>\n", 0, "config.pvs:1: <vm>: <memory> is missing");
	expect_error("<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n<serial/>\n</devices>\n",
		     0, "config.pvs:9: <serial>: <output> or <socket> is missing");
}

static void test_device_counts_in_file(void **state)
{
	(void)state;
	char body[16384];
	size_t l;

	/* 15 adapters load; a 16th is refused at its own line (6 + 2 + 16). */
	l = (size_t)snprintf(body, sizeof(body), "<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n");
	for (int i = 0; i < 15; i++)
		l += (size_t)snprintf(body + l, sizeof(body) - l,
				      "<net><bridge>br0</bridge><mac>52:00:00:00:00:%02x</mac></net>\n",
				      i);
	snprintf(body + l, sizeof(body) - l, "</devices>\n");
	expect_ok(body, 0);
	l += (size_t)snprintf(body + l, sizeof(body) - l,
			      "<net><bridge>br0</bridge><mac>52:00:00:00:00:ff</mac></net>\n");
	snprintf(body + l, sizeof(body) - l, "</devices>\n");
	expect_error(body, 0, "config.pvs:24: <net>: at most 15 network adapters");

	/* 4 IDE devices (disks and drives) load; a 5th does not. */
	l = (size_t)snprintf(body, sizeof(body), "<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n");
	for (int i = 0; i < 4; i++)
		l += (size_t)snprintf(body + l, sizeof(body) - l, i % 2 ?
				      "<cdrom><interface>ide</interface></cdrom>\n" :
				      "<hdd><image>a</image><interface>ide</interface>"
				      "<size>1G</size></hdd>\n");
	snprintf(body + l, sizeof(body) - l, "</devices>\n");
	expect_ok(body, 0);
	l += (size_t)snprintf(body + l, sizeof(body) - l,
			      "<cdrom><interface>ide</interface></cdrom>\n");
	snprintf(body + l, sizeof(body) - l, "</devices>\n");
	expect_error(body, 0, "config.pvs:13: <cdrom>: at most 4 ide devices");

	/* 4 serial ports; a 5th. */
	l = (size_t)snprintf(body, sizeof(body), "<cpus>1</cpus>\n<memory>1G</memory>\n<devices>\n");
	for (int i = 0; i < 5; i++)
		l += (size_t)snprintf(body + l, sizeof(body) - l,
				      "<serial><output>s%d.txt</output></serial>\n", i);
	snprintf(body + l, sizeof(body) - l, "</devices>\n");
	expect_error(body, 0, "config.pvs:13: <serial>: at most 4 serial ports");
}

static void test_broken_xml(void **state)
{
	(void)state;
	struct vm_def *d = calloc(1, sizeof(*d));
	char err[1024];
	const char *xml = "<vm version=\"1\">\n<cpus>1</cpus>\n<memory>1G</memry>\n</vm>\n";

	assert_int_equal(vmconf_parse(xml, strlen(xml), "config.pvs", 0, d, err, sizeof(err)), -1);
	if (!strstr(err, "config.pvs:3: not well-formed XML"))
		fail_msg("error '%s'", err);
	xml = "<vm version=\"2\"></vm>";
	assert_int_equal(vmconf_parse(xml, strlen(xml), "config.pvs", 0, d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "config.pvs:1: <vm>: version '2'"));
	xml = "";
	assert_int_equal(vmconf_parse(xml, 0, "config.pvs", 0, d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "config.pvs"));
	free(d);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

static unsigned count_entries(const char *dir)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_atomic_write_keeps_old_file(void **state)
{
	(void)state;
	struct vm_def *d = full_def();
	char dir[512], path[600], before[8192], after[8192], err[1024];
	struct rlimit old, small = { 200, 200 };

	snprintf(dir, sizeof(dir), "%s/atomic", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/config.pvs", dir);
	assert_int_equal(vmconf_write(path, d, err, sizeof(err)), 0);
	read_file(path, before, sizeof(before));
	assert_true(strlen(before) > 200);

	/* A write that fails part-way (file size limit: EFBIG). */
	d->cpus = 8;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int rc = vmconf_write(path, d, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "config.pvs"));
	read_file(path, after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(count_entries(dir), 1); /* no temporary file left */

	/* An invalid definition is never written. */
	d->cpus = 65;
	assert_int_equal(vmconf_write(path, d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cpus"));
	read_file(path, after, sizeof(after));
	assert_string_equal(before, after);

	d->cpus = 8;
	assert_int_equal(vmconf_write(path, d, err, sizeof(err)), 0);
	read_file(path, after, sizeof(after));
	assert_non_null(strstr(after, "<cpus>8</cpus>"));
	assert_int_equal(count_entries(dir), 1);
	free(d);
}

static void test_lock(void **state)
{
	(void)state;
	char dir[512], err[512];

	snprintf(dir, sizeof(dir), "%s/locked", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_false(vmdir_is_locked(dir));
	int fd = vmdir_lock(dir, err, sizeof(err));
	assert_true(fd >= 0);
	assert_true(vmdir_is_locked(dir));
	assert_int_equal(vmdir_lock(dir, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, ".lock"));
	close(fd);
	assert_false(vmdir_is_locked(dir));
	fd = vmdir_lock(dir, err, sizeof(err));
	assert_true(fd >= 0);
	close(fd);
}

static void make_vm(const char *root, const char *name, struct vm_def *d)
{
	char dir[600], path[700], err[512];
	assert_int_equal(vm_def_init_default(d, name, VM_DIST_LINUX, 1, 1ull << 30, "h.hdd",
					     0, err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/%s", root, d->uuid);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/config.pvs", dir);
	assert_int_equal(vmconf_write(path, d, err, sizeof(err)), 0);
}

static void test_find_and_list(void **state)
{
	(void)state;
	struct vm_def *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char root[512], err[1024], path[700];
	struct vm_entry e, *list;
	unsigned n;

	snprintf(root, sizeof(root), "%s/root", tmpdir);
	assert_int_equal(vmdir_make_root(root, err, sizeof(err)), 0);
	make_vm(root, "zeta", a);
	make_vm(root, "alpha", b);
	assert_int_equal(vmdir_find(root, "zeta", false, &e, err, sizeof(err)), 0);
	assert_string_equal(e.def->uuid, a->uuid);
	vmdir_entry_free(&e);
	assert_int_equal(vmdir_find(root, b->uuid, false, &e, err, sizeof(err)), 0);
	assert_string_equal(e.def->name, "alpha");
	vmdir_entry_free(&e);
	assert_int_equal(vmdir_find(root, "nobody", false, &e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no VM named 'nobody'"));

	assert_int_equal(vmdir_list(root, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].def->name, "alpha");
	assert_string_equal(list[1].def->name, "zeta");
	vmdir_list_free(list, n);

	/* A broken config: listed last with its error; found by UUID only
	 * when allowed (for delete). */
	snprintf(path, sizeof(path), "%s/%s/config.pvs", root, a->uuid);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("<vm version=\"1\"><cpus>1</cpus>", f);
	fclose(f);
	assert_int_equal(vmdir_list(root, &list, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_null(list[1].def);
	assert_non_null(strstr(list[1].error, "config.pvs:1"));
	vmdir_list_free(list, n);
	assert_int_equal(vmdir_find(root, a->uuid, false, &e, err, sizeof(err)), -1);
	assert_int_equal(vmdir_find(root, a->uuid, true, &e, err, sizeof(err)), 0);
	assert_null(e.def);
	assert_int_equal(vmdir_remove(e.dir, err, sizeof(err)), 0);
	assert_int_equal(vmdir_find(root, a->uuid, true, &e, err, sizeof(err)), -1);
	free(a);
	free(b);
}

static void test_root_choice(void **state)
{
	(void)state;
	char root[512], err[256];

	setenv("CELLVM_ROOT", "/env/root/", 1);
	assert_int_equal(vmdir_root("/opt/root", root, sizeof(root), err, sizeof(err)), 0);
	assert_string_equal(root, "/opt/root");
	assert_int_equal(vmdir_root(NULL, root, sizeof(root), err, sizeof(err)), 0);
	assert_string_equal(root, "/env/root");
	unsetenv("CELLVM_ROOT");
	assert_int_equal(vmdir_root(NULL, root, sizeof(root), err, sizeof(err)), 0);
	if (getuid() == 0)
		assert_string_equal(root, "/vz/vmprivate");
	else
		assert_non_null(strstr(root, "/cellvm/vmprivate"));
}

static char notes[1024];
static void note(void *ctx, const char *line)
{
	(void)ctx;
	strncat(notes, line, sizeof(notes) - strlen(notes) - 2);
	strcat(notes, "\n");
}

static void test_run_argv(void **state)
{
	(void)state;
	struct vm_def *d = full_def();
	char **argv, err[512];
	int argc;

	/* An own MAC for a predictable net0. */
	snprintf(d->nets[0].mac, sizeof(d->nets[0].mac), "52:00:00:00:00:aa");
	d->memory = 1ull << 30;
	notes[0] = 0;
	assert_int_equal(vmconf_run_argv(d, "/vm", &argv, &argc, note, NULL, err, sizeof(err)), 0);
	const char *want[] = {
		"--kernel", "/boot/vmlinuz", "--initrd", "/vm/initrd.img",
		"--cmdline", "console=ttyS0 root=/dev/sda1 x=\"a<b>&c\"",
		"--cpus", "4", "--memory", "1G",
		"--disk", "/vm/harddisk.hdd,if=virtio-scsi,media=disk",
		"--disk", "/srv/big.hdd,if=virtio-blk,media=disk",
		"--disk", "/vm/debian.iso,if=virtio-scsi,media=cdrom,readonly",
		"--net", "bridge=br0,mac=52:00:00:00:00:aa",
		"--net", "tap=tap7,mac=52:54:00:12:34:56",
		"--net", "stream=/run/link,mac=02:00:00:00:00:01",
		"--serial", "file:/vm/serial0.txt",
		"--serial", "unix:/run/vm.sock,server",
		"--name", "web & <db> \"1\"", "--uuid", d->uuid,
	};
	assert_int_equal(argc, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < argc; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[argc]);
	/* The IDE CD-ROM of a debian VM is left out, and said so. */
	assert_non_null(strstr(notes, "cdrom0: left out: the ide interface is not available yet"));
	vmconf_argv_free(argv);

	d->kernel[0] = 0;
	assert_int_equal(vmconf_run_argv(d, "/vm", &argv, &argc, NULL, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no kernel"));
	assert_null(argv);
	free(d);
}

static void test_sizes(void **state)
{
	(void)state;
	uint64_t v;
	char s[32];
	assert_int_equal(vmconf_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(vmconf_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(vmconf_parse_size("12X", &v), -1);
	assert_int_equal(vmconf_parse_size("-1G", &v), -1);
	assert_int_equal(vmconf_parse_size("", &v), -1);
	assert_int_equal(vmconf_parse_size("99999999999T", &v), -1);
	vmconf_format_size(1536ull << 20, s, sizeof(s));
	assert_string_equal(s, "1536M");
	vmconf_format_size(1ull << 40, s, sizeof(s));
	assert_string_equal(s, "1T");
	vmconf_format_size(4095, s, sizeof(s));
	assert_string_equal(s, "4095");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_default_cdrom_per_distribution),
		cmocka_unit_test(test_scalar_limits),
		cmocka_unit_test(test_device_count_limits),
		cmocka_unit_test(test_bad_fields_name_line_and_field),
		cmocka_unit_test(test_device_counts_in_file),
		cmocka_unit_test(test_broken_xml),
		cmocka_unit_test(test_atomic_write_keeps_old_file),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_find_and_list),
		cmocka_unit_test(test_root_choice),
		cmocka_unit_test(test_run_argv),
		cmocka_unit_test(test_sizes),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
