/* Linux direct boot by the x86 boot protocol (Documentation/arch/x86/boot.rst,
 * zero-page.rst).
 *
 * Which entry point, and why
 * --------------------------
 * We use the kernel's 32-bit protected-mode entry (boot.rst, "32-bit Boot
 * Protocol"), not the 16-bit real-mode setup code and not the 64-bit entry:
 *
 *   - the real-mode part (the first (setup_sects + 1) * 512 bytes of the
 *     bzImage) is never run, so it is not loaded; its setup header is copied
 *     into the zero page and the loader's fields are filled in there, which is
 *     what the real-mode code would have done with BIOS help;
 *   - the protected-mode kernel is copied to 1 MiB (0x100000), where its
 *     32-bit entry is: out->entry = 0x100000 (code32_start in the header says
 *     the same for every standard kernel; it is not trusted or used here);
 *   - the 64-bit entry would need page tables built by us and the kernel
 *     loaded above its 64-bit entry offset; the 32-bit entry needs none: the
 *     kernel's own 32-bit startup code builds its page tables and enters long
 *     mode itself.
 *
 * The vCPU state the core must set up for the BSP before the first KVM_RUN:
 *
 *   CR0.PE = 1, CR0.PG = 0 (protected mode, paging off), EFER = 0;
 *   GDTR = { base out->gdt (0x500), limit 4 * 8 - 1 } with the flat GDT
 *   written here: 0x10 = 4 GiB code (execute/read), 0x18 = 4 GiB data
 *   (read/write);
 *   CS = 0x10 (base 0, limit 4 GiB, 32-bit), DS = ES = SS = 0x18 (base 0,
 *   limit 4 GiB), FS/GS may be the same;
 *   RFLAGS = 0x2 (interrupts off);
 *   RIP = out->entry, RSI = out->zero_page (0x7000),
 *   RBP = RDI = RBX = 0 (the protocol requires these three to be zero).
 *
 * Guest physical map used here (layout.h): GDT at 0x500, zero page at 0x7000
 * (4 KiB), command line at 0x20000 (< 64 KiB), ACPI tables in
 * 0xe0000-0xfffff (written by others), kernel at 1 MiB, the initrd as high
 * in low RAM as the kernel allows.
 *
 * Nothing read from the kernel or initrd image is trusted: every size and
 * offset is bounds-checked, sums are overflow-checked, and every check is done
 * before the first byte is written to guest memory.
 */
#include "vmm-core/errmsg.h"
#include "vmm-core/boot.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm-core/layout.h"

#define MIB (1024ull * 1024)
#define PAGE_SIZE 4096ull

/* --- setup header (boot.rst), offsets in the bzImage and in the zero page -- */
#define HDR_START 0x1f1             /* the header is copied from here */
#define HDR_SETUP_SECTS 0x1f1       /* u8: real-mode sectors after the boot sector */
#define HDR_SYSSIZE 0x1f4           /* u32: protected-mode size in 16-byte units */
#define HDR_VID_MODE 0x1fa          /* u16 */
#define HDR_BOOT_FLAG 0x1fe         /* u16: 0xaa55 */
#define HDR_JUMP 0x200              /* u8 0xeb, then s8: header end - 0x202 */
#define HDR_MAGIC 0x202             /* "HdrS" */
#define HDR_VERSION 0x206           /* u16: boot protocol */
#define HDR_TYPE_OF_LOADER 0x210    /* u8 */
#define HDR_LOADFLAGS 0x211         /* u8 */
#define HDR_RAMDISK_IMAGE 0x218     /* u32 */
#define HDR_RAMDISK_SIZE 0x21c      /* u32 */
#define HDR_HEAP_END_PTR 0x224      /* u16 */
#define HDR_CMD_LINE_PTR 0x228      /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c   /* u32 */
#define HDR_KERNEL_ALIGNMENT 0x230  /* u32 */
#define HDR_RELOCATABLE 0x234       /* u8 */
#define HDR_CMDLINE_SIZE 0x238      /* u32, protocol 2.06+ */
#define HDR_HARDWARE_SUBARCH 0x23c  /* u32, protocol 2.07+ */
#define HDR_SETUP_DATA 0x250        /* u64, protocol 2.09+ */
#define HDR_PREF_ADDRESS 0x258      /* u64, protocol 2.10+ */
#define HDR_INIT_SIZE 0x260         /* u32, protocol 2.10+ */

#define BOOT_FLAG 0xaa55u
#define HDR_MAGIC_LE 0x53726448u    /* "HdrS" read as a little-endian u32 */
#define PROTO_MIN 0x0206u           /* cmdline_size */
#define PROTO_PREF_INIT 0x020au     /* pref_address, init_size */
#define PROTO_ACPI_RSDP 0x020eu     /* acpi_rsdp_addr in the zero page */
#define PROTO_SUBARCH 0x0207u
#define PROTO_SETUP_DATA 0x0209u

#define LF_LOADED_HIGH 0x01
#define LF_QUIET 0x20
#define LF_KEEP_SEGMENTS 0x40
#define LF_CAN_USE_HEAP 0x80

#define LOADER_UNDEFINED 0xff       /* type_of_loader: no assigned id */
#define HEAP_END 0xfe00             /* heap_end_ptr, from the real-mode base */
#define VID_MODE_NORMAL 0xffff
#define SECTOR 512u
#define DEFAULT_SETUP_SECTS 4u      /* setup_sects 0 means 4 */

/* --- zero page (struct boot_params, zero-page.rst) ----------------------- */
#define ZP_SIZE 4096u
#define ZP_ACPI_RSDP_ADDR 0x070     /* u64 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0  /* u32: ramdisk_image bits 63:32 */
#define ZP_EXT_RAMDISK_SIZE 0x0c4   /* u32: ramdisk_size bits 63:32 */
#define ZP_EXT_CMD_LINE_PTR 0x0c8   /* u32: cmd_line_ptr bits 63:32 */
#define ZP_E820_ENTRIES 0x1e8       /* u8 */
#define ZP_E820_TABLE 0x2d0         /* 20-byte entries: addr u64, size u64, type u32 */
#define ZP_E820_MAX 128u
#define E820_ENTRY_SIZE 20u
#define E820_RAM 1u
#define E820_RESERVED 2u

/* --- flat GDT for the 32-bit entry --------------------------------------- */
#define GDT_ENTRIES 4u
#define GDT_CODE32_FLAT 0x00cf9a000000ffffull /* 0x10: base 0, 4 GiB, exec/read */
#define GDT_DATA32_FLAT 0x00cf92000000ffffull /* 0x18: base 0, 4 GiB, read/write */


static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Whole MiB, rounded up (for "needs") or down (for "has"). */
static unsigned long long mib_up(uint64_t n)
{
	return (unsigned long long)(n / MIB + (n % MIB != 0));
}

static unsigned long long mib_down(uint64_t n)
{
	return (unsigned long long)(n / MIB);
}

static uint64_t kernel_end(const uint8_t *img, const struct bzimage_info *bi);

int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, char *err,
		  size_t errlen)
{
	if (!img || !info)
		return errmsg(err, errlen, "no kernel image");
	if (len < HDR_BOOT_FLAG + 2)
		return errmsg(err, errlen,
			    "not a bzImage: %zu bytes is too short for a boot sector", len);
	if (get16(img + HDR_BOOT_FLAG) != BOOT_FLAG)
		return errmsg(err, errlen, "not a bzImage: no boot signature 0xAA55 at 0x1fe");
	if (len < HDR_MAGIC + 4 || get32(img + HDR_MAGIC) != HDR_MAGIC_LE)
		return errmsg(err, errlen,
			    "not a bzImage: no HdrS signature at 0x202 (boot protocol "
			    "before 2.00)");
	if (len < HDR_VERSION + 2)
		return errmsg(err, errlen, "not a bzImage: header cut off at %zu bytes", len);

	uint16_t version = get16(img + HDR_VERSION);
	if (version < PROTO_MIN)
		return errmsg(err, errlen, "boot protocol %u.%02u too old (need 2.06)",
			    version >> 8, version & 0xff);

	/* The real-mode part is at least 2 sectors (1 KiB), so once it is known
	 * to be inside the file, every header field below 0x400 is too. */
	unsigned sects = img[HDR_SETUP_SECTS];
	if (sects == 0)
		sects = DEFAULT_SETUP_SECTS;
	size_t setup_bytes = ((size_t)sects + 1) * SECTOR;
	/* syssize: the protected-mode part in 16-byte units (0: not given); the
	 * file may be longer (a signature appended), never shorter, and the
	 * protected-mode part is never empty. */
	uint64_t sys_bytes = (uint64_t)get32(img + HDR_SYSSIZE) * 16;
	uint64_t need = (uint64_t)setup_bytes + (sys_bytes ? sys_bytes : 1);
	if ((uint64_t)len < need)
		return errmsg(err, errlen, "kernel file truncated: setup says %llu bytes, file has %zu",
			    (unsigned long long)need, len);

	uint8_t loadflags = img[HDR_LOADFLAGS];
	if (!(loadflags & LF_LOADED_HIGH))
		return errmsg(err, errlen,
			    "kernel does not load at 1 MiB (loadflags 0x%02x without "
			    "LOADED_HIGH): a zImage, not a bzImage",
			    loadflags);

	memset(info, 0, sizeof(*info));
	info->version = version;
	info->setup_bytes = setup_bytes;
	info->kernel_bytes = len - setup_bytes;
	info->initrd_addr_max = get32(img + HDR_INITRD_ADDR_MAX);
	info->cmdline_size = get32(img + HDR_CMDLINE_SIZE);
	info->kernel_alignment = get32(img + HDR_KERNEL_ALIGNMENT);
	info->relocatable = img[HDR_RELOCATABLE] != 0;
	info->init_size = version >= PROTO_PREF_INIT ? get32(img + HDR_INIT_SIZE) : 0;
	info->footprint_end = kernel_end(img, info);
	return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* The end of the memory the kernel uses from 1 MiB on before it has looked
 * at the memory map (UINT64_MAX when the header asks for the impossible).
 * boot.rst (init_size): the kernel needs init_size bytes from its runtime
 * start, which is not where it was loaded: a relocatable kernel moves up to
 * align_up(max(load address, pref_address), kernel_alignment), a
 * non-relocatable one to pref_address (the kernel's LOAD_PHYSICAL_ADDR,
 * 16 MiB for distribution kernels).  It decompresses there and first copies
 * its compressed self to the top of that area, so an initrd inside it would
 * be overwritten.  Protocols before 2.10 have neither field: the loaded
 * bytes are all we know of. */
static uint64_t kernel_end(const uint8_t *img, const struct bzimage_info *bi)
{
	uint64_t load_end = sat_add(GUEST_KERNEL_ADDR, bi->kernel_bytes);
	uint64_t start = GUEST_KERNEL_ADDR;

	if (bi->version >= PROTO_PREF_INIT) {
		uint64_t pref = get64(img + HDR_PREF_ADDRESS);

		if (pref > start)
			start = pref;
		if (bi->relocatable && bi->kernel_alignment > 1) {
			/* Any alignment, a power of two or not, gives a
			 * defined result. */
			uint64_t a = bi->kernel_alignment, r = start % a;

			if (r)
				start = sat_add(start, a - r);
		}
	}
	uint64_t run_end = sat_add(start, bi->init_size);
	return run_end > load_end ? run_end : load_end;
}

/* The e820 map in the zero page; see layout.h.  Returns the entry count. */
static unsigned e820_fill(uint8_t *zp, uint64_t mem_size)
{
	uint64_t low = guest_low_ram(mem_size), high = guest_high_ram(mem_size);
	struct {
		uint64_t addr, size;
		uint32_t type;
	} map[5] = {
		{0, GUEST_EBDA_START, E820_RAM},
		{GUEST_EBDA_START, 0xa0000 - GUEST_EBDA_START, E820_RESERVED},
		{GUEST_ACPI_ADDR, GUEST_ACPI_MAX, E820_RESERVED},
		{GUEST_KERNEL_ADDR, low - GUEST_KERNEL_ADDR, E820_RAM},
		{GUEST_HIGH_RAM, high, E820_RAM},
	};
	unsigned n = high ? 5 : 4; /* well below ZP_E820_MAX */

	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * E820_ENTRY_SIZE;

		put64(e, map[i].addr);
		put64(e + 8, map[i].size);
		put32(e + 16, map[i].type);
	}
	zp[ZP_E820_ENTRIES] = (uint8_t)n;
	return n;
}

static void gdt_fill(uint8_t *gdt)
{
	static const uint64_t flat[GDT_ENTRIES] = {0, 0, GDT_CODE32_FLAT, GDT_DATA32_FLAT};

	for (unsigned i = 0; i < GDT_ENTRIES; i++)
		put64(gdt + 8 * i, flat[i]);
}

int boot_load_linux(uint8_t *low, const struct boot_input *in, struct boot_entry *out,
		    char *err, size_t errlen)
{
	struct bzimage_info bi;

	if (!low || !in || !out)
		return errmsg(err, errlen, "boot_load_linux: no guest memory or input");
	if (in->mem_size < GUEST_MIN_MEMORY || in->mem_size > GUEST_MAX_MEMORY)
		return errmsg(err, errlen, "guest memory of %llu MiB outside %llu MiB..%llu GiB",
			    mib_down(in->mem_size), mib_down(GUEST_MIN_MEMORY),
			    (unsigned long long)(GUEST_MAX_MEMORY >> 30));
	if (bzimage_parse(in->kernel, in->kernel_len, &bi, err, errlen) < 0)
		return -1;

	const uint8_t *img = in->kernel;
	uint64_t low_end = guest_low_ram(in->mem_size);

	/* The kernel, from 1 MiB: loaded bytes and what it needs to start. */
	uint64_t kend = kernel_end(img, &bi);
	if (kend > low_end)
		return errmsg(err, errlen, "kernel needs %llu MiB from 1 MiB, the guest has %llu MiB%s",
			    mib_up(kend - GUEST_KERNEL_ADDR), mib_down(low_end),
			    in->mem_size > low_end ? " below 3 GiB" : "");

	/* The command line: at most what the kernel takes and what fits. */
	const char *cmdline = in->cmdline ? in->cmdline : "";
	size_t cmd_len = strlen(cmdline);
	uint64_t cmd_max = GUEST_CMDLINE_MAX - 1;
	if (bi.cmdline_size < cmd_max)
		cmd_max = bi.cmdline_size;
	if ((uint64_t)cmd_len > cmd_max)
		return errmsg(err, errlen,
			    "command line of %zu bytes too long (this kernel takes at most %llu)",
			    cmd_len, (unsigned long long)cmd_max);

	/* The initrd: as high as allowed, page aligned, above the kernel. */
	uint64_t initrd_addr = 0, initrd_len = 0;
	if (in->initrd && in->initrd_len) {
		uint64_t top = (uint64_t)bi.initrd_addr_max + 1; /* exclusive */

		if (top > low_end)
			top = low_end;
		initrd_len = in->initrd_len;
		if (initrd_len > top || ((top - initrd_len) & ~(PAGE_SIZE - 1)) < kend)
			return errmsg(err, errlen,
				    "initrd of %llu MiB does not fit below %llu MiB (above "
				    "the kernel's first %llu MiB)",
				    mib_up(initrd_len), mib_down(top), mib_up(kend));
		initrd_addr = (top - initrd_len) & ~(PAGE_SIZE - 1);
	}

	/* All checked: write. */
	memcpy(low + GUEST_KERNEL_ADDR, img + bi.setup_bytes, bi.kernel_bytes);
	if (initrd_len)
		memcpy(low + initrd_addr, in->initrd, initrd_len);
	memcpy(low + GUEST_CMDLINE_ADDR, cmdline, cmd_len + 1);

	uint8_t *zp = low + GUEST_ZERO_PAGE;
	memset(zp, 0, ZP_SIZE);
	/* The header, as long as it says it is: 0x202 + the signed jump offset
	 * at 0x201.  Bounded by the real-mode part (inside the file, >= 1 KiB)
	 * and the page. */
	long hdr_end = HDR_MAGIC + (long)(int8_t)img[HDR_JUMP + 1];
	if (hdr_end < HDR_MAGIC)
		hdr_end = HDR_MAGIC;
	if ((size_t)hdr_end > bi.setup_bytes)
		hdr_end = (long)bi.setup_bytes;
	if (hdr_end > (long)ZP_SIZE)
		hdr_end = ZP_SIZE;
	memcpy(zp + HDR_START, img + HDR_START, (size_t)hdr_end - HDR_START);

	zp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] = (uint8_t)((img[HDR_LOADFLAGS] | LF_LOADED_HIGH | LF_CAN_USE_HEAP) &
				      ~(LF_QUIET | LF_KEEP_SEGMENTS));
	put16(zp + HDR_HEAP_END_PTR, HEAP_END);
	put16(zp + HDR_VID_MODE, VID_MODE_NORMAL);
	put32(zp + HDR_CMD_LINE_PTR, (uint32_t)GUEST_CMDLINE_ADDR);
	put32(zp + ZP_EXT_CMD_LINE_PTR, 0);
	put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
	put32(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_len);
	put32(zp + ZP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
	put32(zp + ZP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_len >> 32));
	/* Loader-owned fields the image could carry junk in: a plain PC, no
	 * setup_data list. */
	if (bi.version >= PROTO_SUBARCH)
		put32(zp + HDR_HARDWARE_SUBARCH, 0);
	if (bi.version >= PROTO_SETUP_DATA)
		put64(zp + HDR_SETUP_DATA, 0);
	if (bi.version >= PROTO_ACPI_RSDP)
		put64(zp + ZP_ACPI_RSDP_ADDR, in->rsdp_addr);
	e820_fill(zp, in->mem_size);

	gdt_fill(low + GUEST_GDT_ADDR);

	out->entry = GUEST_KERNEL_ADDR;
	out->zero_page = GUEST_ZERO_PAGE;
	out->gdt = GUEST_GDT_ADDR;
	out->initrd_addr = initrd_addr;
	return 0;
}
