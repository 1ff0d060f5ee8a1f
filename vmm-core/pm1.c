/* PM1a event registers; see pm1.h. */
#include "vmm-core/pm1.h"

/* Enable bits the core implements; the others read back as 0 so that the
 * guest does not wait for events that never come.  A GBL_EN that did not
 * stick would make Linux log "Could not enable GlobalLock event". */
#define PM1_EN_IMPLEMENTED (PM1_PWRBTN | PM1_GBL)

/* The block as 4 little-endian bytes: status, then enable. */
static uint8_t byte_at(const struct pm1_evt *e, unsigned i)
{
	uint16_t w = i < 2 ? e->status : e->enable;
	return (uint8_t)(w >> (8 * (i & 1)));
}

uint32_t pm1_evt_read(const struct pm1_evt *e, unsigned offset, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size && offset + i < 4; i++)
		v |= (uint32_t)byte_at(e, offset + i) << (8 * i);
	return v;
}

void pm1_evt_write(struct pm1_evt *e, unsigned offset, unsigned size, uint32_t val)
{
	for (unsigned i = 0; i < size && offset + i < 4; i++) {
		unsigned at = offset + i;
		uint16_t bits = (uint16_t)((val >> (8 * i)) & 0xff) << (8 * (at & 1));
		uint16_t mask = (uint16_t)(0xffu << (8 * (at & 1)));
		if (at < 2) {
			e->status &= (uint16_t)~bits; /* write 1 to clear */
		} else {
			e->enable = (uint16_t)((e->enable & ~mask) | bits);
			e->enable &= PM1_EN_IMPLEMENTED;
		}
	}
}

void pm1_press_power_button(struct pm1_evt *e)
{
	e->status |= PM1_PWRBTN;
}

bool pm1_sci_level(const struct pm1_evt *e)
{
	return (e->status & e->enable) != 0;
}
