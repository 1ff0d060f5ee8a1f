/* cellvm-img: sizes on the command line and in output. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools/img/img.h"

static int suffix_shift(char c)
{
	switch (c) {
	case 'b': case 'B': return 0;
	case 'k': case 'K': return 10;
	case 'm': case 'M': return 20;
	case 'g': case 'G': return 30;
	case 't': case 'T': return 40;
	case 'p': case 'P': return 50;
	case 'e': case 'E': return 60;
	default: return -1;
	}
}

int img_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t whole = 0, frac_num = 0, frac_den = 1;
	int shift = 0;

	if (!*s || !isdigit((unsigned char)*s)) {
		snprintf(err, errlen, "invalid size '%s': expected a number of bytes, "
			 "optionally with a suffix b, K, M, G, T, P or E", s);
		return -1;
	}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		char *end;
		errno = 0;
		whole = strtoull(s + 2, &end, 16);
		if (end == s + 2 || *end || errno) {
			snprintf(err, errlen, "invalid size '%s'", s);
			return -1;
		}
		*out = whole;
		return 0;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > (UINT64_MAX - 9) / 10)
			goto too_big;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		/* A fraction is taken to 9 digits: enough for any unit. */
		for (p++; isdigit((unsigned char)*p); p++) {
			if (frac_den < 1000000000ull) {
				frac_num = frac_num * 10 + (uint64_t)(*p - '0');
				frac_den *= 10;
			}
		}
	}
	if (*p) {
		shift = suffix_shift(*p);
		if (shift < 0 || p[1]) {
			snprintf(err, errlen, "invalid size '%s': unknown suffix '%s' "
				 "(use b, K, M, G, T, P or E)", s, p);
			return -1;
		}
	}
	if (shift < 64 && whole > (UINT64_MAX >> shift))
		goto too_big;
	{
		uint64_t v = whole << shift;
		uint64_t f = (uint64_t)(((unsigned __int128)frac_num << shift) / frac_den);
		if (frac_num && !shift) {
			snprintf(err, errlen, "invalid size '%s': a byte count has no fraction", s);
			return -1;
		}
		if (v + f < v)
			goto too_big;
		*out = v + f;
	}
	return 0;
too_big:
	snprintf(err, errlen, "invalid size '%s': too large", s);
	return -1;
}

void img_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	unsigned i = 0;

	while (v >= 1024.0 && i + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		i++;
	}
	if (v >= 1000.0)
		snprintf(buf, len, "%.0f %s", v, units[i]);
	else
		snprintf(buf, len, "%.3g %s", v, units[i]);
}
