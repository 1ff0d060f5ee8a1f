/* The ACPI PM1a event block (status and enable words at PORT_PM1A_EVT and
 * PORT_PM1A_EVT + 2) with the one event the core raises: the fixed-feature
 * power button.  Pure register logic; the caller holds the VM's lock and
 * drives the SCI line with pm1_sci_level's answer. */
#ifndef CELLVM_VMM_CORE_PM1_H
#define CELLVM_VMM_CORE_PM1_H

#include <stdbool.h>
#include <stdint.h>

#define PM1_PWRBTN (1u << 8) /* PWRBTN_STS in status, PWRBTN_EN in enable */
/* GBL_EN: kept so that the guest's ACPI finds the FACS global lock usable.
 * No firmware ever holds that lock, so GBL_STS is never set. */
#define PM1_GBL (1u << 5)

struct pm1_evt {
	uint16_t status;
	uint16_t enable;
};

/* A guest read of SIZE (1, 2 or 4) bytes at OFFSET (0..3) into the block. */
uint32_t pm1_evt_read(const struct pm1_evt *e, unsigned offset, unsigned size);
/* A guest write: status bits are write-1-to-clear, enable bits are kept
 * as written (only the ones the core implements). */
void pm1_evt_write(struct pm1_evt *e, unsigned offset, unsigned size, uint32_t val);
/* The power button was pressed: PWRBTN_STS is set (it stays set until the
 * guest clears it, as on hardware). */
void pm1_press_power_button(struct pm1_evt *e);
/* Whether the SCI should be asserted: an enabled status bit is set. */
bool pm1_sci_level(const struct pm1_evt *e);

#endif
