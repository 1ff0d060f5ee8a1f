/* devrun scripts: one access or check per line.
 *   out PORT SIZE VALUE          mmio-write ADDR SIZE VALUE
 *   in PORT SIZE [expect VALUE]  mmio-read ADDR SIZE [expect VALUE]
 *   wait-irq [TIMEOUT_MS]        no-irq [TIMEOUT_MS]        sleep MS
 * Numbers are decimal or 0x hex; blank lines and # comments are skipped. */
#ifndef CELLVM_TOOLS_DEVRUN_SCRIPT_H
#define CELLVM_TOOLS_DEVRUN_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum script_op {
	OP_NONE, /* blank or comment */
	OP_OUT,
	OP_IN,
	OP_MMIO_WRITE,
	OP_MMIO_READ,
	OP_WAIT_IRQ,
	OP_NO_IRQ,
	OP_SLEEP,
};

struct script_cmd {
	enum script_op op;
	uint64_t addr;
	uint8_t size;
	uint64_t value;
	bool expect;
	uint64_t ms;
};

/* Parses one line.  0, or -1 with err saying what is wrong. */
int script_parse(const char *line, struct script_cmd *cmd, char *err, size_t errlen);

#endif
