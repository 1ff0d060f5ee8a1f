/* MSI-X as the core emulates it (vmm-core/msix.c): finding the capability
 * in a device's (untrusted) configuration space, the table's semantics,
 * and which vectors are live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm-core/msix.h"

static uint8_t cfg[PCI_CONFIG_SIZE];
static struct pci_bar bars[PCI_BARS];

/* A function with MSI-X (NVEC vectors, table at 0 and PBA at 0x800 of BAR 1)
 * behind one other capability. */
static void make_config(unsigned nvec)
{
	memset(cfg, 0, sizeof(cfg));
	memset(bars, 0, sizeof(bars));
	bars[1] = (struct pci_bar){.size = 0x1000};
	cfg[0x06] = 0x10;
	cfg[PCI_CFG_CAP_PTR] = 0x40;
	cfg[0x40] = 0x09, cfg[0x41] = 0x50; /* vendor-specific, then MSI-X */
	cfg[0x50] = PCI_CAP_ID_MSIX;
	cfg[0x52] = (uint8_t)(nvec - 1);
	cfg[0x54] = 1;		      /* table: BIR 1, offset 0 */
	cfg[0x58] = 1, cfg[0x59] = 0x08; /* PBA: BIR 1, offset 0x800 */
}

static void test_parse(void **state)
{
	(void)state;
	struct msix m;
	char err[160];
	make_config(5);
	assert_int_equal(msix_parse(&m, cfg, bars, 5, err, sizeof(err)), 0);
	assert_int_equal(m.nvec, 5);
	assert_int_equal(m.cap, 0x50);
	assert_int_equal(m.table_bar, 1);
	assert_int_equal(m.table_off, 0);
	assert_int_equal(m.pba_off, 0x800);
	for (unsigned v = 0; v < 5; v++)
		assert_true(m.vec[v].ctrl & MSIX_VECTOR_MASKED); /* masked at reset */
	/* Fewer eventfds than vectors, a table outside its BAR, an I/O BAR. */
	assert_int_equal(msix_parse(&m, cfg, bars, 4, err, sizeof(err)), -1);
	make_config(5);
	cfg[0x55] = 0x10; /* table at 0x1000: past the 4 KiB BAR */
	assert_int_equal(msix_parse(&m, cfg, bars, 5, err, sizeof(err)), -1);
	make_config(5);
	bars[1].kind = PCI_BAR_IO;
	assert_int_equal(msix_parse(&m, cfg, bars, 5, err, sizeof(err)), -1);
	/* No capability: fine without eventfds, refused with them. */
	make_config(5);
	cfg[0x06] = 0;
	assert_int_equal(msix_parse(&m, cfg, bars, 0, err, sizeof(err)), 0);
	assert_int_equal(m.nvec, 0);
	assert_int_equal(msix_parse(&m, cfg, bars, 2, err, sizeof(err)), -1);
}

static void test_capability_loop(void **state)
{
	(void)state;
	struct msix m;
	char err[160];
	make_config(2);
	cfg[0x41] = 0x40; /* the list points at itself: must end */
	assert_int_equal(msix_parse(&m, cfg, bars, 0, err, sizeof(err)), 0);
	assert_int_equal(m.nvec, 0);
	cfg[PCI_CFG_CAP_PTR] = 0xfc; /* inside the last dword: no room */
	assert_int_equal(msix_parse(&m, cfg, bars, 0, err, sizeof(err)), 0);
}

static void test_table(void **state)
{
	(void)state;
	struct msix m;
	char err[160];
	make_config(3);
	assert_int_equal(msix_parse(&m, cfg, bars, 3, err, sizeof(err)), 0);
	assert_true(msix_claims(&m, 1, 0x10, 4));
	assert_true(msix_claims(&m, 1, 0x800, 8));
	assert_false(msix_claims(&m, 1, 0x30, 4)); /* past 3 entries */
	assert_false(msix_claims(&m, 4, 0x10, 4)); /* another BAR */
	m.dirty = false;
	msix_write(&m, 1, 0x10, 8, 0x00000000fee01000ull); /* vector 1 address */
	msix_write(&m, 1, 0x18, 4, 0x41);		     /* data */
	assert_true(m.dirty);
	assert_int_equal(msix_read(&m, 1, 0x10, 4), 0xfee01000);
	assert_int_equal(msix_read(&m, 1, 0x18, 4), 0x41);
	assert_int_equal(msix_read(&m, 1, 0x1c, 4), MSIX_VECTOR_MASKED);
	assert_int_equal(msix_read(&m, 1, 0x12, 2), ~0ull); /* not a dword */
	assert_int_equal(msix_read(&m, 1, 0x800, 8), 0);
	/* Reserved control bits stay 0. */
	msix_write(&m, 1, 0x1c, 4, 0xfffffffe);
	assert_int_equal(msix_read(&m, 1, 0x1c, 4), 0);
	/* Live only when enabled, not masked as a whole, and unmasked. */
	assert_false(msix_vector_live(&m, 1));
	msix_set_control(&m, MSIX_CTRL_ENABLE);
	assert_true(msix_vector_live(&m, 1));
	assert_false(msix_vector_live(&m, 0));
	msix_set_control(&m, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	assert_false(msix_vector_live(&m, 1));
	m.dirty = false;
	msix_write(&m, 1, 0x18, 4, 0x41); /* same value: nothing to redo */
	assert_false(m.dirty);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_capability_loop),
		cmocka_unit_test(test_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
