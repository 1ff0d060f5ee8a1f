/* Unit tests of the Linux loader (vmm-core/boot.c): bzImage checks, where the
 * kernel, command line, initrd, zero page, e820 map and GDT land in guest
 * memory.  The bzImages are synthetic, built here; one test also reads a
 * real kernel when there is one (CELLVM_TEST_KERNEL, /boot/vmlinuz-*, or a
 * Debian package unpacked under /tmp) and skips only itself otherwise. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "vmm-core/boot.h"
#include "vmm-core/layout.h"

/* Offsets from boot.rst / zero-page.rst, spelled out here so that the tests
 * do not depend on the loader's private names. */
#define O_SETUP_SECTS 0x1f1
#define O_ROOT_FLAGS 0x1f2
#define O_SYSSIZE 0x1f4
#define O_VID_MODE 0x1fa
#define O_BOOT_FLAG 0x1fe
#define O_JUMP 0x200
#define O_HDRS 0x202
#define O_VERSION 0x206
#define O_KERNEL_VERSION 0x20e
#define O_TYPE_OF_LOADER 0x210
#define O_LOADFLAGS 0x211
#define O_CODE32_START 0x214
#define O_RAMDISK_IMAGE 0x218
#define O_RAMDISK_SIZE 0x21c
#define O_HEAP_END_PTR 0x224
#define O_CMD_LINE_PTR 0x228
#define O_INITRD_ADDR_MAX 0x22c
#define O_KERNEL_ALIGNMENT 0x230
#define O_RELOCATABLE 0x234
#define O_MIN_ALIGNMENT 0x235
#define O_XLOADFLAGS 0x236
#define O_CMDLINE_SIZE 0x238
#define O_HARDWARE_SUBARCH 0x23c
#define O_SETUP_DATA 0x250
#define O_PREF_ADDRESS 0x258
#define O_INIT_SIZE 0x260
#define O_HANDOVER 0x264
#define HDR_END 0x26c /* what 2.15 kernels say (jump 0xeb 0x6a) */

#define Z_ACPI_RSDP 0x070
#define Z_EXT_RAMDISK_IMAGE 0x0c0
#define Z_EXT_RAMDISK_SIZE 0x0c4
#define Z_EXT_CMD_LINE_PTR 0x0c8
#define Z_E820_ENTRIES 0x1e8
#define Z_E820_TABLE 0x2d0

#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}
static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/* The recognizable payload byte at offset i of the protected-mode part. */
static uint8_t payload_byte(size_t i)
{
	return (uint8_t)((i * 131) ^ (i >> 8) ^ 0x5a);
}

static uint8_t initrd_byte(size_t i)
{
	return (uint8_t)((i * 17) ^ (i >> 12) ^ 0xc3);
}

/* --- synthetic bzImages ---------------------------------------------------- */
struct kspec {
	uint8_t setup_sects; /* as written (0 means 4) */
	uint16_t version;
	uint8_t loadflags;
	size_t payload;      /* protected-mode bytes */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint64_t pref_address;
	uint32_t init_size;
};

static struct kspec kdefault(void)
{
	return (struct kspec){
		.setup_sects = 0x1f,
		.version = 0x020f,
		.loadflags = 0x01,
		.payload = 300 * 1024 + 77,
		.initrd_addr_max = 0x7fffffff,
		.cmdline_size = 2047,
		.kernel_alignment = 0x200000,
		.relocatable = 1,
		.pref_address = 0x1000000,
		.init_size = 8 * MIB,
	};
}

static size_t setup_bytes_of(uint8_t sects)
{
	return ((size_t)(sects ? sects : 4) + 1) * 512;
}

/* A bzImage: boot sector and setup area with a valid header (and junk in
 * the rest of the setup area, which must not be loaded), then the payload. */
static uint8_t *make_kernel(const struct kspec *k, size_t *len)
{
	size_t sb = setup_bytes_of(k->setup_sects);
	uint8_t *b;

	*len = sb + k->payload;
	b = malloc(*len);
	assert_non_null(b);
	for (size_t i = 0; i < sb; i++)
		b[i] = 0xee;
	memset(b + 0x1f1, 0, 0x300 - 0x1f1);
	b[O_SETUP_SECTS] = k->setup_sects;
	wr16(b + O_ROOT_FLAGS, 1);
	wr32(b + O_SYSSIZE, (uint32_t)(k->payload / 16)); /* the file may be longer */
	wr16(b + O_VID_MODE, 0x0f01); /* loader must overwrite */
	wr16(b + O_BOOT_FLAG, 0xaa55);
	b[O_JUMP] = 0xeb;
	b[O_JUMP + 1] = HDR_END - 0x202;
	memcpy(b + O_HDRS, "HdrS", 4);
	wr16(b + O_VERSION, k->version);
	wr16(b + O_KERNEL_VERSION, 0x3c00);
	b[O_TYPE_OF_LOADER] = 0x42;
	b[O_LOADFLAGS] = k->loadflags | 0x20 | 0x40; /* QUIET and KEEP_SEGMENTS to be cleared */
	wr32(b + O_CODE32_START, 0x100000);
	wr32(b + O_RAMDISK_IMAGE, 0xdeadbeef);
	wr32(b + O_RAMDISK_SIZE, 0xdeadbeef);
	wr32(b + O_CMD_LINE_PTR, 0x12345678);
	wr32(b + O_INITRD_ADDR_MAX, k->initrd_addr_max);
	wr32(b + O_KERNEL_ALIGNMENT, k->kernel_alignment);
	b[O_RELOCATABLE] = k->relocatable;
	b[O_MIN_ALIGNMENT] = 21;
	wr16(b + O_XLOADFLAGS, 0x7f);
	wr32(b + O_CMDLINE_SIZE, k->cmdline_size);
	wr32(b + O_HARDWARE_SUBARCH, 7);
	wr64(b + O_SETUP_DATA, 0x1122334455667788ull);
	wr64(b + O_PREF_ADDRESS, k->pref_address);
	wr32(b + O_INIT_SIZE, k->init_size);
	wr32(b + O_HANDOVER, 0x190);
	for (size_t i = HDR_END; i < 0x300; i++)
		b[i] = 0xa5; /* after the header's end: must not be copied */
	for (size_t i = 0; i < k->payload; i++)
		b[sb + i] = payload_byte(i);
	return b;
}

static uint8_t *make_initrd(size_t len)
{
	uint8_t *r = malloc(len);

	assert_non_null(r);
	for (size_t i = 0; i < len; i++)
		r[i] = initrd_byte(i);
	return r;
}

/* Guest low memory: reserved, not allocated; costs only what is touched. */
struct guest {
	uint8_t *low;
	size_t len;
};

static struct guest guest_new(uint64_t mem_size)
{
	struct guest g = {.len = guest_low_ram(mem_size)};
	void *p = mmap(NULL, g.len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	g.low = p;
	return g;
}

static void guest_free(struct guest *g)
{
	munmap(g->low, g->len);
}

static int load(struct guest *g, const uint8_t *k, size_t klen, const uint8_t *rd, size_t rdlen,
		const char *cmd, uint64_t mem, uint64_t rsdp, struct boot_entry *out, char *err)
{
	struct boot_input in = {
		.kernel = k,
		.kernel_len = klen,
		.initrd = rd,
		.initrd_len = rdlen,
		.cmdline = cmd,
		.mem_size = mem,
		.rsdp_addr = rsdp,
	};

	memset(out, 0x77, sizeof(*out));
	err[0] = 0;
	return boot_load_linux(g->low, &in, out, err, 256);
}

#define assert_err_has(err, s)                                                   \
	do {                                                                     \
		if (!strstr((err), (s)))                                         \
			fail_msg("error \"%s\" does not say \"%s\"", (err), (s)); \
	} while (0)

/* --- bzimage_parse ------------------------------------------------------- */
static void test_parse_good(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct bzimage_info bi;
	char err[256] = "";

	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.version, 0x020f);
	assert_int_equal(bi.setup_bytes, 0x20 * 512);
	assert_int_equal(bi.kernel_bytes, k.payload);
	assert_int_equal(bi.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bi.cmdline_size, 2047);
	assert_int_equal(bi.init_size, 8 * MIB);
	assert_true(bi.relocatable);
	assert_int_equal(bi.kernel_alignment, 0x200000);

	/* Before 2.10 there is no init_size. */
	img[O_VERSION] = 0x09;
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.init_size, 0);
	img[O_RELOCATABLE] = 0;
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_false(bi.relocatable);
	free(img);
}

static void test_parse_no_signature(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct bzimage_info bi;
	char err[256] = "";

	img[O_BOOT_FLAG] = 0;
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_string_equal(err, "not a bzImage: no boot signature 0xAA55 at 0x1fe");
	free(img);
}

static void test_parse_no_hdrs(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct bzimage_info bi;
	char err[256] = "";

	img[O_HDRS + 3] = 's';
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_err_has(err, "not a bzImage: no HdrS");
	free(img);
}

static void test_parse_old_version(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct bzimage_info bi;
	char err[256] = "";

	k.version = 0x0204;
	img = make_kernel(&k, &len);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_string_equal(err, "boot protocol 2.04 too old (need 2.06)");
	wr16(img + O_VERSION, 0x0205);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_string_equal(err, "boot protocol 2.05 too old (need 2.06)");
	wr16(img + O_VERSION, 0x0206);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	free(img);
}

static void test_parse_not_loaded_high(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct bzimage_info bi;
	char err[256] = "";

	k.loadflags = 0;
	img = make_kernel(&k, &len);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_err_has(err, "LOADED_HIGH");
	free(img);
}

static void test_parse_truncated(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct bzimage_info bi;
	char err[256] = "", want[256];
	size_t whole = 0x20 * 512 + (k.payload + 15) / 16 * 16;

	/* syssize rounded up to 16 bytes: the file is 3 bytes short of it. */
	wr32(img + O_SYSSIZE, (uint32_t)((k.payload + 15) / 16));
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "kernel file truncated: setup says %zu bytes, file has %zu",
		 whole, len);
	assert_string_equal(err, want);
	/* Exactly syssize is fine; so is more (a signature appended). */
	wr32(img + O_SYSSIZE, (uint32_t)(k.payload / 16));
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.kernel_bytes, k.payload);
	/* Cut into the payload. */
	assert_int_equal(bzimage_parse(img, len - 100, &bi, err, sizeof(err)), -1);
	assert_err_has(err, "kernel file truncated");
	/* Without syssize: nothing after the setup is truncated too. */
	wr32(img + O_SYSSIZE, 0);
	assert_int_equal(bzimage_parse(img, 0x20 * 512, &bi, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "kernel file truncated: setup says %d bytes, file has %d",
		 0x20 * 512 + 1, 0x20 * 512);
	assert_string_equal(err, want);
	assert_int_equal(bzimage_parse(img, 0x20 * 512 + 1, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.kernel_bytes, 1);
	/* Every shorter prefix is refused, none read out of bounds (ASan). */
	for (size_t n = 0; n <= 0x20 * 512; n++) {
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, img, n);
		assert_int_equal(bzimage_parse(cut, n, &bi, err, sizeof(err)), -1);
		free(cut);
	}
	free(img);
}

static void test_parse_setup_sects_zero_means_4(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct bzimage_info bi;
	char err[256] = "";

	k.setup_sects = 0;
	k.payload = 4096;
	img = make_kernel(&k, &len);
	assert_int_equal(len, 5 * 512 + 4096);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.setup_bytes, 5 * 512);
	assert_int_equal(bi.kernel_bytes, 4096);
	free(img);
}

static void test_parse_huge_setup_sects(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct bzimage_info bi;
	char err[256] = "";

	k.payload = 4096;
	img = make_kernel(&k, &len);
	img[O_SETUP_SECTS] = 0xff; /* 128 KiB of setup, file is ~20 KiB */
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_err_has(err, "kernel file truncated: setup says");
	/* setup exactly the file, nothing after it */
	wr32(img + O_SYSSIZE, 0);
	img[O_SETUP_SECTS] = (uint8_t)(len / 512 - 1);
	assert_int_equal(bzimage_parse(img, len, &bi, err, sizeof(err)), -1);
	assert_err_has(err, "kernel file truncated");
	free(img);
}

static void test_parse_tiny(void **state)
{
	(void)state;
	struct bzimage_info bi;
	char err[256] = "";
	uint8_t z[16] = {0};

	assert_int_equal(bzimage_parse(z, sizeof(z), &bi, err, sizeof(err)), -1);
	assert_err_has(err, "not a bzImage");
	assert_int_equal(bzimage_parse(NULL, 0, &bi, err, sizeof(err)), -1);
	/* no error buffer: still refused, nothing written */
	assert_int_equal(bzimage_parse(z, sizeof(z), &bi, NULL, 0), -1);
}

/* --- boot_load_linux ----------------------------------------------------- */
static void test_load_kernel_and_cmdline(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	const char *cmd = "console=ttyS0 root=/dev/vda rw";

	/* junk where the command line and the zero page go */
	memset(g.low + GUEST_CMDLINE_ADDR, 'x', 4096);
	memset(g.low + GUEST_ZERO_PAGE, 0xcc, 4096);
	assert_int_equal(load(&g, img, len, NULL, 0, cmd, 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.entry, 0x100000);
	assert_int_equal(out.zero_page, 0x7000);
	assert_int_equal(out.gdt, 0x500);
	assert_int_equal(out.initrd_addr, 0);

	/* payload byte-exact at 1 MiB, nothing of the setup area loaded */
	for (size_t i = 0; i < k.payload; i++)
		if (g.low[0x100000 + i] != payload_byte(i))
			fail_msg("payload byte %zu differs", i);
	assert_int_equal(g.low[0x100000 + k.payload], 0);
	assert_int_equal(g.low[0x100000 - 1], 0);

	/* the command line, NUL-terminated */
	assert_string_equal((char *)g.low + 0x20000, cmd);
	assert_int_equal(g.low[0x20000 + strlen(cmd)], 0);
	assert_int_equal(rd32(g.low + 0x7000 + O_CMD_LINE_PTR), 0x20000);
	assert_int_equal(rd32(g.low + 0x7000 + Z_EXT_CMD_LINE_PTR), 0);
	assert_int_equal(rd32(g.low + 0x7000 + O_RAMDISK_IMAGE), 0);
	assert_int_equal(rd32(g.low + 0x7000 + O_RAMDISK_SIZE), 0);

	/* NULL command line: an empty one */
	assert_int_equal(load(&g, img, len, NULL, 0, NULL, 64 * MIB, 0, &out, err), 0);
	assert_int_equal(g.low[0x20000], 0);
	guest_free(&g);
	free(img);
}

static void test_load_cmdline_limits(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	char *cmd = malloc(70000);

	k.cmdline_size = 100;
	img = make_kernel(&k, &len);
	memset(cmd, 'a', 70000);
	cmd[100] = 0;
	assert_int_equal(load(&g, img, len, NULL, 0, cmd, 64 * MIB, 0, &out, err), 0);
	assert_int_equal(strlen((char *)g.low + 0x20000), 100);
	cmd[100] = 'a';
	cmd[101] = 0;
	assert_int_equal(load(&g, img, len, NULL, 0, cmd, 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "command line of 101 bytes too long");

	/* A kernel that takes more than 64 KiB is held to 64 KiB - 1. */
	wr32(img + O_CMDLINE_SIZE, 0xffffffff);
	memset(cmd, 'b', 70000);
	cmd[65535] = 0;
	memset(g.low + 0x20000 + 65535, 0x99, 1);
	assert_int_equal(load(&g, img, len, NULL, 0, cmd, 64 * MIB, 0, &out, err), 0);
	assert_int_equal(g.low[0x20000 + 65534], 'b');
	assert_int_equal(g.low[0x20000 + 65535], 0);
	cmd[65535] = 'b';
	cmd[65536] = 0;
	assert_int_equal(load(&g, img, len, NULL, 0, cmd, 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "too long");
	free(cmd);
	guest_free(&g);
	free(img);
}

static void test_load_zero_page_header(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	const uint8_t *zp;

	memset(g.low + GUEST_ZERO_PAGE, 0xcc, 4096);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), 0);
	zp = g.low + 0x7000;

	/* zeroed outside the header and the e820 table */
	for (size_t i = 0; i < 0x1f1; i++)
		if (i != Z_E820_ENTRIES && zp[i])
			fail_msg("zero page byte 0x%zx is 0x%02x", i, zp[i]);
	for (size_t i = HDR_END; i < Z_E820_TABLE; i++)
		if (zp[i])
			fail_msg("zero page byte 0x%zx past the header is 0x%02x", i, zp[i]);
	for (size_t i = Z_E820_TABLE + 4 * 20; i < 4096; i++)
		if (zp[i])
			fail_msg("zero page byte 0x%zx past e820 is 0x%02x", i, zp[i]);

	/* the header copied, except the fields a loader writes */
	for (size_t i = 0x1f1; i < HDR_END; i++) {
		bool loader_field =
			(i >= O_VID_MODE && i < O_VID_MODE + 2) || i == O_TYPE_OF_LOADER ||
			i == O_LOADFLAGS || (i >= O_RAMDISK_IMAGE && i < O_RAMDISK_SIZE + 4) ||
			(i >= O_HEAP_END_PTR && i < O_HEAP_END_PTR + 2) ||
			(i >= O_CMD_LINE_PTR && i < O_CMD_LINE_PTR + 4) ||
			(i >= O_HARDWARE_SUBARCH && i < O_HARDWARE_SUBARCH + 4) ||
			(i >= O_SETUP_DATA && i < O_SETUP_DATA + 8);
		if (!loader_field && zp[i] != img[i])
			fail_msg("header byte 0x%zx: 0x%02x, image has 0x%02x", i, zp[i], img[i]);
	}
	assert_memory_equal(zp + O_HDRS, "HdrS", 4);
	assert_int_equal(rd16(zp + O_VERSION), 0x020f);
	assert_int_equal(rd32(zp + O_INIT_SIZE), 8 * MIB);
	assert_int_equal(rd32(zp + O_KERNEL_ALIGNMENT), 0x200000);

	/* the loader's fields */
	assert_int_equal(zp[O_TYPE_OF_LOADER], 0xff);
	assert_int_equal(zp[O_LOADFLAGS], 0x01 | 0x80); /* LOADED_HIGH | CAN_USE_HEAP */
	assert_int_equal(rd16(zp + O_HEAP_END_PTR), 0xfe00);
	assert_int_equal(rd16(zp + O_VID_MODE), 0xffff);
	assert_int_equal(rd32(zp + O_CMD_LINE_PTR), 0x20000);
	assert_int_equal(rd32(zp + O_HARDWARE_SUBARCH), 0);
	assert_int_equal(rd64(zp + O_SETUP_DATA), 0);

	/* A header that says it is shorter is copied only that far. */
	img[O_JUMP + 1] = 0x40; /* ends at 0x242 */
	memset(g.low + GUEST_ZERO_PAGE, 0xcc, 4096);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(rd32(zp + O_CMDLINE_SIZE), 2047);
	assert_int_equal(rd64(zp + O_PREF_ADDRESS), 0);
	assert_int_equal(rd32(zp + O_INIT_SIZE), 0);
	/* A negative length: the signature and nothing after it. */
	img[O_JUMP + 1] = 0x80;
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(rd16(zp + O_BOOT_FLAG), 0xaa55);
	assert_int_equal(rd32(zp + O_HDRS), 0);
	assert_int_equal(rd16(zp + O_VERSION), 0);
	guest_free(&g);
	free(img);
}

static void test_load_gdt(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	static const uint8_t want[32] = {
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
		0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
	};

	memset(g.low + 0x500, 0xcc, 64);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), 0);
	assert_memory_equal(g.low + out.gdt, want, sizeof(want));
	assert_int_equal(rd64(g.low + 0x510), 0x00cf9a000000ffffull);
	assert_int_equal(rd64(g.low + 0x518), 0x00cf92000000ffffull);
	assert_int_equal(g.low[0x520], 0xcc); /* 4 entries, no more */
	guest_free(&g);
	free(img);
}

/* Loads an initrd of rdlen into a guest of mem bytes; checks it is where
 * want_addr says and byte-exact, with the zero page pointing at it. */
static void check_initrd_at(const struct kspec *k, uint64_t mem, size_t rdlen, uint64_t want_addr)
{
	size_t len;
	uint8_t *img = make_kernel(k, &len);
	uint8_t *rd = make_initrd(rdlen);
	struct guest g = guest_new(mem);
	struct boot_entry out;
	char err[256];
	const uint8_t *zp = g.low + 0x7000;

	if (load(&g, img, len, rd, rdlen, "quiet", mem, 0, &out, err) != 0)
		fail_msg("load into %llu MiB: %s", (unsigned long long)(mem / MIB), err);
	assert_int_equal(out.initrd_addr, want_addr);
	assert_int_equal(out.initrd_addr % 4096, 0);
	assert_true(out.initrd_addr + rdlen - 1 <= k->initrd_addr_max);
	assert_true(out.initrd_addr + rdlen <= guest_low_ram(mem));
	assert_int_equal(memcmp(g.low + out.initrd_addr, rd, rdlen), 0);
	assert_int_equal(rd32(zp + O_RAMDISK_IMAGE), want_addr);
	assert_int_equal(rd32(zp + O_RAMDISK_SIZE), rdlen);
	assert_int_equal(rd32(zp + Z_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(rd32(zp + Z_EXT_RAMDISK_SIZE), 0);
	/* the kernel is still intact below it */
	assert_int_equal(g.low[0x100000], payload_byte(0));
	assert_int_equal(g.low[0x100000 + k->payload - 1], payload_byte(k->payload - 1));
	guest_free(&g);
	free(rd);
	free(img);
}

static uint64_t highest(uint64_t limit_end, size_t rdlen)
{
	return (limit_end - rdlen) & ~4095ull;
}

static void test_initrd_64m(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t rdlen = 3 * MIB + 12345;

	check_initrd_at(&k, 64 * MIB, rdlen, highest(64 * MIB, rdlen));
	/* already page-sized: flush with the end of RAM */
	check_initrd_at(&k, 64 * MIB, 2 * MIB, 62 * MIB);
}

static void test_initrd_512m(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t rdlen = 5 * MIB + 1;

	check_initrd_at(&k, 512 * MIB, rdlen, highest(512 * MIB, rdlen));
	/* initrd_addr_max below RAM's end wins (the pre-2.03 default) */
	k.initrd_addr_max = 0x0fffffff;
	check_initrd_at(&k, 512 * MIB, rdlen, highest(256 * MIB, rdlen));
	/* initrd_addr_max is inclusive and need not end a page */
	k.initrd_addr_max = 0x0ffff7ff;
	check_initrd_at(&k, 512 * MIB, 8192, 0x0fffd000);
}

static void test_initrd_2g(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t rdlen = 1 * MIB + 999;

	/* initrd_addr_max 0x7fffffff and RAM's end are both 2 GiB */
	check_initrd_at(&k, 2 * GIB, rdlen, highest(2 * GIB, rdlen));
	k.initrd_addr_max = 0x37ffffff;
	check_initrd_at(&k, 2 * GIB, rdlen, highest(0x38000000, rdlen));
}

static void test_initrd_5g(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t rdlen = 2 * MIB + 3;

	/* low RAM ends at 3 GiB; the kernel's limit (2 GiB) is lower */
	check_initrd_at(&k, 5 * GIB, rdlen, highest(2 * GIB, rdlen));
	/* a kernel that takes anything below 4 GiB: low RAM's end wins */
	k.initrd_addr_max = 0xffffffff;
	check_initrd_at(&k, 5 * GIB, rdlen, highest(3 * GIB, rdlen));
}

static void test_initrd_too_big(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	/* The kernel's area: runtime start max(1 MiB, pref 16 MiB) aligned to
	 * 2 MiB = 16 MiB, plus init_size 8 MiB = 24 MiB.  Room: 40 MiB. */
	size_t room = 40 * MIB;
	uint8_t *rd = make_initrd(room + 4096);

	assert_int_equal(load(&g, img, len, rd, room, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 24 * MIB);
	assert_int_equal(load(&g, img, len, rd, room + 1, "", 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "initrd of 41 MiB does not fit below 64 MiB");
	/* more than all of RAM */
	assert_int_equal(load(&g, img, len, rd, SIZE_MAX, "", 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "does not fit below 64 MiB");
	/* below initrd_addr_max, not RAM */
	wr32(img + O_INITRD_ADDR_MAX, 0x01ffffff);
	assert_int_equal(load(&g, img, len, rd, 8 * MIB + 1, "", 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "initrd of 9 MiB does not fit below 32 MiB");
	assert_int_equal(load(&g, img, len, rd, 8 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 24 * MIB);
	free(rd);
	guest_free(&g);
	free(img);
}

/* Old protocol (no pref_address, no init_size): the kernel's area is just
 * its loaded bytes from 1 MiB, and the initrd may go right above them. */
static void test_initrd_old_protocol_kernel_area(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct guest g = guest_new(16 * MIB);
	struct boot_entry out;
	char err[256];
	uint8_t *rd;

	k.version = 0x0206;
	k.payload = 1 * MIB;
	img = make_kernel(&k, &len);
	rd = make_initrd(14 * MIB + 1);
	assert_int_equal(load(&g, img, len, rd, 14 * MIB, "", 16 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 2 * MIB);
	assert_int_equal(load(&g, img, len, rd, 14 * MIB + 1, "", 16 * MIB, 0, &out, err), -1);
	assert_err_has(err, "does not fit below 16 MiB");
	free(rd);
	guest_free(&g);
	free(img);
}

/* A relocatable kernel without a preferred address runs from 1 MiB aligned
 * up to kernel_alignment; a non-relocatable one at pref_address. */
static void test_kernel_runtime_area(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	uint8_t *rd = make_initrd(64 * MIB);

	k.pref_address = 0;
	k.init_size = 10 * MIB;
	img = make_kernel(&k, &len);
	/* runtime start align_up(1 MiB, 2 MiB) = 2 MiB, end 12 MiB */
	assert_int_equal(load(&g, img, len, rd, 52 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 12 * MIB);
	assert_int_equal(load(&g, img, len, rd, 52 * MIB + 1, "", 64 * MIB, 0, &out, err), -1);
	/* not relocatable, pref 4 MiB: end 14 MiB */
	img[O_RELOCATABLE] = 0;
	wr64(img + O_PREF_ADDRESS, 4 * MIB);
	assert_int_equal(load(&g, img, len, rd, 50 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 14 * MIB);
	assert_int_equal(load(&g, img, len, rd, 50 * MIB + 1, "", 64 * MIB, 0, &out, err), -1);
	/* not relocatable and no pref: from 1 MiB, end 11 MiB */
	wr64(img + O_PREF_ADDRESS, 0);
	assert_int_equal(load(&g, img, len, rd, 53 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 11 * MIB);
	/* odd alignments do not upset it: 3 MiB -> start 3 MiB, end 13 MiB */
	img[O_RELOCATABLE] = 1;
	wr32(img + O_KERNEL_ALIGNMENT, 3 * MIB);
	assert_int_equal(load(&g, img, len, rd, 51 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 13 * MIB);
	wr32(img + O_KERNEL_ALIGNMENT, 0);
	assert_int_equal(load(&g, img, len, rd, 53 * MIB, "", 64 * MIB, 0, &out, err), 0);
	assert_int_equal(out.initrd_addr, 11 * MIB);
	free(rd);
	guest_free(&g);
	free(img);
}

static void test_kernel_too_big(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];

	/* init_size: 16 MiB + 48 MiB = 64 MiB fits exactly, one page more not */
	k.init_size = 48 * MIB;
	img = make_kernel(&k, &len);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), 0);
	wr32(img + O_INIT_SIZE, 48 * MIB + 4096);
	memset(g.low + 0x100000, 0, 4096);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), -1);
	assert_string_equal(err, "kernel needs 64 MiB from 1 MiB, the guest has 64 MiB");
	assert_int_equal(g.low[0x100000], 0); /* nothing written when refused */
	/* headers asking for the impossible: refused, not wrapped around */
	wr64(img + O_PREF_ADDRESS, UINT64_MAX);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "kernel needs");
	wr64(img + O_PREF_ADDRESS, UINT64_MAX - 4096);
	wr32(img + O_KERNEL_ALIGNMENT, 0xffffffff);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0, &out, err), -1);
	assert_err_has(err, "kernel needs");
	free(img);
	guest_free(&g);

	/* the loaded bytes alone (2.06: no init_size) */
	k = kdefault();
	k.version = 0x0206;
	k.payload = 15 * MIB;
	img = make_kernel(&k, &len);
	g = guest_new(16 * MIB);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 16 * MIB, 0, &out, err), 0);
	free(img);
	k.payload = 15 * MIB + 1;
	img = make_kernel(&k, &len);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 16 * MIB, 0, &out, err), -1);
	assert_string_equal(err, "kernel needs 16 MiB from 1 MiB, the guest has 16 MiB");
	/* guest memory outside what the layout supports */
	assert_int_equal(load(&g, img, len, NULL, 0, "", 8 * MIB, 0, &out, err), -1);
	assert_err_has(err, "guest memory");
	free(img);
	guest_free(&g);
}

static void test_acpi_rsdp(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];

	k.version = 0x020d;
	img = make_kernel(&k, &len);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0xe0000, &out, err), 0);
	assert_int_equal(rd64(g.low + 0x7000 + Z_ACPI_RSDP), 0);
	wr16(img + O_VERSION, 0x020e);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0xe0000, &out, err), 0);
	assert_int_equal(rd64(g.low + 0x7000 + Z_ACPI_RSDP), 0xe0000);
	wr16(img + O_VERSION, 0x020f);
	assert_int_equal(load(&g, img, len, NULL, 0, "", 64 * MIB, 0xf0010, &out, err), 0);
	assert_int_equal(rd64(g.low + 0x7000 + Z_ACPI_RSDP), 0xf0010);
	free(img);
	guest_free(&g);
}

struct e820 {
	uint64_t addr, size;
	uint32_t type;
};

static unsigned read_e820(const uint8_t *zp, struct e820 *e)
{
	unsigned n = zp[Z_E820_ENTRIES];

	for (unsigned i = 0; i < n && i < 128; i++) {
		const uint8_t *p = zp + Z_E820_TABLE + 20 * i;

		e[i] = (struct e820){rd64(p), rd64(p + 8), rd32(p + 16)};
	}
	return n;
}

static void check_e820(uint64_t mem)
{
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img;
	k.pref_address = 0; /* small enough for a 16 MiB guest */
	k.init_size = 4 * MIB;
	img = make_kernel(&k, &len);
	struct guest g = guest_new(mem);
	struct boot_entry out;
	char err[256];
	struct e820 e[128];
	uint64_t low = mem < 3 * GIB ? mem : 3 * GIB, ram = 0;
	const struct e820 want[5] = {
		{0, 0x9fc00, 1},
		{0x9fc00, 0x400, 2},
		{0xe0000, 0x20000, 2},
		{0x100000, low - 0x100000, 1},
		{4 * GIB, mem - 3 * GIB, 1},
	};
	unsigned n, nwant = mem > 3 * GIB ? 5 : 4;

	assert_int_equal(load(&g, img, len, NULL, 0, "", mem, 0, &out, err), 0);
	n = read_e820(g.low + 0x7000, e);
	assert_int_equal(n, nwant);
	for (unsigned i = 0; i < n; i++) {
		if (e[i].addr != want[i].addr || e[i].size != want[i].size ||
		    e[i].type != want[i].type)
			fail_msg("e820[%u] = [0x%llx +0x%llx) type %u, want [0x%llx +0x%llx) type %u",
				 i, (unsigned long long)e[i].addr, (unsigned long long)e[i].size,
				 e[i].type, (unsigned long long)want[i].addr,
				 (unsigned long long)want[i].size, want[i].type);
		if (e[i].type == 1)
			ram += e[i].size;
		if (i)
			assert_true(e[i].addr >= e[i - 1].addr + e[i - 1].size);
	}
	assert_int_equal(ram, mem - (0x100000 - 0x9fc00));
	free(img);
	guest_free(&g);
}

static void test_e820_small(void **state)
{
	(void)state;
	check_e820(64 * MIB);
	check_e820(16 * MIB);
	check_e820(3 * GIB); /* exactly 3 GiB: no high RAM */
}

static void test_e820_big(void **state)
{
	(void)state;
	check_e820(5 * GIB);
	check_e820(3 * GIB + 4096);
}

/* Random header damage: refused or loaded, never outside the buffers (the
 * sanitizer build is what catches the latter). */
static void test_load_corrupt_headers(void **state)
{
	(void)state;
	struct kspec k = kdefault();
	size_t len;
	uint8_t *img = make_kernel(&k, &len);
	uint8_t *copy = malloc(len);
	uint8_t *rd = make_initrd(64 * 1024);
	struct guest g = guest_new(64 * MIB);
	struct boot_entry out;
	char err[256];
	uint32_t s = 12345;
	int ok = 0;

	for (int it = 0; it < 3000; it++) {
		memcpy(copy, img, len);
		for (int j = 0; j < 4; j++) {
			s = s * 1103515245 + 12345;
			size_t off = 0x1f1 + (s >> 8) % (0x270 - 0x1f1);
			s = s * 1103515245 + 12345;
			copy[off] = (uint8_t)(s >> 16);
		}
		/* keep the signatures mostly intact so the loader gets far */
		if (it % 4) {
			wr16(copy + O_BOOT_FLAG, 0xaa55);
			memcpy(copy + O_HDRS, "HdrS", 4);
		}
		if (load(&g, copy, len, rd, 64 * 1024, "console=ttyS0", 64 * MIB, 0, &out, err) == 0) {
			ok++;
			assert_int_equal(out.entry, 0x100000);
			assert_true(out.initrd_addr >= 0x100000 && out.initrd_addr < 64 * MIB);
		} else {
			assert_true(err[0] != 0);
		}
	}
	assert_true(ok > 0);
	guest_free(&g);
	free(rd);
	free(copy);
	free(img);
}

/* --- a real kernel, when there is one ----------------------------------- */
static char *find_real_kernel(void)
{
	const char *env = getenv("CELLVM_TEST_KERNEL");
	static const char *const pats[] = {"/boot/vmlinuz-*", "/tmp/*/boot/vmlinuz-*",
					   "/tmp/*/*/boot/vmlinuz-*"};

	if (env && *env)
		return strdup(env);
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		glob_t gl;
		char *found = NULL;

		if (glob(pats[i], 0, NULL, &gl) == 0) {
			/* the last in sort order: the newest version, usually */
			for (size_t j = gl.gl_pathc; j-- > 0 && !found;) {
				FILE *f = fopen(gl.gl_pathv[j], "rb");

				if (f) {
					fclose(f);
					found = strdup(gl.gl_pathv[j]);
				}
			}
			globfree(&gl);
		}
		if (found)
			return found;
	}
	return NULL;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		b = malloc((size_t)n);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

static void test_real_kernel(void **state)
{
	(void)state;
	char *path = find_real_kernel();
	size_t len = 0;
	uint8_t *img;
	struct bzimage_info bi;
	char err[256] = "";

	if (!path) {
		print_message("SKIP test_real_kernel: no real kernel found (set "
			      "CELLVM_TEST_KERNEL=/path/to/vmlinuz, or unpack a Debian "
			      "linux-image package under /tmp)\n");
		skip();
	}
	img = read_file(path, &len);
	if (!img)
		fail_msg("cannot read %s", path);
	if (bzimage_parse(img, len, &bi, err, sizeof(err)) != 0)
		fail_msg("%s: %s", path, err);
	print_message("%s: %zu bytes, boot protocol %u.%02u, setup %zu bytes, kernel %zu bytes, "
		      "init_size 0x%x (%.1f MiB), initrd_addr_max 0x%x, cmdline_size %u, "
		      "relocatable %s, kernel_alignment 0x%x, pref_address 0x%llx\n",
		      path, len, bi.version >> 8, bi.version & 0xff, bi.setup_bytes,
		      bi.kernel_bytes, bi.init_size, bi.init_size / (double)MIB,
		      bi.initrd_addr_max, bi.cmdline_size, bi.relocatable ? "yes" : "no",
		      bi.kernel_alignment, (unsigned long long)rd64(img + O_PREF_ADDRESS));
	assert_true(bi.version >= 0x0206);
	assert_true(bi.kernel_bytes > 0);
	assert_int_equal(bi.setup_bytes + bi.kernel_bytes, len);

	/* and load it into a 256 MiB guest with a small initrd */
	uint8_t *rd = make_initrd(1 * MIB);
	struct guest g = guest_new(256 * MIB);
	struct boot_entry out;

	if (load(&g, img, len, rd, 1 * MIB, "console=ttyS0 panic=-1", 256 * MIB, 0xe0000, &out,
		 err) != 0)
		fail_msg("load: %s", err);
	assert_int_equal(memcmp(g.low + 0x100000, img + bi.setup_bytes, bi.kernel_bytes), 0);
	uint64_t top = (uint64_t)bi.initrd_addr_max + 1 < 256 * MIB ? (uint64_t)bi.initrd_addr_max + 1
								      : 256 * MIB;
	assert_int_equal(out.initrd_addr, (top - 1 * MIB) & ~4095ull);
	assert_memory_equal(g.low + 0x7000 + O_HDRS, "HdrS", 4);
	print_message("loaded: initrd at 0x%llx; the kernel's area from 1 MiB ends below it\n",
		      (unsigned long long)out.initrd_addr);
	guest_free(&g);
	free(rd);
	free(img);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_no_signature),
		cmocka_unit_test(test_parse_no_hdrs),
		cmocka_unit_test(test_parse_old_version),
		cmocka_unit_test(test_parse_not_loaded_high),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_setup_sects_zero_means_4),
		cmocka_unit_test(test_parse_huge_setup_sects),
		cmocka_unit_test(test_parse_tiny),
		cmocka_unit_test(test_load_kernel_and_cmdline),
		cmocka_unit_test(test_load_cmdline_limits),
		cmocka_unit_test(test_load_zero_page_header),
		cmocka_unit_test(test_load_gdt),
		cmocka_unit_test(test_initrd_64m),
		cmocka_unit_test(test_initrd_512m),
		cmocka_unit_test(test_initrd_2g),
		cmocka_unit_test(test_initrd_5g),
		cmocka_unit_test(test_initrd_too_big),
		cmocka_unit_test(test_initrd_old_protocol_kernel_area),
		cmocka_unit_test(test_kernel_runtime_area),
		cmocka_unit_test(test_kernel_too_big),
		cmocka_unit_test(test_acpi_rsdp),
		cmocka_unit_test(test_e820_small),
		cmocka_unit_test(test_e820_big),
		cmocka_unit_test(test_load_corrupt_headers),
		cmocka_unit_test(test_real_kernel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
