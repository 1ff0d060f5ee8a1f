/* ACPI tables for a direct-booted guest, laid out from the RSDP up (layouts
 * from the ACPI specification 6.x, chapter 5):
 *
 *   gpa + 0   RSDP (36 bytes, ACPI 2.0+, no RSDT)
 *             XSDT -> FADT, MADT
 *             FADT -> FACS (64-byte aligned), DSDT
 *             MADT
 *             DSDT (AML from aml.c)
 *
 * Each table after the RSDP starts on a 16-byte boundary, the FACS on a
 * 64-byte one (of the guest address).  The DSDT is measured first, so that
 * nothing is written unless everything fits.
 *
 * Choices the core has to match:
 *  - PM1a event block at PORT_PM1A_EVT (status word, then enable word),
 *    PM1a control at PORT_PM1A_CNT, SCI on ISA IRQ ACPI_SCI_IRQ, level
 *    triggered and active high (the MADT overrides it so: raise the line
 *    while PM1 status & enable is non-zero).  No SMI command port: the guest
 *    finds ACPI already enabled, so PM1a_CNT's SCI_EN (bit 0) should read 1.
 *  - \_S5 gives SLP_TYP ACPI_S5_SLP_TYP: power-off is a write of
 *    (ACPI_S5_SLP_TYP << 10) | SLP_EN (bit 13) to PM1a_CNT.
 *  - Reset register: a byte write of ACPI_RESET_VALUE to PORT_RESET.
 *  - IOAPIC id = ncpus (see ioapic_id()), ISA IRQ 0 -> GSI 2: the PIT's interrupt
 *    must reach IOAPIC pin 2, which KVM's default GSI routing does not do
 *    (it routes GSI 0 to pin 0): set the routing so, as on a PC.
 */
#include "vmm-core/errmsg.h"
#include "vmm-core/acpi.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vmm-core/aml.h"
#include "vmm-core/pci.h"
#include "vmm-core/layout.h"

#define ACPI_RESET_VALUE 0x06 /* at PORT_RESET: system reset (bit 1) + reset CPU (bit 2) */

#define OEM_ID "CELLVM"         /* 6 bytes */
#define OEM_TABLE_ID "CELLVM  " /* 8 bytes */
#define OEM_REVISION 1
#define CREATOR_ID "CLVM"
#define CREATOR_REVISION 1

/* Fixed sizes from the specification. */
#define HDR_LEN 36     /* system description table header */
#define RSDP_V1_LEN 20 /* what the first checksum covers */
#define RSDP_LEN 36
#define FADT_LEN 276 /* revision 6 */
#define FACS_LEN 64
#define MADT_FIXED_LEN 44 /* header, local APIC address, flags */
#define GAS_LEN 12

/* Table revisions. */
#define RSDP_REVISION 2 /* ACPI 2.0+: has the XSDT */
#define XSDT_REVISION 1
#define FADT_REVISION 6
#define FADT_MINOR_REVISION 0 /* ACPI 6.0 */
#define FACS_VERSION 2
#define MADT_REVISION 4 /* ACPI 6.0-6.2; 5 would bring the online-capable bit */
#define DSDT_REVISION 2 /* 2 or more: 64-bit AML integers */

/* Header fields (5.2.6). */
enum {
	HDR_SIG = 0,
	HDR_LENGTH = 4,
	HDR_REVISION = 8,
	HDR_CHECKSUM = 9,
	HDR_OEM_ID = 10,
	HDR_OEM_TABLE_ID = 16,
	HDR_OEM_REVISION = 24,
	HDR_CREATOR_ID = 28,
	HDR_CREATOR_REVISION = 32,
};

/* RSDP fields (5.2.5.3). */
enum {
	RSDP_SIG = 0,
	RSDP_CHECKSUM = 8,
	RSDP_OEM_ID = 9,
	RSDP_REV = 15,
	RSDP_RSDT = 16,
	RSDP_LENGTH = 20,
	RSDP_XSDT = 24,
	RSDP_XCHECKSUM = 32,
};

/* FADT fields (5.2.9). */
enum {
	FADT_FIRMWARE_CTRL = 36,
	FADT_DSDT = 40,
	FADT_PM_PROFILE = 45,
	FADT_SCI_INT = 46,
	FADT_SMI_CMD = 48,
	FADT_ACPI_ENABLE = 52,
	FADT_ACPI_DISABLE = 53,
	FADT_PM1A_EVT_BLK = 56,
	FADT_PM1A_CNT_BLK = 64,
	FADT_PM_TMR_BLK = 76,
	FADT_PM1_EVT_LEN = 88,
	FADT_PM1_CNT_LEN = 89,
	FADT_PM_TMR_LEN = 91,
	FADT_P_LVL2_LAT = 96,
	FADT_P_LVL3_LAT = 98,
	FADT_IAPC_BOOT_ARCH = 109,
	FADT_FLAGS = 112,
	FADT_RESET_REG = 116,
	FADT_RESET_VALUE = 128,
	FADT_MINOR_VERSION = 131,
	FADT_X_FIRMWARE_CTRL = 132,
	FADT_X_DSDT = 140,
	FADT_X_PM1A_EVT_BLK = 148,
	FADT_X_PM1A_CNT_BLK = 172,
	FADT_HYPERVISOR_ID = 268,
};

/* IA-PC boot architecture flags: legacy (ISA) devices exist, the COM ports;
 * bit 1 (8042) stays clear: there is no keyboard controller, so Linux does
 * not probe one.  Bit 2 (VGA not present) and bit 5 (CMOS RTC not present)
 * stay clear too: VGA is on the way, and they are for when the device list
 * is settled. */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5) /* no RTC device yet: the guest keeps
						 * time by kvm-clock, not ports 0x70/71 */
#define FADT_BOOT_ARCH (IAPC_LEGACY_DEVICES | IAPC_CMOS_RTC_NOT_PRESENT)

/* Fixed feature flags:
 *  WBINVD: required on IA-PC.  PROC_C1: HLT works on every CPU.
 *  PWR_BUTTON clear: there is a fixed-feature power button (vmm-core/pm1.c:
 *  PWRBTN_STS, PM1 status bit 8, raises the SCI), which `cellvm stop`
 *  presses.  SLP_BUTTON set: no sleep button.
 *  RESET_REG_SUP: the reset register below works. */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4)
#define FADT_F_SLP_BUTTON (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_FEATURES                                                                      \
	(FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP)

/* Generic address structure (5.2.3.2). */
#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2

/* MADT (5.2.12). */
#define MADT_PCAT_COMPAT (1u << 0)
enum {
	MADT_LOCAL_APIC = 0,
	MADT_IO_APIC = 1,
	MADT_INT_OVERRIDE = 2,
	MADT_LOCAL_APIC_NMI = 4,
};
#define MADT_LOCAL_APIC_LEN 8
#define MADT_IO_APIC_LEN 12
#define MADT_INT_OVERRIDE_LEN 10
#define MADT_LOCAL_APIC_NMI_LEN 6
#define MADT_LAPIC_ENABLED (1u << 0)
#define MADT_ALL_PROCESSORS 0xff
/* MPS INTI flags: polarity bits 1-0 (1 active high, 3 active low), trigger
 * bits 3-2 (1 edge, 3 level); 0 is "conforms to the bus" (ISA: edge, high). */
#define MPS_CONFORM 0x0000
#define MPS_ACTIVE_HIGH 0x0001
#define MPS_LEVEL 0x000c
#define ISA_TIMER_IRQ 0
#define ISA_TIMER_GSI 2

static const char *const com_names[4] = {"COM1", "COM2", "COM3", "COM4"};

struct layout {
	size_t rsdp, xsdt, fadt, facs, madt, dsdt, total;
	size_t xsdt_len, madt_len, dsdt_len;
};

static void put8(uint8_t *p, size_t off, uint8_t v)
{
	p[off] = v;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[off + i] = (uint8_t)(v >> (8 * i));
}

static void put_gas(uint8_t *p, size_t off, uint8_t space, uint8_t bit_width,
		    uint8_t access_size, uint64_t address)
{
	put8(p, off, space);
	put8(p, off + 1, bit_width);
	put8(p, off + 2, 0); /* bit offset */
	put8(p, off + 3, access_size);
	put64(p, off + 4, address);
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static void header(uint8_t *t, const char sig[4], size_t len, uint8_t revision)
{
	memcpy(t + HDR_SIG, sig, 4);
	put32(t, HDR_LENGTH, (uint32_t)len);
	put8(t, HDR_REVISION, revision);
	memcpy(t + HDR_OEM_ID, OEM_ID, 6);
	memcpy(t + HDR_OEM_TABLE_ID, OEM_TABLE_ID, 8);
	put32(t, HDR_OEM_REVISION, OEM_REVISION);
	memcpy(t + HDR_CREATOR_ID, CREATOR_ID, 4);
	put32(t, HDR_CREATOR_REVISION, CREATOR_REVISION);
}

/* After the table's bytes are final. */
static void seal(uint8_t *t, size_t len)
{
	t[HDR_CHECKSUM] = 0;
	t[HDR_CHECKSUM] = checksum(t, len);
}

/* \_SB_.PCI0, the host bridge of bus 0 (vmm-core/pci.c): configuration
 * mechanism #1, the I/O ports around it, the MMIO window of the PCI hole
 * below the IOAPIC, and the INTx routing. */
static void pci_root(struct aml *a)
{
	size_t dev = aml_device_begin(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A03"); /* PCI host bridge */
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	aml_name(a, "_SEG");
	aml_integer(a, 0);

	uint8_t tmpl[128];
	struct aml r;
	aml_init(&r, tmpl, sizeof(tmpl));
	aml_res_word_space(&r, AML_SPACE_BUS, 0, 0, 0);
	aml_res_io16(&r, PORT_PCI_ADDRESS, PORT_PCI_ADDRESS, 1, 8);
	aml_res_word_space(&r, AML_SPACE_IO, AML_IO_ENTIRE_RANGE, 0x0000, PORT_PCI_ADDRESS - 1);
	aml_res_word_space(&r, AML_SPACE_IO, AML_IO_ENTIRE_RANGE, PORT_PCI_ADDRESS + 8, 0xffff);
	aml_res_dword_space(&r, AML_SPACE_MEMORY, AML_MEM_CACHEABLE_RW, 0xa0000, 0xbffff);
	aml_res_dword_space(&r, AML_SPACE_MEMORY, AML_MEM_CACHEABLE_RW, GUEST_PCI_HOLE,
			    GUEST_IOAPIC_ADDR - 1);
	aml_res_end(&r);
	if (!aml_ok(&r) && !a->error)
		a->error = r.error ? r.error : "resource template too long";
	aml_name(a, "_CRS");
	aml_buffer(a, tmpl, r.len <= sizeof(tmpl) ? r.len : 0);

	/* _PRT: Package {address (slot << 16 | 0xffff), pin, source (none: a
	 * GSI), GSI} for every pin of slots 1..31 (pci_intx_gsi). */
	aml_name(a, "_PRT");
	size_t prt = aml_package_begin(a, (PCI_SLOTS - 1) * 4);
	for (unsigned slot = 1; slot < PCI_SLOTS; slot++)
		for (unsigned pin = 0; pin < 4; pin++) {
			size_t e = aml_package_begin(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci_intx_gsi(slot, pin));
			aml_package_end(a, e);
		}
	aml_package_end(a, prt);
	aml_device_end(a, dev);
}

/* The DSDT's AML: \_S5_, one device per COM port and the PCI host bridge
 * under \_SB_. */
static void dsdt_aml(struct aml *a, const struct acpi_config *cfg)
{
	/* Package {SLP_TYPa, SLP_TYPb, reserved, reserved}; there is no PM1b,
	 * its value does not matter. */
	aml_name(a, "_S5_");
	size_t pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_package_end(a, pkg);

	size_t sb = aml_scope_begin(a, "\\_SB_");
	for (unsigned i = 0; i < cfg->ncom; i++) {
		const struct acpi_com *c = &cfg->com[i];
		size_t dev = aml_device_begin(a, com_names[i]);
		aml_name(a, "_HID");
		aml_eisaid(a, "PNP0501"); /* 16550A-compatible COM port */
		aml_name(a, "_UID");
		aml_integer(a, i + 1);
		aml_name(a, "_STA");
		aml_integer(a, 0x0f); /* present, enabled, shown in UI, functioning */

		/* ResourceTemplate () { IO (Decode16, port, port, 1, 8)
		 *                       IRQNoFlags () {irq} } */
		uint8_t tmpl[32];
		struct aml r;
		aml_init(&r, tmpl, sizeof(tmpl));
		aml_res_io16(&r, c->port, c->port, 1, 8);
		aml_res_irq_noflags(&r, (uint16_t)(1u << c->irq));
		aml_res_end(&r);
		if (!aml_ok(&r) && !a->error)
			a->error = r.error ? r.error : "resource template too long";
		aml_name(a, "_CRS");
		aml_buffer(a, tmpl, r.len <= sizeof(tmpl) ? r.len : 0);
		aml_device_end(a, dev);
	}
	pci_root(a);
	aml_scope_end(a, sb);
}

static void rsdp(uint8_t *p, uint64_t xsdt_gpa)
{
	memcpy(p + RSDP_SIG, "RSD PTR ", 8);
	memcpy(p + RSDP_OEM_ID, OEM_ID, 6);
	put8(p, RSDP_REV, RSDP_REVISION);
	put32(p, RSDP_RSDT, 0); /* no RSDT: the XSDT is enough for ACPI 2.0+ */
	put32(p, RSDP_LENGTH, RSDP_LEN);
	put64(p, RSDP_XSDT, xsdt_gpa);
	p[RSDP_CHECKSUM] = checksum(p, RSDP_V1_LEN);
	p[RSDP_XCHECKSUM] = checksum(p, RSDP_LEN);
}

static void xsdt(uint8_t *t, size_t len, const uint64_t *entries, size_t n)
{
	header(t, "XSDT", len, XSDT_REVISION);
	for (size_t i = 0; i < n; i++)
		put64(t, HDR_LEN + 8 * i, entries[i]);
	seal(t, len);
}

static void fadt(uint8_t *t, uint64_t facs_gpa, uint64_t dsdt_gpa)
{
	header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* The tables sit below 4 GiB (checked), so the 32-bit pointers hold the
	 * same addresses as the 64-bit ones. */
	put32(t, FADT_FIRMWARE_CTRL, (uint32_t)facs_gpa);
	put32(t, FADT_DSDT, (uint32_t)dsdt_gpa);
	put64(t, FADT_X_FIRMWARE_CTRL, facs_gpa);
	put64(t, FADT_X_DSDT, dsdt_gpa);
	put8(t, FADT_PM_PROFILE, 0); /* unspecified */
	put16(t, FADT_SCI_INT, ACPI_SCI_IRQ);
	/* No SMM: SMI_CMD 0 says ACPI is always enabled, so no enable values. */
	put32(t, FADT_SMI_CMD, 0);
	put8(t, FADT_ACPI_ENABLE, 0);
	put8(t, FADT_ACPI_DISABLE, 0);
	put32(t, FADT_PM1A_EVT_BLK, PORT_PM1A_EVT);
	put8(t, FADT_PM1_EVT_LEN, 4);
	put32(t, FADT_PM1A_CNT_BLK, PORT_PM1A_CNT);
	put8(t, FADT_PM1_CNT_LEN, 2);
	put32(t, FADT_PM_TMR_BLK, 0); /* no PM timer */
	put8(t, FADT_PM_TMR_LEN, 0);
	/* Over 100 and over 1000 say C2 and C3 are not supported. */
	put16(t, FADT_P_LVL2_LAT, 101);
	put16(t, FADT_P_LVL3_LAT, 1001);
	put16(t, FADT_IAPC_BOOT_ARCH, FADT_BOOT_ARCH);
	put32(t, FADT_FLAGS, FADT_FEATURES);
	put_gas(t, FADT_RESET_REG, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, PORT_RESET);
	put8(t, FADT_RESET_VALUE, ACPI_RESET_VALUE);
	put8(t, FADT_MINOR_VERSION, FADT_MINOR_REVISION);
	/* The PM1 registers are 16 bits wide: word accesses. */
	put_gas(t, FADT_X_PM1A_EVT_BLK, GAS_SYSTEM_IO, 4 * 8, GAS_ACCESS_WORD, PORT_PM1A_EVT);
	put_gas(t, FADT_X_PM1A_CNT_BLK, GAS_SYSTEM_IO, 2 * 8, GAS_ACCESS_WORD, PORT_PM1A_CNT);
	memcpy(t + FADT_HYPERVISOR_ID, "CELLVM", 6);
	seal(t, FADT_LEN);
}

static void facs(uint8_t *t)
{
	memcpy(t, "FACS", 4);
	put32(t, 4, FACS_LEN);
	put8(t, 32, FACS_VERSION); /* the rest (waking vector, lock, flags) is 0 */
}

/* The IOAPIC's id: ncpus, the first id no local APIC has (ids 0..ncpus-1).
 * KVM's IOAPIC id register reads 0 until written; x86-64 Linux takes the
 * MADT's id and does not compare it with the register. */
static unsigned ioapic_id(const struct acpi_config *cfg)
{
	return cfg->ncpus;
}

static size_t madt_len(const struct acpi_config *cfg)
{
	return MADT_FIXED_LEN + cfg->ncpus * MADT_LOCAL_APIC_LEN + MADT_IO_APIC_LEN +
	       2 * MADT_INT_OVERRIDE_LEN + MADT_LOCAL_APIC_NMI_LEN;
}

static size_t madt_override(uint8_t *t, size_t off, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	put8(t, off, MADT_INT_OVERRIDE);
	put8(t, off + 1, MADT_INT_OVERRIDE_LEN);
	put8(t, off + 2, 0); /* bus: ISA */
	put8(t, off + 3, irq);
	put32(t, off + 4, gsi);
	put16(t, off + 8, flags);
	return off + MADT_INT_OVERRIDE_LEN;
}

static void madt(uint8_t *t, size_t len, const struct acpi_config *cfg)
{
	header(t, "APIC", len, MADT_REVISION);
	put32(t, HDR_LEN, (uint32_t)GUEST_LAPIC_ADDR);
	put32(t, HDR_LEN + 4, MADT_PCAT_COMPAT); /* there are 8259s (KVM's PIC) */
	size_t off = MADT_FIXED_LEN;
	for (unsigned i = 0; i < cfg->ncpus; i++) {
		put8(t, off, MADT_LOCAL_APIC);
		put8(t, off + 1, MADT_LOCAL_APIC_LEN);
		put8(t, off + 2, (uint8_t)i); /* ACPI processor UID */
		put8(t, off + 3, (uint8_t)i); /* APIC id */
		put32(t, off + 4, MADT_LAPIC_ENABLED);
		off += MADT_LOCAL_APIC_LEN;
	}
	put8(t, off, MADT_IO_APIC);
	put8(t, off + 1, MADT_IO_APIC_LEN);
	put8(t, off + 2, (uint8_t)ioapic_id(cfg));
	put8(t, off + 3, 0);
	put32(t, off + 4, (uint32_t)GUEST_IOAPIC_ADDR);
	put32(t, off + 8, 0); /* GSI base */
	off += MADT_IO_APIC_LEN;
	off = madt_override(t, off, ISA_TIMER_IRQ, ISA_TIMER_GSI, MPS_CONFORM);
	off = madt_override(t, off, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_LEVEL | MPS_ACTIVE_HIGH);
	/* NMI on every local APIC's LINT1, as on a PC. */
	put8(t, off, MADT_LOCAL_APIC_NMI);
	put8(t, off + 1, MADT_LOCAL_APIC_NMI_LEN);
	put8(t, off + 2, MADT_ALL_PROCESSORS);
	put16(t, off + 3, MPS_CONFORM);
	put8(t, off + 5, 1); /* LINT1 */
	off += MADT_LOCAL_APIC_NMI_LEN;
	(void)off; /* == len */
	seal(t, len);
}

static void dsdt(uint8_t *t, size_t len, const struct acpi_config *cfg)
{
	header(t, "DSDT", len, DSDT_REVISION);
	struct aml a;
	aml_init(&a, t + HDR_LEN, len - HDR_LEN);
	dsdt_aml(&a, cfg);
	seal(t, len);
}


static int check_config(const struct acpi_config *cfg, uint64_t gpa, char *err, size_t errlen)
{
	if (!cfg)
		return errmsg(err, errlen, "acpi: no configuration");
	if (cfg->ncpus < 1 || cfg->ncpus > GUEST_MAX_CPUS)
		return errmsg(err, errlen, "acpi: %u vCPUs, must be 1..%u", cfg->ncpus,
			    GUEST_MAX_CPUS);
	if (cfg->ncom > 4)
		return errmsg(err, errlen, "acpi: %u COM ports, at most 4", cfg->ncom);
	for (unsigned i = 0; i < cfg->ncom; i++) {
		const struct acpi_com *c = &cfg->com[i];
		if (c->port == 0 || c->port > 0xffff - 7)
			return errmsg(err, errlen, "acpi: COM%u port 0x%x is not an 8-port range",
				    i + 1, c->port);
		if (c->irq > 15)
			return errmsg(err, errlen, "acpi: COM%u IRQ %u, must be an ISA IRQ 0..15",
				    i + 1, c->irq);
	}
	if (gpa % 16)
		return errmsg(err, errlen,
			    "acpi: address 0x%llx is not 16-byte aligned, as the RSDP must be",
			    (unsigned long long)gpa);
	return 0;
}

static size_t align_to(uint64_t gpa, size_t off, size_t align)
{
	uint64_t a = (gpa + off + align - 1) & ~(uint64_t)(align - 1);
	return (size_t)(a - gpa);
}

long acpi_build(uint8_t *dst, uint64_t gpa, size_t max, const struct acpi_config *cfg,
		char *err, size_t errlen)
{
	if (check_config(cfg, gpa, err, errlen))
		return -1;

	struct aml measure;
	aml_init(&measure, NULL, 0);
	dsdt_aml(&measure, cfg);
	if (measure.error)
		return errmsg(err, errlen, "acpi: DSDT: %s", measure.error);

	/* The tables the XSDT lists. */
	enum { X_FADT, X_MADT, X_COUNT };
	struct layout l;
	l.rsdp = 0;
	l.xsdt_len = HDR_LEN + 8 * X_COUNT;
	l.madt_len = madt_len(cfg);
	l.dsdt_len = HDR_LEN + measure.len;
	l.xsdt = align_to(gpa, l.rsdp + RSDP_LEN, 16);
	l.fadt = align_to(gpa, l.xsdt + l.xsdt_len, 16);
	l.facs = align_to(gpa, l.fadt + FADT_LEN, 64);
	l.madt = align_to(gpa, l.facs + FACS_LEN, 16);
	l.dsdt = align_to(gpa, l.madt + l.madt_len, 16);
	l.total = l.dsdt + l.dsdt_len;

	if (l.total > max)
		return errmsg(err, errlen, "acpi: the tables need %zu bytes, only %zu available",
			    l.total, max);
	if (gpa > UINT32_MAX || l.total > (1ull << 32) - gpa)
		return errmsg(err, errlen,
			    "acpi: tables at 0x%llx..0x%llx do not fit below 4 GiB",
			    (unsigned long long)gpa, (unsigned long long)(gpa + l.total));

	memset(dst, 0, l.total);
	uint64_t entries[X_COUNT];
	entries[X_FADT] = gpa + l.fadt;
	entries[X_MADT] = gpa + l.madt;
	fadt(dst + l.fadt, gpa + l.facs, gpa + l.dsdt);
	facs(dst + l.facs);
	madt(dst + l.madt, l.madt_len, cfg);
	dsdt(dst + l.dsdt, l.dsdt_len, cfg);
	xsdt(dst + l.xsdt, l.xsdt_len, entries, X_COUNT);
	rsdp(dst + l.rsdp, gpa + l.xsdt);
	return (long)l.total;
}
