/* Linux direct boot by the x86 boot protocol (Documentation/arch/x86/boot.rst):
 * check a bzImage, place its protected-mode kernel at 1 MiB, the command
 * line, the initrd and the zero page (boot_params with the e820 map), and
 * say where the 32-bit entry is. */
#ifndef CELLVM_VMM_CORE_BOOT_H
#define CELLVM_VMM_CORE_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bzimage_info {
	uint16_t version;         /* boot protocol, e.g. 0x020f */
	size_t setup_bytes;       /* real-mode part: (setup_sects + 1) * 512 */
	size_t kernel_bytes;      /* protected-mode part, loaded at 1 MiB */
	uint32_t initrd_addr_max; /* highest address the initrd may end at, inclusive */
	uint32_t cmdline_size;    /* longest command line, without the NUL */
	uint32_t init_size;       /* memory the kernel needs from 1 MiB to decompress */
	bool relocatable;
	uint32_t kernel_alignment;
	/* Where the memory the kernel uses from 1 MiB on while it starts ends
	 * (loaded bytes, or its runtime area up to init_size): nothing else
	 * may be placed below this. */
	uint64_t footprint_end;
};

/* Checks that img is a bzImage this loader can boot (boot protocol 2.06 or
 * later, loads high).  0, or -1 with err saying what is wrong ("not a
 * bzImage: no HdrS signature at 0x202", ...). */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *info, char *err,
		  size_t errlen);

struct boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_len;
	const char *cmdline;
	uint64_t mem_size;  /* all guest RAM; the layout is in layout.h */
	uint64_t rsdp_addr; /* 0: none */
};

struct boot_entry {
	uint64_t entry;     /* 32-bit protected-mode entry (code32_start) */
	uint64_t zero_page; /* goes in %esi */
	uint64_t gdt;       /* a flat GDT: 0x10 code, 0x18 data, 4 entries */
	uint64_t initrd_addr;
};

/* Writes the kernel, initrd, command line, GDT and zero page into guest
 * memory `low` (the host mapping of GPA [0, guest_low_ram(mem_size))).
 * 0, or -1 with err (an initrd too large for the RAM, a command line too
 * long, ...).  Nothing it reads from the images is trusted. */
int boot_load_linux(uint8_t *low, const struct boot_input *in, struct boot_entry *out,
		    char *err, size_t errlen);

#endif
