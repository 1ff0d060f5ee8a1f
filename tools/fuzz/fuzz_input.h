/* What every device harness does with bytes: reads its input as a stream
 * of little-endian fields (zeros once it runs out, so every input is a
 * whole program), and writes seed inputs the same way. */
#ifndef CELLVM_TOOLS_FUZZ_FUZZ_INPUT_H
#define CELLVM_TOOLS_FUZZ_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t in_u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t in_le(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)in_u8(in) << (8 * i);
	return v;
}

struct seed {
	uint8_t b[4096];
	size_t n;
};

static inline void s8(struct seed *s, unsigned v)
{
	if (s->n < sizeof(s->b))
		s->b[s->n++] = (uint8_t)v;
}

static inline void sle(struct seed *s, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		s8(s, (unsigned)(v >> (8 * i)));
}

/* DIR/NAME gets the seed's bytes; exits on failure (a seed run). */
static inline void write_seed(const char *dir, const char *name, const struct seed *s)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(s->b, 1, s->n, f) != s->n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

#endif
