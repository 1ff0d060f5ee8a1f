/* The MSI-X table and PBA of one PCI function, as the core emulates them. */
#include <stdio.h>
#include <string.h>

#include "vmm-core/msix.h"

static uint16_t cfg16(const volatile uint8_t *c, unsigned off)
{
	return (uint16_t)(c[off] | c[off + 1] << 8);
}

static uint32_t cfg32(const volatile uint8_t *c, unsigned off)
{
	return cfg16(c, off) | (uint32_t)cfg16(c, off + 2) << 16;
}

/* The MSI-X capability's offset, or 0.  The list is the device's to write:
 * walk at most as many entries as fit, and only inside the header's end. */
static unsigned find_cap(const volatile uint8_t *c)
{
	if (!(cfg16(c, 0x06) & 0x10)) /* status: capabilities list */
		return 0;
	unsigned off = c[PCI_CFG_CAP_PTR] & 0xfc;
	for (unsigned steps = 0; off >= 0x40 && off <= PCI_CONFIG_SIZE - 12 && steps < 48; steps++) {
		if (c[off] == PCI_CAP_ID_MSIX)
			return off;
		off = c[off + 1] & 0xfc;
	}
	return 0;
}

static bool region_fits(const struct pci_bar *bars, unsigned bar, uint64_t off, uint64_t len)
{
	return bar < PCI_BARS && bars[bar].size && !(bars[bar].kind & PCI_BAR_IO) &&
	       off <= bars[bar].size && len <= bars[bar].size - off;
}

int msix_parse(struct msix *m, const volatile uint8_t *config, const struct pci_bar *bars,
	       unsigned nfds, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	unsigned cap = find_cap(config);
	if (!cap) {
		if (nfds)
			snprintf(err, errlen, "%u MSI-X eventfds but no MSI-X capability", nfds);
		return nfds ? -1 : 0;
	}
	unsigned n = (cfg16(config, cap + 2) & 0x7ff) + 1;
	uint32_t table = cfg32(config, cap + 4), pba = cfg32(config, cap + 8);
	if (n > MSIX_MAX_VECTORS || n != nfds) {
		snprintf(err, errlen, "MSI-X: %u vectors, %u eventfds (at most %d)", n, nfds,
			 MSIX_MAX_VECTORS);
		return -1;
	}
	m->cap = cap;
	m->nvec = n;
	m->table_bar = table & 7;
	m->table_off = table & ~7u;
	m->pba_bar = pba & 7;
	m->pba_off = pba & ~7u;
	if (!region_fits(bars, m->table_bar, m->table_off, (uint64_t)n * MSIX_ENTRY_SIZE) ||
	    !region_fits(bars, m->pba_bar, m->pba_off, (n + 63) / 64 * 8)) {
		snprintf(err, errlen, "MSI-X table or PBA outside a memory BAR");
		m->nvec = 0;
		return -1;
	}
	for (unsigned v = 0; v < n; v++)
		m->vec[v].ctrl = MSIX_VECTOR_MASKED; /* as at reset */
	return 0;
}

static bool in_table(const struct msix *m, unsigned bar, uint64_t off, uint8_t size)
{
	return m->nvec && bar == m->table_bar && off >= m->table_off &&
	       off - m->table_off + size <= (uint64_t)m->nvec * MSIX_ENTRY_SIZE;
}

static bool in_pba(const struct msix *m, unsigned bar, uint64_t off, uint8_t size)
{
	return m->nvec && bar == m->pba_bar && off >= m->pba_off &&
	       off - m->pba_off + size <= (m->nvec + 63) / 64 * 8;
}

bool msix_claims(const struct msix *m, unsigned bar, uint64_t off, uint8_t size)
{
	return in_table(m, bar, off, size) || in_pba(m, bar, off, size);
}

static uint32_t *entry_word(struct msix *m, uint64_t rel)
{
	struct msix_vector *v = &m->vec[rel / MSIX_ENTRY_SIZE];
	uint32_t *w[] = {&v->addr_lo, &v->addr_hi, &v->data, &v->ctrl};
	return w[(rel % MSIX_ENTRY_SIZE) / 4];
}

/* Table accesses are dwords or qwords, naturally aligned (PCI's rule);
 * anything else reads all-ones and writes nothing. */
uint64_t msix_read(const struct msix *m, unsigned bar, uint64_t off, uint8_t size)
{
	if ((size != 4 && size != 8) || off % size)
		return ~0ull;
	if (in_pba(m, bar, off, size))
		return 0; /* pending bits live in the eventfds (see irq_route.c) */
	uint64_t rel = off - m->table_off;
	uint64_t val = *entry_word((struct msix *)m, rel);
	if (size == 8)
		val |= (uint64_t)*entry_word((struct msix *)m, rel + 4) << 32;
	return val;
}

void msix_write(struct msix *m, unsigned bar, uint64_t off, uint8_t size, uint64_t val)
{
	if ((size != 4 && size != 8) || off % size || !in_table(m, bar, off, size))
		return;
	uint64_t rel = off - m->table_off;
	for (unsigned i = 0; i < size / 4u; i++, rel += 4, val >>= 32) {
		uint32_t *w = entry_word(m, rel), nv = (uint32_t)val;
		if ((rel % MSIX_ENTRY_SIZE) == 12)
			nv &= MSIX_VECTOR_MASKED; /* other control bits are reserved */
		if (*w != nv)
			m->dirty = true;
		*w = nv;
	}
}

void msix_set_control(struct msix *m, uint16_t control)
{
	bool en = control & MSIX_CTRL_ENABLE, mask = control & MSIX_CTRL_MASKALL;
	if (en != m->enabled || mask != m->masked)
		m->dirty = true;
	m->enabled = en;
	m->masked = mask;
}

bool msix_vector_live(const struct msix *m, unsigned v)
{
	return m->enabled && !m->masked && !(m->vec[v].ctrl & MSIX_VECTOR_MASKED);
}
