/* ACPI tables for a direct-booted guest: RSDP, XSDT, FADT (PM1a event and
 * control blocks in port space, reset register), FACS, MADT (every vCPU's
 * local APIC, the IOAPIC, ISA interrupt overrides) and a DSDT (the COM ports,
 * the \_S5 sleep object), so the guest sees every vCPU and its power-off
 * reaches the core. */
#ifndef CELLVM_VMM_CORE_ACPI_H
#define CELLVM_VMM_CORE_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct acpi_com {
	uint16_t port;
	uint8_t irq;
};

struct acpi_config {
	unsigned ncpus;       /* 1..64; APIC ids 0..ncpus-1 */
	unsigned ncom;        /* 0..4 */
	struct acpi_com com[4];
};

/* Builds the tables into dst, which the guest sees at physical address gpa
 * (the RSDP is first, at gpa itself).  Returns the bytes used, or -1 with
 * err if they do not fit in max.  Port numbers and addresses come from
 * layout.h. */
long acpi_build(uint8_t *dst, uint64_t gpa, size_t max, const struct acpi_config *cfg,
		char *err, size_t errlen);

#endif
