/* The guest's physical address map (x86-64), shared by the core's pieces.
 *
 *   0x00000000  RAM: real-mode area, GDT, zero page, command line
 *   0x0009fc00  reserved (EBDA) up to 0xa0000; 0xa0000-0xe0000 legacy VGA hole
 *   0x000e0000  ACPI tables (RSDP first), reserved up to 1 MiB
 *   0x00100000  RAM: the kernel, then free RAM, the initrd at the top
 *   0xc0000000  PCI hole (MMIO of devices, IOAPIC 0xfec00000, LAPIC 0xfee00000)
 *   0x100000000 the rest of RAM, for guests above 3 GiB
 *
 * Guest RAM is one memfd: [0, low) maps at GPA 0, [low, size) at 4 GiB.
 */
#ifndef CELLVM_VMM_CORE_LAYOUT_H
#define CELLVM_VMM_CORE_LAYOUT_H

#include <stdint.h>

#define GUEST_GDT_ADDR 0x500ull
#define GUEST_ZERO_PAGE 0x7000ull
#define GUEST_CMDLINE_ADDR 0x20000ull
#define GUEST_CMDLINE_MAX 0x10000ull /* 64 KiB, and never more than the kernel takes */
#define GUEST_EBDA_START 0x9fc00ull
#define GUEST_ACPI_ADDR 0xe0000ull
#define GUEST_ACPI_MAX 0x20000ull /* up to 1 MiB */
#define GUEST_KERNEL_ADDR 0x100000ull
#define GUEST_PCI_HOLE 0xc0000000ull
#define GUEST_HIGH_RAM 0x100000000ull
#define GUEST_IOAPIC_ADDR 0xfec00000ull
#define GUEST_LAPIC_ADDR 0xfee00000ull

#define GUEST_MIN_MEMORY (16ull << 20)
#define GUEST_MAX_MEMORY (1ull << 40) /* 1 TiB, the seed's limit */
#define GUEST_MAX_CPUS 64

/* Core-handled ports. */
#define PORT_PM1A_EVT 0x600 /* 4 bytes: status, enable */
#define PORT_PM1A_CNT 0x604 /* 2 bytes: SLP_TYP, SLP_EN */
#define PORT_RESET 0xcf9    /* reset control register */
#define PORT_I8042_CMD 0x64 /* 0xfe: pulse the reset line */
#define ACPI_SCI_IRQ 9
#define ACPI_S5_SLP_TYP 5 /* the value the DSDT's _S5 gives, written to PM1a_CNT */

static inline uint64_t guest_low_ram(uint64_t size)
{
	return size < GUEST_PCI_HOLE ? size : GUEST_PCI_HOLE;
}

static inline uint64_t guest_high_ram(uint64_t size)
{
	return size - guest_low_ram(size);
}

#endif
