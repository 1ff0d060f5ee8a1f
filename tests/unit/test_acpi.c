/* ACPI table tests: the tables are walked from the RSDP as an OS would
 * (signatures, lengths, checksums, pointers), the FADT's and MADT's fields
 * checked, and the DSDT's AML parsed by a small decoder of its own (not the
 * encoder's code) into a namespace that the tests look names up in.  The AML
 * encoder has tests of its own (PkgLength boundaries, names, integers, EISA
 * ids, resource templates, overflow).  When iasl (acpica-tools) is installed,
 * the tables are also disassembled by it and the DSDT recompiled from the
 * disassembly, which must give back the same AML.
 *
 * CELLVM_ACPI_DUMP_DIR=DIR keeps the dumped tables and iasl's output there. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm-core/acpi.h"
#include "vmm-core/pci.h"
#include "vmm-core/aml.h"
#include "vmm-core/layout.h"

#define PNP0501 0x0105d041u
#define BUF_MAX GUEST_ACPI_MAX

static const struct acpi_com std_com[4] = {
	{0x3f8, 4}, {0x2f8, 3}, {0x3e8, 4}, {0x2e8, 3}};
/* Unusual ports and IRQs, so that nothing can be hard-coded. */
static const struct acpi_com odd_com[4] = {
	{0x1000, 11}, {0x0ff8, 15}, {0x0100, 0}, {0xfff0, 7}};

/* --- little helpers --------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static struct acpi_config config(unsigned ncpus, unsigned ncom, const struct acpi_com *com)
{
	struct acpi_config c;
	memset(&c, 0, sizeof(c));
	c.ncpus = ncpus;
	c.ncom = ncom;
	for (unsigned i = 0; i < ncom; i++)
		c.com[i] = com[i];
	return c;
}

/* --- walking the tables from the RSDP ---------------------------------------- */

struct tables {
	const uint8_t *buf;
	uint64_t gpa;
	size_t total;
	const uint8_t *rsdp, *xsdt, *fadt, *facs, *madt, *dsdt;
};

/* The table at guest address a, checked to lie inside the buffer. */
static const uint8_t *at(const struct tables *t, uint64_t a, size_t len)
{
	assert_true(a >= t->gpa);
	assert_true(a - t->gpa <= t->total);
	assert_true(len <= t->total - (a - t->gpa));
	return t->buf + (a - t->gpa);
}

/* A table with a standard header: its length in bounds and checksum 0. */
static const uint8_t *sdt(const struct tables *t, uint64_t a, const char *sig)
{
	const uint8_t *p = at(t, a, 36);
	assert_memory_equal(p, sig, 4);
	uint32_t len = rd32(p + 4);
	assert_true(len >= 36);
	at(t, a, len);
	assert_int_equal(sum8(p, len), 0);
	assert_memory_equal(p + 10, "CELLVM", 6);
	assert_int_equal(rd32(p + 24), 1); /* OEM revision */
	return p;
}

static uint32_t len_of(const uint8_t *table)
{
	return table == NULL ? 0 : rd32(table + 4);
}

/* Walks from the RSDP; every table found, every length and checksum right,
 * no two tables overlapping, and the last ending at total. */
static void walk(struct tables *t, const uint8_t *buf, uint64_t gpa, size_t total)
{
	memset(t, 0, sizeof(*t));
	t->buf = buf;
	t->gpa = gpa;
	t->total = total;

	t->rsdp = at(t, gpa, 36);
	assert_memory_equal(t->rsdp, "RSD PTR ", 8);
	assert_int_equal(sum8(t->rsdp, 20), 0);
	assert_int_equal(sum8(t->rsdp, 36), 0);
	assert_int_equal(t->rsdp[15], 2);
	assert_int_equal(rd32(t->rsdp + 20), 36);
	assert_memory_equal(t->rsdp + 9, "CELLVM", 6);

	t->xsdt = sdt(t, rd64(t->rsdp + 24), "XSDT");
	uint32_t xlen = len_of(t->xsdt);
	assert_int_equal((xlen - 36) % 8, 0);
	for (uint32_t off = 36; off < xlen; off += 8) {
		uint64_t a = rd64(t->xsdt + off);
		const uint8_t *p = at(t, a, 36);
		if (!memcmp(p, "FACP", 4)) {
			assert_null(t->fadt);
			t->fadt = sdt(t, a, "FACP");
		} else if (!memcmp(p, "APIC", 4)) {
			assert_null(t->madt);
			t->madt = sdt(t, a, "APIC");
		} else {
			fail_msg("XSDT entry %u: unexpected table %.4s", (off - 36) / 8, p);
		}
	}
	assert_non_null(t->fadt);
	assert_non_null(t->madt);

	uint64_t facs = rd64(t->fadt + 132), dsdt = rd64(t->fadt + 140);
	assert_int_equal(rd32(t->fadt + 36), facs);
	assert_int_equal(rd32(t->fadt + 40), dsdt);
	t->facs = at(t, facs, 64);
	assert_memory_equal(t->facs, "FACS", 4);
	assert_int_equal(rd32(t->facs + 4), 64);
	assert_int_equal(facs % 64, 0);
	t->dsdt = sdt(t, dsdt, "DSDT");
	assert_true(t->dsdt[8] >= 2); /* 64-bit integers */

	const uint8_t *all[] = {t->rsdp, t->xsdt, t->fadt, t->facs, t->madt, t->dsdt};
	size_t lens[] = {36, xlen, len_of(t->fadt), 64, len_of(t->madt), len_of(t->dsdt)};
	size_t end = 0;
	for (size_t i = 0; i < 6; i++) {
		size_t a = (size_t)(all[i] - buf);
		if (a + lens[i] > end)
			end = a + lens[i];
		for (size_t j = 0; j < i; j++) {
			size_t b = (size_t)(all[j] - buf);
			assert_true(a + lens[i] <= b || b + lens[j] <= a);
		}
	}
	assert_int_equal(end, total);
}

/* --- a small AML decoder for the DSDT -------------------------------------- */

enum obj_kind { OBJ_INT, OBJ_PKG, OBJ_BUF, OBJ_DEV, OBJ_SCOPE };

struct ns_obj {
	char path[64];
	enum obj_kind kind;
	uint64_t val;     /* OBJ_INT */
	uint64_t pkg[8];  /* OBJ_PKG: integer elements */
	unsigned npkg;
	const uint8_t *data; /* OBJ_BUF bytes; any: where the encoding starts */
	size_t len;
};

struct ns {
	struct ns_obj o[64];
	unsigned n;
	uint64_t rows[128][4]; /* the rows of a package of packages (_PRT) */
	unsigned nrows;
};

static const struct ns_obj *ns_find(const struct ns *ns, const char *path)
{
	for (unsigned i = 0; i < ns->n; i++)
		if (!strcmp(ns->o[i].path, path))
			return &ns->o[i];
	return NULL;
}

static struct ns_obj *ns_add(struct ns *ns, const char *path, enum obj_kind kind,
			     const uint8_t *data)
{
	assert_null(ns_find(ns, path));
	assert_true(ns->n < 64);
	struct ns_obj *o = &ns->o[ns->n++];
	memset(o, 0, sizeof(*o));
	snprintf(o->path, sizeof(o->path), "%s", path);
	o->kind = kind;
	o->data = data;
	return o;
}

/* PkgLength; returns where the package ends, checked to be within end, and
 * the encoding checked to be the shortest. */
static const uint8_t *pkglength(const uint8_t **pp, const uint8_t *end)
{
	const uint8_t *p = *pp;
	assert_true(p < end);
	unsigned follow = p[0] >> 6;
	size_t len;
	if (follow == 0) {
		len = p[0] & 0x3f;
	} else {
		assert_int_equal(p[0] & 0x30, 0);
		assert_true(p + follow < end);
		len = p[0] & 0x0f;
		for (unsigned i = 1; i <= follow; i++)
			len |= (size_t)p[i] << (4 + 8 * (i - 1));
	}
	static const size_t limit[4] = {0x3f, 0xfff, 0xfffff, 0xfffffff};
	if (follow > 0)
		assert_true(len > limit[follow - 1]);
	assert_true(len >= follow + 1u);
	assert_true(len <= (size_t)(end - p));
	*pp = p + follow + 1;
	return p + len;
}

static bool seg_ok(const uint8_t *s)
{
	for (int i = 0; i < 4; i++) {
		bool up = s[i] >= 'A' && s[i] <= 'Z', digit = s[i] >= '0' && s[i] <= '9';
		if (!(up || s[i] == '_' || (i > 0 && digit)))
			return false;
	}
	return true;
}

/* NameString into "\\A.B" or "A.B" form. */
static void namestring(const uint8_t **pp, const uint8_t *end, char *out, size_t outlen)
{
	const uint8_t *p = *pp;
	size_t o = 0;
	out[0] = 0;
	assert_true(p < end);
	if (*p == '\\')
		out[o++] = *p++;
	unsigned count = 1;
	assert_true(p < end);
	if (*p == 0x2e) {
		count = 2;
		p++;
	} else if (*p == 0x2f) {
		assert_true(p + 1 < end);
		count = p[1];
		p += 2;
	} else if (*p == 0) {
		count = 0;
		p++;
	}
	for (unsigned i = 0; i < count; i++) {
		assert_true(p + 4 <= end);
		assert_true(seg_ok(p));
		assert_true(o + 6 < outlen);
		if (i)
			out[o++] = '.';
		memcpy(out + o, p, 4);
		o += 4;
		p += 4;
	}
	out[o] = 0;
	*pp = p;
}

static void join(char *out, size_t outlen, const char *scope, const char *name)
{
	if (name[0] == '\\')
		snprintf(out, outlen, "%s", name);
	else if (!strcmp(scope, "\\"))
		snprintf(out, outlen, "\\%s", name);
	else
		snprintf(out, outlen, "%s.%s", scope, name);
}

static bool integer(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	assert_true(p < end);
	unsigned n;
	switch (*p) {
	case 0x00: *v = 0; *pp = p + 1; return true;
	case 0x01: *v = 1; *pp = p + 1; return true;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: return false;
	}
	assert_true(p + 1 + n <= end);
	*v = 0;
	for (unsigned i = 0; i < n; i++)
		*v |= (uint64_t)p[1 + i] << (8 * i);
	*pp = p + 1 + n;
	return true;
}

static void data_object(const uint8_t **pp, const uint8_t *end, struct ns *ns, const char *path)
{
	const uint8_t *p = *pp;
	uint64_t v;
	if (integer(&p, end, &v)) {
		ns_add(ns, path, OBJ_INT, *pp)->val = v;
	} else if (*p == 0x12) { /* Package */
		p++;
		const uint8_t *pend = pkglength(&p, end);
		assert_true(p < pend);
		struct ns_obj *o = ns_add(ns, path, OBJ_PKG, *pp);
		unsigned count = *p++;
		while (p < pend && *p == 0x12) { /* rows: packages of 4 integers */
			p++;
			const uint8_t *rend = pkglength(&p, pend);
			assert_true(p < rend && ns->nrows < 128);
			assert_int_equal(*p++, 4);
			for (unsigned i = 0; i < 4; i++)
				assert_true(integer(&p, rend, &ns->rows[ns->nrows][i]));
			assert_ptr_equal(p, rend);
			ns->nrows++;
			o->npkg++;
		}
		while (p < pend) {
			assert_true(o->npkg < 8);
			assert_true(integer(&p, pend, &o->pkg[o->npkg]));
			o->npkg++;
		}
		assert_int_equal(o->npkg, count);
		assert_ptr_equal(p, pend);
	} else if (*p == 0x11) { /* Buffer */
		p++;
		const uint8_t *bend = pkglength(&p, end);
		assert_true(integer(&p, bend, &v));
		assert_int_equal(v, (size_t)(bend - p));
		struct ns_obj *o = ns_add(ns, path, OBJ_BUF, *pp);
		o->data = p;
		o->len = (size_t)(bend - p);
		p = bend;
	} else {
		fail_msg("%s: unexpected data object opcode 0x%02x", path, *p);
	}
	*pp = p;
}

static void term_list(const uint8_t *p, const uint8_t *end, struct ns *ns, const char *scope)
{
	char name[64], path[64];
	while (p < end) {
		const uint8_t *op = p;
		if (*p == 0x08) { /* Name */
			p++;
			namestring(&p, end, name, sizeof(name));
			join(path, sizeof(path), scope, name);
			data_object(&p, end, ns, path);
		} else if (*p == 0x10) { /* Scope */
			p++;
			const uint8_t *send = pkglength(&p, end);
			namestring(&p, send, name, sizeof(name));
			join(path, sizeof(path), scope, name);
			ns_add(ns, path, OBJ_SCOPE, op);
			term_list(p, send, ns, path);
			p = send;
		} else if (p[0] == 0x5b && p + 1 < end && p[1] == 0x82) { /* Device */
			p += 2;
			const uint8_t *dend = pkglength(&p, end);
			namestring(&p, dend, name, sizeof(name));
			join(path, sizeof(path), scope, name);
			ns_add(ns, path, OBJ_DEV, op);
			term_list(p, dend, ns, path);
			p = dend;
		} else {
			fail_msg("in %s: unexpected opcode 0x%02x", scope, *p);
		}
	}
	assert_ptr_equal(p, end);
}

static void parse_dsdt(const struct tables *t, struct ns *ns)
{
	ns->n = 0;
	ns->nrows = 0;
	term_list(t->dsdt + 36, t->dsdt + len_of(t->dsdt), ns, "\\");
}

static const struct ns_obj *need(const struct ns *ns, const char *path, enum obj_kind kind)
{
	const struct ns_obj *o = ns_find(ns, path);
	if (!o)
		fail_msg("%s missing from the DSDT", path);
	assert_int_equal(o->kind, kind);
	return o;
}

/* --- checks of each table --------------------------------------------------- */

static long build(uint8_t *buf, uint64_t gpa, const struct acpi_config *c)
{
	char err[200] = "";
	long n = acpi_build(buf, gpa, BUF_MAX, c, err, sizeof(err));
	if (n < 0)
		fail_msg("acpi_build: %s", err);
	return n;
}

static void check_gas(const uint8_t *g, uint8_t space, uint8_t bits, uint64_t addr)
{
	assert_int_equal(g[0], space);
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(rd64(g + 4), addr);
}

static void check_fadt(const struct tables *t)
{
	const uint8_t *f = t->fadt;
	assert_int_equal(len_of(f), 276);
	assert_int_equal(f[8], 6);
	/* The pointers, both widths, to where the walk found the tables. */
	assert_int_equal(rd32(f + 36), t->gpa + (uint64_t)(t->facs - t->buf));
	assert_int_equal(rd64(f + 132), t->gpa + (uint64_t)(t->facs - t->buf));
	assert_int_equal(rd32(f + 40), t->gpa + (uint64_t)(t->dsdt - t->buf));
	assert_int_equal(rd64(f + 140), t->gpa + (uint64_t)(t->dsdt - t->buf));
	assert_int_equal(rd16(f + 46), ACPI_SCI_IRQ);
	assert_int_equal(rd32(f + 48), 0); /* SMI_CMD: ACPI always on */
	assert_int_equal(f[52], 0);
	assert_int_equal(f[53], 0);
	assert_int_equal(rd32(f + 56), PORT_PM1A_EVT);
	assert_int_equal(rd32(f + 60), 0); /* no PM1b */
	assert_int_equal(rd32(f + 64), PORT_PM1A_CNT);
	assert_int_equal(rd32(f + 68), 0);
	assert_int_equal(rd32(f + 76), 0); /* no PM timer */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 0);
	assert_true(rd16(f + 96) > 100); /* no C2 */
	assert_true(rd16(f + 98) > 1000); /* no C3 */
	uint16_t boot = rd16(f + 109);
	assert_true(boot & 1);     /* legacy devices */
	assert_false(boot & 2);    /* no 8042 */
	uint32_t flags = rd32(f + 112);
	assert_true(flags & (1u << 0));  /* WBINVD */
	assert_true(flags & (1u << 2));  /* PROC_C1 */
	assert_false(flags & (1u << 4)); /* a fixed power button (vmm-core/pm1.c) */
	assert_true(flags & (1u << 5));  /* no fixed sleep button */
	assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
	assert_false(flags & (1u << 20)); /* not hardware-reduced */
	check_gas(f + 116, 1, 8, PORT_RESET);
	assert_int_equal(f[128], 0x06);
	check_gas(f + 148, 1, 32, PORT_PM1A_EVT);
	check_gas(f + 172, 1, 16, PORT_PM1A_CNT);
	check_gas(f + 160, 0, 0, 0); /* X_PM1b_EVT */
	check_gas(f + 208, 0, 0, 0); /* X_PM_TMR */
}

static void check_madt(const struct tables *t, unsigned ncpus)
{
	const uint8_t *m = t->madt;
	uint32_t len = len_of(m);
	assert_int_equal(rd32(m + 36), GUEST_LAPIC_ADDR);
	assert_int_equal(rd32(m + 40) & 1, 1); /* PCAT_COMPAT */
	unsigned lapics = 0, ioapics = 0, nmis = 0, ioapic_id = 0;
	bool seen_id[256] = {false};
	bool irq0 = false, irq9 = false;
	uint32_t off = 44;
	while (off < len) {
		assert_true(off + 2 <= len);
		uint8_t type = m[off], elen = m[off + 1];
		assert_true(elen >= 2 && off + elen <= len);
		const uint8_t *e = m + off;
		switch (type) {
		case 0:
			assert_int_equal(elen, 8);
			assert_int_equal(e[2], lapics); /* processor UID */
			assert_int_equal(e[3], lapics); /* APIC id */
			assert_false(seen_id[e[3]]);
			seen_id[e[3]] = true;
			assert_int_equal(rd32(e + 4) & 1, 1); /* enabled */
			lapics++;
			break;
		case 1:
			assert_int_equal(elen, 12);
			ioapic_id = e[2];
			assert_int_equal(rd32(e + 4), GUEST_IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(elen, 10);
			assert_int_equal(e[2], 0); /* ISA */
			if (e[3] == 0) {
				assert_false(irq0);
				irq0 = true;
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
			} else if (e[3] == ACPI_SCI_IRQ) {
				assert_false(irq9);
				irq9 = true;
				assert_int_equal(rd32(e + 4), ACPI_SCI_IRQ);
				assert_int_equal(rd16(e + 8), 0x000d);
			} else {
				fail_msg("unexpected override of IRQ %u", e[3]);
			}
			break;
		case 4:
			assert_int_equal(elen, 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(rd16(e + 3), 0);
			assert_int_equal(e[5], 1);
			nmis++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", type);
		}
		off += elen;
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_false(seen_id[ioapic_id]); /* no clash with a local APIC */
	assert_int_equal(nmis, 1);
	assert_true(irq0 && irq9);
}

static void check_dsdt(const struct tables *t, const struct acpi_config *c)
{
	struct ns ns;
	parse_dsdt(t, &ns);

	const struct ns_obj *s5 = need(&ns, "\\_S5_", OBJ_PKG);
	assert_int_equal(s5->npkg, 4);
	assert_int_equal(s5->pkg[0], ACPI_S5_SLP_TYP);
	assert_int_equal(s5->pkg[0], 5);
	need(&ns, "\\_SB_", OBJ_SCOPE);

	unsigned devices = 0;
	for (unsigned i = 0; i < ns.n; i++)
		devices += ns.o[i].kind == OBJ_DEV;
	assert_int_equal(devices, c->ncom + 1); /* the COM ports and PCI0 */
	need(&ns, "\\_SB_.PCI0", OBJ_DEV);
	/* _PRT: every pin of slots 1..31 on a level GSI 16..23, as pci_intx_gsi. */
	const struct ns_obj *prt = need(&ns, "\\_SB_.PCI0._PRT", OBJ_PKG);
	assert_int_equal(prt->npkg, 31 * 4);
	assert_int_equal(ns.nrows, 31 * 4);
	for (unsigned i = 0; i < ns.nrows; i++) {
		unsigned slot = 1 + i / 4, pin = i % 4;
		assert_int_equal(ns.rows[i][0], (uint64_t)slot << 16 | 0xffff);
		assert_int_equal(ns.rows[i][1], pin);
		assert_int_equal(ns.rows[i][2], 0);
		assert_int_equal(ns.rows[i][3], pci_intx_gsi(slot, pin));
		assert_in_range(ns.rows[i][3], 16, 23);
	}

	for (unsigned i = 0; i < 4; i++) {
		char path[64];
		snprintf(path, sizeof(path), "\\_SB_.COM%u", i + 1);
		if (i >= c->ncom) {
			assert_null(ns_find(&ns, path));
			continue;
		}
		need(&ns, path, OBJ_DEV);
		char p2[80];
		snprintf(p2, sizeof(p2), "%s._HID", path);
		const struct ns_obj *hid = need(&ns, p2, OBJ_INT);
		assert_int_equal(hid->val, PNP0501);
		static const uint8_t eisa[5] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
		assert_memory_equal(hid->data, eisa, 5); /* DWordPrefix, as EISAID is */
		snprintf(p2, sizeof(p2), "%s._UID", path);
		assert_int_equal(need(&ns, p2, OBJ_INT)->val, i + 1);
		snprintf(p2, sizeof(p2), "%s._STA", path);
		assert_int_equal(need(&ns, p2, OBJ_INT)->val, 0x0f);

		snprintf(p2, sizeof(p2), "%s._CRS", path);
		const struct ns_obj *crs = need(&ns, p2, OBJ_BUF);
		const struct acpi_com *com = &c->com[i];
		uint16_t mask = (uint16_t)(1u << com->irq);
		const uint8_t want[] = {
			0x47, 0x01, (uint8_t)com->port, (uint8_t)(com->port >> 8),
			(uint8_t)com->port, (uint8_t)(com->port >> 8), 0x01, 0x08, /* IO */
			0x22, (uint8_t)mask, (uint8_t)(mask >> 8),                  /* IRQNoFlags */
			0x79};                                                      /* end tag */
		assert_int_equal(crs->len, sizeof(want) + 1);
		assert_memory_equal(crs->data, want, sizeof(want));
		assert_int_equal(sum8(crs->data, crs->len), 0); /* the end tag's checksum */
	}
}

static void check_all(unsigned ncpus, unsigned ncom, const struct acpi_com *com, uint64_t gpa)
{
	static uint8_t buf[BUF_MAX];
	struct acpi_config c = config(ncpus, ncom, com);
	memset(buf, 0xa5, sizeof(buf));
	long n = build(buf, gpa, &c);
	assert_true(n > 0 && (size_t)n <= BUF_MAX);
	struct tables t;
	walk(&t, buf, gpa, (size_t)n);
	check_fadt(&t);
	check_madt(&t, ncpus);
	check_dsdt(&t, &c);
	assert_int_equal(buf[n], 0xa5); /* nothing past the returned size */
}

/* --- table tests ------------------------------------------------------------- */

static void test_tables_every_config(void **st)
{
	(void)st;
	static const unsigned cpus[] = {1, 2, 4, 63, 64};
	for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
		for (unsigned ncom = 0; ncom <= 4; ncom++)
			check_all(cpus[i], ncom, std_com, GUEST_ACPI_ADDR);
}

static void test_tables_odd_ports_and_irqs(void **st)
{
	(void)st;
	for (unsigned ncom = 1; ncom <= 4; ncom++)
		check_all(4, ncom, odd_com, GUEST_ACPI_ADDR);
}

/* Pointers follow gpa, and the FACS stays 64-byte aligned in guest memory
 * when gpa is only 16-byte aligned. */
static void test_tables_follow_gpa(void **st)
{
	(void)st;
	static const uint64_t gpas[] = {GUEST_ACPI_ADDR, GUEST_ACPI_ADDR + 0x10,
					GUEST_ACPI_ADDR + 0x30, 0x100000, 0xfff00000};
	for (size_t i = 0; i < sizeof(gpas) / sizeof(gpas[0]); i++)
		check_all(8, 2, std_com, gpas[i]);
}

static void test_madt_sizes_with_cpus(void **st)
{
	(void)st;
	static uint8_t buf[BUF_MAX];
	struct tables t;
	for (unsigned n = 1; n <= GUEST_MAX_CPUS; n++) {
		struct acpi_config c = config(n, 1, std_com);
		long total = build(buf, GUEST_ACPI_ADDR, &c);
		walk(&t, buf, GUEST_ACPI_ADDR, (size_t)total);
		/* header + address + flags, n local APICs, IOAPIC, 2 overrides, NMI */
		assert_int_equal(len_of(t.madt), 44 + 8 * n + 12 + 2 * 10 + 6);
		check_madt(&t, n);
	}
}

static void test_same_input_same_bytes(void **st)
{
	(void)st;
	static uint8_t a[BUF_MAX], b[BUF_MAX];
	struct acpi_config c = config(16, 4, std_com);
	memset(a, 0x11, sizeof(a));
	memset(b, 0xee, sizeof(b));
	long na = build(a, GUEST_ACPI_ADDR, &c), nb = build(b, GUEST_ACPI_ADDR, &c);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, (size_t)na); /* padding included: zeroed */
}

/* Every max below the size fails, says so, and writes nothing at all, in
 * the buffer or past it (a canary); the exact size works. */
static void test_too_small_fails_cleanly(void **st)
{
	(void)st;
	static uint8_t big[BUF_MAX];
	struct acpi_config c = config(64, 4, std_com);
	long need_ = build(big, GUEST_ACPI_ADDR, &c);
	for (size_t max = 0; max < (size_t)need_; max++) {
		uint8_t *dst = malloc(max + 64);
		assert_non_null(dst);
		memset(dst, 0x5a, max + 64);
		char err[200] = "";
		assert_int_equal(acpi_build(dst, GUEST_ACPI_ADDR, max, &c, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "need"));
		for (size_t i = 0; i < max + 64; i++)
			assert_int_equal(dst[i], 0x5a);
		free(dst);
	}
	uint8_t *dst = malloc((size_t)need_);
	assert_non_null(dst);
	char err[200] = "";
	assert_int_equal(acpi_build(dst, GUEST_ACPI_ADDR, (size_t)need_, &c, err, sizeof(err)),
			 need_);
	assert_memory_equal(dst, big, (size_t)need_);
	free(dst);
	/* No err buffer: still fails, quietly. */
	assert_int_equal(acpi_build(big, GUEST_ACPI_ADDR, 10, &c, NULL, 0), -1);
}

static void expect_bad(const struct acpi_config *c, uint64_t gpa, const char *what)
{
	static uint8_t buf[BUF_MAX];
	char err[200] = "";
	assert_int_equal(acpi_build(buf, gpa, sizeof(buf), c, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static void test_bad_config_rejected(void **st)
{
	(void)st;
	struct acpi_config c = config(0, 0, std_com);
	expect_bad(&c, GUEST_ACPI_ADDR, "vCPUs");
	c = config(GUEST_MAX_CPUS + 1, 0, std_com);
	expect_bad(&c, GUEST_ACPI_ADDR, "vCPUs");
	c = config(1, 4, std_com);
	c.ncom = 5;
	expect_bad(&c, GUEST_ACPI_ADDR, "COM ports");
	c = config(1, 2, std_com);
	c.com[1].irq = 16;
	expect_bad(&c, GUEST_ACPI_ADDR, "COM2 IRQ");
	c = config(1, 3, std_com);
	c.com[2].port = 0;
	expect_bad(&c, GUEST_ACPI_ADDR, "COM3 port");
	c.com[2].port = 0xfff9; /* the 8 ports would pass 0xffff */
	expect_bad(&c, GUEST_ACPI_ADDR, "COM3 port");
	c = config(1, 1, std_com);
	expect_bad(&c, GUEST_ACPI_ADDR + 8, "aligned");
	expect_bad(&c, 0xffffff00, "4 GiB"); /* would cross 4 GiB */
	expect_bad(&c, 0x100000000ull, "4 GiB");
	expect_bad(NULL, GUEST_ACPI_ADDR, "configuration");
}

/* --- AML encoder tests ---------------------------------------------------------- */

static void test_aml_pkglength_boundaries(void **st)
{
	(void)st;
	/* Body sizes around each encoding's limit: 63, 4095, 2^20-1. */
	static const size_t bodies[] = {0, 1, 61, 62, 63, 64, 4092, 4093, 4094, 0xffffc, 0xffffd};
	static const size_t want_k[] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4};
	size_t cap = 0x100010;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct aml a;
		aml_init(&a, buf, cap);
		aml_byte(&a, 0xee);
		size_t mark = aml_pkg_begin(&a);
		for (size_t j = 0; j < bodies[i]; j++)
			aml_byte(&a, (uint8_t)(j * 7 + 3));
		aml_pkg_end(&a, mark);
		assert_true(aml_ok(&a));
		assert_int_equal(a.len, 1 + want_k[i] + bodies[i]);
		const uint8_t *p = buf + 1;
		const uint8_t *end = pkglength(&p, buf + a.len);
		assert_int_equal(p - (buf + 1), want_k[i]);
		assert_ptr_equal(end, buf + a.len);
		assert_int_equal(buf[0], 0xee);
		for (size_t j = 0; j < bodies[i]; j++)
			assert_int_equal(p[j], (uint8_t)(j * 7 + 3));
	}
	/* The spec's example layout: 65 = 0x41 in two bytes. */
	struct aml a;
	aml_init(&a, buf, cap);
	size_t mark = aml_pkg_begin(&a);
	for (int j = 0; j < 63; j++)
		aml_byte(&a, 0);
	aml_pkg_end(&a, mark);
	assert_int_equal(buf[0], 0x41);
	assert_int_equal(buf[1], 0x04);
	free(buf);
}

/* Nested packages: an inner one growing a longer PkgLength grows the outer. */
static void test_aml_nested_lengths(void **st)
{
	(void)st;
	uint8_t buf[512];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	size_t outer = aml_scope_begin(&a, "\\_SB_");
	size_t dev = aml_device_begin(&a, "DEV0");
	for (int i = 0; i < 20; i++) {
		aml_name(&a, "ABCD"); /* 5 bytes + 1 */
		aml_integer(&a, 0);
	}
	aml_device_end(&a, dev);
	aml_scope_end(&a, outer);
	assert_true(aml_ok(&a));
	/* ABCD is defined 20 times in one scope: parse only the framing. */
	const uint8_t *p = buf;
	assert_int_equal(*p++, 0x10);
	const uint8_t *send = pkglength(&p, buf + a.len);
	assert_ptr_equal(send, buf + a.len);
	p += 5; /* \_SB_ */
	assert_int_equal(*p++, 0x5b);
	assert_int_equal(*p++, 0x82);
	const uint8_t *dend = pkglength(&p, send);
	assert_ptr_equal(dend, send);
	assert_memory_equal(p, "DEV0", 4);
	assert_int_equal(dend - (p + 4), 20 * 6);
}

static void expect_name(const char *path, const uint8_t *want, size_t n)
{
	uint8_t buf[64];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, path);
	assert_true(aml_ok(&a));
	assert_int_equal(a.len, n);
	assert_memory_equal(buf, want, n);
}

static void expect_bad_name(const char *path)
{
	uint8_t buf[64];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_namestring(&a, path);
	assert_non_null(a.error);
	assert_false(aml_ok(&a));
}

static void test_aml_names(void **st)
{
	(void)st;
	expect_name("_S5_", (const uint8_t *)"_S5_", 4);
	expect_name("_S5", (const uint8_t *)"_S5_", 4); /* padded */
	expect_name("\\_SB_", (const uint8_t *)"\\_SB_", 5);
	expect_name("\\_SB_.COM1", (const uint8_t *)"\\\x2e_SB_COM1", 10);
	expect_name("\\_SB_.PCI0.ISA_", (const uint8_t *)"\\\x2f\x03_SB_PCI0ISA_", 15);
	expect_name("^^AB", (const uint8_t *)"^^AB__", 6);
	expect_name("\\", (const uint8_t *)"\\\0", 2);
	expect_bad_name("com1");
	expect_bad_name("1COM");
	expect_bad_name("TOOLONG");
	expect_bad_name("A..B");
	expect_bad_name("\\_SB_.");
}

static void test_aml_integers(void **st)
{
	(void)st;
	static const struct {
		uint64_t v;
		uint8_t enc[9];
		size_t n;
	} cases[] = {
		{0, {0x00}, 1},
		{1, {0x01}, 1},
		{2, {0x0a, 0x02}, 2},
		{0xff, {0x0a, 0xff}, 2},
		{0x100, {0x0b, 0x00, 0x01}, 3},
		{0xffff, {0x0b, 0xff, 0xff}, 3},
		{0x10000, {0x0c, 0x00, 0x00, 0x01, 0x00}, 5},
		{0xffffffff, {0x0c, 0xff, 0xff, 0xff, 0xff}, 5},
		{0x100000000ull, {0x0e, 0, 0, 0, 0, 1, 0, 0, 0}, 9},
		{0x0123456789abcdefull, {0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01}, 9},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[16];
		struct aml a;
		aml_init(&a, buf, sizeof(buf));
		aml_integer(&a, cases[i].v);
		assert_int_equal(a.len, cases[i].n);
		assert_memory_equal(buf, cases[i].enc, cases[i].n);
	}
	uint8_t buf[8];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_dword(&a, 5);
	assert_int_equal(a.len, 5);
	assert_memory_equal(buf, "\x0c\x05\x00\x00\x00", 5);
}

static void test_aml_eisaid(void **st)
{
	(void)st;
	struct aml a;
	aml_init(&a, NULL, 0);
	assert_int_equal(aml_eisaid_value(&a, "PNP0501"), PNP0501);
	assert_int_equal(aml_eisaid_value(&a, "PNP0A03"), 0x030ad041u);
	assert_int_equal(aml_eisaid_value(&a, "PNP0a03"), 0x030ad041u);
	assert_int_equal(aml_eisaid_value(&a, "PNP0303"), 0x0303d041u);
	assert_null(a.error);
	static const char *const bad[] = {"pnp0501", "PNP05", "PNP05010", "PNPX501", "P@P0501"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, NULL, 0);
		aml_eisaid_value(&a, bad[i]);
		assert_non_null(a.error);
	}
}

static void test_aml_resource_template(void **st)
{
	(void)st;
	uint8_t t[32];
	struct aml r;
	aml_init(&r, t, sizeof(t));
	aml_res_io16(&r, 0x3f8, 0x3f8, 1, 8);
	aml_res_irq_noflags(&r, 1u << 4);
	aml_res_end(&r);
	assert_true(aml_ok(&r));
	static const uint8_t want[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01,
				       0x08, 0x22, 0x10, 0x00, 0x79};
	assert_int_equal(r.len, sizeof(want) + 1);
	assert_memory_equal(t, want, sizeof(want));
	assert_int_equal(sum8(t, r.len), 0);

	/* As a Buffer: BufferOp, PkgLength, size, the bytes. */
	uint8_t b[32];
	struct aml a;
	aml_init(&a, b, sizeof(b));
	aml_buffer(&a, t, r.len);
	assert_true(aml_ok(&a));
	assert_int_equal(b[0], 0x11);
	assert_int_equal(b[1], 1 + 2 + r.len); /* PkgLength counts itself */
	assert_int_equal(b[2], 0x0a);
	assert_int_equal(b[3], r.len);
	assert_memory_equal(b + 4, t, r.len);

	/* No buffer to checksum: an error, not a crash. */
	aml_init(&r, NULL, 0);
	aml_res_end(&r);
	assert_non_null(r.error);
}

static void emit_sample(struct aml *a)
{
	aml_name(a, "_S5_");
	size_t pkg = aml_package_begin(a, 2);
	aml_integer(a, 5);
	aml_integer(a, 0x12345);
	aml_package_end(a, pkg);
	size_t sb = aml_scope_begin(a, "\\_SB_");
	for (int i = 0; i < 6; i++) {
		size_t dev = aml_device_begin(a, "DEV");
		aml_name(a, "_HID");
		aml_eisaid(a, "PNP0501");
		uint8_t filler[40] = {0};
		aml_name(a, "_CRS");
		aml_buffer(a, filler, sizeof(filler));
		aml_device_end(a, dev);
	}
	aml_scope_end(a, sb);
}

/* Measuring, writing and overflowing agree on the length; an overflowing
 * writer never writes past cap. */
static void test_aml_measure_and_overflow(void **st)
{
	(void)st;
	struct aml m;
	aml_init(&m, NULL, 0);
	emit_sample(&m);
	assert_null(m.error);
	assert_false(aml_ok(&m) && m.len > 0); /* measuring only is not "fitted" */

	uint8_t full[1024];
	struct aml a;
	aml_init(&a, full, sizeof(full));
	emit_sample(&a);
	assert_true(aml_ok(&a));
	assert_int_equal(a.len, m.len);
	assert_true(a.len > 0x3f); /* the scope needs a 2-byte PkgLength */

	for (size_t cap = 0; cap < m.len; cap++) {
		uint8_t *buf = malloc(cap + 16);
		assert_non_null(buf);
		memset(buf, 0x77, cap + 16);
		aml_init(&a, buf, cap);
		emit_sample(&a);
		assert_false(aml_ok(&a));
		assert_int_equal(a.len, m.len);
		for (size_t i = cap; i < cap + 16; i++)
			assert_int_equal(buf[i], 0x77);
		free(buf);
	}
}

/* --- iasl ------------------------------------------------------------------------ */

/* Runs argv in dir with stdout and stderr to dir/log; the exit status. */
static int run_in(const char *dir, const char *log, char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (chdir(dir) != 0)
			_exit(126);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *s = malloc(cap + 1);
	assert_non_null(s);
	size_t r;
	while ((r = fread(s + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			cap *= 2;
			s = realloc(s, cap + 1);
			assert_non_null(s);
		}
	}
	fclose(f);
	s[n] = 0;
	if (len)
		*len = n;
	return s;
}

/* iasl's text with every run of white space made one space. */
static char *slurp_squeezed(const char *dir, const char *name)
{
	char *s = slurp(dir, name, NULL);
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		bool sp = s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r';
		if (sp && o > 0 && s[o - 1] == ' ')
			continue;
		s[o++] = sp ? ' ' : s[i];
	}
	s[o] = 0;
	return s;
}

static void want_text(const char *text, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void want_text(const char *text, const char *file, const char *fmt, ...)
{
	char s[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	if (!strstr(text, s))
		fail_msg("%s: iasl's output lacks \"%s\"", file, s);
}

static unsigned count_of(const char *text, const char *s)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	return n;
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Disassembles SIG.dat; fails on a non-zero exit or any error or warning
 * (iasl reports bad checksums as warnings and exits 0).  The .dsl, squeezed. */
static char *disassemble(const char *dir, const char *sig)
{
	char dat[16], log[16], dsl[16];
	snprintf(dat, sizeof(dat), "%s.dat", sig);
	snprintf(log, sizeof(log), "%s.log", sig);
	snprintf(dsl, sizeof(dsl), "%s.dsl", sig);
	char *argv[] = {"iasl", "-d", dat, NULL};
	int rc = run_in(dir, log, argv);
	char *out = slurp(dir, log, NULL);
	if (rc != 0 || strstr(out, "Error") || strstr(out, "Warning") || strstr(out, "rror:"))
		fail_msg("iasl -d %s/%s: exit %d:\n%s", dir, dat, rc, out);
	free(out);
	char *text = slurp_squeezed(dir, dsl);
	if (strstr(text, "Incorrect") || strstr(text, "Invalid") || strstr(text, "Unknown"))
		fail_msg("%s/%s: iasl flags a problem", dir, dsl);
	return text;
}

static bool have_iasl(void)
{
	char *argv[] = {"iasl", "-v", NULL};
	return run_in("/", "/dev/null", argv) == 0;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	rmdir(dir);
}

static void iasl_check(unsigned ncpus, unsigned ncom, const struct acpi_com *com)
{
	static uint8_t buf[BUF_MAX];
	struct acpi_config c = config(ncpus, ncom, com);
	long n = build(buf, GUEST_ACPI_ADDR, &c);
	struct tables t;
	walk(&t, buf, GUEST_ACPI_ADDR, (size_t)n);

	char dir[4096];
	const char *keep = getenv("CELLVM_ACPI_DUMP_DIR");
	if (keep && *keep) {
		snprintf(dir, sizeof(dir), "%s/cpus%u-com%u", keep, ncpus, ncom);
		mkdir(keep, 0755);
		mkdir(dir, 0755);
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%s/cellvm-acpi-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		assert_non_null(mkdtemp(dir));
	}
	write_file(dir, "tables.bin", buf, (size_t)n);
	write_file(dir, "RSDP.dat", t.rsdp, 36); /* iasl -d takes no bare RSDP */
	write_file(dir, "XSDT.dat", t.xsdt, len_of(t.xsdt));
	write_file(dir, "FACP.dat", t.fadt, len_of(t.fadt));
	write_file(dir, "FACS.dat", t.facs, 64);
	write_file(dir, "APIC.dat", t.madt, len_of(t.madt));
	write_file(dir, "DSDT.dat", t.dsdt, len_of(t.dsdt));
	uint64_t fadt_gpa = GUEST_ACPI_ADDR + (uint64_t)(t.fadt - buf);
	uint64_t madt_gpa = GUEST_ACPI_ADDR + (uint64_t)(t.madt - buf);
	uint64_t facs_gpa = GUEST_ACPI_ADDR + (uint64_t)(t.facs - buf);
	uint64_t dsdt_gpa = GUEST_ACPI_ADDR + (uint64_t)(t.dsdt - buf);

	char *x = disassemble(dir, "XSDT");
	want_text(x, "XSDT", "ACPI Table Address 0 : %016llX", (unsigned long long)fadt_gpa);
	want_text(x, "XSDT", "ACPI Table Address 1 : %016llX", (unsigned long long)madt_gpa);
	free(x);

	char *f = disassemble(dir, "FACP");
	want_text(f, "FACP", "FACS Address : %08llX", (unsigned long long)facs_gpa);
	want_text(f, "FACP", "DSDT Address : %08llX", (unsigned long long)dsdt_gpa);
	want_text(f, "FACP", "FACS Address : %016llX", (unsigned long long)facs_gpa);
	want_text(f, "FACP", "DSDT Address : %016llX", (unsigned long long)dsdt_gpa);
	want_text(f, "FACP", "SCI Interrupt : %04X", ACPI_SCI_IRQ);
	want_text(f, "FACP", "SMI Command Port : 00000000");
	want_text(f, "FACP", "PM1A Event Block Address : %08X", PORT_PM1A_EVT);
	want_text(f, "FACP", "PM1A Control Block Address : %08X", PORT_PM1A_CNT);
	want_text(f, "FACP", "PM1 Event Block Length : 04");
	want_text(f, "FACP", "PM1 Control Block Length : 02");
	want_text(f, "FACP", "PM Timer Block Length : 00");
	want_text(f, "FACP", "Legacy Devices Supported (V2) : 1");
	want_text(f, "FACP", "8042 Present on ports 60/64 (V2) : 0");
	want_text(f, "FACP", "Control Method Power Button (V1) : 0");
	want_text(f, "FACP", "Reset Register Supported (V2) : 1");
	want_text(f, "FACP", "Reset Register : [Generic Address Structure] [074h 0116 1] "
			     "Space ID : 01 [SystemIO] [075h 0117 1] Bit Width : 08");
	want_text(f, "FACP", "Address : %016X [080h 0128 1] Value to cause reset : 06", PORT_RESET);
	want_text(f, "FACP", "PM1A Event Block : [Generic Address Structure] [094h 0148 1] "
			     "Space ID : 01 [SystemIO] [095h 0149 1] Bit Width : 20");
	want_text(f, "FACP", "Address : %016X [0A0h", PORT_PM1A_EVT);
	want_text(f, "FACP", "Address : %016X [0B8h", PORT_PM1A_CNT);
	free(f);

	free(disassemble(dir, "FACS"));

	char *m = disassemble(dir, "APIC");
	assert_int_equal(count_of(m, "[Processor Local APIC]"), ncpus);
	want_text(m, "APIC", "Local Apic ID : %02X", ncpus - 1);
	want_text(m, "APIC", "I/O Apic ID : %02X", ncpus);
	want_text(m, "APIC", "Address : FEC00000 [");
	assert_int_equal(count_of(m, "[Interrupt Source Override]"), 2);
	want_text(m, "APIC", "Interrupt : 00000002 [");
	want_text(m, "APIC", "Interrupt : %08X [", ACPI_SCI_IRQ);
	assert_int_equal(count_of(m, "Trigger Mode : 3"), 1); /* the SCI, level */
	free(m);

	char *d = disassemble(dir, "DSDT");
	want_text(d, "DSDT", "Name (_S5, Package (0x04) // _S5_: S5 System State { 0x05,");
	want_text(d, "DSDT", "Scope (\\_SB) {");
	assert_int_equal(count_of(d, "EisaId (\"PNP0501\")"), ncom);
	assert_int_equal(count_of(d, "Device ("), ncom + 1);
	want_text(d, "DSDT", "Device (PCI0)");
	want_text(d, "DSDT", "Name (_PRT, Package (0x7C) // _PRT: PCI Routing Table { Package (0x04) { 0x0001FFFF, Zero, Zero, 0x11 },");
	want_text(d, "DSDT", "Package (0x04) { 0x0007FFFF, 0x03, Zero, 0x12 },");
	want_text(d, "DSDT", "Package (0x04) { 0x001FFFFF, 0x03, Zero, 0x12 } })");
	want_text(d, "DSDT", "EisaId (\"PNP0A03\")");
	want_text(d, "DSDT", "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,");
	want_text(d, "DSDT", "IO (Decode16, 0x0CF8, // Range Minimum");
	want_text(d, "DSDT", "WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0x0000, // Granularity 0x0000, // Range Minimum 0x0CF7, // Range Maximum");
	want_text(d, "DSDT", "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite, 0x00000000, // Granularity 0xC0000000, // Range Minimum 0xFEBFFFFF, // Range Maximum");
	for (unsigned i = 0; i < ncom; i++) {
		char dev[32];
		snprintf(dev, sizeof(dev), "Device (COM%u)", i + 1);
		const char *p = strstr(d, dev);
		if (!p) {
			fail_msg("DSDT: no %s", dev);
			return;
		}
		/* From this device to the next one. */
		const char *next = strstr(p + strlen(dev), "Device (");
		size_t span = next ? (size_t)(next - p) : strlen(p);
		char *part = strndup(p, span);
		assert_non_null(part);
		want_text(part, dev, "EisaId (\"PNP0501\")");
		want_text(part, dev, "Name (_UID, %s)", i == 0 ? "One" : i == 1 ? "0x02"
						      : i == 2 ? "0x03" : "0x04");
		want_text(part, dev, "IO (Decode16, 0x%04X, // Range Minimum 0x%04X, // Range Maximum "
				     "0x01, // Alignment 0x08, // Length )",
			  com[i].port, com[i].port);
		want_text(part, dev, "IRQNoFlags () {%u}", com[i].irq);
		free(part);
	}
	free(d);

	/* Recompiled without optimizations, the disassembly gives our AML back,
	 * but for the end tags' checksums, which iasl leaves 0 ("treat as
	 * valid"). */
	char *argv[] = {"iasl", "-oa", "-p", "rt", "DSDT.dsl", NULL};
	int rc = run_in(dir, "rt.log", argv);
	char *log = slurp(dir, "rt.log", NULL);
	if (rc != 0 || !strstr(log, "0 Errors, 0 Warnings"))
		fail_msg("iasl DSDT.dsl in %s: exit %d:\n%s", dir, rc, log);
	free(log);
	size_t rtlen;
	uint8_t *rt = (uint8_t *)slurp(dir, "rt.aml", &rtlen);
	assert_int_equal(rtlen, len_of(t.dsdt));
	unsigned checksums = 0;
	for (size_t i = 36; i < rtlen; i++) {
		if (rt[i] == t.dsdt[i])
			continue;
		if (t.dsdt[i - 1] == 0x79 && rt[i - 1] == 0x79 && rt[i] == 0) {
			checksums++;
			continue;
		}
		fail_msg("DSDT byte %zu: ours 0x%02x, iasl's 0x%02x", i, t.dsdt[i], rt[i]);
	}
	assert_true(checksums <= ncom + 1); /* the COM ports' templates and PCI0's */
	free(rt);

	if (!(keep && *keep))
		rm_dir(dir);
}

static void test_iasl_disassembles_tables(void **st)
{
	(void)st;
	if (!have_iasl()) {
		print_message("iasl not installed (Debian: acpica-tools): skipped\n");
		skip();
	}
	iasl_check(1, 0, std_com);
	iasl_check(4, 2, std_com);
	iasl_check(64, 4, std_com);
	iasl_check(3, 4, odd_com);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_every_config),
		cmocka_unit_test(test_tables_odd_ports_and_irqs),
		cmocka_unit_test(test_tables_follow_gpa),
		cmocka_unit_test(test_madt_sizes_with_cpus),
		cmocka_unit_test(test_same_input_same_bytes),
		cmocka_unit_test(test_too_small_fails_cleanly),
		cmocka_unit_test(test_bad_config_rejected),
		cmocka_unit_test(test_aml_pkglength_boundaries),
		cmocka_unit_test(test_aml_nested_lengths),
		cmocka_unit_test(test_aml_names),
		cmocka_unit_test(test_aml_integers),
		cmocka_unit_test(test_aml_eisaid),
		cmocka_unit_test(test_aml_resource_template),
		cmocka_unit_test(test_aml_measure_and_overflow),
		cmocka_unit_test(test_iasl_disassembles_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
