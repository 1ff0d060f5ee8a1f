/* The 16550A UART register model: registers, FIFOs and interrupt logic only.
 * It does no I/O itself: transmitted bytes and the interrupt line go through
 * callbacks, received bytes are pushed in by the caller, and time is passed
 * in (nanoseconds, monotonic) so that the model can be tested without clocks.
 */
#ifndef CELLVM_DEVICES_UART_UART16550_H
#define CELLVM_DEVICES_UART_UART16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_FIFO_SIZE 16
#define UART_CLOCK_HZ 1843200 /* 115200 baud at divisor 1 */

/* Register offsets from the base port. */
enum uart_reg {
	UART_RBR_THR_DLL = 0,
	UART_IER_DLM = 1,
	UART_IIR_FCR = 2,
	UART_LCR = 3,
	UART_MCR = 4,
	UART_LSR = 5,
	UART_MSR = 6,
	UART_SCR = 7,
};

struct uart_io {
	void *opaque;
	/* Hands bytes to the backend; returns how many it took (0..len).  Bytes
	 * not taken stay in the TX FIFO until uart_tx_drain. */
	size_t (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/* The interrupt output changed level. */
	void (*irq)(void *opaque, bool level);
};

struct uart_fifo {
	uint8_t buf[UART_FIFO_SIZE];
	uint8_t head, count;
};

struct uart16550 {
	struct uart_io io;
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	struct uart_fifo rx, tx;
	bool thre_pending;     /* THR-empty interrupt latched */
	bool timeout_pending;  /* character timeout interrupt latched */
	bool irq_level;        /* what was last reported through io.irq */
	uint64_t rx_deadline;  /* when the character timeout fires; 0 = none */
	uint8_t msr_inputs;    /* modem inputs from outside loopback (CTS|DSR|DCD|RI) */
};

void uart_init(struct uart16550 *u, const struct uart_io *io);
void uart_reset(struct uart16550 *u); /* the MR pin: registers to power-on values */

/* One byte access at `off` (0..7). */
uint8_t uart_read(struct uart16550 *u, unsigned off, uint64_t now_ns);
void uart_write(struct uart16550 *u, unsigned off, uint8_t val, uint64_t now_ns);

/* How many bytes the backend may push now without overrunning. */
size_t uart_rx_space(const struct uart16550 *u);
/* Received bytes from the backend; len must be <= uart_rx_space. */
void uart_rx_push(struct uart16550 *u, const uint8_t *buf, size_t len, uint64_t now_ns);

/* Bytes waiting in the TX FIFO for the backend. */
bool uart_tx_pending(const struct uart16550 *u);
/* The backend can take data again: retry the TX FIFO. */
void uart_tx_drain(struct uart16550 *u, uint64_t now_ns);

/* When uart_tick must next run (the character timeout), 0 if never. */
uint64_t uart_next_deadline(const struct uart16550 *u);
void uart_tick(struct uart16550 *u, uint64_t now_ns);

#endif
