/* Host side of a UART: turns options such as "--port com1 --backend
 * file:/vm/com1.txt" into a devhost (ranges, IRQ line, opened backend). */
#ifndef CELLVM_DEVICES_UART_UART_HOST_H
#define CELLVM_DEVICES_UART_UART_HOST_H

#include "tools/common/devhost.h"

/* COM1..COM4 as on a PC. */
struct uart_port_info {
	const char *name;
	uint16_t port;
	uint8_t irq;
};
extern const struct uart_port_info uart_com_ports[4];

/* Opens a backend spec and adds it to h:
 *   file:PATH          append the guest's output to PATH (created 0644)
 *   unix:PATH          connect to a listening unix stream socket
 *   unix:PATH,server   listen on PATH, one client at a time
 *   stdio              this process's terminal (raw mode while running)
 *   none               output discarded, no input
 * 0, or -1 with h->err. */
int uart_host_backend(struct devhost *h, const char *spec);

/* Parses "[--port com1|0x3f8] [--irq N] [--backend SPEC]" (argv[0] is the
 * first option).  0, or -1 with h->err. */
int uart_host_configure(struct devhost *h, int argc, char **argv);

#endif
