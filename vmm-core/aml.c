/* The AML encoder; encodings from the ACPI specification, section 20.2 (AML
 * grammar) and 6.4 (resource data types). */
#include "vmm-core/aml.h"

#include <string.h>

/* Opcodes and prefixes (ACPI 20.2). */
enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_QWORD_PREFIX = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_DUAL_NAME_PREFIX = 0x2e,
	AML_MULTI_NAME_PREFIX = 0x2f,
	AML_EXT_PREFIX = 0x5b,
	AML_EXT_DEVICE = 0x82,
	AML_ROOT_CHAR = '\\',
	AML_PARENT_PREFIX = '^',
	AML_NULL_NAME = 0x00,
};

/* Small resource descriptor tags: type << 3 | length (ACPI 6.4.2). */
enum {
	RES_IRQ_NOFLAGS = 0x04 << 3 | 2,
	RES_IO = 0x08 << 3 | 7,
	RES_END = 0x0f << 3 | 1,
	RES_IO_DECODE16 = 0x01,
};

/* Large resource descriptor tags (ACPI 6.4.3): bit 7 set, then the type. */
enum {
	RES_DWORD_SPACE = 0x87,
	RES_WORD_SPACE = 0x88,
};

static void fail(struct aml *a, const char *why)
{
	if (!a->error)
		a->error = why;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = buf ? cap : 0;
	a->len = 0;
	a->error = NULL;
}

bool aml_ok(const struct aml *a)
{
	return !a->error && a->len <= a->cap;
}

void aml_byte(struct aml *a, uint8_t b)
{
	if (a->buf && a->len < a->cap)
		a->buf[a->len] = b;
	a->len++;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		aml_byte(a, s[i]);
}

size_t aml_pkg_begin(struct aml *a)
{
	return a->len;
}

/* PkgLength (20.2.4): one byte holds up to 63; otherwise bits 7-6 of the lead
 * byte count the bytes that follow (1..3), its bits 3-0 are the length's low
 * nibble and each following byte the next 8 bits.  The length counts the
 * encoding itself, so its size is the smallest that holds body + its size. */
void aml_pkg_end(struct aml *a, size_t mark)
{
	if (mark > a->len) {
		fail(a, "PkgLength mark past the end");
		return;
	}
	size_t body = a->len - mark, k;
	if (body + 1 <= 0x3f)
		k = 1;
	else if (body + 2 <= 0xfff)
		k = 2;
	else if (body + 3 <= 0xfffff)
		k = 3;
	else if (body + 4 <= 0xfffffff)
		k = 4;
	else {
		fail(a, "PkgLength over 2^28");
		return;
	}
	size_t total = body + k;
	uint8_t enc[4];
	if (k == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)((k - 1) << 6 | (total & 0x0f));
		for (size_t i = 1; i < k; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	/* Everything written since mark moves up by k; if it does not all fit,
	 * the writer has overflowed and only the length matters. */
	if (a->buf && a->len + k <= a->cap) {
		memmove(a->buf + mark + k, a->buf + mark, body);
		memcpy(a->buf + mark, enc, k);
	}
	a->len += k;
}

static bool lead_char(char c)
{
	return (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return lead_char(c) || (c >= '0' && c <= '9');
}

/* NameSeg (20.2.2): a lead character, then up to three more, padded to four
 * with '_'. */
static void nameseg(struct aml *a, const char *s, size_t n)
{
	if (n < 1 || n > 4 || !lead_char(s[0])) {
		fail(a, "bad NameSeg");
		return;
	}
	for (size_t i = 0; i < 4; i++) {
		if (i < n && !name_char(s[i])) {
			fail(a, "bad NameSeg");
			return;
		}
	}
	for (size_t i = 0; i < 4; i++)
		aml_byte(a, i < n ? (uint8_t)s[i] : '_');
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == '^') {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	if (!*p) {
		aml_byte(a, AML_NULL_NAME);
		return;
	}
	size_t count = 1;
	for (const char *q = p; *q; q++)
		count += *q == '.';
	if (count > 255) {
		fail(a, "NameString with over 255 segments");
		return;
	}
	if (count == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (count > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)count);
	}
	while (count--) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		nameseg(a, p, n);
		p += n + (dot != NULL);
	}
}

static void le(struct aml *a, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		le(a, v, 8);
	}
}

void aml_dword(struct aml *a, uint32_t v)
{
	aml_byte(a, AML_DWORD_PREFIX);
	le(a, v, 4);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* EISA id (ACPI 6.1.5 _HID, 19.6.35 EISAID): the three letters, 5 bits each
 * ('A' = 1) in bits 14-0 of a big-endian word, then the product number's four
 * hex digits as two bytes; the four bytes in that order make the integer. */
uint32_t aml_eisaid_value(struct aml *a, const char *id)
{
	if (strlen(id) != 7) {
		fail(a, "bad EISA id");
		return 0;
	}
	unsigned vendor = 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, "bad EISA id");
			return 0;
		}
		vendor = vendor << 5 | (unsigned)(id[i] - 0x40);
	}
	int d[4];
	for (int i = 0; i < 4; i++) {
		d[i] = hexval(id[3 + i]);
		if (d[i] < 0) {
			fail(a, "bad EISA id");
			return 0;
		}
	}
	uint8_t b[4] = {(uint8_t)(vendor >> 8), (uint8_t)vendor, (uint8_t)(d[0] << 4 | d[1]),
			(uint8_t)(d[2] << 4 | d[3])};
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void aml_eisaid(struct aml *a, const char *id)
{
	aml_dword(a, aml_eisaid_value(a, id));
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE);
	size_t mark = aml_pkg_begin(a);
	aml_namestring(a, path);
	return mark;
}

void aml_scope_end(struct aml *a, size_t mark)
{
	aml_pkg_end(a, mark);
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_EXT_DEVICE);
	size_t mark = aml_pkg_begin(a);
	aml_namestring(a, name);
	return mark;
}

void aml_device_end(struct aml *a, size_t mark)
{
	aml_pkg_end(a, mark);
}

size_t aml_package_begin(struct aml *a, uint8_t count)
{
	aml_byte(a, AML_PACKAGE);
	size_t mark = aml_pkg_begin(a);
	aml_byte(a, count);
	return mark;
}

void aml_package_end(struct aml *a, size_t mark)
{
	aml_pkg_end(a, mark);
}

void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	aml_byte(a, AML_BUFFER);
	size_t mark = aml_pkg_begin(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_pkg_end(a, mark);
}

void aml_res_io16(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(r, RES_IO);
	aml_byte(r, RES_IO_DECODE16);
	le(r, min, 2);
	le(r, max, 2);
	aml_byte(r, align);
	aml_byte(r, len);
}

/* Address space descriptors (ACPI 6.4.3.5): a window a bridge decodes and
 * passes on (producer), its range fixed at both ends. */
#define RES_GFLAGS_FIXED 0x0c /* _MIF | _MAF, producer, positive decode */

void aml_res_word_space(struct aml *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	aml_byte(r, RES_WORD_SPACE);
	le(r, 13, 2);
	aml_byte(r, type);
	aml_byte(r, RES_GFLAGS_FIXED);
	aml_byte(r, tflags);
	le(r, 0, 2); /* granularity */
	le(r, min, 2);
	le(r, max, 2);
	le(r, 0, 2); /* translation */
	le(r, (uint16_t)(max - min + 1), 2);
}

void aml_res_dword_space(struct aml *r, uint8_t type, uint8_t tflags, uint32_t min, uint32_t max)
{
	aml_byte(r, RES_DWORD_SPACE);
	le(r, 23, 2);
	aml_byte(r, type);
	aml_byte(r, RES_GFLAGS_FIXED);
	aml_byte(r, tflags);
	le(r, 0, 4);
	le(r, min, 4);
	le(r, max, 4);
	le(r, 0, 4);
	le(r, max - min + 1, 4);
}

void aml_res_irq_noflags(struct aml *r, uint16_t mask)
{
	aml_byte(r, RES_IRQ_NOFLAGS);
	le(r, mask, 2);
}

void aml_res_end(struct aml *r)
{
	aml_byte(r, RES_END);
	uint8_t sum = 0;
	if (!r->buf)
		fail(r, "resource template checksum needs the template in a buffer");
	else if (r->len <= r->cap) /* else overflowed: the bytes are not all there */
		for (size_t i = 0; i < r->len; i++)
			sum = (uint8_t)(sum + r->buf[i]);
	aml_byte(r, (uint8_t)-sum);
}
