/* A small AML (ACPI Machine Language) encoder: just enough of the ACPI
 * specification's chapter 20 to write a DSDT of named objects, scopes,
 * devices, packages and resource-template buffers.
 *
 * Everything goes through a struct aml, which appends bytes to a buffer.  A
 * writer with no buffer only measures; a writer whose buffer is too small
 * keeps counting (len is always the size the output needs) and writes nothing
 * past cap.  Objects with a PkgLength (Scope, Device, Package, Buffer) are
 * written by _begin (which returns a mark) and _end (which inserts the
 * PkgLength in front of everything written since the mark), so callers never
 * compute lengths themselves.  Bad input (a malformed name, a PkgLength past
 * 2^28) sets error; the first one is kept. */
#ifndef CELLVM_VMM_CORE_AML_H
#define CELLVM_VMM_CORE_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;      /* NULL: measure only */
	size_t cap;
	size_t len;        /* bytes the output needs so far, even past cap */
	const char *error; /* first bad input, or NULL */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* No bad input and everything fitted. */
bool aml_ok(const struct aml *a);

void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* PkgLength: pkg_end inserts, at mark, the 1..4-byte encoding of the length
 * of what follows it (the encoding's own bytes included). */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t mark);

/* NameString: "_S5_", "\\_SB_", "\\_SB_.COM1", "^^FOO", "" (NullName).
 * Segments shorter than 4 characters are padded with '_'. */
void aml_namestring(struct aml *a, const char *path);

/* Integers, in the shortest form: ZeroOp, OneOp, then Byte/Word/DWord/QWord
 * prefixes. */
void aml_integer(struct aml *a, uint64_t v);
void aml_dword(struct aml *a, uint32_t v); /* always DWordPrefix */

/* EISAID("PNP0501") as the 32-bit integer the ASL macro makes: three
 * compressed letters and four hex digits, in that byte order.  Returns 0 and
 * sets error for a malformed id. */
uint32_t aml_eisaid_value(struct aml *a, const char *id);
void aml_eisaid(struct aml *a, const char *id); /* DWordPrefix + value */

/* Name (NAME, ...): writes NameOp and the name; the caller writes the
 * object. */
void aml_name(struct aml *a, const char *name);

/* Scope (PATH) { ... } and Device (NAME) { ... }. */
size_t aml_scope_begin(struct aml *a, const char *path);
void aml_scope_end(struct aml *a, size_t mark);
size_t aml_device_begin(struct aml *a, const char *name);
void aml_device_end(struct aml *a, size_t mark);

/* Package (count) { ... }: the caller writes count elements. */
size_t aml_package_begin(struct aml *a, uint8_t count);
void aml_package_end(struct aml *a, size_t mark);

/* Buffer (n) { bytes }. */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);

/* Resource descriptors (ACPI 6.4.2), written into a writer that holds one
 * resource template; aml_buffer then puts it into the table. */
void aml_res_io16(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
void aml_res_irq_noflags(struct aml *r, uint16_t mask);
/* Word/DWord address space: a window [min, max] of TYPE that a bridge
 * passes on, with type-specific flags TFLAGS. */
enum { AML_SPACE_MEMORY = 0, AML_SPACE_IO = 1, AML_SPACE_BUS = 2 };
#define AML_MEM_CACHEABLE_RW 0x03 /* _MEM cacheable, _RW read-write */
#define AML_IO_ENTIRE_RANGE 0x03  /* _RNG: ISA and non-ISA ports */
void aml_res_word_space(struct aml *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max);
void aml_res_dword_space(struct aml *r, uint8_t type, uint8_t tflags, uint32_t min, uint32_t max);
/* The end tag, with the checksum that makes the template's bytes sum to 0.
 * Needs the template in a real buffer (r->buf). */
void aml_res_end(struct aml *r);

#endif
