/* The PM1a event block's register logic (vmm-core/pm1.c): the power button
 * sets PWRBTN_STS, the SCI follows status & enable, status bits are
 * write-1-to-clear (a 0 leaves them), enable bits read back as written,
 * byte and word accesses see the same little-endian registers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vmm-core/pm1.h"

static void test_reset_state_is_quiet(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	assert_int_equal(pm1_evt_read(&e, 0, 4), 0);
	assert_false(pm1_sci_level(&e));
}

static void test_button_needs_enable_for_sci(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	pm1_press_power_button(&e);
	assert_int_equal(pm1_evt_read(&e, 0, 2), PM1_PWRBTN);
	assert_false(pm1_sci_level(&e)); /* not enabled: no SCI */
	pm1_evt_write(&e, 2, 2, PM1_PWRBTN);
	assert_int_equal(pm1_evt_read(&e, 2, 2), PM1_PWRBTN);
	assert_true(pm1_sci_level(&e));
}

static void test_status_write_one_to_clear(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	pm1_evt_write(&e, 2, 2, PM1_PWRBTN);
	pm1_press_power_button(&e);
	pm1_evt_write(&e, 0, 2, 0); /* writing 0 changes nothing */
	assert_int_equal(pm1_evt_read(&e, 0, 2), PM1_PWRBTN);
	assert_true(pm1_sci_level(&e));
	pm1_evt_write(&e, 0, 2, 0xfeff); /* every bit but PWRBTN_STS */
	assert_int_equal(pm1_evt_read(&e, 0, 2), PM1_PWRBTN);
	pm1_evt_write(&e, 0, 2, PM1_PWRBTN);
	assert_int_equal(pm1_evt_read(&e, 0, 2), 0);
	assert_false(pm1_sci_level(&e));
	/* The enable bit stays: the next press raises the SCI again. */
	pm1_press_power_button(&e);
	assert_true(pm1_sci_level(&e));
}

static void test_byte_accesses(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	pm1_press_power_button(&e);
	assert_int_equal(pm1_evt_read(&e, 0, 1), 0);
	assert_int_equal(pm1_evt_read(&e, 1, 1), 1); /* bit 8: the high byte */
	pm1_evt_write(&e, 3, 1, 1);		      /* PWRBTN_EN, high byte */
	assert_int_equal(pm1_evt_read(&e, 2, 2), PM1_PWRBTN);
	assert_int_equal(pm1_evt_read(&e, 0, 4), PM1_PWRBTN | (PM1_PWRBTN << 16));
	pm1_evt_write(&e, 0, 1, 0xff); /* low status byte: PWRBTN_STS stays */
	assert_true(pm1_sci_level(&e));
	pm1_evt_write(&e, 1, 1, 1);
	assert_false(pm1_sci_level(&e));
	/* A dword write covers status and enable at once. */
	pm1_press_power_button(&e);
	pm1_evt_write(&e, 0, 4, PM1_PWRBTN);
	assert_int_equal(pm1_evt_read(&e, 0, 4), 0);
}

static void test_unimplemented_enables_read_zero(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	pm1_evt_write(&e, 2, 2, 0xffff);
	assert_int_equal(pm1_evt_read(&e, 2, 2), PM1_PWRBTN | PM1_GBL);
}

/* Linux enables the global lock event at boot and reads GBL_EN back. */
static void test_global_lock_enable_sticks(void **state)
{
	(void)state;
	struct pm1_evt e = {0};
	pm1_evt_write(&e, 2, 2, PM1_GBL);
	assert_int_equal(pm1_evt_read(&e, 2, 2), PM1_GBL);
	assert_false(pm1_sci_level(&e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state_is_quiet),
		cmocka_unit_test(test_button_needs_enable_for_sci),
		cmocka_unit_test(test_status_write_one_to_clear),
		cmocka_unit_test(test_byte_accesses),
		cmocka_unit_test(test_unimplemented_enables_read_zero),
		cmocka_unit_test(test_global_lock_enable_sticks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
