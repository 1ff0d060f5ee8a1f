/* devrun script lines; see script.h. */
#include "tools/devrun/script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 6

static int parse_number(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
				       ? strtoull(s + 2, &end, 16)
				       : strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' ||
	    ((s[1] == 'x' || s[1] == 'X') && end == s + 2))
		return -1;
	*out = v;
	return 0;
}

int script_parse(const char *line, struct script_cmd *cmd, char *err, size_t errlen)
{
	memset(cmd, 0, sizeof(*cmd));
	char buf[256];
	if (strlen(line) >= sizeof(buf)) {
		snprintf(err, errlen, "line too long");
		return -1;
	}
	strcpy(buf, line);
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = 0;
	char *w[MAX_WORDS + 1];
	int n = 0;
	for (char *save, *t = strtok_r(buf, " \t\r\n", &save); t;
	     t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == MAX_WORDS) {
			snprintf(err, errlen, "too many words");
			return -1;
		}
		w[n++] = t;
	}
	if (n == 0)
		return 0;

	static const struct {
		const char *name;
		enum script_op op;
		int min, max; /* words after the name */
	} ops[] = {
		{"out", OP_OUT, 3, 3},		 {"in", OP_IN, 2, 4},
		{"mmio-write", OP_MMIO_WRITE, 3, 3}, {"mmio-read", OP_MMIO_READ, 2, 4},
		{"wait-irq", OP_WAIT_IRQ, 0, 1}, {"no-irq", OP_NO_IRQ, 0, 1},
		{"sleep", OP_SLEEP, 1, 1},
	};
	size_t k;
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strcmp(w[0], ops[k].name) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0])) {
		snprintf(err, errlen, "unknown command '%s'", w[0]);
		return -1;
	}
	int args = n - 1;
	/* reads take ADDR SIZE, or ADDR SIZE expect VALUE */
	if (args < ops[k].min || args > ops[k].max || (ops[k].max == 4 && args == 3)) {
		snprintf(err, errlen, "wrong number of arguments for '%s'", w[0]);
		return -1;
	}
	cmd->op = ops[k].op;
	switch (cmd->op) {
	case OP_OUT:
	case OP_IN:
	case OP_MMIO_WRITE:
	case OP_MMIO_READ: {
		uint64_t size;
		if (parse_number(w[1], &cmd->addr) < 0 || parse_number(w[2], &size) < 0) {
			snprintf(err, errlen, "bad address or size");
			return -1;
		}
		if (size != 1 && size != 2 && size != 4 && size != 8) {
			snprintf(err, errlen, "size must be 1, 2, 4 or 8");
			return -1;
		}
		bool pio = cmd->op == OP_OUT || cmd->op == OP_IN;
		if (pio && (size == 8 || cmd->addr > 0xffff)) {
			snprintf(err, errlen, "port accesses are 1, 2 or 4 bytes below 0x10000");
			return -1;
		}
		cmd->size = (uint8_t)size;
		const char *val = NULL;
		if (cmd->op == OP_OUT || cmd->op == OP_MMIO_WRITE) {
			val = w[3];
		} else if (n == 5) {
			if (strcmp(w[3], "expect") != 0) {
				snprintf(err, errlen, "expected 'expect VALUE', got '%s'", w[3]);
				return -1;
			}
			val = w[4];
			cmd->expect = true;
		}
		if (val) {
			if (parse_number(val, &cmd->value) < 0) {
				snprintf(err, errlen, "bad value '%s'", val);
				return -1;
			}
			if (size < 8 && cmd->value >> (size * 8)) {
				snprintf(err, errlen, "value 0x%llx does not fit in %u bytes",
					 (unsigned long long)cmd->value, (unsigned)size);
				return -1;
			}
		}
		return 0;
	}
	case OP_WAIT_IRQ:
	case OP_NO_IRQ:
		cmd->ms = 1000;
		/* fall through */
	case OP_SLEEP:
		if (n == 2 && parse_number(w[1], &cmd->ms) < 0) {
			snprintf(err, errlen, "bad time '%s'", w[1]);
			return -1;
		}
		if (cmd->ms > 3600000) {
			snprintf(err, errlen, "time above an hour");
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}
