/* Unit tests of the PCI configuration mechanism and config space
 * (vmm-core/pci.c), driven through the ports as a guest drives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm-core/pci.h"

static bool acc(struct pci_bus *b, uint16_t port, bool write, uint8_t size, uint32_t *v)
{
	struct pci_write w;
	return pci_port_access(b, port, write, size, v, &w) != PCI_NOT_MINE;
}

static uint32_t cfg_addr(unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

static void select_reg(struct pci_bus *b, unsigned bus, unsigned slot, unsigned fn, unsigned reg)
{
	uint32_t a = cfg_addr(bus, slot, fn, reg);
	assert_true(acc(b, PORT_PCI_ADDRESS, true, 4, &a));
}

static uint32_t rd(struct pci_bus *b, unsigned slot, unsigned reg, uint8_t size)
{
	select_reg(b, 0, slot, 0, reg);
	uint32_t v = 0x12345678;
	assert_true(acc(b, PORT_PCI_DATA + (reg & 3), false, size, &v));
	return v;
}

static void wr(struct pci_bus *b, unsigned slot, unsigned reg, uint8_t size, uint32_t v)
{
	select_reg(b, 0, slot, 0, reg);
	assert_true(acc(b, PORT_PCI_DATA + (reg & 3), true, size, &v));
}

static void test_host_bridge_ids(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	assert_int_equal(rd(&b, 0, 0x00, 4), PCI_HOST_DEVICE << 16 | PCI_HOST_VENDOR);
	assert_int_equal(rd(&b, 0, 0x00, 2), PCI_HOST_VENDOR);
	assert_int_equal(rd(&b, 0, 0x02, 2), PCI_HOST_DEVICE);
	assert_int_equal(rd(&b, 0, 0x01, 1), PCI_HOST_VENDOR >> 8);
	assert_int_equal(rd(&b, 0, 0x08, 4) >> 8, 0x060000); /* class: host bridge */
	assert_int_equal(rd(&b, 0, 0x0e, 1), 0);              /* header type 0 */
}

static void test_address_register(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	uint32_t a = 0xffffffff;
	assert_true(acc(&b, PORT_PCI_ADDRESS, true, 4, &a));
	a = 0;
	assert_true(acc(&b, PORT_PCI_ADDRESS, false, 4, &a));
	assert_int_equal(a, 0x80fffffc); /* reserved bits and the low two read 0 */
	/* Byte 0xcf9 is the reset register, not PCI's; nor are other ports. */
	uint32_t v = 6;
	assert_false(acc(&b, PORT_PCI_ADDRESS + 1, true, 1, &v));
	assert_false(acc(&b, PORT_PCI_ADDRESS, true, 1, &v));
	assert_false(acc(&b, 0x3f8, false, 1, &v));
}

static void test_absent_reads_all_ones(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	assert_int_equal(rd(&b, 5, 0x00, 4), 0xffffffff); /* empty slot */
	select_reg(&b, 1, 0, 0, 0);                        /* another bus */
	uint32_t v = 0;
	assert_true(acc(&b, PORT_PCI_DATA, false, 4, &v));
	assert_int_equal(v, 0xffffffff);
	select_reg(&b, 0, 0, 3, 0); /* function 3 of the host bridge */
	assert_true(acc(&b, PORT_PCI_DATA, false, 2, &v));
	assert_int_equal(v, 0xffffffff);
	uint32_t off = 0x00000000; /* enable bit clear */
	assert_true(acc(&b, PORT_PCI_ADDRESS, true, 4, &off));
	assert_true(acc(&b, PORT_PCI_DATA, false, 4, &v));
	assert_int_equal(v, 0xffffffff);
	/* A word at 0xcff would cross the dword. */
	select_reg(&b, 0, 0, 0, 0);
	assert_true(acc(&b, PORT_PCI_DATA + 3, false, 2, &v));
	assert_int_equal(v, 0xffffffff);
}

static void test_read_only_fields_keep(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	wr(&b, 0, 0x00, 4, 0);            /* ids are read-only */
	assert_int_equal(rd(&b, 0, 0x00, 2), PCI_HOST_VENDOR);
	wr(&b, 0, 0x3c, 1, 11);           /* interrupt line is the OS's scratch */
	assert_int_equal(rd(&b, 0, 0x3c, 1), 11);
	wr(&b, 0, 0x04, 2, 0xffff);       /* only the decode/master/INTx bits stick */
	assert_int_equal(rd(&b, 0, 0x04, 2), 0x0407);
}

static void test_bar_sizing(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	struct pci_function *f = &b.slot[3];
	pci_function_init(f, 0x1af4, 0x1042, 0x010000, 1);
	assert_int_equal(pci_function_set_bar(f, 0, 0x100, PCI_BAR_IO), 0);
	assert_int_equal(pci_function_set_bar(f, 1, 0x1000, 0), 0);
	assert_int_equal(pci_function_set_bar(f, 4, 0x4000, PCI_BAR_MEM64 | PCI_BAR_PREFETCH), 0);

	/* The probe: all-ones in, the size mask and the kind out. */
	wr(&b, 3, 0x10, 4, 0xffffffff);
	assert_int_equal(rd(&b, 3, 0x10, 4), 0xffffff01);
	wr(&b, 3, 0x14, 4, 0xffffffff);
	assert_int_equal(rd(&b, 3, 0x14, 4), 0xfffff000);
	wr(&b, 3, 0x20, 4, 0xffffffff);
	wr(&b, 3, 0x24, 4, 0xffffffff);
	assert_int_equal(rd(&b, 3, 0x20, 4), 0xffffc00c);
	assert_int_equal(rd(&b, 3, 0x24, 4), 0xffffffff);
	/* Placing: the address sticks, rounded to the size. */
	wr(&b, 3, 0x14, 4, 0xc0001234);
	assert_int_equal(rd(&b, 3, 0x14, 4), 0xc0001000);
	/* Unused BARs read 0 whatever is written. */
	wr(&b, 3, 0x18, 4, 0xffffffff);
	assert_int_equal(rd(&b, 3, 0x18, 4), 0);
}

static void test_bar_refusals(void **state)
{
	(void)state;
	struct pci_function f;
	pci_function_init(&f, 1, 2, 0, 0);
	assert_int_equal(pci_function_set_bar(&f, 6, 0x1000, 0), -1);
	assert_int_equal(pci_function_set_bar(&f, 5, 0x1000, PCI_BAR_MEM64), -1);
	assert_int_equal(pci_function_set_bar(&f, 0, 0x1800, 0), -1);      /* not a power of 2 */
	assert_int_equal(pci_function_set_bar(&f, 0, 8, 0), -1);           /* memory below 16 */
	assert_int_equal(pci_function_set_bar(&f, 0, 0x20000, PCI_BAR_IO), -1);
	assert_int_equal(pci_function_set_bar(&f, 0, 1ull << 32, 0), -1);  /* 32-bit BAR */
	assert_int_equal(pci_function_set_bar(&f, 0, 1ull << 32, PCI_BAR_MEM64), 0);
}

/* A device process's function: the bytes the core owns come from the core,
 * the rest from the device's page; writes are handed back for the device;
 * BAR programming moves where the function decodes. */
static void test_device_function(void **state)
{
	(void)state;
	struct pci_bus b;
	pci_bus_init(&b);
	static uint8_t page[PCI_CONFIG_SIZE];
	memset(page, 0, sizeof(page));
	page[0] = 0xf4, page[1] = 0x1a, page[2] = 0x42, page[3] = 0x10; /* 1af4:1042 */
	page[0x10] = 0xee; /* a BAR byte the device must not be able to set */
	page[0x40] = 0x11;
	struct pci_function *f = &b.slot[3];
	memset(f, 0, sizeof(*f));
	f->page = page;
	f->device = 0;
	f->wmask[PCI_CFG_COMMAND] = PCI_CMD_MEMORY;
	assert_int_equal(pci_function_set_bar(f, 4, 0x4000, PCI_BAR_MEM64), 0);
	f->present = true;
	assert_int_equal(rd(&b, 3, 0x00, 4), 0x10421af4u);
	assert_int_equal(rd(&b, 3, 0x40, 1), 0x11);
	assert_int_equal(rd(&b, 3, 0x10, 4), 0); /* ours, not the page's */
	assert_int_equal(rd(&b, 3, 0x20, 4), PCI_BAR_MEM64);

	/* A write to a device byte goes back to the caller for the device. */
	struct pci_write w;
	uint32_t a = cfg_addr(0, 3, 0, 0x40), v = 0x8000;
	acc(&b, PORT_PCI_ADDRESS, true, 4, &a);
	assert_int_equal(pci_port_access(&b, PORT_PCI_DATA + 2, true, 2, &v, &w), PCI_DEVICE_WRITE);
	assert_int_equal(w.slot, 3);
	assert_int_equal(w.reg, 0x42);
	assert_int_equal(w.size, 2);
	assert_int_equal(w.val, 0x8000);
	assert_false(w.decode_changed);

	/* Program the 64-bit BAR and enable memory decoding. */
	a = cfg_addr(0, 3, 0, 0x20);
	acc(&b, PORT_PCI_ADDRESS, true, 4, &a);
	v = 0xc0004000;
	assert_int_equal(pci_port_access(&b, PORT_PCI_DATA, true, 4, &v, &w), PCI_DEVICE_WRITE);
	assert_true(w.decode_changed);
	assert_int_equal(pci_function_decode(&b, 3), 0); /* decoding still off */
	unsigned slot, bar;
	uint64_t off;
	assert_false(pci_bar_lookup(&b, 2 /* RING_MMIO */, 0xc0004010, 4, &slot, &bar, &off));
	wr(&b, 3, PCI_CFG_COMMAND, 2, PCI_CMD_MEMORY);
	assert_int_equal(pci_function_decode(&b, 3), 1u << 4);
	assert_true(pci_bar_lookup(&b, 2, 0xc0004010, 4, &slot, &bar, &off));
	assert_int_equal(slot, 3);
	assert_int_equal(bar, 4);
	assert_int_equal(off, 0x10);
	assert_false(pci_bar_lookup(&b, 2, 0xc0007ffe, 4, &slot, &bar, &off)); /* crosses the end */
	assert_false(pci_bar_lookup(&b, 1 /* RING_PIO */, 0xc0004010, 4, &slot, &bar, &off));
	/* Moved above 4 GiB by the high dword. */
	wr(&b, 3, 0x24, 4, 0x1);
	assert_int_equal(pci_function_decode(&b, 3), 1u << 4);
	assert_false(pci_bar_lookup(&b, 2, 0xc0004010, 4, &slot, &bar, &off));
	assert_true(pci_bar_lookup(&b, 2, 0x1c0004010ull, 4, &slot, &bar, &off));
	/* Decoding off again: nothing decodes. */
	wr(&b, 3, PCI_CFG_COMMAND, 2, 0);
	assert_int_equal(pci_function_decode(&b, 3), 1u << 4);
	assert_false(pci_bar_lookup(&b, 2, 0x1c0004010ull, 4, &slot, &bar, &off));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_bridge_ids),
		cmocka_unit_test(test_address_register),
		cmocka_unit_test(test_absent_reads_all_ones),
		cmocka_unit_test(test_read_only_fields_keep),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_bar_refusals),
		cmocka_unit_test(test_device_function),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
